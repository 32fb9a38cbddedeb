//! Unit tests of the core's session events and of renewal after expiry (no sockets).

use bytes::{Bytes, BytesMut};
use zk_proto::{
    encode_connect_response, AddWatchMode, AddWatchRequest, ConnectResponse, ErrorCode,
};

use super::tests::{completions, config, data_response, get_data, states, Harness, T};
use super::*;
use crate::client::SessionId;
use crate::event::EventType;
use crate::events::LossReason;

fn events(effects: &[Effect<u32>]) -> Vec<SessionEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn delivered(effects: &[Effect<u32>]) -> Vec<(WatcherId, EventType, SessionState)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { watcher, event } => Some((*watcher, event.event_type, event.state)),
            _ => None,
        })
        .collect()
}

fn id(i: i64) -> SessionId {
    SessionId(i)
}

/// The server answers the handshake in progress with "expired".
fn answer_expired(h: &mut Harness) {
    h.core.on_connected(h.now);
    h.sent();
    let mut buf = BytesMut::new();
    encode_connect_response(&mut buf, &ConnectResponse::expired(Some(false)));
    h.feed(buf);
}

#[test]
fn connected_suspended_reconnected_closed() {
    let mut h = Harness::new(config(2));
    h.establish(0x10, false);
    let effects = h.drain();
    assert_eq!(
        events(&effects),
        [SessionEvent::Connected {
            session: id(0x10),
            read_only: false
        }]
    );
    // The event precedes the state it comes from, and carries the negotiated timeout.
    assert!(matches!(
        &effects[effects.len() - 2..],
        [
            Effect::Event { negotiated, .. },
            Effect::State(SessionState::Connected)
        ] if *negotiated == T
    ));
    h.core.on_disconnected(h.now);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Suspended { session: id(0x10) }]
    );
    // A failed attempt while suspended says nothing more.
    h.core.on_connect_failed(h.now);
    assert_eq!(events(&h.drain()), []);
    h.establish(0x10, true);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Reconnected {
            session: id(0x10),
            read_only: true
        }]
    );
    h.core.close(Some(9), h.now);
    let sent = h.requests();
    h.reply(sent[0].0.xid, 3, ErrorCode::Ok, None);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Lost {
            session: id(0x10),
            reason: LossReason::Closed
        }]
    );
}

#[test]
fn nothing_is_suspended_before_the_first_session() {
    let mut h = Harness::new(config(1));
    h.core.on_connected(h.now);
    h.sent();
    // The handshake fails: the client was never connected, so no Suspended.
    h.core.on_disconnected(h.now);
    assert_eq!(events(&h.drain()), []);
}

#[test]
fn strict_expiry_is_a_terminal_loss() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.core.on_disconnected(h.now);
    h.drain();
    answer_expired(&mut h);
    let effects = h.drain();
    assert_eq!(
        events(&effects),
        [SessionEvent::Lost {
            session: id(0x10),
            reason: LossReason::Expired
        }]
    );
    assert!(h.core.is_finished());
}

#[test]
fn auth_failure_is_a_loss() {
    let mut cfg = config(1);
    cfg.auth = vec![("digest".into(), Bytes::from_static(b"u:p"))];
    let mut h = Harness::new(cfg);
    h.establish(0x10, false);
    h.reply(zk_proto::xid::AUTH, 0, ErrorCode::AuthFailed, None);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Lost {
            session: id(0x10),
            reason: LossReason::AuthFailed
        }]
    );
}

