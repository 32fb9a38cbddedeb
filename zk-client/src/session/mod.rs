//! The sans-IO session core.
//!
//! [`Session`] is a state machine: the driver feeds it inputs (a connection attempt succeeded
//! or failed, bytes arrived, the connection dropped, a user command, the current time) and
//! drains its outputs: [`Effect`]s ([`Session::poll_effect`]), the bytes to write
//! ([`Session::poll_transmit`]) and when to wake it next ([`Session::next_deadline`]). It never
//! touches a socket or a clock, so tests drive it through reconnects and expiry directly.
//!
//! It owns the session identity (id, password, negotiated timeout, last zxid), the host cursor
//! and backoff, the credentials, the requests queued while disconnected, the requests in flight
//! (in xid order: the server answers in order, so a reply always matches the front), and the
//! watch registry.
//!
//! Timers, derived from the negotiated session timeout `T`:
//! - read timeout `2/3 T`: no bytes for that long drops the connection;
//! - a ping after `min(read timeout / 2, 10 s)` without sending;
//! - one connection attempt (connect + handshake) gets `max(read timeout / hosts, 500 ms)`,
//!   capped by the connection timeout;
//! - after a full pass over the hosts fails, a jittered exponential backoff (10 ms doubling,
//!   at most 2 s, ×0.5–1.5): short at first, because the usual cause is a leader election
//!   (members refuse clients until they have a leader; an election takes milliseconds on
//!   zk-testserver, a few hundred on ZooKeeper), and still 1–2 s per pass after eight passes
//!   when the servers stay down;
//! - while disconnected, the client declares the session expired once `T` has passed since it
//!   last heard from a server.

mod connection;
mod input;
mod lifecycle;
mod probe;
mod sasl;
mod state;
mod transmit;
pub(crate) mod watches;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod fuzz_script;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use zk_proto::{
    encode_connect_request, encode_request, xid, AuthPacket, ConnectRequest, FrameDecoder, OpCode,
    RemoveWatchesRequest, Request, Response, WatcherType, DEFAULT_MAX_FRAME, PASSWORD_LEN,
};

pub(crate) use probe::ProbeAnswer;
pub use state::SessionState;
pub(crate) use transmit::Chunk;
pub(crate) use watches::{WatchIntent, WatcherId};

use crate::error::{ArgumentError, Error, Result};
use crate::event::WatchedEvent;
use crate::events::SessionEvent;
use crate::frame::RequestFrame;
use crate::hosts::{Chroot, HostPort};
use transmit::Transmit;
use watches::{Orphaned, Registry};

/// The largest setWatches2 frame we send (ZOOKEEPER-706).
pub(crate) const SET_WATCHES_CHUNK: usize = 128 * 1024;
const MAX_PING_INTERVAL: Duration = Duration::from_secs(10);
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const BACKOFF_BASE: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const MAX_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What the core needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) hosts: Vec<HostPort>,
    pub(crate) chroot: Chroot,
    pub(crate) session_timeout: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) read_only: bool,
    pub(crate) session: Option<(i64, Bytes)>,
    pub(crate) auth: Vec<(String, Bytes)>,
    /// SASL DIGEST-MD5 credentials (user, password), authenticated on every connection.
    pub(crate) sasl: Option<crate::sasl::Credentials>,
    pub(crate) seed: u64,
    /// Before the first connection, give up (state `Closed`, queued requests `NoHosts`) after
    /// this many failed passes over the hosts (`ClientBuilder::connect_attempts`).
    pub(crate) connect_passes: Option<u32>,
    /// Start a new session when this one expires (instead of ending).
    pub(crate) renew: bool,
}

/// An output of the core, executed by the driver in order.
#[derive(Debug)]
pub(crate) enum Effect<R> {
    /// Resolve this host now and open a connection to it; report with
    /// [`Session::on_connected`] or [`Session::on_connect_failed`].
    Connect(HostPort),
    /// Close the current connection (or abandon the attempt in progress).
    Disconnect,
    /// Complete a request.
    Complete {
        /// The caller's token.
        token: R,
        /// The outcome.
        result: Result<Response>,
    },
    /// Hand an event to a watcher.
    Deliver {
        /// The watcher.
        watcher: WatcherId,
        /// The event.
        event: WatchedEvent,
    },
    /// The public session state changed.
    State(SessionState),
    /// A session lifecycle event, for the [`Client::events`](crate::Client::events)
    /// subscribers. Precedes the [`Effect::State`] it comes from.
    Event {
        /// The event.
        event: SessionEvent,
        /// The negotiated session timeout at the time.
        negotiated: Duration,
    },
    /// Ask this host whether it serves read-write (the `isro` four-letter word, on a separate
    /// connection); report with [`Session::on_probe_result`]. While connected read-only, or
    /// after a host closed a handshake without answering.
    Probe(HostPort),
    /// A read-only server refused to give this client a session: the client does not allow
    /// read-only servers, or (`read_only_allowed`) the server cannot create sessions.
    Refused {
        /// Whether this client allows read-only servers.
        read_only_allowed: bool,
    },
}

