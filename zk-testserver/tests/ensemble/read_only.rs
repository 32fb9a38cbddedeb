//! Read-only mode (`readonlymode.enabled`): a member cut off from its quorum serves read-only
//! sessions, which are local to it and expire like ZooKeeper's (its local session tracker):
//! a session whose client sends nothing within its timeout is gone.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_proto::{encode_connect_request, ConnectRequest, ConnectResponse, FrameDecoder, Jute};
use zk_testserver::ensemble::Serving;
use zk_testserver::Ensemble;

use crate::support::{init_tracing, within};

/// Sends a ConnectRequest (read-only allowed) and returns the answer, or `None` if the
/// member closed the connection without one.
async fn handshake(addr: SocketAddr, req: ConnectRequest) -> Option<(TcpStream, ConnectResponse)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let mut out = BytesMut::new();
    encode_connect_request(&mut out, &req);
    stream.write_all(&out).await.ok()?;
    let decoder = FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    loop {
        if let Ok(Some(frame)) = decoder.decode(&mut buf) {
            let resp = ConnectResponse::decode_exact(&frame).expect("a ConnectResponse");
            return Some((stream, resp));
        }
        if stream.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// A read-only session on an isolated member lives while its client keeps coming back, and
/// expires once its client has been silent for the session timeout: coming
/// back with it gets the expired answer (timeout 0), while a session resumed in time is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_local_sessions_expire() {
    init_tracing();
    let mut ensemble = Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .read_only_mode(true)
        .session_timeout_bounds(100, 60_000)
        // Sessions expire on tick boundaries, as in ZooKeeper: a short tick keeps the test
        // short.
        .server_settings(|b| b.tick_time_ms(50))
        .start()
        .await
        .expect("the ensemble starts");
    let id = 3;
    ensemble.isolate(id).await;
    within(10, "the isolated member serving read-only", async {
        while ensemble.status(id).expect("running").serving != Serving::ReadOnly {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let addr = ensemble.client_addr(id);
    let request = |session_id: i64, passwd: Bytes| ConnectRequest {
        timeout: 500,
        session_id,
        passwd,
        read_only: Some(true),
        ..Default::default()
    };
    // Two read-only sessions; both clients go away without closing their sessions.
    let (first, a) = handshake(addr, request(0, Bytes::from_static(&[0; 16])))
        .await
        .expect("a read-only session");
    assert_eq!(a.read_only, Some(true));
    assert!(a.session_id != 0 && a.timeout == 500, "{a:?}");
    drop(first);
    // The second one comes back before its timeout, and keeps coming back.
    let (mut conn, b) = handshake(addr, request(0, Bytes::from_static(&[0; 16])))
        .await
        .expect("a second read-only session");
    drop(conn);
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_millis(1_600) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (c, resumed) = handshake(addr, request(b.session_id, b.passwd.clone()))
            .await
            .expect("resumed in time");
        assert_eq!(resumed.session_id, b.session_id, "{resumed:?}");
        assert!(resumed.timeout > 0, "{resumed:?}");
        conn = c;
        drop(conn);
    }
    // The first has been silent for three session timeouts: expired.
    let (_, expired) = handshake(addr, request(a.session_id, a.passwd.clone()))
        .await
        .expect("an answer");
    assert_eq!(
        (expired.timeout, expired.session_id),
        (0, 0),
        "a silent read-only session {:#x} lived on (the resumed one: {:#x}): {expired:?}",
        a.session_id,
        b.session_id
    );
    ensemble.heal().await;
}
