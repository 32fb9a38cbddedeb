//! zk-recipes beside Apache Curator 5.4 (Debian's jars), same server, same run.
//!
//! ```text
//! cargo bench -p zk-recipes --bench recipes
//! ```
//!
//! Servers (`ZKB_SERVERS=rust|real|both`, default `both`; a comma list works too): the
//! in-process `zk_testserver::TestServer` (no fsync) and real Apache ZooKeeper standalone
//! (`zk_testserver::real`, forceSync off; skipped with a line when no jar/java is installed).
//!
//! Workloads, each run by zk-recipes and then by Curator on the same server:
//! - `mutex1`: acquire+release pairs of one mutex by one client (Curator `InterProcessMutex`):
//!   pairs/s and the p50/p99 of one pair;
//! - `mutex10`: `ZKB_CLIENTS` clients (10) on one lock, each its own session and its own
//!   mutex handle (Curator: one `CuratorFramework` and one thread each), all started together:
//!   pairs/s over all clients and p50/p99 of one pair including its wait;
//! - `failover`: a leader latch held by one client and a candidate on another; the leader's
//!   client is closed (its session ends, the server deletes its node) and the time until the
//!   candidate knows it leads is kept (Curator `LeaderLatch.await()` returning): median, max;
//!   closing is zk-client's `Client::close` and, on Curator's side, the Java client's
//!   `ZooKeeper.close()` on the leader's handle: both send closeSession and wait for its
//!   reply, in a task (thread) of their own while the candidate is awaited. How long that
//!   call took is shown on its own row;
//! - `queue`: one producer client and one consumer client through the at-most-once FIFO
//!   queue (Curator `DistributedQueue`, the queue with the same `queue-<seq>` layout and item
//!   encoding, `putInBackground(false)` so both put one item at a time): items/s from the
//!   first put until the last item is taken;
//! - `nodecache` / `curatorcache`: setData by one client until a node cache on another client
//!   holds the new value (Curator `NodeCache`, then `CuratorCache` single-node): p50/p99.
//!
//! Every workload has an untimed warm-up (a tenth of its size, at least 20, or one round);
//! the Curator side is one JVM (`benches/curator/CuratorBench.java`, compiled here with javac)
//! that measures inside itself, so JVM start-up and JIT warm-up are not counted. The Rust
//! side runs on a 2-worker tokio runtime.
//!
//! Sizes (environment): `ZKB_MUTEX_PAIRS` (2000), `ZKB_CONTENDED_PAIRS` (per client, 150),
//! `ZKB_CLIENTS` (10), `ZKB_FAILOVER_ROUNDS` (20), `ZKB_QUEUE_ITEMS` (2000),
//! `ZKB_CACHE_UPDATES` (1500); `ZKB_ROUNDS` (2): rounds of both sides per server, alternating
//! which goes first (ABBA); the figures are over all rounds, and rates also per round.
//! About a minute per server on 2 cores. `ZKB_CURATOR=off` runs the zk-recipes side only.

#[path = "../tests/curator/javac.rs"]
mod javac;

#[path = "../../zk-client/benches/support/bench.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{fmt_num, load_average, machine_line, nanos, percentile_us, scaled_size, Table};
use zk_client::{Client, CreateOptions};
use zk_recipes::{LeaderLatch, Mutex, NodeCache, Queue};
use zk_testserver::real::{RealOptions, RealZooKeeper};

// ----- configuration -------------------------------------------------------------------------

struct Settings {
    servers: Vec<String>,
    sizes: Sizes,
}

/// The size of each workload.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    pairs: usize,
    contended: usize,
    clients: usize,
    failovers: usize,
    items: usize,
    updates: usize,
    /// Rounds of both sides, alternating which goes first (ABBA).
    rounds: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let mut servers = Vec::new();
        let wanted = std::env::var("ZKB_SERVERS").unwrap_or_else(|_| "both".into());
        for s in wanted.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match s {
                "both" => servers.extend(["rust".to_string(), "real".to_string()]),
                "rust" | "test" => servers.push("rust".into()),
                "real" => servers.push("real".into()),
                other => panic!("ZKB_SERVERS: unknown server {other:?} (rust, real, both)"),
            }
        }
        let sizes = Sizes {
            // Workload sizes scale with ZK_BENCH_SCALE; the client count and rounds do not.
            pairs: scaled_size("ZKB_MUTEX_PAIRS", 2000, 1).max(1),
            contended: scaled_size("ZKB_CONTENDED_PAIRS", 150, 1).max(1),
            clients: scaled_size("ZKB_CLIENTS", 10, 10).max(1),
            failovers: scaled_size("ZKB_FAILOVER_ROUNDS", 20, 3).max(1),
            items: scaled_size("ZKB_QUEUE_ITEMS", 2000, 1).max(1),
            updates: scaled_size("ZKB_CACHE_UPDATES", 1500, 1).max(1),
            rounds: scaled_size("ZKB_ROUNDS", 2, 2).max(1),
        };
        Settings { servers, sizes }
    }
}

