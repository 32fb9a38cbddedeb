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
}

/// `Result<T, zk_recipes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
