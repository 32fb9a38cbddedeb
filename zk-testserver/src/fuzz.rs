//! Scripted runs of [`ServerCore`] on untrusted input, shared by the no-panic proptest
//! (`core/fuzz_tests.rs`) and the cargo-fuzz target `fuzz/fuzz_targets/server_core.rs`.
//! Not a stable API: compiled for tests and with the `fuzzing` feature only.
//!
//! [`server_script`] reads its input as a script. The first byte picks the configuration;
//! three connections are then opened and connected; after that each action is one byte (the
//! action, modulo 10) followed by its operands (missing bytes read as zero):
//!
//! | action | operands | does |
//! |---|---|---|
//! | 0 | slot | open a fresh connection in slot (the old one, if any, is closed) |
//! | 1 | slot, flags, timeout | ConnectRequest (new, resumed, bad password, later zxid, ...) |
//! | 2 | slot, request... | a valid request frame |
//! | 3 | slot, request..., mutation... | a valid request frame, bits flipped / cut / extended |
//! | 4 | slot, len, bytes | an arbitrary frame |
//! | 5 | two bytes | time passes (ms), then `tick` |
//! | 6 | slot | the socket closes |
//! | 7 | index | expire a session seen so far |
//! | 8 | index | drop a session's connection (or all connections) |
//! | 9 | - | ping on every connected slot |
//!
//! After every action the outputs are checked (each targets a connection the driver still
//! has open; replies on a connection come in the order of its requests) and so is
//! [`ServerCore::check_invariants`]. Any violation panics.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use zk_proto::{
    encode_request, Acl, AddWatchMode, AuthPacket, CheckVersionRequest, CheckWatchesRequest,
    ConnectRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, Id, MultiOp, MultiRequest, ReconfigRequest, RemoveWatchesRequest,
    Request, SetAclRequest, SetDataRequest, SetWatches2, SyncRequest, WatcherType,
};

use crate::core::{CoreConfig, Output, ServerCore};
use crate::watch::ConnId;

const SLOTS: usize = 4;
const PATHS: [&str; 14] = [
    "/",
    "/a",
    "/a/b",
    "/a/b/c",
    "/c",
    "/c/d",
    "/t",
    "/e",
    "/zookeeper",
    "/zookeeper/config",
    "/zookeeper/quota",
    "",
    "a",
    "/a/",
];

/// Runs `data` as a script against a fresh [`ServerCore`]; panics on a broken invariant.
pub fn server_script(data: &[u8]) {
    run_script(data);
}

/// [`server_script`], returning the core at the end.
pub(crate) fn run_script(data: &[u8]) -> ServerCore {
    let mut input = Input { data };
    let mut h = Harness::new(input.byte());
    for slot in 0..3 {
        h.open(slot);
        h.connect(slot, 0, 60);
        h.check();
    }
    while !input.data.is_empty() {
        let action = input.byte() % 10;
        let arg = input.byte();
        let slot = usize::from(arg) % SLOTS;
        match action {
            0 => h.open(slot),
            1 => {
                let (flags, timeout) = (input.byte(), input.byte());
                h.connect(slot, flags, timeout);
            }
            2 => {
                let frame = request_frame(&mut input, &mut h.xid);
                h.frame(slot, &frame);
            }
            3 => {
                let mut frame = request_frame(&mut input, &mut h.xid);
                mutate(&mut input, &mut frame);
                h.frame(slot, &frame);
            }
            4 => {
                let len = usize::from(input.byte());
                let frame = input.bytes(len).to_vec();
                h.frame(slot, &frame);
            }
            5 => {
                let ms = i64::from(u16::from_be_bytes([arg, input.byte()]));
                h.now += ms;
                h.core.tick(h.now);
            }
            6 => {
                if let Some(conn) = h.slots[slot].take() {
                    h.core.closed(conn);
                    h.forget(conn);
                }
            }
            7 => {
                if let Some(&(session, _)) = pick(&h.sessions, slot) {
                    h.core.expire_session(session, h.now);
                }
            }
            8 => match pick(&h.sessions, slot) {
                Some(&(session, _)) => {
                    h.core.drop_session_connection(session);
                }
                None => h.core.drop_all_connections(),
            },
            _ => {
                for slot in 0..SLOTS {
                    let mut buf = BytesMut::new();
                    encode_request(&mut buf, zk_proto::xid::PING, &Request::Ping);
                    h.frame(slot, &buf[4..]);
                }
            }
        }
        h.check();
    }
    h.core
}

