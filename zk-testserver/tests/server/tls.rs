//! The secure client port: a TLS handshake, then the ordinary protocol inside it.

use std::sync::Arc;

use bytes::Bytes;
use zk_proto::ConnectRequest;
use zk_testserver::{TestServer, TlsFiles};

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
