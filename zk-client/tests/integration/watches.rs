//! Watch kinds and their trigger rules, on the shared server; watches across a server restart
//! live in `session`, across a move to another member in `ensemble`.

use std::time::Duration;

use futures::StreamExt;
use zk_client::{
    AddWatchMode, Client, CreateMode, CreateOptions, Error, EventType, PersistentWatcher,
    SessionState, WatcherType,
};

use super::support::{self, connect_one, proxy::Proxy, shared, unique_path, wait_state, within};

fn opts() -> CreateOptions {
    CreateOptions::new(CreateMode::Persistent)
}

#[tokio::test]
async fn one_shot_watches_fire_once() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let other = connect_one(&cluster).await;
    let root = unique_path("oneshot");
    client.create(&root, b"", &opts()).await.unwrap();
    let node = format!("{root}/n");

    // exists on a missing node: fires on creation.
    let (stat, created) = client.exists_and_watch(&node).await.unwrap();
    assert!(stat.is_none());
    other.create(&node, b"1", &opts()).await.unwrap();
    let event = within(10, "NodeCreated", created.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, node.as_str())
    );

    // getData: fires on data change, once, for every watcher of the path.
    let (_, _, w1) = client.get_data_and_watch(&node).await.unwrap();
    let (_, _, w2) = client.get_data_and_watch(&node).await.unwrap();
    let (_, w3) = client.exists_and_watch(&node).await.unwrap();
    other.set_data(&node, b"2", None).await.unwrap();
    for w in [w1, w2, w3] {
        let event = within(10, "NodeDataChanged", w.changed()).await;
        assert_eq!(event.event_type, EventType::NodeDataChanged);
    }

    // getChildren: fires on child creation, and on deletion of the node itself.
    let (children, _, child_watch) = client.get_children_and_watch(&root).await.unwrap();
    assert_eq!(children, ["n"]);
    other
        .create(&format!("{root}/m"), b"", &opts())
        .await
        .unwrap();
    let event = within(10, "NodeChildrenChanged", child_watch.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeChildrenChanged, root.as_str())
    );

    let (_, _, data_watch) = client.get_data_and_watch(&node).await.unwrap();
    other.delete(&node, None).await.unwrap();
    let event = within(10, "NodeDeleted", data_watch.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);

    // getData on a missing node leaves no watch and fails.
    assert!(matches!(
        client.get_data_and_watch(&node).await,
        Err(Error::NoNode)
    ));

    // Replies to requests made after a change come after its event.
    let (_, _, watch) = client.get_data_and_watch(&root).await.unwrap();
    other.set_data(&root, b"x", None).await.unwrap();
    other.sync(&root).await.unwrap();
    client.sync(&root).await.unwrap();
    let event = tokio::time::timeout(std::time::Duration::ZERO, watch.changed())
        .await
        .expect("the event is already there once a later reply arrived");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    client.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn persistent_and_recursive_watches() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let other = connect_one(&cluster).await;
    let root = unique_path("persistent");
    client.create(&root, b"", &opts()).await.unwrap();

    let child = format!("{root}/a");
    let grandchild = format!("{child}/b");
    // One style per path (servers before 3.9 keep one watch mode per path and session).
    let mut node_watch = client
        .add_watch(&child, AddWatchMode::Persistent)
        .await
        .unwrap();
    let mut tree_watch = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    other.create(&child, b"", &opts()).await.unwrap();
    other.create(&grandchild, b"", &opts()).await.unwrap();
    other.set_data(&grandchild, b"1", None).await.unwrap();
    other.set_data(&root, b"1", None).await.unwrap();
    other.delete(&grandchild, None).await.unwrap();

    // Persistent on one node (that did not exist yet): its creation and child changes,
    // never consumed.
    assert_eq!(
        next_events(&mut node_watch, 3).await,
        [
            (EventType::NodeCreated, child.clone()),
            (EventType::NodeChildrenChanged, child.clone()),
            (EventType::NodeChildrenChanged, child.clone()),
        ]
    );

    // Recursive: every created/changed/deleted descendant, no child events.
    assert_eq!(
        next_events(&mut tree_watch, 5).await,
        [
            (EventType::NodeCreated, child.clone()),
            (EventType::NodeCreated, grandchild.clone()),
            (EventType::NodeDataChanged, grandchild.clone()),
            (EventType::NodeDataChanged, root.clone()),
            (EventType::NodeDeleted, grandchild.clone()),
        ]
    );

    // Dropping the last watcher removes the server watch. (3.8's checkWatches reports a
    // removed recursive watch as present, so ask the server's `wchc` instead.)
    let session = client.session_id().0;
    let member = cluster
        .member_with_session(session)
        .expect("the client's member");
    let mut watched = cluster.watched_paths(member, session);
    watched.sort();
    assert_eq!(watched, [root.clone(), child.clone()]);
    drop(node_watch);
    drop(tree_watch);
    client.sync(&root).await.unwrap();
    assert_eq!(cluster.watched_paths(member, session), Vec::<String>::new());
    client.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn dropping_and_removing_watchers() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("drop");
    client.create(&root, b"", &opts()).await.unwrap();

    // Two watchers share one server watch: dropping one keeps it, dropping both removes it.
    let (_, _, a) = client.get_data_and_watch(&root).await.unwrap();
    let (_, _, b) = client.get_data_and_watch(&root).await.unwrap();
    drop(a);
    client.sync("/").await.unwrap();
    client
        .check_watches(&root, WatcherType::Data)
        .await
        .unwrap();
    drop(b);
    client.sync("/").await.unwrap();
    assert_eq!(
        client.check_watches(&root, WatcherType::Data).await,
        Err(Error::NoWatcher)
    );

    // remove_watches tells every affected watcher.
    let (_, _, c) = client.get_children_and_watch(&root).await.unwrap();
    client
        .remove_watches(&root, WatcherType::Children)
        .await
        .unwrap();
    let event = within(10, "ChildWatchRemoved", c.changed()).await;
    assert_eq!(event.event_type, EventType::ChildWatchRemoved);
    assert_eq!(
        client.remove_watches(&root, WatcherType::Children).await,
        Err(Error::NoWatcher)
    );

    // A watcher of a closed session ends with the terminal state.
    let (_, _, d) = client.get_data_and_watch(&root).await.unwrap();
    client.delete(&root, None).await.unwrap();
    let event = within(10, "NodeDeleted", d.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);
    let (_, e) = client.exists_and_watch(&root).await.unwrap();
    client.close().await.unwrap();
    let event = within(10, "Closed", e.changed()).await;
    assert_eq!(event.event_type, EventType::Session);
    assert_eq!(event.state, zk_client::SessionState::Closed);
}

