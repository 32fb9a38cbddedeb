//! Java's proprietary `JKS` key store format (`sun.security.provider.JavaKeyStore`), read-only.
//!
//! No well-kept crate reads it, and the format is small:
//!
//! ```text
//! u32 magic 0xFEEDFEED · u32 version (1 or 2) · u32 count · count entries · 20-byte SHA-1
//! entry: u32 tag (1 private key, 2 trusted certificate) · UTF alias · u64 timestamp ·
//!   tag 1: u32 len · EncryptedPrivateKeyInfo · u32 n · n × certificate
//!   tag 2: certificate
//! certificate: (version 2: UTF type "X.509") · u32 len · DER
//! ```
//!
//! Strings are Java's modified UTF-8 with a u16 length. The trailing digest is
//! SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ everything before it). A private key is
//! protected by Sun's `KeyProtector` (OID 1.3.6.1.4.1.42.2.17.1.1): the encrypted blob is
//! `salt(20) ‖ key XOR keystream ‖ check(20)`, the keystream is the chain of
//! SHA-1(password ‖ previous block) starting from the salt, and `check` is
//! SHA-1(password ‖ plain key). The plain key is a PKCS#8 PrivateKeyInfo.

use sha1::{Digest, Sha1};

/// What a JKS file holds.
#[derive(Debug, Default)]
pub(super) struct Jks {
    /// Private key entries: the PKCS#8 key and its certificate chain (DER), in file order.
    pub(super) keys: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Trusted certificate entries (DER), in file order.
    pub(super) trusted: Vec<Vec<u8>>,
}

const MAGIC: u32 = 0xFEED_FEED;
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const DIGEST_LEN: usize = 20;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("truncated key store")?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn len(&mut self) -> Result<usize, String> {
        usize::try_from(self.u32()?).map_err(|_| "length out of range".to_string())
    }
    fn utf(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()?;
        self.take(n)
    }
    fn cert(&mut self, version: u32) -> Result<Vec<u8>, String> {
        if version == 2 {
            let kind = self.utf()?;
            if kind != b"X.509" {
                return Err(format!(
                    "unsupported certificate type {:?}",
                    String::from_utf8_lossy(kind)
                ));
            }
        }
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }
}

/// The password as Java hands it to the JKS code: UTF-16BE code units.
fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Parses and verifies a JKS file; private keys are decrypted with `password` (ZooKeeper uses
/// the store password for the keys too). Without a password (a trust store read with none)
/// the integrity digest is not checked, as Java does, and key entries are refused.
pub(super) fn parse(data: &[u8], password: Option<&str>) -> Result<Jks, String> {
    if data.len() < 12 + DIGEST_LEN {
        return Err("not a JKS key store: too short".into());
    }
    let (body, digest) = data.split_at(data.len() - DIGEST_LEN);
    let pw = password.map(password_bytes);
    if let Some(pw) = &pw {
        let mut h = Sha1::new();
        h.update(pw);
        h.update(b"Mighty Aphrodite");
        h.update(body);
        if h.finalize().as_slice() != digest {
            return Err("key store password was incorrect (JKS integrity check failed)".into());
        }
    }
    let mut r = Reader { data: body, pos: 0 };
    if r.u32()? != MAGIC {
        return Err("not a JKS key store (bad magic)".into());
    }
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("unsupported JKS version {version}"));
    }
    let count = r.u32()?;
    let mut out = Jks::default();
    for _ in 0..count {
        let tag = r.u32()?;
        let _alias = r.utf()?;
        let _timestamp = r.take(8)?;
        match tag {
            1 => {
                let n = r.len()?;
                let protected = r.take(n)?;
                let chain_len = r.u32()?;
                let mut chain = Vec::new();
                for _ in 0..chain_len {
                    chain.push(r.cert(version)?);
                }
                let pw = pw
                    .as_deref()
                    .ok_or("a private key entry needs a password")?;
                out.keys.push((recover_key(protected, pw)?, chain));
            }
            2 => out.trusted.push(r.cert(version)?),
            3 => return Err("secret key entries (JCEKS) are not supported".into()),
            t => return Err(format!("unknown JKS entry tag {t}")),
        }
    }
    if r.pos != body.len() {
        return Err("trailing bytes in the JKS key store".into());
    }
    Ok(out)
}

