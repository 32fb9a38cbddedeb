//! Typed constants: event types, keeper states, create modes, permissions, watcher types,
//! add-watch modes.

use crate::codec::int_enum;

int_enum! {
    /// `Watcher.Event.EventType`.
    EventType {
        /// A session state change, not a node event.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed (client-generated).
        DataWatchRemoved = 5,
        /// A child watch was removed (client-generated).
        ChildWatchRemoved = 6,
        /// A persistent watch was removed (client-generated).
        PersistentWatchRemoved = 7,
    }
    default None
}

int_enum! {
    /// `Watcher.Event.KeeperState`. On the wire the server only sends `SyncConnected`.
    KeeperState {
        /// Deprecated.
        UnknownState = -1,
        /// The client is disconnected.
        Disconnected = 0,
        /// Deprecated.
        NoSyncConnected = 1,
        /// The client is connected.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authentication succeeded.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client was closed.
        Closed = 7,
    }
    default SyncConnected
}

int_enum! {
    /// The `flags` of a create request (`CreateMode`).
    CreateMode {
        /// A persistent node.
        Persistent = 0,
        /// An ephemeral node, deleted with its session.
        Ephemeral = 1,
        /// A persistent node with a sequence suffix.
        PersistentSequential = 2,
        /// An ephemeral node with a sequence suffix.
        EphemeralSequential = 3,
        /// A container, deleted by the server once its last child goes.
        Container = 4,
        /// A persistent node deleted after a TTL without changes or children.
        PersistentWithTtl = 5,
        /// A sequential persistent node with a TTL.
        PersistentSequentialWithTtl = 6,
    }
    default Persistent
}

impl CreateMode {
    /// True for the modes that append a sequence number.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for the ephemeral modes.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// True for the TTL modes.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for a container.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }
}

int_enum! {
    /// `WatcherType` of checkWatches / removeWatches.
    WatcherType {
        /// Child watches.
        Children = 1,
        /// Data (and exist) watches.
        Data = 2,
        /// Any watch.
        Any = 3,
        /// Persistent watches.
        Persistent = 4,
        /// Persistent recursive watches.
        PersistentRecursive = 5,
    }
    default Any
}

int_enum! {
    /// `AddWatchMode` of addWatch.
    AddWatchMode {
        /// A persistent watch on one node: data, children and existence events.
        Persistent = 0,
        /// A persistent watch on a node and every descendant (no child events).
        PersistentRecursive = 1,
    }
    default Persistent
}

/// ACL permission bits (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// All of the above.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// The `ephemeralOwner` value of container nodes.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// The high byte of the `ephemeralOwner` of TTL nodes (`0xFF << 56`); the low 40 bits hold the TTL.
pub const TTL_EPHEMERAL_OWNER_MASK: i64 = 0xFF00_0000_0000_0000u64 as i64;
/// The largest TTL a TTL node may have, in milliseconds (2^40 - 1).
pub const MAX_TTL: i64 = (1 << 40) - 1;
/// `ProtocolVersion` sent in connect requests and responses.
pub const PROTOCOL_VERSION: i32 = 0;
/// The length of a session password.
pub const PASSWORD_LEN: usize = 16;
