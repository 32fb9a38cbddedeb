//! Unit tests of the sans-IO core: a scripted server, virtual time, no sockets.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_proto::{
    decode_request, encode_connect_response, encode_event, encode_reply, AddWatchMode,
    AddWatchRequest, ConnectRequest, ConnectResponse, ErrorCode, EventType as WireEvent,
    FrameDecoder, GetDataRequest, GetDataResponse, Jute, KeeperState, OpCode, ReplyHeader, Request,
    RequestHeader, Response, Stat, WatcherEvent,
};

use super::*;
use crate::hosts::HostPort;

pub(super) const T: Duration = Duration::from_secs(6);

pub(super) fn config(hosts: usize) -> Config {
    Config {
        hosts: (0..hosts)
            .map(|i| HostPort {
                host: format!("h{i}"),
                port: 2181,
            })
            .collect(),
        chroot: Chroot::none(),
        session_timeout: T,
        connection_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(6),
        read_only: false,
        session: None,
        auth: Vec::new(),
        sasl: None,
        seed: 7,
        connect_passes: None,
        renew: false,
    }
}

/// The core plus a scripted server end.
pub(super) struct Harness {
    pub(super) core: Session<u32>,
    pub(super) now: Instant,
    pub(super) effects: Vec<Effect<u32>>,
}

impl Harness {
    pub(super) fn new(cfg: Config) -> Harness {
        let now = Instant::now();
        let mut h = Harness {
            core: Session::new(cfg, now),
            now,
            effects: Vec::new(),
        };
        h.drain();
        h
    }

    pub(super) fn drain(&mut self) -> Vec<Effect<u32>> {
        let mut out = Vec::new();
        while let Some(e) = self.core.poll_effect() {
            out.push(e);
        }
        self.effects.extend(out.iter().map(clone_effect));
        out
    }

    pub(super) fn advance(&mut self, d: Duration) {
        self.now += d;
        self.core.on_timeout(self.now);
    }

    /// Frames the client sent since the last call.
    pub(super) fn sent(&mut self) -> Vec<Bytes> {
        let mut chunks = VecDeque::new();
        self.core.poll_transmit(&mut chunks);
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk.buf);
        }
        let decoder = FrameDecoder::default();
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            frames.push(frame);
        }
        frames
    }

    pub(super) fn requests(&mut self) -> Vec<(RequestHeader, Request)> {
        self.sent()
            .iter()
            .map(|f| decode_request(f).unwrap())
            .collect()
    }

    pub(super) fn feed(&mut self, bytes: BytesMut) {
        let mut bytes = bytes;
        self.core.on_received(&mut bytes, self.now);
    }

    /// Completes the handshake with session `id` and timeout `T`.
    pub(super) fn establish(&mut self, id: i64, read_only: bool) -> ConnectRequest {
        self.core.on_connected(self.now);
        let frames = self.sent();
        let request = ConnectRequest::decode_exact(&frames[0]).unwrap();
        let mut buf = BytesMut::new();
        encode_connect_response(
            &mut buf,
            &ConnectResponse {
                protocol_version: 0,
                timeout: T.as_millis() as i32,
                session_id: id,
                passwd: Bytes::from_static(&[9; 16]),
                read_only: Some(read_only),
            },
        );
        self.feed(buf);
        request
    }

    pub(super) fn reply(&mut self, xid: i32, zxid: i64, err: ErrorCode, body: Option<Response>) {
        let mut buf = BytesMut::new();
        encode_reply(&mut buf, &ReplyHeader { xid, zxid, err }, body.as_ref());
        self.feed(buf);
    }

    pub(super) fn event(&mut self, zxid: i64, event_type: WireEvent, path: &str) {
        let mut buf = BytesMut::new();
        encode_event(
            &mut buf,
            zxid,
            &WatcherEvent {
                event_type,
                state: KeeperState::SyncConnected,
                path: path.into(),
            },
        );
        self.feed(buf);
    }

    /// Submits `request` as the client does: encoded up front, with the server path for the
    /// watch bookkeeping.
    pub(super) fn submit(&mut self, token: u32, request: Request, watch: Option<WatchOp>) {
        let watch = watch.map(|w| (w, request.path().unwrap_or("/").to_string()));
        self.core.submit(
            Submit {
                frame: RequestFrame::from_request(&request),
                token,
                watch,
            },
            self.now,
        );
    }
}