/// One DER element at the start of `data`: (tag, contents, rest).
fn der(data: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let bad = || "malformed EncryptedPrivateKeyInfo".to_string();
    let (&tag, rest) = data.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Undoes Sun's KeyProtector on an EncryptedPrivateKeyInfo.
fn recover_key(info: &[u8], password: &[u8]) -> Result<Vec<u8>, String> {
    let (tag, seq, _) = der(info)?;
    let (alg_tag, alg, rest) = der(seq)?;
    let (oct_tag, blob, _) = der(rest)?;
    let (oid_tag, oid, _) = der(alg)?;
    if tag != 0x30 || alg_tag != 0x30 || oct_tag != 0x04 || oid_tag != 0x06 {
        return Err("malformed EncryptedPrivateKeyInfo".into());
    }
    if oid != KEY_PROTECTOR_OID {
        return Err("private key not protected by the JKS key protector".into());
    }
    if blob.len() < 2 * DIGEST_LEN {
        return Err("protected key too short".into());
    }
    let salt = &blob[..DIGEST_LEN];
    let encrypted = &blob[DIGEST_LEN..blob.len() - DIGEST_LEN];
    let check = &blob[blob.len() - DIGEST_LEN..];
    let mut key = Vec::with_capacity(encrypted.len());
    let mut block: Vec<u8> = salt.to_vec();
    for chunk in encrypted.chunks(DIGEST_LEN) {
        let mut h = Sha1::new();
        h.update(password);
        h.update(&block);
        block = h.finalize().to_vec();
        key.extend(chunk.iter().zip(&block).map(|(c, k)| c ^ k));
    }
    let mut h = Sha1::new();
    h.update(password);
    h.update(&key);
    if h.finalize().as_slice() != check {
        return Err("cannot recover the private key: wrong password".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a JKS the way Java does (the inverse of `parse`), for round trips.
    fn write(password: &str, key: Option<(&[u8], &[u8])>, trusted: &[&[u8]]) -> Vec<u8> {
        let pw = password_bytes(password);
        let mut out = Vec::new();
        out.extend(MAGIC.to_be_bytes());
        out.extend(2u32.to_be_bytes());
        let count = u32::try_from(trusted.len() + usize::from(key.is_some())).unwrap();
        out.extend(count.to_be_bytes());
        let cert = |out: &mut Vec<u8>, der: &[u8]| {
            out.extend(5u16.to_be_bytes());
            out.extend(b"X.509");
            out.extend(u32::try_from(der.len()).unwrap().to_be_bytes());
            out.extend(der);
        };
        if let Some((plain, chain_cert)) = key {
            out.extend(1u32.to_be_bytes());
            out.extend(3u16.to_be_bytes());
            out.extend(b"key");
            out.extend(0u64.to_be_bytes());
            let salt = [7u8; 20];
            let mut blob = salt.to_vec();
            let mut block = salt.to_vec();
            for chunk in plain.chunks(20) {
                let mut h = Sha1::new();
                h.update(&pw);
                h.update(&block);
                block = h.finalize().to_vec();
                blob.extend(chunk.iter().zip(&block).map(|(c, k)| c ^ k));
            }
            let mut h = Sha1::new();
            h.update(&pw);
            h.update(plain);
            blob.extend(h.finalize());
            let mut alg = vec![0x06, KEY_PROTECTOR_OID.len() as u8];
            alg.extend(KEY_PROTECTOR_OID);
            alg.extend([0x05, 0x00]);
            let mut seq = vec![0x30, alg.len() as u8];
            seq.extend(alg);
            seq.extend([0x04, 0x81, blob.len() as u8]);
            seq.extend(&blob);
            let mut info = vec![0x30, 0x81, seq.len() as u8];
            info.extend(seq);
            out.extend(u32::try_from(info.len()).unwrap().to_be_bytes());
            out.extend(info);
            out.extend(1u32.to_be_bytes());
            cert(&mut out, chain_cert);
        }
        for der in trusted {
            out.extend(2u32.to_be_bytes());
            out.extend(2u16.to_be_bytes());
            out.extend(b"ca");
            out.extend(0u64.to_be_bytes());
            cert(&mut out, der);
        }
        let mut h = Sha1::new();
        h.update(&pw);
        h.update(b"Mighty Aphrodite");
        h.update(&out);
        let digest = h.finalize();
        out.extend(digest);
        out
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let plain: Vec<u8> = (0..=120u8).collect();
        let data = write("pässwörd", Some((&plain, b"cert")), &[b"ca-cert"]);
        let jks = parse(&data, Some("pässwörd")).unwrap();
        assert_eq!(jks.keys, vec![(plain, vec![b"cert".to_vec()])]);
        assert_eq!(jks.trusted, vec![b"ca-cert".to_vec()]);
        assert!(parse(&data, Some("wrong"))
            .unwrap_err()
            .contains("password"));
        // A trust store may be read without a password; key entries then cannot be.
        let trust = write("x", None, &[b"ca-cert"]);
        assert_eq!(parse(&trust, None).unwrap().trusted.len(), 1);
        assert!(parse(&data, None).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let data = write("pw", Some((&[1, 2, 3], b"c")), &[b"t"]);
        for cut in 0..data.len() {
            let _ = parse(&data[..cut], Some("pw"));
            let _ = parse(&data[..cut], None);
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0xff;
            let _ = parse(&d, None);
        }
    }
}
