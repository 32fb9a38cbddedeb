//! Golden bytes: frames captured between real clients (the Java client, kazoo, raw sockets) and a
//! real ZooKeeper server must decode, and re-encode byte for byte.
//!
//! Fixtures are `tests/fixtures/*.txt` (see `tests/fixtures/README.md`): `C <hex>` is a
//! client-to-server frame body and `S <hex>` a server-to-client one, both without the length
//! prefix; `#` lines are comments, and `# conn N ...` switches to connection N. The first C frame
//! of a connection is its ConnectRequest, the first S frame its ConnectResponse. Replies are
//! matched to requests by xid, in order, to learn their op code.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use zk_proto::*;

/// Something a fixture showed, for the coverage check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    /// A request with this op code.
    Request(i32),
    /// A reply to a request with this op code, with this error code.
    Reply(i32, i32),
    /// A multi or multiRead (op) reply whose results report this failure (the first real error).
    FailedMulti { op: i32, err: i32 },
    /// An op of this type inside a multi or multiRead request.
    MultiOp(i32),
    /// A result of this type inside a multi or multiRead reply.
    MultiResult(i32),
    /// A getData reply whose data is a null buffer (-1), not an empty one.
    NullData,
    /// A reconfig request with a null (-1) string.
    NullString,
    /// A watch event of this type.
    Event(i32),
    /// A ConnectRequest with (`true`) or without (`false`) the readOnly byte.
    ConnectRequest { read_only_byte: bool },
    /// A ConnectResponse with or without the readOnly byte.
    ConnectResponse { read_only_byte: bool },
    /// A ConnectResponse refusing the session (timeout 0).
    ExpiredConnect,
}

#[derive(Default)]
struct Connection {
    connected: bool,
    answered: bool,
    /// Op codes of requests awaiting a reply, by xid, oldest first.
    pending: HashMap<i32, VecDeque<OpCode>>,
}

#[derive(Default)]
struct Report {
    files: Vec<PathBuf>,
    frames: usize,
    seen: BTreeSet<Seen>,
    failures: Vec<String>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_files() -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(fixtures_dir()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .map(|entry| entry.expect("readable fixtures dir").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex at {i}"))
        })
        .collect()
}

/// The op code whose reply a special xid carries when no request with that xid was seen.
fn special_xid_op(xid: i32) -> Option<OpCode> {
    match xid {
        xid::PING => Some(OpCode::Ping),
        xid::AUTH => Some(OpCode::Auth),
        xid::SET_WATCHES => Some(OpCode::SetWatches),
        _ => None,
    }
}

/// Decodes and re-encodes one client frame.
fn client_frame(
    conn: &mut Connection,
    frame: &[u8],
    seen: &mut BTreeSet<Seen>,
) -> Result<(), String> {
    if !conn.connected {
        conn.connected = true;
        let request =
            ConnectRequest::decode_exact(frame).map_err(|e| format!("ConnectRequest: {e}"))?;
        seen.insert(Seen::ConnectRequest {
            read_only_byte: request.read_only.is_some(),
        });
        let mut wire = BytesMut::new();
        encode_connect_request(&mut wire, &request);
        return same(&wire[4..], frame, &request);
    }
    let (header, request) = decode_request(frame).map_err(|e| format!("request: {e}"))?;
    seen.insert(Seen::Request(header.op_type));
    match &request {
        Request::Multi(multi) | Request::MultiRead(multi) => {
            seen.extend(
                multi
                    .ops
                    .iter()
                    .map(|op| Seen::MultiOp(op.op_code().code())),
            );
        }
        Request::Reconfig(r)
            if [&r.joining_servers, &r.leaving_servers, &r.new_members].contains(&&None) =>
        {
            seen.insert(Seen::NullString);
        }
        _ => {}
    }
    conn.pending
        .entry(header.xid)
        .or_default()
        .push_back(header.op());
    let mut wire = BytesMut::new();
    encode_request(&mut wire, header.xid, &request);
    same(&wire[4..], frame, &(header, request))
}

