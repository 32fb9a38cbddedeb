//! The README's "tour in 20 lines", line for line, against an in-process server (the README
//! connects to `10.0.0.1:2181,10.0.0.2:2181/myapp`; here the chroot is on the test server).

use futures::StreamExt;
use zk_client::{AddWatchMode, Client, CreateMode, CreateOptions, Op};
use zk_recipes::{LeaderLatch, Mutex};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test]
async fn the_readme_tour_runs() -> Result<(), BoxError> {
    let server = zk_testserver::TestServer::builder().start().await?;
    let setup = Client::connect(&server.connect_string()).await?;
    setup
        .create("/myapp", b"", &CreateOptions::new(CreateMode::Persistent))
        .await?;
    let connect_string = format!("{}/myapp", server.connect_string());

    // From here on, the README's lines.
    let client = Client::connect(&connect_string).await?; // hosts, chroot
    let persistent = CreateOptions::new(CreateMode::Persistent);
    client.create_all("/config", b"v1", &persistent).await?; // create, parents too
    let mut changes = client
        .add_watch("/config", AddWatchMode::Persistent)
        .await?; // a Stream
    client.set_data("/config", b"v2", None).await?;
    let event = changes.next().await.ok_or("watch ended")?; // NodeDataChanged on /config
    let (data, stat) = client.get_data(&event.path).await?; // b"v2", version 1

    let lock = Mutex::new(&client, "/locks/config")?; // Curator's layout
    let guard = lock.acquire().await?;
    guard
        .fenced_multi(&[Op::set_data("/config", b"v3".to_vec(), None)])
        .await?; // only while ours
    guard.release().await;

    let latch = LeaderLatch::start(&client, "/leader", "node-1")?; // Curator's LeaderLatch
    let token = latch.wait_leader().await?; // leading; token.czxid() fences
    latch.close().await;
    client.close().await?;
    // End of the README's lines.

    assert_eq!(event.event_type, zk_client::EventType::NodeDataChanged);
    assert_eq!(event.path, "/config");
    assert_eq!((&data[..], stat.version), (&b"v2"[..], 1));
    assert!(token.czxid() > 0);
    assert_eq!(&setup.get_data("/myapp/config").await?.0[..], b"v3");
    Ok(())
}
