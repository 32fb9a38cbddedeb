//! The connection-state policy every recipe follows, built on [`Client::events`].
//!
//! A recipe that owns something in ZooKeeper (a lock node, a latch node, a lease) can only
//! trust that ownership while its session is alive **and** it can talk to the server. The
//! client reports the session's life as [`SessionEvent`]s; this module turns them into what a
//! recipe must do about its ownership, under one of Curator's two policies
//! (`ConnectionStateErrorPolicy`):
//!
//! | session event | [`ConnectionPolicy::Standard`] | [`ConnectionPolicy::Session`] |
//! |---|---|---|
//! | `Suspended` (connection lost, session may live) | [`OwnershipChange::Suspended`]: treat as lost | nothing: keep ownership |
//! | `Reconnected` (same session) | [`OwnershipChange::Reconnected`]: re-check | [`OwnershipChange::Reconnected`]: re-check |
//! | `Lost` (expired, closed, auth failed) | [`OwnershipChange::Lost`] | [`OwnershipChange::Lost`] |
//! | `NewSession` (renewal after expiry) | [`OwnershipChange::NewSession`]: start over | [`OwnershipChange::NewSession`]: start over |
//!
//! `Standard` is the default, as in Curator, and what Curator's tech note 14 advises: while
//! disconnected, another process may already own the lock (our session may have expired on
//! the server without us knowing). `Session` keeps ownership through a disconnect and gives
//! it up only once the session is known to be gone; it trades safety for fewer
//! interruptions, and is only safe together with fenced writes ([`crate::FencingToken`]).
//!
//! Nothing learnt before a disconnect is trusted after it: on [`OwnershipChange::Reconnected`]
//! a recipe re-reads its state (`getChildren`, and the owner of its node) before it claims
//! ownership again.
//!
//! A recipe task keeps a [`ConnectionMonitor`] and `select!`s on [`ConnectionMonitor::next`]
//! beside its own work:
//!
//! ```
//! use zk_recipes::connection::{ConnectionMonitor, ConnectionPolicy, OwnershipChange};
//!
//! # async fn demo(client: zk_client::Client, work: impl std::future::Future<Output = ()>) {
//! let mut monitor = ConnectionMonitor::new(&client, ConnectionPolicy::Standard);
//! tokio::pin!(work);
//! loop {
//!     tokio::select! {
//!         _ = &mut work => break,
//!         change = monitor.next() => match change {
//!             Some(OwnershipChange::Reconnected) => { /* re-check what we own */ }
//!             Some(_) | None => { /* ownership lost or uncertain: stop the work */ break }
//!         },
//!     }
//! }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
//! #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
//! #     let reader = client.clone();
//! #     demo(client, async move { reader.exists("/").await.unwrap(); }).await;
//! # }
//! ```

use zk_client::{Client, LossReason, SessionEvent, SessionEvents, SessionId};

/// When a recipe gives up what it owns (Curator's `ConnectionStateErrorPolicy`). See the
/// [module docs](self) for the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionPolicy {
    /// Suspended (a lost connection) and Lost (the session ended) both mean ownership is lost.
    /// The default, and the safe choice.
    #[default]
    Standard,
    /// Only Lost means ownership is lost; ownership is kept through a disconnect.
    Session,
}

impl ConnectionPolicy {
    /// Whether `event` ends ownership under this policy.
    pub fn is_loss(self, event: &SessionEvent) -> bool {
        match event {
            SessionEvent::Suspended { .. } => self == ConnectionPolicy::Standard,
            SessionEvent::Lost { .. } | SessionEvent::NewSession { .. } => true,
            _ => false,
        }
    }
}

/// What a recipe must do about its ownership, as told by [`ConnectionMonitor::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnershipChange {
    /// The connection was lost ([`ConnectionPolicy::Standard`] only). Ownership is uncertain:
    /// stop acting as owner now. The nodes may still exist; wait for
    /// [`OwnershipChange::Reconnected`] (keep them) or [`OwnershipChange::Lost`].
    Suspended,
    /// Connected again with the same session after a disconnect. Re-read the state
    /// (`getChildren`, the owner of your node) before acting as owner again.
    Reconnected,
    /// The session ended; its ephemeral nodes are gone or about to go. If the client renews
    /// sessions, a [`OwnershipChange::NewSession`] follows; otherwise nothing does.
    Lost {
        /// Why the session ended.
        reason: LossReason,
    },
    /// A new session replaced the tracked one (the client renews expired sessions). Nodes of
    /// the old session are not ours, even if still readable: start over with this session.
    NewSession {
        /// The new session, now tracked.
        session: SessionId,
    },
}

/// Follows one client's session events and tells a recipe when its ownership changes, under
/// a [`ConnectionPolicy`]. Cheap; one per recipe task.
#[derive(Debug)]
pub struct ConnectionMonitor {
    events: SessionEvents,
    tracker: Tracker,
}

/// The pure part of [`ConnectionMonitor`]: folds events into what a recipe must do.
#[derive(Debug, Clone)]
struct Tracker {
    policy: ConnectionPolicy,
    session: SessionId,
    suspended: bool,
    lost: bool,
}

