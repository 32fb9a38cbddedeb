//! The real Java CLI (`zkCli.sh`) against our server.

use std::path::Path;
use std::process::Command;

use zk_testserver::TestServer;

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

async fn zkcli(server: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(ZKCLI);
    cmd.arg("-server").arg(server).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("zkCli runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_cli_works_against_our_server() {
    if !Path::new(ZKCLI).exists() {
        assert!(!ci(), "{ZKCLI} is missing and CI is set");
        eprintln!("skipping: {ZKCLI} not installed");
        return;
    }
    let server = TestServer::builder().start().await.unwrap();
    let addr = server.connect_string();
    let out = zkcli(&addr, &["create", "/x", "data"]).await;
    assert!(out.contains("Created /x"), "{out}");
    let out = zkcli(&addr, &["get", "/x"]).await;
    assert!(out.lines().any(|l| l.trim() == "data"), "{out}");
    let out = zkcli(&addr, &["create", "-s", "/x/seq-", "v"]).await;
    assert!(out.contains("Created /x/seq-0000000000"), "{out}");
    let out = zkcli(&addr, &["ls", "/x"]).await;
    assert!(out.contains("[seq-0000000000]"), "{out}");
    let out = zkcli(&addr, &["stat", "/x"]).await;
    assert!(
        out.contains("numChildren = 1") && out.contains("dataLength = 4"),
        "{out}"
    );
    let out = zkcli(&addr, &["set", "/x", "new"]).await;
    assert!(!out.contains("Exception"), "{out}");
    let out = zkcli(&addr, &["get", "-s", "/x"]).await;
    assert!(
        out.contains("new") && out.contains("dataVersion = 1"),
        "{out}"
    );
    let out = zkcli(&addr, &["create", "/x", "again"]).await;
    assert!(out.contains("Node already exists"), "{out}");
    let out = zkcli(&addr, &["deleteall", "/x"]).await;
    assert!(!out.contains("Exception"), "{out}");
    let out = zkcli(&addr, &["ls", "/"]).await;
    assert!(out.contains("[zookeeper]"), "{out}");
}
