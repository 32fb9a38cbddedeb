//! Watch fan-out: many watchers on one znode, one change, how long until every watcher knows.
//!
//! ```text
//! cargo bench -p zk-testserver --bench fanout      # or scripts/bench.sh
//! ```
//!
//! Two layouts of watchers on `/zkb-fanout/node`, all through zk-client, each session set up
//! by `get_data_and_watch` (one-shot data watches, set again before every round):
//!
//! - **narrow**: `ZKB_FANOUT_SESSIONS` (100) sessions × `ZKB_FANOUT_WATCHES` (100) watchers
//!   each = 10,000 watchers. ZooKeeper keeps one data watch per (path, connection), however
//!   often a session asks for it (`WatchManager` is a map from path to a set of connections,
//!   and a change notifies each connection once), so the servers hold 100 watches and send 100
//!   notifications; zk-client hands each one to the session's 100 watchers.
//! - **wide**: `ZKB_FANOUT_WIDE` (10,000) sessions × 1 watcher = 10,000 watches held by the
//!   servers and 10,000 notifications sent. This is the layout that loads the server's
//!   fan-out. An in-process server shares this process's open-file limit (20,000 here) with the
//!   clients, so against `test` and `ens3` the session count is capped to fit (the table says
//!   how many ran).
//!
//! Per round: the watches are set, the servers' watch count is read (`wchs`, summed over the
//! members), then a separate writer session sets the node's data; from just before that
//! setData, the time at which each watcher's event arrives (the watcher's task resumes) is
//! kept. Reported over `ZKB_FANOUT_ROUNDS` (5) rounds: per-watcher p50/p99/max, per-session
//! (until the session's last watcher fired) p50/p99/max, and until all were notified.
//!
//! Servers (`ZKB_FANOUT_SERVERS`, default `bin,ens3,real,real3`): `bin` the `zk-testserver`
//! binary standalone (child process, forceSync=no), `test` the in-process `TestServer` (no
//! fsync), `ens3` the in-process 3-member `Ensemble` (state in memory), `real` and `real3`
//! Apache ZooKeeper 3.8 standalone and 3 members through `zk_testserver::real` (forceSync=no).
//! Against 3 members session `i` connects to member `i mod 3` only, so the sessions are spread
//! evenly; the writer is on the first member. The clients share one 2-worker tokio runtime.
//! `ZK_BENCH_SCALE` scales the wide session count and the rounds.

#[path = "../../zk-client/benches/support/bench.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::stream::{self, FuturesUnordered, StreamExt};
use zk_client::{Client, CreateMode, CreateOptions, EventType};
use zk_testserver::real::{real_zookeeper_available, RealOptions, RealZooKeeper};

use support::{
    fmt_num, four_letter, load_average, machine_line, nanos, percentile_us, scaled_size, temp_dir,
    Table,
};

const ROOT: &str = "/zkb-fanout";
const NODE: &str = "/zkb-fanout/node";
/// Sessions connecting (or registering watches) at once.
const CONNECT_CONCURRENCY: usize = 200;
/// How long a round waits for every watcher before it reports the missing ones.
const ROUND_LIMIT: Duration = Duration::from_secs(120);

struct Settings {
    servers: Vec<String>,
    layouts: Vec<Layout>,
    rounds: usize,
}

#[derive(Debug, Clone, Copy)]
struct Layout {
    name: &'static str,
    sessions: usize,
    watches: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let list = |var: &str, default: &str| -> Vec<String> {
            std::env::var(var)
                .unwrap_or_else(|_| default.into())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let layouts = list("ZKB_FANOUT_LAYOUTS", "narrow,wide")
            .iter()
            .map(|l| match l.as_str() {
                "narrow" => Layout {
                    name: "narrow",
                    sessions: scaled_size("ZKB_FANOUT_SESSIONS", 100, 100),
                    watches: scaled_size("ZKB_FANOUT_WATCHES", 100, 100),
                },
                "wide" => Layout {
                    name: "wide",
                    sessions: scaled_size("ZKB_FANOUT_WIDE", 10_000, 100),
                    watches: 1,
                },
                other => panic!("ZKB_FANOUT_LAYOUTS: unknown layout {other:?} (narrow, wide)"),
            })
            .collect();
        Settings {
            servers: list("ZKB_FANOUT_SERVERS", "bin,ens3,real,real3"),
            layouts,
            rounds: scaled_size("ZKB_FANOUT_ROUNDS", 5, 3),
        }
    }
}

