//! Node, children and tree caches: loading, following changes, depth limits, and rebuilding
//! after a reconnect (CURATOR-391: a delete-and-recreate while disconnected is reported).

use zk_client::{CreateMode, CreateOptions};
use zk_recipes::{CacheEvent, ChildrenCache, NodeCache, TreeCache};

use super::{disconnect, expect_event, proxied, reconnect};
use crate::support::{self, shared, unique_path, within};

fn persistent() -> CreateOptions {
    CreateOptions::new(CreateMode::Persistent)
}

#[tokio::test]
async fn node_cache_follows_one_node() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = unique_path("node-cache");
    let cache = NodeCache::start(&client, &path).await.unwrap();
    let mut events = cache.events();
    assert_eq!(events.recv().await.unwrap(), CacheEvent::Initialized);
    assert_eq!(cache.get(), None);
    let mut value = cache.watch();

    client.create(&path, b"v1", &persistent()).await.unwrap();
    within(
        10,
        "v1",
        value.wait_for(|v| v.as_ref().is_some_and(|n| &n.data[..] == b"v1")),
    )
    .await
    .unwrap();
    assert!(matches!(
        events.recv().await.unwrap(),
        CacheEvent::Created { .. }
    ));
    client.set_data(&path, b"v2", None).await.unwrap();
    let CacheEvent::Changed { old, node, .. } = expect_event(&mut events, "v2", |_| true).await
    else {
        panic!("expected a change");
    };
    assert_eq!((&old.data[..], &node.data[..]), (&b"v1"[..], &b"v2"[..]));
    // Children do not concern a node cache.
    client
        .create(&format!("{path}/child"), b"", &persistent())
        .await
        .unwrap();
    client.delete(&format!("{path}/child"), None).await.unwrap();
    client.delete(&path, None).await.unwrap();
    let event = expect_event(&mut events, "deleted", |_| true).await;
    assert!(matches!(event, CacheEvent::Deleted { .. }), "{event:?}");
    within(10, "gone", value.wait_for(|v| v.is_none()))
        .await
        .unwrap();
}

