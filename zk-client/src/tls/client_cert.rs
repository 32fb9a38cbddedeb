//! The client's own certificate, presented as it is.
//!
//! rustls's `with_client_auth_cert` parses the end-entity certificate with webpki to check
//! that the key matches it, and webpki refuses X.509 version 1 certificates
//! (`UnsupportedCertVersion`), which Java's TLS stack, and so real ZooKeeper, accepts (kazoo's
//! test harness and `openssl x509 -req` without extensions make them). The client never needs
//! to understand its own certificate, so here the key is loaded by the crypto provider and
//! compared with the certificate's SubjectPublicKeyInfo, found by walking the DER structure
//! (any version), and the pair is served by a [`SingleCertAndKey`] resolver.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};

/// Why a client certificate and key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientCertError {
    /// No certificate in the chain.
    Empty,
    /// The end-entity certificate is not a DER `Certificate`.
    Unreadable,
    /// The provider cannot sign with the key.
    UnusableKey,
    /// The key's public half is not the certificate's.
    Mismatch,
}

impl ClientCertError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ClientCertError::Empty => "no certificate in the client certificate PEM",
            ClientCertError::Unreadable => "the client certificate is not a DER X.509 certificate",
            ClientCertError::UnusableKey => "the client key is not usable by the TLS provider",
            ClientCertError::Mismatch => "client certificate and key do not match",
        }
    }
}

/// A resolver presenting `chain` (end entity first) with `key`, for X.509 v1, v2 and v3
/// end-entity certificates alike.
pub(crate) fn resolver(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> Result<Arc<SingleCertAndKey>, ClientCertError> {
    let end_entity = chain.first().ok_or(ClientCertError::Empty)?;
    let spki = subject_public_key_info(end_entity.as_ref()).ok_or(ClientCertError::Unreadable)?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| ClientCertError::UnusableKey)?;
    // A provider that cannot tell a key's public half leaves the check to the server, as
    // rustls does.
    if let Some(public) = signing.public_key() {
        if public.as_ref() != spki {
            return Err(ClientCertError::Mismatch);
        }
    }
    Ok(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
        chain, signing,
    ))))
}

const SEQUENCE: u8 = 0x30;
/// `[0] EXPLICIT`: the version field, absent from v1 certificates.
const VERSION_TAG: u8 = 0xa0;

/// The DER element at the start of `input`: its tag, its contents and what follows it.
/// Definite lengths of up to four bytes, as certificates use.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The SubjectPublicKeyInfo (the whole DER element) of a certificate:
///
/// ```text
/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
/// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT (v2, v3 only), serialNumber,
///     signature, issuer, validity, subject, subjectPublicKeyInfo, ... }
/// ```
fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, certificate, _) = element(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    if rest.first() == Some(&VERSION_TAG) {
        rest = element(rest)?.2;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = element(rest)?.2;
    }
    let (tag, _, after) = element(rest)?;
    (tag == SEQUENCE).then(|| &rest[..rest.len() - after.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_with_short_and_long_lengths() {
        assert_eq!(
            element(&[0x02, 0x01, 0x05, 0xff]),
            Some((0x02, &[5u8][..], &[0xffu8][..]))
        );
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend([7; 256]);
        let (tag, contents, rest) = element(&long).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 256, 0));
    }

    #[test]
    fn truncated_or_indefinite_elements_are_refused() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x03, 0x01],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x85, 1, 0, 0, 0, 0],
            &[0x30, 0x82, 0x01],
        ] {
            assert_eq!(element(bad), None, "{bad:?}");
        }
    }

    /// A certificate-shaped structure with the given version field, for the walk.
    fn certificate(version: Option<&[u8]>, spki: &[u8]) -> Vec<u8> {
        let wrap = |tag: u8, parts: &[&[u8]]| {
            let contents = parts.concat();
            let mut out = vec![tag, u8::try_from(contents.len()).unwrap()];
            out.extend(contents);
            out
        };
        let serial = wrap(0x02, &[&[1]]);
        let alg = wrap(SEQUENCE, &[&[0x06, 0x01, 0x2a]]);
        let name = wrap(SEQUENCE, &[]);
        let validity = wrap(SEQUENCE, &[]);
        let mut tbs_parts: Vec<&[u8]> = Vec::new();
        if let Some(v) = version {
            tbs_parts.push(v);
        }
        tbs_parts.extend([&serial[..], &alg, &name, &validity, &name, spki]);
        let tbs = wrap(SEQUENCE, &tbs_parts);
        let signature = wrap(0x03, &[&[0, 1, 2]]);
        wrap(SEQUENCE, &[&tbs, &alg, &signature])
    }

    #[test]
    fn the_public_key_is_found_with_and_without_a_version_field() {
        let spki = [SEQUENCE, 0x03, 0x03, 0x01, 0x00];
        let v3 = [VERSION_TAG, 0x03, 0x02, 0x01, 0x02];
        assert_eq!(
            subject_public_key_info(&certificate(None, &spki)),
            Some(&spki[..])
        );
        assert_eq!(
            subject_public_key_info(&certificate(Some(&v3), &spki)),
            Some(&spki[..])
        );
        // Not a sequence where the key belongs.
        assert_eq!(
            subject_public_key_info(&certificate(None, &[0x02, 0x01, 0x00])),
            None
        );
        // Every truncation of a certificate is refused, none panics.
        let whole = certificate(Some(&v3), &spki);
        for end in 0..whole.len() {
            assert_eq!(subject_public_key_info(&whole[..end]), None, "{end}");
        }
    }
}
