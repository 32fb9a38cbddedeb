//! Scripted runs of the session core on untrusted server bytes, shared by the no-panic
//! proptest (`fuzz_tests.rs`) and the cargo-fuzz target `fuzz/fuzz_targets/client_session.rs`
//! (through `zk_client::__fuzz`). Compiled for tests and with the `fuzzing` feature only.
//!
//! [`run`] reads its input as a script. The first byte picks the configuration (hosts,
//! read-only, chroot, credentials, renewal after expiry); the session is then established and a few requests are
//! submitted (watch registrations among them). After that each action is one byte (the action,
//! modulo 12) followed by its operands (missing bytes read as zero):
//!
//! | action | operands | does |
//! |---|---|---|
//! | 0 | len, bytes | arbitrary bytes from the server |
//! | 1 | err, body, pieces | the reply to the oldest request in flight (matching xid) |
//! | 2 | kind, ... | a reply with a non-matching xid |
//! | 3 | type, state, path | a watch event |
//! | 4 | frame..., mutation... | a valid frame with bits flipped, cut, or garbage appended |
//! | 5 | kind, len, bytes | an oversized or negative length prefix (and what follows) |
//! | 6 | two bytes | time passes (ms), then `on_timeout` |
//! | 7 | - | the connection drops |
//! | 8 | kind | the connection attempt, handshake or probe in progress resolves |
//! | 9 | request... | a request is submitted |
//! | 10 | kind | a watcher is dropped, credentials are added, or the session is closed |
//! | 11 | kind | a ping, auth or setWatches reply |
//!
//! Checked throughout: every completion is for a submitted request and comes once; events go
//! to registered watchers; whatever the client sends decodes; a frame the core cannot decode
//! (bad length, short or trailing bytes in an event, bad handshake) makes it drop the
//! connection. At the end the session is closed and time runs out: every request must then
//! have completed and the core must be finished.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use zk_proto::{
    decode_request, encode_connect_response, encode_frame, xid, AddWatchMode, AddWatchRequest,
    ConnectRequest, ConnectResponse, CreateRequest, CreateResponse, ErrorCode, EventType,
    ExistsRequest, ExistsResponse, FrameDecoder, GetChildrenRequest, GetChildrenResponse,
    GetDataRequest, GetDataResponse, Jute, KeeperState, MultiRequest, OpCode, ReplyHeader, Request,
    Response, SetDataRequest, SetDataResponse, Stat, SyncResponse, WatcherEvent, WatcherType,
    DEFAULT_MAX_FRAME,
};

use super::{Config, Effect, Phase, ProbeAnswer, Session, Submit, WatchIntent, WatchOp, WatcherId};
use crate::frame::RequestFrame;
use crate::hosts::{Chroot, HostPort};

const TIMEOUT: Duration = Duration::from_secs(6);
const PATHS: [&str; 8] = [
    "/",
    "/a",
    "/a/b",
    "/app",
    "/app/a",
    "/app/",
    "",
    "/zookeeper/config",
];
/// The token of the final close.
const CLOSE_TOKEN: u32 = u32::MAX;

/// Runs `data` as a script against a fresh session core; panics on a broken check.
pub(crate) fn run(data: &[u8]) {
    let mut input = Input { data };
    let mut h = Harness::new(input.byte());
    h.establish();
    for (i, request) in [
        get_data("/a", true),
        Request::Exists(ExistsRequest {
            path: "/b".into(),
            watch: true,
        }),
        add_watch("/", AddWatchMode::Persistent),
        create("/c"),
    ]
    .into_iter()
    .enumerate()
    {
        let watch = match i {
            0 => Some(WatchIntent::Data),
            1 => Some(WatchIntent::Exists),
            2 => Some(WatchIntent::Persistent),
            _ => None,
        };
        h.submit(request, watch.map(|w| (w, None)));
    }
    h.pump();
    while !input.data.is_empty() {
        h.step(&mut input);
        h.pump();
    }
    h.finish();
}

/// The script, read from the front; reads past the end yield zeros.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn path(&mut self) -> String {
        PATHS[usize::from(self.byte()) % PATHS.len()].to_string()
    }
}

