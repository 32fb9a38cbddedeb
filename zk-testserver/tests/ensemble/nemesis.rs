//! Linearizability under faults (issue #9, "Proof"): concurrent zk-client clients run reads
//! (`sync` then `getData`), versioned `setData` (compare-and-set) and plain `setData` on a few
//! registers of a 3-member [`Ensemble`] while a seeded nemesis kills the leader, isolates,
//! partitions (also one way: a member the others no longer hear, though it hears them) and
//! pauses members, restarts them, and restarts one with an empty disk (only one at a time:
//! it must re-sync from the others before any other fault; real ZooKeeper loses data when a
//! quorum restarts empty). Every invocation and completion is
//! recorded on one monotonic clock; [`Checker`] must find the history linearizable, and a
//! durability check proves every acknowledged write survived on every member. A corrupted copy
//! of each recorded history must be rejected by the checker.
//!
//! `ZK_NEMESIS_ROUNDS` rounds (default 2) with seeds `ZK_NEMESIS_SEED`, +1, ... (default 1).
//! A seed fixes the fault schedule and the clients' choices, not the timing. A failing round
//! prints its seed; replay it with `ZK_NEMESIS_SEED=<seed> ZK_NEMESIS_ROUNDS=1`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zk_client::{Client, Error};
use zk_testserver::linearizability::{Call, CheckResult, Checker, Operation, Outcome, Time};
use zk_testserver::Ensemble;

use crate::support::{client_at, client_of, create_retrying, init_tracing, within, TempDir};

/// Registers per round.
const KEYS: usize = 3;
/// Concurrent clients per round.
const CLIENTS: usize = 4;
/// Faults the nemesis injects per round.
const FAULTS: usize = 4;
/// Bound on one client call (a `sync` plus a `getData` counts as one).
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// xorshift64*: small, seedable, good enough to pick faults and operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// The round's shared monotonic clock: nanoseconds since the round started.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(&self) -> Time {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

fn key(k: usize) -> String {
    format!("/register-{k}")
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Runs one client's random operations until `stop`, appending them to `history`.
async fn client_loop(
    id: usize,
    client: Client,
    seed: u64,
    clock: Clock,
    stop: Arc<AtomicBool>,
    history: Arc<Mutex<Vec<Operation>>>,
) {
    let mut rng = Rng::new(seed ^ (id as u64 + 1).wrapping_mul(0x1000_0000_01b3));
    // The version this client last saw per key: its compare-and-sets expect it.
    let mut seen = [0i32; KEYS];
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let k = rng.below(KEYS as u64) as usize;
        let path = key(k);
        let invoked = clock.now();
        let op = match rng.below(3) {
            0 => {
                let read = tokio::time::timeout(CALL_TIMEOUT, async {
                    client.sync(&path).await?;
                    client.get_data(&path).await
                })
                .await;
                match read {
                    Ok(Ok((data, stat))) => {
                        seen[k] = stat.version;
                        Some((
                            Call::Read,
                            Outcome::read(&data, stat.version),
                            Some(clock.now()),
                        ))
                    }
                    // A read without an answer changes nothing: leave it out.
                    _ => None,
                }
            }
            choice => {
                n += 1;
                let value = format!("c{id}-{n}").into_bytes();
                let (call, version) = if choice == 1 {
                    let expected = seen[k];
                    (
                        Call::CompareAndSet {
                            expected_version: expected,
                            value: value.clone(),
                        },
                        Some(expected),
                    )
                } else {
                    (Call::Write(value.clone()), None)
                };
                let set =
                    tokio::time::timeout(CALL_TIMEOUT, client.set_data(&path, &value, version))
                        .await;
                let (outcome, completed) = match set {
                    Ok(Ok(stat)) => {
                        seen[k] = stat.version;
                        (Outcome::written(stat.version), Some(clock.now()))
                    }
                    Ok(Err(Error::BadVersion)) => (Outcome::BadVersion, Some(clock.now())),
                    // Connection loss, session expiry, timeout: it may have applied.
                    _ => (Outcome::Unknown, None),
                };
                Some((call, outcome, completed))
            }
        };
        let failed = match op {
            Some((call, outcome, completed)) => {
                let failed = outcome == Outcome::Unknown;
                history
                    .lock()
                    .expect("history")
                    .push(Operation::new(path, call, outcome, invoked, completed));
                failed
            }
            None => true,
        };
        if failed {
            // Wait for the connection rather than piling up unanswered operations.
            let mut state = client.state();
            let _ = tokio::time::timeout(
                Duration::from_millis(300),
                state.wait_for(|s| s.is_connected()),
            )
            .await;
        }
        // Think time: spreads the operations over the faults.
        tokio::time::sleep(rng.millis(1, 12)).await;
    }
}

