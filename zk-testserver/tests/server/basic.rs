//! Core operations, watches, sessions and ACLs over a socket.

use bytes::Bytes;
use zk_proto::{
    perms, Acl, AddWatchMode, AddWatchRequest, AuthPacket, ConnectRequest, CreateRequest,
    CreateTtlRequest, ErrorCode, EventType, GetAclRequest, Id, MultiOp, MultiRequest, MultiResult,
    Request, Response, SetAclRequest, SetWatches, WhoAmIResponse, CONTAINER_EPHEMERAL_OWNER,
};
use zk_testserver::TestServer;

use crate::client::Client;

async fn server() -> TestServer {
    TestServer::builder()
        .tick_time_ms(50)
        .extended_types(true)
        .start()
        .await
        .expect("server starts")
}

#[tokio::test]
async fn crud_and_sequential_numbering() {
    let server = server().await;
    let mut c = Client::connect(server.addr()).await;
    assert!(c.session.timeout >= 100 && c.session.timeout <= 1000);
    assert_eq!(c.create("/a", b"one", 0).await, Ok("/a".into()));
    assert_eq!(c.create("/a", b"", 0).await, Err(ErrorCode::NodeExists));
    let (data, stat) = c.get_data("/a", false).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"one"[..]));
    assert_eq!(stat.version, 0);
    assert_eq!(stat.data_length, 3);
    assert_eq!(
        c.set_data("/a", b"two", 5).await,
        Err(ErrorCode::BadVersion)
    );
    assert_eq!(c.set_data("/a", b"two", 0).await.unwrap().version, 1);
    assert_eq!(
        c.create("/a/s-", b"", 2).await,
        Ok("/a/s-0000000000".into())
    );
    assert_eq!(
        c.create("/a/s-", b"", 2).await,
        Ok("/a/s-0000000001".into())
    );
    c.delete("/a/s-0000000001", -1).await.unwrap();
    // Deletes do not bump cversion, so numbers never repeat.
    assert_eq!(
        c.create("/a/s-", b"", 2).await,
        Ok("/a/s-0000000002".into())
    );
    assert_eq!(c.delete("/a", -1).await, Err(ErrorCode::NotEmpty));
    assert_eq!(c.exists("/missing", false).await, Err(ErrorCode::NoNode));
    assert_eq!(c.create("/nope/x", b"", 0).await, Err(ErrorCode::NoNode));
    assert_eq!(c.create("bad", b"", 0).await, Err(ErrorCode::BadArguments));
    assert_eq!(c.create("/a/", b"", 0).await, Err(ErrorCode::BadArguments));
    assert_eq!(c.create("/x", b"", 9).await, Err(ErrorCode::BadArguments));
    assert_eq!(
        c.delete("/zookeeper", -1).await,
        Err(ErrorCode::BadArguments)
    );
    // Null data stays null.
    let (h, _) = c
        .call(Request::Create(CreateRequest {
            path: "/null".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        }))
        .await;
    assert!(h.err.is_ok());
    assert_eq!(c.get_data("/null", false).await.unwrap().0, None);
    c.close().await;
}