#[tokio::test]
async fn children_cache_follows_children_only() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = unique_path("children-cache");
    client
        .create(&path, b"parent", &persistent())
        .await
        .unwrap();
    client
        .create(&format!("{path}/a"), b"1", &persistent())
        .await
        .unwrap();
    let cache = ChildrenCache::start(&client, &path).await.unwrap();
    let mut events = cache.events();
    assert_eq!(cache.children().keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(&cache.parent().unwrap().data[..], b"parent");

    client
        .create(&format!("{path}/b"), b"2", &persistent())
        .await
        .unwrap();
    client
        .create(&format!("{path}/a/deep"), b"x", &persistent())
        .await
        .unwrap();
    client
        .set_data(&format!("{path}/a"), b"1b", None)
        .await
        .unwrap();
    expect_event(
        &mut events,
        "a changed",
        |e| matches!(e, CacheEvent::Changed { path: p, .. } if p.ends_with("/a")),
    )
    .await;
    let children = cache.children();
    assert_eq!(children.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(&children["a"].data[..], b"1b");
    assert_eq!(&cache.get("b").unwrap().data[..], b"2");
    client.delete_all(&format!("{path}/a")).await.unwrap();
    expect_event(
        &mut events,
        "a deleted",
        |e| matches!(e, CacheEvent::Deleted { path: p, .. } if p.ends_with("/a")),
    )
    .await;
    assert_eq!(cache.children().keys().collect::<Vec<_>>(), ["b"]);
}

#[tokio::test]
async fn tree_cache_follows_a_subtree() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let root = unique_path("tree-cache");
    client.create(&root, b"", &persistent()).await.unwrap();
    client
        .create(&format!("{root}/x"), b"x", &persistent())
        .await
        .unwrap();
    client
        .create(&format!("{root}/x/y"), b"y", &persistent())
        .await
        .unwrap();
    let tree = TreeCache::start(&client, &root).await.unwrap();
    let mut events = tree.events();
    // The initial load is reported to the first subscriber.
    let mut created = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            CacheEvent::Created { path, .. } => created.push(path),
            CacheEvent::Initialized => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        created,
        [root.clone(), format!("{root}/x"), format!("{root}/x/y")]
    );

    client
        .create(&format!("{root}/x/y/z"), b"z", &persistent())
        .await
        .unwrap();
    client
        .set_data(&format!("{root}/x"), b"x2", None)
        .await
        .unwrap();
    client.delete_all(&format!("{root}/x/y")).await.unwrap();
    expect_event(
        &mut events,
        "y deleted",
        |e| matches!(e, CacheEvent::Deleted { path, .. } if path.ends_with("/x/y")),
    )
    .await;
    let snapshot = tree.snapshot();
    assert_eq!(
        snapshot.keys().collect::<Vec<_>>(),
        [&root, &format!("{root}/x")]
    );
    assert_eq!(&tree.get(&format!("{root}/x")).unwrap().data[..], b"x2");
    assert_eq!(tree.children(&root).keys().collect::<Vec<_>>(), ["x"]);

    // A depth limit.
    let shallow = TreeCache::with_max_depth(&client, &root, 0).await.unwrap();
    assert_eq!(shallow.snapshot().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_see_a_delete_and_recreate_while_disconnected() {
    if !support::available() {
        return;
    }
    // CURATOR-391: the node is deleted and re-created with the same data (so the same
    // version, 0) while the cache's client is cut off; after the reconnect the caches report
    // it, and anything else that changed meanwhile.
    let cluster = shared();
    let (proxy, client) = proxied(&cluster).await;
    let other = support::connect(&cluster).await;
    let root = unique_path("cache-391");
    let node = format!("{root}/config");
    client.create(&root, b"", &persistent()).await.unwrap();
    client.create(&node, b"same", &persistent()).await.unwrap();
    client
        .create(&format!("{root}/old"), b"", &persistent())
        .await
        .unwrap();
    let node_cache = NodeCache::start(&client, &node).await.unwrap();
    let children = ChildrenCache::start(&client, &root).await.unwrap();
    let tree = TreeCache::start(&client, &root).await.unwrap();
    let czxid = node_cache.get().unwrap().stat.czxid;
    let mut node_events = node_cache.events();
    let mut child_events = children.events();
    let mut tree_events = tree.events();
    for events in [&mut node_events, &mut child_events, &mut tree_events] {
        expect_event(events, "initialized", |e| *e == CacheEvent::Initialized).await;
    }

    disconnect(&proxy, &client).await;
    for events in [&mut node_events, &mut child_events, &mut tree_events] {
        expect_event(events, "suspended", |e| *e == CacheEvent::Suspended).await;
    }
    other.delete(&node, None).await.unwrap();
    other.create(&node, b"same", &persistent()).await.unwrap();
    other.delete(&format!("{root}/old"), None).await.unwrap();
    other
        .create(&format!("{root}/new"), b"n", &persistent())
        .await
        .unwrap();
    reconnect(&proxy, &client).await;

    for (name, events) in [
        ("node", &mut node_events),
        ("children", &mut child_events),
        ("tree", &mut tree_events),
    ] {
        let mut seen = Vec::new();
        loop {
            let event = expect_event(events, name, |_| true).await;
            if event == CacheEvent::Reset {
                break;
            }
            seen.push(event);
        }
        let deleted_config = seen.iter().any(|e| matches!(e, CacheEvent::Deleted { path, node } if *path == node_path(&root) && node.stat.czxid == czxid));
        let created_config = seen.iter().any(|e| matches!(e, CacheEvent::Created { path, node } if *path == node_path(&root) && node.stat.czxid != czxid));
        assert!(
            deleted_config && created_config,
            "{name} cache missed the re-creation: {seen:?}"
        );
        if name != "node" {
            assert!(
                seen.iter().any(
                    |e| matches!(e, CacheEvent::Deleted { path, .. } if path.ends_with("/old"))
                ),
                "{name}: {seen:?}"
            );
            assert!(
                seen.iter().any(
                    |e| matches!(e, CacheEvent::Created { path, .. } if path.ends_with("/new"))
                ),
                "{name}: {seen:?}"
            );
        }
    }
    assert_ne!(node_cache.get().unwrap().stat.czxid, czxid);
    assert_eq!(
        children.children().keys().collect::<Vec<_>>(),
        ["config", "new"]
    );
    assert_eq!(tree.snapshot().len(), 3);
}

fn node_path(root: &str) -> String {
    format!("{root}/config")
}