/// Decodes and re-encodes one server frame.
fn server_frame(
    conn: &mut Connection,
    frame: &[u8],
    seen: &mut BTreeSet<Seen>,
) -> Result<(), String> {
    if !conn.answered {
        conn.answered = true;
        let response =
            ConnectResponse::decode_exact(frame).map_err(|e| format!("ConnectResponse: {e}"))?;
        seen.insert(Seen::ConnectResponse {
            read_only_byte: response.read_only.is_some(),
        });
        if response.is_expired() {
            seen.insert(Seen::ExpiredConnect);
        }
        let mut wire = BytesMut::new();
        encode_connect_response(&mut wire, &response);
        return same(&wire[4..], frame, &response);
    }
    let mut wire = BytesMut::new();
    match decode_incoming(Bytes::copy_from_slice(frame)).map_err(|e| format!("incoming: {e}"))? {
        Incoming::Event { zxid, event } => {
            seen.insert(Seen::Event(event.event_type.code()));
            encode_event(&mut wire, zxid, &event);
            same(&wire[4..], frame, &event)
        }
        Incoming::Reply { header, body } => {
            let op = conn
                .pending
                .get_mut(&header.xid)
                .and_then(VecDeque::pop_front)
                .or_else(|| special_xid_op(header.xid))
                .ok_or_else(|| format!("reply to xid {} matches no request", header.xid))?;
            seen.insert(Seen::Reply(op.code(), header.err.code()));
            if !header.err.is_ok() {
                if !body.is_empty() {
                    return Err(format!("error reply with a {}-byte body", body.len()));
                }
                encode_reply(&mut wire, &header, None);
                return same(&wire[4..], frame, &header);
            }
            let response = decode_response(op, body).map_err(|e| format!("{op:?} reply: {e}"))?;
            match &response {
                Response::Multi(multi) | Response::MultiRead(multi) => {
                    if let Some((_, err)) = multi.first_error() {
                        seen.insert(Seen::FailedMulti {
                            op: op.code(),
                            err: err.code(),
                        });
                    }
                    seen.extend(
                        multi
                            .results
                            .iter()
                            .map(|r| Seen::MultiResult(result_type(r))),
                    );
                }
                Response::GetData(GetDataResponse { data: None, .. }) => {
                    seen.insert(Seen::NullData);
                }
                _ => {}
            }
            encode_reply(&mut wire, &header, Some(&response));
            same(&wire[4..], frame, &(header, response))
        }
    }
}

/// The type a multi result has on the wire.
fn result_type(result: &MultiResult) -> i32 {
    match result {
        MultiResult::Create(_) => OpCode::Create.code(),
        MultiResult::Create2(_) => OpCode::Create2.code(),
        MultiResult::Delete => OpCode::Delete.code(),
        MultiResult::SetData(_) => OpCode::SetData.code(),
        MultiResult::Check => OpCode::Check.code(),
        MultiResult::GetChildren(_) => OpCode::GetChildren.code(),
        MultiResult::GetData(_) => OpCode::GetData.code(),
        MultiResult::Error(_) => OpCode::Error.code(),
        other => panic!("a multi result this test does not know: {other:?}"),
    }
}

fn same(encoded: &[u8], frame: &[u8], decoded: &dyn std::fmt::Debug) -> Result<(), String> {
    if encoded == frame {
        Ok(())
    } else {
        Err(format!(
            "re-encoding differs\n  decoded:    {decoded:?}\n  captured:   {}\n  re-encoded: {}",
            hex(frame),
            hex(encoded)
        ))
    }
}

