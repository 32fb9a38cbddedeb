//! Watch events as delivered to watchers.

use crate::session::SessionState;

/// What a [`WatchedEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// A session state change (see [`WatchedEvent::state`]); `path` is empty.
    Session,
    /// The node was created.
    NodeCreated,
    /// The node was deleted.
    NodeDeleted,
    /// The node's data changed.
    NodeDataChanged,
    /// The node's children changed.
    NodeChildrenChanged,
    /// The data watch was removed by [`Client::remove_watches`](crate::Client::remove_watches).
    DataWatchRemoved,
    /// The child watch was removed by [`Client::remove_watches`](crate::Client::remove_watches).
    ChildWatchRemoved,
    /// The persistent watch was removed by
    /// [`Client::remove_watches`](crate::Client::remove_watches).
    PersistentWatchRemoved,
}

impl EventType {
    /// The client event type of a server event type (`None` for codes a server never sends).
    pub(crate) fn from_wire(t: zk_proto::EventType) -> Option<EventType> {
        Some(match t {
            zk_proto::EventType::NodeCreated => EventType::NodeCreated,
            zk_proto::EventType::NodeDeleted => EventType::NodeDeleted,
            zk_proto::EventType::NodeDataChanged => EventType::NodeDataChanged,
            zk_proto::EventType::NodeChildrenChanged => EventType::NodeChildrenChanged,
            _ => return None,
        })
    }
}

/// One event delivered to a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened.
    pub event_type: EventType,
    /// The session state when the event was delivered (the new state for
    /// [`EventType::Session`] events).
    pub state: SessionState,
    /// The node concerned, relative to the chroot (empty for session events).
    pub path: String,
    /// The zxid of the change, when the server reports it (-1 for events produced when
    /// watches are re-registered after a reconnect, 0 for client-generated events).
    pub zxid: i64,
}

impl WatchedEvent {
    /// A session event.
    pub(crate) fn session(state: SessionState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::Session,
            state,
            path: String::new(),
            zxid: 0,
        }
    }
}
