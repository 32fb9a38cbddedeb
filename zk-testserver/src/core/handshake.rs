//! The handshake: a connection's ConnectRequest creates, resumes or refuses a session.
//!
//! Checks in ZooKeeper's order: a read-only server refuses clients that do not accept one; a
//! client that has seen a later zxid is closed without a reply (it tries another server); the
//! timeout is clamped to the server's bounds; a new session is committed as a txn before the
//! response (a read-only server creates a local session instead); a resumed one takes over
//! from any older connection of the same session, and must present its password and still be
//! alive, or gets the "expired" response and the connection closes.

use bytes::Bytes;
use zk_proto::{ConnectRequest, ConnectResponse};

use super::{ConnId, Output, ServerCore};
use crate::txn::Txn;

impl ServerCore {
    /// The ConnectRequest of a connection.
    pub fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: i64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.stats.received += 1;
        self.stats.received += 1;
        let client_ro = req.read_only.unwrap_or(false);
        if self.cfg.read_only && !client_ro {
            tracing::info!(
                conn,
                "refusing a client that does not accept a read-only server"
            );
            self.close_conn(conn);
            return;
        }
        if req.last_zxid_seen > self.zxid {
            tracing::info!(
                conn,
                client_zxid = req.last_zxid_seen,
                server_zxid = self.zxid,
                "refusing a client that has seen a later zxid"
            );
            self.close_conn(conn);
            return;
        }
        let timeout = self.sessions.negotiate(req.timeout);
        let read_only_byte = req.read_only.map(|_| self.cfg.read_only);
        if req.session_id == 0 {
            let session_id = self.sessions.next_session_id();
            if self.cfg.read_only {
                self.sessions.add(session_id, timeout, now);
                self.local_sessions.insert(session_id, ());
            } else if self.repl.is_some() {
                // The session exists once the leader committed it: answered then.
                self.begin_session(conn, session_id, timeout, read_only_byte);
                return;
            } else {
                self.commit(
                    session_id,
                    Txn::CreateSession {
                        session_id,
                        timeout_ms: timeout,
                    },
                    now,
                );
            }
            self.attach(conn, session_id, timeout, read_only_byte);
            tracing::debug!(
                conn,
                session = format_args!("{session_id:#x}"),
                timeout,
                "session created"
            );
            return;
        }
        let session_id = req.session_id;
        if let Some(old) = self.session_conns.get(&session_id).copied() {
            if old != conn {
                self.close_conn(old);
            }
        }
        let password_ok = req.passwd.as_ref() == self.sessions.password(session_id).as_slice();
        if !password_ok || !self.sessions.touch(session_id, now) {
            tracing::debug!(
                conn,
                session = format_args!("{session_id:#x}"),
                password_ok,
                "session expired or invalid"
            );
            self.stats.sent += 1;
            self.out.push(Output::Connected {
                conn,
                response: ConnectResponse::expired(read_only_byte),
            });
            self.close_conn(conn);
            return;
        }
        self.attach(conn, session_id, timeout, read_only_byte);
    }

    pub(super) fn attach(
        &mut self,
        conn: ConnId,
        session_id: i64,
        timeout: i32,
        read_only: Option<bool>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.session = Some(session_id);
        c.timeout_ms = timeout;
        // `cons` shows SESS until the first request, as ZooKeeper does.
        c.stats.last_op = zk_proto::OpCode::CreateSession;
        c.stats.last_cxid = 0;
        c.stats.last_zxid = self.zxid;
        c.stats.sent += 1;
        self.stats.sent += 1;
        self.session_conns.insert(session_id, conn);
        let response = ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id,
            passwd: Bytes::copy_from_slice(&self.sessions.password(session_id)),
            read_only,
        };
        self.out.push(Output::Connected { conn, response });
    }
}
