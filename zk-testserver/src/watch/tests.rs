use zk_proto::{Acl, EventType, WatcherType};

use super::*;
use crate::txn::Trigger;

fn created(path: &str) -> Trigger {
    Trigger::Created {
        path: path.into(),
        acl: Acl::open_unsafe(),
        parent_acl: Acl::open_unsafe(),
    }
}

fn deleted(path: &str) -> Trigger {
    Trigger::Deleted {
        path: path.into(),
        acl: Acl::open_unsafe(),
        parent_acl: Acl::open_unsafe(),
    }
}

fn changed(path: &str) -> Trigger {
    Trigger::DataChanged {
        path: path.into(),
        acl: Acl::open_unsafe(),
    }
}

fn events(w: &mut WatchManager, t: Trigger) -> Vec<(ConnId, EventType, String)> {
    w.trigger(&t)
        .into_iter()
        .map(|f| (f.conn, f.event_type, f.path))
        .collect()
}

#[test]
fn standard_watches_fire_once() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/", 2);
    assert_eq!(
        events(&mut w, created("/a")),
        vec![
            (1, EventType::NodeCreated, "/a".into()),
            (2, EventType::NodeChildrenChanged, "/".into())
        ]
    );
    assert!(events(&mut w, changed("/a")).is_empty());
    assert_eq!(w.watch_count(), 0);
}

#[test]
fn delete_fires_once_per_connection() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 1);
    w.add_child_watch("/a", 2);
    assert_eq!(
        events(&mut w, deleted("/a")),
        vec![
            (1, EventType::NodeDeleted, "/a".into()),
            (2, EventType::NodeDeleted, "/a".into())
        ]
    );
}

#[test]
fn persistent_and_recursive() {
    let mut w = WatchManager::new();
    w.add_persistent("/p", 1, false);
    w.add_persistent("/", 2, true);
    assert_eq!(
        events(&mut w, created("/p/x")),
        vec![
            (2, EventType::NodeCreated, "/p/x".into()),
            (1, EventType::NodeChildrenChanged, "/p".into())
        ]
    );
    assert_eq!(
        events(&mut w, changed("/p")),
        vec![
            (1, EventType::NodeDataChanged, "/p".into()),
            (2, EventType::NodeDataChanged, "/p".into())
        ]
    );
    assert!(w.contains("/", 2, WatcherType::PersistentRecursive));
    // ZooKeeper 3.8 keeps a recursive watch in the child table too, and checkWatches for
    // Children only asks whether the table has the connection on that path.
    assert!(w.contains("/", 2, WatcherType::Children));
    assert!(w.remove("/p", 1, WatcherType::Persistent));
    assert!(!w.remove("/p", 1, WatcherType::Any));
    w.remove_connection(2);
    assert!(events(&mut w, changed("/p")).is_empty());
}

#[test]
fn set_watches_replay_rules() {
    let mut tree = crate::tree::DataTree::new();
    let txn = crate::txn::Txn::Create {
        path: "/n".into(),
        data: None,
        acl: Acl::open_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: 1,
    };
    tree.apply(&txn, 10, 0);
    let mut w = WatchManager::new();
    let list = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (data, exist, child) = (list(&["/n", "/gone"]), list(&["/n", "/new"]), list(&["/"]));
    let e = w.set_watches(
        &tree,
        7,
        5,
        SetWatchLists {
            data: &data,
            exist: &exist,
            child: &child,
            persistent: &[],
            persistent_recursive: &[],
        },
    );
    assert_eq!(
        e,
        vec![
            (EventType::NodeDataChanged, "/n".to_string()),
            (EventType::NodeDeleted, "/gone".to_string()),
            (EventType::NodeCreated, "/n".to_string()),
            (EventType::NodeChildrenChanged, "/".to_string()),
        ]
    );
    // Only "/new" was re-armed.
    assert_eq!(w.watch_count(), 1);
    assert!(w.contains("/new", 7, WatcherType::Data));
}

#[test]
fn a_recursive_watch_replaces_the_connections_child_watch_on_its_path() {
    // ZooKeeper 3.8 adds a recursive watch to both tables with one mode per (connection,
    // path): a child watch the same connection had on that path stops firing.
    let mut w = WatchManager::new();
    w.add_child_watch("/a", 1);
    w.add_child_watch("/a", 2);
    w.add_persistent("/a", 1, true);
    assert_eq!(
        events(&mut w, created("/a/b")),
        vec![
            (1, EventType::NodeCreated, "/a/b".into()),
            (2, EventType::NodeChildrenChanged, "/a".into()),
        ]
    );
    // Both tables hold it, and removing it by type clears both.
    assert!(w.contains("/a", 1, WatcherType::PersistentRecursive));
    assert_eq!(w.watch_count(), 2);
    assert!(w.remove("/a", 1, WatcherType::PersistentRecursive));
    assert_eq!(w.watch_count(), 0);
    assert!(events(&mut w, created("/a/c")).is_empty());
    // Deleting the watched node reports NodeDeleted once.
    w.add_persistent("/a", 3, true);
    assert_eq!(
        events(&mut w, deleted("/a")),
        vec![(3, EventType::NodeDeleted, "/a".into())]
    );
}
