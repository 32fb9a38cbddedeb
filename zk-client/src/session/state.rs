//! The public session state.

use std::fmt;

/// The state of a client's session, observed through
/// [`Client::state`](crate::Client::state) (a `tokio::sync::watch` channel).
///
/// ```text
///                 first session                 connection lost
///   Connecting ──────────────────▶ Connected ─────────────────────▶ Disconnected
///       │                          ConnectedReadOnly ◀──────────────     │
///       │                              │  ▲          reconnected          │
///       │                              │  └──────────────────────────────┘
///       │                              │
///       ├──────────────┬───────────────┼──────────────────────┐
///       ▼              ▼               ▼                      ▼
///    Expired       AuthFailed        Closed            (from any state)
/// ```
///
/// - `Connecting`: no session yet; the client is trying the servers.
/// - `Connected` / `ConnectedReadOnly`: a session is established on a (read-only) server;
///   the client moves between the two when it reconnects elsewhere. The state is announced
///   only once the server has accepted the session's credentials and re-armed its watches, so
///   any change made after a `Connected` is observed reaches this session's watchers.
/// - `Disconnected`: the session exists but the connection was lost; the client reconnects on
///   its own. Requests made now wait for the reconnect (bounded by the request timeout).
/// - `Expired`, `AuthFailed`, `Closed`: terminal. `Expired` comes from the server, or from the
///   client when no server accepted the session within the session timeout since the last
///   contact; `AuthFailed` when a server rejects the credentials; `Closed` after
///   [`Client::close`](crate::Client::close) or when every `Client` handle is dropped.
/// - With [`ClientBuilder::renew_session_on_expiry`](crate::ClientBuilder::renew_session_on_expiry),
///   `Expired` is not terminal: the client goes on to `Connecting` and a new session.
///   [`Client::events`](crate::Client::events) tells this apart without missing any step (a
///   `watch` channel only keeps the latest state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Trying to establish the first session.
    Connecting,
    /// Connected to a read-write server.
    Connected,
    /// Connected to a read-only server (only when read-only mode was allowed).
    ConnectedReadOnly,
    /// The connection was lost; reconnecting with the same session.
    Disconnected,
    /// The session expired (terminal, unless renewal is on).
    Expired,
    /// Authentication failed (terminal).
    AuthFailed,
    /// The client was closed (terminal).
    Closed,
}

impl SessionState {
    /// True for `Connected` and `ConnectedReadOnly`.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// True for the states no session leaves: `Expired`, `AuthFailed`, `Closed` (a client
    /// that renews its session leaves `Expired` for a new session).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
