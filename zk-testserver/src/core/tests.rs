use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use zk_proto::{
    encode_request, Acl, ConnectRequest, CreateRequest, ErrorCode, EventType, GetDataRequest,
    Request, SetDataRequest,
};

use super::*;

fn addr() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

fn core() -> ServerCore {
    let mut cfg = CoreConfig::with_tick(100);
    cfg.container_check_interval_ms = 1_000_000;
    ServerCore::new(cfg, 0)
}

fn connect(core: &mut ServerCore, conn: ConnId, now: i64) -> i64 {
    core.open(conn, addr(), now);
    core.connect(
        conn,
        &ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        },
        now,
    );
    match core.take_outputs().as_slice() {
        [Output::Connected { response, .. }] => response.session_id,
        other => panic!("{other:?}"),
    }
}

fn frame(xid: i32, req: &Request) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_request(&mut buf, xid, req);
    buf[4..].to_vec()
}

#[test]
fn session_create_is_a_logged_txn_and_timeouts_clamp() {
    let mut c = core();
    let sid = connect(&mut c, 1, 0);
    assert_eq!(c.last_zxid(), 1);
    let log = c.take_log();
    assert!(
        matches!(log[0].txn, Txn::CreateSession { session_id, timeout_ms: 1000 } if session_id == sid)
    );
    assert_eq!(c.sessions().get(sid).unwrap().timeout_ms, 1000);
}

#[test]
fn standalone_session_ids_carry_server_id_one() {
    // Real standalone ZooKeeper 3.8 hands out session ids 0x01...; ensemble members use myid.
    let mut c = core();
    assert_eq!(connect(&mut c, 1, 0) >> 56, 1);
    let mut cfg = CoreConfig::with_tick(100);
    cfg.myid = 3;
    let mut c = ServerCore::new(cfg, 0);
    assert_eq!(connect(&mut c, 1, 0) >> 56, 3);
}

#[test]
fn events_precede_replies_and_expiry_cleans_up() {
    let mut c = core();
    let s1 = connect(&mut c, 1, 0);
    connect(&mut c, 2, 0);
    let create = Request::Create(CreateRequest {
        path: "/e".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 1,
    });
    c.frame(1, &frame(1, &create), 10);
    c.frame(
        2,
        &frame(
            1,
            &Request::GetData(GetDataRequest {
                path: "/e".into(),
                watch: true,
            }),
        ),
        10,
    );
    c.take_outputs();
    // conn 2 changes the node it watches: its event comes before its reply.
    let set = Request::SetData(SetDataRequest {
        path: "/e".into(),
        data: None,
        version: -1,
    });
    c.frame(2, &frame(2, &set), 20);
    let out = c.take_outputs();
    assert!(
        matches!(&out[0], Output::Event { conn: 2, event, .. } if event.event_type == EventType::NodeDataChanged)
    );
    assert!(
        matches!(&out[1], Output::Reply { conn: 2, header, .. } if header.xid == 2 && header.err.is_ok())
    );
    // Nothing touches session 1 after t=10: at 10+1000 rounded up to the tick it expires.
    c.frame(
        2,
        &frame(
            3,
            &Request::Exists(zk_proto::ExistsRequest {
                path: "/e".into(),
                watch: true,
            }),
        ),
        500,
    );
    c.take_outputs();
    c.tick(1099);
    assert!(c.sessions().is_live(s1));
    c.tick(1100);
    assert!(!c.sessions().is_live(s1));
    let out = c.take_outputs();
    assert!(out.contains(&Output::Close { conn: 1 }));
    assert!(out.iter().any(|o| matches!(o, Output::Event { conn: 2, event, .. } if event.event_type == EventType::NodeDeleted)));
    assert!(c.tree().get("/e").is_none());
}

#[test]
fn unknown_ops_and_bad_bodies() {
    let mut c = core();
    connect(&mut c, 1, 0);
    // A truncated create body: MarshallingError, and it uses up a zxid like ZooKeeper.
    let mut bad = frame(1, &Request::Create(CreateRequest::default()));
    bad.truncate(bad.len() - 2);
    let before = c.last_zxid();
    c.frame(1, &bad, 1);
    assert_eq!(c.last_zxid(), before + 1);
    let out = c.take_outputs();
    assert!(
        matches!(&out[..], [Output::Reply { header, .. }] if header.err == ErrorCode::MarshallingError)
    );
    // An unknown op: Unimplemented, then close.
    let mut unknown = frame(2, &Request::Ping);
    unknown[4..8].copy_from_slice(&999i32.to_be_bytes());
    c.frame(1, &unknown, 2);
    let out = c.take_outputs();
    assert!(
        matches!(&out[0], Output::Reply { header, .. } if header.err == ErrorCode::Unimplemented && header.xid == 2)
    );
    assert_eq!(out[1], Output::Close { conn: 1 });
}

