//! Key and trust stores as ZooKeeper reads them for TLS (`ssl.keyStore.*`,
//! `ssl.trustStore.*`): PEM, JKS and PKCS#12.
//!
//! The type comes from `ssl.keyStore.type` / `ssl.trustStore.type` (`PEM`, `JKS`, `PKCS12`, any
//! case) or, when not given, from the file name as ZooKeeper's `KeyStoreFileType` infers it:
//! `.pem`, `.jks`, `.p12` or `.pfx`. The key's password is the store's password, as in
//! ZooKeeper. PKCS#12 is read with the `p12-keystore` crate; JKS by [`jks`](self) code here.
//!
//! ```no_run
//! use zk_testserver::keystore::{StoreFile, StoreType};
//!
//! let store = StoreFile::new("/etc/zk/server.p12").password("secret");
//! assert_eq!(store.resolved_type().unwrap(), StoreType::Pkcs12);
//! let identity = store.load_identity().unwrap();
//! println!("{} certificates in the chain", identity.chain.len());
//! ```

mod jks;

use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The format of a key or trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreType {
    /// PEM: certificates and (for a key store) a private key, in one file.
    Pem,
    /// Java's proprietary JKS.
    Jks,
    /// PKCS#12 (`.p12`, `.pfx`), the JDK's default since Java 9.
    Pkcs12,
}

impl StoreType {
    /// Parses a `ssl.*.type` value (`PEM`, `JKS`, `PKCS12`; any case).
    pub fn parse(name: &str) -> Option<StoreType> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PEM" => Some(StoreType::Pem),
            "JKS" => Some(StoreType::Jks),
            "PKCS12" => Some(StoreType::Pkcs12),
            _ => None,
        }
    }

    /// The type ZooKeeper infers from a file name's extension (any case).
    pub fn from_path(path: &Path) -> Option<StoreType> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pem" => Some(StoreType::Pem),
            "jks" => Some(StoreType::Jks),
            "p12" | "pfx" => Some(StoreType::Pkcs12),
            _ => None,
        }
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreType::Pem => "PEM",
            StoreType::Jks => "JKS",
            StoreType::Pkcs12 => "PKCS12",
        })
    }
}

/// One store file: `ssl.keyStore.location` (or `trustStore`) with its password and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    /// The file.
    pub path: PathBuf,
    /// The store password (also the key's password), if any.
    pub password: Option<String>,
    /// The type; `None` infers it from the file name.
    pub store_type: Option<StoreType>,
}

