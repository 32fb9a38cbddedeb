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
    assert!(!w.contains("/", 2, WatcherType::Children));
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
