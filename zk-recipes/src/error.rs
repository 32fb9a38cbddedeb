//! The one error type of the recipes.

/// What a recipe reports.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client operation failed.
    #[error(transparent)]
    Client(#[from] zk_client::Error),
}

/// `Result<T, zk_recipes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
