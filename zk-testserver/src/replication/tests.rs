//! Scripted tests of the replication core: outputs asserted as values.

use std::collections::VecDeque;

use super::*;

fn create(n: u64) -> Txn {
    Txn::Delete {
        path: format!("/{n}"),
    }
}

/// Picks messages to lose: (from, to, message).
type LoseFn = Box<dyn FnMut(ServerId, ServerId, &Message) -> bool>;

/// Members connected by an instant, lossless network; persist ops complete only when asked.
struct Cluster {
    replicas: Vec<Replica>,
    disks: Vec<DurableState>,
    queued: Vec<VecDeque<(u64, PersistOp)>>,
    inbox: VecDeque<(ServerId, ServerId, Message)>,
    applied: Vec<Vec<LoggedTxn>>,
    /// The state machine (the applied list) at each snapshot taken, by zxid.
    states: std::collections::BTreeMap<i64, Vec<LoggedTxn>>,
    sent: Vec<(ServerId, ServerId, Message)>,
    /// Forwarded writes that reached a leader: (leader index, from, session, payload).
    requests: Vec<(usize, ServerId, i64, bytes::Bytes)>,
    /// Finished syncs: (member index, id, ok).
    synced: Vec<(usize, u64, bool)>,
    /// Members (indexes) cut off: their messages are dropped, their disks and timers frozen.
    down: std::collections::BTreeSet<usize>,
    /// Messages this returns true for are lost.
    lose: Option<LoseFn>,
    now: i64,
}

impl Cluster {
    fn new(n: u64) -> Cluster {
        let replicas = (1..=n)
            .map(|id| Replica::new(ReplicaConfig::fast(id, 1..=n), DurableState::default(), 0))
            .collect();
        let n = n as usize;
        let mut c = Cluster {
            replicas,
            disks: vec![DurableState::default(); n],
            queued: vec![VecDeque::new(); n],
            inbox: VecDeque::new(),
            applied: vec![Vec::new(); n],
            states: Default::default(),
            sent: Vec::new(),
            down: Default::default(),
            requests: Vec::new(),
            synced: Vec::new(),
            lose: None,
            now: 0,
        };
        for i in 0..n {
            c.collect(i);
        }
        c
    }

    fn collect(&mut self, i: usize) {
        let from = self.replicas[i].id();
        for out in self.replicas[i].take_outputs() {
            match out {
                Output::Send { to, msg } => {
                    self.sent.push((from, to, msg.clone()));
                    self.inbox.push_back((from, to, msg));
                }
                Output::Persist { seq, op } => self.queued[i].push_back((seq, op)),
                Output::Apply(t) => self.applied[i].push(t),
                Output::TakeSnapshot { zxid } => {
                    assert_eq!(self.applied[i].last().map_or(0, |t| t.zxid), zxid);
                    self.states.insert(zxid, self.applied[i].clone());
                    let data = crate::storage::encode_snapshot_file(
                        zxid,
                        &crate::tree::DataTree::new(),
                        &[],
                    );
                    self.replicas[i].snapshot_taken(zxid, data);
                    self.collect(i);
                }
                Output::Restore(s) => self.applied[i] = self.states[&s.zxid].clone(),
                Output::Established { .. } | Output::Role(_) | Output::Reconfigured(_) => {}
                Output::Request {
                    from,
                    session_id,
                    payload,
                } => self.requests.push((i, from, session_id, payload)),
                Output::Synced { id, ok } => self.synced.push((i, id, ok)),
            }
        }
    }

    /// Completes member `i`'s queued persist ops.
    fn flush(&mut self, i: usize) {
        while let Some((seq, op)) = self.queued[i].pop_front() {
            self.disks[i].apply(&op);
            self.replicas[i].persisted(seq, self.now);
        }
        self.collect(i);
    }

    /// Delivers messages and flushes disks until nothing moves (up to `steps`).
    fn settle(&mut self, steps: usize) {
        for _ in 0..steps {
            let n = self.replicas.len();
            for i in 0..n {
                if !self.down.contains(&i) {
                    self.flush(i);
                }
            }
            let Some((from, to, msg)) = self.inbox.pop_front() else {
                // Let timers (finalize wait, pings) fire.
                self.now += 1;
                for i in 0..n {
                    if !self.down.contains(&i) && self.replicas[i].next_timeout() <= self.now {
                        self.replicas[i].tick(self.now);
                        self.collect(i);
                    }
                }
                continue;
            };
            let i = (to - 1) as usize;
            if self.down.contains(&i) || self.down.contains(&((from - 1) as usize)) {
                continue;
            }
            if self.lose.as_mut().is_some_and(|lose| lose(from, to, &msg)) {
                continue;
            }
            self.replicas[i].step(from, msg, self.now);
            self.collect(i);
        }
    }