#[test]
fn reconnect_moves_the_session_and_bad_passwords_expire() {
    let mut c = core();
    let sid = connect(&mut c, 1, 0);
    let password = Bytes::copy_from_slice(&c.sessions().password(sid));
    c.open(2, addr(), 5);
    c.connect(
        2,
        &ConnectRequest {
            timeout: 5000,
            session_id: sid,
            passwd: password,
            read_only: None,
            ..Default::default()
        },
        5,
    );
    let out = c.take_outputs();
    assert_eq!(out[0], Output::Close { conn: 1 });
    assert!(
        matches!(&out[1], Output::Connected { conn: 2, response } if response.session_id == sid && response.read_only.is_none() && response.timeout == 2000)
    );
    c.open(3, addr(), 6);
    c.connect(
        3,
        &ConnectRequest {
            timeout: 5000,
            session_id: sid,
            passwd: Bytes::from_static(&[9; 16]),
            read_only: Some(false),
            ..Default::default()
        },
        6,
    );
    let out = c.take_outputs();
    // Like ZooKeeper, the session's old connection is closed before the password is checked.
    assert!(matches!(
        &out[..],
        [Output::Close { conn: 2 }, Output::Connected { response, .. }, Output::Close { conn: 3 }]
            if response.timeout == 0
    ));
}

/// A replicated core holds a session's requests after an unfinished sync: the read between
/// the sync and the session's next write answers from the state before that write.
#[test]
fn a_read_behind_a_sync_does_not_see_the_sessions_later_write() {
    use super::replicated::Forward;
    let mut cfg = CoreConfig::with_tick(100);
    cfg.container_check_interval_ms = 1_000_000;
    let mut c = ServerCore::replicated(cfg, 0);
    c.open(1, addr(), 0);
    c.connect(
        1,
        &ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        },
        0,
    );
    let session_id = match c.take_forwards().as_slice() {
        [Forward::Request { session_id, .. }] => *session_id,
        other => panic!("{other:?}"),
    };
    let logged = |zxid, cxid, txn| LoggedTxn {
        zxid,
        time: 0,
        session_id,
        cxid,
        txn,
    };
    c.apply_committed(
        &logged(
            1,
            0,
            Txn::CreateSession {
                session_id,
                timeout_ms: 1000,
            },
        ),
        1,
    );
    assert!(matches!(
        c.take_outputs().as_slice(),
        [Output::Connected { .. }]
    ));
    let sync = Request::Sync(zk_proto::SyncRequest { path: "/".into() });
    let read = Request::GetData(GetDataRequest {
        path: "/".into(),
        watch: false,
    });
    let write = Request::SetData(SetDataRequest {
        path: "/".into(),
        data: Some(Bytes::from_static(b"later")),
        version: -1,
    });
    c.frame(1, &frame(1, &sync), 2);
    c.frame(1, &frame(2, &read), 2);
    c.frame(1, &frame(3, &write), 2);
    let id = match c.take_forwards().as_slice() {
        [Forward::Sync { id }] => *id,
        other => panic!("only the sync goes out first: {other:?}"),
    };
    assert!(c.take_outputs().is_empty());
    c.synced(id, true, 3);
    let out = c.take_outputs();
    assert!(
        matches!(&out[..], [Output::Reply { header: h1, .. }, Output::Reply { header: h2, body: Some(Response::GetData(r)), .. }]
            if h1.xid == 1 && h2.xid == 2 && r.data.as_deref().unwrap_or_default().is_empty()),
        "{out:?}"
    );
    assert!(
        matches!(c.take_forwards().as_slice(), [Forward::Request { session_id: s, .. }] if *s == session_id),
        "the write goes out once the sync finished"
    );
    c.apply_committed(
        &logged(
            2,
            3,
            Txn::SetData {
                path: "/".into(),
                data: Some(Bytes::from_static(b"later")),
                version: -1,
            },
        ),
        4,
    );
    let out = c.take_outputs();
    assert!(
        matches!(&out[..], [Output::Reply { header, .. }] if header.xid == 3 && header.err.is_ok()),
        "{out:?}"
    );
}
