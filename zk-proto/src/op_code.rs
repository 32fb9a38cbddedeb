//! Operation codes (`ZooDefs.OpCode`) and the special xids.

use crate::codec::int_enum;

int_enum! {
    /// The `type` field of a [`RequestHeader`](crate::RequestHeader): which operation a request is.
    OpCode {
        /// A watch event (server to client, xid -1).
        Notification = 0,
        /// `create`: reply is the created path.
        Create = 1,
        /// `delete`.
        Delete = 2,
        /// `exists`: reply is a Stat, or NoNode.
        Exists = 3,
        /// `getData`.
        GetData = 4,
        /// `setData`.
        SetData = 5,
        /// `getACL`.
        GetAcl = 6,
        /// `setACL`.
        SetAcl = 7,
        /// `getChildren`.
        GetChildren = 8,
        /// `sync`.
        Sync = 9,
        /// `ping` (xid -2).
        Ping = 11,
        /// `getChildren2`: children plus the parent's Stat.
        GetChildren2 = 12,
        /// `check`: a version check, valid only inside a multi.
        Check = 13,
        /// `multi`: an atomic transaction of writes.
        Multi = 14,
        /// `create2`: reply is the created path plus its Stat.
        Create2 = 15,
        /// `reconfig`.
        Reconfig = 16,
        /// `checkWatches`.
        CheckWatches = 17,
        /// `removeWatches`.
        RemoveWatches = 18,
        /// `createContainer`.
        CreateContainer = 19,
        /// `deleteContainer` (server-internal).
        DeleteContainer = 20,
        /// `createTTL`.
        CreateTtl = 21,
        /// `multiRead`: a non-atomic batch of reads.
        MultiRead = 22,
        /// `auth` (xid -4).
        Auth = 100,
        /// `setWatches` (xid -8).
        SetWatches = 101,
        /// `sasl`.
        Sasl = 102,
        /// `getEphemerals`.
        GetEphemerals = 103,
        /// `getAllChildrenNumber`.
        GetAllChildrenNumber = 104,
        /// `setWatches2` (xid -8).
        SetWatches2 = 105,
        /// `addWatch`.
        AddWatch = 106,
        /// `whoAmI`.
        WhoAmI = 107,
        /// `createSession` (server-internal).
        CreateSession = -10,
        /// `closeSession`.
        CloseSession = -11,
        /// `error`: a failed op inside a multi.
        Error = -1,
    }
    default Notification
}

impl OpCode {
    /// True for ops that change the tree or the session (they go through the leader).
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

/// Reserved xids with special meaning.
pub mod xid {
    /// Watch events sent by the server.
    pub const NOTIFICATION: i32 = -1;
    /// Pings and their replies.
    pub const PING: i32 = -2;
    /// Auth packets and their replies.
    pub const AUTH: i32 = -4;
    /// setWatches / setWatches2 and their replies.
    pub const SET_WATCHES: i32 = -8;
}
