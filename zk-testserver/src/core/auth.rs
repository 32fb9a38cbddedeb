//! Authentication beyond `addAuth`: SASL DIGEST-MD5 exchanges (op 102), `x509` identities
//! from TLS client certificates, and enforced authentication.
//!
//! As in ZooKeeper, a SASL reply carries zxid 0; a failed exchange answers `AuthFailed` and
//! closes the connection (the session lives on until it expires); a successful one gives the
//! connection `sasl:<user>` (and `super:` for `zookeeper.superUser`). With enforced
//! authentication, any request but auth and SASL on a connection without an identity of an
//! enforced scheme gets `SessionClosedRequireSaslAuth` and the connection closes.

use base64::Engine as _;
use bytes::Bytes;
use zk_proto::{ErrorCode, Id, OpCode, Response, SetSaslResponse};

use super::{ConnId, ServerCore};
use crate::sasl::{DigestMd5Server, SaslStep};

impl ServerCore {
    /// Gives a connection the `x509` identity of its verified client certificate's subject
    /// (and `super:` if it is `zookeeper.X509AuthenticationProvider.superUser`).
    pub fn add_x509_identity(&mut self, conn: ConnId, subject: String) {
        let is_super = self.cfg.x509_super_user.as_deref() == Some(subject.as_str());
        if let Some(c) = self.conns.get_mut(&conn) {
            tracing::debug!(conn, %subject, "x509 identity");
            if is_super {
                c.auth.push(Id::new("super", subject.clone()));
            }
            c.auth.push(Id::new("x509", subject));
        }
    }

    /// Whether a request with `op` may run on `conn` under enforced authentication; if not,
    /// it was answered and the connection closed.
    pub(super) fn auth_enforced(&mut self, conn: ConnId, xid: i32, op: OpCode) -> bool {
        let schemes = &self.cfg.enforce_auth_schemes;
        if schemes.is_empty() || matches!(op, OpCode::Auth | OpCode::Sasl) {
            return true;
        }
        let authenticated = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.auth.iter().any(|id| schemes.contains(&id.scheme)));
        if !authenticated {
            tracing::info!(conn, ?schemes, "unauthenticated request; closing");
            self.reply(conn, xid, 0, ErrorCode::SessionClosedRequireSaslAuth, None);
            self.close_conn(conn);
        }
        authenticated
    }

    /// One SASL token from the client.
    pub(super) fn sasl(&mut self, conn: ConnId, xid: i32, token: &[u8]) {
        let Some(users) = self.cfg.sasl_users.clone() else {
            // No JAAS login configured: ZooKeeper answers with an empty token.
            self.sasl_reply(conn, xid, Vec::new());
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let exchange = c.sasl.get_or_insert_with(|| {
            let nonce: [u8; 24] = rand::random();
            DigestMd5Server::new(
                users,
                base64::engine::general_purpose::STANDARD.encode(nonce),
            )
        });
        match exchange.step(token) {
            Ok(SaslStep::Challenge(challenge)) => self.sasl_reply(conn, xid, challenge),
            Ok(SaslStep::Done { token, user }) => {
                tracing::info!(conn, %user, "SASL authenticated");
                let is_super = self.cfg.sasl_super_user.as_deref() == Some(user.as_str());
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.sasl = None;
                    c.auth.push(Id::new("sasl", user));
                    if is_super {
                        c.auth.push(Id::new("super", ""));
                    }
                }
                self.sasl_reply(conn, xid, token);
            }
            Err(e) => {
                tracing::warn!(conn, error = %e, "SASL authentication failed; closing");
                self.reply(conn, xid, 0, ErrorCode::AuthFailed, None);
                self.close_conn(conn);
            }
        }
    }

    fn sasl_reply(&mut self, conn: ConnId, xid: i32, token: Vec<u8>) {
        let body = Response::Sasl(SetSaslResponse {
            token: Bytes::from(token),
        });
        self.reply(conn, xid, 0, ErrorCode::Ok, Some(body));
    }
}
