//! TLS for the secure client port: a rustls server config from PEM files.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A rustls server config (no client authentication) from a PEM certificate chain and key.
pub fn server_config(chain: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(chain).map_err(|e| format!("{}: {e}", chain.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| format!("{}: {e}", chain.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", chain.display()));
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key).map_err(|e| format!("{}: {e}", key.display()))?,
    ))
    .map_err(|e| format!("{}: {e}", key.display()))?
    .ok_or_else(|| format!("{}: no private key", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())
}
