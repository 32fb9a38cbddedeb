//! zk-testserver against real Apache ZooKeeper 3.8, in one run:
//!
//! ```text
//! cargo bench -p zk-testserver --bench server
//! ```
//!
//! For each server (real ZooKeeper standalone with forceSync on and off; ours in-process with
//! fsync on and off, with a data dir; ours as the `zk-testserver zoo.cfg` child process) the
//! same small load client, written here on zk-proto and tokio, measures:
//!
//! - pipelined getData (1 KiB node) and setData (1 KiB) ops/s: `CONNS` connections, each
//!   keeping `IN_FLIGHT` requests outstanding, for `PIPELINE` after a warm-up;
//! - p50/p99/p999 latency of sequential getData and setData on one connection;
//! - start-up: from launching the server (JVM, child process, or the in-process builder) to
//!   the first acknowledged create;
//! - resident memory (VmRSS) after the load, of the JVM and of our child process;
//! - the server process's CPU time (user + system, from `/proc/<pid>/stat`) per pipelined
//!   op, for the JVM and our child process: unlike ops/s it hardly moves when other work
//!   shares the machine, so it is the figure to compare hot-path changes by.
//!
//! Everything runs on loopback and is bounded in time (about a minute here). Set
//! `ZK_BENCH_SCALE=0.2` (any factor) to shorten every timed phase, and `ZK_BENCH_ONLY=real`,
//! `in-process` or `binary` to run one kind of server.

