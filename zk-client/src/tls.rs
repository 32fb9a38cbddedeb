//! TLS with rustls (feature `tls`): an explicit CA, an optional client certificate, no
//! default roots.

use std::io;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::{ArgumentError, Error, Result};

mod client_cert;

/// TLS settings for [`ClientBuilder::tls`](crate::ClientBuilder::tls).
///
/// Servers are verified against the given CA certificates only (no system roots), and their
/// certificate must name the host of the connect string, or [`TlsConfig::with_server_name`].
#[derive(Clone)]
pub struct TlsConfig {
    ca_pem: Vec<u8>,
    client: Option<(Vec<u8>, Vec<u8>)>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("client_cert", &self.client.is_some())
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Trusts the CA certificates in `ca_pem` (PEM, one or more certificates).
    pub fn new(ca_pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig {
            ca_pem: ca_pem.into(),
            client: None,
            server_name: None,
        }
    }

    /// Presents a client certificate chain (PEM) with its private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1), for servers with `ssl.clientAuth=need`. X.509 version 1 certificates are
    /// presented too (real ZooKeeper accepts them from a trusted CA; rustls's own loader
    /// refuses them).
    pub fn with_client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Verifies every server against this name instead of the host it was reached by.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    pub(crate) fn connector(&self) -> Result<TlsConnector> {
        let bad = |reason: &'static str| Error::BadArguments(ArgumentError::InvalidTls(reason));
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> =
            rustls_pemfile::certs(&mut self.ca_pem.as_slice())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("unreadable CA PEM"))?;
        if certs.is_empty() {
            return Err(bad("no CA certificate in the PEM"));
        }
        for cert in certs {
            roots.add(cert).map_err(|_| bad("invalid CA certificate"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|_| bad("no usable TLS protocol version"))?
            .with_root_certificates(roots);
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain: Vec<CertificateDer<'static>> =
                    rustls_pemfile::certs(&mut cert_pem.as_slice())
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|_| bad("unreadable client certificate PEM"))?;
                let key: PrivateKeyDer<'static> =
                    rustls_pemfile::private_key(&mut key_pem.as_slice())
                        .map_err(|_| bad("unreadable client key PEM"))?
                        .ok_or_else(|| bad("no private key in the client key PEM"))?;
                let resolver =
                    client_cert::resolver(chain, key, &provider).map_err(|e| bad(e.reason()))?;
                builder.with_client_cert_resolver(resolver)
            }
        };
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name: self.server_name.clone(),
        })
    }
}

/// A ready connector.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    pub(crate) async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = self.server_name.as_deref().unwrap_or(host).to_string();
        let name = ServerName::try_from(name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.inner.connect(name, stream).await
    }
}