/// The core, the driver's buffers, and the server's view of the requests in flight.
struct Harness {
    core: Session<u32>,
    now: Instant,
    /// The driver's read buffer (cleared when the connection goes).
    rx: BytesMut,
    /// Bytes the client sent, not yet split into frames.
    tx: BytesMut,
    decoder: FrameDecoder,
    /// The next frame the client sends is its ConnectRequest.
    expect_connect_request: bool,
    /// Requests the server has received and not answered: (xid, op).
    in_flight: VecDeque<(i32, OpCode)>,
    auths_in_flight: usize,
    probes: Vec<HostPort>,
    next_token: u32,
    submitted: BTreeSet<u32>,
    completed: BTreeSet<u32>,
    next_watcher: WatcherId,
    watchers: BTreeSet<WatcherId>,
    /// Disconnect effects seen during the last pump.
    disconnects: usize,
    session_id: i64,
    read_only: bool,
}

impl Harness {
    fn new(config: u8) -> Harness {
        let hosts = usize::from(config % 3) + 1;
        let read_only = config & 4 != 0;
        let cfg = Config {
            hosts: (0..hosts)
                .map(|i| HostPort {
                    host: format!("h{i}"),
                    port: 2181,
                })
                .collect(),
            chroot: if config & 8 != 0 {
                Chroot::new("/app").unwrap_or_default()
            } else {
                Chroot::none()
            },
            session_timeout: TIMEOUT,
            connection_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_millis(u64::from(config >> 5) * 1000 + 500),
            read_only,
            session: None,
            auth: if config & 16 != 0 {
                vec![("digest".into(), Bytes::from_static(b"u:p"))]
            } else {
                Vec::new()
            },
            sasl: None,
            seed: u64::from(config),
            connect_passes: None,
            // `config % 3` picks the hosts, so 3 (one host, like 0) is free for this.
            renew: config & 3 == 3,
        };
        let now = Instant::now();
        Harness {
            core: Session::new(cfg, now),
            now,
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            decoder: FrameDecoder::default(),
            expect_connect_request: false,
            in_flight: VecDeque::new(),
            auths_in_flight: 0,
            probes: Vec::new(),
            next_token: 1,
            submitted: BTreeSet::new(),
            completed: BTreeSet::new(),
            next_watcher: 1,
            watchers: BTreeSet::new(),
            disconnects: 0,
            session_id: 0x100,
            read_only,
        }
    }

    /// Connects, answers the handshake, and acknowledges the credentials sent with it.
    fn establish(&mut self) {
        self.pump();
        self.connected();
        self.pump();
        self.handshake(0);
        self.pump();
        for _ in 0..self.auths_in_flight {
            self.feed(&reply_frame(xid::AUTH, 0, ErrorCode::Ok, &[]));
        }
        self.auths_in_flight = 0;
    }

    fn connected(&mut self) {
        if matches!(self.core.phase, Phase::Connecting { .. }) {
            self.expect_connect_request = true;
        }
        self.core.on_connected(self.now);
    }

    /// Answers the handshake: `kind` picks the session, timeout and mode of the answer.
    fn handshake(&mut self, kind: u8) {
        let response = match kind % 6 {
            0 => self.connect_response(TIMEOUT.as_millis() as i32),
            1 => {
                self.session_id += 1;
                self.connect_response(TIMEOUT.as_millis() as i32)
            }
            2 => ConnectResponse::expired(Some(false)),
            3 => self.connect_response(1),
            4 => self.connect_response(i32::MAX),
            _ => ConnectResponse {
                read_only: Some(true),
                ..self.connect_response(4000)
            },
        };
        let mut buf = BytesMut::new();
        encode_connect_response(&mut buf, &response);
        self.feed(&buf);
    }

