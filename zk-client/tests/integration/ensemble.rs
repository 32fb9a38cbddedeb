//! Tests that need a multi-member ensemble: `tests/real.rs` runs them against 3 real ZooKeeper
//! JVMs, `tests/rust_server.rs` against a 3-member in-process `zk_testserver::Ensemble`.
//! (`reconfig_and_config_watch`, in `ensemble_reconfig.rs`, runs against real ZooKeeper only:
//! the Rust ensemble has no dynamic reconfiguration yet.)
//!
//! - `recursive_watch_survives_moving_to_another_server`: kills the member holding the session
//!   so the client moves to another one, re-registering its watches.
//! - `reads_on_a_read_only_server`: a member cut off from its quorum serves read-only sessions,
//!   and a roaming client moves back to a read-write member when the quorum returns.

use std::time::Duration;

use futures::StreamExt;
use zk_client::{AddWatchMode, Client, CreateOptions, Error, EventType, SessionState};

use crate::support::{self, blocking, launch, unique_path, wait_state, within, ServerOptions};

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
    // The watched nodes are created through `client`: its server may lag behind the writer's,
    // and would then report the creation of `root` to the new watch, or miss `other`.
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let mut tree = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    // A one-shot watch on another path (servers before 3.9 keep one watch mode per path).
    let other = format!("{root}-data");
    client
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
async fn reads_on_a_read_only_server() {
    if !support::available() {
        return;
    }
    let opts = ServerOptions {
        read_only_mode: true,
        ..ServerOptions::default()
    };
    let cluster = blocking(move || launch(3, &opts)).await;
    let writer = Client::connect(&cluster.connect_string()).await.unwrap();
    let path = unique_path("ro");
    writer
        .create(&path, b"kept", &CreateOptions::default())
        .await
        .unwrap();
    writer.close().await.unwrap();

    let c = cluster.clone();
    blocking(move || {
        c.kill(1);
        c.kill(2);
    })
    .await;
    // Wait for the survivor to notice it lost its quorum (the server's own state, polled).
    let c = cluster.clone();
    blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while c.mode(0).as_deref() != Some("read-only") {
            assert!(
                std::time::Instant::now() < deadline,
                "survivor never went read-only"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await;
    let survivor = cluster.member_addr(0).to_string();
    // A client that does not allow read-only servers cannot connect, and is told why.
    let refused = Client::builder(&survivor)
        .connection_timeout(Duration::from_secs(3))
        .connect()
        .await;
    assert_eq!(
        refused.err(),
        Some(Error::ReadOnlyServerRefused {
            read_only_allowed: false
        })
    );

    let client = Client::builder(&survivor)
        .read_only(true)
        .connection_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    assert_eq!(*client.state().borrow(), SessionState::ConnectedReadOnly);
    let (data, _) = client.get_data(&path).await.unwrap();
    assert_eq!(&data[..], b"kept");
    assert_eq!(
        client.set_data(&path, b"x", None).await,
        Err(Error::NotReadOnly)
    );
    assert_eq!(
        client
            .create(&format!("{path}/c"), b"", &CreateOptions::default())
            .await,
        Err(Error::NotReadOnly)
    );

    // A client that lists every member moves to a read-write server once the quorum is back.
    let roaming = Client::builder(cluster.connect_string())
        .read_only(true)
        .connection_timeout(Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    assert_eq!(*roaming.state().borrow(), SessionState::ConnectedReadOnly);
    let c = cluster.clone();
    blocking(move || {
        c.start(1);
        c.start(2);
        c.wait_for_leader(Duration::from_secs(60));
    })
    .await;
    wait_state(&roaming, 90, |s| s == SessionState::Connected).await;
    roaming
        .set_data(&path, b"writable again", None)
        .await
        .unwrap();
    roaming.close().await.unwrap();
    client.close().await.unwrap();
}
