//! Every example binary runs to completion on its embedded servers and prints its key lines;
//! the tour runs them all against real Apache ZooKeeper through `--connect`, and the failover
//! tour on a three-member ensemble whose leader member it kills in the middle of each.

use std::process::Command;

use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};

/// Runs an example binary; panics with its output unless it exits 0.
fn run(binary: &str, args: &[&str]) -> String {
    let output = Command::new(binary)
        .args(args)
        .env_remove("ZK_SERVERS")
        .output()
        .expect("run the example binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Asserts that `out` contains every line fragment of `expected`, in that order.
fn assert_in_order(out: &str, expected: &[&str]) {
    let mut rest = out;
    for fragment in expected {
        match rest.find(fragment) {
            Some(at) => rest = &rest[at + fragment.len()..],
            None => panic!("missing (or out of order) {fragment:?} in:\n{out}"),
        }
    }
}

#[test]
fn config_center() {
    let out = run(env!("CARGO_BIN_EXE_config-center"), &[]);
    assert_in_order(
        &out,
        &[
            "embedded zk-testserver",
            "instance 2 starts with \"max_connections=100\"",
            "publisher sets \"max_connections=250\" (version 1)",
            "instance 0's session",
            "instance 0's client renewed its session",
            "publisher sets \"max_connections=500\" (version 2)",
            "publisher deletes the configuration",
            "config center done",
        ],
    );
    for i in 0..3 {
        assert!(
            out.contains(&format!(
                "instance {i} notified -> now \"max_connections=500\" (version 2)"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("instance {i} sees the configuration deleted")),
            "{out}"
        );
    }
}

#[test]
fn naming() {
    let out = run(env!("CARGO_BIN_EXE_naming"), &[]);
    assert_in_order(
        &out,
        &[
            "client now sees [\"api-1\", \"api-2\", \"api-3\"]",
            "client discovers api-3 at 10.0.0.3:8080",
            "\"zone\": \"us-east-2a\"",
            "client notified: api-1 left",
            "client now sees [\"api-2\", \"api-3\"]",
            "api-2 crashes",
            "client notified: api-2 left",
            "client now sees [\"api-3\"]",
            "client notified: api-4 joined",
            "client now sees [\"api-3\", \"api-4\"]",
            "naming done",
        ],
    );
}

#[test]
fn lock() {
    let out = run(env!("CARGO_BIN_EXE_lock"), &[]);
    for w in 0..4 {
        assert!(
            out.contains(&format!("worker {w} did 5 increments with tokens 0x")),
            "{out}"
        );
    }
    assert_in_order(
        &out,
        &[
            "counter = 20 (expected 20): no increment lost",
            "worker A holds the lock",
            "worker B acquires the lock",
            "worker B writes under the lock: counter = 21",
            "worker A wakes up and writes: refused (fenced write refused",
            "counter stays 21",
            "lock done",
        ],
    );
}

#[test]
fn leader() {
    let out = run(env!("CARGO_BIN_EXE_leader"), &[]);
    assert_eq!(out.matches(" takes over ").count(), 2, "{out}");
    assert_in_order(
        &out,
        &[
            "candidate-2 joins the election",
            " leads (token 0x",
            " is killed (session expired)",
            " after the kill (token 0x",
            " is killed (session expired)",
            " after the kill (token 0x",
            "leader done",
        ],
    );
}

#[test]
fn queue() {
    let out = run(env!("CARGO_BIN_EXE_queue"), &[]);
    assert!(out.contains("producer 0 put 10 tasks"), "{out}");
    assert!(out.contains("producer 1 put 10 tasks"), "{out}");
    assert_eq!(out.matches(" tasks, in queue order: ").count(), 3, "{out}");
    assert_in_order(
        &out,
        &[
            "all 20 tasks processed exactly once",
            "queue empty",
            "queue done",
        ],
    );
}

#[test]
fn barrier() {
    let out = run(env!("CARGO_BIN_EXE_barrier"), &[]);
    assert_in_order(
        &out,
        &[
            "worker 0 arrives",
            "1 of 4 waiting at the barrier",
            "3 of 4 waiting at the barrier",
            "worker 3 arrives",
            "enters: all 4 are in",
            "leaves and reads all 4 results: sum = 100",
            "barrier done",
        ],
    );
    assert_eq!(out.matches("enters: all 4 are in").count(), 4, "{out}");
    assert_eq!(out.matches("sum = 100").count(), 4, "{out}");
}

#[test]
fn tour_runs_every_example() {
    let out = run(env!("CARGO_BIN_EXE_tour"), &[]);
    assert_in_order(
        &out,
        &[
            "config center done",
            "naming done",
            "lock done",
            "leader done",
            "queue done",
            "barrier done",
            "tour complete",
        ],
    );
}

/// The examples only need a connect string: the whole tour against real ZooKeeper 3.8,
/// where session expiry is a second connection taking over the session and closing it.
#[test]
fn tour_runs_against_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let zk = RealZooKeeper::standalone(RealOptions::default()).expect("real ZooKeeper starts");
    let out = run(
        env!("CARGO_BIN_EXE_tour"),
        &["--connect", &zk.connect_string()],
    );
    println!("{out}");
    assert_in_order(
        &out,
        &[
            "external ensemble",
            "instance 0's client renewed its session",
            "config center done",
            "client now sees [\"api-3\"]",
            "naming done",
            "worker A wakes up and writes: refused",
            "lock done",
            "leader done",
            "all 20 tasks processed exactly once",
            "barrier done",
            "tour complete",
        ],
    );
}

/// The failover tour: each example on the embedded three-member ensemble, whose leader member
/// is killed mid-run; every example's own checks must pass.
#[test]
fn failover_tour_keeps_every_guarantee() {
    let out = run(env!("CARGO_BIN_EXE_failover"), &[]);
    println!("{out}");
    assert_eq!(
        out.matches("*** failover: member ").count(),
        12,
        "a kill and a report per example:\n{out}"
    );
    assert_eq!(out.matches("guarantees held").count(), 6, "{out}");
    assert!(
        out.contains("embedded zk-testserver ensemble of 3 members"),
        "{out}"
    );
    assert_in_order(
        &out,
        &[
            "config center done",
            "naming done",
            "counter = 20 (expected 20)",
            "lock done",
            "leader done",
            "all 20 tasks processed exactly once",
            "barrier done",
            "failover tour complete",
        ],
    );
}
