//! TLS (feature `tls`) against the server's `secureClientPort` (ZooKeeper's Netty one, or
//! zk-testserver's rustls one).

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use zk_client::{Client, CreateOptions, Error, TlsConfig};

use super::support::{self, blocking, free_port, launch, unique_path, ServerOptions, TlsOptions};

struct Pki {
    ca_pem: String,
    server_pem: String,
    other_ca_pem: String,
}

fn make_pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other_params.self_signed(&other_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_pem: format!("{}{}", server_key.serialize_pem(), server.pem()),
        other_ca_pem: other.pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connection_with_explicit_ca() {
    if !support::available()
        || support::skip_on_ensemble(
            "one fixed TLS port per test; members serve TLS in zk-testserver tests/ensemble/tls.rs",
        )
    {
        return;
    }
    let pki = make_pki();
    let dir = std::env::temp_dir().join(format!("zk-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_file = dir.join("server.pem");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&server_file, &pki.server_pem).unwrap();
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let port = free_port();
    let opts = ServerOptions {
        tls: Some(TlsOptions {
            port,
            key_and_chain: server_file,
            ca: ca_file,
            client_auth: false,
        }),
        ..ServerOptions::default()
    };
    let cluster = blocking(move || launch(1, &opts)).await;

    let secure = format!("127.0.0.1:{port}");
    let client = Client::builder(&secure)
        .tls(TlsConfig::new(pki.ca_pem.clone()))
        .connection_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    let path = unique_path("tls");
    client
        .create(&path, b"secret", &CreateOptions::default())
        .await
        .unwrap();
    // The plain port sees the same data.
    let plain = Client::connect(&support::one_member(&cluster))
        .await
        .unwrap();
    assert_eq!(&plain.get_data(&path).await.unwrap().0[..], b"secret");
    client.close().await.unwrap();

    // A server certificate from another CA is refused.
    let untrusted = Client::builder(&secure)
        .tls(TlsConfig::new(pki.other_ca_pem.clone()))
        .connection_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert_eq!(untrusted.err(), Some(Error::NoHosts));
    // A name the certificate does not carry is refused too.
    let wrong_name = Client::builder(&secure)
        .tls(TlsConfig::new(pki.ca_pem.clone()).with_server_name("example.invalid"))
        .connection_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert_eq!(wrong_name.err(), Some(Error::NoHosts));
    assert!(matches!(
        Client::builder(&secure)
            .tls(TlsConfig::new("not a pem"))
            .connect()
            .await,
        Err(Error::BadArguments(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