/// Injects `FAULTS` seeded faults, each undone before the next, then heals everything.
async fn nemesis(ensemble: &mut Ensemble, rng: &mut Rng) -> Vec<String> {
    let ids = ensemble.member_ids();
    let mut log = Vec::new();
    for _ in 0..FAULTS {
        let _ = ensemble.wait_for_leader(Duration::from_secs(5)).await;
        let leader = ensemble.leader().unwrap_or(ids[0]);
        let any = ids[rng.below(ids.len() as u64) as usize];
        let hold = rng.millis(100, 400);
        match rng.below(7) {
            0 => {
                log.push(format!("kill leader {leader} for {hold:?}"));
                ensemble.kill(leader);
                tokio::time::sleep(hold).await;
                ensemble.restart(leader).await.expect("restart");
            }
            1 => {
                log.push(format!("kill {any} for {hold:?}"));
                ensemble.kill(any);
                tokio::time::sleep(hold).await;
                ensemble.restart(any).await.expect("restart");
            }
            2 => {
                log.push(format!("isolate {any} for {hold:?}"));
                ensemble.isolate(any).await;
                tokio::time::sleep(hold).await;
                ensemble.heal().await;
            }
            3 => {
                // The leader alone on the minority side.
                log.push(format!("partition leader {leader} away for {hold:?}"));
                ensemble.partition(&[leader]).await;
                tokio::time::sleep(hold).await;
                ensemble.heal().await;
            }
            4 => {
                // Asymmetric: the others stop hearing `any` (the leader half the time), which
                // still hears them.
                let muted = if rng.below(2) == 0 { leader } else { any };
                log.push(format!("nobody hears {muted} for {hold:?}"));
                for &other in ids.iter().filter(|&&o| o != muted) {
                    ensemble.cut_one_way(muted, other).await;
                }
                tokio::time::sleep(hold).await;
                ensemble.heal().await;
            }
            5 => {
                // One member at a time, and only once the others serve: it must re-sync
                // before anything else happens.
                log.push(format!("restart {any} with an empty disk"));
                ensemble
                    .wait_ready(Duration::from_secs(10))
                    .await
                    .expect("every member serves before emptying one");
                ensemble.restart_empty(any).await.expect("restart empty");
                ensemble
                    .wait_ready(Duration::from_secs(10))
                    .await
                    .expect("the emptied member re-syncs");
            }
            _ => {
                log.push(format!("pause {any} for {hold:?}"));
                ensemble.pause(any).await;
                tokio::time::sleep(hold).await;
                ensemble.resume(any).await;
            }
        }
        // Quiet time between faults.
        tokio::time::sleep(rng.millis(50, 250)).await;
    }
    ensemble.heal().await;
    for id in ids {
        ensemble.resume(id).await;
        ensemble.restart(id).await.expect("restart");
    }
    log
}

/// What a round recorded.
struct Round {
    history: Vec<Operation>,
    /// Number of operations before the final reads were appended.
    during_faults: usize,
    faults: Vec<String>,
}

/// One round: an ensemble, registers, clients and the nemesis; then the final reads on every
/// member (appended to the history) and the durability check.
async fn round(seed: u64) -> Round {
    let mut rng = Rng::new(seed);
    let on_disk = rng.below(3) == 0;
    let mut builder = Ensemble::builder().members(3).fast_timeouts();
    // A round's DirDisks, removed on drop.
    let dir = on_disk.then(|| TempDir::new(&format!("nemesis-{seed}")));
    if let Some(dir) = &dir {
        builder = builder.data_dir(&dir.0);
    }
    let mut ensemble = builder.start().await.expect("the ensemble starts");
    let ids = ensemble.member_ids();

    let setup = client_of(&ensemble.connect_string()).await;
    for k in 0..KEYS {
        create_retrying(&setup, &key(k), b"").await;
    }
    drop(setup);

    // Half the clients talk to one member only, the rest to the whole ensemble.
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let connect = if rng.below(2) == 0 {
            ensemble
                .client_addr(ids[rng.below(ids.len() as u64) as usize])
                .to_string()
        } else {
            ensemble.connect_string()
        };
        clients.push(client_of(&connect).await);
    }

    let clock = Clock(Instant::now());
    let stop = Arc::new(AtomicBool::new(false));
    let history = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(id, client)| {
            tokio::spawn(client_loop(
                id,
                client,
                seed,
                clock,
                stop.clone(),
                history.clone(),
            ))
        })
        .collect();
    let faults = nemesis(&mut ensemble, &mut rng).await;
    ensemble
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("the healed ensemble serves");
    // A little fault-free load after healing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        within(10, "a client loop to end", t)
            .await
            .expect("client loop");
    }
    let mut history = std::mem::take(&mut *history.lock().expect("history"));
    let during_faults = history.len();

    // Durability: every member, after a sync, has the same value and version per key, and
    // the version counts at least every acknowledged write.
    let mut finals: BTreeMap<String, (Vec<u8>, i32)> = BTreeMap::new();
    for &id in &ids {
        let c = client_at(ensemble.client_addr(id)).await;
        for k in 0..KEYS {
            let path = key(k);
            // A member may still lose its leader for a moment after the heal (its client
            // then sees a connection loss): retry those, as an application would.
            let (invoked, data, stat) = within(10, "a final synced read", async {
                loop {
                    let invoked = clock.now();
                    let read = match c.sync(&path).await {
                        Ok(_) => c.get_data(&path).await,
                        Err(e) => Err(e),
                    };
                    match read {
                        Ok((data, stat)) => break (invoked, data, stat),
                        Err(e) if e.is_retryable() => {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => panic!("final read of {path} on member {id}: {e}"),
                    }
                }
            })
            .await;
            history.push(Operation::new(
                path.clone(),
                Call::Read,
                Outcome::read(&data, stat.version),
                invoked,
                Some(clock.now()),
            ));
            let mine = (data.to_vec(), stat.version);
            let agreed = finals.entry(path.clone()).or_insert_with(|| mine.clone());
            assert_eq!(*agreed, mine, "member {id} disagrees on {path}");
        }
    }
    for (path, (value, version)) in &finals {
        let acknowledged = history[..during_faults]
            .iter()
            .filter(|op| &op.key == path && matches!(op.outcome, Outcome::Written { .. }))
            .count();
        assert!(
            *version as usize >= acknowledged,
            "{path}: final version {version} < {acknowledged} acknowledged writes"
        );
        let written = |op: &Operation| match &op.call {
            Call::Write(v) | Call::CompareAndSet { value: v, .. } => v == value,
            Call::Read => false,
        };
        assert!(
            value.is_empty()
                || history[..during_faults]
                    .iter()
                    .any(|op| &op.key == path && written(op) && op.outcome != Outcome::BadVersion),
            "{path}: final value {:?} was never written",
            String::from_utf8_lossy(value)
        );
    }
    Round {
        history,
        during_faults,
        faults,
    }
}

