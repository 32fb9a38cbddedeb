//! SharedCount and AtomicValue: layouts, compare-and-set, contention, reconnects, faults.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use zk_recipes::{AtomicValue, SharedCount};

use super::{disconnect, proxied, reconnect, rounds, seed};
use crate::support::{self, shared, unique_path, within};

#[tokio::test]
async fn shared_count_layout_and_compare_and_set() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let a = support::connect(&cluster).await;
    let b = support::connect(&cluster).await;
    let path = format!("{}/count", unique_path("count"));
    let first = SharedCount::start(&a, &path, 7).await.unwrap();
    let second = SharedCount::start(&b, &path, 99).await.unwrap();
    // The seed of the first start wins; the node holds a 4-byte big-endian int.
    assert_eq!((first.count(), second.count()), (7, 7));
    assert_eq!(&a.get_data(&path).await.unwrap().0[..], &7i32.to_be_bytes());

    let seen = second.versioned();
    let mut changes = second.changes();
    assert!(first.try_set_count(&first.versioned(), 8).await.unwrap());
    within(
        10,
        "the other handle sees 8",
        changes.wait_for(|v| v.value == 8),
    )
    .await
    .unwrap();
    // A stale version loses, and the loser learns the new value.
    assert!(!second.try_set_count(&seen, 100).await.unwrap());
    assert_eq!(second.count(), 8);
    assert_eq!(second.add(5).await.unwrap(), 13);
    second.set_count(-2).await.unwrap();
    a.sync(&path).await.unwrap();
    assert_eq!(
        &a.get_data(&path).await.unwrap().0[..],
        &(-2i32).to_be_bytes()
    );

    // Bad data is reported, not misread.
    a.set_data(&path, b"xyz", None).await.unwrap();
    let bad = SharedCount::start(&a, &path, 0).await;
    assert!(
        matches!(bad, Err(zk_recipes::Error::BadData { .. })),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_count_exact_under_contention() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let path = unique_path("count-contended");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = support::connect(&cluster).await;
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let count = SharedCount::start(&client, &path, 0).await.unwrap();
            for _ in 0..15 {
                count.add(1).await.unwrap();
            }
        }));
    }
    for task in tasks {
        within(60, "incrementing", task).await.unwrap();
    }
    let client = support::connect(&cluster).await;
    client.sync(&path).await.unwrap();
    let (data, stat) = client.get_data(&path).await.unwrap();
    assert_eq!(&data[..], &150i32.to_be_bytes());
    // One version per successful increment, as with Curator.
    assert_eq!(stat.version, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_count_rereads_after_a_reconnect() {
    if !support::available() {
        return;
    }
    // CURATOR-311: a value changed while we were disconnected must show up after the
    // reconnect.
    let cluster = shared();
    let (proxy, client) = proxied(&cluster).await;
    let other = support::connect(&cluster).await;
    let path = unique_path("count-reconnect");
    let count = SharedCount::start(&client, &path, 1).await.unwrap();
    let mut changes = count.changes();
    disconnect(&proxy, &client).await;
    let writer = SharedCount::start(&other, &path, 0).await.unwrap();
    writer.set_count(42).await.unwrap();
    reconnect(&proxy, &client).await;
    within(
        10,
        "the value written while disconnected",
        changes.wait_for(|v| v.value == 42),
    )
    .await
    .unwrap();
    assert_eq!(count.count(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_value_layout_cas_and_contention() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = format!("{}/deep/value", unique_path("atomic"));
    let value = AtomicValue::new(&client, &path).unwrap();
    assert_eq!(value.get().await.unwrap(), 0);
    assert!(value.initialize(10).await.unwrap());
    assert!(!value.initialize(11).await.unwrap());
    let lost = value.compare_and_set(3, 4).await.unwrap();
    assert!(!lost.succeeded);
    assert_eq!(lost.post_value, 10);
    let won = value.compare_and_set(10, 4).await.unwrap();
    assert!(won.succeeded);
    assert_eq!((won.pre_value, won.post_value), (10, 4));
    assert_eq!(value.decrement().await.unwrap().post_value, 3);
    assert_eq!(value.try_set(-9).await.unwrap().post_value, -9);
    assert_eq!(
        &client.get_data(&path).await.unwrap().0[..],
        &(-9i64).to_be_bytes()
    );

    let path2 = unique_path("atomic-contended");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = support::connect(&cluster).await;
        let path = path2.clone();
        tasks.push(tokio::spawn(async move {
            let value = AtomicValue::new(&client, &path).unwrap();
            for _ in 0..15 {
                assert!(value.increment().await.unwrap().succeeded);
            }
        }));
    }
    for task in tasks {
        within(60, "incrementing", task).await.unwrap();
    }
    assert_eq!(
        AtomicValue::new(&client, &path2)
            .unwrap()
            .get()
            .await
            .unwrap(),
        150
    );
    // The write markers are all cleaned up.
    within(10, "markers deleted", async {
        while !client.get_children(&path2).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_value_exact_under_random_connection_cuts() {
    if !support::available() {
        return;
    }
    // Every increment that reports success applied exactly once, even when its reply was
    // lost to a cut connection.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let cluster = shared();
    let path = unique_path("atomic-faults");
    let per_client = rounds(25);
    let mut proxies = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (proxy, client) = proxied(&cluster).await;
        proxies.push(proxy);
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let value = AtomicValue::new(&client, &path).unwrap();
            let mut applied = 0u64;
            for _ in 0..per_client {
                if value.increment().await.unwrap().succeeded {
                    applied += 1;
                }
            }
            applied
        }));
    }
    let cutter = async {
        while !tasks.iter().all(|t| t.is_finished()) {
            let pause = rng.random_range(20..120);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let victim = rng.random_range(0..proxies.len());
            proxies[victim].cut();
        }
    };
    within(120, "the fault schedule", cutter).await;
    let mut applied = 0;
    for task in tasks {
        applied += task.await.unwrap();
    }
    let client = support::connect(&cluster).await;
    let total = AtomicValue::new(&client, &path)
        .unwrap()
        .get()
        .await
        .unwrap();
    assert_eq!(total as u64, applied);
    assert_eq!(applied, 4 * per_client as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_count_under_random_connection_cuts() {
    if !support::available() {
        return;
    }
    // Plain compare-and-set (Curator's SharedCount layout has no marker): an increment whose
    // reply was lost while the count moved on is reported as an error, never as a success
    // or a failure it was not. So the count is the confirmed increments plus at most the
    // ambiguous ones.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let cluster = shared();
    let path = unique_path("count-faults");
    let per_client = rounds(25);
    let mut proxies = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (proxy, client) = proxied(&cluster).await;
        proxies.push(proxy);
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let count = SharedCount::start(&client, &path, 0).await.unwrap();
            let (mut confirmed, mut ambiguous) = (0i64, 0i64);
            for _ in 0..per_client {
                match count.add(1).await {
                    Ok(_) => confirmed += 1,
                    Err(zk_recipes::Error::Client(e)) if e.is_retryable() => ambiguous += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (confirmed, ambiguous)
        }));
    }
    let cutter = async {
        while !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..120))).await;
            let victim = rng.random_range(0..proxies.len());
            proxies[victim].cut();
        }
    };
    within(120, "the fault schedule", cutter).await;
    let (mut confirmed, mut ambiguous) = (0, 0);
    for task in tasks {
        let (c, a) = task.await.unwrap();
        confirmed += c;
        ambiguous += a;
    }
    let client = support::connect(&cluster).await;
    client.sync(&path).await.unwrap();
    let (data, _) = client.get_data(&path).await.unwrap();
    let total = i64::from(i32::from_be_bytes(data[..].try_into().unwrap()));
    eprintln!("{confirmed} confirmed, {ambiguous} ambiguous, count {total}");
    assert!(
        total >= confirmed && total <= confirmed + ambiguous,
        "{total} outside {confirmed}..={}",
        confirmed + ambiguous
    );
}
