//! zk-client against `zookeeper-client` (the strongest other Rust client) and the official
//! Java client of ZooKeeper 3.8, same server, one run.
//!
//! ```text
//! cargo bench -p zk-client --bench clients      # or scripts/bench.sh, which runs every bench
//! ```
//!
//! Servers (`ZKB_SERVERS`, default `real,real3,test,ens3`): real Apache ZooKeeper standalone
//! (`real`) and as 3 members (`real3`), both through `zk_testserver::real` with forceSync off
//! (skipped when no jar/java is installed); the in-process `zk_testserver::TestServer` (`test`,
//! no data dir, so nothing is fsynced) and the in-process 3-member `zk_testserver::Ensemble`
//! (`ens3`, state in memory). Against 3 members every client connects to the same follower.
//!
//! The Java client (`benches/java/JavaClientBench.java`, compiled here with javac against
//! Debian's ZooKeeper jars; `ZKB_JAVA=off` leaves it out) runs the same workloads in a JVM of
//! its own, half of its rounds before the Rust clients' and half after; it measures itself
//! after an untimed warm-up (JIT), and its CPU is the JVM process's CPU time over the timed part.
//!
//! Workloads, per server and client, alternating the clients (ABBA over the rounds):
//! - sequential getData / setData of a 1 KiB node: latency p50/p99/p999;
//! - pipelined getData / setData (1 KiB) / create (64 B, deleted afterwards, untimed) with 64
//!   and 1,024 requests in flight on one session (`FuturesUnordered`): ops/s;
//! - client CPU time per op for all of the above.
//!
//! Both clients run on one dedicated current-thread tokio runtime. Client CPU is the on-CPU
//! time (`/proc/self/task/*/schedstat`, nanoseconds) of every thread of this process except
//! the in-process server's, so it also counts helper threads such as the `async-io` reactor
//! thread `zookeeper-client` drives its sockets with. No libc needed.
//!
//! Knobs (environment): `ZKB_SERVERS=real,test` (empty for none), `ZKB_CONNECT=host:port`
//! (also bench a server started outside this process, e.g. `zk-testserver zoo.cfg`, so
//! that an instruction count of this process is the clients' alone), `ZKB_CLIENTS=ours,peer`
//! (only the named clients connect),
//! `ZKB_WORKLOADS=seq-get,seq-set,get,set,create`, `ZKB_DEPTHS=64,1024`, `ZKB_SECS` (seconds
//! per pipelined run, default 1.0 × `ZK_BENCH_SCALE`), `ZKB_OPS` (a fixed number of ops per pipelined run instead
//! of a duration, for instruction counts under `valgrind --tool=callgrind`), `ZKB_SEQ`
//! (sequential ops per run, default 3000 × `ZK_BENCH_SCALE`), `ZKB_ROUNDS` (default 2).
//!
//! Goals of issue #11 (ratios against `zookeeper-client` in one run): pipelined ops/s ≥ 1.5×,
//! sequential p50/p99 ≤ 1×, client CPU per op ≤ 0.5×; the table checks them against the Java
//! client too.
//!
//! Each run also prints the clients' voluntary context switches per op (sleeps, mostly in
//! `epoll_wait`). System calls per op: run the bench under `perf stat -e
//! raw_syscalls:sys_enter` with `ZKB_CONNECT` (so that only client threads are counted).

#[path = "support/bench.rs"]
mod support;

#[path = "clients/java.rs"]
mod java;

#[path = "clients/report.rs"]
mod report;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use report::{print_table, rows_of, Cell, Row, JAVA};
use support::{load_average, machine_line, scale};
use zk_testserver::real::{RealOptions, RealZooKeeper};

const PAYLOAD: usize = 1024;
const CREATE_PAYLOAD: usize = 64;
/// Thread-name prefixes of the in-process servers' threads (excluded from client CPU).
const SERVER_THREAD_PREFIXES: &[&str] = &["zk-test", "zk-member"];
const ROOT: &str = "/zkbench";
const NODE: &str = "/zkbench/node";
const CREATE_PARENT: &str = "/zkbench/c";

