//! Request bodies (`org.apache.zookeeper.proto`), client to server.

use bytes::Bytes;

use crate::codec::records;
use crate::records::data::Acl;
use crate::types::{AddWatchMode, WatcherType};

records! {
    /// `create`, `create2` and `createContainer`.
    CreateRequest {
        /// The node to create (for sequential modes, the prefix).
        path: String,
        /// The initial data; real clients send null for none.
        data: Option<Bytes>,
        /// The node's ACL; must not be empty.
        acl: Vec<Acl>,
        /// The [`CreateMode`](crate::CreateMode) code.
        flags: i32,
    }

    /// `createTTL`.
    CreateTtlRequest {
        /// The node to create.
        path: String,
        /// The initial data.
        data: Option<Bytes>,
        /// The node's ACL.
        acl: Vec<Acl>,
        /// The [`CreateMode`](crate::CreateMode) code (a TTL mode).
        flags: i32,
        /// The TTL in milliseconds.
        ttl: i64,
    }

    /// `delete`.
    DeleteRequest {
        /// The node to delete.
        path: String,
        /// The expected data version, or -1 for any.
        version: i32,
    }

    /// `exists`.
    ExistsRequest {
        /// The node.
        path: String,
        /// Leave a data/exist watch.
        watch: bool,
    }

    /// `getData`.
    GetDataRequest {
        /// The node.
        path: String,
        /// Leave a data watch.
        watch: bool,
    }

    /// `setData`.
    SetDataRequest {
        /// The node.
        path: String,
        /// The new data.
        data: Option<Bytes>,
        /// The expected data version, or -1 for any.
        version: i32,
    }

    /// `getACL`.
    GetAclRequest {
        /// The node.
        path: String,
    }

    /// `setACL`.
    SetAclRequest {
        /// The node.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The expected ACL version (aversion), or -1 for any.
        version: i32,
    }

    /// `getChildren`.
    GetChildrenRequest {
        /// The node.
        path: String,
        /// Leave a child watch.
        watch: bool,
    }

    /// `getChildren2`.
    GetChildren2Request {
        /// The node.
        path: String,
        /// Leave a child watch.
        watch: bool,
    }

    /// `sync`.
    SyncRequest {
        /// The node (any path; the server echoes it).
        path: String,
    }

    /// `check` inside a multi.
    CheckVersionRequest {
        /// The node.
        path: String,
        /// The expected data version.
        version: i32,
    }

    /// `reconfig`.
    ReconfigRequest {
        /// Servers to add (incremental mode), comma separated; null for none.
        joining_servers: Option<String>,
        /// Server ids to remove (incremental mode); null for none.
        leaving_servers: Option<String>,
        /// The whole new membership (non-incremental mode); null for none.
        new_members: Option<String>,
        /// The config version expected, or -1.
        cur_config_id: i64,
    }

    /// `checkWatches`.
    CheckWatchesRequest {
        /// The node.
        path: String,
        /// Which watches.
        watcher_type: WatcherType,
    }

    /// `removeWatches`.
    RemoveWatchesRequest {
        /// The node.
        path: String,
        /// Which watches.
        watcher_type: WatcherType,
    }

    /// `deleteContainer` (server-internal).
    DeleteContainerRequest {
        /// The container.
        path: String,
    }

    /// `setWatches` (xid -8): re-registers watches after a reconnect.
    SetWatches {
        /// The last zxid the client saw; the server fires events for changes after it.
        relative_zxid: i64,
        /// Paths with data watches.
        data_watches: Vec<String>,
        /// Paths with exist watches.
        exist_watches: Vec<String>,
        /// Paths with child watches.
        child_watches: Vec<String>,
    }

    /// `setWatches2` (xid -8): as [`SetWatches`] plus persistent watches.
    SetWatches2 {
        /// The last zxid the client saw.
        relative_zxid: i64,
        /// Paths with data watches.
        data_watches: Vec<String>,
        /// Paths with exist watches.
        exist_watches: Vec<String>,
        /// Paths with child watches.
        child_watches: Vec<String>,
        /// Paths with persistent watches.
        persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        persistent_recursive_watches: Vec<String>,
    }

    /// `sasl`.
    GetSaslRequest {
        /// The SASL token.
        token: Bytes,
    }

    /// `getEphemerals`.
    GetEphemeralsRequest {
        /// Only ephemerals under this prefix (a string prefix, not a path).
        prefix_path: String,
    }

    /// `getAllChildrenNumber`.
    GetAllChildrenNumberRequest {
        /// The node.
        path: String,
    }

    /// `addWatch`.
    AddWatchRequest {
        /// The node.
        path: String,
        /// Persistent or persistent recursive.
        mode: AddWatchMode,
    }

    /// `getStatPersisted` (not exposed by servers; kept for completeness).
    GetStatPersistedRequest {
        /// The node.
        path: String,
    }

    /// `getMaxChildren` (legacy).
    GetMaxChildrenRequest {
        /// The node.
        path: String,
    }

    /// `setMaxChildren` (legacy).
    SetMaxChildrenRequest {
        /// The node.
        path: String,
        /// The limit.
        max: i32,
    }

    /// A SASL token from server to client in older servers (`SetSASLRequest`).
    SetSaslRequest {
        /// The token.
        token: Bytes,
    }
}