    fn leader(&self) -> Option<usize> {
        self.replicas
            .iter()
            .position(|r| r.established_epoch().is_some())
    }
}

#[test]
fn three_members_elect_the_highest_id_and_replicate() {
    let mut c = Cluster::new(3);
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    assert_eq!(c.replicas[l].id(), 3, "ties go to the highest id");
    assert_eq!(c.replicas[l].established_epoch(), Some(1));
    let zxid = c.replicas[l]
        .propose(7, create(1), c.now)
        .expect("leader proposes");
    assert_eq!(zxid, make_zxid(1, 1));
    c.collect(l);
    c.settle(2_000);
    for i in 0..3 {
        assert_eq!(c.applied[i].len(), 1, "member {i} applied");
        assert_eq!(c.applied[i][0].zxid, zxid);
        assert_eq!(c.disks[i].log.len(), 1);
        assert_eq!(
            (c.disks[i].accepted_epoch, c.disks[i].current_epoch),
            (1, 1)
        );
    }
    assert!(
        c.replicas[0].propose(7, create(2), c.now).is_none(),
        "followers do not"
    );
}

#[test]
fn a_follower_acks_a_proposal_only_once_it_is_durable() {
    let mut c = Cluster::new(3);
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    let f = (l + 1) % 3;
    let zxid = c.replicas[l]
        .propose(1, create(1), c.now)
        .expect("proposes");
    c.collect(l);
    // Deliver the proposal to the follower without flushing its disk.
    let pos = c
        .inbox
        .iter()
        .position(|(_, to, m)| *to == f as u64 + 1 && matches!(m, Message::Proposal { .. }))
        .expect("proposal in flight");
    let (from, _, msg) = c.inbox.remove(pos).expect("present");
    c.sent.clear();
    c.replicas[f].step(from, msg, c.now);
    c.collect(f);
    assert!(
        !c.sent
            .iter()
            .any(|(_, _, m)| matches!(m, Message::Ack { .. })),
        "acked before durable: {:?}",
        c.sent
    );
    assert_eq!(c.queued[f].len(), 1);
    c.flush(f);
    assert!(c
        .sent
        .iter()
        .any(|(_, _, m)| *m == Message::Ack { epoch: 1, zxid }));
}

#[test]
fn a_follower_acks_newleader_only_after_the_sync_and_epoch_are_durable() {
    let mut c = Cluster::new(3);
    // Run until member 1 receives NEWLEADER, then stop flushing its disk.
    let mut got_newleader = false;
    for _ in 0..5_000 {
        for i in 0..3 {
            c.flush(i);
        }
        let Some((from, to, msg)) = c.inbox.pop_front() else {
            c.now += 1;
            for i in 0..3 {
                if c.replicas[i].next_timeout() <= c.now {
                    c.replicas[i].tick(c.now);
                    c.collect(i);
                }
            }
            continue;
        };
        let last = to == 1 && matches!(msg, Message::NewLeader { .. });
        let i = (to - 1) as usize;
        c.replicas[i].step(from, msg, c.now);
        c.collect(i);
        if last {
            got_newleader = true;
            break;
        }
    }
    assert!(got_newleader);
    let acked = |c: &Cluster| {
        c.sent
            .iter()
            .any(|(from, _, m)| *from == 1 && matches!(m, Message::AckNewLeader { .. }))
    };
    assert!(!acked(&c), "acked NEWLEADER before durable");
    assert!(c.queued[0]
        .iter()
        .any(|(_, op)| matches!(op, PersistOp::Epochs { current: 1, .. })));
    c.flush(0);
    assert!(acked(&c));
    assert_eq!(c.disks[0].current_epoch, 1);
}