// ----- configuration -------------------------------------------------------------------------

struct Settings {
    servers: Vec<String>,
    clients: Vec<Which>,
    workloads: Vec<String>,
    depths: Vec<usize>,
    pipelined_for: Duration,
    /// Ops per pipelined run, when fixed (`ZKB_OPS`).
    pipelined_ops: Option<usize>,
    seq_ops: usize,
    rounds: usize,
    /// Whether the Java client runs too (`ZKB_JAVA`, default on).
    java: bool,
}

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Settings {
    fn from_env() -> Settings {
        let clients = list("ZKB_CLIENTS", "ours,peer")
            .iter()
            .map(|c| match c.as_str() {
                "ours" => Which::Ours,
                "peer" => Which::Peer,
                other => panic!("unknown client {other:?} (ours, peer)"),
            })
            .collect();
        let secs: f64 = std::env::var("ZKB_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(scale());
        Settings {
            servers: list("ZKB_SERVERS", "real,real3,test,ens3"),
            clients,
            workloads: list("ZKB_WORKLOADS", "seq-get,seq-set,get,set,create"),
            depths: list("ZKB_DEPTHS", "64,1024")
                .iter()
                .map(|d| d.parse().expect("ZKB_DEPTHS: numbers"))
                .collect(),
            pipelined_for: Duration::from_secs_f64(secs),
            pipelined_ops: std::env::var("ZKB_OPS").ok().map(|s| {
                s.parse()
                    .expect("ZKB_OPS: a number of ops per pipelined run")
            }),
            seq_ops: std::env::var("ZKB_SEQ")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(((3000.0 * scale()) as usize).max(100)),
            rounds: std::env::var("ZKB_ROUNDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(2),
            java: std::env::var("ZKB_JAVA").map_or(true, |v| v != "off"),
        }
    }
}

// ----- CPU accounting ------------------------------------------------------------------------

/// What one thread has used so far: on-CPU time and voluntary context switches (each one a
/// sleep in `epoll_wait` or on a lock; `/proc/self/task/<tid>/status`).
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    cpu_ns: u64,
    switches: u64,
}

impl Usage {
    fn since(self, before: Usage) -> Usage {
        Usage {
            cpu_ns: self.cpu_ns.saturating_sub(before.cpu_ns),
            switches: self.switches.saturating_sub(before.switches),
        }
    }

    fn add(&mut self, other: Usage) {
        self.cpu_ns += other.cpu_ns;
        self.switches += other.switches;
    }
}

/// The value of the line `key` (`key: value` or `key:\tvalue`) of a `/proc` file.
fn proc_field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The usage of every live thread of this process, except the in-process server's.
fn client_cpu() -> HashMap<u32, Usage> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if SERVER_THREAD_PREFIXES.iter().any(|p| comm.starts_with(p)) {
            continue;
        }
        let cpu_ns = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        out.insert(
            tid,
            Usage {
                cpu_ns,
                switches: proc_field(&status, "voluntary_ctxt_switches"),
            },
        );
    }
    out
}

/// What the threads alive now used since `before` (new ones count from zero).
fn cpu_since(before: &HashMap<u32, Usage>) -> Usage {
    let mut total = Usage::default();
    for (tid, now) in client_cpu() {
        total.add(now.since(before.get(&tid).copied().unwrap_or_default()));
    }
    total
}

// ----- the two clients behind one interface --------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Ours,
    Peer,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Ours => "zk-client",
            Which::Peer => "zookeeper-client",
        }
    }
}

/// The operations the workloads need; each call is queued when made, as both clients do.
trait Bench: Sync {
    fn get<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a;
    fn set<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a;
    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a;
    fn delete<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a;
}

struct Ours {
    client: zk_client::Client,
    persistent: zk_client::CreateOptions,
}

