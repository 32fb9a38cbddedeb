//! Where real ZooKeeper 3.8 is lenient, we are too: trailing bytes after a ConnectRequest or a
//! request body are ignored, a path that is not UTF-8 is a bad argument, and the frame-size
//! limit sits exactly where the real server puts it. The same raw-socket probes run against
//! real ZooKeeper and our server, and their transcripts must be equal.

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use zk_proto::{
    encode_frame, ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, ExistsRequest,
    GetChildrenRequest, GetDataRequest, Jute, MultiOp, MultiRequest, Request, RequestHeader,
    SetDataRequest,
};
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::client::{read_frame, Client};

/// ZooKeeper's default `jute.maxbuffer`.
const MAX_BUFFER: usize = 0xfffff;

fn connect_body(extra: &[u8]) -> BytesMut {
    let mut body = BytesMut::new();
    ConnectRequest {
        timeout: 30_000,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
        ..Default::default()
    }
    .encode(&mut body);
    body.extend_from_slice(extra);
    body
}

/// Sends a framed ConnectRequest body and reports whether a session was granted.
async fn raw_handshake(addr: std::net::SocketAddr, body: &[u8]) -> (String, Option<Client>) {
    let mut io = TcpStream::connect(addr).await.unwrap();
    let mut out = BytesMut::new();
    encode_frame(&mut out, |b| b.extend_from_slice(body));
    // A server that refuses the frame (too large) may close before it is all written: then
    // the write fails with a reset, which is the same answer as a close.
    if tokio::io::AsyncWriteExt::write_all(&mut io, &out)
        .await
        .is_err()
    {
        return ("closed".to_string(), None);
    }
    let mut buf = BytesMut::new();
    match read_frame(&mut io, &mut buf).await {
        None => ("closed".to_string(), None),
        Some(frame) => {
            // The answer itself is decoded strictly: servers send no trailing bytes.
            let session = ConnectResponse::decode_exact(&frame).expect("ConnectResponse");
            let line = format!("timeout={} ro={:?}", session.timeout, session.read_only);
            let client = Client::from_parts(Box::new(io), buf, session);
            (line, Some(client))
        }
    }
}

/// A request frame body: header, the request's body, then `extra` bytes.
fn request_body(xid: i32, request: &Request, extra: &[u8]) -> BytesMut {
    let mut body = BytesMut::new();
    RequestHeader::new(xid, request.op_code()).encode(&mut body);
    request.encode_body(&mut body);
    body.extend_from_slice(extra);
    body
}

/// Replaces the first `XX` in `body` with the bytes of an invalid UTF-8 sequence.
fn break_utf8(mut body: BytesMut) -> BytesMut {
    let at = body
        .windows(2)
        .position(|w| w == b"XX")
        .expect("a placeholder");
    body[at] = 0xff;
    body[at + 1] = 0xfe;
    body
}

/// Sends one raw frame body and describes the answer: the reply's error code (and whether a
/// body came with it), or "closed".
async fn exchange(c: &mut Client, body: &[u8]) -> String {
    let mut out = BytesMut::new();
    encode_frame(&mut out, |b| b.extend_from_slice(body));
    if c.send_raw(&out).await.is_err() {
        return "closed".to_string();
    }
    match c.recv_raw_reply().await {
        None => "closed".to_string(),
        Some((h, body)) => format!("err={:?} body={}", h.err, !body.is_empty()),
    }
}

/// Whether the connection still serves: a ping is answered.
async fn alive(c: &mut Client) -> bool {
    let body = request_body(-2, &Request::Ping, &[]);
    exchange(c, &body).await.starts_with("err=Ok")
}

fn set_data(path: &str, data: Bytes) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data),
        version: -1,
    })
}