/// A private key and its certificate chain (leaf first).
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl StoreFile {
    /// A store at `path`, type inferred from its name, no password.
    pub fn new(path: impl Into<PathBuf>) -> StoreFile {
        StoreFile {
            path: path.into(),
            password: None,
            store_type: None,
        }
    }

    /// Sets the password.
    pub fn password(mut self, password: impl Into<String>) -> StoreFile {
        self.password = Some(password.into());
        self
    }

    /// Sets the type.
    pub fn store_type(mut self, store_type: StoreType) -> StoreFile {
        self.store_type = Some(store_type);
        self
    }

    /// The explicit type, or the one inferred from the file name.
    pub fn resolved_type(&self) -> Result<StoreType, String> {
        self.store_type
            .or_else(|| StoreType::from_path(&self.path))
            .ok_or_else(|| {
                format!(
                    "{}: unable to infer the store type from the file name; set the type \
                     (PEM, JKS or PKCS12)",
                    self.path.display()
                )
            })
    }

    fn read(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    fn err(&self, e: impl fmt::Display) -> String {
        format!("{}: {e}", self.path.display())
    }

    /// Loads the private key and its chain (the first key entry of a JKS or PKCS#12 store).
    pub fn load_identity(&self) -> Result<Identity, String> {
        let data = self.read()?;
        let password = self.password.as_deref().unwrap_or("");
        match self.resolved_type()? {
            StoreType::Pem => {
                let chain = pem_certs(&data).map_err(|e| self.err(e))?;
                let key = rustls_pemfile::private_key(&mut BufReader::new(&data[..]))
                    .map_err(|e| self.err(e))?
                    .ok_or_else(|| self.err("no private key"))?;
                Ok(Identity { chain, key })
            }
            StoreType::Jks => {
                let store = jks::parse(&data, Some(password)).map_err(|e| self.err(e))?;
                let (key, chain) = store
                    .keys
                    .into_iter()
                    .next()
                    .ok_or_else(|| self.err("no private key entry"))?;
                Ok(identity(key, chain))
            }
            StoreType::Pkcs12 => {
                let store = p12_keystore::KeyStore::from_pkcs12(
                    &data,
                    password,
                    p12_keystore::Pkcs12ImportPolicy::Relaxed,
                )
                .map_err(|e| self.err(e))?;
                let (_, chain) = store
                    .private_key_chain()
                    .ok_or_else(|| self.err("no private key entry"))?;
                Ok(identity(
                    chain.key().as_der().to_vec(),
                    chain.certs().iter().map(|c| c.as_der().to_vec()).collect(),
                ))
            }
        }
        .and_then(|id: Identity| {
            if id.chain.is_empty() {
                Err(self.err("no certificate"))
            } else {
                Ok(id)
            }
        })
    }

    /// Loads the trusted certificates (every certificate in the store).
    pub fn load_trusted(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let data = self.read()?;
        let certs = match self.resolved_type()? {
            StoreType::Pem => pem_certs(&data).map_err(|e| self.err(e))?,
            StoreType::Jks => {
                // Java checks a trust store's integrity only when a password is given.
                let password = self.password.as_deref().filter(|p| !p.is_empty());
                let store = jks::parse(&data, password).map_err(|e| self.err(e))?;
                store
                    .trusted
                    .into_iter()
                    .chain(store.keys.into_iter().flat_map(|(_, chain)| chain))
                    .map(CertificateDer::from)
                    .collect()
            }
            StoreType::Pkcs12 => {
                let password = self.password.as_deref().unwrap_or("");
                let store = p12_keystore::KeyStore::from_pkcs12(
                    &data,
                    password,
                    p12_keystore::Pkcs12ImportPolicy::Raw,
                )
                .map_err(|e| self.err(e))?;
                store
                    .entries()
                    .filter_map(|(_, entry)| match entry {
                        p12_keystore::KeyStoreEntry::Certificate(c) => {
                            Some(CertificateDer::from(c.as_der().to_vec()))
                        }
                        _ => None,
                    })
                    .collect()
            }
        };
        if certs.is_empty() {
            return Err(self.err("no certificate"));
        }
        Ok(certs)
    }
}

fn identity(key: Vec<u8>, chain: Vec<Vec<u8>>) -> Identity {
    Identity {
        chain: chain.into_iter().map(CertificateDer::from).collect(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(with_ec_public_key(key))),
    }
}

/// Java encodes EC private keys without the optional public key, which ring (under rustls)
/// requires: re-encode P-256 and P-384 keys with it. Other keys are returned as they are.
fn with_ec_public_key(pkcs8: Vec<u8>) -> Vec<u8> {
    use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let reencoded = if let Ok(key) = p256::SecretKey::from_pkcs8_der(&pkcs8) {
        key.to_pkcs8_der().ok()
    } else if let Ok(key) = p384::SecretKey::from_pkcs8_der(&pkcs8) {
        key.to_pkcs8_der().ok()
    } else {
        None
    };
    reencoded.map_or(pkcs8, |doc| doc.as_bytes().to_vec())
}

fn pem_certs(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, std::io::Error> {
    rustls_pemfile::certs(&mut BufReader::new(data)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_names_and_extensions() {
        assert_eq!(StoreType::parse("pkcs12"), Some(StoreType::Pkcs12));
        assert_eq!(StoreType::parse(" JKS"), Some(StoreType::Jks));
        assert_eq!(StoreType::parse("BCFKS"), None);
        for (name, t) in [
            ("a/k.jks", Some(StoreType::Jks)),
            ("k.P12", Some(StoreType::Pkcs12)),
            ("k.pfx", Some(StoreType::Pkcs12)),
            ("k.pem", Some(StoreType::Pem)),
            ("k.store", None),
            ("k", None),
        ] {
            assert_eq!(StoreType::from_path(Path::new(name)), t, "{name}");
        }
        let err = StoreFile::new("/x/keys.bin").resolved_type().unwrap_err();
        assert!(err.contains("unable to infer"), "{err}");
        let explicit = StoreFile::new("/x/keys.bin").store_type(StoreType::Jks);
        assert_eq!(explicit.resolved_type(), Ok(StoreType::Jks));
    }
}
