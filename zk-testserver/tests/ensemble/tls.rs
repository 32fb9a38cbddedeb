//! TLS on members' client ports (`secureClientPort`): the in-process ensemble serves TLS
//! clients on every member beside the plain port, a TLS session fails over to another member
//! after a kill, and client certificates give the `x509` identity there as on a standalone
//! server.

use std::path::PathBuf;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use zk_client::{perms, Acl, Client, CreateMode, CreateOptions, Id, TlsConfig};
use zk_testserver::{ClientAuth, Ensemble, TlsFiles};

use crate::support::{client_at, create_retrying, init_tracing, synced_read, within};

/// A CA, a server certificate for `localhost` and `127.0.0.1`, and a client certificate
/// (`CN=alice`), as PEM files in a temp dir removed on drop.
pub struct Pki {
    pub dir: PathBuf,
    /// The server's key and certificate in one file (`ssl.keyStore.location`, PEM).
    pub server_pem: PathBuf,
    /// The CA certificate (`ssl.trustStore.location`, PEM).
    pub ca_file: PathBuf,
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("zk-ens-pki-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "zk-rs ensemble test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key).unwrap();
        let server_pem = dir.join("server.pem");
        std::fs::write(
            &server_pem,
            format!("{}{}", server_key.serialize_pem(), server_cert.pem()),
        )
        .unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        Pki {
            dir,
            server_pem,
            ca_file,
            ca_pem: ca_cert.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    pub fn files(&self) -> TlsFiles {
        TlsFiles {
            cert_chain: self.server_pem.clone(),
            private_key: self.server_pem.clone(),
        }
    }

    /// Client TLS settings trusting the CA, with alice's certificate when `cert`.
    pub fn client_tls(&self, cert: bool) -> TlsConfig {
        let tls = TlsConfig::new(self.ca_pem.clone());
        if cert {
            tls.with_client_cert(self.client_cert_pem.clone(), self.client_key_pem.clone())
        } else {
            tls
        }
    }
}

/// A TLS client of `connect` with a 10 s session.
pub async fn tls_client(connect: &str, tls: TlsConfig) -> Client {
    within(10, "a TLS connect", async {
        Client::builder(connect)
            .tls(tls)
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("TLS connect")
    })
    .await
}

/// Every member serves TLS on its own secure port beside its plain port; a TLS session moves
/// to another member's secure port when its member is killed, keeping its session and every
/// acknowledged write; the killed member comes back on the same secure port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_reach_every_member_and_fail_over() {
    init_tracing();
    let pki = Pki::new("failover");
    let mut ensemble = Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .tls(pki.files())
        .start()
        .await
        .expect("a TLS ensemble starts");
    let ids = ensemble.member_ids();
    for &id in &ids {
        let secure = ensemble.secure_addr(id).expect("a secure port");
        assert_ne!(secure, ensemble.client_addr(id));
        let c = tls_client(&secure.to_string(), pki.client_tls(false)).await;
        assert!(create_retrying(&c, &format!("/tls-{id}"), b"t").await);
        // The plain port of another member serves the same tree.
        let other = ids[(usize::try_from(id).unwrap()) % ids.len()];
        let plain = client_at(ensemble.client_addr(other)).await;
        assert_eq!(
            synced_read(&plain, &format!("/tls-{id}")).await.as_deref(),
            Some(&b"t"[..])
        );
    }
    // A plain client on a secure port gets no session: the first bytes are not TLS.
    let plain_on_secure = Client::builder(ensemble.secure_addr(ids[0]).unwrap().to_string())
        .connection_timeout(Duration::from_millis(500))
        .connect()
        .await;
    assert!(
        plain_on_secure.is_err(),
        "a plain client got a TLS port session"
    );

