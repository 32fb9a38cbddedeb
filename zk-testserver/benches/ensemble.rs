//! Three members of zk-testserver against three of real Apache ZooKeeper 3.8, in one run:
//!
//! ```text
//! cargo bench -p zk-testserver --bench ensemble
//! ```
//!
//! Each ensemble runs as three processes on loopback: real ZooKeeper as three JVMs
//! (`zk_testserver::real`), ours as three `zk-testserver zoo.cfg` child processes with
//! `server.N` lines and `myid` files, as a harness would launch them. Through zk-client, for
//! each:
//!
//! - launch: from starting the processes to the first acknowledged create (the client tries
//!   one pass over the members every millisecond until one accepts it);
//! - memory: the resident set (VmRSS) of the three processes, summed: at launch (after the
//!   first write, before any load) and after the load;
//! - setData and getData ops/s (1 KiB value) of one client on a follower keeping 64 requests
//!   in flight, for `PHASE` each after a warm-up;
//! - failover: from `kill -9` of the leader to the next acknowledged create of a client that
//!   was connected to a follower (`ZKB_ROUNDS` rounds, default 3; the killed member restarts
//!   in between).
//!
//! Real ZooKeeper runs with `tickTime=2000` (what test harnesses use; its `finalizeWait` is
//! fixed at 200 ms), ours with `tickTime=20` (the fast test timeouts). `forceSync` is the
//! same on both sides per row. `ZK_BENCH_SCALE=0.2` (any factor) shortens every timed phase;
//! `ZK_BENCH_ONLY=real` or `ours` runs one side. `ZK_BENCH_LOG=<filter>` (a `RUST_LOG` filter,
//! e.g. `debug`) shows where the time goes: our members log to the bench's stderr with that
//! filter, and the bench logs its own steps and zk-client's events there too, all with the
//! same timestamps.

#[path = "../../zk-client/benches/support/bench.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_client::{Client, CreateOptions};
use zk_testserver::real::{real_zookeeper_available, RealOptions, RealZooKeeper};

use support::{jvm_pid, load_average, machine_line, scaled_secs as secs, vm_rss_mib, Table};

const IN_FLIGHT: usize = 64;
const VALUE: usize = 1024;
/// Leader kills per ensemble: `ZKB_ROUNDS`, default 3.
fn failover_rounds() -> usize {
    std::env::var("ZKB_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// One row of the table.
#[derive(Debug, Default)]
struct Row {
    name: String,
    launch_ms: f64,
    idle_rss_mib: Option<f64>,
    rss_mib: Option<f64>,
    set_ops: f64,
    get_ops: f64,
    failover_ms: Vec<f64>,
}

/// What the bench needs from an ensemble of either kind.
trait Members {
    fn client_addr(&self, i: usize) -> SocketAddr;
    fn pids(&self) -> Vec<u32>;
    fn leader(&self) -> Option<usize>;
    fn kill(&mut self, i: usize);
    fn restart(&mut self, i: usize);
    fn count(&self) -> usize;
}

/// `srvr`'s `Mode:` line from a member.
fn mode(addr: SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

struct Real {
    zk: RealZooKeeper,
}

impl Members for Real {
    fn client_addr(&self, i: usize) -> SocketAddr {
        self.zk.member_addr(i)
    }
    fn pids(&self) -> Vec<u32> {
        (0..self.zk.member_count())
            .filter_map(|i| jvm_pid(self.zk.member_dir(i)))
            .collect()
    }
    fn leader(&self) -> Option<usize> {
        self.zk.leader()
    }
    fn kill(&mut self, i: usize) {
        self.zk.kill(i).expect("kill a JVM");
    }
    fn restart(&mut self, i: usize) {
        self.zk.start(i).expect("start a JVM");
        let _ = self.zk.wait_for_leader(Duration::from_secs(60));
    }
    fn count(&self) -> usize {
        self.zk.member_count()
    }
}

/// Three `zk-testserver zoo.cfg` processes.
struct Ours {
    dir: PathBuf,
    client_ports: Vec<u16>,
    children: Vec<Option<Child>>,
}

impl Ours {
    fn spawn(&self, i: usize) -> Child {
        let member = self.dir.join(format!("member-{}", i + 1));
        let mut command = Command::new(env!("CARGO_BIN_EXE_zk-testserver"));
        command.arg(member.join("zoo.cfg")).stdout(Stdio::null());
        match log_filter() {
            Some(filter) => command.env("RUST_LOG", filter).stderr(Stdio::inherit()),
            None => command.env("RUST_LOG", "warn").stderr(Stdio::null()),
        };
        tracing::info!(member = i + 1, "spawning zk-testserver");
        command.spawn().expect("spawn zk-testserver")
    }

    /// Writes three members' files (`zoo.cfg`, `data/myid`) and starts them.
    fn launch(dir: PathBuf, fsync: bool) -> Ours {
        let ports: Vec<u16> = {
            let listeners: Vec<std::net::TcpListener> = (0..9)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
                .collect();
            listeners
                .iter()
                .map(|l| l.local_addr().expect("addr").port())
                .collect()
        };
        let servers: String = (0..3)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{};{}\n",
                    i + 1,
                    ports[3 * i + 1],
                    ports[3 * i + 2],
                    ports[3 * i]
                )
            })
            .collect();
        for i in 0..3 {
            let member = dir.join(format!("member-{}", i + 1));
            let data = member.join("data");
            std::fs::create_dir_all(&data).expect("member dir");
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            std::fs::write(
                member.join("zoo.cfg"),
                format!(
                    "tickTime=20\ninitLimit=10\nsyncLimit=5\ndataDir={}\n\
                     4lw.commands.whitelist=*\nmaxClientCnxns=0\nforceSync={}\n{servers}",
                    data.display(),
                    if fsync { "yes" } else { "no" }
                ),
            )
            .expect("zoo.cfg");
        }
        let mut ours = Ours {
            dir,
            client_ports: (0..3).map(|i| ports[3 * i]).collect(),
            children: Vec::new(),
        };
        ours.children = (0..3).map(|i| Some(ours.spawn(i))).collect();
        ours
    }
}