/// The untimed warm-up of a workload of `n` operations.
fn warmup(n: usize) -> usize {
    (n / 10).max(20)
}

// ----- what a run measured -------------------------------------------------------------------

/// One workload's figures: operations, their elapsed time (zero where only latencies count)
/// and per-operation latencies in nanoseconds.
#[derive(Debug, Default, Clone)]
struct Sample {
    count: usize,
    elapsed: Duration,
    latencies: Vec<u64>,
}

impl Sample {
    fn per_sec(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`th percentile latency in microseconds (nearest rank).
    fn percentile_us(&self, p: f64) -> f64 {
        let mut all = self.latencies.clone();
        all.sort_unstable();
        percentile_us(&all, p)
    }

    fn max_us(&self) -> f64 {
        self.latencies
            .iter()
            .max()
            .map_or(f64::NAN, |&ns| ns as f64 / 1000.0)
    }
}

// ----- the zk-recipes side -------------------------------------------------------------------

async fn connect(connect_string: &str) -> Client {
    Client::builder(connect_string)
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connect")
}

/// Fails the bench if `f` takes longer than `secs` (a hung recipe would otherwise hang it).
async fn within<T>(secs: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {secs} s"))
}

async fn pair(mutex: &Mutex) {
    within(60, "acquire", mutex.acquire())
        .await
        .expect("acquire")
        .release()
        .await;
}

async fn mutex1(connect_string: &str, path: &str, pairs: usize) -> Sample {
    let client = connect(connect_string).await;
    let mutex = Mutex::new(&client, path).expect("mutex");
    for _ in 0..warmup(pairs) {
        pair(&mutex).await;
    }
    let mut latencies = Vec::with_capacity(pairs);
    let start = Instant::now();
    for _ in 0..pairs {
        let t = Instant::now();
        pair(&mutex).await;
        latencies.push(nanos(t.elapsed()));
    }
    let elapsed = start.elapsed();
    client.close().await.expect("close");
    Sample {
        count: pairs,
        elapsed,
        latencies,
    }
}

/// Every client does `per_client` pairs on one lock, all started together; returns the time
/// from the start until the last is done, and every pair's latency.
async fn contend(clients: &[Client], path: &str, per_client: usize) -> (Duration, Vec<u64>) {
    let gate = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len() + 1));
    let tasks: Vec<_> = clients
        .iter()
        .map(|client| {
            let mutex = Mutex::new(client, path).expect("mutex");
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.wait().await;
                let mut latencies = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    pair(&mutex).await;
                    latencies.push(nanos(t.elapsed()));
                }
                latencies
            })
        })
        .collect();
    gate.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("contending client"));
    }
    (start.elapsed(), all)
}

async fn mutex10(connect_string: &str, path: &str, clients: usize, per_client: usize) -> Sample {
    let mut all = Vec::with_capacity(clients);
    for _ in 0..clients {
        all.push(connect(connect_string).await);
    }
    contend(&all, path, (per_client / 10).max(2)).await;
    let (elapsed, latencies) = contend(&all, path, per_client).await;
    for client in all {
        client.close().await.expect("close");
    }
    Sample {
        count: clients * per_client,
        elapsed,
        latencies,
    }
}

/// Returns the failover times and the times the leader's `close()` took.
async fn failover(connect_string: &str, path: &str, rounds: usize) -> (Sample, Sample) {
    let candidate = connect(connect_string).await;
    let mut latencies = Vec::with_capacity(rounds);
    let mut closes = Vec::with_capacity(rounds);
    // Round 0 is a warm-up.
    for round in 0..=rounds {
        let dir = format!("{path}/r{round}");
        let doomed = connect(connect_string).await;
        let leader = LeaderLatch::start(&doomed, &dir, "a").expect("latch");
        within(20, "first participant leads", leader.wait_leader())
            .await
            .expect("lead");
        let next = LeaderLatch::start(&candidate, &dir, "b").expect("latch");
        within(20, "candidate joins", async {
            while next.participants().await.expect("participants").len() < 2 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
        // The close runs as its own task, so the candidate's wait is not held up by it.
        let t = Instant::now();
        let closing = tokio::spawn(async move {
            doomed.close().await.expect("close the leader's client");
            t.elapsed()
        });
        within(20, "failover", next.wait_leader())
            .await
            .expect("candidate leads");
        let took = t.elapsed();
        let closed = within(20, "close", closing).await.expect("close task");
        if round > 0 {
            latencies.push(nanos(took));
            closes.push(nanos(closed));
        }
        next.close().await;
        drop(leader);
    }
    candidate.close().await.expect("close");
    let sample = |latencies| Sample {
        count: rounds,
        elapsed: Duration::ZERO,
        latencies,
    };
    (sample(latencies), sample(closes))
}

async fn queue(connect_string: &str, path: &str, items: usize) -> Sample {
    let producer_client = connect(connect_string).await;
    let consumer_client = connect(connect_string).await;
    let producer = Queue::new(&producer_client, path).expect("queue");
    let consumer = Queue::new(&consumer_client, path).expect("queue");
    let item = [0u8; 32];
    let warm = warmup(items);
    for _ in 0..warm {
        producer.put(&item).await.expect("put");
    }
    for _ in 0..warm {
        within(20, "take", consumer.take()).await.expect("take");
    }
    let taking = tokio::spawn(async move {
        for _ in 0..items {
            within(60, "take", consumer.take()).await.expect("take");
        }
    });
    let start = Instant::now();
    for _ in 0..items {
        producer.put(&item).await.expect("put");
    }
    within(120, "all items taken", taking)
        .await
        .expect("consumer");
    let elapsed = start.elapsed();
    producer_client.close().await.expect("close");
    consumer_client.close().await.expect("close");
    Sample {
        count: items,
        elapsed,
        latencies: Vec::new(),
    }
}

async fn node_cache(connect_string: &str, path: &str, updates: usize) -> Sample {
    let writer = connect(connect_string).await;
    let reader = connect(connect_string).await;
    writer
        .create_all(path, b"v0", &CreateOptions::default())
        .await
        .expect("create the node");
    let cache = NodeCache::start(&reader, path).await.expect("node cache");
    let mut value = cache.watch();
    let warm = warmup(updates);
    let mut latencies = Vec::with_capacity(updates);
    for i in 1..=warm + updates {
        let expected = format!("v{i}");
        let t = Instant::now();
        writer
            .set_data(path, expected.as_bytes(), None)
            .await
            .expect("setData");
        within(
            20,
            "cache update",
            value.wait_for(|v| v.as_ref().is_some_and(|n| n.data == expected.as_bytes())),
        )
        .await
        .expect("cache open");
        if i > warm {
            latencies.push(nanos(t.elapsed()));
        }
    }
    drop(value);
    drop(cache);
    writer.close().await.expect("close");
    reader.close().await.expect("close");
    Sample {
        count: updates,
        elapsed: Duration::ZERO,
        latencies,
    }
}

/// Runs every workload with zk-recipes under `root`.
async fn ours(connect_string: String, root: String, s: Sizes) -> HashMap<String, Sample> {
    let mut out = HashMap::new();
    let c = connect_string.as_str();
    let started = Instant::now();
    out.insert(
        "mutex1".into(),
        mutex1(c, &format!("{root}/mutex1"), s.pairs).await,
    );
    out.insert(
        "mutex10".into(),
        mutex10(c, &format!("{root}/mutex10"), s.clients, s.contended).await,
    );
    let (failovers, closes) = failover(c, &format!("{root}/failover"), s.failovers).await;
    out.insert("failover".into(), failovers);
    out.insert("failover-close".into(), closes);
    out.insert(
        "queue".into(),
        queue(c, &format!("{root}/queue"), s.items).await,
    );
    out.insert(
        "nodecache".into(),
        node_cache(c, &format!("{root}/nodecache"), s.updates).await,
    );
    eprintln!(
        "  zk-recipes: all workloads in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    out
}

// ----- the Curator side ----------------------------------------------------------------------

/// Runs the Curator bench JVM against `connect_string` under `root`; parses its figures.
fn curator(classes: &Path, connect_string: &str, root: &str, s: &Sizes) -> HashMap<String, Sample> {
    let started = Instant::now();
    let output = Command::new("java")
        .arg("-cp")
        .arg(javac::classpath(classes))
        .arg("CuratorBench")
        .arg(connect_string)
        .arg(root)
        .args(
            [
                s.pairs,
                s.contended,
                s.clients,
                s.failovers,
                s.items,
                s.updates,
            ]
            .map(|n| n.to_string()),
        )
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.lines().any(|l| l == "DONE"),
        "the Curator bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut out: HashMap<String, Sample> = HashMap::new();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("RESULT"), Some(name)) => {
                let mut number = || -> u64 {
                    words
                        .next()
                        .and_then(|w| w.parse().ok())
                        .unwrap_or_else(|| panic!("bad Curator line {line:?}"))
                };
                let count = number() as usize;
                let elapsed = Duration::from_nanos(number());
                let sample = out.entry(name.to_string()).or_default();
                sample.count = count;
                sample.elapsed = elapsed;
            }
            (Some("LAT"), Some(name)) => {
                let latencies = words
                    .map(|w| w.parse().unwrap_or_else(|_| panic!("bad latency {w:?}")))
                    .collect();
                out.entry(name.to_string()).or_default().latencies = latencies;
            }
            _ => {}
        }
    }
    eprintln!(
        "  Curator: all workloads in {:.1} s (JVM start included)",
        started.elapsed().as_secs_f64()
    );
    out
}

// ----- reporting -----------------------------------------------------------------------------

struct Row {
    workload: &'static str,
    metric: &'static str,
    ours: f64,
    curator: Option<f64>,
    /// For rates: each round's figure, ours then Curator's.
    note: String,
}

/// One side's figures of every round.
type Rounds = Vec<HashMap<String, Sample>>;

/// The rounds' samples of each workload together.
fn merged(rounds: &Rounds) -> HashMap<String, Sample> {
    let mut out: HashMap<String, Sample> = HashMap::new();
    for round in rounds {
        for (name, sample) in round {
            let all = out.entry(name.clone()).or_default();
            all.count += sample.count;
            all.elapsed += sample.elapsed;
            all.latencies.extend(&sample.latencies);
        }
    }
    out
}

/// Each round's rate of `name`, as `a/b`.
fn round_rates(rounds: &Rounds, name: &str) -> String {
    rounds
        .iter()
        .filter_map(|r| r.get(name))
        .map(|s| format!("{:.0}", s.per_sec()))
        .collect::<Vec<_>>()
        .join("/")
}

fn rows(mine: &Rounds, theirs: Option<&Rounds>) -> Vec<Row> {
    let ours = merged(mine);
    let curator = theirs.map(merged);
    let curator = curator.as_ref();
    type Metric = fn(&Sample) -> f64;
    let per_sec: Metric = Sample::per_sec;
    let p50: Metric = |s| s.percentile_us(50.0);
    let p99: Metric = |s| s.percentile_us(99.0);
    let median_ms: Metric = |s| s.percentile_us(50.0) / 1000.0;
    let max_ms: Metric = |s| s.max_us() / 1000.0;
    let (mutex1, mutex10) = (
        "mutex uncontended (1 client)",
        "mutex contended (10 clients, 1 lock)",
    );
    let failover = "leader failover (LeaderLatch)";
    let queue = "FIFO queue (1 producer, 1 consumer)";
    let (node, curator_cache) = (
        "node cache update vs NodeCache",
        "node cache update vs CuratorCache",
    );
    // (workload, metric, our sample, Curator's sample, metric)
    #[rustfmt::skip]
    let table: [(&'static str, &'static str, &str, &str, Metric); 14] = [
        (mutex1, "pairs/s ↑", "mutex1", "mutex1", per_sec),
        (mutex1, "pair p50 µs", "mutex1", "mutex1", p50),
        (mutex1, "pair p99 µs", "mutex1", "mutex1", p99),
        (mutex10, "pairs/s ↑", "mutex10", "mutex10", per_sec),
        (mutex10, "pair p50 µs", "mutex10", "mutex10", p50),
        (mutex10, "pair p99 µs", "mutex10", "mutex10", p99),
        (failover, "median ms", "failover", "failover", median_ms),
        (failover, "max ms", "failover", "failover", max_ms),
        ("the leader's close() call (concurrent)", "median ms", "failover-close", "failover-close", median_ms),
        (queue, "items/s ↑", "queue", "queue", per_sec),
        (node, "p50 µs", "nodecache", "nodecache", p50),
        (node, "p99 µs", "nodecache", "nodecache", p99),
        (curator_cache, "p50 µs", "nodecache", "curatorcache", p50),
        (curator_cache, "p99 µs", "nodecache", "curatorcache", p99),
    ];
    table
        .iter()
        .map(|&(workload, metric, name, their_name, f)| Row {
            workload,
            metric,
            ours: f(&ours[name]),
            curator: curator.and_then(|c| c.get(their_name)).map(f),
            note: if metric.ends_with('↑') {
                format!(
                    "rounds: {} vs {}",
                    round_rates(mine, name),
                    theirs.map_or("n/a".into(), |t| round_rates(t, their_name))
                )
            } else {
                String::new()
            },
        })
        .collect()
}

fn print_table(server: &str, rows: &[Row]) {
    let mut table = Table::new(&[
        "workload",
        "metric",
        ">zk-recipes",
        ">Curator 5.4",
        ">zk-recipes/Curator",
        "note",
    ]);
    for r in rows {
        let (curator, ratio) = match r.curator {
            Some(c) => (fmt_num(c), format!("{:.2}", r.ours / c)),
            None => ("n/a".into(), String::new()),
        };
        table.row(vec![
            r.workload.to_string(),
            r.metric.to_string(),
            fmt_num(r.ours),
            curator,
            ratio,
            r.note.clone(),
        ]);
    }
    table.print(server);
    println!("\n(↑: higher is better; the other metrics are times, lower is better)");
}

// ----- driving -------------------------------------------------------------------------------

fn bench_server(title: &str, connect_string: &str, classes: Option<&Path>, s: &Sizes) {
    let root = format!("/zkb-recipes-{}", std::process::id());
    eprintln!("{title}:");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zkb-recipes")
        .enable_all()
        .build()
        .expect("recipes runtime");
    let mut mine = Rounds::new();
    let mut theirs = Rounds::new();
    for round in 0..s.rounds {
        // ABBA: alternate which side goes first.
        let sides = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for ours_now in sides {
            if ours_now {
                let root = format!("{root}/rust-{round}");
                mine.push(runtime.block_on(ours(connect_string.to_string(), root, *s)));
            } else if let Some(classes) = classes {
                let root = format!("{root}/curator-{round}");
                theirs.push(curator(classes, connect_string, &root, s));
            }
        }
    }
    drop(runtime);
    let theirs = classes.is_some().then_some(&theirs);
    print_table(title, &rows(&mine, theirs));
}

fn main() {
    // `cargo bench` passes `--bench`; a listing (`--list`) runs nothing.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let settings = Settings::from_env();
    let started = Instant::now();
    println!("{}", machine_line());
    println!(
        "settings: {} uncontended pairs, {} clients × {} contended pairs, {} failover rounds, \
         {} queue items, {} cache updates (each after an untimed warm-up); {} rounds (ABBA)",
        settings.sizes.pairs,
        settings.sizes.clients,
        settings.sizes.contended,
        settings.sizes.failovers,
        settings.sizes.items,
        settings.sizes.updates,
        settings.sizes.rounds
    );
    let classes: Option<PathBuf> = if std::env::var("ZKB_CURATOR").is_ok_and(|v| v == "off") {
        println!("(ZKB_CURATOR=off: Curator's column is n/a)");
        None
    } else {
        javac::compile("benches/curator/CuratorBench.java")
    };
    if classes.is_none() {
        println!("(Curator or a JDK is not installed here: Curator's column is n/a)");
    }

    for server in &settings.servers {
        match server.as_str() {
            "rust" => {
                let server_rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("zk-testsrv-net")
                    .enable_all()
                    .build()
                    .expect("server runtime");
                let mut server = server_rt
                    .block_on(zk_testserver::TestServer::builder().fsync(false).start())
                    .expect("test server");
                bench_server(
                    "zk-testserver (in-process, no fsync), loopback",
                    &server.connect_string(),
                    classes.as_deref(),
                    &settings.sizes,
                );
                server_rt.block_on(server.stop());
            }
            _ => {
                if !zk_testserver::real::real_zookeeper_available() {
                    println!("\n(real ZooKeeper not installed here: skipped)");
                    continue;
                }
                let server =
                    RealZooKeeper::standalone(RealOptions::default()).expect("real ZooKeeper");
                let version =
                    support::zookeeper_version(&server.four_letter(0, "srvr").unwrap_or_default());
                bench_server(
                    &format!("Apache ZooKeeper {version} standalone (forceSync=no), loopback"),
                    &server.connect_string(),
                    classes.as_deref(),
                    &settings.sizes,
                );
            }
        }
    }
    println!(
        "\nwhole bench: {:.0} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
