//! Ensemble-wide sessions: createSession and closeSession are replicated txns; every member
//! tracks the sessions of its committed history; members forward their clients' touches to
//! the leader in ping replies; the leader alone expires sessions, by proposing closeSession
//! (which deletes the session's ephemerals on every member as it commits).
//!
//! A new leader gives every session a full timeout from the moment it is established, as
//! ZooKeeper's leader does, so a failover never expires a session whose client kept talking.

use super::{Replica, Role, Txn};
use crate::session::SessionTracker;

impl Replica {
    pub(super) fn new_tracker(tick_ms: i64) -> SessionTracker {
        SessionTracker::new(tick_ms, 0, i32::MAX, 1, [0; 32])
    }

    /// The sessions of the committed history (deadlines are meaningful on the leader only).
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// A client of this member showed its session is alive (any packet, including pings).
    /// The leader moves the deadline at once; others pass the touch on with their next ping
    /// reply.
    pub fn touch(&mut self, session_id: i64, now: i64) {
        self.now = now.max(self.now);
        if let Role::Leading(_) = self.role {
            self.sessions.touch(session_id, self.now);
        } else {
            self.touches.insert(session_id);
        }
    }

    /// Leader: marks a session closing (a closeSession for it was proposed): later requests
    /// of the session are prepared as expired, as ZooKeeper's prep does.
    pub fn mark_closing(&mut self, session_id: i64) {
        if let Role::Leading(_) = self.role {
            self.sessions.set_closing(session_id);
        }
    }

    /// Touches reported by a learner.
    pub(super) fn touched_by_learner(&mut self, touches: &[i64]) {
        for &s in touches {
            self.sessions.touch(s, self.now);
        }
    }

    /// The touches to report in a ping reply.
    pub(super) fn take_touches(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.touches).into_iter().collect()
    }

    /// Tracks the sessions a committed txn creates or closes.
    pub(super) fn track_sessions(&mut self, txn: &Txn) {
        match txn {
            Txn::CreateSession {
                session_id,
                timeout_ms,
            } => self.sessions.add(*session_id, *timeout_ms, self.now),
            Txn::CloseSession { session_id } => {
                self.sessions.remove(*session_id);
            }
            _ => {}
        }
    }

    /// Leader: proposes closeSession for every session past its deadline.
    pub(super) fn expire_sessions(&mut self) {
        for session_id in self.sessions.expired(self.now) {
            tracing::info!(
                session = format_args!("{session_id:#x}"),
                "session expired: closing it"
            );
            self.sessions.set_closing(session_id);
            if self
                .leader_propose(0, 0, Txn::CloseSession { session_id })
                .is_none()
            {
                return;
            }
        }
    }
}