fn pick<T>(items: &[T], i: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[i % items.len()])
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
}

/// The core, the driver's view of its connections, and what the outputs must respect.
struct Harness {
    core: ServerCore,
    now: i64,
    slots: [Option<ConnId>; SLOTS],
    next_conn: ConnId,
    /// Connections the driver has open.
    open: BTreeSet<ConnId>,
    /// Connections that sent their ConnectRequest.
    handshaken: BTreeSet<ConnId>,
    /// Per connection, the xids of request frames not yet answered (or never to be).
    unanswered: HashMap<ConnId, VecDeque<i32>>,
    /// Sessions handed out, with their passwords.
    sessions: Vec<(i64, Bytes)>,
    xid: i32,
    read_only: bool,
}

impl Harness {
    fn new(config: u8) -> Harness {
        let mut cfg = CoreConfig::with_tick(100);
        cfg.read_only = config & 1 != 0;
        cfg.extended_types = config & 2 == 0;
        cfg.reconfig_enabled = config & 4 != 0;
        cfg.container_check_interval_ms = if config & 8 == 0 { 50 } else { 100_000 };
        cfg.container_max_never_used_ms = i64::from(config >> 4) * 100;
        cfg.super_digest = (config & 16 != 0).then(|| "super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into());
        let read_only = cfg.read_only;
        Harness {
            core: ServerCore::new(cfg, 0),
            now: 0,
            slots: [None; SLOTS],
            next_conn: 1,
            open: BTreeSet::new(),
            handshaken: BTreeSet::new(),
            unanswered: HashMap::new(),
            sessions: Vec::new(),
            xid: 1,
            read_only,
        }
    }

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 40_000))
    }

    fn open(&mut self, slot: usize) {
        if let Some(old) = self.slots[slot].take() {
            self.core.closed(old);
            self.forget(old);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        self.core.open(conn, Harness::addr(), self.now);
        self.open.insert(conn);
        self.slots[slot] = Some(conn);
    }

    fn forget(&mut self, conn: ConnId) {
        self.open.remove(&conn);
        self.handshaken.remove(&conn);
        self.unanswered.remove(&conn);
    }

    /// A live connection in `slot` that may send a ConnectRequest (`handshaken == false`) or
    /// request frames (`true`), as the driver allows.
    fn live(&self, slot: usize, handshaken: bool) -> Option<ConnId> {
        self.slots[slot]
            .filter(|c| self.open.contains(c) && self.handshaken.contains(c) == handshaken)
    }

    fn connect(&mut self, slot: usize, flags: u8, timeout: u8) {
        let Some(conn) = self.live(slot, false) else {
            return;
        };
        let (session_id, mut passwd) = match pick(&self.sessions, usize::from(flags >> 5)) {
            Some((id, pw)) if flags & 1 != 0 => (*id, pw.clone()),
            _ => (0, Bytes::from_static(&[0; 16])),
        };
        if flags & 2 != 0 {
            passwd = Bytes::from_static(b"wrong");
        }
        let read_only = match (flags >> 3) & 3 {
            0 => Some(self.read_only),
            1 => None,
            2 => Some(false),
            _ => Some(true),
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: if flags & 4 != 0 {
                self.core.last_zxid() + 1
            } else {
                0
            },
            timeout: i32::from(timeout) * 100 - 1,
            session_id,
            passwd,
            read_only,
        };
        self.handshaken.insert(conn);
        self.core.connect(conn, &request, self.now);
    }

    fn frame(&mut self, slot: usize, frame: &[u8]) {
        let Some(conn) = self.live(slot, true) else {
            return;
        };
        if let Some(xid) = frame.get(..4) {
            let xid = i32::from_be_bytes([xid[0], xid[1], xid[2], xid[3]]);
            self.unanswered.entry(conn).or_default().push_back(xid);
        }
        self.core.frame(conn, frame, self.now);
    }

    /// Checks the outputs queued so far and the core's invariants.
    fn check(&mut self) {
        self.core.take_log();
        for output in self.core.take_outputs() {
            let conn = match &output {
                Output::Connected { conn, .. }
                | Output::Reply { conn, .. }
                | Output::Event { conn, .. }
                | Output::Close { conn } => *conn,
            };
            assert!(
                self.open.contains(&conn) && self.handshaken.contains(&conn),
                "output for a connection not open or not handshaken: {output:?}"
            );
            match output {
                Output::Connected { response, .. } => {
                    if response.session_id != 0
                        && !self
                            .sessions
                            .iter()
                            .any(|(id, _)| *id == response.session_id)
                    {
                        self.sessions.push((response.session_id, response.passwd));
                    }
                }
                Output::Reply { header, .. } => {
                    let queue = self.unanswered.entry(conn).or_default();
                    let Some(at) = queue.iter().position(|&x| x == header.xid) else {
                        panic!("reply xid {} out of order on {conn}: {queue:?}", header.xid);
                    };
                    queue.drain(..=at);
                }
                Output::Event { .. } => {}
                Output::Close { .. } => self.forget(conn),
            }
        }
        if let Err(e) = self.core.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }
}

