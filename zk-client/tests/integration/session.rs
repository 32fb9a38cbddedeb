//! Session life: surviving a standalone server's restart, expiry, closing. (Moving a session
//! to another member is in `ensemble`.)

use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions, Error, EventType, SessionState};

use super::support::{self, blocking, launch, unique_path, wait_state, within, ServerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_survives_a_standalone_restart() {
    if !support::available() {
        return;
    }
    let cluster = blocking(|| launch(1, &ServerOptions::default())).await;
    // Pinned to the first server: on an ensemble, the session survives its member's restart
    // (the others keep the quorum; the client waits for this member as it would for a
    // standalone server).
    let client = Client::builder(cluster.member_addr(0).to_string())
        .session_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    let session = client.session_id();
    let eph = unique_path("eph");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, _, watcher) = client.get_data_and_watch(&eph).await.unwrap();

    let c = cluster.clone();
    blocking(move || c.kill(0)).await;
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    // A request made while disconnected waits for the reconnect.
    let pending = client.exists(&eph);
    let c = cluster.clone();
    blocking(move || c.restart(0)).await;
    wait_state(&client, 30, |s| s == SessionState::Connected).await;
    assert_eq!(client.session_id(), session);
    assert!(within(20, "queued exists", pending)
        .await
        .unwrap()
        .is_some());
    // The ephemeral node and the watch survived.
    client.set_data(&eph, b"after", None).await.unwrap();
    let event = within(10, "watch after restart", watcher.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_when_servers_are_unreachable() {
    if !support::available() {
        return;
    }
    let opts = ServerOptions {
        tick_ms: Some(200),
        ..ServerOptions::default()
    };
    let cluster = blocking(move || launch(1, &opts)).await;
    let proxy = support::proxy::Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let observer = Client::connect(&support::one_member(&cluster))
        .await
        .unwrap();
    let eph = unique_path("expiring");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (stat, gone) = observer.exists_and_watch(&eph).await.unwrap();
    assert_eq!(stat.unwrap().ephemeral_owner, client.session_id().0);
    let (_, _, client_watch) = client.get_data_and_watch(&eph).await.unwrap();

    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 10, |s| s == SessionState::Disconnected).await;
    let pending = client.get_data(&eph);
    let state = wait_state(&client, 15, |s| s.is_terminal()).await;
    assert_eq!(state, SessionState::Expired);
    assert_eq!(
        within(5, "pending", pending).await,
        Err(Error::SessionExpired)
    );
    assert_eq!(client.get_data("/").await, Err(Error::SessionExpired));
    let e = within(5, "terminal event", client_watch.changed()).await;
    assert_eq!(
        (e.event_type, e.state),
        (EventType::Session, SessionState::Expired)
    );
    // The server expires it too, and deletes the ephemeral node.
    let e = within(20, "ephemeral deleted", gone.changed()).await;
    assert_eq!(e.event_type, EventType::NodeDeleted);

    // Resuming the expired session is refused by the server.
    proxy.set_blocked(false);
    let resumed = Client::builder(support::one_member(&cluster))
        .session(client.session_id(), &client.session_password())
        .connect()
        .await;
    assert_eq!(resumed.err(), Some(Error::SessionExpired));
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_session() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let observer = support::connect_one(&cluster).await;
    let client = support::connect_one(&cluster).await;
    let eph = unique_path("dropped");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, gone) = observer.exists_and_watch(&eph).await.unwrap();
    let clone = client.clone();
    drop(client);
    // A clone keeps the session open.
    assert!(clone.exists(&eph).await.unwrap().is_some());
    let mut state = clone.state();
    drop(clone);
    // closeSession deletes the ephemeral node right away (no waiting for expiry).
    let event = within(5, "ephemeral deleted on close", gone.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);
    within(5, "Closed", state.wait_for(|s| *s == SessionState::Closed))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_while_disconnected_reconnects_and_ends_the_session() {
    if !support::available() {
        return;
    }
    // A graceful shutdown during a connection blip: close() reconnects (within its bound) to
    // send closeSession, so the ephemeral goes now and not a session timeout (30 s) later.
    let cluster = support::shared();
    let observer = support::connect(&cluster).await;
    let proxy = support::proxy::Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let eph = unique_path("closed-while-away");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, gone) = observer.exists_and_watch(&eph).await.unwrap();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 10, |s| s == SessionState::Disconnected).await;
    let closing = tokio::spawn(client.close());
    proxy.set_blocked(false);
    within(10, "close", closing).await.unwrap().unwrap();
    let event = within(5, "ephemeral deleted on close", gone.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);
    assert_eq!(client.get_data("/").await, Err(Error::Closed));
}
