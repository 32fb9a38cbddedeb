//! TLS for the secure client port: a rustls server config from PEM files, optionally asking
//! clients for certificates signed by a trusted CA (`ssl.trustStore.location` with
//! `ssl.clientAuth`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;

use crate::server::ClientAuth;

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(path).map_err(|e| format!("{}: {e}", path.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}

/// A rustls server config from a PEM certificate chain and key. With `client_auth`, client
/// certificates are verified against the CAs in that PEM trust store: required with
/// [`ClientAuth::Need`], optional with [`ClientAuth::Want`], not asked for with
/// [`ClientAuth::None`].
pub fn server_config(
    chain: &Path,
    key: &Path,
    client_auth: Option<(&Path, ClientAuth)>,
) -> Result<rustls::ServerConfig, String> {
    let certs = read_certs(chain)?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key).map_err(|e| format!("{}: {e}", key.display()))?,
    ))
    .map_err(|e| format!("{}: {e}", key.display()))?
    .ok_or_else(|| format!("{}: no private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_auth {
        None | Some((_, ClientAuth::None)) => builder.with_no_client_auth(),
        Some((store, mode)) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(store)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", store.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Want {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{}: {e}", store.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())
}
