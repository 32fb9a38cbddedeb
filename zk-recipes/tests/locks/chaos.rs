//! Safety under a seeded, randomized fault schedule: workers contend for a mutex and a leader
//! latch while their connections are cut, held off, and their sessions ended (and renewed).
//! Every holder and leader logs through fenced writes; the logs must show mutual exclusion
//! (no tenure's entries interleave with another's, tenures in czxid order) and at most one
//! leader per term (leader entries in non-decreasing czxid order).
//!
//! `ZK_RECIPES_CHAOS_SEED` replays a schedule; `ZK_RECIPES_CHAOS_FAULTS` sets its length
//! (default 12).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_client::{Client, CreateMode, CreateOptions, Op};
use zk_recipes::{LatchState, LeaderLatch, Mutex};

use super::{children, server};
use crate::support::{self, proxy::Proxy, unique_path, within, Cluster};

const WORKERS: usize = 4;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A log entry: a persistent-sequential child of `dir` carrying `text`.
fn entry(dir: &str, text: String) -> Op {
    Op::create(
        format!("{dir}/e-"),
        text.into_bytes(),
        &CreateOptions::new(CreateMode::PersistentSequential),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_faults_keep_mutual_exclusion_and_one_leader_per_term() {
    let Some(cluster) = server() else { return };
    let seed: u64 = env_or("ZK_RECIPES_CHAOS_SEED", rand::rng().random());
    let faults: usize = env_or("ZK_RECIPES_CHAOS_FAULTS", 12);
    eprintln!("chaos seed {seed} ({faults} faults); replay with ZK_RECIPES_CHAOS_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let root = unique_path("chaos");
    let admin = support::connect(&cluster).await;
    let (lock_log, leader_log) = (format!("{root}/mutex-log"), format!("{root}/leader-log"));
    for dir in [&lock_log, &leader_log] {
        admin
            .create_all(dir, b"", &CreateOptions::default())
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tenures = Arc::new(AtomicUsize::new(0));
    let mut proxies = Vec::new();
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let proxy = Proxy::start(cluster.member_addr(0)).await;
        let client = Client::builder(proxy.addr().to_string())
            .session_timeout(Duration::from_secs(10))
            .renew_session_on_expiry(true)
            .connect()
            .await
            .unwrap();
        let worker_seed = rng.random::<u64>();
        tasks.push(tokio::spawn(lock_worker(
            client.clone(),
            format!("{root}/lock"),
            lock_log.clone(),
            stop.clone(),
            tenures.clone(),
            worker_seed,
        )));
        tasks.push(tokio::spawn(leader_worker(
            client.clone(),
            format!("{root}/latch"),
            leader_log.clone(),
            format!("w{w}"),
            stop.clone(),
        )));
        proxies.push(proxy);
        clients.push(client);
    }
    for _ in 0..faults {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
        let w = rng.random_range(0..WORKERS);
        match rng.random_range(0..3) {
            0 => proxies[w].cut(),
            1 => {
                proxies[w].set_blocked(true);
                proxies[w].cut();
                tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                proxies[w].set_blocked(false);
            }
            _ => end_session(&cluster, &proxies[w], &clients[w]).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    within(60, "the workers to stop", async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;

    let entries = read_log(&admin, &lock_log).await;
    if let Err(e) = check_mutex_log(&entries) {
        panic!("seed {seed}: {e}: {entries:?}");
    }
    let leaders = read_log(&admin, &leader_log).await;
    if let Err(e) = check_leader_log(&leaders) {
        panic!("seed {seed}: {e}: {leaders:?}");
    }
    let done = tenures.load(Ordering::SeqCst);
    eprintln!(
        "chaos seed {seed}: {done} tenures, {} lock entries, {} leader entries",
        entries.len(),
        leaders.len()
    );
    assert!(
        done > 0 && !leaders.is_empty(),
        "seed {seed}: nothing happened"
    );
    for client in clients {
        let _ = client.close().await;
    }
}

/// Ends a worker's session on the server (it renews it).
async fn end_session(cluster: &Arc<dyn Cluster>, proxy: &Proxy, client: &Client) {
    proxy.set_blocked(true);
    proxy.cut();
    if let Ok(twin) = Client::builder(cluster.connect_string())
        .session(client.session_id(), &client.session_password())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
    {
        let _ = twin.close().await;
    }
    proxy.set_blocked(false);
}

/// The log's entries in order: (czxid of the writer's node, text).
async fn read_log(client: &Client, dir: &str) -> Vec<(i64, String)> {
    let mut names = children(client, dir).await;
    names.sort();
    let mut entries = Vec::with_capacity(names.len());
    for name in names {
        let (data, _) = client.get_data(&format!("{dir}/{name}")).await.unwrap();
        let text = String::from_utf8(data.to_vec()).unwrap();
        let (czxid, what) = text.split_once(':').unwrap();
        entries.push((czxid.parse().unwrap(), what.to_string()));
    }
    entries
}

async fn lock_worker(
    client: Client,
    path: String,
    log_dir: String,
    stop: Arc<AtomicBool>,
    tenures: Arc<AtomicUsize>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mutex = Mutex::new(&client, &path).unwrap();
    while !stop.load(Ordering::SeqCst) {
        let guard = match mutex.acquire_timeout(Duration::from_millis(500)).await {
            Ok(Some(guard)) => guard,
            Ok(None) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let czxid = guard.token().czxid();
        let begin = entry(&log_dir, format!("{czxid}:begin"));
        if guard.fenced_multi(&[begin]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
            let end = entry(&log_dir, format!("{czxid}:end"));
            if guard.fenced_multi(&[end]).await.is_ok() {
                tenures.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(guard);
    }
}

async fn leader_worker(
    client: Client,
    path: String,
    log_dir: String,
    id: String,
    stop: Arc<AtomicBool>,
) {
    let latch = LeaderLatch::start(&client, &path, &id).unwrap();
    let mut states = latch.subscribe();
    while !stop.load(Ordering::SeqCst) {
        let state = states.borrow_and_update().clone();
        if let LatchState::Leader(token) = state {
            let write = entry(&log_dir, format!("{}:lead", token.czxid()));
            let _ = token.fenced_multi(&client, &[write]).await;
        }
        let _ = tokio::time::timeout(Duration::from_millis(30), states.changed()).await;
    }
    latch.close().await;
}

/// Mutual exclusion: tenures appear in czxid order, and an end closes the latest begin (a
/// tenure cut off before its end, its fenced end refused, is simply followed by a later one).
fn check_mutex_log(entries: &[(i64, String)]) -> Result<(), String> {
    let mut last = i64::MIN;
    let mut open = None;
    for (czxid, what) in entries {
        if *czxid < last {
            return Err(format!("tenure {czxid} wrote after tenure {last}"));
        }
        if what == "begin" {
            open = Some(*czxid);
        } else if open.take() != Some(*czxid) {
            return Err(format!("end of {czxid} outside its tenure"));
        }
        last = *czxid;
    }
    Ok(())
}

/// At most one leader per term: leader entries never go back to an older term.
fn check_leader_log(entries: &[(i64, String)]) -> Result<(), String> {
    match entries.windows(2).find(|pair| pair[0].0 > pair[1].0) {
        Some(pair) => Err(format!("term {} led after term {}", pair[1].0, pair[0].0)),
        None => Ok(()),
    }
}

#[test]
fn the_checkers_catch_overlaps() {
    let log = |items: &[(i64, &str)]| -> Vec<(i64, String)> {
        items.iter().map(|(c, w)| (*c, w.to_string())).collect()
    };
    assert!(check_mutex_log(&log(&[
        (1, "begin"),
        (1, "end"),
        (5, "begin"),
        (7, "begin"),
        (7, "end")
    ]))
    .is_ok());
    // Two holders interleaved.
    assert!(check_mutex_log(&log(&[(1, "begin"), (5, "begin"), (1, "end")])).is_err());
    assert!(check_mutex_log(&log(&[(5, "begin"), (5, "end"), (1, "begin")])).is_err());
    assert!(check_leader_log(&log(&[(1, "lead"), (1, "lead"), (4, "lead")])).is_ok());
    assert!(check_leader_log(&log(&[(1, "lead"), (4, "lead"), (1, "lead")])).is_err());
}
