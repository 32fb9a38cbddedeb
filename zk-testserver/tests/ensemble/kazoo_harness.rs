//! kazoo's own test harness (`kazoo.testing`, through `scripts/kazoo-harness.sh`) launching a
//! 3-member ensemble of our binary exactly as it launches real ZooKeeper members: its
//! `zoo.cfg` per member (`server.N` lines, `peerType`, `secureClientPort` with JKS stores,
//! the Netty connection factory, a SASL provider, `localSessionsEnabled`, ...), its JVM
//! command line, and a representative subset of kazoo's tests: TLS through every member's
//! secure port, sessions, expiry, and kazoo's reconfig tests (adding and removing an
//! observer, bad input, reconfig without super auth). The whole suite on 3 members (about 5 minutes) is
//! `ZOOKEEPER_CLUSTER_SIZE=3 scripts/kazoo-harness.sh --server rust`.

use std::path::PathBuf;
use std::process::Command;

/// The kazoo tests CI runs on 3 members.
const SUBSET: &str = "TestSSLClient or TestReconfig \
     or (TestClient and (test_create or test_session_expire or test_ensure_path))";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// Whether the harness venv is there; fails in CI (scripts/install-deps.sh makes it).
fn harness_venv() -> bool {
    let python = repo_root().join(".venv-kazoo/bin/python");
    let ok = Command::new(&python)
        .args([
            "-c",
            "import kazoo, pytest, pytest_timeout, jks, OpenSSL, objgraph, gevent, eventlet, puresasl",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "{} lacks kazoo's test dependencies (run scripts/install-deps.sh)",
        python.display()
    );
    if !ok {
        eprintln!(
            "skipping: {} lacks kazoo's test dependencies; run scripts/install-deps.sh",
            python.display()
        );
    }
    ok
}

#[test]
fn kazoo_harness_runs_on_three_members_of_our_binary() {
    if !harness_venv() {
        return;
    }
    // kazoo's members use ports offset + 10 × i + 0..4; below the ephemeral range, so no
    // port another test binds with port 0 can collide.
    let offset = 24_000 + (std::process::id() % 200) * 40;
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/kazoo-harness.sh"))
        .args(["--server", "rust", "-p", "no:warnings", "-k", SUBSET])
        .env("ZK_TESTSERVER_BIN", env!("CARGO_BIN_EXE_zk-testserver"))
        .env("ZOOKEEPER_CLUSTER_SIZE", "3")
        .env("ZOOKEEPER_PORT_OFFSET", offset.to_string())
        .output()
        .expect("bash runs the harness script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))
        .unwrap_or("");
    println!("kazoo on 3 members: {summary}");
    assert!(
        out.status.success() && summary.contains(" passed") && !summary.contains("failed"),
        "kazoo's harness on 3 members ({}): {summary}\n{stdout}\n{stderr}",
        out.status
    );
    // The subset ran: TLS and the plain client tests.
    let passed: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 20, "only {passed} kazoo tests ran: {summary}");
}
