//! Transactions: the deterministic state changes a replication layer orders.
//!
//! A request that changes state is first *prepared* ([`crate::prep`]) against the current
//! state, which validates it the way ZooKeeper's `PrepRequestProcessor` does and yields a
//! [`Txn`]. Applying a txn ([`crate::tree::DataTree::apply`]) is then a pure function of
//! `(txn, zxid, time)`: every server of an ensemble that applies the same txns in the same order
//! ends up with the same tree. Failed writes become [`Txn::Error`], which uses up a zxid like
//! ZooKeeper's `ErrorTxn` but changes nothing.

use bytes::Bytes;
use zk_proto::{Acl, ErrorCode, Stat};

/// One state change, fully resolved (sequence suffixes, versions and ACLs are final).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// A new session with a negotiated timeout.
    CreateSession {
        /// The session id, chosen by the preparing server.
        session_id: i64,
        /// The negotiated timeout in milliseconds.
        timeout_ms: i32,
    },
    /// Ends a session and deletes its ephemeral nodes.
    CloseSession {
        /// The session.
        session_id: i64,
    },
    /// Creates a node.
    Create {
        /// The final path (sequence suffix included).
        path: String,
        /// The data, `None` for null.
        data: Option<Bytes>,
        /// The expanded ACL.
        acl: Vec<Acl>,
        /// The owner: 0, a session, a container or a TTL marker.
        ephemeral_owner: i64,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    /// Deletes a node (its children are gone already).
    Delete {
        /// The node.
        path: String,
    },
    /// Replaces a node's data.
    SetData {
        /// The node.
        path: String,
        /// The new data.
        data: Option<Bytes>,
        /// The new data version.
        version: i32,
    },
    /// Replaces a node's ACL.
    SetAcl {
        /// The node.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The new ACL version.
        version: i32,
    },
    /// A version check inside a multi; changes nothing.
    Check {
        /// The node.
        path: String,
        /// The data version that matched.
        version: i32,
    },
    /// An atomic list of txns sharing one zxid. A failed multi is a list of `Error`s:
    /// `Ok` before the failing op, its code, then `RuntimeInconsistency`.
    Multi(Vec<Txn>),
    /// A failed write: uses up a zxid, changes nothing.
    Error(ErrorCode),
}

impl Txn {
    /// True if the txn changes nothing in the tree or the sessions.
    pub fn is_noop(&self) -> bool {
        match self {
            Txn::Error(_) | Txn::Check { .. } => true,
            Txn::Multi(ops) => ops.iter().all(Txn::is_noop),
            _ => false,
        }
    }
}

/// A txn with the header every server needs to apply it identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    /// Its zxid.
    pub zxid: i64,
    /// Wall-clock time chosen by the preparing server, in ms (ctime/mtime).
    pub time: i64,
    /// The session that sent the request (0 for server-internal txns).
    pub session_id: i64,
    /// The request's xid (ZooKeeper's `cxid`; 0 for session creation and server-internal
    /// txns): an ensemble member matches an applied txn to its client's pending request by
    /// session and cxid.
    pub cxid: i32,
    /// The change.
    pub txn: Txn,
}

/// The outcome of applying one txn (or one op of a multi).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// A node was created.
    Created {
        /// Its path.
        path: String,
        /// Its Stat right after the create.
        stat: Stat,
    },
    /// A node was deleted.
    Deleted,
    /// Data was set.
    DataSet {
        /// The node's Stat right after.
        stat: Stat,
    },
    /// An ACL was set.
    AclSet {
        /// The node's Stat right after.
        stat: Stat,
    },
    /// A check passed.
    Checked,
    /// A multi: one result per op.
    Multi(Vec<OpResult>),
    /// A session was created.
    SessionCreated,
    /// A session was closed.
    SessionClosed,
    /// The op failed (or was rolled back in a failed multi).
    Error(ErrorCode),
}

/// A change that may fire watches, in the order ZooKeeper fires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A node was created: NodeCreated on it, NodeChildrenChanged on its parent.
    Created {
        /// The node.
        path: String,
        /// Its ACL (who may see the event).
        acl: Vec<Acl>,
        /// The parent's ACL.
        parent_acl: Vec<Acl>,
    },
    /// A node was deleted: NodeDeleted on it, NodeChildrenChanged on its parent.
    Deleted {
        /// The node.
        path: String,
        /// Its ACL before deletion.
        acl: Vec<Acl>,
        /// The parent's ACL.
        parent_acl: Vec<Acl>,
    },
    /// A node's data changed.
    DataChanged {
        /// The node.
        path: String,
        /// Its ACL.
        acl: Vec<Acl>,
    },
}

/// Everything applying a txn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The result for the reply.
    pub result: OpResult,
    /// Watch triggers, in order.
    pub triggers: Vec<Trigger>,
}
