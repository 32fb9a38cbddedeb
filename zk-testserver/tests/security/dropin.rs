//! The proof of the drop-in: one harness-style argument vector (JVM flags, `-D` system
//! properties, the classpath, the main class, a `zoo.cfg` with JKS stores, a SASL auth
//! provider and a JAAS file) runs once with `zk-testserver` and once with `java`; the same
//! TLS, SASL, digest and super-user sessions pass against both.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use zk_client::{perms, Acl, CreateMode, CreateOptions, Error, Id};
use zk_testserver::acl::digest_id;
use zk_testserver::real::require_real_zookeeper;

use crate::keystores::{tls_lines, write_zoo_cfg};
use crate::sasl::UnknownUsers;
use crate::support::{
    connect, files, free_port, have_keytool, spawn_binary, super_digest, SASL_PASSWORD, SASL_USER,
    SUPER_PASSWORD,
};

const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// The jars a harness puts on the classpath of the Debian ZooKeeper.
fn classpath() -> String {
    [
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "log4j-1.2.jar",
        "slf4j-log4j12.jar",
    ]
    .iter()
    .map(|jar| format!("/usr/share/java/{jar}"))
    .collect::<Vec<_>>()
    .join(":")
}

/// What a harness passes to `java` (as `zk_testserver::real` does), ending in the config.
fn harness_args(dir: &Path, cfg: &Path) -> Vec<String> {
    let f = files();
    std::fs::write(
        dir.join("log4j.properties"),
        format!(
            "log4j.rootLogger=INFO, FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n\
             log4j.appender.FILE.File={}\nlog4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n",
            dir.join("zookeeper.log").display()
        ),
    )
    .unwrap();
    vec![
        "-Xmx256m".into(),
        "-XX:+UseSerialGC".into(),
        "-XX:-UsePerfData".into(),
        "-Djava.net.preferIPv4Stack=true".into(),
        "-Dzookeeper.admin.enableServer=false".into(),
        "-Dzookeeper.jmx.log4j.disable=true".into(),
        format!("-Dzookeeper.log.dir={}", dir.display()),
        "-Dzookeeper.log.file=zookeeper.log".into(),
        format!(
            "-Dlog4j.configuration=file:{}/log4j.properties",
            dir.display()
        ),
        "-Dzookeeper.forceSync=no".into(),
        format!(
            "-Dzookeeper.DigestAuthenticationProvider.superDigest={}",
            super_digest()
        ),
        format!("-Djava.security.auth.login.config={}", f.jaas.display()),
        "-cp".into(),
        classpath(),
        MAIN_CLASS.into(),
        cfg.display().to_string(),
    ]
}

/// The sessions every server must serve.
async fn scenario(plain: SocketAddr, secure: SocketAddr, against: &str, unknown: UnknownUsers) {
    let f = files();
    let open = CreateOptions::new(CreateMode::Persistent);
    // TLS with a client certificate (the trust store is a JKS).
    let tls = connect(secure, Some(Some(&f.alice)), None)
        .await
        .unwrap_or_else(|e| panic!("{against}: TLS session: {e}"));
    tls.create("/dropin-tls", b"tls", &open)
        .await
        .unwrap_or_else(|e| panic!("{against}: create over TLS: {e}"));
    // SASL on the plain port, then SASL over TLS.
    crate::sasl::sasl_scenario(plain, false, unknown).await;
    let bob = connect(
        secure,
        Some(Some(&f.alice)),
        Some((SASL_USER, SASL_PASSWORD)),
    )
    .await
    .unwrap_or_else(|e| panic!("{against}: SASL over TLS: {e}"));
    let only_bob = vec![Acl::new(perms::ALL, Id::new("sasl", SASL_USER))];
    bob.create("/dropin-sasl", b"bob", &open.clone().with_acl(only_bob))
        .await
        .unwrap();
    // Digest.
    let carol = zk_client::Client::builder(plain.to_string())
        .auth("digest", b"carol:pw")
        .connect()
        .await
        .unwrap();
    let only_carol = vec![Acl::new(
        perms::ALL,
        Id::new("digest", digest_id("carol:pw")),
    )];
    carol
        .create(
            "/dropin-digest",
            b"carol",
            &open.clone().with_acl(only_carol),
        )
        .await
        .unwrap();
    let anonymous = connect(plain, None, None).await.unwrap();
    for path in ["/dropin-sasl", "/dropin-digest"] {
        assert_eq!(
            anonymous.get_data(path).await.unwrap_err(),
            Error::NoAuth,
            "{against}: {path}"
        );
    }
    // The super user (superDigest from -D) reads and deletes everything.
    let admin = zk_client::Client::builder(plain.to_string())
        .auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes())
        .connect()
        .await
        .unwrap();
    assert_eq!(&admin.get_data("/dropin-sasl").await.unwrap().0[..], b"bob");
    assert_eq!(
        &admin.get_data("/dropin-digest").await.unwrap().0[..],
        b"carol"
    );
    for path in ["/dropin-tls", "/dropin-sasl", "/dropin-digest"] {
        admin.delete(path, None).await.unwrap();
    }
    for c in [tls, bob, carol, anonymous, admin] {
        c.close().await.unwrap();
    }
}

