//! Conformance: the same scripted session against our server and real ZooKeeper 3.8, with
//! replies compared byte for byte after masking what legitimately differs (zxids, times,
//! session ids).

use bytes::{Bytes, BytesMut};
use zk_proto::{
    perms, Acl, AddWatchMode, AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest,
    CreateTtlRequest, DeleteRequest, ExistsRequest, GetAclRequest, GetAllChildrenNumberRequest,
    GetChildren2Request, GetChildrenRequest, GetDataRequest, GetEphemeralsRequest, Id, MultiOp,
    MultiRequest, MultiResult, Request, Response, SetAclRequest, SetDataRequest, SetWatches, Stat,
    SyncRequest, WatcherEvent,
};
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::client::{Client, Reply};

/// Session ids as they appear in ephemeralOwner, replaced by stable markers.
struct Masks {
    sessions: Vec<i64>,
}

impl Masks {
    fn stat(&self, s: &Stat) -> Stat {
        let owner = match self.sessions.iter().position(|id| *id == s.ephemeral_owner) {
            Some(i) => i as i64 + 1,
            None => s.ephemeral_owner,
        };
        Stat {
            czxid: 0,
            mzxid: 0,
            ctime: 0,
            mtime: 0,
            pzxid: 0,
            ephemeral_owner: owner,
            ..s.clone()
        }
    }

    fn response(&self, r: Response) -> Response {
        match r {
            Response::Create2(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::Create2(x)
            }
            Response::Exists(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::Exists(x)
            }
            Response::GetData(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::GetData(x)
            }
            Response::SetData(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::SetData(x)
            }
            Response::SetAcl(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::SetAcl(x)
            }
            Response::GetAcl(mut x) => {
                x.stat = self.stat(&x.stat);
                Response::GetAcl(x)
            }
            Response::GetChildren(mut x) => {
                x.children.sort();
                Response::GetChildren(x)
            }
            Response::GetChildren2(mut x) => {
                x.children.sort();
                x.stat = self.stat(&x.stat);
                Response::GetChildren2(x)
            }
            Response::GetEphemerals(mut x) => {
                x.ephemerals.sort();
                Response::GetEphemerals(x)
            }
            Response::WhoAmI(mut x) => {
                x.client_info
                    .sort_by(|a, b| a.auth_scheme.cmp(&b.auth_scheme));
                Response::WhoAmI(x)
            }
            Response::Multi(mut m) | Response::MultiRead(mut m) => {
                for r in &mut m.results {
                    match r {
                        MultiResult::Create2(c) => c.stat = self.stat(&c.stat),
                        MultiResult::SetData(c) => c.stat = self.stat(&c.stat),
                        MultiResult::GetData(c) => c.stat = self.stat(&c.stat),
                        MultiResult::GetChildren(c) => c.children.sort(),
                        _ => {}
                    }
                }
                Response::Multi(m)
            }
            other => other,
        }
    }
}

/// One line per reply or event: label, xid, error, and the masked body's bytes in hex.
struct Transcript {
    lines: Vec<String>,
    masks: Masks,
}