#[test]
fn the_member_with_the_latest_history_wins() {
    let entry = LoggedTxn {
        zxid: make_zxid(1, 1),
        time: 0,
        session_id: 0,
        cxid: 0,
        txn: create(1),
    };
    let ahead = DurableState {
        accepted_epoch: 1,
        current_epoch: 1,
        snapshots: vec![],
        log: vec![entry.clone()],
        config: None,
    };
    let behind = DurableState {
        accepted_epoch: 1,
        current_epoch: 1,
        snapshots: vec![],
        log: vec![],
        config: None,
    };
    let mut c = Cluster::new(3);
    for (i, d) in [ahead, behind.clone(), behind].into_iter().enumerate() {
        let id = i as u64 + 1;
        c.replicas[i] = Replica::new(ReplicaConfig::fast(id, 1..=3), d.clone(), 0);
        c.disks[i] = d;
        c.collect(i);
    }
    c.inbox.clear();
    c.settle(3_000);
    let l = c.leader().expect("a leader");
    assert_eq!(l, 0, "member 1 holds 0x100000001");
    assert_eq!(c.replicas[l].established_epoch(), Some(2));
    for i in 0..3 {
        assert_eq!(c.applied[i], vec![entry.clone()], "member {i}");
    }
}

#[test]
fn a_follower_with_an_uncommitted_tail_is_truncated() {
    let mk = |zxid| LoggedTxn {
        zxid,
        time: 0,
        session_id: 0,
        cxid: 0,
        txn: create(zxid as u64),
    };
    let common = mk(make_zxid(1, 1));
    // Member 3 logged 1:2 alone; members 1 and 2 moved on to epoch 2.
    let tail = DurableState {
        accepted_epoch: 1,
        current_epoch: 1,
        snapshots: vec![],
        log: vec![common.clone(), mk(make_zxid(1, 2))],
        config: None,
    };
    let moved = DurableState {
        accepted_epoch: 2,
        current_epoch: 2,
        snapshots: vec![],
        log: vec![common.clone(), mk(make_zxid(2, 1))],
        config: None,
    };
    let mut c = Cluster::new(3);
    for (i, d) in [moved.clone(), moved, tail].into_iter().enumerate() {
        let id = i as u64 + 1;
        c.replicas[i] = Replica::new(ReplicaConfig::fast(id, 1..=3), d.clone(), 0);
        c.disks[i] = d;
        c.collect(i);
    }
    c.inbox.clear();
    c.settle(3_000);
    let l = c.leader().expect("a leader");
    assert_eq!(l, 1, "member 2: current epoch 2, highest id");
    assert!(c.sent.iter().any(|(_, to, m)| *to == 3
        && matches!(
            m,
            Message::Sync {
                mode: SyncMode::Trunc { to },
                ..
            } if *to == make_zxid(1, 1)
        )));
    for i in 0..3 {
        assert_eq!(c.disks[i].log, c.disks[1].log, "member {i}");
        assert_eq!(c.applied[i].len(), 2);
    }
}

#[test]
fn an_observer_replicates_but_never_votes_or_counts() {
    // Voters 1 and 2, observer 3 (the highest id, which would win a vote).
    let mut c = Cluster::new(3);
    for i in 0..3 {
        let id = i as u64 + 1;
        let cfg = ReplicaConfig::fast(id, 1..=2).with_observers([3]);
        c.replicas[i] = Replica::new(cfg, DurableState::default(), 0);
        c.collect(i);
    }
    c.inbox.clear();
    c.settle(3_000);
    let l = c.leader().expect("a leader");
    assert_eq!(c.replicas[l].id(), 2, "the observer is no candidate");
    assert_eq!(c.replicas[2].state(), PeerState::Observing);
    assert_eq!(c.replicas[2].synced_leader(), Some(2));
    let zxid = c.replicas[l]
        .propose(1, create(1), c.now)
        .expect("proposes");
    c.collect(l);
    c.settle(1_000);
    assert_eq!(c.applied[2].last().map(|t| t.zxid), Some(zxid));
    // Without voter 1, leader and observer are no quorum: nothing commits.
    c.down.insert(0);
    let before = c.applied[1].len();
    let z = c.replicas[l]
        .propose(1, create(2), c.now)
        .expect("still leading");
    c.collect(l);
    c.settle(30);
    assert_eq!(
        c.applied[1].len(),
        before,
        "{z:#x} committed without a quorum"
    );
    assert!(
        c.disks[2].log.iter().any(|t| t.zxid == z),
        "the observer logged it"
    );
}