pub(super) fn clone_effect(e: &Effect<u32>) -> Effect<u32> {
    match e {
        Effect::Connect(h) => Effect::Connect(h.clone()),
        Effect::Disconnect => Effect::Disconnect,
        Effect::Complete { token, result } => Effect::Complete {
            token: *token,
            result: result.clone(),
        },
        Effect::Deliver { watcher, event } => Effect::Deliver {
            watcher: *watcher,
            event: event.clone(),
        },
        Effect::State(s) => Effect::State(*s),
        Effect::Event { event, negotiated } => Effect::Event {
            event: event.clone(),
            negotiated: *negotiated,
        },
        Effect::Probe(h) => Effect::Probe(h.clone()),
        Effect::Refused { read_only_allowed } => Effect::Refused {
            read_only_allowed: *read_only_allowed,
        },
    }
}

pub(super) fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

pub(super) fn data_response() -> Response {
    Response::GetData(GetDataResponse {
        data: Some(Bytes::from_static(b"d")),
        stat: Stat::default(),
    })
}

pub(super) fn completions(effects: &[Effect<u32>]) -> Vec<(u32, Result<Response>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Complete { token, result } => Some((*token, result.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn states(effects: &[Effect<u32>]) -> Vec<SessionState> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::State(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_then_requests_in_order() {
    let mut h = Harness::new(config(1));
    assert!(matches!(h.effects[0], Effect::Connect(_)));
    let request = h.establish(0x10, false);
    assert_eq!(request.session_id, 0);
    assert_eq!(request.timeout, 6000);
    assert_eq!(request.read_only, Some(false));
    assert_eq!(states(&h.drain()), vec![SessionState::Connected]);
    assert_eq!(h.core.session_id(), 0x10);
    assert_eq!(h.core.negotiated_timeout(), T);

    h.submit(1, get_data("/a", false), None);
    h.submit(2, get_data("/b", false), None);
    let sent = h.requests();
    assert_eq!(sent.len(), 2, "both frames coalesced into one transmit");
    assert_eq!((sent[0].0.xid, sent[1].0.xid), (1, 2));
    h.reply(1, 5, ErrorCode::Ok, Some(data_response()));
    h.reply(2, 6, ErrorCode::NoNode, None);
    let done = completions(&h.drain());
    assert_eq!(done[0], (1, Ok(data_response())));
    assert_eq!(done[1], (2, Err(Error::NoNode)));
    assert_eq!(h.core.last_zxid(), 6);
}

#[test]
fn events_are_delivered_before_later_replies() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.drain();
    h.submit(
        1,
        get_data("/a", true),
        Some(WatchOp::Register(77, WatchIntent::Data)),
    );
    h.submit(2, get_data("/b", false), None);
    h.requests();
    h.reply(1, 5, ErrorCode::Ok, Some(data_response()));
    // The server applies a change to /a, queues the event, then answers request 2.
    h.event(7, WireEvent::NodeDataChanged, "/a");
    h.reply(2, 7, ErrorCode::Ok, Some(data_response()));
    let effects = h.drain();
    let order: Vec<String> = effects
        .iter()
        .map(|e| match e {
            Effect::Complete { token, .. } => format!("complete {token}"),
            Effect::Deliver { watcher, event } => {
                format!("deliver {watcher} {:?}", event.event_type)
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        order,
        ["complete 1", "deliver 77 NodeDataChanged", "complete 2"]
    );
    // One-shot: a second event reaches nobody.
    h.event(8, WireEvent::NodeDataChanged, "/a");
    assert!(h.drain().is_empty());
}

#[test]
fn reconnect_fails_in_flight_and_replays_watches() {
    let mut h = Harness::new(config(3));
    h.establish(0x10, false);
    h.submit(
        1,
        get_data("/d", true),
        Some(WatchOp::Register(1, WatchIntent::Data)),
    );
    let add = |path: &str, mode| {
        Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode,
        })
    };
    h.submit(
        2,
        add("/p", AddWatchMode::Persistent),
        Some(WatchOp::Register(2, WatchIntent::Persistent)),
    );
    h.submit(
        3,
        add("/r", AddWatchMode::PersistentRecursive),
        Some(WatchOp::Register(3, WatchIntent::PersistentRecursive)),
    );
    h.requests();
    h.reply(1, 5, ErrorCode::Ok, Some(data_response()));
    h.reply(
        2,
        6,
        ErrorCode::Ok,
        Some(Response::AddWatch(Default::default())),
    );
    h.reply(
        3,
        9,
        ErrorCode::Ok,
        Some(Response::AddWatch(Default::default())),
    );
    h.submit(4, get_data("/x", false), None);
    h.requests();
    h.drain();

    h.core.on_disconnected(h.now);
    let effects = h.drain();
    assert_eq!(completions(&effects), vec![(4, Err(Error::ConnectionLoss))]);
    assert_eq!(states(&effects), vec![SessionState::Disconnected]);
    // Persistent watchers hear about the disconnect; the one-shot one does not.
    let told: Vec<WatcherId> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { watcher, .. } => Some(*watcher),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 2);
    assert!(!told.contains(&1));
    assert!(matches!(effects.last(), Some(Effect::Connect(_))));

    // A request made while disconnected waits for the reconnect.
    h.submit(5, get_data("/y", false), None);
    let request = h.establish(0x10, false);
    assert_eq!(request.session_id, 0x10);
    assert_eq!(&request.passwd[..], &[9; 16]);
    assert_eq!(request.last_zxid_seen, 9);
    let sent = h.requests();
    assert_eq!(sent[0].0.xid, zk_proto::xid::SET_WATCHES);
    let Request::SetWatches2(sw) = &sent[0].1 else {
        panic!("expected setWatches2, got {:?}", sent[0].1);
    };
    assert_eq!(sw.relative_zxid, 9);
    assert_eq!(sw.data_watches, ["/d"]);
    assert_eq!(sw.persistent_watches, ["/p"]);
    assert_eq!(sw.persistent_recursive_watches, ["/r"]);
    assert_eq!(sent[1].1, get_data("/y", false));
    // `Connected` is announced only once the server has re-armed the watches, so that a
    // change made after observing it cannot slip past a persistent watch.
    assert_eq!(states(&h.drain()), Vec::<SessionState>::new());
    h.reply(-8, 10, ErrorCode::Ok, None);
    let effects = h.drain();
    assert_eq!(states(&effects), vec![SessionState::Connected]);
    h.reply(sent[1].0.xid, 10, ErrorCode::Ok, Some(data_response()));
    assert_eq!(completions(&h.drain()), vec![(5, Ok(data_response()))]);
}

#[test]
fn set_watches_is_chunked_below_128_kib() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    let long = "x".repeat(1000);
    for i in 0..300u32 {
        let path = format!("/{long}{i}");
        h.submit(
            i,
            get_data(&path, true),
            Some(WatchOp::Register(u64::from(i), WatchIntent::Data)),
        );
    }
    let sent = h.requests();
    for (header, _) in &sent {
        h.reply(header.xid, 1, ErrorCode::Ok, Some(data_response()));
    }
    h.core.on_disconnected(h.now);
    h.establish(0x10, false);
    let frames = h.sent();
    assert!(frames.len() >= 3, "{} frames", frames.len());
    let mut total = 0;
    for frame in &frames {
        assert!(
            frame.len() + 4 <= SET_WATCHES_CHUNK,
            "frame of {} bytes",
            frame.len()
        );
        let (header, request) = decode_request(frame).unwrap();
        assert_eq!(header.op(), OpCode::SetWatches2);
        let Request::SetWatches2(sw) = request else {
            panic!()
        };
        total += sw.data_watches.len();
    }
    assert_eq!(total, 300);
}

#[test]
fn client_side_expiry_when_no_server_answers() {
    let mut h = Harness::new(config(2));
    h.establish(0x10, false);
    h.drain();
    h.core.on_disconnected(h.now);
    h.submit(1, get_data("/q", false), None);
    let mut attempts = 0;
    // Every attempt is refused; the client backs off between passes and never busy-loops.
    for _ in 0..100 {
        h.drain();
        if h.core.state() == SessionState::Expired {
            break;
        }
        h.core.on_connect_failed(h.now);
        attempts += 1;
        let Some(next) = h.core.next_deadline() else {
            break;
        };
        h.now = next.max(h.now);
        h.core.on_timeout(h.now);
    }
    assert!(attempts < 40, "{attempts} attempts in {T:?}");
    assert_eq!(h.core.state(), SessionState::Expired);
    let done = completions(&h.effects);
    // The queued request timed out (request timeout = T) or failed with expiry.
    assert_eq!(done.len(), 1);
    assert!(matches!(
        done[0].1,
        Err(Error::Timeout | Error::SessionExpired)
    ));
    assert!(h.core.is_finished());
}

#[test]
fn expired_reply_from_server_is_terminal() {
    let mut cfg = config(1);
    cfg.session = Some((0x42, Bytes::from_static(&[1; 16])));
    cfg.request_timeout = Duration::from_secs(60);
    let mut h = Harness::new(cfg);
    h.submit(1, get_data("/a", false), None);
    h.core.on_connected(h.now);
    let request = ConnectRequest::decode_exact(&h.sent()[0]).unwrap();
    assert_eq!(request.session_id, 0x42);
    let mut buf = BytesMut::new();
    encode_connect_response(&mut buf, &ConnectResponse::expired(Some(false)));
    h.feed(buf);
    let effects = h.drain();
    assert_eq!(states(&effects), vec![SessionState::Expired]);
    assert_eq!(completions(&effects), vec![(1, Err(Error::SessionExpired))]);
    h.submit(2, get_data("/a", false), None);
    assert_eq!(
        completions(&h.drain()),
        vec![(2, Err(Error::SessionExpired))]
    );
}

#[test]
fn pings_when_idle_and_read_timeout() {
    let mut h = Harness::new(config(2));
    h.establish(0x10, false);
    h.drain();
    // read timeout = 4 s, ping interval = 2 s.
    h.advance(Duration::from_millis(2000));
    let sent = h.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.xid, zk_proto::xid::PING);
    h.reply(zk_proto::xid::PING, 0, ErrorCode::Ok, None);
    assert!(h.drain().is_empty());
    // Silence for the read timeout drops the connection and reconnects elsewhere.
    h.advance(Duration::from_millis(4000));
    let effects = h.drain();
    assert_eq!(states(&effects), vec![SessionState::Disconnected]);
    assert!(matches!(effects.last(), Some(Effect::Connect(_))));
}

