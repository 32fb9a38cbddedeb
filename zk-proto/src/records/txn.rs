//! Transaction records (`org.apache.zookeeper.txn`) and log file headers, as the real server
//! writes them. Available to replicated servers that choose ZooKeeper's formats.

use bytes::Bytes;

use crate::codec::records;
use crate::records::data::Acl;

records! {
    /// Precedes every logged transaction.
    TxnHeader {
        /// The session that issued it.
        client_id: i64,
        /// The client's xid.
        cxid: i32,
        /// The transaction's zxid.
        zxid: i64,
        /// Wall-clock time at the leader, milliseconds.
        time: i64,
        /// The op code.
        txn_type: i32,
    }

    /// A digest of the tree after a transaction.
    TxnDigest {
        /// Digest version.
        version: i32,
        /// The digest.
        tree_digest: i64,
    }

    /// A create, as logged before 3.3.
    CreateTxnV0 {
        /// The node.
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL.
        acl: Vec<Acl>,
        /// Ephemeral flag.
        ephemeral: bool,
    }

    /// A create.
    CreateTxn {
        /// The node.
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL.
        acl: Vec<Acl>,
        /// Ephemeral flag.
        ephemeral: bool,
        /// The parent's cversion after the create.
        parent_c_version: i32,
    }

    /// A TTL create.
    CreateTtlTxn {
        /// The node.
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after the create.
        parent_c_version: i32,
        /// The TTL.
        ttl: i64,
    }

    /// A container create.
    CreateContainerTxn {
        /// The node.
        path: String,
        /// Its data.
        data: Option<Bytes>,
        /// Its ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after the create.
        parent_c_version: i32,
    }

    /// A delete.
    DeleteTxn {
        /// The node.
        path: String,
    }

    /// A data change.
    SetDataTxn {
        /// The node.
        path: String,
        /// The new data.
        data: Option<Bytes>,
        /// The new version.
        version: i32,
    }

    /// A version check inside a multi.
    CheckVersionTxn {
        /// The node.
        path: String,
        /// The version.
        version: i32,
    }

    /// An ACL change.
    SetAclTxn {
        /// The node.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The new aversion.
        version: i32,
    }

    /// A legacy max-children change.
    SetMaxChildrenTxn {
        /// The node.
        path: String,
        /// The limit.
        max: i32,
    }

    /// A session creation.
    CreateSessionTxn {
        /// The negotiated timeout.
        time_out: i32,
    }

    /// A session close.
    CloseSessionTxn {
        /// The ephemerals to delete.
        paths2_delete: Vec<String>,
    }

    /// A failed op (inside a multi).
    ErrorTxn {
        /// The error code.
        err: i32,
    }

    /// One op of a [`MultiTxn`].
    Txn {
        /// The op code.
        txn_type: i32,
        /// The encoded op txn.
        data: Bytes,
    }

    /// A multi.
    MultiTxn {
        /// The ops.
        txns: Vec<Txn>,
    }

    /// The header of a log or snapshot file.
    FileHeader {
        /// `ZKLG` or `ZKSN`.
        magic: i32,
        /// Format version (2).
        version: i32,
        /// Database id.
        dbid: i64,
    }
}
