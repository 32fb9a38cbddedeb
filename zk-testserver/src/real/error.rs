//! [`RealError`]: the errors of the harness.

use std::io;
use std::time::Duration;

/// Errors of the real-ZooKeeper harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RealError {
    /// The ZooKeeper jar or `java` is missing; run `scripts/install-deps.sh`.
    #[error("real ZooKeeper is not available: {0} (run scripts/install-deps.sh)")]
    Unavailable(String),
    /// An argument was out of range (e.g. an ensemble of 0 members, a bad four-letter word).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The member index is out of range.
    #[error("no member {index}: there are {count} members")]
    NoSuchMember {
        /// The index asked for.
        index: usize,
        /// The number of members.
        count: usize,
    },
    /// The member's JVM is not running (never started, killed or stopped).
    #[error("member {index} is not running")]
    NotRunning {
        /// The member.
        index: usize,
    },
    /// An I/O error while preparing files, spawning or talking to a server.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A member's JVM exited while the harness waited for it to serve.
    #[error("member {index} exited during startup ({status})\n{log_tail}")]
    Exited {
        /// The member.
        index: usize,
        /// Its exit status.
        status: String,
        /// The tail of its log and console output.
        log_tail: String,
    },
    /// The servers did not reach the awaited state in time.
    #[error("timed out after {waited:?} waiting for {what}\n{log_tail}")]
    Timeout {
        /// What was awaited, with the last observed state of each member.
        what: String,
        /// How long the harness waited.
        waited: Duration,
        /// The tails of the logs of the members involved.
        log_tail: String,
    },
}

impl RealError {
    pub(super) fn io(context: impl Into<String>, source: io::Error) -> Self {
        RealError::Io {
            context: context.into(),
            source,
        }
    }
}