#[test]
fn server_behind_closes_and_client_moves_on() {
    let mut h = Harness::new(config(3));
    let first = match &h.effects[0] {
        Effect::Connect(host) => host.clone(),
        _ => panic!(),
    };
    h.core.on_connected(h.now);
    h.sent();
    // The server closes without replying (its zxid is behind ours).
    h.core.on_disconnected(h.now);
    let effects = h.drain();
    let Some(Effect::Connect(second)) = effects.last() else {
        panic!("{effects:?}")
    };
    assert_ne!(&first, second);
    assert_eq!(h.core.state(), SessionState::Connecting);
}

#[test]
fn auth_is_resent_first_and_failure_is_terminal() {
    let mut cfg = config(1);
    cfg.auth = vec![("digest".into(), Bytes::from_static(b"u:p"))];
    let mut h = Harness::new(cfg);
    h.submit(1, get_data("/a", false), None);
    h.establish(0x10, false);
    let sent = h.requests();
    assert_eq!(sent[0].0.xid, zk_proto::xid::AUTH);
    assert_eq!(sent[1].0.xid, 1);
    h.reply(zk_proto::xid::AUTH, 0, ErrorCode::AuthFailed, None);
    let effects = h.drain();
    assert_eq!(states(&effects).last(), Some(&SessionState::AuthFailed));
    assert_eq!(completions(&effects), vec![(1, Err(Error::ConnectionLoss))]);
}

