//! One-way link faults: asymmetric partitions (a member that still hears the others while
//! they no longer hear it) and one-way delays.

use std::time::{Duration, Instant};

use crate::support::{client_at, create_retrying, synced_read, three, within};

/// The leader's messages are lost on the way to both followers while it still hears them:
/// the followers elect a new leader among themselves and take writes; after healing, the old
/// leader rejoins and has every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_nobody_hears_is_replaced() {
    let mut ensemble = three().await;
    let old = ensemble.leader().expect("a leader");
    let followers: Vec<u64> = ensemble
        .member_ids()
        .into_iter()
        .filter(|&id| id != old)
        .collect();
    let c = client_at(ensemble.client_addr(followers[0])).await;
    create_retrying(&c, "/before", b"1").await;
    for &f in &followers {
        ensemble.cut_one_way(old, f).await;
    }
    let new = within(10, "a leader the followers hear", async {
        loop {
            if let Some(l) = ensemble.leader().filter(|l| followers.contains(l)) {
                return l;
            }
            let _ = ensemble.wait_for_leader(Duration::from_millis(50)).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_ne!(new, old);
    for i in 0..5 {
        create_retrying(&c, &format!("/during-{i}"), b"2").await;
    }
    ensemble.heal().await;
    ensemble
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("every member serves after healing");
    let back = client_at(ensemble.client_addr(old)).await;
    assert_eq!(
        synced_read(&back, "/during-4").await.as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(
        synced_read(&back, "/before").await.as_deref(),
        Some(&b"1"[..])
    );
}

/// A one-way delay holds what the leader sends one follower: a write through that follower
/// is answered only after the delay (its commit arrives late), the follower keeps its leader,
/// and healing restores the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_delay_holds_the_leaders_messages() {
    let mut ensemble = three().await;
    let leader = ensemble.leader().expect("a leader");
    let follower = ensemble
        .member_ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let c = client_at(ensemble.client_addr(follower)).await;
    create_retrying(&c, "/warm", b"").await;
    // Below the fast timeouts' 150 ms sync limit, so the follower keeps its leader.
    let delay = Duration::from_millis(100);
    ensemble.slow_link_one_way(leader, follower, delay).await;
    let started = Instant::now();
    create_retrying(&c, "/slow", b"").await;
    // The commit reaches the follower (which answers its client) only after the delay.
    assert!(
        started.elapsed() >= delay,
        "a write through the follower took {:?}",
        started.elapsed()
    );
    ensemble.heal().await;
    create_retrying(&c, "/healed", b"").await;
    assert_eq!(synced_read(&c, "/healed").await.as_deref(), Some(&b""[..]));
}