#[tokio::test]
async fn ephemerals_go_with_their_session_and_fire_watches() {
    let server = server().await;
    let mut owner = Client::connect(server.addr()).await;
    let mut watcher = Client::connect(server.addr()).await;
    owner.create("/e", b"", 1).await.unwrap();
    assert_eq!(
        owner.create("/e/child", b"", 0).await,
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    let stat = watcher.exists("/e", true).await.unwrap();
    assert_eq!(stat.ephemeral_owner, owner.session_id());
    let (h, _) = watcher
        .call(Request::GetChildren(zk_proto::GetChildrenRequest {
            path: "/".into(),
            watch: true,
        }))
        .await;
    assert!(h.err.is_ok());
    owner.close().await;
    let (zxid, e1) = watcher.next_event().await;
    assert_eq!(
        (e1.event_type, e1.path.as_str()),
        (EventType::NodeDeleted, "/e")
    );
    assert!(zxid > 0);
    let (_, e2) = watcher.next_event().await;
    assert_eq!(
        (e2.event_type, e2.path.as_str()),
        (EventType::NodeChildrenChanged, "/")
    );
    assert_eq!(watcher.exists("/e", false).await, Err(ErrorCode::NoNode));
}

#[tokio::test]
async fn events_arrive_before_the_reply_that_follows_the_change() {
    let server = server().await;
    let mut c = Client::connect(server.addr()).await;
    c.create("/w", b"", 0).await.unwrap();
    c.get_data("/w", true).await.unwrap();
    // Our own write: the event is queued before the setData reply.
    c.set_data("/w", b"x", -1).await.unwrap();
    let (_, e) = c.events.pop_front().expect("event before reply");
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    // Standard watches fire once.
    c.set_data("/w", b"y", -1).await.unwrap();
    assert!(c.events.is_empty());
    // exists on a missing node leaves a watch that fires on create.
    assert_eq!(c.exists("/later", true).await, Err(ErrorCode::NoNode));
    c.create("/later", b"", 0).await.unwrap();
    assert_eq!(
        c.events.pop_front().unwrap().1.event_type,
        EventType::NodeCreated
    );
}

#[tokio::test]
async fn persistent_and_recursive_watches() {
    let server = server().await;
    let mut c = Client::connect(server.addr()).await;
    let mut w = Client::connect(server.addr()).await;
    for (path, mode) in [
        ("/p", AddWatchMode::Persistent),
        ("/r", AddWatchMode::PersistentRecursive),
    ] {
        let (h, body) = w
            .call(Request::AddWatch(AddWatchRequest {
                path: path.into(),
                mode,
            }))
            .await;
        assert!(h.err.is_ok());
        assert!(matches!(body, Some(Response::AddWatch(_))));
    }
    c.create("/p", b"", 0).await.unwrap();
    c.create("/p/kid", b"", 0).await.unwrap();
    c.create("/r", b"", 0).await.unwrap();
    c.create("/r/kid", b"", 0).await.unwrap();
    c.set_data("/r/kid", b"1", -1).await.unwrap();
    c.set_data("/p", b"1", -1).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (_, e) = w.next_event().await;
        seen.push((e.event_type, e.path));
    }
    assert_eq!(
        seen,
        vec![
            (EventType::NodeCreated, "/p".to_string()),
            (EventType::NodeChildrenChanged, "/p".to_string()),
            (EventType::NodeCreated, "/r".to_string()),
            (EventType::NodeCreated, "/r/kid".to_string()),
            (EventType::NodeDataChanged, "/r/kid".to_string()),
        ]
    );
    let (_, e) = w.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/p")
    );
}

#[tokio::test]
async fn multi_is_atomic_and_reports_per_op_results() {
    let server = server().await;
    let mut c = Client::connect(server.addr()).await;
    let create = |p: &str| {
        MultiOp::Create(CreateRequest {
            path: p.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        })
    };
    let (h, body) = c
        .call(Request::Multi(MultiRequest {
            ops: vec![create("/m1"), create("/m1/x"), create("/m1"), create("/m2")],
        }))
        .await;
    assert!(h.err.is_ok());
    let Some(Response::Multi(m)) = body else {
        panic!("{body:?}")
    };
    assert_eq!(
        m.results,
        vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NodeExists),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]
    );
    assert_eq!(c.exists("/m1", false).await, Err(ErrorCode::NoNode));
    let (_, body) = c
        .call(Request::Multi(MultiRequest {
            ops: vec![create("/m1"), create("/m1/x")],
        }))
        .await;
    let Some(Response::Multi(m)) = body else {
        panic!()
    };
    assert!(matches!(&m.results[1], MultiResult::Create(r) if r.path == "/m1/x"));
    assert!(c.exists("/m1/x", false).await.is_ok());
}

