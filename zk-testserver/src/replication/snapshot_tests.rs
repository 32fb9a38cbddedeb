//! Snapshots, log trimming, SNAP syncs of a snapshot and restarts from one.

use super::*;

const SNAP_COUNT: u64 = 10;
const RETAIN: usize = 2;

fn snapshotting(id: ServerId, n: u64) -> ReplicaConfig {
    let mut cfg = ReplicaConfig::fast(id, 1..=n);
    cfg.snap_count = SNAP_COUNT;
    cfg.snap_retain = RETAIN;
    cfg
}

/// A cluster of `n` whose members snapshot every 6..=10 applied txns.
fn cluster(n: u64) -> Cluster {
    let mut c = Cluster::new(n);
    for i in 0..n as usize {
        let id = i as u64 + 1;
        c.replicas[i] = Replica::new(snapshotting(id, n), DurableState::default(), 0);
        c.collect(i);
    }
    c.inbox.clear();
    c.settle(2_000);
    c
}

fn write(c: &mut Cluster, l: usize, k: u64) {
    c.replicas[l]
        .propose(7, create(k), c.now)
        .expect("proposes");
    c.collect(l);
    c.settle(200);
}

#[test]
fn snapshots_bound_the_log_in_memory_and_on_disk() {
    let mut c = cluster(3);
    let l = c.leader().expect("a leader");
    for k in 0..200 {
        write(&mut c, l, k);
    }
    for i in 0..3 {
        let r = &c.replicas[i];
        assert_eq!(c.applied[i].len(), 200, "member {i}");
        let s = r.snapshot_zxid();
        assert!(s > make_zxid(1, 180), "member {i}: newest at {s:#x}");
        // Everything is applied: the log keeps RETAIN to RETAIN + 16 txns.
        assert!(r.log_len() < RETAIN + 16, "member {i}: {}", r.log_len());
        assert!(r.log_base() > make_zxid(1, 180));
        // The disk: the two newest snapshots and the log after the older one.
        let d = &c.disks[i];
        assert_eq!(d.snapshots.len(), 2, "member {i}");
        assert_eq!(d.snapshots[1].zxid, s);
        assert!(d.log.first().unwrap().zxid > d.snapshots[0].zxid);
        assert!(
            d.log.len() <= 2 * SNAP_COUNT as usize,
            "member {i}: {}",
            d.log.len()
        );
        assert_eq!(d.last_zxid(), make_zxid(1, 200));
    }
}

#[test]
fn a_follower_behind_the_leaders_log_gets_its_snapshot_then_restarts_from_its_own() {
    let mut c = cluster(3);
    let l = c.leader().expect("a leader");
    let f = (l + 1) % 3;
    write(&mut c, l, 0);
    c.down.insert(f);
    for k in 1..100 {
        write(&mut c, l, k);
    }
    assert!(
        c.replicas[l].log_base() > make_zxid(1, 1),
        "the follower's last zxid is gone"
    );
    // The follower reconnects (a new election round lets it find the leader).
    c.down.clear();
    let leader_id = c.replicas[l].id();
    c.replicas[f].disconnected(leader_id, c.now);
    c.collect(f);
    c.settle(5_000);
    let snap = c.sent.iter().find_map(|(from, to, m)| match m {
        Message::Sync {
            mode: SyncMode::Snap,
            snapshot: Some(s),
            entries,
            ..
        } if *to == f as u64 + 1 && *from == l as u64 + 1 => Some((s.clone(), entries.len())),
        _ => None,
    });
    let (sent, tail) = snap.expect("a SNAP with a snapshot of the leader's state");
    assert_eq!(
        sent.zxid,
        make_zxid(1, 100),
        "taken for it, of everything applied"
    );
    assert_eq!(tail, 0, "only the log after the snapshot");
    assert_eq!(
        c.applied[f], c.applied[l],
        "the follower's state is the leader's"
    );
    assert_eq!(c.disks[f].snapshots[0].zxid, sent.zxid, "installed durably");
    assert_eq!(c.replicas[f].stats().sync_errors, 0);
    // It keeps up, snapshots on its own, and a restart resumes from its newest snapshot.
    for k in 100..130 {
        write(&mut c, l, k);
    }
    let own = c.replicas[f].snapshot_zxid();
    assert!(own > sent.zxid);
    let id = f as u64 + 1;
    c.replicas[f] = Replica::new(snapshotting(id, 3), c.disks[f].clone(), c.now);
    c.applied[f].clear();
    c.collect(f);
    assert_eq!(
        c.replicas[f].committed(),
        own,
        "the snapshot is committed state"
    );
    assert_eq!(c.applied[f].last().map(|t| t.zxid), Some(own));
    c.settle(5_000);
    assert_eq!(c.applied[f], c.applied[l]);
}

fn txn(zxid: i64) -> LoggedTxn {
    LoggedTxn {
        zxid,
        time: 0,
        session_id: 0,
        cxid: 0,
        txn: create(zxid as u64),
    }
}

