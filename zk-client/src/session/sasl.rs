//! SASL in the session core: right after the handshake of every connection, before anything
//! else is sent, the client runs a DIGEST-MD5 exchange ([`crate::sasl`]) with the SASL op
//! (102). Requests made meanwhile wait in the queue; `Connected` is announced only after it
//! succeeds. A refused exchange (`AuthFailed` from the server, or a server that cannot prove
//! it knows the password) ends the session with `AuthFailed`, as ZooKeeper's Java client does.

use std::time::Instant;

use bytes::Bytes;
use rand::Rng;
use zk_proto::{GetSaslRequest, Request, Response};

use super::{Session, SessionState};
use crate::error::{Error, Result};
use crate::sasl::{ClientStep, DigestMd5Client};

/// An exchange under way, and the state to announce once it succeeds.
#[derive(Debug)]
pub(super) struct Exchange {
    mechanism: DigestMd5Client,
    announce: SessionState,
}

impl<R> Session<R> {
    /// Starts the exchange if SASL is configured; false if it is not.
    pub(super) fn start_sasl(&mut self, announce: SessionState, now: Instant) -> bool {
        let Some((user, password)) = self.cfg.sasl.clone() else {
            return false;
        };
        let cnonce: [u8; 16] = self.rng.random();
        let cnonce = cnonce.iter().map(|b| format!("{b:02x}")).collect();
        let mut mechanism = DigestMd5Client::new(user, password, cnonce);
        let token = mechanism.initial();
        self.sasl = Some(Exchange {
            mechanism,
            announce,
        });
        self.send_sasl(token, now);
        true
    }

    fn send_sasl(&mut self, token: Vec<u8>, now: Instant) {
        let request = Request::Sasl(GetSaslRequest {
            token: Bytes::from(token),
        });
        self.send_internal(&request, now, now);
    }

    /// The server's answer to a SASL token.
    pub(super) fn on_sasl_reply(&mut self, result: Result<Response>, now: Instant) {
        let Some(mut exchange) = self.sasl.take() else {
            return;
        };
        let step = match result {
            Ok(Response::Sasl(r)) => exchange.mechanism.step(&r.token),
            Ok(other) => Err(format!("unexpected reply {other:?}")),
            Err(Error::AuthFailed) => Err("the server refused the credentials".into()),
            Err(e) => Err(e.to_string()),
        };
        match step {
            Ok(ClientStep::Send(token)) => {
                self.sasl = Some(exchange);
                self.send_sasl(token, now);
            }
            Ok(ClientStep::Done) => {
                tracing::info!(session_id = self.session_id, "SASL authenticated");
                self.after_authentication(exchange.announce, now);
            }
            Err(why) => {
                tracing::warn!(session_id = self.session_id, %why, "SASL authentication failed");
                self.terminate(SessionState::AuthFailed, Error::AuthFailed);
            }
        }
    }
}