/// What a request does to the watch registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchOp {
    /// Register watcher `id` once the request succeeds.
    Register(WatcherId, WatchIntent),
    /// On success, unregister the matching watchers of the path client-side too.
    RemoveLocal(WatcherType),
}

/// A request from the user, already encoded by the caller (the xid is set when it is sent).
#[derive(Debug)]
pub(crate) struct Submit<R> {
    pub(crate) frame: RequestFrame,
    pub(crate) token: R,
    /// The watch bookkeeping and the server path it concerns (only watch requests carry one).
    pub(crate) watch: Option<(WatchOp, String)>,
}

#[derive(Debug)]
struct Pending<R> {
    xid: i32,
    op: OpCode,
    token: Option<R>,
    deadline: Instant,
    watch: Option<(WatchOp, String)>,
}

#[derive(Debug)]
struct Queued<R> {
    frame: RequestFrame,
    token: R,
    deadline: Instant,
    watch: Option<(WatchOp, String)>,
}

#[derive(Debug)]
struct Auth<R> {
    scheme: String,
    data: Bytes,
    waiter: Option<R>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting (backoff) before the next connection attempt.
    Idle { until: Instant },
    /// The driver is opening a connection.
    Connecting { deadline: Instant },
    /// ConnectRequest sent, waiting for the ConnectResponse.
    Handshaking { deadline: Instant },
    /// The session is established on this connection.
    Connected,
    /// Expired, auth failed or closed.
    Terminal,
}

/// The session state machine; `R` is the token that completes a request.
#[derive(Debug)]
pub(crate) struct Session<R> {
    cfg: Config,
    phase: Phase,
    state: SessionState,
    session_id: i64,
    password: Bytes,
    negotiated: Duration,
    last_zxid: i64,
    /// Whether a read-write server has ever accepted this session (else reconnect as new).
    seen_rw: bool,
    cursor: usize,
    failures: u32,
    last_heard: Instant,
    last_recv: Instant,
    last_send: Instant,
    next_xid: i32,
    pending: VecDeque<Pending<R>>,
    /// Entries of `pending` before this index have no live token to time out.
    timeout_cursor: usize,
    queue: VecDeque<Queued<R>>,
    auths: Vec<Auth<R>>,
    auth_in_flight: VecDeque<usize>,
    watches: Registry,
    closing: Option<Instant>,
    close_token: Option<R>,
    /// The connected state to announce once the credentials sent on connect are accepted.
    announce: Option<SessionState>,
    /// setWatches2 frames sent on connect and not yet answered.
    set_watches_in_flight: usize,
    /// The host of the current connection or attempt.
    current: Option<HostPort>,
    /// The SASL exchange under way on this connection; nothing else is sent meanwhile.
    sasl: Option<sasl::Exchange>,
    /// While connected read-only: when to probe for a read-write server, and the interval.
    ro_probe: Option<(Instant, Duration)>,
    /// The session whose connection was last announced (0: none yet): tells a session's
    /// first connection (`Connected`) from the next ones (`Reconnected`).
    announced: i64,
    /// The expired session being replaced, while renewing.
    renewed_from: Option<i64>,
    /// The host asked whether it is read-only after it closed a handshake.
    refusal_probe: Option<HostPort>,
    out: Transmit,
    decoder: FrameDecoder,
    effects: VecDeque<Effect<R>>,
    rng: StdRng,
}