fn snapshot(zxid: i64, sessions: &[(i64, i32)]) -> Snapshot {
    let data = crate::storage::encode_snapshot_file(zxid, &crate::tree::DataTree::new(), sessions);
    Snapshot { zxid, data }
}

#[test]
fn a_restart_skips_a_damaged_newest_snapshot_and_replays_from_the_one_before() {
    let older = snapshot(make_zxid(1, 3), &[(0x11, 5000)]);
    let mut damaged = snapshot(make_zxid(1, 6), &[]);
    let mut bytes = damaged.data.to_vec();
    bytes[12] ^= 0xff;
    damaged.data = bytes.into();
    let durable = DurableState {
        accepted_epoch: 1,
        current_epoch: 1,
        snapshots: vec![older.clone(), damaged],
        log: (4..=8).map(|c| txn(make_zxid(1, c))).collect(),
        config: None,
    };
    let mut r = Replica::new(snapshotting(1, 3), durable, 0);
    let out = r.take_outputs();
    assert!(out.contains(&Output::Restore(older.clone())), "{out:?}");
    assert_eq!(r.snapshot_zxid(), older.zxid);
    assert_eq!(
        (r.committed(), r.last_zxid()),
        (older.zxid, make_zxid(1, 8))
    );
    assert!(
        r.sessions().is_live(0x11),
        "sessions come from the snapshot"
    );
    r.check_invariants().unwrap();
}

#[test]
fn a_restart_drops_logged_txns_that_do_not_follow_the_snapshot() {
    // A SNAP install cut short: the leader's snapshot is durable, the old log still there.
    let snap = snapshot(make_zxid(2, 5), &[]);
    let durable = DurableState {
        accepted_epoch: 3,
        current_epoch: 2,
        snapshots: vec![snap.clone()],
        log: vec![
            txn(make_zxid(1, 1)),
            txn(make_zxid(1, 2)),
            txn(make_zxid(2, 7)),
        ],
        config: None,
    };
    let mut r = Replica::new(snapshotting(1, 3), durable, 0);
    let out = r.take_outputs();
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Persist {
            op: PersistOp::Truncate { after },
            ..
        } if *after == snap.zxid
    )));
    assert_eq!((r.last_zxid(), r.log_len()), (snap.zxid, 0));
}

#[test]
fn a_snap_that_disagrees_with_applied_txns_is_refused() {
    let mut r = Replica::new(snapshotting(1, 3), DurableState::default(), 0);
    r.log
        .reset(0, (1..=4).map(|c| txn(make_zxid(1, c))).collect());
    r.committed = make_zxid(1, 4);
    r.applied = make_zxid(1, 4);
    let s = snapshot(make_zxid(1, 2), &[]);
    let mut theirs: Vec<LoggedTxn> = (3..=4).map(|c| txn(make_zxid(1, c))).collect();
    theirs[1].session_id = 99;
    assert_eq!(
        r.install_snapshot(Some(s.clone()), None, theirs),
        Err("SNAP disagrees with applied txns")
    );
    let same: Vec<LoggedTxn> = (3..=5).map(|c| txn(make_zxid(1, c))).collect();
    r.install_snapshot(Some(s.clone()), None, same).unwrap();
    // Applied past the snapshot: no restore, nothing applied twice.
    assert!(!r
        .take_outputs()
        .iter()
        .any(|o| matches!(o, Output::Restore(_))));
    assert_eq!(r.applied, make_zxid(1, 4));
    let mut torn = s.clone();
    torn.data = torn.data.slice(..torn.data.len() - 1);
    assert_eq!(
        r.install_snapshot(Some(torn), None, vec![]),
        Err("SNAP's snapshot is damaged")
    );
    assert_eq!(
        r.install_snapshot(Some(s), None, vec![txn(make_zxid(1, 4))]),
        Err("SNAP log has a gap")
    );
}

#[test]
fn the_log_knows_its_base_after_a_trim() {
    let mut log = log::Log::new(0, (1..=30).map(|c| txn(make_zxid(1, c))).collect());
    log.trim_applied(make_zxid(1, 17), 2);
    assert_eq!(
        log.len(),
        30,
        "trims only once 2 + 16 applied txns piled up"
    );
    log.trim_applied(make_zxid(1, 20), 2);
    assert_eq!(log.len(), 12, "19 and 20 retained, 21..=30 after");
    assert_eq!(log.base(), make_zxid(1, 18));
    assert!(log.holds(make_zxid(1, 18)) && log.holds(make_zxid(1, 19)));
    assert!(!log.holds(make_zxid(1, 17)) && !log.holds(0));
    assert_eq!(log.after(make_zxid(1, 28)).len(), 2);
    assert_eq!(log.last_below(make_zxid(2, 1)), make_zxid(1, 30));
    assert_eq!(log.last_below(make_zxid(1, 18)), 0, "below what is held");
    assert_eq!(log.last_below(make_zxid(1, 19)), make_zxid(1, 18));
    log.reset(make_zxid(2, 3), Vec::new());
    assert_eq!(log.last_zxid(), make_zxid(2, 3));
    assert_eq!(log.last_below(make_zxid(3, 1)), make_zxid(2, 3));
}