#[test]
fn the_leader_expires_sessions_whose_touches_stop_and_keeps_touched_ones() {
    let mut c = Cluster::new(3);
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    let f = (l + 1) % 3;
    for session_id in [0x10, 0x20] {
        let txn = Txn::CreateSession {
            session_id,
            timeout_ms: 100,
        };
        c.replicas[l]
            .propose(session_id, txn, c.now)
            .expect("leads");
        c.collect(l);
    }
    let eph = Txn::Create {
        path: "/e".into(),
        data: None,
        acl: zk_proto::Acl::open_unsafe(),
        ephemeral_owner: 0x20,
        parent_cversion: 0,
    };
    c.replicas[l].propose(0x20, eph, c.now).expect("leads");
    c.collect(l);
    c.settle(50);
    assert!(c.replicas[f].sessions().is_live(0x10));
    // Session 0x10's client talks to a follower only; 0x20's to nobody.
    let start = c.now;
    while c.now < start + 400 {
        c.replicas[f].touch(0x10, c.now);
        c.settle(5);
    }
    for i in 0..3 {
        assert!(c.replicas[i].sessions().is_live(0x10), "member {i}");
        assert!(c.replicas[i].sessions().get(0x20).is_none(), "member {i}");
        let closed = c.applied[i]
            .iter()
            .any(|t| t.txn == Txn::CloseSession { session_id: 0x20 } && t.session_id == 0);
        assert!(closed, "member {i} applied the expiry");
    }
}

#[test]
fn a_follower_forwards_writes_and_its_sync_waits_for_the_commit() {
    let mut c = Cluster::new(3);
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    let f = (l + 1) % 3;
    assert!(c.replicas[f].forward(9, bytes::Bytes::from_static(b"w"), c.now));
    c.collect(f);
    c.settle(20);
    let (at, from, session, payload) = c.requests.pop().expect("reached the leader");
    assert_eq!(
        (at, from, session, &payload[..]),
        (l, f as u64 + 1, 9, &b"w"[..])
    );
    // The leader's layer proposes it; the follower syncs right after.
    let zxid = c.replicas[l].propose(9, create(9), c.now).expect("leads");
    c.collect(l);
    assert!(c.replicas[f].sync(1, c.now));
    c.collect(f);
    c.settle(200);
    assert_eq!(c.synced, vec![(f, 1, true)]);
    assert_eq!(c.applied[f].last().map(|t| t.zxid), Some(zxid));
}

#[test]
fn a_leader_cut_off_from_its_quorum_never_answers_a_sync() {
    let mut c = Cluster::new(3);
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    let (a, b) = ((l + 1) % 3, (l + 2) % 3);
    // Both followers fall silent; the leader does not know yet (its sync limit has not
    // passed). Had they formed a newer leader, a sync answered now could miss its writes
    // (jepsen#399), so it must wait for a quorum to answer a later ping.
    c.down.insert(a);
    c.down.insert(b);
    assert!(c.replicas[l].sync(7, c.now));
    c.collect(l);
    c.settle(40);
    assert!(
        c.synced.is_empty(),
        "answered without a quorum: {:?}",
        c.synced
    );
    // Once the quorum answers a ping again, the sync completes.
    c.down.clear();
    c.settle(100);
    if c.replicas[l].established_epoch().is_some() {
        assert_eq!(c.synced, vec![(l, 7, true)]);
    } else {
        assert_eq!(
            c.synced,
            vec![(l, 7, false)],
            "failed when the leader stepped down"
        );
    }
}

#[test]
fn a_member_that_accepted_a_later_epoch_still_rejoins() {
    // Member 1 acknowledged epoch 5 from a leader that never established it.
    let mut c = Cluster::new(3);
    for i in 0..3 {
        let id = i as u64 + 1;
        let d = DurableState {
            accepted_epoch: if id == 1 { 5 } else { 1 },
            current_epoch: 1,
            snapshots: vec![],
            log: vec![],
            config: None,
        };
        c.replicas[i] = Replica::new(ReplicaConfig::fast(id, 1..=3), d.clone(), 0);
        c.disks[i] = d;
        c.collect(i);
    }
    c.inbox.clear();
    // Members 2 and 3 establish epoch 2 without it; then it comes back.
    c.down.insert(0);
    c.settle(2_000);
    let first = c.leader().expect("a leader");
    assert_eq!(c.replicas[first].established_epoch(), Some(2));
    c.down.clear();
    c.settle(20_000);
    let l = c.leader().expect("a leader");
    let epoch = c.replicas[l].established_epoch().expect("established");
    assert!(epoch > 5, "epoch {epoch}");
    for i in 0..3 {
        assert!(
            i == l || c.replicas[i].synced_leader() == Some(l as u64 + 1),
            "member {} is {:?}",
            i + 1,
            c.replicas[i].state()
        );
    }
}