#[test]
fn close_waits_for_the_reply() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.drain();
    h.core.close(Some(9), h.now);
    let sent = h.requests();
    assert_eq!(sent[0].0.op(), OpCode::CloseSession);
    h.submit(1, get_data("/a", false), None);
    assert_eq!(completions(&h.drain()), vec![(1, Err(Error::Closed))]);
    h.reply(sent[0].0.xid, 3, ErrorCode::Ok, None);
    let effects = h.drain();
    assert_eq!(states(&effects), vec![SessionState::Closed]);
    assert_eq!(completions(&effects), vec![(9, Ok(Response::Empty))]);
    assert!(h.core.is_finished());
}

#[test]
fn out_of_order_reply_drops_the_connection() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.submit(1, get_data("/a", false), None);
    h.requests();
    h.drain();
    h.reply(42, 1, ErrorCode::Ok, Some(data_response()));
    let effects = h.drain();
    assert_eq!(completions(&effects), vec![(1, Err(Error::ConnectionLoss))]);
    assert_eq!(states(&effects), vec![SessionState::Disconnected]);
}

#[test]
fn queued_requests_time_out() {
    let mut h = Harness::new(config(1));
    h.submit(1, get_data("/a", false), None);
    h.advance(Duration::from_millis(500));
    h.submit(2, get_data("/b", false), None);
    h.now += Duration::from_millis(5600);
    h.core.on_timeout(h.now);
    assert_eq!(completions(&h.drain()), vec![(1, Err(Error::Timeout))]);
    h.now += Duration::from_millis(500);
    h.core.on_timeout(h.now);
    assert_eq!(completions(&h.drain()), vec![(2, Err(Error::Timeout))]);
}