/// The soft limit on open files of this process (`/proc/self/limits`).
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

// ----- one layout against one server ---------------------------------------------------------

/// What one layout measured against one server.
#[derive(Default)]
struct Outcome {
    sessions: usize,
    watchers_per_session: usize,
    /// Seconds to connect every session.
    connect_secs: f64,
    /// The servers' watch count (`wchs`) in each round, when they answer it.
    server_watches: Vec<Option<u64>>,
    /// Per round: setData round trip, ns.
    acks: Vec<u64>,
    /// Every watcher's delay over all rounds, ns.
    per_watcher: Vec<u64>,
    /// Every session's delay until its last watcher fired, over all rounds, ns.
    per_session: Vec<u64>,
    /// Per round: until every watcher was notified, ns.
    totals: Vec<u64>,
    /// Watchers that got nothing within `ROUND_LIMIT`, over all rounds.
    missing: usize,
}

async fn connect(addr: SocketAddr) -> Client {
    let mut last = None;
    for _ in 0..5 {
        match Client::builder(addr.to_string())
            .session_timeout(Duration::from_secs(30))
            .connection_timeout(Duration::from_secs(30))
            .connect()
            .await
        {
            Ok(c) => return c,
            Err(e) => last = Some(e),
        }
    }
    panic!("connecting to {addr}: {last:?}")
}

/// The servers' total watch count, summed over `members` (`None` if one does not answer).
fn server_watch_count(members: &[SocketAddr]) -> Option<u64> {
    let mut total = 0;
    for &addr in members {
        let text = four_letter(addr, "wchs").ok()?;
        let n: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("Total watches:"))?
            .trim()
            .parse()
            .ok()?;
        total += n;
    }
    Some(total)
}

async fn run_layout(members: &[SocketAddr], layout: Layout, rounds: usize) -> Outcome {
    let writer = connect(members[0]).await;
    let persistent = CreateOptions::new(CreateMode::Persistent);
    for path in [ROOT, NODE] {
        match writer.create(path, b"0", &persistent).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => panic!("creating {path}: {e}"),
        }
    }
    let started = Instant::now();
    let clients: Vec<Client> = stream::iter(0..layout.sessions)
        .map(|i| connect(members[i % members.len()]))
        .buffered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let mut out = Outcome {
        sessions: layout.sessions,
        watchers_per_session: layout.watches,
        connect_secs: started.elapsed().as_secs_f64(),
        ..Outcome::default()
    };
    eprintln!(
        "  {} sessions connected in {:.1} s",
        layout.sessions, out.connect_secs
    );
    for round in 0..rounds {
        // Every session sets its watches (pipelined within a session).
        let watchers: Vec<Vec<zk_client::OneshotWatcher>> = stream::iter(&clients)
            .map(|c| async move {
                let replies: Vec<_> = (0..layout.watches)
                    .map(|_| c.get_data_and_watch(NODE))
                    .collect();
                let mut out = Vec::with_capacity(layout.watches);
                for r in replies {
                    out.push(r.await.expect("get_data_and_watch").2);
                }
                out
            })
            .buffered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        let watch_count = server_watch_count(members);
        out.server_watches.push(watch_count);
        let waiting: Vec<tokio::task::JoinHandle<Vec<Instant>>> = watchers
            .into_iter()
            .map(|ws| {
                tokio::spawn(async move {
                    let mut fired = Vec::with_capacity(ws.len());
                    let mut pending: FuturesUnordered<_> =
                        ws.into_iter().map(|w| w.changed()).collect();
                    while let Some(event) = pending.next().await {
                        fired.push(Instant::now());
                        assert_eq!(event.event_type, EventType::NodeDataChanged, "{event:?}");
                    }
                    fired
                })
            })
            .collect();
        let t0 = Instant::now();
        writer
            .set_data(NODE, format!("round {round}").as_bytes(), None)
            .await
            .expect("setData");
        out.acks.push(nanos(t0.elapsed()));
        let mut total = 0;
        let deadline = tokio::time::Instant::now() + ROUND_LIMIT;
        for handle in waiting {
            match tokio::time::timeout_at(deadline, handle).await {
                Ok(fired) => {
                    let fired = fired.expect("watcher task");
                    let delays: Vec<u64> = fired.iter().map(|t| nanos(*t - t0)).collect();
                    out.missing += layout.watches - delays.len();
                    if let Some(&last) = delays.iter().max() {
                        out.per_session.push(last);
                        total = total.max(last);
                    }
                    out.per_watcher.extend(delays);
                }
                Err(_) => out.missing += layout.watches,
            }
        }
        out.totals.push(total);
        eprintln!(
            "  round {round}: server watches {}, setData ack {:.2} ms, all {} watchers notified after {:.2} ms",
            watch_count.map_or("?".into(), |n| n.to_string()),
            *out.acks.last().unwrap_or(&0) as f64 / 1e6,
            layout.sessions * layout.watches,
            total as f64 / 1e6
        );
    }
    drop(clients);
    let _ = writer.delete(NODE, None).await;
    let _ = writer.delete(ROOT, None).await;
    let _ = writer.close().await;
    out.per_watcher.sort_unstable();
    out.per_session.sort_unstable();
    out
}

