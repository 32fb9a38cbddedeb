//! Barrier and double barrier: blocking, timeouts, disconnects, 10 participants, and the
//! classic bugs (GH-1290 spurious wake-ups, CURATOR-318 timed enter, CURATOR-536 timed leave).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_recipes::{Barrier, DoubleBarrier};

use super::{disconnect, proxied, reconnect};
use crate::support::{self, shared, unique_path, within};

#[tokio::test]
async fn barrier_blocks_until_removed() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = format!("{}/gate", unique_path("barrier"));
    let barrier = Barrier::new(&client, &path).unwrap();
    // Not set: waiting returns at once.
    assert!(barrier.wait_timeout(Duration::from_secs(5)).await.unwrap());
    barrier.set().await.unwrap();
    barrier.set().await.unwrap();
    assert!(barrier.is_set().await.unwrap());
    assert!(!barrier
        .wait_timeout(Duration::from_millis(200))
        .await
        .unwrap());

    let other = support::connect(&cluster).await;
    let waiter = Barrier::new(&other, &path).unwrap();
    let waiting = tokio::spawn(async move { waiter.wait().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    barrier.remove().await.unwrap();
    within(10, "the waiter", waiting).await.unwrap().unwrap();
    barrier.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barrier_removed_while_the_waiter_is_disconnected() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let (proxy, client) = proxied(&cluster).await;
    let owner = support::connect(&cluster).await;
    let path = unique_path("barrier-disc");
    let barrier = Barrier::new(&owner, &path).unwrap();
    barrier.set().await.unwrap();
    let waiter = Barrier::new(&client, &path).unwrap();
    let waiting = tokio::spawn(async move { waiter.wait().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    disconnect(&proxy, &client).await;
    barrier.remove().await.unwrap();
    assert!(!waiting.is_finished());
    reconnect(&proxy, &client).await;
    within(10, "the waiter after the reconnect", waiting)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_with_ten_participants() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let path = unique_path("dbarrier");
    let started = Arc::new(AtomicUsize::new(0));
    let left = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = support::connect(&cluster).await;
        let (path, started, left) = (path.clone(), started.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut barrier = DoubleBarrier::new(&client, &path, 10).unwrap();
            tokio::time::sleep(Duration::from_millis(i * 20)).await;
            started.fetch_add(1, Ordering::SeqCst);
            barrier.enter().await.unwrap();
            // Nobody gets in before everyone has arrived.
            assert_eq!(started.load(Ordering::SeqCst), 10);
            tokio::time::sleep(Duration::from_millis(i * 10)).await;
            left.fetch_add(1, Ordering::SeqCst);
            barrier.leave().await.unwrap();
            // Nobody gets out before everyone has started leaving.
            assert_eq!(left.load(Ordering::SeqCst), 10);
            client
        }));
    }
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(within(60, "a participant", task).await.unwrap());
    }
    // Everything of the round is gone (the directory is a container).
    assert_eq!(
        clients[0].get_children(&path).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_ignores_wake_ups_that_do_not_fill_it() {
    if !support::available() {
        return;
    }
    // GH-1290: a participant must not pass on a wake-up (a reconnect, an unrelated change)
    // while the barrier is not full.
    let cluster = shared();
    let (proxy, client) = proxied(&cluster).await;
    let path = unique_path("dbarrier-spurious");
    let mut first = DoubleBarrier::new(&client, &path, 3).unwrap();
    let entering = tokio::spawn(async move {
        first.enter().await.unwrap();
        first
    });
    let second_client = support::connect(&cluster).await;
    let mut second = DoubleBarrier::new(&second_client, &path, 3).unwrap();
    let entering2 = tokio::spawn(async move {
        second.enter().await.unwrap();
        second
    });
    within(10, "two members", async {
        while second_client
            .get_children(&path)
            .await
            .map_or(0, |c| c.len())
            < 2
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    for _ in 0..3 {
        disconnect(&proxy, &client).await;
        reconnect(&proxy, &client).await;
    }
    // An unrelated child coming and going.
    let noise = format!("{path}/noise");
    let persistent = zk_client::CreateOptions::default();
    second_client
        .create(&noise, b"", &persistent)
        .await
        .unwrap();
    second_client.delete(&noise, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!entering.is_finished() && !entering2.is_finished());

    let third_client = support::connect(&cluster).await;
    let mut third = DoubleBarrier::new(&third_client, &path, 3).unwrap();
    third.enter().await.unwrap();
    let mut first = within(10, "first enters", entering).await.unwrap();
    let mut second = within(10, "second enters", entering2).await.unwrap();
    let (a, b, c) = tokio::join!(first.leave(), second.leave(), third.leave());
    a.unwrap();
    b.unwrap();
    c.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_timed_enter_and_leave_end() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let a = support::connect(&cluster).await;
    let b = support::connect(&cluster).await;
    let path = unique_path("dbarrier-timed");
    // CURATOR-318: two of three arrive; both time out, agree, and leave nothing behind.
    let mut first = DoubleBarrier::new(&a, &path, 3).unwrap();
    let mut second = DoubleBarrier::new(&b, &path, 3).unwrap();
    let (x, y) = tokio::join!(
        first.enter_timeout(Duration::from_millis(300)),
        second.enter_timeout(Duration::from_millis(500)),
    );
    assert_eq!((x.unwrap(), y.unwrap()), (false, false));
    a.sync(&path).await.unwrap();
    assert!(a.get_children(&path).await.unwrap().is_empty());

    // CURATOR-536: a timed leave returns even if another member never leaves.
    let mut first = DoubleBarrier::new(&a, &path, 2).unwrap();
    let mut second = DoubleBarrier::new(&b, &path, 2).unwrap();
    let (x, y) = tokio::join!(first.enter(), second.enter());
    x.unwrap();
    y.unwrap();
    let left = within(
        10,
        "timed leave",
        first.leave_timeout(Duration::from_millis(300)),
    )
    .await;
    assert!(!left.unwrap());
    // The member that stayed can still leave: it is alone now.
    within(10, "the other leaves", second.leave())
        .await
        .unwrap();
    a.sync(&path).await.unwrap();
    assert!(a.get_children(&path).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_barrier_counts_a_member_that_timed_out_after_the_count() {
    if !support::available() {
        return;
    }
    // CURATOR-318: when the count completes with a member whose timeout fires at the same
    // moment, that member reports that it entered, like everyone else.
    let cluster = shared();
    let a = support::connect(&cluster).await;
    let b = support::connect(&cluster).await;
    let path = unique_path("dbarrier-race");
    for round in 0..5u64 {
        let round_path = format!("{path}/{round}");
        let mut first = DoubleBarrier::new(&a, &round_path, 2).unwrap();
        let mut second = DoubleBarrier::new(&b, &round_path, 2).unwrap();
        let late = async {
            tokio::time::sleep(Duration::from_millis(40 + round * 5)).await;
            second.enter_timeout(Duration::from_millis(300)).await
        };
        let (x, y) = tokio::join!(first.enter_timeout(Duration::from_millis(50)), late);
        let (x, y) = (x.unwrap(), y.unwrap());
        // Either both entered or neither did, never one alone.
        assert_eq!(x, y, "round {round}: only one entered");
        if x {
            let (l1, l2) = tokio::join!(first.leave(), second.leave());
            l1.unwrap();
            l2.unwrap();
        }
        assert!(a
            .get_children(&round_path)
            .await
            .unwrap_or_default()
            .is_empty());
    }
}