/// The zoo.cfg: JKS key and trust stores (types from the names), client auth, the SASL
/// provider; fresh data dir.
fn write_cfg(dir: &Path, port: u16, secure_port: u16) -> std::path::PathBuf {
    let f = files();
    let mut lines = tls_lines(secure_port, &f.server_jks, None, Some(&f.trust_jks));
    lines.push("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".into());
    lines.push("authProvider.2=org.apache.zookeeper.server.auth.X509AuthenticationProvider".into());
    let _ = std::fs::remove_dir_all(dir.join("dropin-data"));
    write_zoo_cfg(dir, "dropin", port, &lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_runs_a_java_harness_command_line() {
    if !have_keytool() {
        return;
    }
    let dir = files().dir.join("dropin-ours");
    std::fs::create_dir_all(&dir).unwrap();
    let (port, secure_port) = (free_port(), free_port());
    let cfg = write_cfg(&dir, port, secure_port);
    let (binary, log) = spawn_binary(&harness_args(&dir, &cfg));
    assert!(
        !log.contains("system property ignored"),
        "every -D is known:\n{log}"
    );
    scenario(
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::from(([127, 0, 0, 1], secure_port)),
        "zk-testserver",
        UnknownUsers::Refused,
    )
    .await;
    drop(binary);
}

/// `java` with the same arguments, killed on drop.
struct Jvm(Child);

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ruok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let mut reply = String::new();
    s.write_all(b"ruok").is_ok() && s.read_to_string(&mut reply).is_ok() && reply == "imok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_zookeeper_runs_the_same_command_line() {
    if !have_keytool() || !require_real_zookeeper() {
        return;
    }
    let dir = files().dir.join("dropin-real");
    std::fs::create_dir_all(&dir).unwrap();
    let (port, secure_port) = (free_port(), free_port());
    let cfg = write_cfg(&dir, port, secure_port);
    let console = std::fs::File::create(dir.join("console.log")).unwrap();
    let jvm = Jvm(Command::new("java")
        .args(harness_args(&dir, &cfg))
        .stdin(Stdio::null())
        .stdout(console.try_clone().unwrap())
        .stderr(console)
        .spawn()
        .unwrap());
    let plain = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tokio::task::spawn_blocking(move || ruok(plain))
        .await
        .unwrap()
    {
        assert!(
            Instant::now() < deadline,
            "real ZooKeeper did not start:\n{}",
            std::fs::read_to_string(dir.join("zookeeper.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secure = SocketAddr::from(([127, 0, 0, 1], secure_port));
    crate::support::wait_listening(secure).await;
    scenario(plain, secure, "real ZooKeeper", UnknownUsers::Unchecked).await;
    drop(jvm);
}
