//! Access control: the `world`, `auth`, `digest`, `ip`, `sasl` and `x509` schemes, the super
//! user, and the checks ZooKeeper runs (`checkACL`, `fixupACL`, getACL masking).
//!
//! A connection's identities are a list of [`Id`]s: `ip:<client address>` from the start, plus
//! `x509:<subject>` for a verified TLS client certificate, one `digest:user:hash` per
//! successful `addAuth`, `sasl:<user>` after a SASL exchange, plus `super:` when the digest
//! matches the configured super digest (or the SASL user or certificate subject is the
//! configured super user). Authentication belongs to the connection, not the session: a client
//! re-sends its auth packets after reconnecting.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};
use zk_proto::{perms, Acl, ErrorCode, Id};

/// `user:base64(sha1("user:password"))`: the id a digest credential `user:password` maps to.
pub fn digest_id(credentials: &str) -> String {
    let user = credentials.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credentials.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The outcome of an `auth` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The identities to add to the connection.
    Added(Vec<Id>),
    /// Unknown scheme or bad credentials: reply AuthFailed and close.
    Failed,
}

/// Handles `addAuth(scheme, auth)` as Java's providers do: any digest credential is accepted
/// (the user is the part before the first `:`); one matching `super_digest` (`super:BASE64`)
/// also grants `super:`, listed first. `ip` adds nothing new (the connection already has its
/// address). Other schemes fail.
pub fn authenticate(scheme: &str, auth: &[u8], super_digest: Option<&str>) -> AuthOutcome {
    match scheme {
        "digest" => {
            let credentials = String::from_utf8_lossy(auth);
            let id = digest_id(&credentials);
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", id));
            AuthOutcome::Added(ids)
        }
        "ip" => AuthOutcome::Added(Vec::new()),
        _ => AuthOutcome::Failed,
    }
}

