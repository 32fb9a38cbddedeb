//! Fault injection: dropped connections, expiry, restarts, limits, read-only mode.

use std::time::Duration;

use bytes::Bytes;
use zk_proto::{ConnectRequest, ErrorCode, EventType};
use zk_testserver::TestServer;

use crate::client::Client;

#[tokio::test]
async fn dropped_connections_keep_their_sessions() {
    let server = TestServer::builder()
        .tick_time_ms(50)
        .start()
        .await
        .unwrap();
    let mut a = Client::connect(server.addr()).await;
    a.create("/eph", b"", 1).await.unwrap();
    server.drop_connections().await;
    assert!(a.closed_by_server().await);
    let mut a2 = a.reconnect(server.addr()).await.unwrap();
    assert_eq!(a2.session_id(), a.session_id());
    assert!(a2.exists("/eph", false).await.is_ok());
    assert!(server.drop_session_connection(a2.session_id()).await);
    assert!(a2.closed_by_server().await);
    assert!(!server.drop_session_connection(a2.session_id()).await);
}

#[tokio::test]
async fn expiry_on_demand_and_by_clock() {
    let server = TestServer::builder()
        .tick_time_ms(50)
        .session_timeout_bounds(100, 10_000)
        .start()
        .await
        .unwrap();
    let mut owner = Client::connect(server.addr()).await;
    let mut watcher = Client::connect(server.addr()).await;
    owner.create("/e", b"", 1).await.unwrap();
    watcher.exists("/e", true).await.unwrap();
    assert!(server.expire_session(owner.session_id()).await);
    assert!(owner.closed_by_server().await);
    assert_eq!(
        watcher.next_event().await.1.event_type,
        EventType::NodeDeleted
    );
    let expired = owner.reconnect(server.addr()).await.unwrap();
    assert_eq!(expired.session.timeout, 0, "expired sessions are refused");
    // A session that stays silent expires once the clock passes its (clamped) timeout.
    let idle = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 200,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut idle = idle;
    watcher.exists("/", false).await.unwrap();
    server.advance_clock(Duration::from_millis(400)).await;
    assert!(idle.closed_by_server().await);
    assert!(!server.session_ids().await.contains(&idle.session_id()));
}

#[tokio::test]
async fn restart_keeps_data_and_sessions_in_memory() {
    let mut server = TestServer::builder()
        .tick_time_ms(50)
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let mut a = Client::connect(addr).await;
    a.create("/kept", b"v", 0).await.unwrap();
    a.create("/mine", b"", 1).await.unwrap();
    server.restart().await.unwrap();
    assert_eq!(server.addr(), addr, "same port");
    assert!(a.closed_by_server().await);
    let mut a2 = a.reconnect(addr).await.unwrap();
    assert_eq!(a2.session_id(), a.session_id());
    assert_eq!(
        a2.get_data("/kept", false).await.unwrap().0.as_deref(),
        Some(&b"v"[..])
    );
    assert!(a2.exists("/mine", false).await.is_ok());
}

#[tokio::test]
async fn connection_limit_per_address() {
    let server = TestServer::builder()
        .max_client_cnxns(2)
        .start()
        .await
        .unwrap();
    let _a = Client::connect(server.addr()).await;
    let _b = Client::connect(server.addr()).await;
    let third = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            ..Default::default()
        },
    )
    .await;
    assert!(third.is_none());
}

#[tokio::test]
async fn read_only_server() {
    let server = TestServer::builder().read_only(true).start().await.unwrap();
    let refused = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert!(refused.is_none(), "read-write clients are refused");
    let mut c = Client::connect_with(
        server.addr(),
        ConnectRequest {
            timeout: 1000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(c.session.read_only, Some(true));
    assert!(c.exists("/zookeeper", false).await.is_ok());
    assert_eq!(c.create("/x", b"", 0).await, Err(ErrorCode::NotReadOnly));
}

#[tokio::test]
async fn a_reply_dropped_after_applying() {
    let server = TestServer::builder().start().await.unwrap();
    let mut c = Client::connect(server.addr()).await;
    let mut watcher = Client::connect(server.addr()).await;
    c.create("/before", b"", 0).await.unwrap();
    assert!(watcher.exists("/lost", true).await.is_err());
    assert!(server.drop_next_reply(c.session_id()).await);
    // Reads are not writes: they are answered as usual while the fault stays armed.
    assert!(c.exists("/before", false).await.is_ok());
    let zxid = server.last_zxid().await;
    c.send(&zk_proto::Request::Create(zk_proto::CreateRequest {
        path: "/lost".into(),
        data: Some(Bytes::from_static(b"applied")),
        acl: zk_proto::Acl::open_unsafe(),
        flags: 0,
    }))
    .await;
    // No reply: the connection closes instead.
    assert!(c.closed_by_server().await);
    // Yet the write applied, and other sessions' watches fired for it.
    assert_eq!(server.last_zxid().await, zxid + 1);
    let (_, e) = watcher.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/lost")
    );
    // The session lives on; resuming it shows the write, and the fault fired only once.
    let mut again = c
        .reconnect(server.addr())
        .await
        .expect("the session resumes");
    let (data, _) = again.get_data("/lost", false).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"applied"[..]));
    again.create("/after", b"", 0).await.unwrap();
    assert!(!server.drop_next_reply(0x7777).await, "no such session");
}

#[tokio::test]
async fn held_events_arrive_after_release() {
    let server = TestServer::builder().start().await.unwrap();
    let mut c = Client::connect(server.addr()).await;
    let mut writer = Client::connect(server.addr()).await;
    c.create("/h", b"0", 0).await.unwrap();
    c.get_data("/h", true).await.unwrap();
    c.exists("/h/kid", true).await.unwrap_err();
    server.hold_events(c.session_id()).await;
    writer.set_data("/h", b"1", -1).await.unwrap();
    writer.create("/h/kid", b"", 0).await.unwrap();
    // Replies still flow: the client reads the new data before any event arrives.
    let (data, _) = c.get_data("/h", false).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"1"[..]));
    assert!(c.events.is_empty(), "events were held: {:?}", c.events);
    // Other sessions are not affected.
    writer.get_data("/h", true).await.unwrap();
    c.set_data("/h", b"2", -1).await.unwrap();
    let (_, e) = writer.next_event().await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    assert_eq!(server.release_events(c.session_id()).await, 2);
    let (_, e) = c.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/h")
    );
    let (_, e) = c.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/h/kid")
    );
    // Released: new events flow again at once.
    c.get_data("/h", true).await.unwrap();
    writer.set_data("/h", b"3", -1).await.unwrap();
    let (_, e) = c.next_event().await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    assert_eq!(server.release_events(c.session_id()).await, 0);
}
