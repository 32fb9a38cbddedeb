//! The secure client port: a TLS handshake, then the ordinary protocol inside it; client
//! certificates checked against a trusted CA (`ssl.clientAuth`).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use zk_proto::ConnectRequest;
use zk_testserver::{ClientAuth, TestServer, TlsFiles};

use crate::client::Client;

#[tokio::test]
async fn sessions_work_over_tls() {
    let dir = std::env::temp_dir().join(format!("zk-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    // One PEM file with key and certificate, as ZooKeeper's PEM key store takes it.
    let pem = dir.join("server.pem");
    std::fs::write(
        &pem,
        format!(
            "{}{}",
            certified.key_pair.serialize_pem(),
            certified.cert.pem()
        ),
    )
    .unwrap();
    let server = TestServer::builder()
        .tls(
            TlsFiles {
                cert_chain: pem.clone(),
                private_key: pem.clone(),
            },
            0,
        )
        .start()
        .await
        .unwrap();
    let secure = server.secure_addr().expect("a secure port");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(secure).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let mut c = Client::handshake(
        Box::new(tls),
        ConnectRequest {
            timeout: 10_000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.create("/tls", b"secret", 0).await.unwrap();
    // The plain port serves the same tree.
    let mut plain = Client::connect(server.addr()).await;
    let (data, _) = plain.get_data("/tls", false).await.unwrap();
    assert_eq!(data.as_deref(), Some(&b"secret"[..]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA, a server certificate for localhost and a client certificate, both signed by the CA,
/// plus a client certificate from a CA the server does not trust.
pub struct Pki {
    /// The directory holding the PEM files (removed on drop).
    pub dir: PathBuf,
    /// The CA certificate (`ssl.trustStore.location`).
    pub ca_pem: PathBuf,
    /// The server's key and certificate in one file (`ssl.keyStore.location`).
    pub server_pem: PathBuf,
    ca_der: CertificateDer<'static>,
    client: (CertificateDer<'static>, Vec<u8>),
    stranger: (CertificateDer<'static>, Vec<u8>),
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (params.self_signed(&key).unwrap(), key)
}

fn client_cert(
    cn: &str,
    issuer: &rcgen::Certificate,
    issuer_key: &KeyPair,
) -> (CertificateDer<'static>, Vec<u8>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer, issuer_key).unwrap();
    (cert.der().clone(), key.serialize_der())
}

impl Pki {
    /// Makes the certificates and writes the server's PEM files under a fresh temp dir.
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("zk-pki-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_cert, ca_key) = ca("zk-rs test CA");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = params.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        let server_pem = dir.join("server.pem");
        std::fs::write(
            &server_pem,
            format!("{}{}", server_key.serialize_pem(), server_cert.pem()),
        )
        .unwrap();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
        let client = client_cert("alice", &ca_cert, &ca_key);
        let (other_ca, other_key) = ca("someone else's CA");
        let stranger = client_cert("mallory", &other_ca, &other_key);
        Pki {
            dir,
            ca_pem,
            server_pem,
            ca_der: ca_cert.der().clone(),
            client,
            stranger,
        }
    }

    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            cert_chain: self.server_pem.clone(),
            private_key: self.server_pem.clone(),
        }
    }

    fn connector(
        &self,
        identity: Option<&(CertificateDer<'static>, Vec<u8>)>,
    ) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![cert.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
                )
                .unwrap(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

/// Who connects in [`connects`].
#[derive(Debug, Clone, Copy)]
pub enum As {
    /// With the CA-signed client certificate.
    Trusted,
    /// With a certificate from an untrusted CA.
    Stranger,
    /// Without a certificate.
    Anonymous,
}

/// Whether a TLS client gets a session on `addr`: a refused handshake (which TLS 1.3 reports
/// to the client only at its first read) or a closed connection is `false`.
pub async fn connects(pki: &Pki, addr: std::net::SocketAddr, who: As) -> bool {
    let identity = match who {
        As::Trusted => Some(&pki.client),
        As::Stranger => Some(&pki.stranger),
        As::Anonymous => None,
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let Ok(tls) = pki.connector(identity).connect(name, tcp).await else {
        return false;
    };
    let req = ConnectRequest {
        timeout: 10_000,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    let Some(mut c) = Client::handshake(Box::new(tls), req).await else {
        return false;
    };
    c.create("/who", b"", 0).await.is_ok_and(|p| p == "/who") && {
        c.delete("/who", -1).await.unwrap();
        true
    }
}

#[tokio::test]
async fn client_certificates_are_required_with_need() {
    let pki = Pki::new("need");
    let server = TestServer::builder()
        .tls(pki.tls_files(), 0)
        .tls_client_auth(&pki.ca_pem, ClientAuth::Need)
        .start()
        .await
        .unwrap();
    let secure = server.secure_addr().unwrap();
    assert!(
        connects(&pki, secure, As::Trusted).await,
        "a CA-signed client connects"
    );
    assert!(
        !connects(&pki, secure, As::Anonymous).await,
        "no certificate: refused"
    );
    assert!(
        !connects(&pki, secure, As::Stranger).await,
        "untrusted CA: refused"
    );
    // The server still serves, and the plain port is unaffected.
    assert!(connects(&pki, secure, As::Trusted).await);
    let mut plain = Client::connect(server.addr()).await;
    plain.create("/plain", b"", 0).await.unwrap();
}

#[tokio::test]
async fn client_certificates_are_optional_with_want() {
    let pki = Pki::new("want");
    let server = TestServer::builder()
        .tls(pki.tls_files(), 0)
        .tls_client_auth(&pki.ca_pem, ClientAuth::Want)
        .start()
        .await
        .unwrap();
    let secure = server.secure_addr().unwrap();
    assert!(connects(&pki, secure, As::Trusted).await);
    assert!(
        connects(&pki, secure, As::Anonymous).await,
        "want lets anonymous clients in"
    );
    assert!(
        !connects(&pki, secure, As::Stranger).await,
        "a certificate that is presented must verify"
    );
    let none = TestServer::builder()
        .tls(pki.tls_files(), 0)
        .tls_client_auth(&pki.ca_pem, ClientAuth::None)
        .start()
        .await
        .unwrap();
    let secure = none.secure_addr().unwrap();
    assert!(connects(&pki, secure, As::Anonymous).await);
}