#[path = "../../zk-client/benches/support/bench.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_proto::{
    encode_connect_request, encode_request, Acl, ConnectRequest, ConnectResponse, CreateRequest,
    ErrorCode, FrameDecoder, GetDataRequest, Jute, ReplyHeader, Request, SetDataRequest,
};
use zk_testserver::real::{real_zookeeper_available, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use support::{
    jvm_pid, load_average, machine_line, percentile_dur_us, process_cpu_us as cpu_us,
    scaled_secs as secs, temp_dir, vm_rss_mib, Table,
};

const CONNS: usize = 8;
const IN_FLIGHT: usize = 32;
const VALUE: usize = 1024;

/// One session over a plain socket.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    out: BytesMut,
    decoder: FrameDecoder,
    next_xid: i32,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            out: BytesMut::with_capacity(64 * 1024),
            decoder: FrameDecoder::new(16 << 20),
            next_xid: 1,
        };
        let req = ConnectRequest {
            timeout: 30_000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        };
        encode_connect_request(&mut conn.out, &req);
        conn.flush().await?;
        let frame = conn.frame().await?;
        let resp = ConnectResponse::decode_exact(&frame)
            .map_err(|e| std::io::Error::other(format!("bad ConnectResponse: {e}")))?;
        if resp.session_id == 0 {
            return Err(std::io::Error::other("session refused"));
        }
        Ok(conn)
    }

    fn push(&mut self, req: &Request) {
        let xid = self.next_xid;
        self.next_xid += 1;
        encode_request(&mut self.out, xid, req);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next whole frame, reading as needed.
    async fn frame(&mut self) -> std::io::Result<Bytes> {
        loop {
            if let Some(f) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(std::io::Error::other)?
            {
                return Ok(f);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads at least one frame and returns the replies' headers (events are skipped).
    async fn replies(&mut self, into: &mut Vec<ReplyHeader>) -> std::io::Result<()> {
        into.clear();
        loop {
            while let Some(f) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(std::io::Error::other)?
            {
                let h = ReplyHeader::decode(&mut &f[..]).map_err(std::io::Error::other)?;
                if h.xid != -1 {
                    into.push(h);
                }
            }
            if !into.is_empty() {
                return Ok(());
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn call(&mut self, req: &Request) -> std::io::Result<ReplyHeader> {
        self.push(req);
        self.flush().await?;
        let mut hs = Vec::with_capacity(1);
        self.replies(&mut hs).await?;
        Ok(hs.swap_remove(0))
    }
}

fn get_req() -> Request {
    Request::GetData(GetDataRequest {
        path: "/bench".into(),
        watch: false,
    })
}

fn set_req(i: usize, data: &Bytes) -> Request {
    Request::SetData(SetDataRequest {
        path: format!("/bench-{i}"),
        data: Some(data.clone()),
        version: -1,
    })
}

fn create_req(path: &str, data: &Bytes) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.clone()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn ok(h: ReplyHeader, what: &str) {
    assert!(
        h.err == ErrorCode::Ok || h.err == ErrorCode::NodeExists,
        "{what}: {:?}",
        h.err
    );
}

async fn setup(addr: SocketAddr) {
    let data = Bytes::from(vec![b'x'; VALUE]);
    let mut c = Conn::connect(addr).await.expect("connect");
    ok(
        c.call(&create_req("/bench", &data)).await.unwrap(),
        "create",
    );
    for i in 0..CONNS {
        let h = c
            .call(&create_req(&format!("/bench-{i}"), &data))
            .await
            .unwrap();
        ok(h, "create");
    }
}

/// `CONNS` connections keep `IN_FLIGHT` requests each outstanding for `dur`; ops/s.
async fn pipelined(addr: SocketAddr, dur: Duration, write: bool) -> f64 {
    let data = Bytes::from(vec![b'y'; VALUE]);
    let start_line = Arc::new(tokio::sync::Barrier::new(CONNS + 1));
    let mut tasks = Vec::new();
    for i in 0..CONNS {
        let data = data.clone();
        let start_line = Arc::clone(&start_line);
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr).await.expect("connect");
            let req = if write { set_req(i, &data) } else { get_req() };
            start_line.wait().await;
            let deadline = Instant::now() + dur;
            for _ in 0..IN_FLIGHT {
                c.push(&req);
            }
            c.flush().await.unwrap();
            let (mut outstanding, mut done) = (IN_FLIGHT, 0u64);
            let mut hs = Vec::with_capacity(IN_FLIGHT);
            let mut open = true;
            while outstanding > 0 {
                c.replies(&mut hs).await.expect("replies");
                for h in &hs {
                    assert_eq!(h.err, ErrorCode::Ok, "pipelined request failed");
                }
                outstanding -= hs.len();
                done += hs.len() as u64;
                open = open && Instant::now() < deadline;
                if open {
                    for _ in 0..hs.len() {
                        c.push(&req);
                    }
                    outstanding += hs.len();
                    c.flush().await.unwrap();
                }
            }
            done
        }));
    }
    start_line.wait().await;
    let started = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Latencies of sequential requests on one connection for `dur` (at most 20 000).
async fn sequential(addr: SocketAddr, dur: Duration, write: bool) -> Vec<Duration> {
    let data = Bytes::from(vec![b'z'; VALUE]);
    let mut c = Conn::connect(addr).await.expect("connect");
    let req = if write { set_req(0, &data) } else { get_req() };
    let deadline = Instant::now() + dur;
    let mut lat = Vec::with_capacity(20_000);
    while Instant::now() < deadline && lat.len() < 20_000 {
        let t = Instant::now();
        let h = c.call(&req).await.unwrap();
        lat.push(t.elapsed());
        assert_eq!(h.err, ErrorCode::Ok);
    }
    lat.sort();
    lat
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    percentile_dur_us(sorted, p * 100.0)
}

/// Connects (retrying while the port is not open yet) and acknowledges one create.
async fn first_write(addr: SocketAddr, limit: Duration) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        match Conn::connect(addr).await {
            Ok(mut c) => {
                let h = c
                    .call(&create_req("/first", &Bytes::from_static(b"1")))
                    .await
                    .unwrap();
                ok(h, "first write");
                return Instant::now();
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "{addr} never served: {e}");
                // The listener is not up yet: retry shortly (nothing to await but the port).
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

#[derive(Debug, Default)]
struct Row {
    name: String,
    get_ops: f64,
    set_ops: f64,
    get_lat: [f64; 3],
    set_lat: [f64; 3],
    startup_ms: f64,
    rss_mib: Option<f64>,
    get_cpu_us: Option<f64>,
    set_cpu_us: Option<f64>,
}

/// `pipelined`, plus the server process's CPU µs per op when its pid is known.
async fn pipelined_cpu(
    addr: SocketAddr,
    dur: Duration,
    write: bool,
    pid: Option<u32>,
) -> (f64, Option<f64>) {
    let before = pid.and_then(cpu_us);
    let started = Instant::now();
    let ops = pipelined(addr, dur, write).await;
    let elapsed = started.elapsed().as_secs_f64();
    let after = pid.and_then(cpu_us);
    let per_op = match (before, after) {
        (Some(b), Some(a)) if ops > 0.0 => Some((a - b) / (ops * elapsed)),
        _ => None,
    };
    (ops, per_op)
}

async fn measure(name: &str, addr: SocketAddr, startup: Duration, pid: Option<u32>) -> Row {
    setup(addr).await;
    // Warm-up (JIT for the JVM, allocator and page cache for everyone).
    pipelined(addr, secs(1.0), false).await;
    pipelined(addr, secs(0.5), true).await;
    let (get_ops, get_cpu_us) = pipelined_cpu(addr, secs(3.0), false, pid).await;
    let (set_ops, set_cpu_us) = pipelined_cpu(addr, secs(3.0), true, pid).await;
    let g = sequential(addr, secs(1.5), false).await;
    let s = sequential(addr, secs(2.0), true).await;
    let row = Row {
        name: name.to_string(),
        get_ops,
        set_ops,
        get_lat: [pct(&g, 0.5), pct(&g, 0.99), pct(&g, 0.999)],
        set_lat: [pct(&s, 0.5), pct(&s, 0.99), pct(&s, 0.999)],
        startup_ms: startup.as_secs_f64() * 1e3,
        rss_mib: None,
        get_cpu_us,
        set_cpu_us,
    };
    eprintln!(
        "  {name}: get {:.0}/s, set {:.0}/s ({} + {} sequential samples)",
        row.get_ops,
        row.set_ops,
        g.len(),
        s.len()
    );
    row
}

fn real_row(rt: &tokio::runtime::Runtime, force_sync: bool) -> Row {
    let name = format!(
        "ZooKeeper 3.8 (forceSync={})",
        if force_sync { "yes" } else { "no" }
    );
    eprintln!("starting {name}");
    let started = Instant::now();
    let zk = RealZooKeeper::standalone(RealOptions {
        force_sync,
        ..RealOptions::default()
    })
    .expect("real ZooKeeper starts");
    let addr = zk.member_addr(0);
    let acked = rt.block_on(first_write(addr, Duration::from_secs(60)));
    let pid = jvm_pid(zk.member_dir(0));
    let mut row = rt.block_on(measure(&name, addr, acked - started, pid));
    row.rss_mib = pid.and_then(vm_rss_mib);
    drop(zk);
    row
}

fn ours_in_process(rt: &tokio::runtime::Runtime, fsync: bool) -> Row {
    let name = format!(
        "zk-testserver in-process (fsync {})",
        if fsync { "on" } else { "off" }
    );
    eprintln!("starting {name}");
    let dir = temp_dir(if fsync { "fsync" } else { "nofsync" });
    let row = rt.block_on(async {
        let started = Instant::now();
        let mut server = TestServer::builder()
            .data_dir(dir.join("data"))
            .fsync(fsync)
            .start()
            .await
            .expect("our server starts");
        let acked = first_write(server.addr(), Duration::from_secs(10)).await;
        let row = measure(&name, server.addr(), acked - started, None).await;
        server.stop().await;
        row
    });
    let _ = std::fs::remove_dir_all(&dir);
    row
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ours_binary(rt: &tokio::runtime::Runtime) -> Row {
    let name = "zk-testserver binary (fsync on)";
    eprintln!("starting {name}");
    let dir = temp_dir("bin");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\nforceSync=yes\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_zk-testserver"))
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the zk-testserver binary starts");
    let child = KillOnDrop(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let acked = rt.block_on(first_write(addr, Duration::from_secs(10)));
    let mut row = rt.block_on(measure(name, addr, acked - started, Some(child.0.id())));
    row.rss_mib = vm_rss_mib(child.0.id());
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    row
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep it short.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let overall = Instant::now();
    println!("{}", machine_line());
    let only = std::env::var("ZK_BENCH_ONLY").unwrap_or_default();
    let run = |kind: &str| only.is_empty() || only == kind;
    let mut rows = Vec::new();
    if !run("real") {
    } else if real_zookeeper_available() {
        rows.push(real_row(&rt, true));
        rows.push(real_row(&rt, false));
    } else {
        eprintln!("real ZooKeeper is not installed (scripts/install-deps.sh): measuring ours only");
    }
    if run("in-process") {
        rows.push(ours_in_process(&rt, true));
        rows.push(ours_in_process(&rt, false));
    }
    if run("binary") {
        rows.push(ours_binary(&rt));
    }

    println!("{CONNS} connections x {IN_FLIGHT} in flight, {VALUE} B values");
    let mut table = Table::new(&[
        "server",
        ">getData ops/s",
        ">setData ops/s",
        ">getData p50/p99/p999 µs",
        ">setData p50/p99/p999 µs",
        ">start-up to first write ms",
        ">VmRSS after load MiB",
        ">server CPU µs/op get, set",
    ]);
    for r in &rows {
        table.row(vec![
            r.name.clone(),
            format!("{:.0}", r.get_ops),
            format!("{:.0}", r.set_ops),
            format!(
                "{:.0} / {:.0} / {:.0}",
                r.get_lat[0], r.get_lat[1], r.get_lat[2]
            ),
            format!(
                "{:.0} / {:.0} / {:.0}",
                r.set_lat[0], r.set_lat[1], r.set_lat[2]
            ),
            format!("{:.1}", r.startup_ms),
            r.rss_mib.map_or("—".to_string(), |m| format!("{m:.1}")),
            match (r.get_cpu_us, r.set_cpu_us) {
                (Some(g), Some(s)) => format!("{g:.2}, {s:.2}"),
                _ => "—".to_string(),
            },
        ]);
    }
    table.print("zk-testserver against real ZooKeeper 3.8, standalone");
    println!("load average at end: {}", load_average());
    println!("total bench time: {:.1} s", overall.elapsed().as_secs_f64());
}
