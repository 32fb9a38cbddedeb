//! Chroot: prepended to every path sent, stripped from every path received.

use futures::StreamExt;
use zk_client::{AddWatchMode, Client, CreateMode, CreateOptions, EventType, Op, OpResult};

use super::support::{self, connect_one, shared, unique_path, within};

#[tokio::test]
async fn chroot_is_transparent() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let plain = connect_one(&cluster).await;
    let root = unique_path("chroot");
    plain
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let client = Client::connect(&format!("{}{root}", support::one_member(&cluster)))
        .await
        .unwrap();
    assert_eq!(client.chroot(), Some(root.as_str()));

    let (path, _) = client
        .create("/a", b"1", &CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(path, "/a");
    assert_eq!(
        &plain.get_data(&format!("{root}/a")).await.unwrap().0[..],
        b"1"
    );
    let (seq, _) = client
        .create(
            "/s-",
            b"",
            &CreateOptions::new(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    assert!(seq.starts_with("/s-"), "{seq}");
    assert_eq!(client.get_ephemerals("/").await.unwrap(), vec![seq.clone()]);
    assert_eq!(client.sync("/a").await.unwrap(), "/a");
    let mut children = client.get_children("/").await.unwrap();
    children.sort();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0], "a");

    let results = client
        .multi(&[Op::create("/m", b"".to_vec(), &CreateOptions::default())])
        .await
        .unwrap();
    assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/m"));

    let (_, _, watcher) = client.get_data_and_watch("/a").await.unwrap();
    let mut tree = client
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    plain
        .set_data(&format!("{root}/a"), b"2", None)
        .await
        .unwrap();
    let event = within(10, "data event", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/a")
    );
    let event = within(10, "recursive event", tree.next()).await.unwrap();
    assert_eq!(event.path, "/a");

    client.delete_all("/a").await.unwrap();
    client.close().await.unwrap();
    plain.delete_all(&root).await.unwrap();
}