/// A session with credentials, a one-shot watch (1) and a persistent watch (2).
fn watched_session(renew: bool) -> Harness {
    let mut cfg = config(1);
    cfg.renew = renew;
    cfg.request_timeout = Duration::from_secs(60);
    cfg.auth = vec![("digest".into(), Bytes::from_static(b"u:p"))];
    let mut h = Harness::new(cfg);
    h.establish(0x10, false);
    h.reply(zk_proto::xid::AUTH, 0, ErrorCode::Ok, None);
    h.submit(
        1,
        get_data("/d", true),
        Some(WatchOp::Register(1, WatchIntent::Data)),
    );
    let add = Request::AddWatch(AddWatchRequest {
        path: "/p".into(),
        mode: AddWatchMode::Persistent,
    });
    h.submit(2, add, Some(WatchOp::Register(2, WatchIntent::Persistent)));
    h.requests();
    h.reply(1, 5, ErrorCode::Ok, Some(data_response()));
    h.reply(
        2,
        6,
        ErrorCode::Ok,
        Some(Response::AddWatch(Default::default())),
    );
    h.drain();
    h
}

#[test]
fn renewal_after_the_server_reports_expiry() {
    let mut h = watched_session(true);
    h.core.on_disconnected(h.now);
    h.drain();
    // Made while disconnected: waits for a session, whichever it is.
    h.submit(3, get_data("/q", false), None);
    answer_expired(&mut h);
    let effects = h.drain();
    assert_eq!(
        events(&effects),
        [SessionEvent::Lost {
            session: id(0x10),
            reason: LossReason::Expired
        }]
    );
    assert_eq!(
        states(&effects),
        [SessionState::Expired, SessionState::Connecting]
    );
    // Both watchers hear of the expiry; the one-shot one is gone, the persistent one stays.
    assert_eq!(
        delivered(&effects),
        [
            (1, EventType::Session, SessionState::Expired),
            (2, EventType::Session, SessionState::Expired)
        ]
    );
    assert!(completions(&effects).is_empty(), "the queued request waits");
    assert!(matches!(effects.last(), Some(Effect::Connect(_))));
    assert!(!h.core.is_finished());

    // A new session: asked as new, the last zxid kept; credentials first, then the persistent
    // watch alone, then the queued request.
    let request = h.establish(0x20, false);
    assert_eq!(request.session_id, 0);
    assert_eq!(request.last_zxid_seen, 6);
    let sent = h.requests();
    assert_eq!(sent[0].0.xid, zk_proto::xid::AUTH);
    let Request::SetWatches2(sw) = &sent[1].1 else {
        panic!("expected setWatches2, got {:?}", sent[1].1);
    };
    assert_eq!(sw.persistent_watches, ["/p"]);
    assert!(sw.data_watches.is_empty());
    assert_eq!(sent[2].1, get_data("/q", false));
    assert_eq!(events(&h.drain()), []);
    h.reply(zk_proto::xid::AUTH, 0, ErrorCode::Ok, None);
    h.reply(zk_proto::xid::SET_WATCHES, 7, ErrorCode::Ok, None);
    let effects = h.drain();
    assert_eq!(
        events(&effects),
        [SessionEvent::NewSession {
            old: id(0x10),
            new: id(0x20),
            read_only: false
        }]
    );
    assert_eq!(h.core.session_id(), 0x20);
    assert_eq!(
        delivered(&effects),
        [(2, EventType::Session, SessionState::Connected)]
    );
    h.reply(sent[2].0.xid, 8, ErrorCode::Ok, Some(data_response()));
    assert_eq!(completions(&h.drain()), [(3, Ok(data_response()))]);
    // The persistent watch serves the new session; the one-shot one is gone.
    h.event(9, zk_proto::EventType::NodeDataChanged, "/p");
    assert_eq!(
        delivered(&h.drain()),
        [(2, EventType::NodeDataChanged, SessionState::Connected)]
    );
    h.event(10, zk_proto::EventType::NodeDataChanged, "/d");
    assert!(h.drain().is_empty());

    // The next connection loss of the new session is an ordinary one.
    h.core.on_disconnected(h.now);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Suspended { session: id(0x20) }]
    );
    let request = h.establish(0x20, false);
    assert_eq!(request.session_id, 0x20);
    h.reply(zk_proto::xid::AUTH, 0, ErrorCode::Ok, None);
    h.reply(zk_proto::xid::SET_WATCHES, 11, ErrorCode::Ok, None);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::Reconnected {
            session: id(0x20),
            read_only: false
        }]
    );
}