/// Members 1..=n on made-up loopback ports, version 0.
fn quorum_of(n: u64) -> QuorumConfig {
    let lines: Vec<String> = (1..=n).map(|id| server_line(id, "participant")).collect();
    QuorumConfig::parse(&lines.join("\n")).expect("config")
}

/// Member `id`'s line on made-up loopback ports.
fn server_line(id: u64, role: &str) -> String {
    format!(
        "server.{id}=127.0.0.1:{}:{}:{role};{}",
        100 + id,
        200 + id,
        300 + id
    )
}

fn reconfig_txn(next: &QuorumConfig) -> Txn {
    Txn::SetData {
        path: crate::tree::CONFIG_NODE.into(),
        data: Some(next.to_string().into()),
        version: -1,
    }
}

fn reconfig_cluster(n: u64) -> Cluster {
    let mut c = Cluster::new(n);
    let q = quorum_of(n);
    for id in 1..=n {
        let cfg = ReplicaConfig::fast(id, 1..=n).with_quorum(q.clone());
        c.replicas[id as usize - 1] = Replica::new(cfg, DurableState::default(), 0);
    }
    c.inbox.clear();
    for i in 0..n as usize {
        c.collect(i);
    }
    c.settle(2_000);
    c
}

#[test]
fn a_reconfig_commits_with_both_quorums_and_is_persisted_everywhere() {
    let mut c = reconfig_cluster(3);
    let l = c.leader().expect("a leader");
    let version = make_zxid(1, 0);
    assert_eq!(
        c.replicas[l].quorum_config().map(|q| q.version),
        Some(version)
    );
    let zxid = c.replicas[l].next_zxid().expect("leads");
    let r = &c.replicas[l];
    assert_eq!(
        r.prepare_reconfig(None, Some("1"), None, 5, zxid),
        Err(zk_proto::ErrorCode::BadVersion)
    );
    // Adding a fourth voter: 3 of the 4 new voters are synced.
    let next = r
        .prepare_reconfig(
            Some("server.4=127.0.0.1:104:204;304"),
            None,
            None,
            version,
            zxid,
        )
        .expect("a new config");
    assert_eq!(next.voters(), [1, 2, 3, 4].into());
    assert_eq!(
        c.replicas[l].propose(0, reconfig_txn(&next), c.now),
        Some(zxid)
    );
    c.collect(l);
    c.settle(2_000);
    for i in 0..3 {
        assert_eq!(c.replicas[i].quorum_config(), Some(&next), "member {i}");
        assert_eq!(c.replicas[i].config().voters, [1, 2, 3, 4].into());
        assert_eq!(
            c.disks[i].config.as_deref(),
            Some(next.to_string().as_str())
        );
        // A restart starts from the persisted membership.
        let cfg = ReplicaConfig::fast(i as u64 + 1, 1..=3).with_quorum(quorum_of(3));
        let again = Replica::new(cfg, c.disks[i].clone(), c.now);
        assert_eq!(again.quorum_config(), Some(&next));
    }
}

