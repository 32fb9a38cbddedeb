//! The connection lifecycle of the session core: connection attempts over the host list,
//! a connection made, failed or lost, and what is failed or kept when it is lost.

use super::*;

impl<R> Session<R> {
    pub(super) fn start_attempt(&mut self, now: Instant) {
        let host = self.cfg.hosts[self.cursor % self.cfg.hosts.len()].clone();
        self.cursor = (self.cursor + 1) % self.cfg.hosts.len();
        self.connect_to(host, now);
    }

    pub(super) fn connect_to(&mut self, host: HostPort, now: Instant) {
        tracing::debug!(host = %host, "connecting");
        self.current = Some(host.clone());
        self.ro_probe = None;
        self.phase = Phase::Connecting {
            deadline: now + self.attempt_timeout(),
        };
        self.effects.push_back(Effect::Connect(host));
    }

    /// The connection the driver was opening is established: start the handshake.
    pub(crate) fn on_connected(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Connecting { .. }) {
            return;
        }
        let (session_id, password) = if self.seen_rw {
            (self.session_id, self.password.clone())
        } else {
            (0, Bytes::from_static(&[0; PASSWORD_LEN]))
        };
        let request = ConnectRequest {
            protocol_version: zk_proto::PROTOCOL_VERSION,
            last_zxid_seen: self.last_zxid,
            timeout: duration_ms(self.cfg.session_timeout),
            session_id,
            passwd: password,
            read_only: Some(self.cfg.read_only),
        };
        self.out.clear();
        encode_connect_request(self.out.buf(), &request);
        self.last_send = now;
        self.phase = Phase::Handshaking {
            deadline: now + self.attempt_timeout(),
        };
    }

    /// Opening the connection failed (resolution, refusal, TLS handshake).
    pub(crate) fn on_connect_failed(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Connecting { .. }) {
            self.attempt_failed(now);
        }
    }

    /// The connection closed or failed (EOF or an IO error).
    pub(crate) fn on_disconnected(&mut self, now: Instant) {
        match self.phase {
            Phase::Handshaking { .. } => {
                if let Some(host) = self.current.clone() {
                    self.ask_why_refused(host);
                }
                self.attempt_failed(now);
            }
            Phase::Connecting { .. } => self.attempt_failed(now),
            Phase::Connected => self.connection_lost(now),
            Phase::Idle { .. } | Phase::Terminal => {}
        }
    }

    pub(super) fn attempt_failed(&mut self, now: Instant) {
        self.effects.push_back(Effect::Disconnect);
        self.out.clear();
        if self.check_expiry(now) {
            return;
        }
        self.failures += 1;
        let hosts = u32::try_from(self.cfg.hosts.len()).unwrap_or(u32::MAX);
        let passes_done = |n: u32| self.failures >= n.saturating_mul(hosts);
        // Only before this client's first session: never once one was announced (a renewed
        // session connects in state `Connecting` too).
        if self.state == SessionState::Connecting
            && self.announced == 0
            && self.cfg.connect_passes.is_some_and(passes_done)
        {
            tracing::warn!(
                attempts = self.failures,
                "no server accepted a connection; giving up"
            );
            self.terminate(SessionState::Closed, Error::NoHosts);
            return;
        }
        if self.failures % hosts == 0 {
            let passes = (self.failures / hosts).min(16);
            let base = (BACKOFF_BASE * (1 << (passes - 1))).min(BACKOFF_MAX);
            let delay = base.mul_f64(self.rng.random_range(0.5..1.5));
            tracing::debug!(?delay, passes, "every server failed; backing off");
            self.phase = Phase::Idle { until: now + delay };
        } else {
            self.start_attempt(now);
        }
    }

    pub(super) fn connection_lost(&mut self, now: Instant) {
        tracing::info!(session_id = self.session_id, "connection lost");
        self.effects.push_back(Effect::Disconnect);
        self.out.clear();
        if self.closing.is_some() && !self.can_resume() {
            self.fail_in_flight();
            self.terminate(SessionState::Closed, Error::Closed);
            return;
        }
        // (While closing, the reconnect below only sends closeSession again.)
        // The state changes first, so whoever sees ConnectionLoss sees Disconnected too.
        self.set_state(SessionState::Disconnected);
        self.fail_in_flight();
        self.notify_persistent(SessionState::Disconnected);
        if !self.check_expiry(now) {
            self.start_attempt(now);
        }
    }

    /// Fails every request in flight with ConnectionLoss; credentials stay for the next
    /// connection, and their waiters with them.
    pub(super) fn fail_in_flight(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            if let Some((WatchOp::Register(id, intent), path)) = &p.watch {
                // The server forgets its watches with the connection: nothing to remove there.
                let _ = self.watches.settle(*id, path, *intent, None);
            }
            if let Some(token) = p.token {
                self.complete(token, Err(Error::ConnectionLoss));
            }
        }
        self.timeout_cursor = 0;
        self.auth_in_flight.clear();
        self.announce = None;
        self.set_watches_in_flight = 0;
    }
}
