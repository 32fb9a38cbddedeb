//! Read-only mode: while connected to a read-only server, look for a read-write one.
//!
//! Like the Java client, the core asks the other hosts in turn whether they serve read-write
//! (`isro` on a separate connection), starting after 500 ms and doubling the interval up to
//! 60 s. When one does, the client moves its session there (a read-only session that never saw
//! a read-write server reconnects as a new session).

use std::time::{Duration, Instant};

use super::{Effect, Phase, Session, SessionState};
use crate::hosts::HostPort;

const FIRST_PROBE: Duration = Duration::from_millis(500);
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(60);

impl<R> Session<R> {
    pub(super) fn start_probing(&mut self, now: Instant) {
        if self.cfg.hosts.len() > 1 {
            self.ro_probe = Some((now + FIRST_PROBE, FIRST_PROBE));
        }
    }

    /// Emits a probe when one is due.
    pub(super) fn maybe_probe(&mut self, now: Instant) {
        let Some((at, interval)) = self.ro_probe else {
            return;
        };
        if now < at {
            return;
        }
        let next = (interval * 2).min(MAX_PROBE_INTERVAL);
        self.ro_probe = Some((now + next, next));
        let hosts = self.cfg.hosts.len();
        for _ in 0..hosts {
            let host = self.cfg.hosts[self.cursor % hosts].clone();
            self.cursor = (self.cursor + 1) % hosts;
            if Some(&host) != self.current.as_ref() {
                tracing::debug!(host = %host, "probing for a read-write server");
                self.effects.push_back(Effect::Probe(host));
                return;
            }
        }
    }

    /// The answer to an [`Effect::Probe`]: `read_write` when the host serves read-write.
    pub(crate) fn on_probe_result(&mut self, host: HostPort, read_write: bool, now: Instant) {
        if !read_write
            || self.phase != Phase::Connected
            || self.state != SessionState::ConnectedReadOnly
            || self.closing.is_some()
        {
            return;
        }
        tracing::info!(host = %host, "found a read-write server; moving the session there");
        self.effects.push_back(Effect::Disconnect);
        self.out.clear();
        self.set_state(SessionState::Disconnected);
        self.fail_in_flight();
        self.notify_persistent(SessionState::Disconnected);
        self.connect_to(host, now);
    }
}
