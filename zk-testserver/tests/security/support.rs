//! Files the tests share (made once per test binary): key stores written by `keytool`, a CA
//! and client certificates from rcgen, a JAAS file; plus launching the binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use zk_client::{Client, TlsConfig};

/// The store password of every key and trust store.
pub const STORE_PASSWORD: &str = "st0re-pass";
/// SASL users of the JAAS file.
pub const SASL_USER: &str = "bob";
pub const SASL_PASSWORD: &str = "bobsecret";
/// The digest super user's password (`super:<this>`).
pub const SUPER_PASSWORD: &str = "superpw";

pub const BIN: &str = env!("CARGO_BIN_EXE_zk-testserver");

/// Whether CI is set (then missing tools fail instead of skipping).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// A client certificate and key (PEM).
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Everything made once.
#[derive(Debug)]
pub struct Files {
    pub dir: PathBuf,
    /// `keytool -genkeypair -storetype JKS` (CN=localhost, SAN localhost and 127.0.0.1).
    pub server_jks: PathBuf,
    /// `keytool -genkeypair -storetype PKCS12`, named `.p12`.
    pub server_p12: PathBuf,
    /// The two servers' certificates (PEM), which clients trust.
    pub server_certs_pem: String,
    /// A JKS and a PKCS#12 trust store holding the client CA (`keytool -importcert`).
    pub trust_jks: PathBuf,
    pub trust_p12: PathBuf,
    /// Client certificates signed by that CA: CN=alice, CN=carol and CN=root.
    pub alice: ClientCert,
    pub carol: ClientCert,
    pub root: ClientCert,
    /// The JAAS file with a `Server` section for `bob` and `super`.
    pub jaas: PathBuf,
}

/// Starts `keytool` (a JVM start each: the JIT is kept cheap).
fn keytool(args: &[&str]) -> std::process::Child {
    Command::new("keytool")
        .args([
            "-J-XX:TieredStopAtLevel=1",
            "-J-XX:+UseSerialGC",
            "-J-Xshare:auto",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keytool runs (scripts/install-deps.sh installs it)")
}

/// Waits for keytool runs started together (they are independent JVMs).
fn wait_all(runs: Vec<std::process::Child>) {
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "keytool failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Whether keytool is on the PATH; fails in CI if not.
pub fn have_keytool() -> bool {
    let ok = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("keytool").is_file()));
    assert!(ok || !ci(), "keytool is required when CI is set");
    if !ok {
        eprintln!("skipping: no keytool; run scripts/install-deps.sh");
    }
    ok
}

fn client_cert(cn: &str, ca: &rcgen::Certificate, ca_key: &KeyPair) -> ClientCert {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca, ca_key).unwrap();
    ClientCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn make() -> Files {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("zk-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name);
    let s = |path: &Path| path.to_str().unwrap().to_string();
    let (server_jks, server_p12) = (p("server.jks"), p("server.p12"));
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "zk-rs client CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let ca_pem = p("client-ca.pem");
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    let (trust_jks, trust_p12) = (p("trust.jks"), p("trust.p12"));
    let mut runs = Vec::new();
    // An RSA key in the JKS store, an EC key (which Java encodes without its public key) in
    // the PKCS#12 one.
    for (store, kind, alg) in [
        (&server_jks, "JKS", ["-keyalg", "RSA", "-keysize", "2048"]),
        (
            &server_p12,
            "PKCS12",
            ["-keyalg", "EC", "-groupname", "secp256r1"],
        ),
    ] {
        let store = s(store);
        let args = [
            &["-genkeypair", "-alias", "server"][..],
            &alg,
            &[
                "-dname",
                "CN=localhost",
                "-ext",
                "san=dns:localhost,ip:127.0.0.1",
            ],
            &["-validity", "30", "-storetype", kind, "-keystore", &store],
            &["-storepass", STORE_PASSWORD, "-keypass", STORE_PASSWORD],
        ]
        .concat();
        runs.push(keytool(&args));
    }
    for (store, kind) in [(&trust_jks, "JKS"), (&trust_p12, "PKCS12")] {
        runs.push(keytool(&[
            "-importcert",
            "-noprompt",
            "-alias",
            "clientca",
            "-file",
            &s(&ca_pem),
            "-storetype",
            kind,
            "-keystore",
            &s(store),
            "-storepass",
            STORE_PASSWORD,
        ]));
    }
    wait_all(runs);
    // The servers' certificates, for clients to trust (read back with our own loader).
    let mut server_certs_pem = String::new();
    for store in [&server_jks, &server_p12] {
        let identity = zk_testserver::keystore::StoreFile::new(store)
            .password(STORE_PASSWORD)
            .load_identity()
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(identity.chain[0].as_ref());
        server_certs_pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            server_certs_pem.push_str(std::str::from_utf8(line).unwrap());
            server_certs_pem.push('\n');
        }
        server_certs_pem.push_str("-----END CERTIFICATE-----\n");
    }
    let jaas = p("jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "Server {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    \
             user_super=\"adminsecret\"\n    user_{SASL_USER}=\"{SASL_PASSWORD}\";\n}};\n"
        ),
    )
    .unwrap();
    Files {
        alice: client_cert("alice", &ca, &ca_key),
        carol: client_cert("carol", &ca, &ca_key),
        root: client_cert("root", &ca, &ca_key),
        dir,
        server_jks,
        server_p12,
        server_certs_pem,
        trust_jks,
        trust_p12,
        jaas,
    }
}

/// The shared files (made on first use; needs keytool).
pub fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(make)
}

/// A free loopback port (released at once; the server binds it shortly after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `super:BASE64(SHA1("super:<SUPER_PASSWORD>"))`.
pub fn super_digest() -> String {
    zk_testserver::acl::digest_id(&format!("super:{SUPER_PASSWORD}"))
}

/// TLS settings trusting the servers' certificates, presenting `cert` if given.
pub fn tls(cert: Option<&ClientCert>) -> TlsConfig {
    let config = TlsConfig::new(files().server_certs_pem.clone());
    match cert {
        Some(c) => config.with_client_cert(c.cert_pem.clone(), c.key_pem.clone()),
        None => config,
    }
}

/// A client of `addr` over TLS (presenting `cert`), with these SASL credentials.
pub async fn connect(
    addr: SocketAddr,
    tls_cert: Option<Option<&ClientCert>>,
    sasl: Option<(&str, &str)>,
) -> zk_client::Result<Client> {
    // Generous: a JVM's first TLS handshakes take seconds on a loaded machine, and one
    // connection attempt gets two thirds of the session timeout.
    let mut b = Client::builder(addr.to_string()).session_timeout(Duration::from_secs(30));
    if let Some(cert) = tls_cert {
        b = b.tls(tls(cert));
    }
    if let Some((user, password)) = sasl {
        b = b.sasl_digest(user, password);
    }
    b.connect().await
}

/// The binary, running until dropped (killed then).
pub struct Binary {
    child: Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits for its "serving" line; the lines logged until
/// then are returned too.
pub fn spawn_binary(args: &[String]) -> (Binary, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut log = String::new();
    let binary = Binary { child };
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("zk-testserver serving") {
                    return (binary, log);
                }
            }
            Err(e) => panic!("the binary did not log that it serves ({e}):\n{log}"),
        }
    }
}

/// Waits until something accepts TCP connections at `addr` (real ZooKeeper opens its secure
/// port only after the plain one serves, seconds later on a loaded machine).
pub async fn wait_listening(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