/// Whether identities `auth` hold permission `perm` (any of its bits) under `acl`.
/// The super user passes everything; an empty ACL lets everyone through.
pub fn check(acl: &[Acl], perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
    if auth.iter().any(|id| id.scheme == "super") || acl.is_empty() {
        return Ok(());
    }
    for entry in acl {
        if entry.perms & perm == 0 {
            continue;
        }
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        for mine in auth.iter().filter(|a| a.scheme == id.scheme) {
            let hit = match id.scheme.as_str() {
                "digest" | "x509" => mine.id == id.id,
                // ZooKeeper's SASLAuthenticationProvider lets a user named `super` match
                // every `sasl` entry.
                "sasl" => mine.id == id.id || mine.id == "super",
                "ip" => ip_matches(&mine.id, &id.id),
                _ => false,
            };
            if hit {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// True if the `ip` ACL id (`addr` or `addr/bits`) covers `client`.
pub fn ip_matches(client: &str, acl_id: &str) -> bool {
    let Some((net, bits)) = parse_ip_id(acl_id) else {
        return false;
    };
    let Ok(client) = client.parse::<IpAddr>() else {
        return false;
    };
    let (a, b) = match (net, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => (n.octets().to_vec(), c.octets().to_vec()),
        (IpAddr::V6(n), IpAddr::V6(c)) => (n.octets().to_vec(), c.octets().to_vec()),
        (IpAddr::V4(n), IpAddr::V6(c)) => match c.to_ipv4_mapped() {
            Some(c) => (n.octets().to_vec(), c.octets().to_vec()),
            None => return false,
        },
        (IpAddr::V6(_), IpAddr::V4(_)) => return false,
    };
    prefix_equal(&a, &b, bits)
}

fn prefix_equal(a: &[u8], b: &[u8], bits: u32) -> bool {
    let mut remaining = bits;
    for (x, y) in a.iter().zip(b) {
        if remaining == 0 {
            return true;
        }
        let take = remaining.min(8);
        let mask = (0xffu16 << (8 - take)) as u8;
        if x & mask != y & mask {
            return false;
        }
        remaining -= take;
    }
    true
}

fn parse_ip_id(id: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (id, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

/// `fixupACL`: removes duplicates, rejects empty or invalid lists, and expands `auth:` to the
/// caller's authenticated (digest) identities.
pub fn fixup(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(entry.clone());
        } else if id.scheme == "auth" {
            // Only authenticated schemes expand: digest, sasl and x509 (not ip; and not super,
            // which Java registers only as a side effect, so it is skipped like an unknown
            // provider).
            let mut any = false;
            for mine in auth
                .iter()
                .filter(|a| matches!(a.scheme.as_str(), "digest" | "sasl" | "x509"))
            {
                any = true;
                out.push(Acl::new(entry.perms, mine.clone()));
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&id.scheme, &id.id) {
            out.push(entry.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        // Java splits on ':' and wants exactly two parts.
        "digest" => {
            let parts: Vec<&str> = id.split(':').collect();
            parts.len() == 2 && !parts[0].is_empty()
        }
        "ip" => parse_ip_id(id).is_some(),
        // Kerberos-style names: `user`, `user@REALM` or `service/host@REALM`.
        "sasl" => !id.is_empty() && id.split('@').count() <= 2,
        "x509" => !id.is_empty(),
        _ => false,
    }
}

/// The ACL getACL shows a caller without ADMIN: digest ids become `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl::new(a.perms, Id::new("digest", format!("{user}:x")))
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Permission bits for `dump`/debug output, e.g. `cdrwa`.
pub fn perms_string(p: i32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ] {
        if p & bit != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // The value Java's DigestAuthenticationProvider.generateDigest gives for "super:test".
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn world_digest_and_ip_checks() {
        let me = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", digest_id("bob:pw")),
        ];
        assert_eq!(check(&Acl::open_unsafe(), perms::WRITE, &[]), Ok(()));
        assert_eq!(
            check(&Acl::read_unsafe(), perms::WRITE, &me),
            Err(ErrorCode::NoAuth)
        );
        let bob = vec![Acl::new(
            perms::READ,
            Id::new("digest", digest_id("bob:pw")),
        )];
        assert_eq!(check(&bob, perms::READ, &me), Ok(()));
        assert_eq!(check(&bob, perms::READ, &me[..1]), Err(ErrorCode::NoAuth));
        let net = vec![Acl::new(perms::ALL, Id::new("ip", "127.0.0.0/8"))];
        assert_eq!(check(&net, perms::DELETE, &me), Ok(()));
        let other = vec![Acl::new(perms::ALL, Id::new("ip", "10.0.0.0/8"))];
        assert_eq!(check(&other, perms::DELETE, &me), Err(ErrorCode::NoAuth));
        assert_eq!(
            check(&other, perms::DELETE, &[Id::new("super", "")]),
            Ok(())
        );
        assert!(ip_matches("10.1.2.3", "10.1.0.0/16"));
        assert!(!ip_matches("10.2.2.3", "10.1.0.0/16"));
        assert!(ip_matches("::1", "::1"));
    }

    #[test]
    fn fixup_expands_and_rejects() {
        let me = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "bob:hash")];
        assert_eq!(fixup(&[], &me), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup(&Acl::creator_all(), &me),
            Ok(vec![Acl::new(perms::ALL, Id::new("digest", "bob:hash"))])
        );
        assert_eq!(
            fixup(&Acl::creator_all(), &me[..1]),
            Err(ErrorCode::InvalidAcl)
        );
        let bad = [
            Id::new("world", "someone"),
            Id::new("nope", "x"),
            Id::new("digest", "nocolon"),
            Id::new("ip", "300.1.1.1"),
            Id::new("ip", "1.1.1.1/33"),
        ];
        for id in bad {
            assert_eq!(
                fixup(&[Acl::new(perms::ALL, id.clone())], &me),
                Err(ErrorCode::InvalidAcl),
                "{id:?}"
            );
        }
        let dup = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fixup(&dup, &[]), Ok(Acl::open_unsafe()));
    }

    #[test]
    fn auth_and_masking() {
        let sup = digest_id("super:test");
        assert_eq!(
            authenticate("digest", b"super:test", Some(&sup)),
            AuthOutcome::Added(vec![Id::new("super", ""), Id::new("digest", sup.clone())])
        );
        assert!(matches!(
            authenticate("digest", b"nocolon", None),
            AuthOutcome::Added(_)
        ));
        assert_eq!(authenticate("kerberos", b"a:b", None), AuthOutcome::Failed);
        let masked = mask_digests(&[Acl::new(1, Id::new("digest", "bob:abc:def"))]);
        assert_eq!(masked[0].id.id, "bob:x");
        assert_eq!(perms_string(perms::ALL), "cdrwa");
    }
}
