//! An X.509 version 1 client certificate (as kazoo's harness and `openssl x509 -req` without
//! extensions make them) presented with `TlsConfig::with_client_cert`, to a server that needs
//! client certificates: the session gets the certificate's subject as its `x509` identity.
//!
//! rcgen only makes v3 certificates, so the v1 one is written here in DER and signed with
//! the rustls provider's ECDSA P-256 signer.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::SignatureScheme;
use x509_parser::prelude::{FromDer, X509Certificate};
use zk_client::{perms, Acl, Client, CreateOptions, Error, Id, TlsConfig};

use super::support::{self, blocking, free_port, launch, unique_path, ServerOptions, TlsOptions};

/// A DER element: `tag`, a definite length, `contents`.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(contents);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// The X.509 v1 certificate of `subject_key`, named `CN=<cn>`, issued by the CA named
/// `issuer` (DER) and signed with `issuer_key` (ECDSA P-256 with SHA-256).
fn v1_certificate(cn: &str, subject_key: &KeyPair, issuer: &[u8], issuer_key: &KeyPair) -> Vec<u8> {
    // id-at-commonName, and ecdsa-with-SHA256 without parameters.
    let common_name = [0x06, 0x03, 0x55, 0x04, 0x03];
    let ecdsa_sha256 = sequence(&[&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]]);
    let subject = sequence(&[&der(
        0x31,
        &sequence(&[&common_name, &der(0x0c, cn.as_bytes())]),
    )]);
    let validity = sequence(&[&der(0x17, b"200101000000Z"), &der(0x17, b"491231235959Z")]);
    // No version field: that is what makes it v1.
    let tbs = sequence(&[
        &der(0x02, &[0x2a]),
        &ecdsa_sha256,
        issuer,
        &validity,
        &subject,
        &subject_key.public_key_der(),
    ]);
    let provider = rustls::crypto::ring::default_provider();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issuer_key.serialize_der()));
    let signer = provider
        .key_provider
        .load_private_key(key)
        .unwrap()
        .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256])
        .unwrap();
    let mut bits = vec![0];
    bits.extend(signer.sign(&tbs).unwrap());
    let cert = sequence(&[&tbs, &ecdsa_sha256, &der(0x03, &bits)]);
    let (_, parsed) = X509Certificate::from_der(&cert).unwrap();
    assert_eq!(parsed.version().0, 0, "a v1 certificate");
    cert
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_client_certificate_is_the_sessions_x509_identity() {
    if !support::available()
        || support::skip_on_ensemble(
            "one fixed TLS port per test; members serve TLS in zk-testserver tests/ensemble/tls.rs",
        )
    {
        return;
    }
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "zk-client v1 test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let (_, parsed_ca) = X509Certificate::from_der(ca.der()).unwrap();
    let ca_name = parsed_ca.subject().as_raw().to_vec();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let alice_key = KeyPair::generate().unwrap();
    let alice = pem(&v1_certificate("alice", &alice_key, &ca_name, &ca_key));

    let dir = std::env::temp_dir().join(format!("zk-client-tls-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_file = dir.join("server.pem");
    let ca_file = dir.join("ca.pem");
    std::fs::write(
        &server_file,
        format!("{}{}", server_key.serialize_pem(), server.pem()),
    )
    .unwrap();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let port = free_port();
    let opts = ServerOptions {
        tls: Some(TlsOptions {
            port,
            key_and_chain: server_file,
            ca: ca_file,
            client_auth: true,
        }),
        ..ServerOptions::default()
    };
    let cluster = blocking(move || launch(1, &opts)).await;
    let secure = format!("127.0.0.1:{port}");
    let tls = TlsConfig::new(ca.pem());

    let client = Client::builder(&secure)
        .tls(
            tls.clone()
                .with_client_cert(alice.clone(), alice_key.serialize_pem()),
        )
        .connection_timeout(Duration::from_secs(20))
        .connect()
        .await
        .expect("a session with the v1 client certificate");
    let path = unique_path("tls-v1");
    let only_alice = vec![Acl::new(perms::ALL, Id::new("x509", "CN=alice"))];
    client
        .create(
            &path,
            b"for alice",
            &CreateOptions::default().with_acl(only_alice),
        )
        .await
        .unwrap();
    assert_eq!(&client.get_data(&path).await.unwrap().0[..], b"for alice");
    // The identity came from the certificate: a session without it may not read.
    let plain = Client::connect(&support::one_member(&cluster))
        .await
        .unwrap();
    assert_eq!(plain.get_data(&path).await, Err(Error::NoAuth));
    client.close().await.unwrap();

    // The server needs a certificate: without one there is no session.
    let anonymous = Client::builder(&secure)
        .tls(tls.clone())
        .connection_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert_eq!(anonymous.err(), Some(Error::NoHosts));
    // A key that is not the certificate's is refused before connecting.
    let other_key = KeyPair::generate().unwrap();
    let mismatched = Client::builder(&secure)
        .tls(tls.with_client_cert(alice, other_key.serialize_pem()))
        .connect()
        .await;
    assert!(
        matches!(mismatched, Err(Error::BadArguments(_))),
        "{mismatched:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