/// A valid request frame (without the length prefix) chosen by the next input bytes.
fn request_frame(input: &mut Input<'_>, next_xid: &mut i32) -> Vec<u8> {
    let xid = match input.byte() {
        0 => zk_proto::xid::PING,
        1 => zk_proto::xid::AUTH,
        2 => zk_proto::xid::SET_WATCHES,
        3 => 0,
        4 => i32::MIN,
        _ => {
            *next_xid = next_xid.wrapping_add(1);
            *next_xid
        }
    };
    let request = request(input);
    let mut buf = BytesMut::new();
    encode_request(&mut buf, xid, &request);
    buf[4..].to_vec()
}

fn path(input: &mut Input<'_>) -> String {
    PATHS[usize::from(input.byte()) % PATHS.len()].to_string()
}

fn acl(input: &mut Input<'_>) -> Vec<Acl> {
    match input.byte() % 6 {
        0 | 1 => Acl::open_unsafe(),
        2 => Acl::read_unsafe(),
        3 => Acl::creator_all(),
        4 => Vec::new(),
        _ => vec![Acl::new(
            i32::from(input.byte() % 32),
            Id::new("digest", "u:Lj0z8vqT9tLCj1w3WXnZwVz0rAg="),
        )],
    }
}

fn data(input: &mut Input<'_>) -> Option<Bytes> {
    match input.byte() % 4 {
        0 => None,
        1 => Some(Bytes::new()),
        n => Some(Bytes::from(vec![b'x'; usize::from(n) * 7])),
    }
}

fn create(input: &mut Input<'_>) -> CreateRequest {
    CreateRequest {
        path: path(input),
        data: data(input),
        acl: acl(input),
        flags: i32::from(input.byte() % 8),
    }
}

fn watcher_type(input: &mut Input<'_>) -> WatcherType {
    match input.byte() % 5 {
        0 => WatcherType::Children,
        1 => WatcherType::Data,
        2 => WatcherType::Any,
        3 => WatcherType::Persistent,
        _ => WatcherType::PersistentRecursive,
    }
}