/// Reads every fixture, checking every frame.
fn check_fixtures() -> Report {
    let mut report = Report::default();
    for path in fixture_files() {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut conns: HashMap<u64, Connection> = HashMap::new();
        let mut current: Option<u64> = None;
        for (number, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", number + 1);
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                if words.next() == Some("conn") {
                    if let Some(Ok(id)) = words.next().map(str::parse::<u64>) {
                        current = Some(id);
                    }
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let (direction, body) = line.split_once(' ').unwrap_or((line, ""));
            let frame = match unhex(body.trim()) {
                Ok(frame) => frame,
                Err(e) => {
                    report.failures.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let Some(id) = current else {
                report
                    .failures
                    .push(format!("{at}: frame before any `# conn N` line"));
                continue;
            };
            let conn = conns.entry(id).or_default();
            report.frames += 1;
            let result = match direction {
                "C" => client_frame(conn, &frame, &mut report.seen),
                "S" => server_frame(conn, &frame, &mut report.seen),
                other => Err(format!("unknown direction {other:?}")),
            };
            if let Err(e) = result {
                report
                    .failures
                    .push(format!("{at} ({direction} conn {id}): {e}"));
            }
        }
        report.files.push(path);
    }
    report
}

#[test]
fn every_captured_frame_round_trips() {
    let report = check_fixtures();
    assert!(
        !report.files.is_empty(),
        "no fixtures in {}",
        fixtures_dir().display()
    );
    assert!(report.frames > 0, "fixtures hold no frames");
    assert!(
        report.failures.is_empty(),
        "{} of {} frames failed:\n{}",
        report.failures.len(),
        report.frames,
        report.failures.join("\n")
    );
}

#[test]
fn fixtures_cover_the_protocol() {
    use OpCode as O;
    let report = check_fixtures();
    // Every op code a client sends except sasl (no SASL on the capture server).
    let sent = [
        O::Create,
        O::Delete,
        O::Exists,
        O::GetData,
        O::SetData,
        O::GetAcl,
        O::SetAcl,
        O::GetChildren,
        O::Sync,
        O::Ping,
        O::GetChildren2,
        O::Multi,
        O::Create2,
        O::Reconfig,
        O::CheckWatches,
        O::RemoveWatches,
        O::CreateContainer,
        O::CreateTtl,
        O::MultiRead,
        O::Auth,
        O::SetWatches,
        O::GetEphemerals,
        O::GetAllChildrenNumber,
        O::SetWatches2,
        O::AddWatch,
        O::WhoAmI,
        O::CloseSession,
    ];
    let mut required: Vec<Seen> = sent.iter().map(|op| Seen::Request(op.code())).collect();
    // A successful reply to each of them but reconfig (disabled on the capture server).
    required.extend(
        sent.iter()
            .filter(|op| **op != O::Reconfig)
            .map(|op| Seen::Reply(op.code(), 0)),
    );
    let e = |op: OpCode, err: ErrorCode| Seen::Reply(op.code(), err.code());
    required.extend([
        // Error replies: a bare header.
        e(O::Exists, ErrorCode::NoNode),
        e(O::GetData, ErrorCode::NoNode),
        e(O::Create, ErrorCode::NodeExists),
        e(O::Delete, ErrorCode::NotEmpty),
        e(O::SetData, ErrorCode::BadVersion),
        e(O::Reconfig, ErrorCode::ReconfigDisabled),
        e(O::Auth, ErrorCode::AuthFailed),
        // An atomic multi rolled back, and a multiRead with a failed read.
        Seen::FailedMulti {
            op: O::Multi.code(),
            err: ErrorCode::BadVersion.code(),
        },
        Seen::FailedMulti {
            op: O::MultiRead.code(),
            err: ErrorCode::NoNode.code(),
        },
        // Null buffers and strings on the wire.
        Seen::NullData,
        Seen::NullString,
        // Watch events.
        Seen::Event(EventType::NodeCreated.code()),
        Seen::Event(EventType::NodeDeleted.code()),
        Seen::Event(EventType::NodeDataChanged.code()),
        Seen::Event(EventType::NodeChildrenChanged.code()),
        // Handshakes of old and current clients, and a refused session.
        Seen::ConnectRequest {
            read_only_byte: true,
        },
        Seen::ConnectRequest {
            read_only_byte: false,
        },
        Seen::ConnectResponse {
            read_only_byte: true,
        },
        Seen::ConnectResponse {
            read_only_byte: false,
        },
        Seen::ExpiredConnect,
    ]);
    // Every op a multi or multiRead may hold, and every result type.
    required.extend(
        [
            O::Create,
            O::Delete,
            O::SetData,
            O::Check,
            O::CreateContainer,
            O::CreateTtl,
            O::GetData,
            O::GetChildren,
        ]
        .iter()
        .map(|op| Seen::MultiOp(op.code())),
    );
    required.extend(
        [
            O::Create,
            O::Create2,
            O::Delete,
            O::SetData,
            O::Check,
            O::GetData,
            O::GetChildren,
            O::Error,
        ]
        .iter()
        .map(|op| Seen::MultiResult(op.code())),
    );
    let missing: Vec<&Seen> = required
        .iter()
        .filter(|item| !report.seen.contains(item))
        .collect();
    assert!(
        missing.is_empty(),
        "the fixtures in {} lack {missing:?}\n(seen: {:?})",
        fixtures_dir().display(),
        report.seen
    );
}
