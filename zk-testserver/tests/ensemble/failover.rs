//! Leader changes and partitions under load.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zk_client::SessionState;

use crate::support::{client, client_at, create_retrying, synced_read, three, within};

/// Writers keep creating nodes through a leader kill: every acknowledged create is on every
/// surviving member afterwards, no client loses its session, and the ensemble takes writes
/// again well within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_under_write_load_loses_no_acknowledged_write() {
    let mut ensemble = three().await;
    let writers = 4;
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..writers {
        clients.push(client(&ensemble).await);
    }
    let sessions: Vec<_> = clients.iter().map(|c| c.session_id()).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (w, c) in clients.iter().enumerate() {
        let (c, acked, stop) = (c.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = format!("/w{w}-{n}");
                create_retrying(&c, &path, b"x").await;
                acked.lock().unwrap().insert(path);
                n += 1;
            }
        }));
    }
    // Let some writes through, then kill the leader while they continue.
    within(10, "writes before the kill", async {
        while acked.lock().unwrap().len() < 50 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let old = ensemble.leader().expect("a leader");
    ensemble.kill(old);
    let killed = Instant::now();
    let before = acked.lock().unwrap().len();
    let new = ensemble
        .wait_for_leader(Duration::from_secs(5))
        .await
        .expect("a new leader");
    assert_ne!(new, old);
    within(10, "a write after the kill", async {
        while acked.lock().unwrap().len() <= before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let failover = killed.elapsed();
    // A few hundred more writes under the new leader.
    within(20, "writes after the kill", async {
        while acked.lock().unwrap().len() < before + 100 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        within(20, "a writer to stop", t).await.expect("writer");
    }
    eprintln!(
        "failover: {failover:?}; {} acknowledged creates",
        acked.lock().unwrap().len()
    );
    assert!(
        failover < Duration::from_secs(1),
        "leader kill to the next acknowledged write took {failover:?}"
    );
    for (c, s) in clients.iter().zip(&sessions) {
        assert_eq!(c.session_id(), *s);
        assert!(
            c.state().borrow().is_connected(),
            "{:?}",
            *c.state().borrow()
        );
    }
    // Every acknowledged create is on every surviving member.
    let acked = acked.lock().unwrap().clone();
    for id in ensemble.member_ids() {
        if id == old {
            continue;
        }
        let reader = client_at(ensemble.client_addr(id)).await;
        reader.sync("/").await.expect("sync");
        let children: BTreeSet<String> = reader
            .get_children("/")
            .await
            .expect("children")
            .into_iter()
            .map(|c| format!("/{c}"))
            .collect();
        let missing: Vec<_> = acked.difference(&children).collect();
        assert!(missing.is_empty(), "member {id} lacks {missing:?}");
        reader.close().await.unwrap();
    }
    // The killed member comes back and catches up.
    ensemble.restart(old).await.expect("restart");
    ensemble
        .wait_serving(old, Duration::from_secs(5))
        .await
        .expect("the old leader rejoins");
    let reader = client_at(ensemble.client_addr(old)).await;
    let last = acked.iter().next_back().unwrap();
    assert_eq!(synced_read(&reader, last).await.as_deref(), Some(&b"x"[..]));
    for c in clients {
        assert_ne!(*c.state().borrow(), SessionState::Expired);
        c.close().await.unwrap();
    }
}

/// A follower cut off from the others misses writes, and catches up once healed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_follower_catches_up_after_healing() {
    let mut ensemble = three().await;
    let leader = ensemble.leader().unwrap();
    let follower = *ensemble
        .member_ids()
        .iter()
        .find(|&&id| id != leader)
        .unwrap();
    let writer = client_at(ensemble.client_addr(leader)).await;
    create_retrying(&writer, "/before", b"1").await;
    ensemble.isolate(follower).await;
    for i in 0..20 {
        create_retrying(&writer, &format!("/during-{i}"), b"2").await;
    }
    // The majority still serves; the isolated follower stops serving (no read-only mode).
    ensemble
        .wait_for_leader(Duration::from_secs(5))
        .await
        .expect("the majority keeps a leader");
    ensemble.heal().await;
    ensemble
        .wait_serving(follower, Duration::from_secs(5))
        .await
        .expect("the follower rejoins");
    let reader = client_at(ensemble.client_addr(follower)).await;
    for i in 0..20 {
        assert_eq!(
            synced_read(&reader, &format!("/during-{i}"))
                .await
                .as_deref(),
            Some(&b"2"[..])
        );
    }
    assert_eq!(
        synced_read(&reader, "/before").await.as_deref(),
        Some(&b"1"[..])
    );
}

/// A write acknowledged by one member is visible on another after `sync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_read_on_another_member_sees_the_write() {
    let ensemble = three().await;
    let ids = ensemble.member_ids();
    for round in 0..10 {
        let (w, r) = (ids[round % 3], ids[(round + 1) % 3]);
        let writer = client_at(ensemble.client_addr(w)).await;
        let reader = client_at(ensemble.client_addr(r)).await;
        let path = format!("/seen-{round}");
        create_retrying(&writer, &path, b"v").await;
        writer.set_data(&path, b"v2", None).await.expect("set");
        assert_eq!(
            synced_read(&reader, &path).await.as_deref(),
            Some(&b"v2"[..]),
            "written on {w}, read on {r}"
        );
        writer.close().await.unwrap();
        reader.close().await.unwrap();
    }
}