/// Whether an inconclusive check fails the test (in CI, where the sizes are small).
fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn check(seed: u64, r: &Round) {
    let acknowledged = r.history.iter().filter(|op| op.completed.is_some()).count();
    let started = Instant::now();
    let verdict = Checker::new().check(&r.history);
    println!(
        "nemesis seed {seed}: {} operations ({acknowledged} answered, {} during faults), \
         faults {:?}, checked in {:?}: {verdict:?}",
        r.history.len(),
        r.during_faults,
        r.faults,
        started.elapsed()
    );
    match verdict {
        CheckResult::Linearizable => {}
        CheckResult::Inconclusive { key } if !in_ci() => {
            println!("nemesis seed {seed}: inconclusive on {key} (not failing outside CI)");
        }
        other => panic!(
            "nemesis seed {seed}: {other:?}; replay: ZK_NEMESIS_SEED={seed} ZK_NEMESIS_ROUNDS=1"
        ),
    }
}

/// The recorded history corrupted two ways; the checker must reject both.
fn check_corrupted(seed: u64, r: &Round) {
    // 1. A final read (after every operation ended) that sees the initial, empty register
    //    although some write to it was acknowledged: a stale read.
    let stale = r.history[r.during_faults..].iter().position(|op| {
        r.history[..r.during_faults]
            .iter()
            .any(|w| w.key == op.key && matches!(w.outcome, Outcome::Written { .. }))
    });
    if let Some(i) = stale {
        let mut broken = r.history.clone();
        broken[r.during_faults + i].outcome = Outcome::read(b"", 0);
        assert!(
            matches!(
                Checker::new().check(&broken),
                CheckResult::NotLinearizable(_)
            ),
            "seed {seed}: a stale final read passed the checker"
        );
    }
    // 2. Drop the acknowledged write whose value a read returned: that read saw a value
    //    nobody wrote.
    let read_of_write = r.history[..r.during_faults].iter().find_map(|op| {
        let Outcome::Read { value, .. } = &op.outcome else {
            return None;
        };
        r.history[..r.during_faults].iter().position(|w| {
            w.key == op.key
                && matches!(w.outcome, Outcome::Written { .. })
                && matches!(&w.call, Call::Write(v) | Call::CompareAndSet { value: v, .. } if v == value)
        })
    });
    if let Some(w) = read_of_write {
        let mut broken = r.history.clone();
        broken.remove(w);
        assert!(
            matches!(
                Checker::new().check(&broken),
                CheckResult::NotLinearizable(_)
            ),
            "seed {seed}: a read of a dropped write passed the checker"
        );
    }
    assert!(
        stale.is_some() && read_of_write.is_some(),
        "seed {seed}: the round acknowledged no write a read saw; nothing to corrupt"
    );
}

/// Seeded rounds: every history linearizable, every acknowledged write on every member, and
/// each history's corrupted copies rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_rounds_are_linearizable_and_lose_no_acknowledged_write() {
    init_tracing();
    let first = env_u64("ZK_NEMESIS_SEED", 1);
    let rounds = env_u64("ZK_NEMESIS_ROUNDS", 2);
    for seed in first..first + rounds {
        // Printed first: a failing round's output names its seed.
        println!("nemesis round: seed {seed} (replay: ZK_NEMESIS_SEED={seed} ZK_NEMESIS_ROUNDS=1)");
        let r = within(60, "a nemesis round", round(seed)).await;
        check(seed, &r);
        check_corrupted(seed, &r);
    }
}
