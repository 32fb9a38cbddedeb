//! Measurements (ignored by default; run with `--ignored --nocapture`): mutex acquire/release
//! pairs per second uncontended and with 10 contending clients, Curator's InterProcessMutex
//! uncontended on the same server, and leader failover time after the leader's session ends.

use std::time::{Duration, Instant};

use zk_recipes::{LeaderLatch, Mutex};

use super::{clients, curator, end_session, proxied, server};
use crate::support::{unique_path, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn bench_locks_and_failover() {
    let Some(cluster) = server() else { return };
    let kind = format!("{:?}", crate::SERVER);
    let c = clients(&cluster, 10).await;

    let dir = unique_path("bench-uncontended");
    let mutex = Mutex::new(&c[0], &dir).unwrap();
    for _ in 0..20 {
        mutex.acquire().await.unwrap().release().await;
    }
    let pairs = 300;
    let start = Instant::now();
    for _ in 0..pairs {
        mutex.acquire().await.unwrap().release().await;
    }
    let uncontended = pairs as f64 / start.elapsed().as_secs_f64();

    let dir = unique_path("bench-contended");
    let per_client = 30;
    let start = Instant::now();
    let tasks: Vec<_> = c
        .clone()
        .into_iter()
        .map(|client| {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mutex = Mutex::new(&client, &dir).unwrap();
                for _ in 0..per_client {
                    mutex.acquire().await.unwrap().release().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let contended = (10 * per_client) as f64 / start.elapsed().as_secs_f64();

    let mut failovers = Vec::new();
    for _ in 0..5 {
        let (proxy, doomed) = proxied(&cluster).await;
        let dir = unique_path("bench-failover");
        let a = LeaderLatch::start(&doomed, &dir, "a").unwrap();
        a.wait_leader().await.unwrap();
        let b = LeaderLatch::start(&c[1], &dir, "b").unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        end_session(&cluster, &proxy, &doomed).await;
        within(20, "failover", b.wait_leader()).await.unwrap();
        failovers.push(start.elapsed());
        b.close().await;
        drop(a);
    }
    failovers.sort();

    let curator_rate = match curator::worker_classes() {
        Some(classes) => {
            let lines = curator::curator_worker(
                classes,
                "bench",
                cluster.connect_string(),
                unique_path("bench-curator"),
                "bench".into(),
                pairs,
            )
            .await;
            lines
                .iter()
                .find_map(|l| l.strip_prefix("RATE "))
                .map(|r| r.to_string())
                .unwrap_or_default()
        }
        None => "n/a".into(),
    };
    eprintln!(
        "[{kind}] mutex acquire+release/s: zk-recipes uncontended {uncontended:.0}, \
         10 clients contended {contended:.0}; Curator InterProcessMutex uncontended {curator_rate}; \
         latch failover after session end: median {:?}, max {:?}",
        failovers[failovers.len() / 2],
        failovers[failovers.len() - 1]
    );
}
