//! `secureClientPort` with JKS and PKCS#12 key and trust stores made by `keytool`, in a
//! harness-style `zoo.cfg`: our binary and real ZooKeeper 3.8 with the same files.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use zk_client::{CreateMode, CreateOptions};
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};

use crate::support::{self, connect, files, free_port, have_keytool, spawn_binary, STORE_PASSWORD};

/// The TLS lines of a zoo.cfg: a key store (type given or inferred) and optionally a trust
/// store with `ssl.clientAuth=need`.
pub fn tls_lines(
    secure_port: u16,
    key_store: &Path,
    key_type: Option<&str>,
    trust_store: Option<&Path>,
) -> Vec<String> {
    let mut lines = vec![
        format!("secureClientPort={secure_port}"),
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".into(),
        format!("ssl.keyStore.location={}", key_store.display()),
        format!("ssl.keyStore.password={STORE_PASSWORD}"),
    ];
    if let Some(t) = key_type {
        lines.push(format!("ssl.keyStore.type={t}"));
    }
    match trust_store {
        Some(store) => {
            lines.push(format!("ssl.trustStore.location={}", store.display()));
            lines.push(format!("ssl.trustStore.password={STORE_PASSWORD}"));
            lines.push("ssl.clientAuth=need".into());
        }
        None => lines.push("ssl.clientAuth=none".into()),
    }
    lines
}

/// A standalone zoo.cfg as harnesses write it, plus `extra` lines; returns its path.
pub fn write_zoo_cfg(dir: &Path, name: &str, port: u16, extra: &[String]) -> std::path::PathBuf {
    let data = dir.join(format!("{name}-data"));
    std::fs::create_dir_all(&data).unwrap();
    let mut text = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
         clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
         maxClientCnxns=0\n",
        data.display()
    );
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    let path = dir.join(format!("{name}.cfg"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A TLS session (with alice's certificate when the server needs one) writes and reads.
async fn tls_session_works(secure: SocketAddr, with_cert: bool) {
    let f = files();
    let cert = with_cert.then_some(&f.alice);
    let c = connect(secure, Some(cert), None)
        .await
        .unwrap_or_else(|e| panic!("TLS session on {secure}: {e}"));
    let path = format!("/tls-{}", free_port());
    let opts = CreateOptions::new(CreateMode::Ephemeral);
    c.create(&path, b"over tls", &opts).await.unwrap();
    assert_eq!(&c.get_data(&path).await.unwrap().0[..], b"over tls");
    c.close().await.unwrap();
    if with_cert {
        // Without a client certificate the server refuses the TLS handshake (so the client
        // retries until its connection timeout).
        let anonymous = zk_client::Client::builder(secure.to_string())
            .tls(support::tls(None))
            .connection_timeout(std::time::Duration::from_millis(1500))
            .connect()
            .await;
        assert!(anonymous.is_err(), "a client without a certificate got in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_jks_and_pkcs12_stores_from_zoo_cfg() {
    if !have_keytool() {
        return;
    }
    let f = files();
    // JKS key store with its type given, PKCS#12 key store with the type inferred from
    // `.p12`; JKS and PKCS#12 trust stores (types inferred).
    let cases = [
        (&f.server_jks, Some("JKS"), Some(&f.trust_p12)),
        (&f.server_p12, None, Some(&f.trust_jks)),
        (&f.server_p12, Some("PKCS12"), None),
    ];
    for (i, (key_store, key_type, trust)) in cases.into_iter().enumerate() {
        let (port, secure_port) = (free_port(), free_port());
        let lines = tls_lines(secure_port, key_store, key_type, trust.map(|p| p.as_path()));
        let cfg = write_zoo_cfg(&f.dir, &format!("keystores-{i}"), port, &lines);
        let (_binary, _) = spawn_binary(&[cfg.display().to_string()]);
        let secure = SocketAddr::from(([127, 0, 0, 1], secure_port));
        tls_session_works(secure, trust.is_some()).await;
    }
}

#[test]
fn binary_refuses_a_wrong_store_password_clearly() {
    if !have_keytool() {
        return;
    }
    let f = files();
    let mut lines = tls_lines(free_port(), &f.server_jks, None, None);
    lines.push("ssl.keyStore.password=wrong".into());
    let cfg = write_zoo_cfg(&f.dir, "wrong-password", free_port(), &lines);
    let out = Command::new(support::BIN).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_zookeeper_serves_the_same_stores() {
    if !have_keytool() || !require_real_zookeeper() {
        return;
    }
    let f = files();
    for (i, (key_store, trust)) in [(&f.server_jks, Some(&f.trust_p12)), (&f.server_p12, None)]
        .into_iter()
        .enumerate()
    {
        let secure_port = free_port();
        let mut extra = tls_lines(secure_port, key_store, None, trust.map(|p| p.as_path()));
        // Real ZooKeeper registers the x509 provider only when asked to.
        extra.push(
            "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider".into(),
        );
        let opts = RealOptions {
            extra_config: extra,
            ..RealOptions::default()
        };
        let zk = tokio::task::spawn_blocking(move || RealZooKeeper::standalone(opts))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        let secure = SocketAddr::from(([127, 0, 0, 1], secure_port));
        support::wait_listening(secure).await;
        tls_session_works(secure, trust.is_some()).await;
        drop(zk);
    }
}
