//! Seeded runs of the simulated ensemble.

use super::checker::Checker;
use super::{Sim, Summary};
use crate::replication::{DurableState, PersistOp};
use crate::txn::{LoggedTxn, Txn};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn run_seed(seed: u64) -> Summary {
    match Sim::new(seed).run() {
        Ok(summary) => summary,
        Err(e) => {
            // Runs are deterministic: replay the seed with the trace on.
            let mut sim = Sim::new(seed).traced();
            let again = sim.run();
            for line in sim.trace() {
                eprintln!("{line}");
            }
            assert_eq!(again.as_ref().err(), Some(&e), "seed {seed} did not replay");
            panic!(
                "simulation seed {seed} failed: {e}\nreplay: ZK_SIM_SEED={seed} cargo test -p \
                 zk-testserver --lib sim::tests::seeds -- --nocapture"
            );
        }
    }
}

/// `ZK_SIM_SEEDS` seeds (default 40) starting at `ZK_SIM_FIRST_SEED` (default 0), or the one
/// seed `ZK_SIM_SEED`.
#[test]
fn seeds() {
    let (first, count) = match env_u64("ZK_SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("ZK_SIM_FIRST_SEED").unwrap_or(0),
            env_u64("ZK_SIM_SEEDS").unwrap_or(40),
        ),
    };
    let mut total = Summary::default();
    for seed in first..first + count {
        let s = run_seed(seed);
        total.steps += s.steps;
        total.committed += s.committed;
        total.acked += s.acked;
        total.epochs += s.epochs;
        total.crashes += s.crashes;
        total.partitions += s.partitions;
        total.pauses += s.pauses;
        total.sessions += s.sessions;
        total.expired += s.expired;
        total.ephemerals += s.ephemerals;
        total.syncs += s.syncs;
        total.reconfigs += s.reconfigs;
        total.snapshots += s.snapshots;
        total.restores += s.restores;
    }
    eprintln!(
        "{count} seeds from {first}: {} steps, {} txns committed, {} writes acknowledged, {} \
         epochs, {} crashes, {} partitions, {} pauses, {} sessions ({} expired by a leader), {} ephemerals, {} \
         syncs, {} reconfigs, {} snapshots, {} restored",
        total.steps,
        total.committed,
        total.acked,
        total.epochs,
        total.crashes,
        total.partitions,
        total.pauses,
        total.sessions,
        total.expired,
        total.ephemerals,
        total.syncs,
        total.reconfigs,
        total.snapshots,
        total.restores
    );
    assert!(
        count < 20 || total.restores > 0,
        "no snapshot was ever restored"
    );
    assert!(count < 20 || total.expired > 0, "no session ever expired");
    assert!(
        count < 20 || total.reconfigs > 0,
        "no reconfig was ever proposed"
    );
    assert!(
        count == 0 || total.acked > 0,
        "no write was ever acknowledged"
    );
}

#[test]
fn a_seed_replays_exactly() {
    let a = Sim::new(17).run().expect("seed 17");
    let mut sim = Sim::new(17).traced();
    let b = sim.run().expect("seed 17 again");
    assert!(!sim.trace().is_empty());
    assert_eq!(a, b);
    assert!(a.crashes + a.partitions > 0, "{a:?}");
}

fn txn(zxid: i64) -> LoggedTxn {
    LoggedTxn {
        zxid,
        time: 0,
        session_id: 0,
        cxid: 0,
        txn: Txn::Delete {
            path: format!("/{zxid}"),
        },
    }
}

#[test]
fn checker_rejects_diverging_histories() {
    let mut c = Checker::default();
    c.on_apply(1, 0, &txn(0x1_0000_0001)).unwrap();
    c.on_apply(2, 0, &txn(0x1_0000_0001)).unwrap();
    assert!(
        c.on_apply(2, 1, &txn(0x1_0000_0001)).is_err(),
        "zxid repeated"
    );
    c.on_apply(1, 1, &txn(0x1_0000_0002)).unwrap();
    assert!(
        c.on_apply(3, 1, &txn(0x2_0000_0001)).is_err(),
        "another txn at #1"
    );
    assert!(c.on_apply(3, 3, &txn(0x2_0000_0001)).is_err(), "skipped #2");
    c.on_established(1, 1).unwrap();
    c.on_established(1, 1).unwrap();
    assert!(c.on_established(1, 2).is_err(), "two leaders in epoch 1");
}

#[test]
fn checker_rejects_lost_or_undurable_writes() {
    let mut c = Checker::default();
    let t1 = txn(0x1_0000_0001);
    c.on_apply(1, 0, &t1).unwrap();
    let holds = DurableState {
        log: vec![t1.clone()],
        ..DurableState::default()
    };
    let empty = DurableState::default();
    assert!(c.on_ack(t1.zxid, &[&holds, &empty, &empty], 3).is_err());
    c.on_ack(t1.zxid, &[&holds, &holds, &empty], 3).unwrap();
    assert!(c.on_ack(0x1_0000_0009, &[&holds, &holds], 3).is_err());
    // A disk may not drop a committed txn, log a gap or move its epochs back.
    assert!(c
        .on_persist(1, &holds, &PersistOp::Truncate { after: 0 })
        .is_err());
    assert!(c
        .on_persist(
            1,
            &holds,
            &PersistOp::Install {
                snapshot: crate::replication::Snapshot {
                    zxid: 0,
                    data: bytes::Bytes::new(),
                },
                entries: vec![]
            }
        )
        .is_err());
    let gap = PersistOp::Append(vec![txn(0x1_0000_0003)]);
    assert!(c.on_persist(1, &holds, &gap).is_err());
    let next_epoch = PersistOp::Append(vec![txn(0x2_0000_0001)]);
    c.on_persist(1, &holds, &next_epoch).unwrap();
    let epochs = DurableState {
        accepted_epoch: 3,
        current_epoch: 2,
        ..DurableState::default()
    };
    let back = PersistOp::Epochs {
        accepted: 2,
        current: 2,
    };
    assert!(c.on_persist(1, &epochs, &back).is_err());
}

/// `ZK_MEMBER_SIM_SEEDS` seeds (default 20) from `ZK_MEMBER_SIM_FIRST_SEED` (default 0), or
/// the one seed `ZK_MEMBER_SIM_SEED`.
#[test]
fn member_seeds() {
    let (first, count) = match env_u64("ZK_MEMBER_SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("ZK_MEMBER_SIM_FIRST_SEED").unwrap_or(0),
            env_u64("ZK_MEMBER_SIM_SEEDS").unwrap_or(20),
        ),
    };
    let mut total = super::members::MemberSummary::default();
    for seed in first..first + count {
        match super::members::MemberSim::new(seed).run() {
            Ok(s) => {
                total.acked_writes += s.acked_writes;
                total.reads += s.reads;
                total.syncs += s.syncs;
                total.sessions += s.sessions;
                total.crashes += s.crashes;
                total.partitions += s.partitions;
                total.snapshots += s.snapshots;
                total.installs += s.installs;
            }
            Err(e) => panic!(
                "member simulation seed {seed} failed: {e}\nreplay: ZK_MEMBER_SIM_SEED={seed} \
                 cargo test -p zk-testserver --lib sim::tests::member_seeds -- --nocapture"
            ),
        }
    }
    eprintln!("{count} member seeds from {first}: {total:?}");
    assert!(
        count == 0 || total.acked_writes > 0,
        "no write was acknowledged"
    );
    assert!(count == 0 || total.reads > 0, "no read of an own write");
    assert!(
        count < 10 || total.installs > 0,
        "no snapshot was installed"
    );
}
