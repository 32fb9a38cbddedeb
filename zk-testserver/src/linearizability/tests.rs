use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn w(key: &str, v: &[u8], version: i32, t: (Time, Time)) -> Operation {
    Operation::new(
        key,
        Call::Write(v.to_vec()),
        Outcome::written(version),
        t.0,
        Some(t.1),
    )
}

fn r(key: &str, v: &[u8], version: i32, t: (Time, Time)) -> Operation {
    Operation::new(key, Call::Read, Outcome::read(v, version), t.0, Some(t.1))
}

fn cas(key: &str, expected: i32, v: &[u8], outcome: Outcome, t: (Time, Time)) -> Operation {
    let completed = (outcome != Outcome::Unknown).then_some(t.1);
    Operation::new(
        key,
        Call::CompareAndSet {
            expected_version: expected,
            value: v.to_vec(),
        },
        outcome,
        t.0,
        completed,
    )
}

fn check(history: &[Operation]) -> CheckResult {
    Checker::new().check(history)
}

#[test]
fn valid_histories_pass() {
    assert_eq!(check(&[]), CheckResult::Linearizable);
    // Sequential.
    let h = [
        w("/a", b"1", 1, (0, 1)),
        r("/a", b"1", 1, (2, 3)),
        cas("/a", 1, b"2", Outcome::written(2), (4, 5)),
        cas("/a", 1, b"3", Outcome::BadVersion, (6, 7)),
        r("/a", b"2", 2, (8, 9)),
    ];
    assert_eq!(check(&h), CheckResult::Linearizable);
    // Concurrent writes, reads that see either order.
    let h = [
        w("/a", b"x", 1, (0, 10)),
        w("/a", b"y", 2, (0, 10)),
        r("/a", b"y", 2, (5, 12)),
        r("/a", b"y", 2, (11, 13)),
    ];
    assert_eq!(check(&h), CheckResult::Linearizable);
    // A read concurrent with a write may see the old value.
    let h = [w("/a", b"x", 1, (0, 10)), r("/a", b"", 0, (1, 2))];
    assert_eq!(check(&h), CheckResult::Linearizable);
    // An unanswered write may apply late (a read long after sees it) or never.
    let lost = Operation::new("/a", Call::Write(b"z".to_vec()), Outcome::Unknown, 0, None);
    let h = [
        lost.clone(),
        r("/a", b"", 0, (50, 51)),
        r("/a", b"z", 1, (60, 61)),
    ];
    assert_eq!(check(&h), CheckResult::Linearizable);
    let h = [lost, r("/a", b"", 0, (50, 51))];
    assert_eq!(check(&h), CheckResult::Linearizable);
    // Keys are independent; an initial state can be given.
    let h = [r("/a", b"", 0, (0, 1)), r("/b", b"init", 4, (0, 1))];
    let checker = Checker::new().initial("/b", b"init", 4);
    assert_eq!(checker.check(&h), CheckResult::Linearizable);
}