impl Members for Ours {
    fn client_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_ports[i]))
    }
    fn pids(&self) -> Vec<u32> {
        self.children.iter().flatten().map(Child::id).collect()
    }
    fn leader(&self) -> Option<usize> {
        (0..3).find(|&i| {
            self.children[i].is_some() && mode(self.client_addr(i)).as_deref() == Some("leader")
        })
    }
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn restart(&mut self, i: usize) {
        self.children[i] = Some(self.spawn(i));
        let addr = self.client_addr(i);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(mode(addr).as_deref(), Some("leader" | "follower")) {
            assert!(Instant::now() < deadline, "member {} did not rejoin", i + 1);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    fn count(&self) -> usize {
        3
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ZK_BENCH_LOG`: the members' and the bench's log filter, if set.
fn log_filter() -> Option<String> {
    std::env::var("ZK_BENCH_LOG").ok().filter(|f| !f.is_empty())
}

fn connect_string(m: &dyn Members) -> String {
    (0..m.count())
        .map(|i| m.client_addr(i).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Connects and creates a node, retrying until one create is acknowledged. The client polls
/// as a harness waiting for an ensemble does: one pass over the members per try (a member
/// without a leader refuses clients), 1 ms apart, rather than the client's reconnect backoff.
async fn first_write(connect: &str, path: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no acknowledged write");
        let Ok(client) = Client::builder(connect).fail_fast().connect().await else {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        loop {
            match client.create(path, b"", &CreateOptions::default()).await {
                Ok(_) => {
                    let at = Instant::now();
                    tracing::info!(path, "first write acknowledged");
                    let _ = client.close().await;
                    return at;
                }
                Err(e) if e.is_retryable() => {
                    assert!(Instant::now() < deadline, "no acknowledged write: {e}");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("first write: {e}"),
            }
        }
    }
}

/// Ops/s of `op` with `IN_FLIGHT` requests outstanding on one client, for `PHASE`.
async fn throughput(client: &Client, path: &str, write: bool) -> f64 {
    let value = vec![7u8; VALUE];
    let run = |dur: Duration| {
        let done = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + dur;
        let tasks: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let (client, path, value, done) = (
                    client.clone(),
                    path.to_string(),
                    value.clone(),
                    done.clone(),
                );
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let ok = if write {
                            client.set_data(&path, &value, None).await.is_ok()
                        } else {
                            client.get_data(&path).await.is_ok()
                        };
                        assert!(ok, "an op failed during the throughput phase");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        async move {
            let started = Instant::now();
            for t in tasks {
                t.await.expect("load task");
            }
            done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
        }
    };
    run(secs(0.5)).await;
    run(secs(3.0)).await
}

/// From `kill -9` of the leader to the next acknowledged create of a client on a follower.
async fn failover(m: &mut dyn Members, round: usize) -> f64 {
    let leader = m.leader().expect("a leader");
    let follower = (0..m.count()).find(|&i| i != leader).expect("a follower");
    let client = Client::builder(m.client_addr(follower).to_string())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect to a follower");
    client
        .create(&format!("/before-{round}"), b"", &CreateOptions::default())
        .await
        .expect("a write before the kill");
    m.kill(leader);
    let killed = Instant::now();
    tracing::info!(round, leader = leader + 1, "leader killed");
    let path = format!("/after-{round}");
    let deadline = killed + Duration::from_secs(60);
    loop {
        match client.create(&path, b"", &CreateOptions::default()).await {
            // NodeExists: an earlier attempt applied but its reply was lost.
            Ok(_) | Err(zk_client::Error::NodeExists) => break,
            Err(e) if e.is_retryable() => {
                assert!(Instant::now() < deadline, "no write after the kill: {e}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => panic!("write after the kill: {e}"),
        }
    }
    let ms = killed.elapsed().as_secs_f64() * 1e3;
    tracing::info!(round, ms, "write after the kill acknowledged");
    let _ = client.close().await;
    m.restart(leader);
    ms
}

/// VmRSS of every member, summed; `None` unless every one could be read.
fn members_rss_mib(m: &dyn Members) -> Option<f64> {
    let rss: Vec<f64> = m.pids().into_iter().filter_map(vm_rss_mib).collect();
    (rss.len() == m.count()).then(|| rss.iter().sum())
}

async fn measure(name: &str, m: &mut dyn Members, launch_ms: f64) -> Row {
    let idle_rss_mib = members_rss_mib(m);
    let leader = m.leader().expect("a leader");
    let follower = (0..m.count()).find(|&i| i != leader).expect("a follower");
    let client = Client::builder(m.client_addr(follower).to_string())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect");
    let path = "/bench";
    client
        .create(path, &[0; VALUE], &CreateOptions::default())
        .await
        .expect("create the bench node");
    let set_ops = throughput(&client, path, true).await;
    let get_ops = throughput(&client, path, false).await;
    let _ = client.close().await;
    let rss_mib = members_rss_mib(m);
    let mut failover_ms = Vec::new();
    for round in 0..failover_rounds() {
        failover_ms.push(failover(m, round).await);
    }
    let row = Row {
        name: name.to_string(),
        launch_ms,
        idle_rss_mib,
        rss_mib,
        set_ops,
        get_ops,
        failover_ms,
    };
    eprintln!("  {row:?}");
    row
}

fn temp_dir(tag: &str) -> PathBuf {
    support::temp_dir(&format!("ens-{tag}"))
}

fn real_row(rt: &tokio::runtime::Runtime, force_sync: bool) -> Row {
    let name = format!(
        "ZooKeeper 3.8.0 ×3 JVMs (forceSync={})",
        if force_sync { "yes" } else { "no" }
    );
    eprintln!("starting {name}");
    let started = Instant::now();
    let zk = RealZooKeeper::ensemble(
        3,
        RealOptions {
            force_sync,
            ..RealOptions::default()
        },
    )
    .expect("real ZooKeeper starts");
    let mut real = Real { zk };
    let connect = connect_string(&real);
    let acked = rt.block_on(first_write(&connect, "/first"));
    rt.block_on(measure(
        &name,
        &mut real,
        (acked - started).as_secs_f64() * 1e3,
    ))
}

fn ours_row(rt: &tokio::runtime::Runtime, fsync: bool) -> Row {
    let name = format!(
        "zk-testserver ×3 processes (forceSync={})",
        if fsync { "yes" } else { "no" }
    );
    eprintln!("starting {name}");
    let dir = temp_dir(if fsync { "sync" } else { "nosync" });
    let started = Instant::now();
    let mut ours = Ours::launch(dir, fsync);
    let connect = connect_string(&ours);
    let acked = rt.block_on(first_write(&connect, "/first"));
    let launch_ms = (acked - started).as_secs_f64() * 1e3;
    // Every member serving (the first write needs only a quorum).
    for i in 0..3 {
        let addr = ours.client_addr(i);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(mode(addr).as_deref(), Some("leader" | "follower")) {
            assert!(Instant::now() < deadline, "member {} never served", i + 1);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    rt.block_on(measure(&name, &mut ours, launch_ms))
}

fn main() {
    if let Some(filter) = log_filter() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .init();
    }
    let only = std::env::var("ZK_BENCH_ONLY").unwrap_or_default();
    println!("{}", machine_line());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for sync in [false, true] {
        if only.is_empty() || only == "ours" {
            rows.push(ours_row(&rt, sync));
        }
        if (only.is_empty() || only == "real") && real_zookeeper_available() {
            rows.push(real_row(&rt, sync));
        }
    }
    let mut table = Table::new(&[
        "ensemble",
        ">launch to first write ms",
        ">VmRSS of 3 MiB at launch",
        ">VmRSS of 3 MiB after load",
        ">setData ops/s",
        ">getData ops/s",
        &format!(
            "leader kill to next write ms ({} rounds)",
            failover_rounds()
        ),
    ]);
    for r in &rows {
        let failover: Vec<String> = r.failover_ms.iter().map(|ms| format!("{ms:.0}")).collect();
        table.row(vec![
            r.name.clone(),
            format!("{:.0}", r.launch_ms),
            r.idle_rss_mib.map_or("?".into(), |m| format!("{m:.1}")),
            r.rss_mib.map_or("?".into(), |m| format!("{m:.1}")),
            format!("{:.0}", r.set_ops),
            format!("{:.0}", r.get_ops),
            failover.join(", "),
        ]);
    }
    table.print("zk-testserver ensemble (3 processes) against real ZooKeeper 3.8 (3 JVMs)");
    println!("load average at end: {}", load_average());
}
