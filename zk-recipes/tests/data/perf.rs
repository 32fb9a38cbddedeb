//! Rough figures, printed (run with `--nocapture`): queue items per second and cache update
//! latency, with loose bounds so that a pathological slowdown fails.

use std::time::{Duration, Instant};

use zk_recipes::{LockingQueue, NodeCache, Queue};

use super::rounds;
use crate::support::{self, shared, unique_path, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_throughput() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let n = rounds(200);
    let base = unique_path("perf-queue");
    let queue = Queue::new(&client, &format!("{base}/q")).unwrap();
    let started = Instant::now();
    for i in 0..n {
        queue.put(format!("{i}").as_bytes()).await.unwrap();
    }
    let put = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..n {
        queue.try_take().await.unwrap().expect("an item");
    }
    let take = n as f64 / started.elapsed().as_secs_f64();
    let locking =
        LockingQueue::new(&client, &format!("{base}/l"), &format!("{base}/locks")).unwrap();
    for i in 0..n {
        locking.put(format!("{i}").as_bytes()).await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..n {
        locking
            .try_take()
            .await
            .unwrap()
            .expect("an item")
            .ack()
            .await
            .unwrap();
    }
    let acked = n as f64 / started.elapsed().as_secs_f64();
    eprintln!("queue, one client, {n} items: put {put:.0}/s, take {take:.0}/s, locking take+ack {acked:.0}/s");
    assert!(put > 20.0 && take > 5.0 && acked > 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_cache_update_latency() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let writer = support::connect(&cluster).await;
    let reader = support::connect(&cluster).await;
    let path = unique_path("perf-cache");
    writer
        .create(&path, b"0", &Default::default())
        .await
        .unwrap();
    let cache = NodeCache::start(&reader, &path).await.unwrap();
    let mut value = cache.watch();
    let mut latencies = Vec::new();
    for i in 1..=rounds(100) {
        let data = i.to_string();
        let started = Instant::now();
        writer.set_data(&path, data.as_bytes(), None).await.unwrap();
        within(
            10,
            "the update",
            value.wait_for(|v| v.as_ref().is_some_and(|n| n.data == data.as_bytes())),
        )
        .await
        .unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "node cache: setData to cache update, {} updates: p50 {p50:?}, p99 {p99:?}",
        latencies.len()
    );
    assert!(p99 < Duration::from_secs(2));
}