#[test]
fn a_stale_read_after_an_acknowledged_write_is_caught() {
    let h = [
        w("/a", b"new", 1, (0, 10)),
        r("/b", b"", 0, (0, 1)),
        r("/a", b"", 0, (20, 30)),
    ];
    match check(&h) {
        CheckResult::NotLinearizable(v) => {
            assert_eq!(v.key, "/a");
            assert_eq!(v.operations, vec![0, 2]);
            assert_eq!(v.longest_linearizable, vec![0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lost_acknowledged_write_is_caught() {
    // Two acknowledged writes, one after the other; later reads see only the first.
    let h = [
        w("/a", b"1", 1, (0, 10)),
        w("/a", b"2", 2, (20, 30)),
        r("/a", b"1", 1, (40, 50)),
    ];
    assert!(matches!(check(&h), CheckResult::NotLinearizable(_)));
    // A compare-and-set that succeeded although a later-acknowledged one claims its version.
    let h = [
        cas("/a", 0, b"p", Outcome::written(1), (0, 10)),
        cas("/a", 0, b"q", Outcome::written(1), (20, 30)),
    ];
    assert!(matches!(check(&h), CheckResult::NotLinearizable(_)));
    // A failed compare-and-set on a version that was current the whole time.
    let h = [cas("/a", 0, b"p", Outcome::BadVersion, (0, 10))];
    assert!(matches!(check(&h), CheckResult::NotLinearizable(_)));
    // An outcome that does not fit its call.
    let h = [Operation::new(
        "/a",
        Call::Read,
        Outcome::written(1),
        0,
        Some(1),
    )];
    assert!(matches!(check(&h), CheckResult::NotLinearizable(_)));
}

/// A random concurrent history of a sequential register model: each operation takes effect at
/// a random point within its interval; some answers are lost (with the operation applied or
/// not).
fn random_history(rng: &mut StdRng, keys: usize, clients: usize, ops: usize) -> Vec<Operation> {
    struct Pending {
        op: Operation,
        at: Time,
        drop_answer: bool,
        apply_if_lost: bool,
    }
    let mut pending = Vec::new();
    for client in 0..clients {
        let mut t: Time = rng.random_range(0..5);
        for i in 0..ops {
            let key = format!("/k{}", rng.random_range(0..keys));
            let invoked = t;
            let at = invoked + rng.random_range(0..20);
            let completed = at + rng.random_range(0..20);
            let value = format!("{client}-{i}").into_bytes();
            let call = match rng.random_range(0..3) {
                0 => Call::Read,
                1 => Call::Write(value),
                _ => Call::CompareAndSet {
                    expected_version: rng.random_range(0..4),
                    value,
                },
            };
            pending.push(Pending {
                op: Operation::new(key, call, Outcome::Unknown, invoked, Some(completed)),
                at,
                drop_answer: rng.random_bool(0.05),
                apply_if_lost: rng.random_bool(0.5),
            });
            t = completed + rng.random_range(0..5);
        }
    }
    // Apply in order of the linearization points (ties in a fixed order).
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by_key(|&i| (pending[i].at, i));
    let mut state: HashMap<String, (Vec<u8>, i32)> = HashMap::new();
    for i in order {
        let p = &mut pending[i];
        if p.drop_answer && !p.apply_if_lost {
            continue;
        }
        let reg = state.entry(p.op.key.clone()).or_insert((Vec::new(), 0));
        p.op.outcome = match &p.op.call {
            Call::Read => Outcome::read(&reg.0, reg.1),
            Call::Write(v) => {
                *reg = (v.clone(), reg.1 + 1);
                Outcome::written(reg.1)
            }
            Call::CompareAndSet {
                expected_version,
                value,
            } => {
                if *expected_version == reg.1 {
                    *reg = (value.clone(), reg.1 + 1);
                    Outcome::written(reg.1)
                } else {
                    Outcome::BadVersion
                }
            }
        };
    }
    pending
        .into_iter()
        .map(|mut p| {
            if p.drop_answer {
                p.op.outcome = Outcome::Unknown;
                p.op.completed = None;
            }
            p.op
        })
        .collect()
}

fn cases() -> u64 {
    std::env::var("ZK_LINEARIZABILITY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[test]
fn seeded_random_valid_histories_pass() {
    for seed in 0..cases() {
        let mut rng = StdRng::seed_from_u64(seed);
        let history = random_history(&mut rng, 3, 5, 30);
        let result = Checker::new().check(&history);
        assert_eq!(result, CheckResult::Linearizable, "seed {seed}");
    }
}

#[test]
fn seeded_random_histories_with_a_corrupted_read_are_caught() {
    let mut caught = 0;
    for seed in 0..cases() {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut history = random_history(&mut rng, 2, 4, 20);
        let Some(read) = history
            .iter()
            .position(|op| matches!(op.outcome, Outcome::Read { .. }))
        else {
            continue;
        };
        // A value nobody wrote.
        history[read].outcome = Outcome::read(b"never written", 1);
        let result = Checker::new().check(&history);
        assert!(
            matches!(result, CheckResult::NotLinearizable(ref v) if v.key == history[read].key),
            "seed {seed}: {result:?}"
        );
        caught += 1;
    }
    assert!(caught > 0);
}

#[test]
fn a_long_concurrent_history_is_checked_quickly_thanks_to_memoisation() {
    let mut rng = StdRng::seed_from_u64(7);
    let history = random_history(&mut rng, 1, 8, 100);
    let start = Instant::now();
    assert_eq!(Checker::new().check(&history), CheckResult::Linearizable);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn the_time_budget_bounds_the_search() {
    // Many concurrent writes with unknown outcomes and one impossible read at the end: the
    // search must try the combinations, so with no time it gives up.
    let mut history: Vec<Operation> = (0..40)
        .map(|i| Operation::new("/a", Call::Write(vec![i]), Outcome::Unknown, 0, None))
        .collect();
    history.push(r("/a", b"nobody", 7, (100, 101)));
    let result = Checker::new().time_budget(Duration::ZERO).check(&history);
    assert!(
        matches!(
            result,
            CheckResult::Inconclusive { .. } | CheckResult::NotLinearizable(_)
        ),
        "{result:?}"
    );
    let start = Instant::now();
    let _ = Checker::new()
        .time_budget(Duration::from_millis(200))
        .check(&history);
    assert!(start.elapsed() < Duration::from_secs(3));
}
