//! The session's lifecycle: public state changes, the session events they make, and renewal
//! after expiry.

use std::time::Instant;

use bytes::Bytes;
use zk_proto::PASSWORD_LEN;

use super::{Effect, Session, SessionState, WatchOp};
use crate::client::SessionId;
use crate::error::Error;
use crate::event::WatchedEvent;
use crate::events::{LossReason, SessionEvent};

impl<R> Session<R> {
    pub(super) fn set_state(&mut self, state: SessionState) {
        if self.state == state {
            return;
        }
        let previous = self.state;
        self.state = state;
        // The event goes first: whoever sees the new state finds the getters (generation,
        // session id) already up to date.
        if let Some(event) = self.event_for(previous, state) {
            tracing::debug!(?event, "session event");
            self.effects.push_back(Effect::Event {
                event,
                negotiated: self.negotiated,
            });
        }
        self.effects.push_back(Effect::State(state));
    }

    /// The session event of a state change, if it is one.
    fn event_for(&mut self, previous: SessionState, state: SessionState) -> Option<SessionEvent> {
        let session = SessionId(self.session_id);
        let lost = |reason| Some(SessionEvent::Lost { session, reason });
        match state {
            SessionState::Connected | SessionState::ConnectedReadOnly => {
                let read_only = state == SessionState::ConnectedReadOnly;
                let first = self.announced != self.session_id;
                self.announced = self.session_id;
                Some(match self.renewed_from.take() {
                    Some(old) => SessionEvent::NewSession {
                        old: SessionId(old),
                        new: session,
                        read_only,
                    },
                    None if first => SessionEvent::Connected { session, read_only },
                    None => SessionEvent::Reconnected { session, read_only },
                })
            }
            SessionState::Disconnected if previous.is_connected() => {
                Some(SessionEvent::Suspended { session })
            }
            SessionState::Expired => lost(LossReason::Expired),
            SessionState::AuthFailed => lost(LossReason::AuthFailed),
            SessionState::Closed => lost(LossReason::Closed),
            _ => None,
        }
    }

    /// The session expired: end, or start a new session when renewal is on.
    pub(super) fn expired(&mut self, now: Instant) {
        if !self.cfg.renew || self.closing.is_some() {
            self.terminate(SessionState::Expired, Error::SessionExpired);
            return;
        }
        let old = self.session_id;
        tracing::warn!(session_id = old, "session expired; starting a new session");
        self.effects.push_back(Effect::Disconnect);
        self.out.clear();
        for p in std::mem::take(&mut self.pending) {
            if let Some((WatchOp::Register(id, intent), path)) = &p.watch {
                let _ = self.watches.settle(*id, path, *intent, None);
            }
            if let Some(token) = p.token {
                self.complete(token, Err(Error::SessionExpired));
            }
        }
        self.timeout_cursor = 0;
        self.auth_in_flight.clear();
        self.announce = None;
        self.set_watches_in_flight = 0;
        // One-shot watches die with the session; persistent ones are set again on the new one.
        let event = WatchedEvent::session(SessionState::Expired);
        for watcher in self.watches.take_one_shots() {
            self.effects.push_back(Effect::Deliver {
                watcher,
                event: event.clone(),
            });
        }
        self.notify_persistent(SessionState::Expired);
        self.set_state(SessionState::Expired);
        if old != 0 {
            self.renewed_from.get_or_insert(old);
        }
        // Requests queued meanwhile stay queued (bounded by their timeout) for the new session;
        // credentials are sent again on it. The last zxid stays: the new session must not see
        // an older state than the old one did.
        self.session_id = 0;
        self.password = Bytes::from_static(&[0; PASSWORD_LEN]);
        self.seen_rw = false;
        self.negotiated = self.cfg.session_timeout;
        self.failures = 0;
        self.set_state(SessionState::Connecting);
        self.start_attempt(now);
    }
}