impl<R> Session<R> {
    /// A session that starts connecting at once.
    pub(crate) fn new(mut cfg: Config, now: Instant) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        cfg.hosts.shuffle(&mut rng);
        let (session_id, password) = cfg
            .session
            .clone()
            .unwrap_or((0, Bytes::from_static(&[0; PASSWORD_LEN])));
        let auths = cfg
            .auth
            .iter()
            .map(|(scheme, data)| Auth {
                scheme: scheme.clone(),
                data: data.clone(),
                waiter: None,
            })
            .collect();
        let mut session = Session {
            negotiated: cfg.session_timeout,
            seen_rw: session_id != 0,
            cfg,
            phase: Phase::Idle { until: now },
            state: SessionState::Connecting,
            session_id,
            password,
            last_zxid: 0,
            cursor: 0,
            failures: 0,
            last_heard: now,
            last_recv: now,
            last_send: now,
            next_xid: 1,
            pending: VecDeque::new(),
            timeout_cursor: 0,
            queue: VecDeque::new(),
            auths,
            auth_in_flight: VecDeque::new(),
            watches: Registry::default(),
            closing: None,
            close_token: None,
            announce: None,
            set_watches_in_flight: 0,
            current: None,
            sasl: None,
            ro_probe: None,
            announced: 0,
            renewed_from: None,
            refusal_probe: None,
            out: Transmit::new(),
            decoder: FrameDecoder::default(),
            effects: VecDeque::new(),
            rng,
        };
        session.start_attempt(now);
        session
    }

    /// The session id (0 before the first session).
    pub(crate) fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The session password.
    pub(crate) fn password(&self) -> &Bytes {
        &self.password
    }

    /// The last zxid seen in a reply.
    pub(crate) fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The negotiated session timeout (the requested one before the first session).
    #[cfg(test)]
    pub(crate) fn negotiated_timeout(&self) -> Duration {
        self.negotiated
    }

    /// The public state.
    #[cfg(test)]
    pub(crate) fn state(&self) -> SessionState {
        self.state
    }

    /// True once the session is over and every effect has been drained.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Terminal && self.effects.is_empty()
    }

    /// The next effect to execute.
    pub(crate) fn poll_effect(&mut self) -> Option<Effect<R>> {
        self.effects.pop_front()
    }

    /// Moves the bytes to write, in order, to the end of `dst` (no copy). Returns whether
    /// anything was added.
    pub(crate) fn poll_transmit(&mut self, dst: &mut VecDeque<Chunk>) -> bool {
        self.out.poll(dst)
    }

    fn read_timeout(&self) -> Duration {
        self.negotiated * 2 / 3
    }

    fn ping_interval(&self) -> Duration {
        (self.read_timeout() / 2).min(MAX_PING_INTERVAL)
    }

    fn attempt_timeout(&self) -> Duration {
        let hosts = u32::try_from(self.cfg.hosts.len())
            .unwrap_or(u32::MAX)
            .max(1);
        (self.read_timeout() / hosts)
            .max(MIN_ATTEMPT_TIMEOUT)
            .min(self.cfg.connection_timeout)
    }

    fn established(&self) -> bool {
        self.session_id != 0
    }

    fn expiry_deadline(&self) -> Option<Instant> {
        (self.established() && self.phase != Phase::Connected && self.phase != Phase::Terminal)
            .then(|| self.last_heard + self.negotiated)
    }

    /// When to call [`Session::on_timeout`] next.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        match self.phase {
            Phase::Terminal => return None,
            Phase::Idle { until } => consider(Some(until)),
            Phase::Connecting { deadline } | Phase::Handshaking { deadline } => {
                consider(Some(deadline))
            }
            Phase::Connected => {
                consider(Some(self.last_recv + self.read_timeout()));
                consider(Some(self.last_send + self.ping_interval()));
                consider(self.ro_probe.map(|(at, _)| at));
            }
        }
        consider(self.expiry_deadline());
        consider(self.closing);
        consider(self.pending.get(self.timeout_cursor).map(|p| p.deadline));
        consider(self.queue.front().map(|q| q.deadline));
        next
    }

    fn check_expiry(&mut self, now: Instant) -> bool {
        match self.expiry_deadline() {
            Some(deadline) if now >= deadline => {
                tracing::warn!(
                    session_id = self.session_id,
                    "no server accepted the session within its timeout; expired"
                );
                self.expired(now);
                true
            }
            _ => false,
        }
    }

    fn terminate(&mut self, state: SessionState, err: Error) {
        if self.phase == Phase::Terminal {
            return;
        }
        tracing::info!(session_id = self.session_id, %state, "session ended");
        self.phase = Phase::Terminal;
        self.effects.push_back(Effect::Disconnect);
        self.out.clear();
        for p in std::mem::take(&mut self.pending) {
            if let Some(token) = p.token {
                self.complete(token, Err(Error::ConnectionLoss));
            }
        }
        for q in std::mem::take(&mut self.queue) {
            self.complete(q.token, Err(err.clone()));
        }
        for auth in std::mem::take(&mut self.auths) {
            if let Some(token) = auth.waiter {
                self.complete(token, Err(err.clone()));
            }
        }
        if let Some(token) = self.close_token.take() {
            self.complete(token, Ok(Response::Empty));
        }
        let event = WatchedEvent::session(state);
        let all: Vec<WatcherId> = self.watches.all().map(|(id, _)| id).collect();
        for watcher in all {
            self.effects.push_back(Effect::Deliver {
                watcher,
                event: event.clone(),
            });
        }
        self.watches.clear();
        self.set_state(state);
    }

    fn notify_persistent(&mut self, state: SessionState) {
        let ids: Vec<WatcherId> = self
            .watches
            .all()
            .filter_map(|(id, persistent)| persistent.then_some(id))
            .collect();
        for watcher in ids {
            self.effects.push_back(Effect::Deliver {
                watcher,
                event: WatchedEvent::session(state),
            });
        }
    }

    fn complete(&mut self, token: R, result: Result<Response>) {
        self.effects.push_back(Effect::Complete { token, result });
    }

    // ----- timers ---------------------------------------------------------------------------

    /// Handles every deadline that has passed by `now`.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.check_expiry(now) {
            return;
        }
        if self.closing.is_some_and(|d| now >= d) {
            tracing::warn!(
                session_id = self.session_id,
                "no reply to closeSession in time"
            );
            self.terminate(SessionState::Closed, Error::Closed);
            return;
        }
        match self.phase {
            Phase::Idle { until } if now >= until => self.start_attempt(now),
            Phase::Connecting { deadline } | Phase::Handshaking { deadline } if now >= deadline => {
                tracing::debug!("connection attempt timed out");
                self.attempt_failed(now);
            }
            Phase::Connected => {
                if now >= self.last_recv + self.read_timeout() {
                    tracing::info!(
                        session_id = self.session_id,
                        "nothing heard from the server within the read timeout"
                    );
                    self.connection_lost(now);
                } else if now >= self.last_send + self.ping_interval() {
                    encode_request(self.out.buf(), xid::PING, &Request::Ping);
                    self.last_send = now;
                }
                self.maybe_probe(now);
            }
            _ => {}
        }
        self.expire_requests(now);
    }

    /// Completes requests whose deadline passed with `Timeout`. Replies to timed-out requests
    /// in flight are discarded when they arrive.
    fn expire_requests(&mut self, now: Instant) {
        while let Some(p) = self.pending.get_mut(self.timeout_cursor) {
            if p.token.is_some() && p.deadline > now {
                break;
            }
            if let Some(token) = p.token.take() {
                tracing::debug!(xid = p.xid, "request timed out");
                self.effects.push_back(Effect::Complete {
                    token,
                    result: Err(Error::Timeout),
                });
            }
            self.timeout_cursor += 1;
        }
        while self.queue.front().is_some_and(|q| q.deadline <= now) {
            if let Some(q) = self.queue.pop_front() {
                self.settle_unsent(&q.watch);
                self.complete(q.token, Err(Error::Timeout));
            }
        }
    }

    fn settle_unsent(&mut self, watch: &Option<(WatchOp, String)>) {
        if let Some((WatchOp::Register(id, intent), path)) = watch {
            let orphan = self.watches.settle(*id, path, *intent, None);
            debug_assert!(orphan.is_none());
        }
    }

    // ----- user commands --------------------------------------------------------------------

    fn terminal_error(&self) -> Error {
        match self.state {
            SessionState::Expired => Error::SessionExpired,
            SessionState::AuthFailed => Error::AuthFailed,
            _ => Error::Closed,
        }
    }

    /// Submits a request: sent at once when connected, queued otherwise.
    pub(crate) fn submit(&mut self, submit: Submit<R>, now: Instant) {
        let Submit {
            frame,
            token,
            watch,
        } = submit;
        if self.phase == Phase::Terminal || self.closing.is_some() {
            let err = self.terminal_error();
            self.complete(token, Err(err));
            return;
        }
        let size = frame.size();
        if size > DEFAULT_MAX_FRAME {
            let err = Error::BadArguments(ArgumentError::RequestTooLarge(size));
            self.complete(token, Err(err));
            return;
        }
        if let Some((WatchOp::Register(id, intent), path)) = &watch {
            self.watches.intend(*id, path.clone(), *intent);
        }
        let deadline = now + self.cfg.request_timeout;
        if self.phase == Phase::Connected && self.queue.is_empty() && self.sasl.is_none() {
            self.send(frame, Some(token), deadline, watch, now);
        } else {
            self.queue.push_back(Queued {
                frame,
                token,
                deadline,
                watch,
            });
        }
        self.expire_requests(now);
    }

    /// Sends a frame encoded by the caller, with the next xid.
    fn send(
        &mut self,
        mut frame: RequestFrame,
        token: Option<R>,
        deadline: Instant,
        watch: Option<(WatchOp, String)>,
        now: Instant,
    ) {
        let xid = self.take_xid();
        let op = frame.op();
        tracing::trace!(xid, ?op, "send");
        frame.set_xid(xid);
        self.out.push_frame(frame);
        self.track(xid, op, token, deadline, watch, now);
    }

    /// Sends a request of the core's own (no caller, no watch bookkeeping).
    fn send_internal(&mut self, request: &Request, deadline: Instant, now: Instant) {
        let xid = self.take_xid();
        let op = request.op_code();
        tracing::trace!(xid, ?op, path = request.path(), "send");
        encode_request(self.out.buf(), xid, request);
        self.track(xid, op, None, deadline, None, now);
    }

    fn take_xid(&mut self) -> i32 {
        let xid = self.next_xid;
        self.next_xid = if xid == i32::MAX { 1 } else { xid + 1 };
        xid
    }

    fn track(
        &mut self,
        xid: i32,
        op: OpCode,
        token: Option<R>,
        deadline: Instant,
        watch: Option<(WatchOp, String)>,
        now: Instant,
    ) {
        self.last_send = now;
        self.pending.push_back(Pending {
            xid,
            op,
            token,
            deadline,
            watch,
        });
    }

    /// Adds credentials: sent now if connected, and again after every reconnect.
    pub(crate) fn add_auth(&mut self, scheme: String, data: Bytes, token: R, now: Instant) {
        if self.phase == Phase::Terminal || self.closing.is_some() {
            let err = self.terminal_error();
            self.complete(token, Err(err));
            return;
        }
        self.auths.push(Auth {
            scheme,
            data,
            waiter: Some(token),
        });
        if self.phase == Phase::Connected && self.sasl.is_none() {
            self.send_auth(self.auths.len() - 1, now);
        }
    }

    fn send_auth(&mut self, index: usize, now: Instant) {
        let auth = &self.auths[index];
        let packet = Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: auth.scheme.clone(),
            auth: auth.data.clone(),
        });
        encode_request(self.out.buf(), xid::AUTH, &packet);
        self.auth_in_flight.push_back(index);
        self.last_send = now;
    }

    /// A watcher was dropped: unregister it, and remove the server watch if it was the last.
    pub(crate) fn unwatch(&mut self, id: WatcherId, now: Instant) {
        if let Some(orphan) = self.watches.remove(id) {
            if self.phase == Phase::Connected && self.closing.is_none() {
                self.remove_server_watches(orphan, now);
            }
        }
    }

    fn remove_server_watches(&mut self, orphan: Orphaned, now: Instant) {
        for watcher_type in orphan.types {
            let request = Request::RemoveWatches(RemoveWatchesRequest {
                path: orphan.path.clone(),
                watcher_type,
            });
            self.send_internal(&request, now, now);
        }
    }

    /// Closes the session: sends closeSession and waits (bounded) for its reply. A session
    /// that exists but is disconnected now is reconnected within that bound to be closed, so
    /// its ephemeral nodes go at once rather than a session timeout later; a client without a
    /// session ends at once. `token` completes once closed.
    pub(crate) fn close(&mut self, token: Option<R>, now: Instant) {
        if self.phase == Phase::Terminal || self.closing.is_some() {
            if let Some(token) = token {
                self.complete(token, Ok(Response::Empty));
            }
            return;
        }
        self.close_token = token;
        let deadline = now + self.cfg.request_timeout.min(MAX_CLOSE_WAIT);
        if self.phase == Phase::Connected {
            tracing::debug!(session_id = self.session_id, "closing session");
            self.closing = Some(deadline);
            self.send_internal(&Request::CloseSession, now, now);
        } else if self.can_resume() {
            tracing::debug!(
                session_id = self.session_id,
                "closing session once reconnected"
            );
            self.closing = Some(deadline);
            for q in std::mem::take(&mut self.queue) {
                self.complete(q.token, Err(Error::Closed));
            }
        } else {
            self.terminate(SessionState::Closed, Error::Closed);
        }
    }

    /// True if a reconnect would resume this session (not create a new one).
    pub(super) fn can_resume(&self) -> bool {
        self.established() && self.seen_rw
    }
}

fn duration_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
