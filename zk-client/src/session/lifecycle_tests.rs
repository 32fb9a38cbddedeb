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
