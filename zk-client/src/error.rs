//! The client's one error type.
//!
//! Every ZooKeeper error code maps to exactly one variant ([`Error::from_code`]); client-side
//! failures (connection loss, expiry detected by the client, timeouts, validation) have their
//! own variants. The type is `Clone` because one event (a lost connection) fails many requests.

use zk_proto::{DecodeError, ErrorCode, PathError};

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the client refused an argument before sending anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentError {
    /// The server answered `BadArguments` (-8): it refused the request's arguments.
    #[error("the server rejected the arguments")]
    RejectedByServer,
    /// A path broke ZooKeeper's path rules.
    #[error("invalid path {path:?}: {source}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule it broke.
        #[source]
        source: PathError,
    },
    /// A TTL outside `1..=2^40-1` milliseconds.
    #[error("TTL of {0} ms is outside 1..=2^40-1 ms")]
    InvalidTtl(u128),
    /// A TTL was given with a mode that is not a TTL mode.
    #[error("a TTL was given for a create mode without TTL")]
    TtlWithoutTtlMode,
    /// A TTL mode was used without a TTL.
    #[error("a TTL create mode needs a TTL")]
    TtlModeWithoutTtl,
    /// An empty ACL list.
    #[error("the ACL must not be empty")]
    EmptyAcl,
    /// The request would be larger than the server's frame limit.
    #[error("request of {0} bytes exceeds the 1 MiB frame limit")]
    RequestTooLarge(usize),
    /// The connect string could not be parsed.
    #[error("invalid connect string {input:?}: {reason}")]
    InvalidConnectString {
        /// The connect string.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A multi mixed reads and writes, or was empty where that is not allowed.
    #[error("invalid multi: {0}")]
    InvalidMulti(&'static str),
    /// The TLS configuration is unusable.
    #[error("invalid TLS configuration: {0}")]
    InvalidTls(&'static str),
    /// The root node cannot be created or deleted.
    #[error("the root node cannot be created or deleted")]
    RootNode,
}

/// Everything that can go wrong.
///
/// Server error codes map one-to-one to variants (see [`Error::from_code`]); a code this version
/// does not know is [`Error::Server`].
///
/// Predicates: [`Error::is_retryable`], [`Error::is_terminal`], [`Error::has_no_data_change`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection to the server was lost while the request was in flight (-4), so whether
    /// a write applied is unknown. The session may still be alive: retry after reconnecting.
    #[error("connection lost")]
    ConnectionLoss,
    /// The session expired: told by the server (-112), or detected by the client because no
    /// server accepted it within the session timeout. Terminal.
    #[error("session expired")]
    SessionExpired,
    /// The client was closed (by [`Client::close`](crate::Client::close) or by dropping
    /// every handle). Terminal.
    #[error("client closed")]
    Closed,
    /// The request got no reply within the request timeout. Whether a write applied is unknown.
    #[error("request timed out")]
    Timeout,
    /// The client refused the arguments before sending, or the server answered
    /// `BadArguments` (-8, [`ArgumentError::RejectedByServer`]).
    #[error("bad arguments: {0}")]
    BadArguments(ArgumentError),
    /// No server accepted a session within the connection timeout.
    #[error("no server could be reached")]
    NoHosts,
    /// The server broke the protocol (an undecodable reply, an xid out of order).
    #[error("protocol violation: {0}")]
    Decode(DecodeError),
    /// An atomic multi failed: the operation at `index` failed with the server error `code`
    /// (e.g. `Error::MultiFailed { index: 1, code: ErrorCode::BadVersion }`), and no
    /// operation of the multi was applied. [`Error::from_code`] turns `code` into the error
    /// the operation alone would have given.
    #[error("multi operation {index} failed: {}", Error::from_code(*code))]
    MultiFailed {
        /// The index of the first failing operation.
        index: usize,
        /// Why it failed.
        code: ErrorCode,
    },
    /// A system or server-side error (-1).
    #[error("server system error")]
    SystemError,
    /// A runtime inconsistency was found (-2); in a failed multi, the ops after the failure.
    #[error("runtime inconsistency")]
    RuntimeInconsistency,
    /// A data inconsistency was found (-3).
    #[error("data inconsistency")]
    DataInconsistency,
    /// Error while marshalling or unmarshalling data (-5).
    #[error("marshalling error")]
    MarshallingError,
    /// The server does not implement the operation (-6), e.g. TTL nodes without
    /// `extendedTypesEnabled`.
    #[error("operation unimplemented by the server")]
    Unimplemented,
    /// Server-side operation timeout (-7).
    #[error("server operation timeout")]
    OperationTimeout,
    /// Unknown session (-12).
    #[error("unknown session")]
    UnknownSession,
    /// No quorum of the new config is connected and up to date with the leader (-13).
    #[error("new config has no quorum")]
    NewConfigNoQuorum,
    /// Another reconfiguration is in progress (-14).
    #[error("reconfig in progress")]
    ReconfigInProgress,
    /// API error (-100).
    #[error("API error")]
    ApiError,
    /// The node does not exist (-101).
    #[error("no node")]
    NoNode,
    /// Not authorized (-102).
    #[error("not authorized")]
    NoAuth,
    /// Version conflict (-103).
    #[error("bad version")]
    BadVersion,
    /// Ephemeral nodes may not have children (-108).
    #[error("ephemeral nodes may not have children")]
    NoChildrenForEphemerals,
    /// The node already exists (-110).
    #[error("node exists")]
    NodeExists,
    /// The node has children (-111).
    #[error("node not empty")]
    NotEmpty,
    /// Invalid callback (-113).
    #[error("invalid callback")]
    InvalidCallback,
    /// Invalid ACL (-114).
    #[error("invalid ACL")]
    InvalidAcl,
    /// Authentication failed (-115). Terminal: the session can no longer be used.
    #[error("authentication failed")]
    AuthFailed,
    /// The session moved to another server (-118).
    #[error("session moved")]
    SessionMoved,
    /// A write was sent to a read-only server (-119).
    #[error("server is read-only")]
    NotReadOnly,
    /// Ephemeral node on a local session (-120).
    #[error("ephemeral on local session")]
    EphemeralOnLocalSession,
    /// No such watcher (-121).
    #[error("no watcher")]
    NoWatcher,
    /// The server did not complete the request in time (-122).
    #[error("server request timeout")]
    RequestTimeout,
    /// Reconfig is disabled (-123).
    #[error("reconfig disabled")]
    ReconfigDisabled,
    /// The server closed the session because SASL authentication is required (-124).
    #[error("session closed: SASL authentication required")]
    SessionClosedRequireSaslAuth,
    /// A quota was exceeded (-125).
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The request was throttled (-127).
    #[error("throttled")]
    Throttled,
    /// An error code this version does not know.
    #[error("server error code {0}")]
    Server(i32),
}

impl Error {
    /// The error for a server error code. `Ok` has no error and maps to [`Error::Server`]`(0)`;
    /// callers check for `Ok` first.
    pub fn from_code(code: ErrorCode) -> Error {
        match code {
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments(ArgumentError::RejectedByServer),
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::Throttled => Error::Throttled,
            other => Error::Server(other.code()),
        }
    }

    /// The server error code this error stands for, if it is one.
    pub fn code(&self) -> Option<ErrorCode> {
        let code = match self {
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::SessionExpired => ErrorCode::SessionExpired,
            Error::BadArguments(ArgumentError::RejectedByServer) => ErrorCode::BadArguments,
            Error::SystemError => ErrorCode::SystemError,
            Error::RuntimeInconsistency => ErrorCode::RuntimeInconsistency,
            Error::DataInconsistency => ErrorCode::DataInconsistency,
            Error::MarshallingError => ErrorCode::MarshallingError,
            Error::Unimplemented => ErrorCode::Unimplemented,
            Error::OperationTimeout => ErrorCode::OperationTimeout,
            Error::UnknownSession => ErrorCode::UnknownSession,
            Error::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            Error::ReconfigInProgress => ErrorCode::ReconfigInProgress,
            Error::ApiError => ErrorCode::ApiError,
            Error::NoNode => ErrorCode::NoNode,
            Error::NoAuth => ErrorCode::NoAuth,
            Error::BadVersion => ErrorCode::BadVersion,
            Error::NoChildrenForEphemerals => ErrorCode::NoChildrenForEphemerals,
            Error::NodeExists => ErrorCode::NodeExists,
            Error::NotEmpty => ErrorCode::NotEmpty,
            Error::InvalidCallback => ErrorCode::InvalidCallback,
            Error::InvalidAcl => ErrorCode::InvalidAcl,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::SessionMoved => ErrorCode::SessionMoved,
            Error::NotReadOnly => ErrorCode::NotReadOnly,
            Error::EphemeralOnLocalSession => ErrorCode::EphemeralOnLocalSession,
            Error::NoWatcher => ErrorCode::NoWatcher,
            Error::RequestTimeout => ErrorCode::RequestTimeout,
            Error::ReconfigDisabled => ErrorCode::ReconfigDisabled,
            Error::SessionClosedRequireSaslAuth => ErrorCode::SessionClosedRequireSaslAuth,
            Error::QuotaExceeded => ErrorCode::QuotaExceeded,
            Error::Throttled => ErrorCode::Throttled,
            Error::Server(code) => ErrorCode::from_code(*code),
            _ => return None,
        };
        Some(code)
    }

    /// True when retrying the same request may succeed: the connection was lost, the request
    /// timed out, or the server was busy. Retrying a non-idempotent write after such an error
    /// may apply it twice (see [`Error::has_no_data_change`]).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::Timeout
                | Error::OperationTimeout
                | Error::RequestTimeout
                | Error::Throttled
                | Error::ReconfigInProgress
                | Error::SessionMoved
        )
    }

    /// True when the session is over and every later request on this client will fail:
    /// expired, closed, or failed authentication. Make a new client.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Error::SessionExpired
                | Error::Closed
                | Error::AuthFailed
                | Error::SessionClosedRequireSaslAuth
        )
    }

    /// True when a write certainly did not apply: the server rejected it, the client refused
    /// it before sending, or the session ended (expired, closed) before it was sent; requests
    /// in flight when a connection drops fail with [`Error::ConnectionLoss`] instead. False
    /// when the outcome is unknown (connection loss, timeout, protocol violation).
    pub fn has_no_data_change(&self) -> bool {
        !matches!(
            self,
            Error::ConnectionLoss | Error::Timeout | Error::Decode(_)
        )
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<ArgumentError> for Error {
    fn from(e: ArgumentError) -> Self {
        Error::BadArguments(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for &code in ErrorCode::ALL {
            if code.is_ok() {
                continue;
            }
            let err = Error::from_code(code);
            assert_eq!(err.code(), Some(code), "{code:?}");
            if code != ErrorCode::ApiError {
                assert!(!matches!(err, Error::Server(_)), "{code:?} has no variant");
            }
        }
        assert_eq!(
            Error::from_code(ErrorCode::from_code(-999)),
            Error::Server(-999)
        );
    }

    #[test]
    fn predicates() {
        assert!(Error::ConnectionLoss.is_retryable());
        assert!(!Error::ConnectionLoss.has_no_data_change());
        assert!(Error::NodeExists.has_no_data_change());
        assert!(Error::SessionExpired.is_terminal());
        assert!(Error::SessionExpired.has_no_data_change());
        assert!(!Error::NoNode.is_terminal());
        let multi = Error::MultiFailed {
            index: 1,
            code: ErrorCode::BadVersion,
        };
        assert_eq!(multi.to_string(), "multi operation 1 failed: bad version");
        assert!(multi.has_no_data_change());
        assert!(!multi.is_retryable());
    }
}