    let connect = ensemble
        .secure_connect_string()
        .expect("TLS connect string");
    let c = tls_client(&connect, pki.client_tls(false)).await;
    let session = c.session_id();
    create_retrying(&c, "/before", b"1").await;
    let member = within(5, "the session's member", async {
        loop {
            if let Some(m) = ensemble.member_of_session(session.0).await {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let secure_before = ensemble.secure_addr(member);
    ensemble.kill(member);
    for i in 0..10 {
        create_retrying(&c, &format!("/after-{i}"), b"2").await;
    }
    assert_eq!(c.session_id(), session, "the TLS session survived the kill");
    let now = ensemble.member_of_session(session.0).await;
    assert!(now.is_some_and(|m| m != member), "moved to {now:?}");
    ensemble.restart(member).await.expect("restart");
    ensemble
        .wait_serving(member, Duration::from_secs(10))
        .await
        .expect("the restarted member serves");
    assert_eq!(ensemble.secure_addr(member), secure_before);
    let back = tls_client(&secure_before.unwrap().to_string(), pki.client_tls(false)).await;
    assert_eq!(
        synced_read(&back, "/after-9").await.as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(
        synced_read(&back, "/before").await.as_deref(),
        Some(&b"1"[..])
    );
}

/// With `ssl.clientAuth=need` every member refuses a TLS client without a certificate and
/// gives a certified one the `x509` identity, which ACLs honour on every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_authenticate_tls_client_certificates() {
    init_tracing();
    let pki = Pki::new("auth");
    let ca = pki.ca_file.clone();
    let ensemble = Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .tls(pki.files())
        .server_settings(|b| b.tls_client_auth(ca, ClientAuth::Need))
        .start()
        .await
        .expect("a TLS ensemble starts");
    let ids = ensemble.member_ids();
    let alice = tls_client(
        &ensemble.secure_addr(ids[0]).unwrap().to_string(),
        pki.client_tls(true),
    )
    .await;
    let creator = CreateOptions::new(CreateMode::Persistent).with_acl(Acl::creator_all());
    alice
        .create("/alice", b"a", &creator)
        .await
        .expect("create with the creator's ACL");
    assert_eq!(
        alice.get_acl("/alice").await.expect("get_acl").0,
        vec![Acl::new(perms::ALL, Id::new("x509", "CN=alice"))]
    );
    // Another member knows alice by her certificate too; a plain client is refused by the ACL.
    let again = tls_client(
        &ensemble.secure_addr(ids[2]).unwrap().to_string(),
        pki.client_tls(true),
    )
    .await;
    assert_eq!(
        synced_read(&again, "/alice").await.as_deref(),
        Some(&b"a"[..])
    );
    let plain = client_at(ensemble.client_addr(ids[1])).await;
    plain.sync("/alice").await.expect("sync");
    assert_eq!(
        plain.get_data("/alice").await.unwrap_err(),
        zk_client::Error::NoAuth
    );
    // No certificate: no session on any member's secure port.
    for &id in &ids {
        let anonymous = Client::builder(ensemble.secure_addr(id).unwrap().to_string())
            .tls(pki.client_tls(false))
            .connection_timeout(Duration::from_millis(500))
            .connect()
            .await;
        assert!(
            anonymous.is_err(),
            "member {id} took a client without a certificate"
        );
    }
}

/// Members apply the standalone server's connection settings on both ports: a connection
/// that completes no handshake within `nio.sessionlessCnxnTimeout` is closed (here 300 ms,
/// on a plain and on a secure port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_close_connections_without_a_handshake_in_time() {
    use tokio::io::AsyncReadExt;
    init_tracing();
    let pki = Pki::new("handshake");
    let ensemble = Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .tls(pki.files())
        .server_settings(|b| b.handshake_timeout(Duration::from_millis(300)))
        .start()
        .await
        .expect("a TLS ensemble starts");
    let id = ensemble.member_ids()[1];
    for addr in [
        ensemble.client_addr(id),
        ensemble.secure_addr(id).expect("a secure port"),
    ] {
        let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let started = std::time::Instant::now();
        let mut buf = [0u8; 16];
        let read = within(
            5,
            "the member closing a silent connection",
            silent.read(&mut buf),
        )
        .await;
        assert!(matches!(read, Ok(0) | Err(_)), "{addr}: {read:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{addr}: closed after {:?}",
            started.elapsed()
        );
    }
}