#[test]
fn a_pending_reconfig_without_the_new_quorum_blocks_commits_and_further_reconfigs() {
    let mut c = reconfig_cluster(3);
    let l = c.leader().expect("a leader");
    let leader_id = l as u64 + 1;
    let others: Vec<String> = (1..=3)
        .filter(|&i| i != leader_id)
        .map(|i| i.to_string())
        .collect();
    let ghosts = "server.8=127.0.0.1:108:208;308,server.9=127.0.0.1:109:209;309";
    let zxid = c.replicas[l].next_zxid().expect("leads");
    // The new voters would be the leader and two servers nobody runs.
    let leaving = others.join(",");
    assert_eq!(
        c.replicas[l].prepare_reconfig(Some(ghosts), Some(&leaving), None, -1, zxid),
        Err(zk_proto::ErrorCode::NewConfigNoQuorum)
    );
    // Proposed anyway (as if they had been synced): the old voters ack, the new ones cannot.
    let version = c.replicas[l].quorum_config().expect("config").version;
    let next = c.replicas[l]
        .quorum_config()
        .expect("config")
        .apply_request(Some(ghosts), Some(&leaving), None, zxid)
        .expect("a config");
    c.replicas[l].propose(0, reconfig_txn(&next), c.now);
    c.collect(l);
    c.settle(2_000);
    let later = c.replicas[l]
        .propose(0, create(1), c.now)
        .expect("proposes");
    c.collect(l);
    c.settle(2_000);
    for i in 0..3 {
        assert!(c.applied[i].iter().all(|t| t.zxid < zxid), "member {i}");
        assert!(c.replicas[i].committed() < zxid);
    }
    assert!(later > zxid);
    let r = &c.replicas[l];
    assert_eq!(r.quorum_config().map(|q| q.version), Some(version));
    assert_eq!(r.last_seen_config().map(|q| q.version), Some(zxid));
    assert_eq!(
        r.prepare_reconfig(None, Some("1"), None, -1, later + 1),
        Err(zk_proto::ErrorCode::ReconfigInProgress)
    );
    // The leader fails: the old voters hold the reconfig, but a new leader cannot commit it
    // (nor anything after it) without a quorum of its new voters.
    c.down.insert(l);
    c.settle(5_000);
    for i in (0..3).filter(|&i| i != l) {
        assert_eq!(c.replicas[i].established_epoch(), None, "member {i}");
        assert!(c.replicas[i].committed() < zxid, "member {i}");
    }
}

#[test]
fn a_synced_observer_being_promoted_does_not_count_for_the_new_quorum() {
    // Voters 1..=3 and observer 4, all synced.
    let mut lines: Vec<String> = (1..=3).map(|id| server_line(id, "participant")).collect();
    lines.push(server_line(4, "observer"));
    let q = QuorumConfig::parse(&lines.join("\n")).expect("config");
    let mut c = Cluster::new(4);
    for id in 1..=4 {
        let cfg = ReplicaConfig::fast(id, 1..=3)
            .with_observers([4])
            .with_quorum(q.clone());
        c.replicas[id as usize - 1] = Replica::new(cfg, DurableState::default(), 0);
    }
    c.inbox.clear();
    for i in 0..4 {
        c.collect(i);
    }
    c.settle(2_000);
    let l = c.leader().expect("a leader");
    let leader_id = l as u64 + 1;
    let followers: Vec<String> = (1..=3)
        .filter(|&i| i != leader_id)
        .map(|i| i.to_string())
        .collect();
    let zxid = c.replicas[l].next_zxid().expect("leads");
    let promote = server_line(4, "participant");
    // New voters: the leader and 4. Observer 4 is synced but is no follower yet.
    assert_eq!(
        c.replicas[l].prepare_reconfig(Some(&promote), Some(&followers.join(",")), None, -1, zxid),
        Err(zk_proto::ErrorCode::NewConfigNoQuorum)
    );
    // New voters 1..=4: the leader and its two followers are 3 of 4.
    let next = c.replicas[l]
        .prepare_reconfig(Some(&promote), None, None, -1, zxid)
        .expect("a quorum of followers");
    assert_eq!(next.voters(), [1, 2, 3, 4].into());
}

#[test]
fn a_lost_followerinfo_is_sent_again_within_100_ms_not_a_tick() {
    let mut c = Cluster::new(3);
    for id in 1..=3 {
        let mut cfg = ReplicaConfig::fast(id, 1..=3);
        cfg.tick_ms = 2_000;
        cfg.init_limit_ms = 20_000;
        cfg.sync_limit_ms = 10_000;
        c.replicas[id as usize - 1] = Replica::new(cfg, DurableState::default(), 0);
    }
    c.inbox.clear();
    for i in 0..3 {
        c.collect(i);
    }
    // Each follower's first FOLLOWERINFO is lost (as when it reaches the leader before the
    // leader has decided its election).
    let mut lost = std::collections::BTreeSet::new();
    c.lose = Some(Box::new(move |from, _, msg| {
        matches!(msg, Message::FollowerInfo { .. }) && lost.insert(from)
    }));
    let all_synced = |c: &Cluster| {
        c.leader().is_some()
            && (0..3).all(|i| {
                c.replicas[i].established_epoch().is_some()
                    || c.replicas[i].synced_leader().is_some()
            })
    };
    while !all_synced(&c) {
        assert!(c.now < 1_000, "not synced after {} ms of a 2 s tick", c.now);
        c.settle(1);
    }
    assert!(c.now >= 100, "the resend waited {} ms", c.now);
}

#[path = "snapshot_tests.rs"]
mod snapshot_tests;
