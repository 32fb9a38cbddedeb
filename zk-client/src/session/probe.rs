//! Read-only mode: while connected to a read-only server, look for a read-write one; and tell
//! why a read-only server refused this client.
//!
//! Like the Java client, the core asks the other hosts in turn whether they serve read-write
//! (`isro` on a separate connection), starting after 500 ms and doubling the interval up to
//! 60 s. When one does, the client moves its session there (a read-only session that never saw
//! a read-write server reconnects as a new session).
//!
//! A read-only ZooKeeper server refuses a client that does not allow read-only servers by
//! closing the connection without a word, as a server behind the client's zxid does. So when a
//! handshake ends that way, the core asks the host `isro`; a read-only answer is reported
//! ([`Effect::Refused`]) so that `connect` can fail with
//! [`Error::ReadOnlyServerRefused`](crate::Error::ReadOnlyServerRefused) rather than `NoHosts`.

use std::time::{Duration, Instant};

use super::{Effect, Phase, Session, SessionState};
use crate::hosts::HostPort;

/// A host's answer to `isro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeAnswer {
    /// `rw`: it serves read-write.
    ReadWrite,
    /// `ro`: it is read-only.
    ReadOnly,
    /// No answer, or another one.
    Unknown,
}

impl ProbeAnswer {
    /// The answer in a server's reply to `isro`.
    pub(crate) fn parse(reply: &[u8]) -> ProbeAnswer {
        if reply.starts_with(b"rw") {
            ProbeAnswer::ReadWrite
        } else if reply.starts_with(b"ro") {
            ProbeAnswer::ReadOnly
        } else {
            ProbeAnswer::Unknown
        }
    }
}

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

    /// A handshake with `host` ended without an answer: ask whether it is read-only, when that
    /// would explain it.
    pub(super) fn ask_why_refused(&mut self, host: HostPort) {
        if !self.cfg.read_only {
            self.refusal_probe = Some(host.clone());
            self.effects.push_back(Effect::Probe(host));
        }
    }

    /// The answer to an [`Effect::Probe`].
    pub(crate) fn on_probe_result(&mut self, host: HostPort, answer: ProbeAnswer, now: Instant) {
        if self.refusal_probe.as_ref() == Some(&host) {
            self.refusal_probe = None;
            if answer == ProbeAnswer::ReadOnly {
                tracing::warn!(
                    host = %host,
                    "the server is read-only and refused this client, which does not allow \
                     read-only servers (ClientBuilder::read_only)"
                );
                self.effects.push_back(Effect::Refused {
                    read_only_allowed: false,
                });
            }
            return;
        }
        if answer != ProbeAnswer::ReadWrite
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
