//! `org.apache.zookeeper.data`: ids, ACLs and node stats.

use crate::codec::records;
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

    /// The metadata of a znode as sent to clients (68 bytes on the wire).
    Stat {
        /// The zxid of the change that created the node.
        czxid: i64,
        /// The zxid of the change that last modified the node's data.
        mzxid: i64,
        /// Creation time, milliseconds since the epoch.
        ctime: i64,
        /// Last data change time, milliseconds since the epoch.
        mtime: i64,
        /// Number of data changes.
        version: i32,
        /// Number of child changes (only creates count).
        cversion: i32,
        /// Number of ACL changes.
        aversion: i32,
        /// The owning session of an ephemeral node; special values for containers and TTL nodes.
        ephemeral_owner: i64,
        /// Length of the data.
        data_length: i32,
        /// Number of children.
        num_children: i32,
        /// The zxid of the change that last modified the children.
        pzxid: i64,
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
