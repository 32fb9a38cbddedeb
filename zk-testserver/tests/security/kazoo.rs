//! kazoo (Python) with pure-sasl: SASL DIGEST-MD5 against our server and real ZooKeeper with
//! the same JAAS file.

use std::path::PathBuf;
use std::process::Command;

use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::support::{ci, files, SASL_PASSWORD, SASL_USER};

/// The repository venv's python if kazoo and pure-sasl import there; fails in CI.
fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf();
    let python = root.join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import kazoo, puresasl"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !ci(),
        "kazoo and pure-sasl are required when CI is set (run scripts/install-deps.sh)"
    );
    if !ok {
        eprintln!(
            "skipping: {} cannot import kazoo and puresasl",
            python.display()
        );
    }
    ok.then_some(python)
}

async fn run(python: PathBuf, hosts: String, against: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/security/kazoo_sasl.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([hosts.as_str(), SASL_USER, SASL_PASSWORD])
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("kazoo sasl checks passed"),
        "kazoo SASL failed against {against} ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_sasl_against_our_server() {
    let Some(python) = python() else { return };
    let users = [(SASL_USER.to_string(), SASL_PASSWORD.to_string())].into();
    let server = TestServer::builder()
        .sasl_users(users)
        .start()
        .await
        .unwrap();
    run(python, server.connect_string(), "zk-testserver").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_sasl_against_real_zookeeper() {
    let Some(python) = python() else { return };
    if !require_real_zookeeper() {
        return;
    }
    let jaas = files().jaas.clone();
    let opts = RealOptions {
        jvm_args: vec![format!(
            "-Djava.security.auth.login.config={}",
            jaas.display()
        )],
        extra_config: vec![
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".into(),
        ],
        ..RealOptions::default()
    };
    let zk = tokio::task::spawn_blocking(move || RealZooKeeper::standalone(opts))
        .await
        .unwrap()
        .unwrap();
    run(python, zk.connect_string(), "real ZooKeeper").await;
}