impl ConnectionMonitor {
    /// Starts following `client`'s events, tracking its current session.
    pub fn new(client: &Client, policy: ConnectionPolicy) -> ConnectionMonitor {
        ConnectionMonitor {
            events: client.events(),
            tracker: Tracker::new(policy, client.session_id()),
        }
    }

    /// The policy this monitor applies.
    pub fn policy(&self) -> ConnectionPolicy {
        self.tracker.policy
    }

    /// The session being tracked (changes on [`OwnershipChange::NewSession`]).
    pub fn session(&self) -> SessionId {
        self.tracker.session
    }

    /// True while ownership may be trusted under the policy: the tracked session is alive and,
    /// under [`ConnectionPolicy::Standard`], connected, as far as the events read so far say.
    pub fn is_trusted(&self) -> bool {
        self.tracker.is_trusted()
    }

    /// The next change that matters to a recipe, or `None` once the client is closed or its
    /// session ended for good. Cancel-safe: no event is lost if the future is dropped.
    pub async fn next(&mut self) -> Option<OwnershipChange> {
        loop {
            let event = self.events.next().await?;
            if let Some(change) = self.tracker.apply(event) {
                return Some(change);
            }
        }
    }
}

impl Tracker {
    fn new(policy: ConnectionPolicy, session: SessionId) -> Tracker {
        Tracker {
            policy,
            session,
            suspended: false,
            lost: false,
        }
    }

    fn is_trusted(&self) -> bool {
        !(self.lost || self.suspended && self.policy == ConnectionPolicy::Standard)
    }

    /// Folds one event into the state; returns the change to report, if any.
    fn apply(&mut self, event: SessionEvent) -> Option<OwnershipChange> {
        tracing::trace!(?event, tracked = ?self.session, "connection monitor event");
        match event {
            SessionEvent::Connected { session, .. } | SessionEvent::Reconnected { session, .. } => {
                if session != self.session {
                    return Some(self.renewed(session));
                }
                if std::mem::take(&mut self.suspended) {
                    return Some(OwnershipChange::Reconnected);
                }
                None
            }
            SessionEvent::Suspended { session } => {
                if session != self.session || self.lost || self.suspended {
                    return None;
                }
                self.suspended = true;
                (self.policy == ConnectionPolicy::Standard).then_some(OwnershipChange::Suspended)
            }
            SessionEvent::Lost { session, reason } => {
                if session != self.session || self.lost {
                    return None;
                }
                self.lost = true;
                Some(OwnershipChange::Lost { reason })
            }
            SessionEvent::NewSession { new, .. } => {
                if new == self.session {
                    return None;
                }
                Some(self.renewed(new))
            }
            _ => None,
        }
    }

    fn renewed(&mut self, session: SessionId) -> OwnershipChange {
        self.session = session;
        self.suspended = false;
        self.lost = false;
        OwnershipChange::NewSession { session }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: SessionId = SessionId(1);
    const S2: SessionId = SessionId(2);

    fn run(policy: ConnectionPolicy, events: Vec<SessionEvent>) -> Vec<OwnershipChange> {
        let mut tracker = Tracker::new(policy, S1);
        events
            .into_iter()
            .filter_map(|e| tracker.apply(e))
            .collect()
    }

    fn flap() -> Vec<SessionEvent> {
        vec![
            SessionEvent::Connected {
                session: S1,
                read_only: false,
            },
            SessionEvent::Suspended { session: S1 },
            SessionEvent::Suspended { session: S1 },
            SessionEvent::Reconnected {
                session: S1,
                read_only: false,
            },
        ]
    }

    #[test]
    fn standard_reports_suspension() {
        assert_eq!(
            run(ConnectionPolicy::Standard, flap()),
            vec![OwnershipChange::Suspended, OwnershipChange::Reconnected]
        );
    }

    #[test]
    fn session_policy_keeps_ownership_through_a_disconnect() {
        let mut tracker = Tracker::new(ConnectionPolicy::Session, S1);
        assert_eq!(tracker.apply(SessionEvent::Suspended { session: S1 }), None);
        assert!(tracker.is_trusted());
        assert_eq!(
            run(ConnectionPolicy::Session, flap()),
            vec![OwnershipChange::Reconnected]
        );
    }

    #[test]
    fn loss_and_renewal() {
        let mut tracker = Tracker::new(ConnectionPolicy::Standard, S1);
        let lost = tracker.apply(SessionEvent::Lost {
            session: S1,
            reason: LossReason::Expired,
        });
        assert_eq!(
            lost,
            Some(OwnershipChange::Lost {
                reason: LossReason::Expired
            })
        );
        assert!(!tracker.is_trusted());
        let renewed = tracker.apply(SessionEvent::NewSession {
            old: S1,
            new: S2,
            read_only: false,
        });
        assert_eq!(renewed, Some(OwnershipChange::NewSession { session: S2 }));
        assert!(tracker.is_trusted());
        // Events of the old session no longer matter.
        assert_eq!(tracker.apply(SessionEvent::Suspended { session: S1 }), None);
    }

    #[test]
    fn a_snapshot_of_another_session_is_a_new_session() {
        assert_eq!(
            run(
                ConnectionPolicy::Standard,
                vec![SessionEvent::Connected {
                    session: S2,
                    read_only: false
                }]
            ),
            vec![OwnershipChange::NewSession { session: S2 }]
        );
    }
}
