use bytes::Bytes;
use zk_proto::{Acl, ErrorCode};

use super::*;
use crate::txn::{OpResult, Trigger, Txn};

fn create(path: &str, owner: i64, parent_cversion: i32) -> Txn {
    Txn::Create {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: Acl::open_unsafe(),
        ephemeral_owner: owner,
        parent_cversion,
    }
}

#[test]
fn initial_tree() {
    let t = DataTree::new();
    assert_eq!(t.node_count(), 4);
    let root = t.get("/").unwrap();
    assert_eq!(root.children.iter().collect::<Vec<_>>(), ["zookeeper"]);
    // No child was ever created at the root: clients see 2*0 - 1.
    assert_eq!(root.to_stat().cversion, -1);
    assert_eq!(t.get(CONFIG_NODE).unwrap().stat.aversion, -1);
    assert_eq!(t.get(CONFIG_NODE).unwrap().acl, Acl::read_unsafe());
}

#[test]
fn create_sets_stats_and_triggers() {
    let mut t = DataTree::new();
    let applied = t.apply(&create("/a", 0, 1), 5, 1000);
    let OpResult::Created { path, stat } = applied.result else {
        panic!()
    };
    assert_eq!(path, "/a");
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (5, 5, 5));
    assert_eq!((stat.ctime, stat.mtime, stat.data_length), (1000, 1000, 1));
    let root = t.get("/").unwrap();
    assert_eq!((root.stat.cversion, root.stat.pzxid), (1, 5));
    assert!(matches!(&applied.triggers[..], [Trigger::Created { path, .. }] if path == "/a"));
    // Applying the same create again fails without changing anything.
    let before = t.clone();
    assert_eq!(
        t.apply(&create("/a", 0, 2), 6, 0).result,
        OpResult::Error(ErrorCode::NodeExists)
    );
    assert_eq!(t, before);
}

#[test]
fn delete_keeps_cversion_and_clients_see_changes() {
    let mut t = DataTree::new();
    t.apply(&create("/p", 0, 1), 1, 0);
    t.apply(&create("/p/a", 0, 1), 2, 0);
    t.apply(&create("/p/b", 0, 2), 3, 0);
    assert_eq!(
        t.apply(&Txn::Delete { path: "/p".into() }, 4, 0).result,
        OpResult::Error(ErrorCode::NotEmpty)
    );
    t.apply(
        &Txn::Delete {
            path: "/p/a".into(),
        },
        5,
        0,
    );
    let p = t.get("/p").unwrap();
    assert_eq!((p.stat.cversion, p.stat.pzxid), (2, 5));
    // Two creates and one delete: clients see three changes.
    assert_eq!(p.to_stat().cversion, 3);
    assert_eq!(p.to_stat().num_children, 1);
}

#[test]
fn close_session_deletes_ephemerals_in_order() {
    let mut t = DataTree::new();
    t.apply(&create("/e1", 77, 1), 1, 0);
    t.apply(&create("/e2", 77, 2), 2, 0);
    t.apply(&create("/other", 78, 3), 3, 0);
    assert_eq!(
        t.ephemerals_of(77),
        vec!["/e1".to_string(), "/e2".to_string()]
    );
    let applied = t.apply(&Txn::CloseSession { session_id: 77 }, 4, 0);
    assert_eq!(applied.result, OpResult::SessionClosed);
    assert_eq!(applied.triggers.len(), 2);
    assert!(t.get("/e1").is_none() && t.get("/other").is_some());
    assert!(t.ephemerals_of(77).is_empty());
}

#[test]
fn set_data_and_acl_versions() {
    let mut t = DataTree::new();
    t.apply(&create("/a", 0, 1), 1, 0);
    let r = t.apply(
        &Txn::SetData {
            path: "/a".into(),
            data: None,
            version: 1,
        },
        2,
        50,
    );
    let OpResult::DataSet { stat } = r.result else {
        panic!()
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.mtime, stat.data_length),
        (1, 2, 50, 0)
    );
    assert_eq!(t.get("/a").unwrap().data, None);
    let r = t.apply(
        &Txn::SetAcl {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: 1,
        },
        3,
        60,
    );
    assert!(r.triggers.is_empty());
    assert_eq!(t.get("/a").unwrap().stat.aversion, 1);
}

#[test]
fn kinds_and_hidden_owners() {
    let mut t = DataTree::new();
    t.apply(&create("/c", zk_proto::CONTAINER_EPHEMERAL_OWNER, 1), 1, 0);
    t.apply(&create("/t", NodeKind::ttl_owner(500), 2), 2, 0);
    t.apply(&create("/e", 42, 3), 3, 0);
    assert_eq!(t.get("/c").unwrap().kind(), NodeKind::Container);
    assert_eq!(t.get("/t").unwrap().kind(), NodeKind::Ttl(500));
    assert_eq!(t.get("/e").unwrap().kind(), NodeKind::Ephemeral(42));
    assert_eq!(t.get("/c").unwrap().to_stat().ephemeral_owner, 0);
    assert_eq!(t.get("/t").unwrap().to_stat().ephemeral_owner, 0);
    assert_eq!(t.get("/e").unwrap().to_stat().ephemeral_owner, 42);
    assert_eq!(t.containers().count(), 1);
    assert_eq!(t.ttl_nodes().count(), 1);
}

#[test]
fn failed_multi_changes_nothing_and_apply_is_deterministic() {
    let txns = [
        create("/a", 0, 1),
        Txn::Multi(vec![create("/b", 0, 2), create("/b/c", 0, 1)]),
        Txn::Multi(vec![
            Txn::Error(ErrorCode::Ok),
            Txn::Error(ErrorCode::NodeExists),
        ]),
        Txn::SetData {
            path: "/b/c".into(),
            data: Some(Bytes::from_static(b"x")),
            version: 1,
        },
    ];
    let run = || {
        let mut t = DataTree::new();
        for (i, txn) in txns.iter().enumerate() {
            t.apply(txn, i as i64 + 1, 100 * i as i64);
        }
        t
    };
    let a = run();
    assert_eq!(a, run());
    assert_eq!(a.descendant_count("/"), 6);
    assert_eq!(
        a.preorder(),
        [
            "/",
            "/a",
            "/b",
            "/b/c",
            "/zookeeper",
            "/zookeeper/config",
            "/zookeeper/quota"
        ]
    );
}

#[test]
fn check_invariants_finds_broken_links_and_indexes() {
    let mut t = DataTree::new();
    assert_eq!(t.check_invariants(), Ok(()));
    t.apply(&create("/e", 0x55, 1), 1, 0);
    t.apply(&create("/e2", 0x55, 2), 2, 0);
    assert_eq!(t.check_invariants(), Ok(()));
    let node = t.get("/e").cloned().unwrap();

    // A node whose parent is missing.
    let mut orphan = t.clone();
    orphan.insert_raw("/x/y", node.clone());
    assert!(orphan
        .check_invariants()
        .unwrap_err()
        .contains("parent /x missing"));

    // A child the parent lists but that is gone.
    let mut dangling = t.clone();
    dangling.nodes.remove("/e");
    assert!(dangling.check_invariants().is_err());

    // An ephemeral missing from the owner index.
    let mut unindexed = t.clone();
    unindexed.ephemerals.clear();
    assert!(unindexed.check_invariants().is_err());
}