#[tokio::test]
async fn acl_auth_and_masking() {
    let server = TestServer::builder()
        .super_digest(zk_testserver::acl::digest_id("super:secret"))
        .start()
        .await
        .unwrap();
    let mut alice = Client::connect(server.addr()).await;
    let (h, _) = alice
        .call(Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"alice:pw"),
        }))
        .await;
    assert!(h.err.is_ok());
    let (h, _) = alice
        .call(Request::Create(CreateRequest {
            path: "/private".into(),
            data: Some(Bytes::from_static(b"s")),
            acl: vec![
                Acl::new(perms::ALL, Id::auth_ids()),
                Acl::new(perms::READ, Id::anyone()),
            ],
            flags: 0,
        }))
        .await;
    assert!(h.err.is_ok());
    let mut bob = Client::connect(server.addr()).await;
    assert_eq!(
        bob.set_data("/private", b"x", -1).await,
        Err(ErrorCode::NoAuth)
    );
    let (_, body) = bob
        .call(Request::GetAcl(GetAclRequest {
            path: "/private".into(),
        }))
        .await;
    let Some(Response::GetAcl(acl)) = body else {
        panic!()
    };
    assert_eq!(acl.acl[0].id, Id::new("digest", "alice:x"));
    let (_, body) = alice
        .call(Request::GetAcl(GetAclRequest {
            path: "/private".into(),
        }))
        .await;
    let Some(Response::GetAcl(acl)) = body else {
        panic!()
    };
    assert_eq!(acl.acl[0].id.id, zk_testserver::acl::digest_id("alice:pw"));
    let (h, _) = bob
        .call(Request::SetAcl(SetAclRequest {
            path: "/private".into(),
            acl: vec![],
            version: -1,
        }))
        .await;
    assert_eq!(h.err, ErrorCode::InvalidAcl);
    // The super user may do anything.
    let mut root = Client::connect(server.addr()).await;
    root.call(Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"super:secret"),
    }))
    .await;
    assert!(root.set_data("/private", b"x", -1).await.is_ok());
    let (_, body) = root.call(Request::WhoAmI).await;
    let Some(Response::WhoAmI(WhoAmIResponse { client_info })) = body else {
        panic!()
    };
    assert!(client_info.iter().any(|i| i.auth_scheme == "super"));
    // An unknown scheme fails and closes.
    let xid = bob
        .send(&Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "nope".into(),
            auth: Bytes::new(),
        }))
        .await;
    let (h, _) = bob.recv_raw_reply().await.unwrap();
    assert_eq!((h.xid, h.err), (xid, ErrorCode::AuthFailed));
    assert!(bob.closed_by_server().await);
}

#[tokio::test]
async fn handshake_rules() {
    let server = server().await;
    let c = Client::connect(server.addr()).await;
    // Wrong password: expired answer, then close.
    let mut bad = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 1000,
            session_id: c.session_id(),
            passwd: Bytes::from_static(&[1; 16]),
            read_only: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((bad.session.timeout, bad.session.session_id), (0, 0));
    assert!(bad.closed_by_server().await);
    // A client that has seen the future is refused without an answer.
    let refused = Client::connect_with(
        server.addr(),
        ConnectRequest {
            last_zxid_seen: 1 << 40,
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            ..Default::default()
        },
    )
    .await;
    assert!(refused.is_none());
    // Old clients without the readOnly byte get an answer without it.
    let old = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(old.session.read_only, None);
    // Reconnecting moves the session to the new connection.
    let mut again = c.reconnect(server.addr()).await.unwrap();
    assert_eq!(again.session_id(), c.session_id());
    assert!(again.create("/moved", b"", 1).await.is_ok());
}