    fn connect_response(&self, timeout: i32) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id: self.session_id,
            passwd: Bytes::from_static(&[7; 16]),
            read_only: Some(self.read_only && timeout == 4000),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.rx.extend_from_slice(bytes);
        self.core.on_received(&mut self.rx, self.now);
    }

    /// Feeds `bytes` in up to three pieces.
    fn feed_pieces(&mut self, bytes: &[u8], split: u8) {
        let at = usize::from(split) % (bytes.len() + 1);
        let (first, rest) = bytes.split_at(at);
        let at = usize::from(split / 16) % (rest.len() + 1);
        let (second, third) = rest.split_at(at);
        for piece in [first, second, third] {
            self.feed(piece);
        }
    }

    /// True if a frame fed now would be read from its first byte by a core that decodes
    /// frames (so an undecodable one must make it drop the connection).
    fn decodes_next_frame(&self) -> bool {
        self.rx.is_empty()
            && matches!(
                self.core.phase,
                Phase::Connected | Phase::Handshaking { .. }
            )
    }

    fn submit(&mut self, request: Request, watch: Option<(WatchIntent, Option<WatcherType>)>) {
        let token = self.next_token;
        self.next_token += 1;
        self.submitted.insert(token);
        let path = request.path().unwrap_or("/").to_string();
        let watch = watch.map(|(intent, remove)| {
            let op = match remove {
                Some(t) => WatchOp::RemoveLocal(t),
                None => {
                    let id = self.next_watcher;
                    self.next_watcher += 1;
                    self.watchers.insert(id);
                    WatchOp::Register(id, intent)
                }
            };
            (op, path)
        });
        self.core.submit(
            Submit {
                frame: RequestFrame::from_request(&request),
                token,
                watch,
            },
            self.now,
        );
    }

    /// Executes the core's effects and reads what it sent, as driver and server would.
    fn pump(&mut self) {
        self.disconnects = 0;
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Connect(_)
                | Effect::State(_)
                | Effect::Event { .. }
                | Effect::Refused { .. } => {}
                Effect::Disconnect => {
                    self.disconnects += 1;
                    self.rx.clear();
                    self.tx.clear();
                    self.in_flight.clear();
                    self.auths_in_flight = 0;
                    self.expect_connect_request = false;
                }
                Effect::Complete { token, .. } => {
                    assert!(self.submitted.contains(&token), "unknown token {token}");
                    assert!(
                        self.completed.insert(token),
                        "token {token} completed twice"
                    );
                }
                Effect::Deliver { watcher, .. } => {
                    assert!(
                        self.watchers.contains(&watcher),
                        "unknown watcher {watcher}"
                    );
                }
                Effect::Probe(host) => self.probes.push(host),
            }
        }
        let mut chunks = VecDeque::new();
        self.core.poll_transmit(&mut chunks);
        for chunk in chunks {
            self.tx.extend_from_slice(&chunk.buf);
        }
        while let Some(frame) = self
            .decoder
            .decode(&mut self.tx)
            .expect("client frame length")
        {
            if std::mem::take(&mut self.expect_connect_request) {
                ConnectRequest::decode_exact(&frame).expect("the client's ConnectRequest");
                continue;
            }
            let (header, _) = decode_request(&frame).expect("a request the client sent");
            match header.xid {
                xid::PING => {}
                xid::AUTH => self.auths_in_flight += 1,
                x => self.in_flight.push_back((x, header.op())),
            }
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let mut expect_drop = false;
        match input.byte() % 12 {
            0 => {
                let len = usize::from(input.byte());
                let bytes = input.bytes(len);
                self.feed(bytes);
            }
            1 => {
                let (err, body) = (input.byte(), input.byte());
                let split = input.byte();
                if let Some((xid, op)) = self.in_flight.pop_front() {
                    let frame = self.reply(xid, op, err, body);
                    self.feed_pieces(&frame, split);
                }
            }
            2 => {
                let front = self.in_flight.front().map_or(1, |&(x, _)| x);
                let xid = match input.byte() % 4 {
                    0 => front.wrapping_add(1),
                    1 => front.wrapping_sub(1),
                    2 => xid::SET_WATCHES,
                    _ => input.i32(),
                };
                let frame = reply_frame(xid, 5, ErrorCode::Ok, &[]);
                self.feed(&frame);
            }
            3 => {
                let frame = self.event(input);
                self.feed(&frame);
            }
            4 => {
                let mut frame = match input.byte() % 3 {
                    0 => self.event(input),
                    1 => {
                        let (xid, op) =
                            self.in_flight.front().copied().unwrap_or((1, OpCode::Ping));
                        self.reply(xid, op, input.byte(), input.byte())
                    }
                    _ => {
                        let mut buf = BytesMut::new();
                        encode_connect_response(&mut buf, &self.connect_response(6000));
                        buf.to_vec()
                    }
                };
                match input.byte() % 4 {
                    0 => {
                        for _ in 0..=input.byte() % 4 {
                            let at = usize::from(input.byte()) % frame.len();
                            frame[at] ^= 1 << (input.byte() % 8);
                        }
                    }
                    1 => {
                        let len = usize::from(input.byte()) % (frame.len() + 1);
                        frame.truncate(len);
                    }
                    2 => {
                        // Garbage after a valid header, inside the frame's length.
                        let n = usize::from(input.byte() % 16) + 1;
                        let end = frame.len() + n;
                        frame.extend_from_slice(input.bytes(n));
                        frame.resize(end.max(4 + 16 + n), 0);
                        let len = u32::try_from(frame.len() - 4).unwrap_or(u32::MAX);
                        frame[..4].copy_from_slice(&len.to_be_bytes());
                        let header = ReplyHeader::decode_exact(&frame[4..20]).ok();
                        // An event must be consumed exactly.
                        expect_drop = self.decodes_next_frame()
                            && matches!(self.core.phase, Phase::Connected)
                            && header.is_some_and(|h| h.xid == xid::NOTIFICATION);
                    }
                    _ => {
                        // A frame of fewer bytes than a reply header.
                        let n = usize::from(input.byte() % 16);
                        frame = (n as u32).to_be_bytes().to_vec();
                        frame.extend_from_slice(input.bytes(n));
                        frame.resize(4 + n, 0);
                        // Too short for a reply header, and for a handshake answer.
                        expect_drop = self.decodes_next_frame();
                    }
                }
                let split = input.byte();
                self.feed_pieces(&frame, split);
            }
            5 => {
                let len: i32 = match input.byte() % 4 {
                    0 => i32::try_from(DEFAULT_MAX_FRAME).unwrap_or(i32::MAX) + 1,
                    1 => i32::MAX,
                    2 => -1,
                    _ => i32::MIN | input.i32(),
                };
                expect_drop = self.decodes_next_frame();
                let mut frame = len.to_be_bytes().to_vec();
                let n = usize::from(input.byte() % 32);
                frame.extend_from_slice(input.bytes(n));
                self.feed(&frame);
            }
            6 => {
                let ms = u16::from_be_bytes([input.byte(), input.byte()]);
                self.now += Duration::from_millis(u64::from(ms));
                self.core.on_timeout(self.now);
            }
            7 => self.core.on_disconnected(self.now),
            8 => {
                let kind = input.byte();
                match self.core.phase {
                    Phase::Connecting { .. } if kind % 4 == 0 => {
                        self.core.on_connect_failed(self.now)
                    }
                    Phase::Connecting { .. } => self.connected(),
                    Phase::Handshaking { .. } => self.handshake(kind),
                    _ => {
                        if let Some(host) = self.probes.pop() {
                            let answer = match kind % 3 {
                                0 => ProbeAnswer::ReadWrite,
                                1 => ProbeAnswer::ReadOnly,
                                _ => ProbeAnswer::Unknown,
                            };
                            self.core.on_probe_result(host, answer, self.now);
                        } else {
                            self.core.on_timeout(self.now);
                        }
                    }
                }
            }
            9 => {
                let kind = input.byte();
                let path = input.path();
                let (request, watch) = match kind % 10 {
                    0 => (get_data(&path, true), Some(WatchIntent::Data)),
                    1 => (
                        Request::Exists(ExistsRequest { path, watch: true }),
                        Some(WatchIntent::Exists),
                    ),
                    2 => (
                        Request::GetChildren(GetChildrenRequest { path, watch: true }),
                        Some(WatchIntent::Child),
                    ),
                    3 => (
                        add_watch(&path, AddWatchMode::Persistent),
                        Some(WatchIntent::Persistent),
                    ),
                    4 => (
                        add_watch(&path, AddWatchMode::PersistentRecursive),
                        Some(WatchIntent::PersistentRecursive),
                    ),
                    5 => {
                        let watcher_type = match input.byte() % 3 {
                            0 => WatcherType::Data,
                            1 => WatcherType::Children,
                            _ => WatcherType::Any,
                        };
                        let request = Request::RemoveWatches(zk_proto::RemoveWatchesRequest {
                            path,
                            watcher_type,
                        });
                        self.submit(request, Some((WatchIntent::Data, Some(watcher_type))));
                        return;
                    }
                    6 => (get_data(&path, false), None),
                    7 => (create(&path), None),
                    8 => (
                        Request::SetData(SetDataRequest {
                            path,
                            data: Some(Bytes::from_static(b"v")),
                            version: -1,
                        }),
                        None,
                    ),
                    _ => (Request::Multi(MultiRequest { ops: Vec::new() }), None),
                };
                self.submit(request, watch.map(|w| (w, None)));
            }
            10 => match input.byte() % 4 {
                0 | 1 => {
                    let id = u64::from(input.byte()) % self.next_watcher;
                    self.core.unwatch(id, self.now);
                }
                2 => {
                    let token = self.next_token;
                    self.next_token += 1;
                    self.submitted.insert(token);
                    let data = Bytes::from_static(b"u:p");
                    self.core.add_auth("digest".into(), data, token, self.now);
                }
                _ => {
                    let token = self.next_token;
                    self.next_token += 1;
                    self.submitted.insert(token);
                    self.core.close(Some(token), self.now);
                }
            },
            _ => {
                let frame = match input.byte() % 4 {
                    0 => reply_frame(xid::PING, 0, ErrorCode::Ok, &[]),
                    1 => reply_frame(xid::AUTH, 0, ErrorCode::Ok, &[]),
                    2 => reply_frame(xid::AUTH, 0, ErrorCode::AuthFailed, &[]),
                    _ => reply_frame(xid::AUTH, 0, ErrorCode::InvalidAcl, &[]),
                };
                self.feed(&frame);
            }
        }
        self.pump();
        if expect_drop {
            assert!(
                self.disconnects > 0,
                "an undecodable frame did not drop the connection ({:?})",
                self.core.phase
            );
        }
    }

    /// A reply to (xid, op): an error, the right body, or a body of another kind.
    fn reply(&self, xid: i32, op: OpCode, err: u8, body: u8) -> Vec<u8> {
        let err = match err % 8 {
            0 => ErrorCode::NoNode,
            1 => ErrorCode::NodeExists,
            2 => ErrorCode::SessionExpired,
            3 => ErrorCode::NoAuth,
            _ => ErrorCode::Ok,
        };
        let op = if body % 4 == 0 { OpCode::GetData } else { op };
        let response = match op {
            OpCode::GetData | OpCode::Reconfig => Some(Response::GetData(GetDataResponse {
                data: Some(Bytes::from_static(b"d")),
                stat: Stat::default(),
            })),
            OpCode::Exists => Some(Response::Exists(ExistsResponse {
                stat: Stat::default(),
            })),
            OpCode::GetChildren => Some(Response::GetChildren(GetChildrenResponse {
                children: vec!["x".into()],
            })),
            OpCode::Create => Some(Response::Create(CreateResponse { path: "/x".into() })),
            OpCode::SetData => Some(Response::SetData(SetDataResponse {
                stat: Stat::default(),
            })),
            OpCode::Sync => Some(Response::Sync(SyncResponse { path: "/".into() })),
            _ => None,
        };
        let mut body = BytesMut::new();
        match response {
            Some(r) if err.is_ok() => r.encode_body(&mut body),
            // addWatch answers with an ErrorResponse body.
            None if err.is_ok() && op == OpCode::AddWatch => body.put_i32(0),
            _ => {}
        }
        reply_frame(xid, 7, err, &body)
    }

    /// A watch event chosen by the next input bytes.
    fn event(&self, input: &mut Input<'_>) -> Vec<u8> {
        let event_type = match input.byte() % 8 {
            0 => EventType::NodeCreated,
            1 => EventType::NodeDeleted,
            2 => EventType::NodeDataChanged,
            3 => EventType::NodeChildrenChanged,
            4 => EventType::None,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            _ => EventType::PersistentWatchRemoved,
        };
        let state = if input.byte() & 1 == 0 {
            KeeperState::SyncConnected
        } else {
            KeeperState::Disconnected
        };
        let event = WatcherEvent {
            event_type,
            state,
            path: input.path(),
        };
        let mut buf = BytesMut::new();
        zk_proto::encode_event(&mut buf, 9, &event);
        buf.to_vec()
    }

    /// Closes the session and lets time run out: every request must have completed.
    fn finish(&mut self) {
        self.submitted.insert(CLOSE_TOKEN);
        self.core.close(Some(CLOSE_TOKEN), self.now);
        for _ in 0..4 {
            self.pump();
            if matches!(self.core.phase, Phase::Connecting { .. }) {
                self.core.on_connect_failed(self.now);
            }
            self.now += Duration::from_secs(10);
            self.core.on_timeout(self.now);
        }
        self.pump();
        let missing: Vec<_> = self.submitted.difference(&self.completed).collect();
        assert!(missing.is_empty(), "requests never completed: {missing:?}");
        assert!(self.core.is_finished(), "closed but not finished");
    }
}

fn reply_frame(xid: i32, zxid: i64, err: ErrorCode, body: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode_frame(&mut buf, |b| {
        ReplyHeader { xid, zxid, err }.encode(b);
        b.extend_from_slice(body);
    });
    buf.to_vec()
}

fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

fn add_watch(path: &str, mode: AddWatchMode) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.into(),
        mode,
    })
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl: zk_proto::Acl::open_unsafe(),
        flags: 0,
    })
}