#[test]
fn renewal_after_client_side_expiry() {
    let mut cfg = config(2);
    cfg.renew = true;
    let mut h = Harness::new(cfg);
    h.establish(0x10, false);
    h.core.on_disconnected(h.now);
    h.drain();
    // Every server refuses until the client declares the session expired.
    for _ in 0..100 {
        if h.core.state() == SessionState::Connecting {
            break;
        }
        h.core.on_connect_failed(h.now);
        let next = h.core.next_deadline().expect("a deadline");
        h.now = next.max(h.now);
        h.core.on_timeout(h.now);
    }
    let lost = SessionEvent::Lost {
        session: id(0x10),
        reason: LossReason::Expired,
    };
    assert_eq!(events(&h.drain()), [lost]);
    // No client-side expiry while there is no session: it keeps trying.
    for _ in 0..20 {
        h.core.on_connect_failed(h.now);
        let next = h.core.next_deadline().expect("a deadline");
        h.now = next.max(h.now);
        h.core.on_timeout(h.now);
    }
    assert_eq!(h.core.state(), SessionState::Connecting);
    h.drain();
    h.establish(0x30, false);
    assert_eq!(
        events(&h.drain()),
        [SessionEvent::NewSession {
            old: id(0x10),
            new: id(0x30),
            read_only: false
        }]
    );
}

#[test]
fn strict_expiry_ends_every_watcher() {
    let mut h = watched_session(false);
    h.core.on_disconnected(h.now);
    h.drain();
    answer_expired(&mut h);
    let effects = h.drain();
    let mut told = delivered(&effects);
    told.sort_unstable_by_key(|(w, _, _)| *w);
    assert_eq!(
        told,
        [
            (1, EventType::Session, SessionState::Expired),
            (2, EventType::Session, SessionState::Expired)
        ]
    );
    assert!(h.core.is_finished());
}

fn refusals(effects: &[Effect<u32>]) -> Vec<bool> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Refused { read_only_allowed } => Some(*read_only_allowed),
            _ => None,
        })
        .collect()
}

#[test]
fn a_silent_refusal_is_explained_by_asking_isro() {
    let mut h = Harness::new(config(2));
    let host = match &h.effects[0] {
        Effect::Connect(host) => host.clone(),
        other => panic!("{other:?}"),
    };
    h.core.on_connected(h.now);
    h.sent();
    // The server closes the handshake without a word: ask it why.
    h.core.on_disconnected(h.now);
    let effects = h.drain();
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Probe(probed) if *probed == host)),
        "{effects:?}"
    );
    h.core
        .on_probe_result(host.clone(), ProbeAnswer::ReadOnly, h.now);
    assert_eq!(refusals(&h.drain()), [false]);
    // A read-write answer (a server behind the client's zxid) explains nothing.
    h.core.on_connected(h.now);
    h.sent();
    h.core.on_disconnected(h.now);
    let effects = h.drain();
    let Some(Effect::Probe(other)) = effects.iter().find(|e| matches!(e, Effect::Probe(_))) else {
        panic!("{effects:?}")
    };
    h.core
        .on_probe_result(other.clone(), ProbeAnswer::ReadWrite, h.now);
    assert_eq!(refusals(&h.drain()), []);
}

#[test]
fn a_read_only_client_does_not_ask() {
    let mut cfg = config(1);
    cfg.read_only = true;
    let mut h = Harness::new(cfg);
    h.core.on_connected(h.now);
    h.sent();
    h.core.on_disconnected(h.now);
    assert!(!h.drain().iter().any(|e| matches!(e, Effect::Probe(_))));
}

