//! Session life: surviving server restarts and kills, expiry.

use std::time::Duration;

use futures::StreamExt;
use zk_client::{AddWatchMode, Client, CreateMode, CreateOptions, Error, EventType, SessionState};

use crate::support::{self, blocking, launch, unique_path, wait_state, within, ServerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_survives_a_standalone_restart() {
    if !support::available() {
        return;
    }
    let cluster = blocking(|| launch(1, &ServerOptions::default())).await;
    let client = Client::builder(cluster.connect_string())
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
async fn recursive_watch_survives_moving_to_another_server() {
    if !support::available() {
        return;
    }
    let cluster = blocking(|| launch(3, &ServerOptions::default())).await;
    let client = Client::builder(cluster.connect_string())
        .session_timeout(Duration::from_secs(15))
        .connection_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let writer = Client::connect(&cluster.connect_string()).await.unwrap();
    let root = unique_path("move");
    writer
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let mut tree = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    // A one-shot watch on another path (servers before 3.9 keep one watch mode per path).
    let other = format!("{root}-data");
    writer
        .create(&other, b"", &CreateOptions::default())
        .await
        .unwrap();
    let (_, _, oneshot) = client.get_data_and_watch(&other).await.unwrap();
    writer
        .create(&format!("{root}/before"), b"", &CreateOptions::default())
        .await
        .unwrap();
    let e = within(10, "event before", tree.next()).await.unwrap();
    assert_eq!(e.path, format!("{root}/before"));

    let session = client.session_id();
    let c = cluster.clone();
    let member = blocking(move || c.member_with_session(session.0))
        .await
        .expect("the client's server");
    let c = cluster.clone();
    blocking(move || c.kill(member)).await;
    // The watcher hears about the disconnect and the reconnect.
    let e = within(20, "disconnected", tree.next()).await.unwrap();
    assert_eq!(
        (e.event_type, e.state),
        (EventType::Session, SessionState::Disconnected)
    );
    let e = within(40, "reconnected", tree.next()).await.unwrap();
    assert_eq!(e.event_type, EventType::Session);
    assert!(e.state.is_connected());
    assert_eq!(client.session_id(), session);
    let c = cluster.clone();
    let now_on = blocking(move || c.member_with_session(session.0)).await;
    assert_ne!(now_on, Some(member));

    let writer_ok = within(40, "writer", async {
        loop {
            match writer
                .create(&format!("{root}/after"), b"", &CreateOptions::default())
                .await
            {
                Ok(_) | Err(Error::NodeExists) => return,
                Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("{e}"),
            }
        }
    });
    writer_ok.await;
    let e = within(20, "event after", tree.next()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path),
        (EventType::NodeCreated, format!("{root}/after"))
    );
    writer.set_data(&other, b"x", None).await.unwrap();
    let e = within(20, "oneshot after", oneshot.changed()).await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    client.close().await.unwrap();
    writer.close().await.unwrap();
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
    let observer = Client::connect(&cluster.connect_string()).await.unwrap();
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
    let resumed = Client::builder(cluster.connect_string())
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
    let observer = support::connect(&cluster).await;
    let client = support::connect(&cluster).await;
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