fn multi_op(input: &mut Input<'_>, read: bool) -> MultiOp {
    let watch = false;
    match (read, input.byte() % 5) {
        (true, n) if n % 2 == 0 => MultiOp::GetData(GetDataRequest {
            path: path(input),
            watch,
        }),
        (true, _) => MultiOp::GetChildren(GetChildrenRequest {
            path: path(input),
            watch,
        }),
        (false, 0) => MultiOp::Create(create(input)),
        (false, 1) => MultiOp::Create2(create(input)),
        (false, 2) => MultiOp::Delete(DeleteRequest {
            path: path(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
        (false, 3) => MultiOp::SetData(SetDataRequest {
            path: path(input),
            data: data(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
        _ => MultiOp::Check(CheckVersionRequest {
            path: path(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
    }
}

fn request(input: &mut Input<'_>) -> Request {
    match input.byte() % 26 {
        0 => Request::Create(create(input)),
        1 => Request::Create2(create(input)),
        2 => Request::CreateContainer(create(input)),
        3 => {
            let CreateRequest {
                path,
                data,
                acl,
                flags,
            } = create(input);
            Request::CreateTtl(CreateTtlRequest {
                path,
                data,
                acl,
                flags,
                ttl: i64::from(input.byte()) * 10 - 10,
            })
        }
        4 => Request::Delete(DeleteRequest {
            path: path(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
        5 => Request::Exists(ExistsRequest {
            path: path(input),
            watch: input.byte() & 1 != 0,
        }),
        6 => Request::GetData(GetDataRequest {
            path: path(input),
            watch: input.byte() & 1 != 0,
        }),
        7 => Request::SetData(SetDataRequest {
            path: path(input),
            data: data(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
        8 => Request::GetAcl(GetAclRequest { path: path(input) }),
        9 => Request::SetAcl(SetAclRequest {
            path: path(input),
            acl: acl(input),
            version: i32::from(input.byte() % 3) - 1,
        }),
        10 => Request::GetChildren(GetChildrenRequest {
            path: path(input),
            watch: input.byte() & 1 != 0,
        }),
        11 => Request::GetChildren2(GetChildren2Request {
            path: path(input),
            watch: input.byte() & 1 != 0,
        }),
        12 => Request::Sync(SyncRequest { path: path(input) }),
        13 => Request::Ping,
        14 | 15 => {
            let read = input.byte() & 1 != 0;
            let n = input.byte() % 5;
            let ops = (0..n).map(|_| multi_op(input, read)).collect();
            let multi = MultiRequest { ops };
            if read {
                Request::MultiRead(multi)
            } else {
                Request::Multi(multi)
            }
        }
        16 => Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: ["digest", "ip", "world", "super", "x"][usize::from(input.byte()) % 5].into(),
            auth: Bytes::from(
                ["u:p", "super:test", "", "127.0.0.1", ":::"][usize::from(input.byte()) % 5],
            ),
        }),
        17 => {
            let mut list =
                || -> Vec<String> { (0..input.byte() % 3).map(|_| path(input)).collect() };
            Request::SetWatches2(SetWatches2 {
                data_watches: list(),
                exist_watches: list(),
                child_watches: list(),
                persistent_watches: list(),
                persistent_recursive_watches: list(),
                relative_zxid: i64::from(input.byte()) - 1,
            })
        }
        18 => Request::AddWatch(zk_proto::AddWatchRequest {
            path: path(input),
            mode: if input.byte() & 1 == 0 {
                AddWatchMode::Persistent
            } else {
                AddWatchMode::PersistentRecursive
            },
        }),
        19 => Request::RemoveWatches(RemoveWatchesRequest {
            path: path(input),
            watcher_type: watcher_type(input),
        }),
        20 => Request::CheckWatches(CheckWatchesRequest {
            path: path(input),
            watcher_type: watcher_type(input),
        }),
        21 => Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: path(input),
        }),
        22 => Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: path(input) }),
        23 => Request::WhoAmI,
        24 => Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("2".into()),
            new_members: None,
            cur_config_id: -1,
        }),
        _ => {
            if input.byte() % 8 == 0 {
                Request::CloseSession
            } else {
                Request::Check(CheckVersionRequest {
                    path: path(input),
                    version: 0,
                })
            }
        }
    }
}

/// Flips bits in, cuts or extends `frame`, or replaces its op code.
fn mutate(input: &mut Input<'_>, frame: &mut Vec<u8>) {
    match input.byte() % 4 {
        0 => {
            for _ in 0..=input.byte() % 4 {
                let at = usize::from(u16::from_be_bytes([input.byte(), input.byte()]));
                let bit = 1 << (input.byte() % 8);
                let len = frame.len().max(1);
                if let Some(b) = frame.get_mut(at % len) {
                    *b ^= bit;
                }
            }
        }
        1 => {
            let len = usize::from(input.byte()) % (frame.len() + 1);
            frame.truncate(len);
        }
        2 => {
            let n = usize::from(input.byte() % 32);
            frame.extend_from_slice(input.bytes(n));
        }
        _ => {
            let op = match input.byte() % 4 {
                0 => input.i32(),
                n => [-11, 100, 103][usize::from(n) - 1],
            };
            if frame.len() >= 8 {
                frame[4..8].copy_from_slice(&op.to_be_bytes());
            }
        }
    }
}