#[test]
fn a_read_only_server_without_local_sessions_is_a_refusal() {
    let mut cfg = config(2);
    cfg.read_only = true;
    let mut h = Harness::new(cfg);
    h.core.on_connected(h.now);
    h.sent();
    // Captured from ZooKeeper 3.8.0 (Debian) in read-only mode with localSessionsEnabled=false: a bare
    // reply header (xid 0, zxid 0, NotReadOnly) instead of a ConnectResponse.
    let golden: [u8; 20] = [
        0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x89,
    ];
    h.feed(BytesMut::from(&golden[..]));
    let effects = h.drain();
    assert_eq!(refusals(&effects), [true]);
    // The client moves on to the next server.
    assert!(matches!(
        &effects[..],
        [
            Effect::Refused { .. },
            Effect::Disconnect,
            Effect::Connect(_)
        ]
    ));
    assert_eq!(h.core.state(), SessionState::Connecting);
}

#[test]
fn closing_while_renewing_loses_nothing_more() {
    let mut h = watched_session(true);
    h.core.on_disconnected(h.now);
    answer_expired(&mut h);
    h.drain();
    h.core.close(Some(9), h.now);
    let effects = h.drain();
    assert_eq!(events(&effects), []);
    assert_eq!(states(&effects), [SessionState::Closed]);
    assert!(h.core.is_finished());
}

#[test]
fn a_local_read_only_session_replaced_on_a_read_write_server_is_connected_anew() {
    let mut cfg = config(1);
    cfg.read_only = true;
    let mut h = Harness::new(cfg);
    h.establish(0x77, true);
    h.core.on_disconnected(h.now);
    h.establish(0x78, false);
    assert_eq!(
        events(&h.drain()),
        [
            SessionEvent::Connected {
                session: id(0x77),
                read_only: true
            },
            SessionEvent::Suspended { session: id(0x77) },
            SessionEvent::Connected {
                session: id(0x78),
                read_only: false
            },
        ]
    );
}

#[test]
fn close_while_disconnected_reconnects_to_close() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.drain();
    h.core.on_disconnected(h.now);
    h.submit(1, get_data("/a", false), None);
    h.drain();
    h.core.close(Some(9), h.now);
    // Queued requests fail at once; the close waits for the server.
    assert_eq!(completions(&h.drain()), vec![(1, Err(Error::Closed))]);
    assert!(!h.core.is_finished());
    let request = h.establish(0x10, false);
    assert_eq!(request.session_id, 0x10, "the same session is resumed");
    let sent = h.requests();
    assert_eq!(sent.len(), 1, "only closeSession: {sent:?}");
    assert_eq!(sent[0].0.op(), OpCode::CloseSession);
    assert!(
        states(&h.drain()).is_empty(),
        "a reconnect to close is not announced"
    );
    h.reply(sent[0].0.xid, 3, ErrorCode::Ok, None);
    let effects = h.drain();
    assert_eq!(states(&effects), vec![SessionState::Closed]);
    assert_eq!(completions(&effects), vec![(9, Ok(Response::Empty))]);
    assert!(h.core.is_finished());
}

#[test]
fn close_retries_after_losing_the_connection_and_gives_up_in_time() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.drain();
    h.core.close(Some(9), h.now);
    assert_eq!(h.requests()[0].0.op(), OpCode::CloseSession);
    // The closeSession (or its reply) is lost with the connection: it is sent again on the
    // next connection, and without one the close ends at its deadline.
    h.core.on_disconnected(h.now);
    let effects = h.drain();
    assert!(matches!(effects.last(), Some(Effect::Connect(_))));
    assert!(completions(&effects).is_empty());
    h.core.on_connect_failed(h.now);
    // The close waits at most 5 s (less than the 6 s session timeout).
    h.advance(Duration::from_secs(5));
    let effects = h.drain();
    assert_eq!(completions(&effects), vec![(9, Ok(Response::Empty))]);
    assert_eq!(states(&effects).last(), Some(&SessionState::Closed));
    assert!(h.core.is_finished());
}

#[test]
fn close_without_a_session_ends_at_once() {
    let mut h = Harness::new(config(1));
    h.core.close(Some(9), h.now);
    let effects = h.drain();
    assert_eq!(completions(&effects), vec![(9, Ok(Response::Empty))]);
    assert!(h.core.is_finished());
}
