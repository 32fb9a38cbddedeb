//! TLS for the secure client port: a rustls server config from a key store (PEM, JKS or
//! PKCS#12, see [`crate::keystore`]), optionally asking clients for certificates signed by a
//! CA of a trust store (`ssl.trustStore.location` with `ssl.clientAuth`), and the `x509`
//! identity a client certificate gives (ZooKeeper's `X509AuthenticationProvider`).
//!
//! Like Java's TLS stack, it takes X.509 v1 certificates (which webpki refuses) for the
//! server's own certificate and for client certificates signed directly by a trusted CA;
//! see the `v1` submodule.

mod v1;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use x509_parser::asn1_rs::ToDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keystore::{Identity, StoreFile, StoreType};
use crate::server::ClientAuth;

/// A rustls server config from a PEM certificate chain and key. With `client_auth`, client
/// certificates are verified against the CAs in that PEM trust store: required with
/// [`ClientAuth::Need`], optional with [`ClientAuth::Want`], not asked for with
/// [`ClientAuth::None`].
pub fn server_config(
    chain: &Path,
    key: &Path,
    client_auth: Option<(&Path, ClientAuth)>,
) -> Result<rustls::ServerConfig, String> {
    let identity = pem_identity(chain, key)?;
    let trust =
        client_auth.map(|(store, mode)| (StoreFile::new(store).store_type(StoreType::Pem), mode));
    server_config_from_stores(identity, trust.as_ref().map(|(s, m)| (s, *m)))
}

/// The certificate chain of one PEM file and the private key of another (or the same).
pub fn pem_identity(chain: &Path, key: &Path) -> Result<Identity, String> {
    let certs = StoreFile::new(chain)
        .store_type(StoreType::Pem)
        .load_trusted()?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key).map_err(|e| format!("{}: {e}", key.display()))?,
    ))
    .map_err(|e| format!("{}: {e}", key.display()))?
    .ok_or_else(|| format!("{}: no private key", key.display()))?;
    Ok(Identity { chain: certs, key })
}

/// A rustls server config from a loaded key store identity and an optional trust store with
/// its `ssl.clientAuth` mode.
pub fn server_config_from_stores(
    identity: Identity,
    client_auth: Option<(&StoreFile, ClientAuth)>,
) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_auth {
        None | Some((_, ClientAuth::None)) => builder.with_no_client_auth(),
        Some((store, mode)) => {
            let trusted = store.load_trusted()?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in &trusted {
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("{}: {e}", store.path.display()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = if mode == ClientAuth::Want {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("{}: {e}", store.path.display()))?;
            builder.with_client_cert_verifier(Arc::new(v1::V1TolerantVerifier::new(
                verifier, trusted, &provider,
            )))
        }
    };
    let certified = v1::certified_key(identity.chain, identity.key, &provider)?;
    Ok(builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified))))
}

/// The `x509` identity of a verified client certificate: its subject as Java's
/// `X500Principal.getName()` prints it (RFC 2253: the last RDN first, `,` between RDNs and
/// `+` inside one, known attribute types by keyword, others as dotted OID with a `#` hex
/// DER value, and RFC 2253 escaping). `None` if the certificate cannot be parsed.
pub fn x509_subject(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for attr in rdn.iter() {
            let oid = attr.attr_type().to_id_string();
            let value = attr.attr_value();
            let text = match keyword(&oid) {
                Some(name) => match attr.as_str() {
                    Ok(s) => format!("{name}={}", escape(s)),
                    Err(_) => format!("{name}=#{}", hex(value.to_der_vec().ok()?.as_slice())),
                },
                None => format!("{oid}=#{}", hex(value.to_der_vec().ok()?.as_slice())),
            };
            parts.push(text);
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// The keywords `X500Principal.getName(RFC2253)` uses.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 2253 escaping: `,+"\<>;` anywhere, `#` first, space first or last.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made with `openssl req -subj "/DC=org/C=DE/O=Acme, Inc./OU=dev+UID=u1/CN=alice"`;
    /// Java's `getSubjectX500Principal().getName()` prints it as asserted below.
    const OPENSSL_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIICIzCCAcmgAwIBAgIURqS6RdtIAS+Mv88TJWxcwn4yqJ0wCgYIKoZIzj0EAwIw
ZzETMBEGCgmSJomT8ixkARkWA29yZzELMAkGA1UEBhMCREUxEzARBgNVBAoMCkFj
bWUsIEluYy4xHjAKBgNVBAsMA2RldjAQBgoJkiaJk/IsZAEBDAJ1MTEOMAwGA1UE
AwwFYWxpY2UwHhcNMjYxMTI5MjIzNDU5WhcNMjYxMTMwMjIzNDU5WjBnMRMwEQYK
CZImiZPyLGQBGRYDb3JnMQswCQYDVQQGEwJERTETMBEGA1UECgwKQWNtZSwgSW5j
LjEeMAoGA1UECwwDZGV2MBAGCgmSJomT8ixkAQEMAnUxMQ4wDAYDVQQDDAVhbGlj
ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIxMsvCw8KCbun6oR5e1d57Y9bDN
u4lDmT+o/UH+/UXrZOL2gd7a/rHJoz4/saVdE36LO6X8DO3RVDc1adHgHIejUzBR
MB0GA1UdDgQWBBQxo0WkjzzPjveSu7Wqttn962lPtDAfBgNVHSMEGDAWgBQxo0Wk
jzzPjveSu7Wqttn962lPtDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQC41vyh6HjcEECqd4tRp4nABtS6TJtkfIqxDugdbIkCoQIgO9XnyJ1VpMWA
0G0J4VSJsazSTjI0GK8pW7cB1wFFEUM=
-----END CERTIFICATE-----";

    #[test]
    fn subjects_print_like_java() {
        let der = rustls_pemfile::certs(&mut OPENSSL_CERT.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            x509_subject(&der).as_deref(),
            Some(r"CN=alice,OU=dev+UID=u1,O=Acme\, Inc.,C=DE,DC=org")
        );
        assert_eq!(escape(" #a "), r"\ #a\ ");
        assert_eq!(x509_subject(&CertificateDer::from(vec![1, 2, 3])), None);
    }
}
