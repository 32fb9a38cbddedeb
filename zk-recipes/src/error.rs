//! The one error type of the recipes.

/// What a recipe reports.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] zk_client::Error),
    /// A node held data the recipe cannot decode (a counter of the wrong width, a queue item
    /// or service instance in an unknown format).
    #[error("{path}: unexpected data: {reason}")]
    BadData {
        /// The node.
        path: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The recipe no longer owns the node it needs (a queue item's lock): its session ended
    /// or someone deleted the node.
    #[error("{path} is no longer ours")]
    NotOwner {
        /// The node.
        path: String,
    },
    /// A recipe path is not an absolute, non-root path without a trailing slash.
    #[error("invalid recipe path {0:?}")]
    InvalidPath(String),
    /// A fenced write was refused: the owned node (of a lock or leadership) is gone, so the
    /// lock or leadership was lost. None of the writes applied.
    #[error("fenced write refused: {path} is gone")]
    Fenced {
        /// The owned node that is gone.
        path: String,
    },
    /// A read lock holder asked for the write lock of the same read/write lock (upgrade is
    /// never granted: two upgrading readers would deadlock).
    #[error("lock upgrade refused: release the read lock first")]
    LockUpgrade,
    /// The recipe was closed.
    #[error("recipe closed")]
    RecipeClosed,
}

/// `Result<T, zk_recipes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
