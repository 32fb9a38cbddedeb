//! Members replicating over real loopback sockets: election, replication, leader kill,
//! restart from the disk.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use super::{NodeState, PeerNode};
use crate::replication::{DurableState, ReplicaConfig, ServerId};
use crate::txn::Txn;

fn txn(n: u32) -> Txn {
    Txn::Create {
        path: format!("/n{n}"),
        data: None,
        acl: zk_proto::Acl::open_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: 0,
    }
}

async fn start(
    id: ServerId,
    addrs: &BTreeMap<ServerId, SocketAddr>,
    disk: Arc<Mutex<DurableState>>,
) -> PeerNode {
    let listener = TcpListener::bind(addrs[&id]).await.expect("bind");
    let cfg = ReplicaConfig::fast(id, addrs.keys().copied());
    PeerNode::start(cfg, listener, addrs.clone(), disk).expect("start")
}

/// Waits (up to 10 s) until `f` holds for the member's state.
async fn until(node: &PeerNode, what: &str, f: impl Fn(&NodeState) -> bool) {
    let mut rx = node.state();
    let waited = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|s| f(s))).await;
    assert!(
        matches!(waited, Ok(Ok(_))),
        "member {}: {what}: {:?}",
        node.id(),
        *node.state().borrow()
    );
}

async fn leader_of(nodes: &[Option<PeerNode>]) -> usize {
    for _ in 0..1_000 {
        let leaders: Vec<usize> = (0..nodes.len())
            .filter(|&i| {
                nodes[i]
                    .as_ref()
                    .is_some_and(|n| n.state().borrow().established.is_some())
            })
            .collect();
        if let [l] = leaders[..] {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no single leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_fail_over_and_catch_up_over_tcp() {
    // Reserve three loopback ports.
    let mut addrs = BTreeMap::new();
    for id in 1..=3 {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        addrs.insert(id, l.local_addr().expect("addr"));
    }
    let disks: Vec<_> = (0..3)
        .map(|_| Arc::new(Mutex::new(DurableState::default())))
        .collect();
    let launched = std::time::Instant::now();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(Some(
            start(id, &addrs, disks[id as usize - 1].clone()).await,
        ));
    }
    let l = leader_of(&nodes).await;
    let leader = nodes[l].as_ref().expect("up");
    assert!(leader.propose(1, txn(0)).await.is_some(), "write 0");
    until(leader, "first write applied", |s| s.applied.len() == 1).await;
    eprintln!(
        "launch to the first committed write: {:?}",
        launched.elapsed()
    );
    for n in 1..20 {
        assert!(leader.propose(1, txn(n)).await.is_some(), "write {n}");
    }
    for node in nodes.iter().flatten() {
        until(node, "applied 20", |s| s.applied.len() == 20).await;
    }

    // Kill the leader: the other two elect a new one, which keeps every committed txn.
    let killed = std::time::Instant::now();
    let old_disk = nodes[l].take().expect("up").kill();
    let l2 = leader_of(&nodes).await;
    assert_ne!(l2, l);
    let new_leader = nodes[l2].as_ref().expect("up");
    assert!(new_leader.propose(1, txn(20)).await.is_some(), "write 20");
    until(new_leader, "write 20 applied", |s| s.applied.len() == 21).await;
    eprintln!(
        "leader kill to the next committed write: {:?}",
        killed.elapsed()
    );
    for n in 21..30 {
        assert!(new_leader.propose(1, txn(n)).await.is_some(), "write {n}");
    }
    for node in nodes.iter().flatten() {
        until(node, "applied 30", |s| s.applied.len() == 30).await;
    }

    // The old leader restarts from its disk and catches up.
    let id = l as ServerId + 1;
    nodes[l] = Some(start(id, &addrs, old_disk).await);
    let back = nodes[l].as_ref().expect("up");
    until(back, "caught up", |s| s.applied.len() == 30).await;
    let reference = nodes[l2]
        .as_ref()
        .expect("up")
        .state()
        .borrow()
        .applied
        .clone();
    assert_eq!(back.state().borrow().applied, reference);
    for d in &disks {
        let d = d.lock().expect("disk");
        assert_eq!(d.log, reference, "every disk holds the history");
    }
}
