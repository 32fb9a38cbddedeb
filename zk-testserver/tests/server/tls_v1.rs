//! X.509 version 1 certificates (what kazoo's test harness makes with pyOpenSSL, and what
//! `openssl x509 -req` makes without extensions): Java, so real ZooKeeper, takes them as the
//! server's certificate and as client certificates signed by a trusted CA; so do we.
//!
//! The v1 certificates are written here in DER (rcgen only makes v3) and signed with the
//! rustls provider's ECDSA P-256 signer, so the tests need no external tool.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, SubjectPublicKeyInfoDer,
    UnixTime,
};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{DigitallySignedStruct, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate};
use zk_proto::{perms, Acl, ConnectRequest, CreateRequest, ErrorCode, Id, Request};
use zk_testserver::{ClientAuth, TestServer, TlsFiles};

use crate::client::Client;

/// A DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// `Name` with one CN (UTF8String).
fn cn_name(cn: &str) -> Vec<u8> {
    let oid_cn = [0x06, 0x03, 0x55, 0x04, 0x03];
    let atv = seq(&[&oid_cn, &tlv(0x0c, cn.as_bytes())]);
    seq(&[&tlv(0x31, &atv)])
}

/// ECDSA P-256 signature with the provider's signer.
fn sign(key: &KeyPair, message: &[u8]) -> Vec<u8> {
    let provider = rustls::crypto::ring::default_provider();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = provider.key_provider.load_private_key(der).unwrap();
    let signer = signing
        .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256])
        .unwrap();
    signer.sign(message).unwrap()
}

/// A v1 certificate (no version field, no extensions) for `key` named CN=`cn`, issued under
/// `issuer_name` (DER) and signed with `issuer_key`, valid between two UTCTimes.
fn v1_cert(
    cn: &str,
    key: &KeyPair,
    issuer_name: &[u8],
    issuer_key: &KeyPair,
    validity: (&str, &str),
) -> CertificateDer<'static> {
    // ecdsa-with-SHA256, no parameters.
    let alg = seq(&[&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]]);
    let tbs = seq(&[
        &tlv(0x02, &[0x05]),
        &alg,
        issuer_name,
        &seq(&[
            &tlv(0x17, validity.0.as_bytes()),
            &tlv(0x17, validity.1.as_bytes()),
        ]),
        &cn_name(cn),
        &key.public_key_der(),
    ]);
    let mut bits = vec![0];
    bits.extend(sign(issuer_key, &tbs));
    let cert = CertificateDer::from(seq(&[&tbs, &alg, &tlv(0x03, &bits)]));
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).unwrap();
    assert_eq!(parsed.version().0, 0, "a v1 certificate");
    cert
}

const VALID: (&str, &str) = ("000101000000Z", "491231235959Z");
const EXPIRED: (&str, &str) = ("000101000000Z", "010101000000Z");

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A CA (v3, rcgen) with its key and subject name (DER).
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    name: Vec<u8>,
}

fn ca(cn: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (_, parsed) = X509Certificate::from_der(cert.der()).unwrap();
    let name = parsed.subject().as_raw().to_vec();
    Ca { cert, key, name }
}

/// A client identity: v1 certificate PEM and PKCS#8 key PEM.
struct Identity {
    cert: CertificateDer<'static>,
    key: KeyPair,
}

impl Identity {
    fn v1(cn: &str, issuer_name: &[u8], issuer_key: &KeyPair, validity: (&str, &str)) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = v1_cert(cn, &key, issuer_name, issuer_key, validity);
        Identity { cert, key }
    }
}

/// Temp files removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("zk-v1-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// A server whose secure port serves `server_pem` (key and chain) and needs client
/// certificates from `ca`.
async fn server(d: &Dir, server_pem: String, ca: &Ca) -> TestServer {
    let key_store = d.0.join("server.pem");
    std::fs::write(&key_store, server_pem).unwrap();
    let trust = d.0.join("ca.pem");
    std::fs::write(&trust, ca.cert.pem()).unwrap();
    TestServer::builder()
        .tls(
            TlsFiles {
                cert_chain: key_store.clone(),
                private_key: key_store,
            },
            0,
        )
        .tls_client_auth(trust, ClientAuth::Need)
        .start()
        .await
        .unwrap()
}

/// A v3 server certificate for localhost signed by `ca`, as key-then-chain PEM.
fn v3_server_pem(ca: &Ca) -> String {
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    format!("{}{}", key.serialize_pem(), cert.pem())
}

/// A ZooKeeper session over TLS (`version`) presenting `identity`, trusting `ca` or, with
/// `pinned`, exactly that server certificate; `None` when the server refuses (a TLS 1.2
/// handshake error, or with TLS 1.3 a connection closed at the first read).
async fn session(
    addr: SocketAddr,
    version: &'static rustls::SupportedProtocolVersion,
    ca: &Ca,
    identity: &Identity,
    pinned: Option<CertificateDer<'static>>,
) -> Option<Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[version])
        .unwrap();
    let builder = match pinned {
        Some(cert) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned(cert))),
        None => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert.der().clone()).unwrap();
            builder.with_root_certificates(roots)
        }
    };
    // `with_client_auth_cert` would parse the certificate with webpki, which refuses v1.
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.serialize_der()));
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let certified = CertifiedKey::new(vec![identity.cert.clone()], signing);
    let config = builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.ok()?;
    let req = ConnectRequest {
        timeout: 10_000,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    Client::handshake(Box::new(tls), req).await
}

const VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS12, &rustls::version::TLS13];

#[tokio::test]
async fn v1_client_certificates_from_a_trusted_ca_are_x509_identities() {
    let d = dir("client");
    let trusted = ca("v1 test CA");
    let srv = server(&d, v3_server_pem(&trusted), &trusted).await;
    let addr = srv.secure_addr().unwrap();
    let alice = Identity::v1("alice", &trusted.name, &trusted.key, VALID);
    // TLS 1.2 checks the CertificateVerify signature, TLS 1.3 the handshake signature, with
    // the v1 certificate's key.
    for (i, version) in VERSIONS.into_iter().enumerate() {
        let mut c = session(addr, version, &trusted, &alice, None)
            .await
            .unwrap_or_else(|| panic!("{version:?}: refused"));
        let path = format!("/v1-{i}");
        let (h, _) = c
            .call(Request::Create(CreateRequest {
                path: path.clone(),
                data: Some(Bytes::from_static(b"a")),
                acl: vec![Acl::new(perms::ALL, Id::new("x509", "CN=alice"))],
                flags: 0,
            }))
            .await;
        assert_eq!(h.err, ErrorCode::Ok, "{version:?}");
        // Only the session with alice's certificate reads it.
        let (data, _) = c.get_data(&path, false).await.unwrap();
        assert_eq!(data.as_deref(), Some(&b"a"[..]));
        let mut plain = Client::connect(srv.addr()).await;
        assert_eq!(
            plain.get_data(&path, false).await.unwrap_err(),
            ErrorCode::NoAuth
        );
    }
}

#[tokio::test]
async fn v1_client_certificates_are_refused_unless_signed_by_a_trusted_ca_and_current() {
    let d = dir("refused");
    let trusted = ca("v1 test CA");
    let other = ca("someone else's CA");
    let srv = server(&d, v3_server_pem(&trusted), &trusted).await;
    let addr = srv.secure_addr().unwrap();
    let good = Identity::v1("alice", &trusted.name, &trusted.key, VALID);
    let stranger = Identity::v1("mallory", &other.name, &other.key, VALID);
    // The trusted CA's name, another CA's signature.
    let forged = Identity::v1("mallory", &trusted.name, &other.key, VALID);
    let expired = Identity::v1("alice", &trusted.name, &trusted.key, EXPIRED);
    for version in VERSIONS {
        let opens = |id| session(addr, version, &trusted, id, None);
        assert!(opens(&good).await.is_some(), "{version:?}");
        assert!(opens(&stranger).await.is_none(), "{version:?}: other CA");
        assert!(opens(&forged).await.is_none(), "{version:?}: forged");
        assert!(opens(&expired).await.is_none(), "{version:?}: expired");
    }
}

/// Accepts exactly one server certificate (a v1 one, which webpki would refuse) and checks
/// the handshake signature with its key.
#[derive(Debug)]
struct Pinned(CertificateDer<'static>);

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "the test client offers TLS 1.3 only".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let (_, parsed) = X509Certificate::from_der(cert.as_ref()).unwrap();
        let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &spki,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ECDSA_NISTP256_SHA256]
    }
}

#[tokio::test]
async fn a_v1_server_certificate_is_served() {
    let d = dir("server");
    let trusted = ca("v1 test CA");
    let server_key = KeyPair::generate().unwrap();
    let server_cert = v1_cert("localhost", &server_key, &trusted.name, &trusted.key, VALID);
    let srv = server(
        &d,
        format!(
            "{}{}",
            server_key.serialize_pem(),
            pem(server_cert.as_ref())
        ),
        &trusted,
    )
    .await;
    let addr = srv.secure_addr().unwrap();
    let alice = Identity::v1("alice", &trusted.name, &trusted.key, VALID);
    let pinned = Some(server_cert.clone());
    let mut c = session(addr, &rustls::version::TLS13, &trusted, &alice, pinned)
        .await
        .expect("a session");
    assert_eq!(c.create("/served", b"", 0).await.unwrap(), "/served");
    // A key that is not the certificate's is a clear start error.
    let wrong = KeyPair::generate().unwrap();
    let key_store = d.0.join("mismatch.pem");
    std::fs::write(
        &key_store,
        format!("{}{}", wrong.serialize_pem(), pem(server_cert.as_ref())),
    )
    .unwrap();
    let Err(err) = TestServer::builder()
        .tls(
            TlsFiles {
                cert_chain: key_store.clone(),
                private_key: key_store,
            },
            0,
        )
        .start()
        .await
    else {
        panic!("a key that does not match its certificate must not start");
    };
    assert!(err.to_string().contains("does not match"), "{err}");
}
