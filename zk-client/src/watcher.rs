//! Typed watchers: a one-shot watch is a future, a persistent watch is a `Stream`.
//!
//! Dropping a watcher unregisters it; when it was the last watcher of its path and kind, the
//! client also removes the watch on the server (`removeWatches`).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::driver::Command;
use crate::event::WatchedEvent;
use crate::session::{SessionState, WatcherId};

/// Where the driver delivers a watcher's events.
#[derive(Debug)]
pub(crate) enum Sink {
    Oneshot(oneshot::Sender<WatchedEvent>),
    Persistent {
        tx: mpsc::Sender<WatchedEvent>,
        lagged: Arc<AtomicBool>,
    },
}

/// Sends `Unwatch` to the session when dropped, unless disarmed.
#[derive(Debug)]
struct Registration {
    id: WatcherId,
    commands: mpsc::WeakUnboundedSender<Command>,
    armed: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.armed {
            if let Some(tx) = self.commands.upgrade() {
                let _ = tx.send(Command::Unwatch(self.id));
            }
        }
    }
}

/// A one-shot watch, set by [`Client::get_data_and_watch`](crate::Client::get_data_and_watch),
/// [`Client::exists_and_watch`](crate::Client::exists_and_watch),
/// [`Client::get_children_and_watch`](crate::Client::get_children_and_watch) or
/// [`Client::get_config_and_watch`](crate::Client::get_config_and_watch).
///
/// It fires once, with the first matching node event; it survives reconnects (the client
/// re-registers it). If the session ends first, [`OneshotWatcher::changed`] returns an
/// [`EventType::Session`](crate::EventType::Session) event with the terminal state (`Expired`,
/// `AuthFailed` or `Closed`); it never reports `Disconnected`.
#[derive(Debug)]
pub struct OneshotWatcher {
    rx: oneshot::Receiver<WatchedEvent>,
    registration: Registration,
}

impl OneshotWatcher {
    pub(crate) fn new(
        id: WatcherId,
        commands: mpsc::WeakUnboundedSender<Command>,
    ) -> (OneshotWatcher, Sink) {
        let (tx, rx) = oneshot::channel();
        let watcher = OneshotWatcher {
            rx,
            registration: Registration {
                id,
                commands,
                armed: true,
            },
        };
        (watcher, Sink::Oneshot(tx))
    }

    /// Waits for the event. Cancellation-safe in the sense that dropping the future drops
    /// (and unregisters) the watcher.
    pub async fn changed(mut self) -> WatchedEvent {
        let event = match (&mut self.rx).await {
            Ok(event) => event,
            Err(_) => WatchedEvent::session(SessionState::Closed),
        };
        // The session already forgot a fired watcher.
        self.registration.armed = false;
        event
    }
}

/// A persistent (or persistent recursive) watch set by
/// [`Client::add_watch`](crate::Client::add_watch): a [`Stream`] of events that stays
/// registered until dropped, and is re-registered after every reconnect.
///
/// Besides node events it yields [`EventType::Session`](crate::EventType::Session) events:
/// `Disconnected` when the connection drops (events may be lost until it is back, see
/// ZOOKEEPER-4698), `Connected`/`ConnectedReadOnly` when it is back, and a terminal state
/// (`Expired`, `AuthFailed`, `Closed`), after which the stream ends. With
/// [`ClientBuilder::renew_session_on_expiry`](crate::ClientBuilder::renew_session_on_expiry),
/// `Expired` does not end it: the watch is set again on the new session, and `Connected`
/// follows once it is (changes made in between were missed: re-read).
///
/// [`Client::remove_watches`](crate::Client::remove_watches) on its path ends it too: it
/// yields `PersistentWatchRemoved`, then `None`.
///
/// **Overflow**: events wait in a bounded buffer
/// ([`ClientBuilder::persistent_watch_buffer`](crate::ClientBuilder::persistent_watch_buffer),
/// 1024 by default). A consumer that falls further behind loses the watch: it is unregistered,
/// the stream ends after the buffered events, and [`PersistentWatcher::is_lagged`] returns
/// true. The session itself is never blocked by a slow watcher.
#[derive(Debug)]
pub struct PersistentWatcher {
    rx: mpsc::Receiver<WatchedEvent>,
    lagged: Arc<AtomicBool>,
    /// Unregisters the watch when the watcher is dropped.
    _registration: Registration,
}

impl PersistentWatcher {
    pub(crate) fn new(
        id: WatcherId,
        commands: mpsc::WeakUnboundedSender<Command>,
        capacity: usize,
    ) -> (PersistentWatcher, Sink) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let watcher = PersistentWatcher {
            rx,
            lagged: lagged.clone(),
            _registration: Registration {
                id,
                commands,
                armed: true,
            },
        };
        (watcher, Sink::Persistent { tx, lagged })
    }

    /// The next event, or `None` once the watch is over (session ended, or overflow).
    pub async fn changed(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }

    /// True if the watch was dropped because the consumer fell behind.
    pub fn is_lagged(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
    }
}

impl Stream for PersistentWatcher {
    type Item = WatchedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        self.rx.poll_recv(cx)
    }
}
