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
        let Some(credentials) = self.cfg.sasl.clone() else {
            return false;
        };
        let cnonce: [u8; 16] = self.rng.random();
        let cnonce = cnonce.iter().map(|b| format!("{b:02x}")).collect();
        let mut mechanism = DigestMd5Client::new(credentials.user, credentials.password, cnonce);
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use bytes::BytesMut;
    use zk_proto::{
        decode_request, encode_connect_response, encode_reply, ConnectResponse, ErrorCode,
        FrameDecoder, GetDataRequest, OpCode, ReplyHeader, SetSaslResponse,
    };

    use super::super::{Config, Effect, Submit};
    use super::*;
    use crate::frame::RequestFrame;
    use crate::hosts::{Chroot, HostPort};
    use crate::sasl::Credentials;

    fn session() -> (Session<u32>, Instant) {
        let now = Instant::now();
        let cfg = Config {
            hosts: vec![HostPort {
                host: "h".into(),
                port: 2181,
            }],
            chroot: Chroot::none(),
            session_timeout: Duration::from_secs(6),
            connection_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(6),
            read_only: false,
            session: None,
            connect_passes: None,
            renew: false,
            auth: vec![("digest".into(), Bytes::from_static(b"u:p"))],
            sasl: Some(Credentials {
                user: "bob".into(),
                password: "pw".into(),
            }),
            seed: 1,
        };
        let mut s = Session::new(cfg, now);
        s.on_connected(now);
        let _ = sent(&mut s);
        let mut buf = BytesMut::new();
        encode_connect_response(
            &mut buf,
            &ConnectResponse {
                protocol_version: 0,
                timeout: 6000,
                session_id: 5,
                passwd: Bytes::from_static(&[1; 16]),
                read_only: Some(false),
            },
        );
        s.on_received(&mut buf, now);
        (s, now)
    }

    fn sent(s: &mut Session<u32>) -> Vec<(i32, Request)> {
        let mut chunks = VecDeque::new();
        s.poll_transmit(&mut chunks);
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk.buf);
        }
        let mut out = Vec::new();
        while let Some(frame) = FrameDecoder::default().decode(&mut buf).unwrap() {
            if let Ok((header, request)) = decode_request(&frame) {
                out.push((header.xid, request));
            }
        }
        out
    }

    fn answer(s: &mut Session<u32>, now: Instant, xid: i32, err: ErrorCode, token: &[u8]) {
        let mut buf = BytesMut::new();
        let body = Response::Sasl(SetSaslResponse {
            token: Bytes::copy_from_slice(token),
        });
        let body = err.is_ok().then_some(&body);
        encode_reply(&mut buf, &ReplyHeader { xid, zxid: 0, err }, body);
        s.on_received(&mut buf, now);
    }

    fn states(s: &mut Session<u32>) -> Vec<SessionState> {
        std::iter::from_fn(|| s.poll_effect())
            .filter_map(|e| match e {
                Effect::State(st) => Some(st),
                _ => None,
            })
            .collect()
    }

    /// The `rspauth` token a server that knows the password answers `response` with.
    fn rspauth_for(response: &[u8]) -> Vec<u8> {
        let text = String::from_utf8(response.to_vec()).unwrap();
        let cnonce = text
            .split(',')
            .find_map(|kv| kv.strip_prefix("cnonce="))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let rspauth = crate::sasl::rspauth_for_tests("bob", "pw", "n1", &cnonce);
        format!("rspauth={rspauth}").into_bytes()
    }

    #[test]
    fn sasl_runs_first_and_holds_everything_else() {
        let (mut s, now) = session();
        let first = sent(&mut s);
        assert_eq!(first.len(), 1, "only the SASL token goes first: {first:?}");
        let (xid, Request::Sasl(token)) = &first[0] else {
            panic!("{first:?}");
        };
        assert!(token.token.is_empty());
        assert!(states(&mut s).is_empty(), "Connected waits for SASL");
        // A request made now waits.
        let get = Request::GetData(GetDataRequest {
            path: "/x".into(),
            watch: false,
        });
        s.submit(
            Submit {
                frame: RequestFrame::from_request(&get),
                token: 1,
                watch: None,
            },
            now,
        );
        assert!(sent(&mut s).is_empty());
        let challenge =
            b"realm=\"zk-sasl-md5\",nonce=\"n1\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
        answer(&mut s, now, *xid, ErrorCode::Ok, challenge);
        let second = sent(&mut s);
        let [(xid, Request::Sasl(response))] = &second[..] else {
            panic!("{second:?}");
        };
        answer(
            &mut s,
            now,
            *xid,
            ErrorCode::Ok,
            &rspauth_for(&response.token),
        );
        // Now the digest credentials and the queued request go out, and Connected follows
        // the auth reply.
        let ops: Vec<OpCode> = sent(&mut s).iter().map(|(_, r)| r.op_code()).collect();
        assert_eq!(ops, vec![OpCode::Auth, OpCode::GetData]);
    }

    #[test]
    fn a_refused_exchange_ends_the_session() {
        let (mut s, now) = session();
        let (xid, _) = sent(&mut s).remove(0);
        answer(&mut s, now, xid, ErrorCode::AuthFailed, b"");
        assert_eq!(states(&mut s), vec![SessionState::AuthFailed]);
        // A server that cannot prove it knows the password is refused too.
        let (mut s, now) = session();
        let (xid, _) = sent(&mut s).remove(0);
        let challenge =
            b"realm=\"zk-sasl-md5\",nonce=\"n1\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
        answer(&mut s, now, xid, ErrorCode::Ok, challenge);
        let (xid, _) = sent(&mut s).remove(0);
        answer(&mut s, now, xid, ErrorCode::Ok, b"rspauth=0123");
        assert_eq!(states(&mut s), vec![SessionState::AuthFailed]);
    }
}
