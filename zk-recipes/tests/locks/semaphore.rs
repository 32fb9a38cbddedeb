//! The semaphore: the permit bound under contention, no orphaned leases (CURATOR-315/335/462),
//! LOST frees permits (CURATOR-595), a foreign persistent node is not a lease.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_client::CreateOptions;
use zk_recipes::Semaphore;

use super::{children, clients, end_session, eventually, is_protected, proxied, server};
use crate::support::{unique_path, within};

#[tokio::test]
async fn at_most_max_leases_under_contention() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 10).await;
    let dir = unique_path("sem-contention");
    let max = 3;
    let holding = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for client in c.clone() {
        let dir = dir.clone();
        let (holding, peak) = (holding.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let sem = Semaphore::new(&client, &dir, max).unwrap();
            for _ in 0..3 {
                let lease = sem.acquire().await.unwrap();
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                holding.fetch_sub(1, Ordering::SeqCst);
                lease.release().await;
            }
        }));
    }
    within(60, "10 clients through a semaphore of 3", async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= max, "{peak} leases at once");
    assert!(peak >= 2, "the semaphore never let two in at once ({peak})");
    assert!(children(&c[0], &format!("{dir}/leases")).await.is_empty());
}

#[tokio::test]
async fn failed_acquires_leave_no_lease_and_lost_sessions_free_theirs() {
    let Some(cluster) = server() else { return };
    let (proxy, doomed) = proxied(&cluster).await;
    let c = clients(&cluster, 2).await;
    let dir = unique_path("sem-orphans");
    let leases = format!("{dir}/leases");
    let held = Semaphore::new(&doomed, &dir, 1)
        .unwrap()
        .acquire()
        .await
        .unwrap();
    let name = held.token().path().rsplit('/').next().unwrap().to_string();
    assert!(is_protected(&name, "lease-"), "{name}");
    let sem = Semaphore::new(&c[0], &dir, 1).unwrap();
    // Timeouts, try-acquires and cancelled acquires return their lease (CURATOR-315/335/462).
    for _ in 0..3 {
        assert!(sem.try_acquire().await.unwrap().is_none());
        assert!(sem
            .acquire_timeout(Duration::from_millis(100))
            .await
            .unwrap()
            .is_none());
        let cancelled = tokio::time::timeout(Duration::from_millis(100), sem.acquire()).await;
        assert!(cancelled.is_err());
    }
    eventually(10, "only the holder's lease", || async {
        children(&c[0], &leases).await.len() == 1
    })
    .await;
    assert_eq!(sem.live_leases().await.unwrap(), 1);
    // A waiter gets the permit once the holder's session is lost (CURATOR-595).
    let waiter = tokio::spawn({
        let sem = Semaphore::new(&c[1], &dir, 1).unwrap();
        async move { sem.acquire().await }
    });
    end_session(&cluster, &proxy, &doomed).await;
    let lease = within(20, "the permit of a lost session", waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.token().session(), c[1].session_id());
    drop(held);
    lease.release().await;
    eventually(10, "no lease left", || async {
        children(&c[0], &leases).await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_persistent_node_in_leases_is_not_a_lease() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 1).await;
    let dir = unique_path("sem-foreign");
    c[0].create_all(
        &format!("{dir}/leases/junk"),
        b"",
        &CreateOptions::default(),
    )
    .await
    .unwrap();
    let sem = Semaphore::new(&c[0], &dir, 1).unwrap();
    let lease = within(10, "a lease beside a persistent node", sem.try_acquire())
        .await
        .unwrap()
        .expect("the persistent node takes no permit");
    assert!(sem.try_acquire().await.unwrap().is_none());
    lease.release().await;
}