async fn probe(addr: std::net::SocketAddr) -> Vec<String> {
    let mut lines = Vec::new();

    // Handshakes: trailing bytes after the readOnly flag, and a request cut short.
    let (line, client) = raw_handshake(addr, &connect_body(&[0xde, 0xad, 0xbe, 0xef, 7])).await;
    lines.push(format!("connect + 5 trailing bytes: {line}"));
    if let Some(mut c) = client {
        lines.push(format!("  then alive: {}", alive(&mut c).await));
    }
    let full = connect_body(&[]);
    let (line, _) = raw_handshake(addr, &full[..full.len() - 5]).await;
    lines.push(format!("connect cut in the password: {line}"));

    // Request bodies with trailing bytes, and cut short.
    let mut c = Client::connect(addr).await;
    let create = Request::Create(CreateRequest {
        path: "/lenient".into(),
        data: Some(Bytes::from_static(b"d")),
        acl: zk_proto::Acl::open_unsafe(),
        flags: 0,
    });
    let get = Request::GetData(GetDataRequest {
        path: "/lenient".into(),
        watch: false,
    });
    let multi = Request::Multi(MultiRequest {
        ops: vec![MultiOp::SetData(SetDataRequest {
            path: "/lenient".into(),
            data: None,
            version: -1,
        })],
    });
    let steps: Vec<(&str, Request)> = vec![
        ("create", create),
        ("getData", get.clone()),
        ("setData", set_data("/lenient", Bytes::from_static(b"e"))),
        (
            "exists",
            Request::Exists(ExistsRequest {
                path: "/lenient".into(),
                watch: false,
            }),
        ),
        ("multi", multi),
        ("ping", Request::Ping),
    ];
    let mut xid = 1;
    for (label, request) in &steps {
        let x = if matches!(request, Request::Ping) {
            -2
        } else {
            xid += 1;
            xid
        };
        let body = request_body(x, request, &[1, 2, 3, 4, 5, 6, 7]);
        lines.push(format!(
            "{label} + 7 trailing bytes: {}",
            exchange(&mut c, &body).await
        ));
    }
    lines.push(format!("  then alive: {}", alive(&mut c).await));
    let body = request_body(100, &get, &[]);
    lines.push(format!(
        "getData cut short: {}",
        exchange(&mut c, &body[..body.len() - 1]).await
    ));
    lines.push(format!("  then alive: {}", alive(&mut c).await));

    // Paths that are not UTF-8.
    let bad_path = "/bad-XX";
    let requests: Vec<(&str, Request)> = vec![
        (
            "create",
            Request::Create(CreateRequest {
                path: bad_path.into(),
                data: None,
                acl: zk_proto::Acl::open_unsafe(),
                flags: 0,
            }),
        ),
        (
            "getData",
            Request::GetData(GetDataRequest {
                path: bad_path.into(),
                watch: false,
            }),
        ),
        (
            "exists",
            Request::Exists(ExistsRequest {
                path: bad_path.into(),
                watch: false,
            }),
        ),
        (
            "getChildren",
            Request::GetChildren(GetChildrenRequest {
                path: bad_path.into(),
                watch: false,
            }),
        ),
        ("setData", set_data(bad_path, Bytes::from_static(b"x"))),
        (
            "delete",
            Request::Delete(DeleteRequest {
                path: bad_path.into(),
                version: -1,
            }),
        ),
    ];
    for (label, request) in &requests {
        let mut c = Client::connect(addr).await;
        let body = break_utf8(request_body(1, request, &[]));
        lines.push(format!(
            "{label} invalid UTF-8: {}",
            exchange(&mut c, &body).await
        ));
        lines.push(format!("  then alive: {}", alive(&mut c).await));
    }

    // The frame-size limit: setData frames whose body is just below, at and above it.
    for len in [MAX_BUFFER - 1, MAX_BUFFER, MAX_BUFFER + 1] {
        let mut c = Client::connect(addr).await;
        let overhead = request_body(1, &set_data("/lenient", Bytes::new()), &[]).len();
        let data = Bytes::from(vec![b'z'; len - overhead]);
        let body = request_body(1, &set_data("/lenient", data), &[]);
        assert_eq!(body.len(), len);
        lines.push(format!(
            "frame of {len:#x} bytes: {}",
            exchange(&mut c, &body).await
        ));
    }
    // The same limit on the handshake frame (a long password pads it).
    for len in [MAX_BUFFER, MAX_BUFFER + 1] {
        let mut body = BytesMut::new();
        let fixed = connect_body(&[]).len() - 16;
        ConnectRequest {
            timeout: 30_000,
            passwd: Bytes::from(vec![0; len - fixed]),
            read_only: Some(false),
            ..Default::default()
        }
        .encode(&mut body);
        assert_eq!(body.len(), len);
        let (line, _) = raw_handshake(addr, &body).await;
        lines.push(format!("connect frame of {len:#x} bytes: {line}"));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_where_real_zookeeper_is() {
    if !require_real_zookeeper() {
        return;
    }
    let real = tokio::task::spawn_blocking(|| {
        RealZooKeeper::standalone(RealOptions {
            tick_time_ms: 200,
            ..RealOptions::default()
        })
    })
    .await
    .unwrap()
    .expect("real ZooKeeper starts");
    let expected = probe(real.member_addr(0)).await;
    let ours = TestServer::builder()
        .tick_time_ms(200)
        .start()
        .await
        .unwrap();
    let actual = probe(ours.addr()).await;
    let report = format!(
        "real:\n  {}\nours:\n  {}",
        expected.join("\n  "),
        actual.join("\n  ")
    );
    if std::env::var_os("ZK_CONFORMANCE_TRACE").is_some() {
        eprintln!("{report}");
    }
    assert_eq!(expected, actual, "{report}");
}
