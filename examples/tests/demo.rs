//! The demo binary runs on its embedded server, and against real Apache ZooKeeper through
//! `--connect`. (The README's first command, the tour, is tested in `examples.rs`.)

use std::process::Command;

use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};

fn run_demo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(args)
        .output()
        .expect("run the demo binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn demo_runs_on_the_embedded_server() {
    let out = run_demo(&[]);
    assert!(out.contains("embedded zk-testserver"), "{out}");
    assert!(out.contains("== 3. faults"), "{out}");
    assert!(out.contains("its ephemeral node is gone"), "{out}");
    assert!(out.contains("demo complete"), "{out}");
}

#[test]
fn demo_runs_against_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let zk = RealZooKeeper::standalone(RealOptions::default()).expect("real ZooKeeper starts");
    let out = run_demo(&["--connect", &zk.connect_string()]);
    assert!(out.contains("external ensemble"), "{out}");
    assert!(out.contains("consumer now sees"), "{out}");
    assert!(out.contains("demo complete"), "{out}");
}