impl Bench for Ours {
    fn get<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.get_data(path);
        async move {
            let (data, _) = reply.await.expect("zk-client get_data");
            assert_eq!(data.len(), PAYLOAD);
        }
    }

    fn set<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.set_data(path, data, None);
        async move {
            reply.await.expect("zk-client set_data");
        }
    }

    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.create(path, data, &self.persistent);
        async move {
            reply.await.expect("zk-client create");
        }
    }

    fn delete<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.delete(path, None);
        async move {
            reply.await.expect("zk-client delete");
        }
    }
}

struct Peer {
    client: zookeeper_client::Client,
}

const PEER_PERSISTENT: zookeeper_client::CreateOptions<'static> =
    zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());

impl Bench for Peer {
    fn get<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.get_data(path);
        async move {
            let (data, _) = reply.await.expect("zookeeper-client get_data");
            assert_eq!(data.len(), PAYLOAD);
        }
    }

    fn set<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.set_data(path, data, None);
        async move {
            reply.await.expect("zookeeper-client set_data");
        }
    }

    fn create<'a>(&'a self, path: &'a str, data: &'a [u8]) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.create(path, data, &PEER_PERSISTENT);
        async move {
            reply.await.expect("zookeeper-client create");
        }
    }

    fn delete<'a>(&'a self, path: &'a str) -> impl Future<Output = ()> + Send + 'a {
        let reply = self.client.delete(path, None);
        async move {
            reply.await.expect("zookeeper-client delete");
        }
    }
}

// ----- workloads -----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    Set,
    Create,
}

/// What one run measured.
#[derive(Debug, Default, Clone)]
struct Sample {
    ops: u64,
    elapsed: Duration,
    usage: Usage,
    /// Per-op latencies in nanoseconds (sequential runs only).
    latencies: Vec<u64>,
}

struct Fixture {
    data: Vec<u8>,
    small: Vec<u8>,
    /// Names for the create workload, generated up front (the peer's create borrows them).
    names: Vec<String>,
}

