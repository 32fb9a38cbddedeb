//! ACL helpers: typed permission sets and constructors for the `world`, `auth`, `ip` and
//! `digest` schemes.
//!
//! ```
//! use zk_client::{Acl, AclExt, Perms};
//!
//! let acl = vec![
//!     Acl::digest("alice", "secret", Perms::ALL),
//!     Acl::world(Perms::READ),
//!     Acl::ip("10.0.0.0/8", Perms::READ | Perms::WRITE),
//! ];
//! assert_eq!(acl[0].id.id, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=");
//! assert_eq!(acl[2].permissions().to_string(), "rw");
//! ```

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not, Sub};
use std::str::FromStr;

use base64::Engine as _;
use sha1::{Digest, Sha1};
use zk_proto::{perms, Acl, Id};

/// A set of ZooKeeper permissions (`READ | WRITE | CREATE | DELETE | ADMIN`).
///
/// Displays and parses in the letters ZooKeeper's CLI uses, in the order `cdrwa`
/// (`Perms::ALL` is `cdrwa`, `Perms::READ | Perms::WRITE` is `rw`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(i32);

impl Perms {
    /// No permission.
    pub const NONE: Perms = Perms(0);
    /// Read data and list children.
    pub const READ: Perms = Perms(perms::READ);
    /// Set data.
    pub const WRITE: Perms = Perms(perms::WRITE);
    /// Create children.
    pub const CREATE: Perms = Perms(perms::CREATE);
    /// Delete children.
    pub const DELETE: Perms = Perms(perms::DELETE);
    /// Set the ACL.
    pub const ADMIN: Perms = Perms(perms::ADMIN);
    /// All of the above.
    pub const ALL: Perms = Perms(perms::ALL);

    /// The letters, in ZooKeeper's CLI order.
    const LETTERS: [(char, Perms); 5] = [
        ('c', Perms::CREATE),
        ('d', Perms::DELETE),
        ('r', Perms::READ),
        ('w', Perms::WRITE),
        ('a', Perms::ADMIN),
    ];

    /// The wire bits.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// The permissions of wire bits; bits ZooKeeper does not define are dropped.
    pub const fn from_bits(bits: i32) -> Perms {
        Perms(bits & perms::ALL)
    }

    /// Whether every permission of `other` is in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl BitOrAssign for Perms {
    fn bitor_assign(&mut self, rhs: Perms) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Perms {
    type Output = Perms;
    fn bitand(self, rhs: Perms) -> Perms {
        Perms(self.0 & rhs.0)
    }
}

impl Sub for Perms {
    type Output = Perms;
    fn sub(self, rhs: Perms) -> Perms {
        Perms(self.0 & !rhs.0)
    }
}

impl Not for Perms {
    type Output = Perms;
    fn not(self) -> Perms {
        Perms(!self.0 & perms::ALL)
    }
}

impl From<Perms> for i32 {
    fn from(p: Perms) -> i32 {
        p.0
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, perm) in Perms::LETTERS {
            if self.contains(perm) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Perms({self})")
    }
}

/// A permission string with a letter other than `c`, `d`, `r`, `w`, `a`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission letter {0:?} (expected some of \"cdrwa\")")]
pub struct ParsePermsError(pub char);

impl FromStr for Perms {
    type Err = ParsePermsError;