#[test]
fn read_only_session_reconnects_as_new_until_a_writable_server() {
    let mut cfg = config(1);
    cfg.read_only = true;
    let mut h = Harness::new(cfg);
    h.establish(0x77, true);
    assert_eq!(states(&h.drain()), vec![SessionState::ConnectedReadOnly]);
    h.core.on_disconnected(h.now);
    let request = h.establish(0x78, false);
    assert_eq!(request.session_id, 0, "never seen a read-write server");
    assert_eq!(request.read_only, Some(true));
    assert_eq!(h.core.state(), SessionState::Connected);
}

#[test]
fn read_only_session_probes_for_a_read_write_server() {
    let mut cfg = config(3);
    cfg.read_only = true;
    let mut h = Harness::new(cfg);
    let current = match &h.effects[0] {
        Effect::Connect(host) => host.clone(),
        other => panic!("{other:?}"),
    };
    h.establish(0x77, true);
    h.drain();
    h.advance(Duration::from_millis(500));
    let effects = h.drain();
    let Some(Effect::Probe(probed)) = effects.last() else {
        panic!("{effects:?}")
    };
    assert_ne!(probed, &current);
    // Not read-write: probe again later, with a longer interval.
    h.core
        .on_probe_result(probed.clone(), ProbeAnswer::ReadOnly, h.now);
    assert!(h.drain().is_empty());
    h.advance(Duration::from_millis(999));
    assert!(h.drain().iter().all(|e| !matches!(e, Effect::Probe(_))));
    h.advance(Duration::from_millis(1));
    let effects = h.drain();
    let Some(Effect::Probe(probed)) = effects.last() else {
        panic!("{effects:?}")
    };
    h.core
        .on_probe_result(probed.clone(), ProbeAnswer::ReadWrite, h.now);
    let effects = h.drain();
    assert!(matches!(effects.first(), Some(Effect::Disconnect)));
    assert!(matches!(effects.last(), Some(Effect::Connect(host)) if host == probed));
    let request = h.establish(0x99, false);
    assert_eq!(request.session_id, 0);
    assert_eq!(h.core.state(), SessionState::Connected);
}

