//! Read-only mode: a member cut off from its quorum serves read-only sessions.

use std::time::Duration;

use zk_client::{Client, CreateOptions, Error, SessionState};

use crate::support::{self, blocking, launch, unique_path, wait_state, ServerOptions};

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
    // A client that does not allow read-only servers cannot connect.
    let refused = Client::builder(&survivor)
        .connection_timeout(Duration::from_secs(3))
        .connect()
        .await;
    assert_eq!(refused.err(), Some(Error::NoHosts));

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
