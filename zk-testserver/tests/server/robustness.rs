//! Bounded resources under hostile or slow clients, measured on the `zk-testserver` binary
//! (its own process, so its resident memory is its own): clients that pipeline 1 MiB requests
//! and never read their replies, the same reset mid-flight, and connections that never finish
//! their handshake.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use zk_proto::{
    encode_connect_request, encode_request, ConnectRequest, GetDataRequest, Request,
    SetDataRequest, DEFAULT_MAX_FRAME,
};
use zk_testserver::TestServer;

use crate::client::Client;
use crate::four_letter::ask;

const BIN: &str = env!("CARGO_BIN_EXE_zk-testserver");

/// How much the server's resident memory may grow.
const MEMORY_BOUND: u64 = 256 << 20;

/// How long another client may wait for an answer meanwhile.
const SERVICE_BOUND: Duration = Duration::from_secs(1);

/// The binary serving a fresh in-memory config; killed on drop.
struct Binary {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Binary {
    fn start(name: &str, extra: &str) -> Binary {
        let dir = std::env::temp_dir().join(format!("zk-robust-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nmaxClientCnxns=0\n{extra}"
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .arg(&cfg)
            .env("RUST_LOG", "warn,zk_testserver=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if line.contains("zk-testserver serving") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the binary serves");
        Binary {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dir,
        }
    }

    /// Resident memory in bytes (`VmRSS` of `/proc/<pid>/status`).
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kb * 1024
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request frame whose body is just under `jute.maxbuffer`.
fn set_data_frame(path: &str) -> Bytes {
    let mut probe = BytesMut::new();
    let empty = Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::new()),
        version: -1,
    });
    encode_request(&mut probe, 1, &empty);
    let data = vec![7u8; DEFAULT_MAX_FRAME - (probe.len() - 4) - 16];
    let mut out = BytesMut::new();
    encode_request(
        &mut out,
        1,
        &Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::from(data)),
            version: -1,
        }),
    );
    out.freeze()
}

fn get_data_frame(path: &str) -> Bytes {
    let mut out = BytesMut::new();
    encode_request(
        &mut out,
        1,
        &Request::GetData(GetDataRequest {
            path: path.into(),
            watch: false,
        }),
    );
    out.freeze()
}

/// A session that writes `frame` `count` times and never reads. Returns the socket's
/// task; aborting it drops the socket with a reset when `reset` is set.
fn pipeliner(
    addr: SocketAddr,
    frame: Bytes,
    count: usize,
    reset: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut io = TcpStream::connect(addr).await.unwrap();
        if reset {
            // SO_LINGER 0: closing sends a reset, dropping what the kernel still holds.
            #[allow(deprecated)]
            io.set_linger(Some(Duration::ZERO)).unwrap();
        }
        let mut hello = BytesMut::new();
        encode_connect_request(
            &mut hello,
            &ConnectRequest {
                timeout: 30_000,
                passwd: Bytes::from_static(&[0; 16]),
                ..Default::default()
            },
        );
        io.write_all(&hello).await.unwrap();
        for _ in 0..count {
            if io.write_all(&frame).await.is_err() {
                return;
            }
        }
    })
}