// ----- servers -------------------------------------------------------------------------------

/// A server under test: its client addresses, kept alive until dropped.
struct Server {
    name: String,
    members: Vec<SocketAddr>,
    /// Whether it lives in this process (and so shares its open-file limit).
    in_process: bool,
    _keep: Box<dyn std::any::Any>,
}

struct KillOnDrop(Child, std::path::PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_binary() -> Server {
    let dir = temp_dir("fanout-bin");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\nforceSync=no\n4lw.commands.whitelist=*\n",
            dir.join("data").display()
        ),
    )
    .expect("write zoo.cfg");
    let child = Command::new(env!("CARGO_BIN_EXE_zk-testserver"))
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the zk-testserver binary starts");
    // Killed and cleaned up on drop, also when waiting for it panics.
    let child = KillOnDrop(child, dir);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(20);
    while four_letter(addr, "ruok").map_or(true, |r| r != "imok") {
        assert!(
            Instant::now() < deadline,
            "the zk-testserver binary never served"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Server {
        name: "zk-testserver binary, standalone (forceSync=no)".into(),
        members: vec![addr],
        in_process: false,
        _keep: Box::new(child),
    }
}

fn start_real(members: usize) -> Option<Server> {
    if !real_zookeeper_available() {
        println!("\n(real ZooKeeper not installed here: skipped)");
        return None;
    }
    let zk = if members == 1 {
        RealZooKeeper::standalone(RealOptions::default())
    } else {
        RealZooKeeper::ensemble(members, RealOptions::default())
    }
    .expect("real ZooKeeper starts");
    if members > 1 {
        zk.wait_for_leader(Duration::from_secs(60))
            .expect("a leader");
    }
    let version = support::zookeeper_version(&zk.four_letter(0, "srvr").unwrap_or_default());
    Some(Server {
        name: if members == 1 {
            format!("ZooKeeper {version} standalone (forceSync=no)")
        } else {
            format!("ZooKeeper {version}, {members} members (forceSync=no)")
        },
        members: (0..members).map(|i| zk.member_addr(i)).collect(),
        in_process: false,
        _keep: Box::new(zk),
    })
}

/// The in-process servers, on a runtime of their own (kept with the server).
fn start_in_process(kind: &str) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("zk-testsrv-net")
        .enable_all()
        .build()
        .expect("server runtime");
    if kind == "test" {
        let server = rt
            .block_on(zk_testserver::TestServer::builder().fsync(false).start())
            .expect("test server");
        Server {
            name: "zk-testserver in-process, standalone (no fsync)".into(),
            members: vec![server.addr()],
            in_process: true,
            _keep: Box::new((server, rt)),
        }
    } else {
        let ensemble = rt
            .block_on(zk_testserver::Ensemble::builder().members(3).start())
            .expect("in-process ensemble");
        let members = ensemble
            .member_ids()
            .into_iter()
            .map(|id| ensemble.client_addr(id))
            .collect();
        Server {
            name: "zk-testserver Ensemble in-process, 3 members (in memory)".into(),
            members,
            in_process: true,
            _keep: Box::new((ensemble, rt)),
        }
    }
}

