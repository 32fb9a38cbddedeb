//! The core's input side: frames from the server (handshake, replies, events, auth).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_proto::{
    decode_incoming, decode_response, encode_request, xid, ConnectResponse, ErrorCode, Incoming,
    Jute, OpCode, ReplyHeader, Request, Response, SetWatches2, WatcherEvent,
};

use super::{Effect, Pending, Phase, Session, SessionState, WatchOp, SET_WATCHES_CHUNK};
use crate::error::Error;
use crate::event::{EventType, WatchedEvent};

/// Picks one watch list of a setWatches2 record.
type ListOf = fn(&mut SetWatches2) -> &mut Vec<String>;

impl<R> Session<R> {
    /// Bytes arrived in `buf`: consumes every whole frame.
    pub(crate) fn on_received(&mut self, buf: &mut BytesMut, now: Instant) {
        self.last_recv = now;
        if self.phase == Phase::Connected {
            self.last_heard = now;
        }
        loop {
            if !matches!(self.phase, Phase::Connected | Phase::Handshaking { .. }) {
                buf.clear();
                return;
            }
            match self.decoder.decode(buf) {
                Ok(Some(frame)) => {
                    if matches!(self.phase, Phase::Handshaking { .. }) {
                        self.on_connect_response(frame, now);
                    } else {
                        self.on_frame(frame, now);
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "bad frame from server");
                    buf.clear();
                    self.on_disconnected(now);
                    return;
                }
            }
        }
    }