    /// Parses letters in any order (`"rw"`, `"cdrwa"`); the empty string is no permission.
    fn from_str(s: &str) -> Result<Perms, ParsePermsError> {
        s.chars().try_fold(Perms::NONE, |acc, c| {
            Perms::LETTERS
                .iter()
                .find(|(letter, _)| *letter == c.to_ascii_lowercase())
                .map(|(_, perm)| acc | *perm)
                .ok_or(ParsePermsError(c))
        })
    }
}

/// The id ZooKeeper's digest scheme gives `user` with `password`:
/// `user:base64(sha1("user:password"))`, as `DigestAuthenticationProvider.generateDigest`
/// computes it. A node whose ACL names `digest:<this id>` is open to sessions that called
/// `add_auth("digest", b"user:password")`.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Constructors and a typed view of [`Acl`] entries (`Acl` lives in `zk-proto`, so these come
/// as a trait: `use zk_client::AclExt;`).
pub trait AclExt {
    /// `world:anyone`: everyone.
    fn world(perms: Perms) -> Acl;
    /// `auth:`: the identities the creating session authenticated with (at least one is
    /// needed, else the server answers InvalidAcl).
    fn auth(perms: Perms) -> Acl;
    /// `ip:<address>` or `ip:<address>/<prefix bits>`: clients connecting from there.
    fn ip(address: &str, perms: Perms) -> Acl;
    /// `digest:user:base64(sha1(user:password))`: sessions that authenticated as
    /// `user:password` (see [`digest_id`]).
    fn digest(user: &str, password: &str, perms: Perms) -> Acl;
    /// The entry's permissions, typed.
    fn permissions(&self) -> Perms;
}

impl AclExt for Acl {
    fn world(perms: Perms) -> Acl {
        Acl::new(perms.bits(), Id::anyone())
    }

    fn auth(perms: Perms) -> Acl {
        Acl::new(perms.bits(), Id::auth_ids())
    }

    fn ip(address: &str, perms: Perms) -> Acl {
        Acl::new(perms.bits(), Id::new("ip", address))
    }

    fn digest(user: &str, password: &str, perms: Perms) -> Acl {
        Acl::new(perms.bits(), Id::new("digest", digest_id(user, password)))
    }

    fn permissions(&self) -> Perms {
        Perms::from_bits(self.perms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // DigestAuthenticationProvider.generateDigest("super:test"), as Java prints it.
        assert_eq!(
            digest_id("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        let acl = Acl::digest("super", "test", Perms::READ);
        assert_eq!(
            (acl.perms, acl.id.scheme.as_str(), acl.id.id.as_str()),
            (1, "digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
    }

    #[test]
    fn perms_as_sets() {
        let rw = Perms::READ | Perms::WRITE;
        assert_eq!(rw.bits(), 3);
        assert!(rw.contains(Perms::READ) && !rw.contains(Perms::ADMIN));
        assert!(Perms::ALL.contains(rw));
        assert_eq!(Perms::ALL - Perms::ADMIN, Perms::from_bits(15));
        assert_eq!(!Perms::READ, Perms::ALL - Perms::READ);
        assert_eq!(rw & Perms::WRITE, Perms::WRITE);
        assert_eq!(Perms::from_bits(-1), Perms::ALL);
        assert!(Perms::NONE.is_empty() && Perms::default().is_empty());
        let mut p = Perms::NONE;
        p |= Perms::CREATE;
        assert_eq!(i32::from(p), 4);
        assert_eq!(Acl::world(Perms::ALL), Acl::open_unsafe()[0]);
        assert_eq!(Acl::auth(Perms::ALL), Acl::creator_all()[0]);
        assert_eq!(Acl::ip("10.0.0.0/8", rw).id.id, "10.0.0.0/8");
        assert_eq!(Acl::ip("10.0.0.0/8", rw).permissions(), rw);
    }

    #[test]
    fn perms_text() {
        assert_eq!(Perms::ALL.to_string(), "cdrwa");
        assert_eq!((Perms::WRITE | Perms::READ).to_string(), "rw");
        assert_eq!(Perms::NONE.to_string(), "");
        assert_eq!(format!("{:?}", Perms::READ), "Perms(r)");
        for bits in 0..=perms::ALL {
            let p = Perms::from_bits(bits);
            assert_eq!(p.to_string().parse::<Perms>(), Ok(p));
        }
        assert_eq!(
            "ARW".parse::<Perms>(),
            Ok(Perms::ADMIN | Perms::READ | Perms::WRITE)
        );
        assert_eq!("rx".parse::<Perms>(), Err(ParsePermsError('x')));
    }
}