impl Transcript {
    fn reply(&mut self, label: &str, (header, body): Reply) {
        let body = body.map(|b| self.masks.response(b));
        let mut bytes = BytesMut::new();
        if let Some(b) = &body {
            b.encode_body(&mut bytes);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.push(format!(
            "{label}: xid={} err={:?} body={body:?} bytes={hex}",
            header.xid, header.err
        ));
    }

    fn push(&mut self, line: String) {
        if std::env::var_os("ZK_CONFORMANCE_TRACE").is_some() {
            eprintln!("{line}");
        }
        self.lines.push(line);
    }

    fn event(&mut self, label: &str, (_zxid, e): (i64, WatcherEvent)) {
        // The header zxid is masked: ZooKeeper 3.8 sends -1 in every event header, 3.9 (and
        // we) send the txn's zxid for change events and -1 for setWatches replays.
        self.push(format!(
            "{label}: event {:?} {:?} {}",
            e.event_type, e.state, e.path
        ));
    }
}

fn create(path: &str, data: Option<&'static [u8]>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(Bytes::from_static),
        acl,
        flags,
    }
}

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// The scripted scenario. Deterministic given a fresh server.
async fn script(addr: std::net::SocketAddr) -> Vec<String> {
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    let mut r = Client::connect(addr).await;
    let mut t = Transcript {
        lines: Vec::new(),
        masks: Masks {
            sessions: vec![a.session_id(), b.session_id()],
        },
    };
    t.lines.push(format!(
        "handshake: timeout={} ro={:?} pwlen={}",
        a.session.timeout,
        a.session.read_only,
        a.session.passwd.len()
    ));

    // Creates in every mode.
    let steps: Vec<(&str, Request)> = vec![
        (
            "create",
            Request::Create(create("/c", Some(b"x"), open(), 0)),
        ),
        (
            "create null",
            Request::Create(create("/c/null", None, open(), 0)),
        ),
        (
            "create2 seq",
            Request::Create2(create("/c/p-", Some(b""), open(), 2)),
        ),
        (
            "create2 seq again",
            Request::Create2(create("/c/p-", Some(b"y"), open(), 2)),
        ),
        (
            "ephemeral",
            Request::Create2(create("/c/e", None, open(), 1)),
        ),
        (
            "ephemeral seq",
            Request::Create(create("/c/es-", None, open(), 3)),
        ),
        (
            "container",
            Request::CreateContainer(create("/box", None, open(), 4)),
        ),
        (
            "ttl",
            Request::CreateTtl(CreateTtlRequest {
                path: "/ttl".into(),
                data: Some(Bytes::from_static(b"t")),
                acl: open(),
                flags: 5,
                ttl: 100_000,
            }),
        ),
        (
            "ttl seq",
            Request::CreateTtl(CreateTtlRequest {
                path: "/ttl-".into(),
                data: None,
                acl: open(),
                flags: 6,
                ttl: 5,
            }),
        ),
        // Errors, in ZooKeeper's check order.
        (
            "exists already",
            Request::Create(create("/c", None, open(), 0)),
        ),
        (
            "no parent",
            Request::Create(create("/nope/x", None, open(), 0)),
        ),
        (
            "ephemeral parent",
            Request::Create(create("/c/e/x", None, open(), 0)),
        ),
        ("relative", Request::Create(create("rel", None, open(), 0))),
        (
            "trailing slash",
            Request::Create(create("/c/", None, open(), 0)),
        ),
        (
            "double slash",
            Request::Create(create("/c//x", None, open(), 0)),
        ),
        ("dot", Request::Create(create("/c/./x", None, open(), 0))),
        (
            "empty acl",
            Request::Create(create("/c/noacl", None, vec![], 0)),
        ),
        (
            "bad acl scheme",
            Request::Create(create(
                "/c/badacl",
                None,
                vec![Acl::new(31, Id::new("foo", "bar"))],
                0,
            )),
        ),
        (
            "auth acl without auth",
            Request::Create(create("/c/auth", None, Acl::creator_all(), 0)),
        ),
        (
            "bad flags",
            Request::Create(create("/c/flags", None, open(), 42)),
        ),
        (
            "ttl mode via create",
            Request::Create(create("/c/ttl", None, open(), 5)),
        ),
        (
            "ttl zero",
            Request::CreateTtl(CreateTtlRequest {
                path: "/ttl0".into(),
                data: None,
                acl: open(),
                flags: 5,
                ttl: 0,
            }),
        ),
        (
            "ttl with plain mode",
            Request::CreateTtl(CreateTtlRequest {
                path: "/ttlp".into(),
                data: None,
                acl: open(),
                flags: 0,
                ttl: 10,
            }),
        ),
        (
            "delete root",
            Request::Delete(DeleteRequest {
                path: "/".into(),
                version: -1,
            }),
        ),
        (
            "delete /zookeeper",
            Request::Delete(DeleteRequest {
                path: "/zookeeper".into(),
                version: -1,
            }),
        ),
        (
            "delete missing",
            Request::Delete(DeleteRequest {
                path: "/c/zz".into(),
                version: -1,
            }),
        ),
        (
            "delete not empty",
            Request::Delete(DeleteRequest {
                path: "/c".into(),
                version: -1,
            }),
        ),
        (
            "delete bad version",
            Request::Delete(DeleteRequest {
                path: "/c/p-0000000002".into(),
                version: 3,
            }),
        ),
        (
            "delete seq",
            Request::Delete(DeleteRequest {
                path: "/c/p-0000000002".into(),
                version: 0,
            }),
        ),
        (
            "seq after delete",
            Request::Create(create("/c/p-", None, open(), 2)),
        ),
        (
            "exists missing",
            Request::Exists(ExistsRequest {
                path: "/missing".into(),
                watch: false,
            }),
        ),
        (
            "exists",
            Request::Exists(ExistsRequest {
                path: "/c/e".into(),
                watch: false,
            }),
        ),
        (
            "exists container",
            Request::Exists(ExistsRequest {
                path: "/box".into(),
                watch: false,
            }),
        ),
        (
            "getData ttl",
            Request::GetData(GetDataRequest {
                path: "/ttl".into(),
                watch: false,
            }),
        ),
        (
            "getData null",
            Request::GetData(GetDataRequest {
                path: "/c/null".into(),
                watch: false,
            }),
        ),
        (
            "getData missing",
            Request::GetData(GetDataRequest {
                path: "/nope".into(),
                watch: true,
            }),
        ),
        (
            "getData trailing slash",
            Request::GetData(GetDataRequest {
                path: "/c/".into(),
                watch: false,
            }),
        ),
        (
            "getData root",
            Request::GetData(GetDataRequest {
                path: "/".into(),
                watch: false,
            }),
        ),
        (
            "getData config",
            Request::GetData(GetDataRequest {
                path: "/zookeeper/config".into(),
                watch: false,
            }),
        ),
        (
            "getChildren root",
            Request::GetChildren2(GetChildren2Request {
                path: "/".into(),
                watch: false,
            }),
        ),
        (
            "getChildren /zookeeper",
            Request::GetChildren(GetChildrenRequest {
                path: "/zookeeper".into(),
                watch: false,
            }),
        ),
        (
            "getACL config",
            Request::GetAcl(GetAclRequest {
                path: "/zookeeper/config".into(),
            }),
        ),
        (
            "setData bad version",
            Request::SetData(SetDataRequest {
                path: "/c".into(),
                data: None,
                version: 7,
            }),
        ),
        (
            "setData missing",
            Request::SetData(SetDataRequest {
                path: "/zz".into(),
                data: None,
                version: -1,
            }),
        ),
        (
            "setData bad path",
            Request::SetData(SetDataRequest {
                path: "zz".into(),
                data: None,
                version: -1,
            }),
        ),
        (
            "setACL bad version",
            Request::SetAcl(SetAclRequest {
                path: "/c".into(),
                acl: open(),
                version: 4,
            }),
        ),
        (
            "setACL",
            Request::SetAcl(SetAclRequest {
                path: "/c".into(),
                acl: Acl::read_unsafe(),
                version: 0,
            }),
        ),
        (
            "setData no auth",
            Request::SetData(SetDataRequest {
                path: "/c".into(),
                data: None,
                version: -1,
            }),
        ),
        (
            "create under read-only",
            Request::Create(create("/c/ro", None, open(), 0)),
        ),
        (
            "allChildren",
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: "/".into() }),
        ),
        (
            "ephemerals",
            Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: "/c".into(),
            }),
        ),
        ("sync", Request::Sync(SyncRequest { path: "/c".into() })),
    ];
    for (label, req) in steps {
        let reply = a.call(req).await;
        t.reply(label, reply);
    }

    // Multi: a failing op rolls everything back; a good one reports per-op results.
    let bad = MultiRequest {
        ops: vec![
            MultiOp::Create(create("/m", None, open(), 0)),
            MultiOp::Create(create("/m/x", None, open(), 0)),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 3,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/x".into(),
                version: -1,
            }),
        ],
    };
    let reply = a.call(Request::Multi(bad)).await;
    t.reply("multi failing", reply);
    let good = MultiRequest {
        ops: vec![
            MultiOp::Create(create("/m", None, open(), 0)),
            MultiOp::Create2(create("/m/s-", Some(b"1"), open(), 2)),
            MultiOp::Create2(create("/m/s-", Some(b"2"), open(), 2)),
            MultiOp::SetData(SetDataRequest {
                path: "/m".into(),
                data: Some(Bytes::from_static(b"d")),
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 1,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/s-0000000000".into(),
                version: -1,
            }),
            MultiOp::CreateContainer(create("/m/box", None, open(), 4)),
            MultiOp::CreateTtl(CreateTtlRequest {
                path: "/m/ttl".into(),
                data: None,
                acl: open(),
                flags: 5,
                ttl: 100_000,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/box".into(),
                version: -1,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/ttl".into(),
                version: -1,
            }),
        ],
    };
    let reply = a.call(Request::Multi(good)).await;
    t.reply("multi ok", reply);
    let read = MultiRequest {
        ops: vec![
            MultiOp::GetData(GetDataRequest {
                path: "/m".into(),
                watch: false,
            }),
            MultiOp::GetChildren(GetChildrenRequest {
                path: "/m".into(),
                watch: false,
            }),
            MultiOp::GetData(GetDataRequest {
                path: "/none".into(),
                watch: false,
            }),
        ],
    };
    let reply = a.call(Request::MultiRead(read)).await;
    t.reply("multiRead", reply);
    let reply = a.call(Request::Multi(MultiRequest::default())).await;
    t.reply("multi empty", reply);

    // Watches: b watches, a changes; event order per connection.
    let w = b
        .call(Request::GetData(GetDataRequest {
            path: "/m".into(),
            watch: true,
        }))
        .await;
    t.reply("b getData watch", w);
    let w = b
        .call(Request::Exists(ExistsRequest {
            path: "/later".into(),
            watch: true,
        }))
        .await;
    t.reply("b exists missing watch", w);
    let w = b
        .call(Request::GetChildren(GetChildrenRequest {
            path: "/m".into(),
            watch: true,
        }))
        .await;
    t.reply("b getChildren watch", w);
    // A separate connection holds the recursive watch: ZooKeeper 3.8.0 mishandles a
    // connection holding standard and recursive watches on the same path (ZOOKEEPER-4466).
    let w = r
        .call(Request::AddWatch(AddWatchRequest {
            path: "/m".into(),
            mode: AddWatchMode::PersistentRecursive,
        }))
        .await;
    t.reply("r addWatch recursive", w);
    let x = a
        .call(Request::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: -1,
        }))
        .await;
    t.reply("a setData /m", x);
    t.event("b", b.next_event().await);
    t.event("r", r.next_event().await);
    let x = a
        .call(Request::Create(create("/later", None, open(), 0)))
        .await;
    t.reply("a create /later", x);
    t.event("b", b.next_event().await);
    let x = a
        .call(Request::Delete(DeleteRequest {
            path: "/m/s-0000000001".into(),
            version: -1,
        }))
        .await;
    t.reply("a delete /m/s-1", x);
    t.event("b", b.next_event().await);
    t.event("r", r.next_event().await);
    let x = a
        .call(Request::Create(create("/m/n", None, open(), 0)))
        .await;
    t.reply("a create /m/n", x);
    t.event("r", r.next_event().await);
    let x = a
        .call(Request::SetData(SetDataRequest {
            path: "/m/n".into(),
            data: None,
            version: -1,
        }))
        .await;
    t.reply("a setData /m/n", x);
    t.event("r", r.next_event().await);

    // setWatches replay: b resets watches from an old zxid.
    let r = b
        .call(Request::SetWatches(SetWatches {
            relative_zxid: 1,
            data_watches: vec!["/m".into(), "/gone".into()],
            exist_watches: vec!["/later".into(), "/notyet".into()],
            child_watches: vec!["/zookeeper".into()],
        }))
        .await;
    t.reply("b setWatches", r);
    while let Some(e) = b.events.pop_front() {
        t.event("b replay", e);
    }

    // ACLs: digest auth, masking for readers without ADMIN, NoAuth for others.
    let r = a
        .call(Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"alice:pw"),
        }))
        .await;
    t.reply("a auth", r);
    let r = a
        .call(Request::Create(create(
            "/secret",
            Some(b"s"),
            vec![
                Acl::new(perms::ALL, Id::auth_ids()),
                Acl::new(perms::READ, Id::new("ip", "10.0.0.0/8")),
            ],
            0,
        )))
        .await;
    t.reply("a create secret", r);
    let r = a
        .call(Request::GetAcl(GetAclRequest {
            path: "/secret".into(),
        }))
        .await;
    t.reply("a getACL", r);
    let r = b
        .call(Request::GetAcl(GetAclRequest {
            path: "/secret".into(),
        }))
        .await;
    t.reply("b getACL", r);
    let r = b
        .call(Request::GetData(GetDataRequest {
            path: "/secret".into(),
            watch: false,
        }))
        .await;
    t.reply("b getData", r);
    let r = b
        .call(Request::Exists(ExistsRequest {
            path: "/secret".into(),
            watch: false,
        }))
        .await;
    t.reply("b exists", r);
    let r = b
        .call(Request::Create(create("/secret/x", None, open(), 0)))
        .await;
    t.reply("b create under", r);
    let r = b
        .call(Request::GetChildren(GetChildrenRequest {
            path: "/secret".into(),
            watch: false,
        }))
        .await;
    t.reply("b getChildren", r);
    let r = a
        .call(Request::Create(create(
            "/readable",
            None,
            vec![Acl::new(
                perms::READ | perms::ADMIN,
                Id::new("digest", "bob:abc"),
            )],
            0,
        )))
        .await;
    t.reply("a create digest acl", r);
    let r = a
        .call(Request::GetAcl(GetAclRequest {
            path: "/readable".into(),
        }))
        .await;
    t.reply("a getACL other digest", r);
    let r = a.call(Request::WhoAmI).await;
    t.reply("a whoAmI", r);

    // Closing a's session deletes its ephemerals and fires b's watches.
    let w = b
        .call(Request::Exists(ExistsRequest {
            path: "/c/e".into(),
            watch: true,
        }))
        .await;
    t.reply("b exists /c/e watch", w);
    a.close().await;
    t.event("b", b.next_event().await);
    let r = b
        .call(Request::GetChildren(GetChildrenRequest {
            path: "/c".into(),
            watch: false,
        }))
        .await;
    t.reply("b children after close", r);
    t.lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_session_matches_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let real = tokio::task::spawn_blocking(|| {
        RealZooKeeper::standalone(RealOptions {
            tick_time_ms: 200,
            extended_types: true,
            ..RealOptions::default()
        })
    })
    .await
    .unwrap()
    .expect("real ZooKeeper starts");
    let ours = TestServer::builder()
        .tick_time_ms(200)
        .extended_types(true)
        .start()
        .await
        .unwrap();
    let expected = script(real.member_addr(0)).await;
    let actual = script(ours.addr()).await;
    let mut diffs = Vec::new();
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        if e != a {
            diffs.push(format!("step {i}\n  real: {e}\n  ours: {a}"));
        }
    }
    assert_eq!(expected.len(), actual.len(), "transcripts differ in length");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
