//! kazoo (the Python client) and its recipes against our server and against real ZooKeeper:
//! `tests/kazoo/recipes.py` must pass against both.

use std::path::PathBuf;
use std::process::Command;

use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::zkcli::ci;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// The venv's python if kazoo imports there; fails in CI, else returns None with a note.
fn kazoo_python() -> Option<PathBuf> {
    let python = repo_root().join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import kazoo"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        !ci(),
        "kazoo is required when CI is set: {} cannot import it (run scripts/install-deps.sh)",
        python.display()
    );
    eprintln!(
        "skipping: {} cannot import kazoo; run scripts/install-deps.sh",
        python.display()
    );
    None
}

/// Runs the recipe script against `hosts` and asserts it passed.
async fn run_recipes(python: PathBuf, hosts: String, against: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kazoo/recipes.py");
    let out =
        tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(hosts).output())
            .await
            .unwrap()
            .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kazoo recipes failed against {against} ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("kazoo checks passed"), "{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_recipes_pass_against_our_server() {
    let Some(python) = kazoo_python() else {
        return;
    };
    let server = TestServer::builder().start().await.unwrap();
    run_recipes(python, server.connect_string(), "zk-testserver").await;
    // Every session the script opened is closed, so nothing it made is left behind but the
    // persistent nodes it deleted itself.
    let left = server
        .inspect(|core| core.tree().get("/").map(|n| n.children.len()))
        .await
        .flatten();
    assert_eq!(left, Some(1), "only /zookeeper remains");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_recipes_pass_against_real_zookeeper() {
    let Some(python) = kazoo_python() else {
        return;
    };
    if !require_real_zookeeper() {
        return;
    }
    let zk = tokio::task::spawn_blocking(|| RealZooKeeper::standalone(RealOptions::default()))
        .await
        .unwrap()
        .expect("real ZooKeeper starts");
    run_recipes(python, zk.connect_string(), "real ZooKeeper").await;
    tokio::task::spawn_blocking(move || drop(zk)).await.unwrap();
}
