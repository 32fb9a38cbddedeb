//! Response bodies (`org.apache.zookeeper.proto`), server to client.

use bytes::Bytes;

use crate::codec::records;
use crate::records::data::{Acl, Stat, StatPersisted};

records! {
    /// Reply to `create`.
    CreateResponse {
        /// The created path (with the sequence suffix, if any).
        path: String,
    }

    /// Reply to `create2`, `createContainer` and `createTTL`.
    Create2Response {
        /// The created path.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    }

    /// Reply to `exists` for a node that exists.
    ExistsResponse {
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to `getData`, and to `reconfig` (the new config).
    GetDataResponse {
        /// The node's data (null when the node was created without data).
        data: Option<Bytes>,
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to `setData`.
    SetDataResponse {
        /// The node's new Stat.
        stat: Stat,
    }

    /// Reply to `getACL`.
    GetAclResponse {
        /// The ACL.
        acl: Vec<Acl>,
        /// The node's Stat.
        stat: Stat,
    }

    /// Reply to `setACL`.
    SetAclResponse {
        /// The node's new Stat.
        stat: Stat,
    }

    /// Reply to `getChildren`.
    GetChildrenResponse {
        /// Child names, in no particular order.
        children: Vec<String>,
    }

    /// Reply to `getChildren2`.
    GetChildren2Response {
        /// Child names, in no particular order.
        children: Vec<String>,
        /// The parent's Stat.
        stat: Stat,
    }

    /// Reply to `sync`.
    SyncResponse {
        /// The path from the request.
        path: String,
    }

    /// Reply to `sasl`.
    SetSaslResponse {
        /// The SASL token.
        token: Bytes,
    }

    /// Reply to `getEphemerals`.
    GetEphemeralsResponse {
        /// Paths of the session's ephemeral nodes.
        ephemerals: Vec<String>,
    }

    /// Reply to `getAllChildrenNumber`.
    GetAllChildrenNumberResponse {
        /// The number of descendants.
        total_number: i32,
    }

    /// One identity of the caller, in a `whoAmI` reply.
    ClientInfo {
        /// The auth scheme (`ip`, `digest`, `super`, ...).
        auth_scheme: String,
        /// The identity.
        user: String,
    }

    /// Reply to `whoAmI`.
    WhoAmIResponse {
        /// Every identity the session has.
        client_info: Vec<ClientInfo>,
    }

    /// Reply to `getStatPersisted`.
    GetStatPersistedResponse {
        /// The persisted stat.
        stat_persisted: StatPersisted,
    }

    /// Reply to `getMaxChildren`.
    GetMaxChildrenResponse {
        /// The limit.
        max: i32,
    }
}