#[tokio::test]
async fn config_watch() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let (_, stat, watcher) = client.get_config_and_watch().await.unwrap();
    assert!(stat.czxid >= 0);
    drop(watcher);
    client.sync("/").await.unwrap();
}

#[tokio::test]
async fn slow_persistent_watcher_is_dropped_not_the_session() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = zk_client::Client::builder(support::one_member(&cluster))
        .persistent_watch_buffer(4)
        .connect()
        .await
        .unwrap();
    let root = unique_path("lagging");
    client.create(&root, b"", &opts()).await.unwrap();
    let mut watcher = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();
    for i in 0..10 {
        client
            .set_data(&root, format!("{i}").as_bytes(), None)
            .await
            .unwrap();
    }
    // The buffered events are still delivered, then the stream ends.
    let mut delivered = 0;
    while let Some(event) = within(10, "buffered events", watcher.next()).await {
        assert_eq!(event.event_type, EventType::NodeDataChanged);
        delivered += 1;
    }
    assert_eq!(delivered, 4);
    assert!(watcher.is_lagged());
    // The session is unaffected, and the server watch is gone.
    client.sync(&root).await.unwrap();
    let session = client.session_id().0;
    let member = cluster
        .member_with_session(session)
        .expect("the client's member");
    assert_eq!(cluster.watched_paths(member, session), Vec::<String>::new());
    client.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn changes_missed_while_disconnected_fire_on_reconnect() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let other = connect_one(&cluster).await;
    let root = unique_path("missed");
    let [changed, created, deleted, parent, unchanged] =
        ["changed", "created", "deleted", "parent", "unchanged"].map(|n| format!("{root}/{n}"));
    other.create(&root, b"", &opts()).await.unwrap();
    for path in [&changed, &deleted, &parent, &unchanged] {
        other.create(path, b"", &opts()).await.unwrap();
    }
    let (_, _, data) = client.get_data_and_watch(&changed).await.unwrap();
    let (_, creation) = client.exists_and_watch(&created).await.unwrap();
    let (_, _, deletion) = client.get_data_and_watch(&deleted).await.unwrap();
    let (_, _, children) = client.get_children_and_watch(&parent).await.unwrap();
    let (_, _, quiet) = client.get_data_and_watch(&unchanged).await.unwrap();

    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    other.set_data(&changed, b"1", None).await.unwrap();
    other.create(&created, b"", &opts()).await.unwrap();
    other.delete(&deleted, None).await.unwrap();
    other
        .create(&format!("{parent}/c"), b"", &opts())
        .await
        .unwrap();
    proxy.set_blocked(false);
    wait_state(&client, 20, |s| s == SessionState::Connected).await;

    // The re-registered watches fire at once for what changed since the client's last zxid...
    for (watcher, expected, path) in [
        (data, EventType::NodeDataChanged, &changed),
        (creation, EventType::NodeCreated, &created),
        (deletion, EventType::NodeDeleted, &deleted),
        (children, EventType::NodeChildrenChanged, &parent),
    ] {
        let event = within(10, "missed event", watcher.changed()).await;
        assert_eq!((event.event_type, &event.path), (expected, path));
        assert_eq!(event.state, SessionState::Connected);
    }
    // ...and stay armed for the rest.
    other.set_data(&unchanged, b"1", None).await.unwrap();
    let event = within(10, "event after reconnect", quiet.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    client.close().await.unwrap();
    other.delete_all(&root).await.unwrap();
}

/// The next `n` events of a persistent watcher, as (type, path).
async fn next_events(watch: &mut PersistentWatcher, n: usize) -> Vec<(EventType, String)> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let e = within(10, "persistent watcher event", watch.next())
            .await
            .expect("the watcher is open");
        seen.push((e.event_type, e.path));
    }
    seen
}
