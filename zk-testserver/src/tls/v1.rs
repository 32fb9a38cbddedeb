//! X.509 version 1 certificates, which Java's TLS stack (and so real ZooKeeper) accepts and
//! webpki refuses (`UnsupportedCertVersion`). Tools such as kazoo's test harness (pyOpenSSL
//! without `set_version`) and `openssl x509 -req` without extensions make them.
//!
//! - The server's own chain is served as it is: [`certified_key`] pairs it with the signing
//!   key of the crypto provider without webpki parsing the certificate.
//! - Client certificates go through [`V1TolerantVerifier`]: webpki first; only a v1
//!   end-entity certificate that webpki refuses is verified here, and only when a CA of the
//!   trust store signed it directly (no intermediates), with its validity period checked.
//!   Its handshake signature is checked with its SubjectPublicKeyInfo, in TLS 1.2 and 1.3.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use x509_parser::asn1_rs::ToDer;
use x509_parser::prelude::{ASN1Time, FromDer, X509Certificate, X509Version};
use x509_parser::x509::SubjectPublicKeyInfo;

/// The certificate chain (end entity first) with its private key loaded through `provider`,
/// for a [`rustls::sign::SingleCertAndKey`] resolver. Unlike
/// `ConfigBuilder::with_single_cert`, the certificate need not be one webpki parses (v1
/// certificates are fine); the key must be usable by the provider and, when the provider
/// can tell its public key, match the certificate's.
pub(crate) fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let first = chain.first().ok_or("the key store holds no certificate")?;
    let (_, cert) = X509Certificate::from_der(first.as_ref())
        .map_err(|e| format!("the server certificate cannot be parsed: {e}"))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("the server's private key is unusable: {e}"))?;
    if let Some(spki) = signing.public_key() {
        if spki.as_ref() != cert.public_key().raw {
            return Err(
                "the server's private key does not match its certificate's public key".into(),
            );
        }
    }
    Ok(CertifiedKey::new(chain, signing))
}

/// A client certificate verifier that adds X.509 v1 end-entity certificates signed directly
/// by a trusted CA to what webpki accepts (see the module docs).
#[derive(Debug)]
pub(crate) struct V1TolerantVerifier {
    /// The webpki verifier over the same roots; it decides everything but v1 certificates.
    webpki: Arc<dyn ClientCertVerifier>,
    /// The trust store's CA certificates, to find a v1 certificate's issuer by name.
    roots: Vec<CertificateDer<'static>>,
    /// The provider's signature algorithms, for v1 certificates' handshake signatures.
    algorithms: WebPkiSupportedAlgorithms,
}

impl V1TolerantVerifier {
    pub(crate) fn new(
        webpki: Arc<dyn ClientCertVerifier>,
        roots: Vec<CertificateDer<'static>>,
        provider: &CryptoProvider,
    ) -> Self {
        V1TolerantVerifier {
            webpki,
            roots,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    /// Whether to verify this own way: a v1 certificate that webpki refused.
    fn is_v1(cert: &CertificateDer<'_>) -> bool {
        X509Certificate::from_der(cert.as_ref())
            .map(|(_, c)| c.version() == X509Version::V1)
            .unwrap_or(false)
    }

    /// Chain check of a v1 end entity: a trusted CA with the issuer's name whose key verifies
    /// its signature, and `now` inside its validity period.
    fn verify_v1(
        &self,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
        let (_, cert) = X509Certificate::from_der(end_entity.as_ref())
            .map_err(|_| bad(CertificateError::BadEncoding))?;
        let now = i64::try_from(now.as_secs())
            .ok()
            .and_then(|secs| ASN1Time::from_timestamp(secs).ok())
            .ok_or(bad(CertificateError::BadEncoding))?;
        let validity = cert.validity();
        if now < validity.not_before {
            return Err(bad(CertificateError::NotValidYet));
        }
        if now > validity.not_after {
            return Err(bad(CertificateError::Expired));
        }
        let mut named = false;
        for root in &self.roots {
            let Ok((_, ca)) = X509Certificate::from_der(root.as_ref()) else {
                continue;
            };
            if ca.subject() != cert.issuer() {
                continue;
            }
            named = true;
            if cert.verify_signature(Some(ca.public_key())).is_ok() {
                return Ok(());
            }
        }
        Err(bad(if named {
            CertificateError::BadSignature
        } else {
            CertificateError::UnknownIssuer
        }))
    }

    /// A TLS 1.2 signature by a v1 certificate's key: each algorithm of the scheme whose
    /// public key algorithm is the certificate's, as webpki tries them.
    fn verify_tls12_raw(
        &self,
        message: &[u8],
        spki: &SubjectPublicKeyInfo<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let bad = rustls::Error::InvalidCertificate(CertificateError::BadSignature);
        let alg_id = algorithm_id(spki).ok_or(bad.clone())?;
        let candidates = self
            .algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))?;
        let key = spki.subject_public_key.data.as_ref();
        let valid = candidates.iter().any(|alg| {
            alg.public_key_alg_id().as_ref() == alg_id.as_slice()
                && alg.verify_signature(key, message, dss.signature()).is_ok()
        });
        if valid {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(bad)
        }
    }
}

/// The contents of an AlgorithmIdentifier (OID then parameters, DER), as webpki's
/// `AlgorithmIdentifier` holds them.
fn algorithm_id(spki: &SubjectPublicKeyInfo<'_>) -> Option<Vec<u8>> {
    let mut out = spki.algorithm.algorithm.to_der_vec().ok()?;
    if let Some(params) = &spki.algorithm.parameters {
        out.extend(params.to_der_vec().ok()?);
    }
    Some(out)
}

/// The parsed certificate of a v1 end entity, for its key.
fn parse<'a>(cert: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, rustls::Error> {
    X509Certificate::from_der(cert.as_ref())
        .map(|(_, c)| c)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

impl ClientCertVerifier for V1TolerantVerifier {
    fn offer_client_auth(&self) -> bool {
        self.webpki.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.webpki.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e) if Self::is_v1(end_entity) => {
                self.verify_v1(end_entity, now).map_err(|v1| {
                    tracing::debug!(webpki = %e, v1 = %v1, "v1 client certificate refused");
                    v1
                })?;
                Ok(ClientCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self.webpki.verify_tls12_signature(message, cert, dss) {
            Err(_) if Self::is_v1(cert) => {
                let parsed = parse(cert)?;
                self.verify_tls12_raw(message, parsed.public_key(), dss)
            }
            other => other,
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self.webpki.verify_tls13_signature(message, cert, dss) {
            Err(_) if Self::is_v1(cert) => {
                let parsed = parse(cert)?;
                let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
                rustls::crypto::verify_tls13_signature_with_raw_key(
                    message,
                    &spki,
                    dss,
                    &self.algorithms,
                )
            }
            other => other,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
