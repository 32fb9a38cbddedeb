//! The `zk-testserver` binary: a drop-in for `QuorumPeerMain zoo.cfg`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::client::Client;
use crate::four_letter::ask;

const BIN: &str = env!("CARGO_BIN_EXE_zk-testserver");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn serves_a_standalone_zoo_cfg() {
    let dir = std::env::temp_dir().join(format!("zk-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Wait for the "serving" log line, keeping every line for later checks.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the binary logs that it serves");
        log.push_str(&line);
        log.push('\n');
        if line.contains("zk-testserver serving") {
            break;
        }
    }
    assert_eq!(ask(addr, "ruok").await, "imok");
    assert!(ask(addr, "conf").await.contains("tickTime=200"));
    let mut c = Client::connect(addr).await;
    c.create("/bin", b"ok", 0).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    log.extend(rx.try_iter().map(|l| l + "\n"));
    assert!(
        log.contains("admin.enableServer"),
        "ignored keys are warned: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the binary on `cfg` and waits for its "serving" line.
fn spawn_serving(cfg: &std::path::Path) -> std::process::Child {
    let mut child = Command::new(BIN)
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // Keep draining after the receiver is gone so the child never blocks on stderr.
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.contains("zk-testserver serving") => return child,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the binary did not log that it serves: {e}");
            }
        }
    }
}

#[tokio::test]
async fn wires_tls_client_auth_and_read_only_mode() {
    use crate::tls::{connects, As, Pki};

    let pki = Pki::new("bin");
    let (port, secure_port) = (free_port(), free_port());
    let cfg = pki.dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             secureClientPort={secure_port}\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
             ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
             ssl.trustStore.location={}\nssl.trustStore.type=PEM\nssl.clientAuth=need\n\
             readonlymode.enabled=true\n4lw.commands.whitelist=ruok,conf\n",
            pki.server_pem.display(),
            pki.ca_pem.display()
        ),
    )
    .unwrap();
    let mut child = spawn_serving(&cfg);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let secure: std::net::SocketAddr = format!("127.0.0.1:{secure_port}").parse().unwrap();
    // readonlymode.enabled lets `isro` answer without being whitelisted; a standalone
    // server is never read-only.
    assert_eq!(ask(addr, "isro").await, "rw");
    assert!(ask(addr, "conf")
        .await
        .contains(&format!("\nsecureClientPort={secure_port}\n")));
    assert!(
        connects(&pki, secure, As::Trusted).await,
        "CA-signed client"
    );
    assert!(
        !connects(&pki, secure, As::Anonymous).await,
        "no certificate, need"
    );
    let mut c = Client::connect(addr).await;
    c.create("/rw", b"", 0).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A member config is refused the way ZooKeeper refuses it: no `myid`, or a `myid` the server
/// list does not name.
#[test]
fn refuses_a_member_config_without_a_listed_myid() {
    let dir = std::env::temp_dir().join(format!("zk-bin-ens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
            dir.display()
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("myid"));
    let out = Command::new(BIN).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing myid"), "{err}");
    std::fs::write(dir.join("myid"), "3\n").unwrap();
    let out = Command::new(BIN).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 is not in the server list"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `conf` on the standalone binary: real ZooKeeper 3.8 is started from its `zoo.cfg`, then our
/// binary from the same file (same port, a data directory of its own); the answers are the
/// same text but for the data directories and their sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_conf_matches_real_zookeeper() {
    use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
    if !require_real_zookeeper() {
        return;
    }
    let (real_conf, text, port) = tokio::task::block_in_place(|| {
        let real = RealZooKeeper::standalone(RealOptions::default()).expect("real ZooKeeper");
        let conf = real.four_letter(0, "conf").expect("conf");
        let text = std::fs::read_to_string(real.member_dir(0).join("zoo.cfg")).unwrap();
        (conf, text, real.member_addr(0).port())
    });
    let dir = std::env::temp_dir().join(format!("zk-bin-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours_cfg: String = text
        .lines()
        .map(|l| match l.split_once('=') {
            Some(("dataDir" | "dataLogDir", _)) => {
                format!(
                    "{}={}",
                    l.split('=').next().unwrap(),
                    dir.join("data").display()
                )
            }
            _ => l.to_string(),
        })
        .map(|l| l + "\n")
        .collect();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(&cfg, ours_cfg).unwrap();
    let mut child = spawn_serving(&cfg);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ours = ask(addr, "conf").await;
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        crate::conf_text::without_data_dirs(&ours),
        crate::conf_text::without_data_dirs(&real_conf),
        "ours:\n{ours}\nreal:\n{real_conf}"
    );
    assert!(ours.contains("\nserverId=0\n") && ours.contains("/version-2\n"));
}