fn set_data(path: &str, len: usize) -> Request {
    Request::SetData(zk_proto::SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from(vec![7; len])),
        version: -1,
    })
}

#[test]
fn frames_queued_while_disconnected_get_fresh_xids_in_order() {
    let mut h = Harness::new(config(1));
    // Queued before the first connection: a small, a large (queued whole) and a small frame.
    h.submit(1, get_data("/a", false), None);
    h.submit(2, set_data("/big", 4096), None);
    h.submit(3, get_data("/c", false), None);
    h.establish(0x10, false);
    let sent = h.requests();
    let xids: Vec<i32> = sent.iter().map(|(header, _)| header.xid).collect();
    assert_eq!(xids, [1, 2, 3]);
    assert_eq!(sent[1].1, set_data("/big", 4096));
    assert_eq!(sent[2].1, get_data("/c", false));

    // Lost in flight, then submitted again while disconnected: sent with new xids.
    h.core.on_disconnected(h.now);
    let effects = h.drain();
    assert_eq!(completions(&effects).len(), 3);
    h.submit(4, set_data("/big", 2048), None);
    h.submit(5, get_data("/e", false), None);
    h.establish(0x10, false);
    let sent = h.requests();
    let xids: Vec<i32> = sent.iter().map(|(header, _)| header.xid).collect();
    assert_eq!(xids, [4, 5]);
    assert_eq!(sent[0].1, set_data("/big", 2048));
    h.reply(4, 11, ErrorCode::NoNode, None);
    h.reply(5, 12, ErrorCode::Ok, Some(data_response()));
    assert_eq!(
        completions(&h.drain()),
        vec![(4, Err(Error::NoNode)), (5, Ok(data_response()))]
    );
}

#[test]
fn oversized_frames_fail_without_being_sent() {
    let mut h = Harness::new(config(1));
    h.establish(0x10, false);
    h.drain();
    h.submit(1, set_data("/big", zk_proto::DEFAULT_MAX_FRAME), None);
    assert!(h.requests().is_empty());
    let done = completions(&h.drain());
    assert!(matches!(
        done[..],
        [(
            1,
            Err(Error::BadArguments(ArgumentError::RequestTooLarge(_)))
        )]
    ));
}

#[test]
fn connect_passes_bound_only_the_first_connection() {
    let mut cfg = config(2);
    cfg.connect_passes = Some(1);
    let mut h = Harness::new(cfg.clone());
    h.submit(1, get_data("/q", false), None);
    h.core.on_connect_failed(h.now);
    h.drain();
    assert_eq!(h.core.state(), SessionState::Connecting, "one host left");
    h.core.on_connect_failed(h.now);
    h.drain();
    assert_eq!(h.core.state(), SessionState::Closed);
    let done = completions(&h.effects);
    assert!(matches!(done[..], [(1, Err(Error::NoHosts))]), "{done:?}");
    assert!(h.core.is_finished());

    // Once a session exists, failed reconnects never give up early.
    let mut h = Harness::new(cfg);
    h.establish(0x10, false);
    h.core.on_disconnected(h.now);
    let mut refused = 0;
    for _ in 0..20 {
        let connecting = h.drain().iter().any(|e| matches!(e, Effect::Connect(_)));
        if connecting {
            h.core.on_connect_failed(h.now);
            refused += 1;
        }
        h.advance(Duration::from_millis(100));
    }
    assert!(refused >= 4, "{refused} passes");
    assert_eq!(h.core.state(), SessionState::Disconnected);
}