/// Checks, for `window`, that the server's memory stays within the bound and that a request
/// of another session is answered within the service bound; returns the peak growth.
async fn watch_service(
    server: &Binary,
    probe: &mut Client,
    baseline: u64,
    window: Duration,
) -> u64 {
    let start = Instant::now();
    let mut peak = 0;
    let mut probes = 0;
    while start.elapsed() < window || probes < 5 {
        let t = Instant::now();
        let reply = tokio::time::timeout(SERVICE_BOUND * 5, probe.get_data("/small", false))
            .await
            .expect("the probe is answered");
        assert!(reply.is_ok(), "{reply:?}");
        let took = t.elapsed();
        assert!(
            took < SERVICE_BOUND,
            "another session waited {took:?} while pipeliners flood the server"
        );
        probes += 1;
        let grown = server.rss().saturating_sub(baseline);
        peak = peak.max(grown);
        assert!(
            grown < MEMORY_BOUND,
            "the server grew by {} MiB",
            grown >> 20
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    peak
}

/// Polls `mntr` until no request is outstanding (credits of closed connections came back)
/// and only the probe's connection (and the asking one) are left.
async fn wait_idle(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mntr = ask(addr, "mntr").await;
        if mntr.contains("zk_outstanding_requests\t0\n")
            && mntr.contains("zk_num_alive_connections\t2\n")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "requests stay outstanding:\n{mntr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_clients_that_never_read_keep_memory_bounded() {
    let count: usize = std::env::var("ZK_ROBUST_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let server = Binary::start("pipeline", "");
    let addr = server.addr;
    let mut probe = Client::connect(addr).await;
    probe.create("/small", b"s", 0).await.unwrap();
    let big = vec![1u8; DEFAULT_MAX_FRAME - 200];
    probe.create("/big", &big, 0).await.unwrap();
    for i in 0..2 {
        probe.create(&format!("/w{i}"), b"", 0).await.unwrap();
    }
    let baseline = server.rss();

    // Writers whose replies are small and readers whose replies are 1 MiB each; none reads.
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(pipeliner(
            addr,
            set_data_frame(&format!("/w{i}")),
            count,
            false,
        ));
        tasks.push(pipeliner(addr, get_data_frame("/big"), count, false));
    }
    let peak = watch_service(&server, &mut probe, baseline, Duration::from_secs(2)).await;
    eprintln!("pipelining: peak growth {} MiB", peak >> 20);
    for t in &tasks {
        t.abort();
    }

    // The same, reset mid-flight, three times over.
    for round in 0..3 {
        let mut tasks = Vec::new();
        for i in 0..2 {
            tasks.push(pipeliner(
                addr,
                set_data_frame(&format!("/w{i}")),
                count,
                true,
            ));
            tasks.push(pipeliner(addr, get_data_frame("/big"), count, true));
        }
        let peak = watch_service(&server, &mut probe, baseline, Duration::from_millis(600)).await;
        eprintln!("reset round {round}: peak growth {} MiB", peak >> 20);
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }
    drop(tasks);
    wait_idle(addr).await;
    assert!(probe.exists("/small", false).await.is_ok());
    let grown = server.rss().saturating_sub(baseline);
    assert!(grown < MEMORY_BOUND, "grew by {} MiB", grown >> 20);
}

#[tokio::test]
async fn connections_that_never_finish_the_handshake_are_closed() {
    let server = TestServer::builder()
        .handshake_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    // Silent, half a length prefix, and half a ConnectRequest.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut partial_len = TcpStream::connect(addr).await.unwrap();
    partial_len.write_all(&[0, 0]).await.unwrap();
    let mut partial = TcpStream::connect(addr).await.unwrap();
    let mut hello = BytesMut::new();
    encode_connect_request(&mut hello, &ConnectRequest::default());
    partial.write_all(&hello[..hello.len() - 3]).await.unwrap();
    let t = Instant::now();
    for io in [&mut silent, &mut partial_len, &mut partial] {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(io, &mut buf),
        )
        .await
        .expect("closed by the server");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    // A session that completed its handshake is not subject to it.
    let mut c = Client::connect(addr).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.exists("/", false).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reads_the_handshake_timeout_from_zoo_cfg() {
    let server = Binary::start(
        "handshake",
        "nio.sessionlessCnxnTimeout=300\nglobalOutstandingLimit=5\n",
    );
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 4];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await
    .expect("closed by the server");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // With a global limit of 5, a pipeline of 50 is still served in order.
    let mut c = Client::connect(server.addr).await;
    let mut xids = Vec::new();
    for _ in 0..50 {
        xids.push(
            c.send(&Request::Exists(zk_proto::ExistsRequest {
                path: "/".into(),
                watch: false,
            }))
            .await,
        );
    }
    for xid in xids {
        let (h, _) = c.recv_raw_reply().await.unwrap();
        assert_eq!(h.xid, xid);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_never_reads_is_closed_when_its_events_pile_up() {
    let server = TestServer::builder()
        .connection_backlog(16 << 10, 256 << 10)
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let mut writer = Client::connect(addr).await;
    writer.create("/w", b"", 0).await.unwrap();
    // The watcher's socket takes little, and it never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let mut watcher = Client::handshake(
        Box::new(stream),
        ConnectRequest {
            timeout: 30_000,
            passwd: Bytes::from_static(&[0; 16]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (h, _) = watcher
        .call(Request::AddWatch(zk_proto::AddWatchRequest {
            path: "/w".into(),
            mode: zk_proto::AddWatchMode::PersistentRecursive,
        }))
        .await;
    assert!(h.err.is_ok());
    let watcher_session = watcher.session_id();
    // Each create fires an event of ~8 KiB (its path) for the watcher; the kernel's socket
    // buffers take a few MiB, then the backlog grows. The writer is never slowed.
    let long = "n".repeat(8000);
    let mut closed_after = None;
    for i in 0..5_000 {
        let t = Instant::now();
        writer
            .create(&format!("/w/{long}{i}"), b"", 0)
            .await
            .unwrap();
        assert!(t.elapsed() < SERVICE_BOUND);
        if i % 20 == 0 {
            let conns = server
                .inspect(move |core| {
                    core.connections()
                        .values()
                        .any(|c| c.session == Some(watcher_session))
                })
                .await
                .unwrap();
            if !conns {
                closed_after = Some(i);
                break;
            }
        }
    }
    let closed_after = closed_after.expect("the watcher's connection is closed");
    eprintln!("watcher closed after {closed_after} writes");
    // Its session lives on (it may reconnect), and the writer was served throughout.
    assert!(server.session_ids().await.contains(&watcher_session));
    drop(watcher);
}