// ----- reporting -----------------------------------------------------------------------------

fn ms(ns: u64) -> String {
    fmt_num(ns as f64 / 1e6)
}

fn triple(sorted: &[u64]) -> String {
    let p = |q: f64| fmt_num(percentile_us(sorted, q) / 1000.0);
    format!(
        "{} / {} / {}",
        p(50.0),
        p(99.0),
        sorted.last().map_or("n/a".into(), |&m| ms(m))
    )
}

fn print_layout(layout: Layout, results: &[(String, Outcome)]) {
    let mut table = Table::new(&[
        "server",
        ">sessions × watchers",
        ">server-side watches (wchs)",
        ">connect s",
        ">setData ack ms (median)",
        ">per watcher p50 / p99 / max ms",
        ">per session p50 / p99 / max ms",
        ">all notified ms: median / max of rounds",
        ">missed",
    ]);
    for (name, o) in results {
        let mut acks = o.acks.clone();
        acks.sort_unstable();
        let mut totals = o.totals.clone();
        totals.sort_unstable();
        let watches: Vec<String> = o
            .server_watches
            .iter()
            .map(|w| w.map_or("?".into(), |n| n.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        table.row(vec![
            name.clone(),
            format!("{} × {}", o.sessions, o.watchers_per_session),
            watches.join(", "),
            format!("{:.1}", o.connect_secs),
            ms(support::percentile(&acks, 50.0).unwrap_or(0)),
            triple(&o.per_watcher),
            triple(&o.per_session),
            format!(
                "{} / {}",
                ms(support::percentile(&totals, 50.0).unwrap_or(0)),
                ms(totals.last().copied().unwrap_or(0))
            ),
            o.missing.to_string(),
        ]);
    }
    let title = match layout.name {
        "narrow" => "Watch fan-out, narrow: few sessions, many watchers each (client-side fan-out)",
        _ => "Watch fan-out, wide: one watcher per session (server-side fan-out)",
    };
    table.print(title);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let s = Settings::from_env();
    let started = Instant::now();
    println!("{}", machine_line());
    println!(
        "settings: {} rounds; layouts {:?}; clients on one 2-worker tokio runtime",
        s.rounds,
        s.layouts
            .iter()
            .map(|l| format!("{} {} × {}", l.name, l.sessions, l.watches))
            .collect::<Vec<_>>()
    );
    let clients_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("zkb-fanout")
        .enable_all()
        .build()
        .expect("client runtime");
    let mut results: Vec<Vec<(String, Outcome)>> = s.layouts.iter().map(|_| Vec::new()).collect();
    for kind in &s.servers {
        let server = match kind.as_str() {
            "bin" => start_binary(),
            "test" | "ens3" => start_in_process(kind),
            "real" => match start_real(1) {
                Some(s) => s,
                None => continue,
            },
            "real3" => match start_real(3) {
                Some(s) => s,
                None => continue,
            },
            other => panic!(
                "ZKB_FANOUT_SERVERS: unknown server {other:?} (bin, test, ens3, real, real3)"
            ),
        };
        eprintln!("{}:", server.name);
        for (i, layout) in s.layouts.iter().enumerate() {
            let mut layout = *layout;
            if server.in_process {
                // Each session is a socket here and one in the server, in this process.
                let fit = open_file_limit().saturating_sub(1000) / 2;
                layout.sessions = layout.sessions.min(fit);
            }
            eprintln!(
                " {} layout: {} sessions × {} watchers",
                layout.name, layout.sessions, layout.watches
            );
            let outcome = clients_rt.block_on(run_layout(&server.members, layout, s.rounds));
            results[i].push((server.name.clone(), outcome));
        }
        drop(server);
    }
    for (layout, results) in s.layouts.iter().zip(&results) {
        print_layout(*layout, results);
    }
    println!(
        "\nwhole bench: {:.0} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