#[tokio::test]
async fn set_watches_replays_missed_changes() {
    let server = server().await;
    let mut a = Client::connect(server.addr()).await;
    a.create("/d", b"", 0).await.unwrap();
    a.create("/keep", b"", 0).await.unwrap();
    let seen = a.last_zxid;
    a.set_data("/d", b"changed", -1).await.unwrap();
    a.create("/born", b"", 0).await.unwrap();
    let (h, _) = a
        .call(Request::SetWatches(SetWatches {
            relative_zxid: seen,
            data_watches: vec!["/d".into(), "/keep".into(), "/gone".into()],
            exist_watches: vec!["/born".into(), "/unborn".into()],
            child_watches: vec!["/keep".into()],
        }))
        .await;
    assert_eq!(h.xid, -8);
    let events: Vec<_> = a
        .events
        .drain(..)
        .map(|(z, e)| (z, e.event_type, e.path))
        .collect();
    assert_eq!(
        events,
        vec![
            (-1, EventType::NodeDataChanged, "/d".to_string()),
            (-1, EventType::NodeDeleted, "/gone".to_string()),
            (-1, EventType::NodeCreated, "/born".to_string()),
        ]
    );
    // Re-armed watches fire later.
    a.create("/unborn", b"", 0).await.unwrap();
    assert_eq!(
        a.events.pop_front().unwrap().1.event_type,
        EventType::NodeCreated
    );
}

#[tokio::test]
async fn ttl_and_container_nodes_expire() {
    let server = TestServer::builder()
        .tick_time_ms(50)
        .extended_types(true)
        .session_timeout_bounds(100, 60_000)
        .container_check_interval(std::time::Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let mut c = Client::connect(server.addr()).await;
    let (h, body) = c
        .call(Request::CreateTtl(CreateTtlRequest {
            path: "/ttl".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 500,
        }))
        .await;
    assert!(h.err.is_ok(), "{h:?}");
    let Some(Response::Create2(r)) = body else {
        panic!()
    };
    // ZooKeeper hides the TTL/container marker from clients.
    assert_eq!(r.stat.ephemeral_owner, 0);
    let (h, body) = c
        .call(Request::CreateContainer(CreateRequest {
            path: "/box".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 4,
        }))
        .await;
    assert!(h.err.is_ok());
    let Some(Response::Create2(r)) = body else {
        panic!()
    };
    assert_eq!(r.stat.ephemeral_owner, 0);
    let kind = server
        .inspect(|c| c.tree().get("/box").map(|n| n.stat.ephemeral_owner))
        .await
        .flatten();
    assert_eq!(kind, Some(CONTAINER_EPHEMERAL_OWNER));
    c.create("/box/kid", b"", 0).await.unwrap();
    c.delete("/box/kid", -1).await.unwrap();
    assert!(c.exists("/ttl", true).await.is_ok());
    assert!(c.exists("/box", true).await.is_ok());
    server
        .advance_clock(std::time::Duration::from_secs(1))
        .await;
    let mut deleted = vec![c.next_event().await.1.path, c.next_event().await.1.path];
    deleted.sort();
    assert_eq!(deleted, vec!["/box".to_string(), "/ttl".to_string()]);
}

#[tokio::test]
async fn unknown_ops_and_bad_frames_close_only_their_connection() {
    let server = server().await;
    let mut other = Client::connect(server.addr()).await;
    let mut c = Client::connect(server.addr()).await;
    // Header {xid 5, op 999}: Unimplemented, then close.
    c.send_raw(&[0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 3, 0xe7])
        .await
        .unwrap();
    let (h, _) = c.recv_raw_reply().await.unwrap();
    assert_eq!((h.xid, h.err), (5, ErrorCode::Unimplemented));
    assert!(c.closed_by_server().await);
    // A frame longer than jute.maxbuffer: closed without a reply.
    let mut big = Client::connect(server.addr()).await;
    big.send_raw(&0x7fff_0000i32.to_be_bytes()).await.unwrap();
    assert!(big.closed_by_server().await);
    assert!(other.exists("/zookeeper", false).await.is_ok());
}
