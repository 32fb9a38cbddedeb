//! Recipes on a client that renews its session after expiry: caches rebuild in the new
//! session, a locking-queue item held by the old session is no longer ours.

use zk_client::CreateOptions;
use zk_recipes::{CacheEvent, LockingQueue, TreeCache};

use super::{expect_event, expire, renewing};
use crate::support::{self, shared, unique_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_cache_rebuilds_in_a_renewed_session() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let (proxy, client) = renewing(&cluster).await;
    let other = support::connect(&cluster).await;
    let root = unique_path("renewed-cache");
    other
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    other
        .create(&format!("{root}/a"), b"1", &CreateOptions::default())
        .await
        .unwrap();
    let tree = TreeCache::start(&client, &root).await.unwrap();
    let mut events = tree.events();
    expect_event(&mut events, "initialized", |e| {
        *e == CacheEvent::Initialized
    })
    .await;
    let old = client.session_id();

    // While the session is gone, the tree changes.
    proxy.set_blocked(true);
    proxy.cut();
    other
        .set_data(&format!("{root}/a"), b"2", None)
        .await
        .unwrap();
    other
        .create(&format!("{root}/b"), b"", &CreateOptions::default())
        .await
        .unwrap();
    expire(&cluster, &proxy, &client).await;

    let mut seen = Vec::new();
    loop {
        let event = expect_event(&mut events, "the rebuild", |_| true).await;
        if event == CacheEvent::Reset {
            break;
        }
        seen.push(event);
    }
    assert_ne!(client.session_id(), old);
    assert!(seen.contains(&CacheEvent::Suspended), "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| matches!(e, CacheEvent::Changed { path, .. } if path.ends_with("/a"))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, CacheEvent::Created { path, .. } if path.ends_with("/b"))),
        "{seen:?}"
    );
    // And it follows changes made in the new session.
    other.delete(&format!("{root}/b"), None).await.unwrap();
    expect_event(
        &mut events,
        "b deleted",
        |e| matches!(e, CacheEvent::Deleted { path, .. } if path.ends_with("/b")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_locked_by_an_expired_session_is_not_ours() {
    if !support::available() {
        return;
    }
    // CURATOR-605: the lock died with the session, so another consumer may have the item;
    // acknowledging it now must fail rather than delete someone else's work.
    let cluster = shared();
    let (proxy, client) = renewing(&cluster).await;
    let other = support::connect(&cluster).await;
    let base = unique_path("renewed-queue");
    let (items, locks) = (format!("{base}/items"), format!("{base}/locks"));
    let queue = LockingQueue::new(&client, &items, &locks).unwrap();
    queue.put(b"job").await.unwrap();
    let item = queue.take().await.unwrap();
    expire(&cluster, &proxy, &client).await;
    // Another consumer takes it once the old session's lock is gone.
    let rival = LockingQueue::new(&other, &items, &locks).unwrap();
    let theirs = support::within(20, "the item back", rival.take())
        .await
        .unwrap();
    assert_eq!(theirs.data(), item.data());
    let result = item.ack().await;
    assert!(
        matches!(result, Err(zk_recipes::Error::NotOwner { .. })),
        "{result:?}"
    );
    theirs.ack().await.unwrap();
    assert!(other.get_children(&items).await.unwrap().is_empty());
}
