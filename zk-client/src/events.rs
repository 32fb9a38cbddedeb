//! Session events: a lossless, ordered stream of a client's session lifecycle
//! ([`Client::events`](crate::Client::events)).
//!
//! The session core produces the events as effects; the driver hands each one to every
//! subscriber through an unbounded channel of its own, so a slow reader delays nobody and still
//! sees every transition, in order.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;

use crate::client::{Client, SessionId};

/// A change in the life of a client's session, from [`Client::events`](crate::Client::events).
///
/// The names follow Curator's connection states: `Suspended` means "ownership unknown" (a lock
/// holder must stop acting as owner until `Reconnected`), `Lost` means the session is over
/// (its ephemeral nodes are gone or about to be).
///
/// ```text
///   Connected ──▶ Suspended ──▶ Reconnected ──▶ Suspended ──▶ ...
///                     │
///                     ├──▶ Lost{Expired} ──▶ NewSession ──▶ Suspended ──▶ ...   (renewal on)
///                     │
///                     └──▶ Lost{Expired}                                  (strict: the end)
///
///   from any state:  Lost{Closed}, Lost{AuthFailed}                       (the end)
/// ```
///
/// Once connected, an expiry is always preceded by `Suspended`: the server closes the connection of an
/// expired session, and the client learns of the expiry when it reconnects (or declares it
/// itself when no server accepts the session within its timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The first connection of a session (the initial one, or of a renewed session).
    ///
    /// Also sent, with a new session id, when a read-only client whose session was created
    /// by a read-only server (such sessions are local to that server) reaches a read-write
    /// server and gets a new session there.
    Connected {
        /// The session.
        session: SessionId,
        /// Whether the server is read-only.
        read_only: bool,
    },
    /// Connection lost, the session may still live: ownership unknown (Curator SUSPENDED).
    Suspended {
        /// The session.
        session: SessionId,
    },
    /// Connected again with the same session (Curator RECONNECTED).
    Reconnected {
        /// The session.
        session: SessionId,
        /// Whether the server is read-only.
        read_only: bool,
    },
    /// The session ended: expired, closed, or auth failed (Curator LOST).
    Lost {
        /// The session that ended.
        session: SessionId,
        /// Why it ended.
        reason: LossReason,
    },
    /// After `Lost { reason: Expired }`, when renewal is on
    /// ([`ClientBuilder::renew_session_on_expiry`](crate::ClientBuilder::renew_session_on_expiry)(crate::ClientBuilder::renew_session_on_expiry)):
    /// a new session replaced it. Followed by nothing else for that change; `Connected` is NOT
    /// sent again for it.
    NewSession {
        /// The expired session.
        old: SessionId,
        /// The new session.
        new: SessionId,
        /// Whether the server is read-only.
        read_only: bool,
    },
}

impl SessionEvent {
    /// The session the event is about (the new one for `NewSession`).
    pub fn session(&self) -> SessionId {
        match self {
            SessionEvent::Connected { session, .. }
            | SessionEvent::Suspended { session }
            | SessionEvent::Reconnected { session, .. }
            | SessionEvent::Lost { session, .. } => *session,
            SessionEvent::NewSession { new, .. } => *new,
        }
    }

    /// True for the events after which the session can serve requests: `Connected`,
    /// `Reconnected`, `NewSession`.
    pub fn is_connected(&self) -> bool {
        matches!(
            self,
            SessionEvent::Connected { .. }
                | SessionEvent::Reconnected { .. }
                | SessionEvent::NewSession { .. }
        )
    }

    /// What a subscriber arriving now is told: the same, except that a `NewSession` reads as
    /// the `Connected` of the new session.
    fn snapshot(&self) -> SessionEvent {
        match self {
            SessionEvent::NewSession { new, read_only, .. } => SessionEvent::Connected {
                session: *new,
                read_only: *read_only,
            },
            other => other.clone(),
        }
    }
}