async fn sequential(c: &impl Bench, kind: Kind, ops: usize, fx: &Fixture) -> Sample {
    let warmup = ops / 10;
    for _ in 0..warmup {
        match kind {
            Kind::Get => c.get(NODE).await,
            _ => c.set(NODE, &fx.data).await,
        }
    }
    let mut latencies = Vec::with_capacity(ops);
    let cpu = client_cpu();
    let start = Instant::now();
    for _ in 0..ops {
        let t = Instant::now();
        match kind {
            Kind::Get => c.get(NODE).await,
            _ => c.set(NODE, &fx.data).await,
        }
        latencies.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    let elapsed = start.elapsed();
    Sample {
        ops: ops as u64,
        elapsed,
        usage: cpu_since(&cpu),
        latencies,
    }
}

/// Keeps `depth` requests in flight for `run_for` (or until `ops` have been issued), then
/// drains.
async fn pipelined(
    c: &impl Bench,
    kind: Kind,
    depth: usize,
    run_for: Duration,
    ops: Option<usize>,
    fx: &Fixture,
) -> Sample {
    let issue = |i: usize| async move {
        match kind {
            Kind::Get => c.get(NODE).await,
            Kind::Set => c.set(NODE, &fx.data).await,
            Kind::Create => c.create(&fx.names[i], &fx.small).await,
        }
    };
    let limit = if kind == Kind::Create {
        fx.names.len()
    } else {
        usize::MAX
    };
    let (limit, run_for) = match ops {
        Some(ops) => (limit.min(ops), Duration::from_secs(1 << 30)),
        None => (limit, run_for),
    };
    let mut in_flight = FuturesUnordered::new();
    let cpu = client_cpu();
    let start = Instant::now();
    let deadline = start + run_for;
    let mut issued = 0;
    while issued < depth.min(limit) {
        in_flight.push(issue(issued));
        issued += 1;
    }
    let mut done = 0u64;
    let mut open = true;
    while in_flight.next().await.is_some() {
        done += 1;
        if open && done % 32 == 0 && Instant::now() >= deadline {
            open = false;
        }
        if open && issued < limit {
            in_flight.push(issue(issued));
            issued += 1;
        }
    }
    let elapsed = start.elapsed();
    let usage = cpu_since(&cpu);
    if kind == Kind::Create {
        // Cleanup, untimed.
        let mut deletes = FuturesUnordered::new();
        for name in &fx.names[..issued] {
            if deletes.len() >= 1024 {
                deletes.next().await;
            }
            deletes.push(c.delete(name));
        }
        while deletes.next().await.is_some() {}
    }
    Sample {
        ops: done,
        elapsed,
        usage,
        latencies: Vec::new(),
    }
}

async fn run_one(
    c: &impl Bench,
    workload: &str,
    depth: usize,
    s: &Settings,
    fx: &Fixture,
) -> Sample {
    match workload {
        "seq-get" => sequential(c, Kind::Get, s.seq_ops, fx).await,
        "seq-set" => sequential(c, Kind::Set, s.seq_ops, fx).await,
        "get" => pipelined(c, Kind::Get, depth, s.pipelined_for, s.pipelined_ops, fx).await,
        "set" => pipelined(c, Kind::Set, depth, s.pipelined_for, s.pipelined_ops, fx).await,
        "create" => pipelined(c, Kind::Create, depth, s.pipelined_for, s.pipelined_ops, fx).await,
        other => panic!("unknown workload {other:?}"),
    }
}

// ----- driving -------------------------------------------------------------------------------

/// The Java client's samples by (workload, depth), over its rounds.
type JavaCells = HashMap<(String, usize), Vec<Sample>>;

/// Runs the Java client's rounds `range` (on the blocking pool: the Rust sessions stay served).
async fn java_rounds(
    java: Option<&std::sync::Arc<java::JavaClient>>,
    connect: &str,
    s: &std::sync::Arc<Settings>,
    range: std::ops::Range<usize>,
    into: &mut JavaCells,
) {
    let Some(java) = java else {
        return;
    };
    for round in range {
        let (java, connect, s) = (java.clone(), connect.to_string(), s.clone());
        let tag = format!("{}r{round}", std::process::id());
        let samples = tokio::task::spawn_blocking(move || java.run(&connect, &s, &tag))
            .await
            .expect("Java client run");
        for (key, sample) in samples {
            into.entry(key).or_default().push(sample);
        }
    }
}

async fn bench_server(
    connect: &str,
    s: &std::sync::Arc<Settings>,
    java: Option<std::sync::Arc<java::JavaClient>>,
) -> Vec<Row> {
    let persistent = zk_client::CreateOptions::new(zk_client::CreateMode::Persistent);
    // Nodes are made and removed on a session of their own, so that only the clients of
    // `ZKB_CLIENTS` are connected while the workloads run.
    // Built before any session exists: under valgrind this takes seconds, and a session
    // task starved that long (one runtime thread) would lose its connection.
    let fx = Fixture {
        data: vec![b'x'; PAYLOAD],
        small: vec![b'y'; CREATE_PAYLOAD],
        names: (0..400_000)
            .map(|i| format!("{CREATE_PARENT}/n{i:07}"))
            .collect(),
    };
    let admin = zk_client::Client::connect(connect)
        .await
        .expect("zk-client connects");
    for path in [ROOT, NODE, CREATE_PARENT] {
        match admin.create(path, &fx.data, &persistent).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => panic!("creating {path}: {e}"),
        }
    }
    admin
        .set_data(NODE, &fx.data, None)
        .await
        .expect("set the node");
    admin.close().await.expect("close");
    // Half of the Java rounds before the Rust clients', half after.
    let mut java_cells = JavaCells::new();
    let java_first = s.rounds / 2;
    java_rounds(java.as_ref(), connect, s, 0..java_first, &mut java_cells).await;
    let ours = match s.clients.contains(&Which::Ours) {
        true => Some(Ours {
            client: zk_client::Client::connect(connect)
                .await
                .expect("zk-client connects"),
            persistent: persistent.clone(),
        }),
        false => None,
    };
    let peer = match s.clients.contains(&Which::Peer) {
        true => Some(Peer {
            client: zookeeper_client::Client::connect(connect)
                .await
                .expect("zookeeper-client connects"),
        }),
        false => None,
    };

    let mut rust_cells: Vec<(String, usize, HashMap<&'static str, Cell>)> = Vec::new();
    for workload in &s.workloads {
        let depths: Vec<usize> = if workload.starts_with("seq-") {
            vec![1]
        } else {
            s.depths.clone()
        };
        for depth in depths {
            let mut cells: HashMap<&'static str, Cell> = HashMap::new();
            for round in 0..s.rounds {
                // ABBA: alternate which client goes first.
                let mut order = s.clients.clone();
                if round % 2 == 1 {
                    order.reverse();
                }
                for which in order {
                    let sample = match which {
                        Which::Ours => {
                            let ours = ours.as_ref().expect("connected when selected");
                            run_one(ours, workload, depth, s, &fx).await
                        }
                        Which::Peer => {
                            let peer = peer.as_ref().expect("connected when selected");
                            run_one(peer, workload, depth, s, &fx).await
                        }
                    };
                    let per_op = |n: u64| n as f64 / sample.ops as f64;
                    eprintln!(
                        "  {workload:<8} depth {depth:>4} {:<16} round {round}: {:>8.0} ops/s, {:>6.2} µs CPU/op, {:.3} sleeps/op",
                        which.name(),
                        sample.ops as f64 / sample.elapsed.as_secs_f64(),
                        per_op(sample.usage.cpu_ns) / 1000.0,
                        per_op(sample.usage.switches),
                    );
                    cells.entry(which.name()).or_default().samples.push(sample);
                }
            }
            rust_cells.push((workload.clone(), depth, cells));
        }
    }
    if let Some(ours) = ours {
        ours.client.close().await.expect("close");
    }
    drop(peer);
    java_rounds(
        java.as_ref(),
        connect,
        s,
        java_first..s.rounds,
        &mut java_cells,
    )
    .await;

    let mut rows = Vec::new();
    for (workload, depth, mut cells) in rust_cells {
        if let Some(samples) = java_cells.remove(&(workload.clone(), depth)) {
            cells.insert(JAVA, Cell { samples });
        }
        rows_of(&workload, depth, &cells, &mut rows);
    }
    let admin = zk_client::Client::connect(connect)
        .await
        .expect("zk-client connects");
    let _ = admin.delete(NODE, None).await;
    // The create workloads delete their nodes; a failed run may leave some.
    if let Ok(children) = admin.get_children(CREATE_PARENT).await {
        for child in children {
            let _ = admin
                .delete(&format!("{CREATE_PARENT}/{child}"), None)
                .await;
        }
    }
    for path in [CREATE_PARENT, ROOT] {
        let _ = admin.delete(path, None).await;
    }
    admin.close().await.expect("close");
    rows
}

/// Runs `f` as a task of a dedicated current-thread runtime in its own thread ("zkb-client").
/// A spawned task, as application code would be: waking the `block_on` future instead costs
/// the runtime an extra non-blocking `epoll_wait` per wake, for both clients.
fn on_client_thread<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("zkb-client".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("client runtime");
            rt.block_on(async move { tokio::spawn(f).await.expect("bench task") })
        })
        .expect("client thread")
        .join()
        .expect("client thread panicked")
}