    fn on_connect_response(&mut self, frame: Bytes, now: Instant) {
        let response = match ConnectResponse::decode_exact(&frame) {
            Ok(r) => r,
            // A read-only ZooKeeper server that cannot create a session (it needs
            // `localSessionsEnabled`) answers the handshake with a bare reply header carrying
            // NotReadOnly, and leaves the connection open.
            Err(_) if Self::is_not_read_only_reply(&frame) => {
                tracing::warn!(
                    "a read-only server cannot create a session for this client (ZooKeeper \
                     needs localSessionsEnabled=true for that); trying another server"
                );
                self.effects.push_back(Effect::Refused {
                    read_only_allowed: true,
                });
                self.attempt_failed(now);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, frame = ?frame, "undecodable ConnectResponse");
                self.attempt_failed(now);
                return;
            }
        };
        if response.is_expired() {
            tracing::warn!(
                session_id = self.session_id,
                "the server reports the session expired"
            );
            self.expired(now);
            return;
        }
        let read_only = response.read_only == Some(true);
        if self.established() && self.session_id != response.session_id {
            tracing::info!(
                old = self.session_id,
                new = response.session_id,
                "new session"
            );
        }
        self.session_id = response.session_id;
        self.password = response.passwd;
        self.negotiated = Duration::from_millis(u64::try_from(response.timeout).unwrap_or(1));
        self.seen_rw |= !read_only;
        self.failures = 0;
        self.last_heard = now;
        self.last_recv = now;
        self.phase = Phase::Connected;
        if self.closing.is_some() {
            // Reconnected only to close: no credentials, watches or queued requests.
            tracing::debug!(
                session_id = self.session_id,
                "reconnected to close the session"
            );
            self.send_internal(&Request::CloseSession, now, now);
            return;
        }
        tracing::info!(
            session_id = self.session_id,
            timeout_ms = response.timeout,
            read_only,
            "session established"
        );
        let state = if read_only {
            self.start_probing(now);
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        };
        if !self.start_sasl(state, now) {
            self.after_authentication(state, now);
        }
    }

    /// The rest of the handshake, once SASL (if configured) has succeeded: credentials,
    /// watches, queued requests.
    pub(super) fn after_authentication(&mut self, state: SessionState, now: Instant) {
        for index in 0..self.auths.len() {
            self.send_auth(index, now);
        }
        self.set_watches_in_flight = self.send_set_watches(now);
        // The state changes once the server has accepted the credentials and re-armed the
        // watches, so that `connect` and state observers never see a session whose auth is
        // about to fail, and a write made after observing `Connected` always reaches the
        // watchers (persistent watches are re-armed without a zxid check, ZOOKEEPER-4698).
        self.announce = Some(state);
        self.maybe_announce();
        while let Some(q) = self.queue.pop_front() {
            self.send(q.frame, Some(q.token), q.deadline, q.watch, now);
        }
        self.last_send = now;
    }

    fn is_not_read_only_reply(frame: &[u8]) -> bool {
        ReplyHeader::decode_exact(frame).is_ok_and(|h| h.err == ErrorCode::NotReadOnly)
    }

    /// Announces the connected state once nothing sent on connect is still unanswered.
    fn maybe_announce(&mut self) {
        if self.auth_in_flight.is_empty() && self.set_watches_in_flight == 0 {
            if let Some(state) = self.announce.take() {
                self.set_state(state);
                self.notify_persistent(state);
            }
        }
    }

    /// Re-registers every watch, in frames of at most [`SET_WATCHES_CHUNK`] bytes; returns
    /// the number of frames sent.
    fn send_set_watches(&mut self, now: Instant) -> usize {
        let lists = self.watches.lists();
        let relative_zxid = self.last_zxid;
        let empty = || SetWatches2 {
            relative_zxid,
            ..SetWatches2::default()
        };
        // Frame overhead: length prefix and request header.
        const OVERHEAD: usize = 4 + 8;
        let base = empty().encoded_len();
        let mut chunk = empty();
        let mut size = base;
        let mut frames = Vec::new();
        let sources: [(&Vec<String>, ListOf); 5] = [
            (&lists.data, |s| &mut s.data_watches),
            (&lists.exist, |s| &mut s.exist_watches),
            (&lists.child, |s| &mut s.child_watches),
            (&lists.persistent, |s| &mut s.persistent_watches),
            (&lists.recursive, |s| &mut s.persistent_recursive_watches),
        ];
        for (paths, field) in sources {
            for path in paths {
                let len = 4 + path.len();
                if OVERHEAD + size + len > SET_WATCHES_CHUNK && size > base {
                    frames.push(std::mem::replace(&mut chunk, empty()));
                    size = base;
                }
                field(&mut chunk).push(path.clone());
                size += len;
            }
        }
        if size > base {
            frames.push(chunk);
        }
        let count = frames.len();
        for frame in frames {
            encode_request(
                self.out.buf(),
                xid::SET_WATCHES,
                &Request::SetWatches2(frame),
            );
            self.pending.push_back(Pending {
                xid: xid::SET_WATCHES,
                op: OpCode::SetWatches2,
                token: None,
                deadline: now,
                watch: None,
            });
        }
        count
    }

    fn on_frame(&mut self, frame: Bytes, now: Instant) {
        match decode_incoming(frame) {
            Err(e) => {
                tracing::warn!(error = %e, "undecodable frame; dropping the connection");
                self.connection_lost(now);
            }
            Ok(Incoming::Event { zxid, event }) => self.on_event(zxid, event),
            Ok(Incoming::Reply { header, body }) => match header.xid {
                xid::PING => {}
                xid::AUTH => self.on_auth_reply(header.err, now),
                _ => self.on_reply(header, body, now),
            },
        }
    }

    fn on_event(&mut self, zxid: i64, event: WatcherEvent) {
        let Some(event_type) = EventType::from_wire(event.event_type) else {
            tracing::warn!(event_type = ?event.event_type, "ignoring unknown event type");
            return;
        };
        let watchers = self.watches.dispatch(event_type, &event.path);
        tracing::trace!(zxid, path = %event.path, ?event_type, watchers = watchers.len(), "event");
        let path = self.cfg.chroot.strip(event.path);
        // Events replayed on reconnect arrive before `Connected` is announced; they belong to
        // the connected session all the same.
        let state = self.announce.unwrap_or(self.state);
        for watcher in watchers {
            self.effects.push_back(Effect::Deliver {
                watcher,
                event: WatchedEvent {
                    event_type,
                    state,
                    path: path.clone(),
                    zxid,
                },
            });
        }
    }

    fn on_auth_reply(&mut self, err: ErrorCode, now: Instant) {
        let index = self.auth_in_flight.pop_front();
        let waiter = index
            .and_then(|i| self.auths.get_mut(i))
            .and_then(|a| a.waiter.take());
        if err.is_ok() {
            if let Some(token) = waiter {
                self.complete(token, Ok(Response::Empty));
            }
            self.maybe_announce();
            return;
        }
        let error = Error::from_code(err);
        tracing::warn!(session_id = self.session_id, %err, "authentication failed");
        if let Some(token) = waiter {
            self.complete(token, Err(error));
        }
        if err == ErrorCode::AuthFailed {
            self.terminate(SessionState::AuthFailed, Error::AuthFailed);
        } else {
            self.connection_lost(now);
        }
    }

    fn on_reply(&mut self, header: ReplyHeader, body: Bytes, now: Instant) {
        if self.pending.front().map(|p| p.xid) != Some(header.xid) {
            tracing::warn!(
                xid = header.xid,
                expected = self.pending.front().map(|p| p.xid),
                "reply xid out of order; dropping the connection"
            );
            self.connection_lost(now);
            return;
        }
        let Some(p) = self.pending.pop_front() else {
            return;
        };
        self.timeout_cursor = self.timeout_cursor.saturating_sub(1);
        if header.zxid > 0 {
            self.last_zxid = self.last_zxid.max(header.zxid);
        }
        let result = if header.err.is_ok() {
            decode_response(p.op, body).map_err(Error::Decode)
        } else {
            Err(Error::from_code(header.err))
        };
        tracing::trace!(xid = p.xid, err = %header.err, "reply");
        match p.watch {
            Some((WatchOp::Register(id, intent), path)) => {
                let no_node = matches!(result, Err(Error::NoNode));
                let kind = intent.outcome(result.is_ok(), no_node);
                if let Some(orphan) = self.watches.settle(id, &path, intent, kind) {
                    self.remove_server_watches(orphan, now);
                }
            }
            Some((WatchOp::RemoveLocal(watcher_type), path)) if result.is_ok() => {
                let removed = self.watches.remove_matching(&path, watcher_type);
                let client_path = self.cfg.chroot.strip(path);
                for (watcher, event_type) in removed {
                    self.effects.push_back(Effect::Deliver {
                        watcher,
                        event: WatchedEvent {
                            event_type,
                            state: self.state,
                            path: client_path.clone(),
                            zxid: 0,
                        },
                    });
                }
            }
            _ => {}
        }
        if p.op == OpCode::SetWatches2 && p.token.is_none() {
            self.set_watches_in_flight = self.set_watches_in_flight.saturating_sub(1);
            self.maybe_announce();
        }
        if p.op == OpCode::CloseSession {
            self.terminate(SessionState::Closed, Error::Closed);
            return;
        }
        if p.op == OpCode::Sasl && p.token.is_none() {
            self.on_sasl_reply(result, now);
            return;
        }
        match p.token {
            Some(token) => self.complete(token, result),
            None => {
                if let Err(e) = result {
                    tracing::debug!(xid = p.xid, op = ?p.op, error = %e, "internal request failed");
                }
            }
        }
    }
}