/// Why a session ended ([`SessionEvent::Lost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LossReason {
    /// The session expired: reported by the server, or detected by the client when no server
    /// accepted it within the session timeout.
    Expired,
    /// The client was closed ([`Client::close`](crate::Client::close), or every handle dropped).
    Closed,
    /// A server rejected the credentials.
    AuthFailed,
}

/// The stream of [`SessionEvent`]s returned by [`Client::events`](crate::Client::events).
///
/// Lossless and ordered: events wait in an unbounded buffer of this subscriber's own until
/// read (there are only a handful per connection change). The first item is a snapshot of the
/// state at subscription. The stream ends after a `Lost` that is not followed by renewal, or
/// when the client is closed.
#[derive(Debug)]
pub struct SessionEvents {
    rx: mpsc::UnboundedReceiver<SessionEvent>,
}

impl SessionEvents {
    /// The next event, or `None` once the session is over for good.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        self.rx.recv().await
    }
}

impl Stream for SessionEvents {
    type Item = SessionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Client {
    /// A lossless, ordered stream of every session event from now on, for any number of
    /// subscribers. Its first item is a snapshot of the current state (`Connected` if
    /// connected, `Suspended` if disconnected, `Lost` if ended; a renewed session's first
    /// connection reads as `Connected`), so a subscriber never misses where things stand.
    /// The stream ends after a terminal `Lost` (one that is not followed by renewal) or when
    /// the client is closed.
    ///
    /// Each subscriber has an unbounded buffer of its own: a slow reader sees every event, and
    /// delays nobody. Dropping the stream unsubscribes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> zk_client::Result<()> {
    /// # let server = zk_testserver::TestServer::builder().start().await.unwrap();
    /// # let connect_string = server.addr().to_string();
    /// use zk_client::{Client, LossReason, SessionEvent};
    ///
    /// let client = Client::connect(&connect_string).await?;
    /// let mut events = client.events();
    /// let session = client.session_id();
    /// assert_eq!(
    ///     events.next().await,
    ///     Some(SessionEvent::Connected { session, read_only: false })
    /// );
    /// client.close().await?;
    /// assert_eq!(
    ///     events.next().await,
    ///     Some(SessionEvent::Lost { session, reason: LossReason::Closed })
    /// );
    /// assert_eq!(events.next().await, None);
    /// # Ok(()) }
    /// ```
    pub fn events(&self) -> SessionEvents {
        self.lifecycle().subscribe()
    }

    /// Increments with every new session (1 for the first, then once per renewal after
    /// expiry, see [`ClientBuilder::renew_session_on_expiry`](crate::ClientBuilder::renew_session_on_expiry)). Compare it to tell whether
    /// the session changed between two points (ephemeral nodes and one-shot watches of an
    /// older generation are gone).
    pub fn session_generation(&self) -> u64 {
        self.lifecycle().generation()
    }

    /// The session timeout the server granted (`Duration::ZERO` before the first session).
    pub fn negotiated_session_timeout(&self) -> Duration {
        self.lifecycle().negotiated()
    }

    /// The server this client is connected to now, if connected.
    pub fn connected_server(&self) -> Option<SocketAddr> {
        self.lifecycle().server()
    }
}

/// What the session task publishes about the session's life, and its event subscribers.
#[derive(Debug, Default)]
struct Lifecycle {
    /// The last event, for the snapshot of new subscribers.
    last: Option<SessionEvent>,
    subscribers: Vec<mpsc::UnboundedSender<SessionEvent>>,
    /// The session task is gone: new subscribers get the snapshot and an ended stream.
    ended: bool,
    generation: u64,
    negotiated: Duration,
    server: Option<SocketAddr>,
    /// The last refusal by a read-only server (whether this client allowed read-only ones).
    refused: Option<bool>,
}

/// The shared lifecycle state. A `std` mutex, locked only on session events and by the
/// (rare) getters and subscriptions, never on the request path and never across an `.await`:
/// the snapshot given to a new subscriber and the events published after it must not
/// interleave, which a lock makes simple.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    inner: Mutex<Lifecycle>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Lifecycle> {
        // Nothing under this lock can panic halfway through an update.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber: the snapshot first, then every event published after it.
    pub(crate) fn subscribe(&self) -> SessionEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        if let Some(last) = &inner.last {
            let _ = tx.send(last.snapshot());
        }
        if !inner.ended {
            inner.subscribers.push(tx);
        }
        SessionEvents { rx }
    }

    /// Hands `event` to every subscriber, dropping those that went away.
    /// `server` is the server of the connection after the event (`None` unless connected).
    pub(crate) fn publish(
        &self,
        event: SessionEvent,
        negotiated: Duration,
        server: Option<SocketAddr>,
    ) {
        let mut inner = self.lock();
        inner.server = server;
        if matches!(
            event,
            SessionEvent::Connected { .. } | SessionEvent::NewSession { .. }
        ) {
            inner.generation += 1;
        }
        if event.is_connected() {
            inner.negotiated = negotiated;
        }
        inner
            .subscribers
            .retain(|tx| tx.send(event.clone()).is_ok());
        inner.last = Some(event);
    }

    /// The session task ended: every stream ends after its buffered events.
    pub(crate) fn end(&self) {
        let mut inner = self.lock();
        inner.ended = true;
        inner.server = None;
        inner.subscribers.clear();
    }

    /// A read-only server refused this client (the core's `Effect::Refused`).
    pub(crate) fn refused(&self, read_only_allowed: bool) {
        self.lock().refused = Some(read_only_allowed);
    }

    /// The last refusal by a read-only server: whether this client allowed read-only ones.
    pub(crate) fn refusal(&self) -> Option<bool> {
        self.lock().refused
    }

    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub(crate) fn negotiated(&self) -> Duration {
        self.lock().negotiated
    }

    pub(crate) fn server(&self) -> Option<SocketAddr> {
        self.lock().server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(id: i64) -> SessionEvent {
        SessionEvent::Connected {
            session: SessionId(id),
            read_only: false,
        }
    }

    #[tokio::test]
    async fn snapshot_then_every_event_in_order_then_end() {
        let hub = Hub::default();
        hub.publish(connected(1), Duration::from_secs(4), None);
        let mut early = hub.subscribe();
        let suspended = SessionEvent::Suspended {
            session: SessionId(1),
        };
        hub.publish(suspended.clone(), Duration::ZERO, None);
        let renewed = SessionEvent::NewSession {
            old: SessionId(1),
            new: SessionId(2),
            read_only: false,
        };
        hub.publish(renewed.clone(), Duration::from_secs(6), None);
        let mut late = hub.subscribe();
        hub.end();
        assert_eq!(early.next().await, Some(connected(1)));
        assert_eq!(early.next().await, Some(suspended));
        assert_eq!(early.next().await, Some(renewed));
        assert_eq!(early.next().await, None);
        // A late subscriber sees the renewed session as connected.
        assert_eq!(late.next().await, Some(connected(2)));
        assert_eq!(late.next().await, None);
        assert_eq!(hub.generation(), 2);
        assert_eq!(hub.negotiated(), Duration::from_secs(6));
        // After the end: the last state, then nothing.
        let mut after = hub.subscribe();
        assert_eq!(after.next().await, Some(connected(2)));
        assert_eq!(after.next().await, None);
    }

    #[test]
    fn the_stream_is_unpin_and_send() {
        fn check<T: Stream<Item = SessionEvent> + Unpin + Send + 'static>() {}
        check::<SessionEvents>();
    }

    #[tokio::test]
    async fn dropped_subscribers_are_forgotten() {
        let hub = Hub::default();
        let first = hub.subscribe();
        let _second = hub.subscribe();
        drop(first);
        hub.publish(connected(1), Duration::ZERO, None);
        assert_eq!(hub.lock().subscribers.len(), 1);
    }
}