/// Benches the clients against `connect` on the client thread and prints the table.
fn bench_and_print(
    title: &str,
    connect: String,
    s: &std::sync::Arc<Settings>,
    java: &Option<std::sync::Arc<java::JavaClient>>,
) {
    eprintln!("{title}:");
    let (s, java) = (s.clone(), java.clone());
    let rows = on_client_thread(async move { bench_server(&connect, &s, java).await });
    print_table(title, &rows);
}

/// A runtime for the in-process servers, its threads named so that client CPU leaves them out.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("zk-testsrv-net")
        .enable_all()
        .build()
        .expect("server runtime")
}

fn real_server(
    s: &std::sync::Arc<Settings>,
    java: &Option<std::sync::Arc<java::JavaClient>>,
    members: usize,
) {
    if !zk_testserver::real::real_zookeeper_available() {
        println!("\n(real ZooKeeper not installed here: skipped)");
        return;
    }
    let server = if members == 1 {
        RealZooKeeper::standalone(RealOptions::default())
    } else {
        RealZooKeeper::ensemble(members, RealOptions::default())
    }
    .expect("real ZooKeeper");
    let version = support::zookeeper_version(&server.four_letter(0, "srvr").unwrap_or_default());
    if members == 1 {
        bench_and_print(
            &format!("Apache ZooKeeper {version} standalone (forceSync=no), loopback"),
            server.connect_string(),
            s,
            java,
        );
    } else {
        let leader = server
            .wait_for_leader(Duration::from_secs(60))
            .expect("a leader");
        let follower = (leader + 1) % members;
        bench_and_print(
            &format!(
                "Apache ZooKeeper {version}, {members} members (forceSync=no), clients on a follower, loopback"
            ),
            server.member_addr(follower).to_string(),
            s,
            java,
        );
    }
    drop(server);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let settings = std::sync::Arc::new(Settings::from_env());
    let started = Instant::now();
    println!("{}", machine_line());
    println!(
        "settings: pipelined runs {:?}, {} sequential ops per run, {} rounds (ABBA), clients on one current-thread runtime",
        settings.pipelined_for, settings.seq_ops, settings.rounds
    );
    let java = if settings.java {
        match java::JavaClient::compile() {
            Ok(j) => Some(std::sync::Arc::new(j)),
            Err(why) => {
                println!("(Java client column n/a: {why}; scripts/install-deps.sh installs it)");
                None
            }
        }
    } else {
        println!("(ZKB_JAVA=off: Java client column n/a)");
        None
    };

    if let Ok(connect) = std::env::var("ZKB_CONNECT") {
        // A server run outside this process: every thread here is the client's.
        let label = format!("server at {connect} (ZKB_CONNECT)");
        bench_and_print(&label, connect, &settings, &java);
    }

    for server in settings.servers.clone() {
        match server.as_str() {
            "real" => real_server(&settings, &java, 1),
            "real3" => real_server(&settings, &java, 3),
            "test" => {
                let server_rt = server_runtime();
                let server = server_rt
                    .block_on(zk_testserver::TestServer::builder().fsync(false).start())
                    .expect("test server");
                bench_and_print(
                    "zk-testserver (in-process, no fsync), loopback",
                    server.connect_string(),
                    &settings,
                    &java,
                );
                server_rt.block_on(async move {
                    let mut server = server;
                    server.stop().await;
                });
            }
            "ens3" => {
                let server_rt = server_runtime();
                let ensemble = server_rt
                    .block_on(zk_testserver::Ensemble::builder().members(3).start())
                    .expect("in-process ensemble");
                let leader = ensemble.leader().expect("a leader once started");
                let follower = ensemble
                    .member_ids()
                    .into_iter()
                    .find(|&id| id != leader)
                    .expect("a follower");
                bench_and_print(
                    "zk-testserver Ensemble (3 members in process, state in memory), clients on a follower, loopback",
                    ensemble.client_addr(follower).to_string(),
                    &settings,
                    &java,
                );
                server_rt.block_on(async move { drop(ensemble) });
            }
            other => panic!("ZKB_SERVERS: unknown server {other:?} (real, real3, test, ens3)"),
        }
    }
    println!(
        "\nwhole bench: {:.0} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
