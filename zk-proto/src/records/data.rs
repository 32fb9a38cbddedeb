//! `org.apache.zookeeper.data`: ids, ACLs and node stats.

use bytes::{Buf, BufMut};

use crate::codec::{be_i32, be_i64, records, DecodeResult, Jute};
use crate::types::perms;

records! {
    /// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `super`, ...) and an id in it.
    Id {
        /// The auth scheme.
        scheme: String,
        /// The identity within the scheme.
        id: String,
    }

    /// One access-control entry: permission bits granted to an identity.
    Acl {
        /// Bits of [`perms`].
        perms: i32,
        /// Who the permissions are granted to.
        id: Id,
    }

    /// The metadata a server persists for a znode (a [`Stat`] without the derived fields).
    StatPersisted {
        /// The zxid of the change that created the node.
        czxid: i64,
        /// The zxid of the change that last modified the node's data.
        mzxid: i64,
        /// Creation time.
        ctime: i64,
        /// Last data change time.
        mtime: i64,
        /// Number of data changes.
        version: i32,
        /// Number of child changes.
        cversion: i32,
        /// Number of ACL changes.
        aversion: i32,
        /// The owning session, or a special value.
        ephemeral_owner: i64,
        /// The zxid of the change that last modified the children.
        pzxid: i64,
    }
}

/// The metadata of a znode as sent to clients (68 bytes on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// The zxid of the change that created the node.
    pub czxid: i64,
    /// The zxid of the change that last modified the node's data.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    pub ctime: i64,
    /// Last data change time, milliseconds since the epoch.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child changes (only creates count).
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// The owning session of an ephemeral node; special values for containers and TTL nodes.
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// The zxid of the change that last modified the children.
    pub pzxid: i64,
}

/// The wire length of a [`Stat`].
const STAT_LEN: usize = 68;

impl Jute for Stat {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i64(self.czxid);
        buf.put_i64(self.mzxid);
        buf.put_i64(self.ctime);
        buf.put_i64(self.mtime);
        buf.put_i32(self.version);
        buf.put_i32(self.cversion);
        buf.put_i32(self.aversion);
        buf.put_i64(self.ephemeral_owner);
        buf.put_i32(self.data_length);
        buf.put_i32(self.num_children);
        buf.put_i64(self.pzxid);
    }

    /// Every reply carries one: read whole from a contiguous input (one bounds check instead
    /// of eleven), field by field otherwise.
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        if let Some(raw) = buf.chunk().first_chunk::<STAT_LEN>() {
            let stat = Stat {
                czxid: be_i64(raw, 0),
                mzxid: be_i64(raw, 8),
                ctime: be_i64(raw, 16),
                mtime: be_i64(raw, 24),
                version: be_i32(raw, 32),
                cversion: be_i32(raw, 36),
                aversion: be_i32(raw, 40),
                ephemeral_owner: be_i64(raw, 44),
                data_length: be_i32(raw, 52),
                num_children: be_i32(raw, 56),
                pzxid: be_i64(raw, 60),
            };
            buf.advance(STAT_LEN);
            return Ok(stat);
        }
        Ok(Stat {
            czxid: Jute::decode(buf)?,
            mzxid: Jute::decode(buf)?,
            ctime: Jute::decode(buf)?,
            mtime: Jute::decode(buf)?,
            version: Jute::decode(buf)?,
            cversion: Jute::decode(buf)?,
            aversion: Jute::decode(buf)?,
            ephemeral_owner: Jute::decode(buf)?,
            data_length: Jute::decode(buf)?,
            num_children: Jute::decode(buf)?,
            pzxid: Jute::decode(buf)?,
        })
    }

    fn encoded_len(&self) -> usize {
        STAT_LEN
    }
}

impl Id {
    /// An id from a scheme and an identity.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }

    /// `auth:` — the caller's authenticated identities.
    pub fn auth_ids() -> Self {
        Id::new("auth", "")
    }
}

impl Acl {
    /// An entry granting `perms` to `id`.
    pub fn new(perms: i32, id: Id) -> Self {
        Acl { perms, id }
    }

    /// `OPEN_ACL_UNSAFE`: everything to everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::anyone())]
    }

    /// `READ_ACL_UNSAFE`: read to everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::READ, Id::anyone())]
    }

    /// `CREATOR_ALL_ACL`: everything to the creator's authenticated identities.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::auth_ids())]
    }
}

impl StatPersisted {
    /// The client-facing [`Stat`], given the node's data length and child count.
    pub fn to_stat(&self, data_length: i32, num_children: i32) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            data_length,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Buf, BytesMut};

    use super::*;
    use crate::codec::DecodeError;

    fn sample() -> Stat {
        Stat {
            czxid: 1,
            mzxid: -2,
            ctime: 1 << 40,
            mtime: i64::MAX,
            version: 5,
            cversion: -6,
            aversion: 7,
            ephemeral_owner: i64::MIN,
            data_length: 1024,
            num_children: 3,
            pzxid: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn stat_decodes_whole_split_and_truncated() {
        let mut wire = BytesMut::new();
        sample().encode(&mut wire);
        assert_eq!(wire.len(), STAT_LEN);
        // Contiguous: the whole-record path.
        assert_eq!(Stat::decode(&mut &wire[..]), Ok(sample()));
        // Split across two chunks at every offset: the field-by-field path.
        for at in 1..STAT_LEN {
            let mut chained = (&wire[..at]).chain(&wire[at..]);
            assert_eq!(Stat::decode(&mut chained), Ok(sample()), "split at {at}");
            assert_eq!(chained.remaining(), 0);
        }
        let err = Stat::decode(&mut &wire[..STAT_LEN - 1]).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err:?}");
    }
}
