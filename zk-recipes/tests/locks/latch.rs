//! The leader latch: one leader, hand-over, connection policy, recreation, expiry.

use std::time::Duration;

use zk_recipes::{ConnectionPolicy, Error, LatchState, LeaderLatch};

use super::{children, clients, end_session, eventually, is_protected, proxied, server};
use crate::support::{unique_path, within};

/// Waits until exactly one of `latches` leads; returns its index.
async fn one_leader(latches: &[LeaderLatch]) -> usize {
    within(20, "exactly one leader", async {
        loop {
            let leaders: Vec<usize> = (0..latches.len())
                .filter(|&i| latches[i].is_leader())
                .collect();
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(leaders.len() <= 1, "two leaders: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn one_leader_among_five_and_hand_over() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 5).await;
    let dir = unique_path("latch");
    let mut latches: Vec<Option<LeaderLatch>> = c
        .iter()
        .enumerate()
        .map(|(i, client)| Some(LeaderLatch::start(client, &dir, &format!("p{i}")).unwrap()))
        .collect();
    let mut led = Vec::new();
    for _ in 0..5 {
        let leader = within(20, "a leader", async {
            loop {
                let leaders: Vec<usize> = latches
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.as_ref().is_some_and(|l| l.is_leader()))
                    .map(|(i, _)| i)
                    .collect();
                assert!(leaders.len() <= 1, "two leaders: {leaders:?}");
                if let [leader] = leaders[..] {
                    return leader;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let latch = latches[leader].take().unwrap();
        // The leader's node sorts first, carries the id, and is ours.
        let token = latch.token().expect("leading");
        let ids = latch.participants().await.unwrap();
        assert_eq!(ids[0], format!("p{leader}"));
        let (data, stat) = c[leader].get_data(token.path()).await.unwrap();
        assert_eq!(&data[..], format!("p{leader}").as_bytes());
        assert_eq!(stat.ephemeral_owner, c[leader].session_id().0);
        let name = token.path().rsplit('/').next().unwrap();
        assert!(is_protected(name, "latch-"), "{name}");
        led.push(leader);
        latch.close().await;
    }
    led.sort();
    assert_eq!(led, [0, 1, 2, 3, 4]);
    assert!(children(&c[0], &dir).await.is_empty());
}

#[tokio::test]
async fn suspension_drops_leadership_and_reconnection_keeps_the_node() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = proxied(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("latch-suspend");
    let latch = LeaderLatch::start(&client, &dir, "a").unwrap();
    let token = within(10, "leadership", latch.wait_leader()).await.unwrap();
    let follower = LeaderLatch::start(&other, &dir, "b").unwrap();
    eventually(10, "two participants", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    let mut states = latch.subscribe();
    proxy.set_blocked(true);
    proxy.cut();
    // Standard policy: Suspended means not leader, at once.
    within(10, "leadership dropped on suspension", async {
        states
            .wait_for(|s| *s == LatchState::Follower)
            .await
            .unwrap();
    })
    .await;
    assert!(
        !follower.is_leader(),
        "the node still exists: no one else leads"
    );
    proxy.set_blocked(false);
    // Reconnected: the same node is re-checked, not recreated (CURATOR-644/645).
    let again = within(20, "leadership again", latch.wait_leader())
        .await
        .unwrap();
    assert_eq!(again.path(), token.path());
    assert!(!follower.is_leader());
    latch.close().await;
    within(10, "the follower leads", follower.wait_leader())
        .await
        .unwrap();
    follower.close().await;
}

#[tokio::test]
async fn session_policy_keeps_leadership_through_a_short_disconnect() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = proxied(&cluster).await;
    let dir = unique_path("latch-session-policy");
    let latch =
        LeaderLatch::start_with_policy(&client, &dir, "a", ConnectionPolicy::Session).unwrap();
    let token = within(10, "leadership", latch.wait_leader()).await.unwrap();
    let mut state = client.state();
    proxy.set_blocked(true);
    proxy.cut();
    within(10, "disconnected", async {
        state
            .wait_for(|s| *s == zk_client::SessionState::Disconnected)
            .await
            .unwrap();
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(latch.token(), Some(token.clone()));
    proxy.set_blocked(false);
    within(10, "connected", async {
        state
            .wait_for(|s| *s == zk_client::SessionState::Connected)
            .await
            .unwrap();
    })
    .await;
    assert_eq!(latch.token(), Some(token));
    latch.close().await;
}

#[tokio::test]
async fn a_deleted_latch_node_or_directory_is_recreated() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("latch-recreate");
    let latch = LeaderLatch::start(&c[0], &dir, "a").unwrap();
    let first = within(10, "leadership", latch.wait_leader()).await.unwrap();
    let mut states = latch.subscribe();
    states.borrow_and_update();
    // An operator deletes the leader's node: leadership ends, the latch joins again.
    c[1].delete(first.path(), None).await.unwrap();
    let second = within(10, "leadership with a new node", async {
        loop {
            states.changed().await.unwrap();
            if let LatchState::Leader(token) = &*states.borrow() {
                return token.clone();
            }
        }
    })
    .await;
    assert_ne!(second.path(), first.path());
    // The whole latch directory goes (CURATOR-724).
    c[1].delete(second.path(), None).await.unwrap();
    let _ = c[1].delete(&dir, None).await;
    let third = within(10, "leadership after the directory went", async {
        loop {
            states.changed().await.unwrap();
            if let LatchState::Leader(token) = &*states.borrow() {
                return token.clone();
            }
        }
    })
    .await;
    assert_ne!(third.path(), second.path());
    c[1].sync(third.path()).await.unwrap();
    assert!(c[1].exists(third.path()).await.unwrap().is_some());
    latch.close().await;
}

#[tokio::test]
async fn an_expired_leader_is_replaced_and_fenced_off() {
    let Some(cluster) = server() else { return };
    let (proxy, doomed) = proxied(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("latch-expiry");
    let a = LeaderLatch::start(&doomed, &dir, "a").unwrap();
    let old = within(10, "a leads", a.wait_leader()).await.unwrap();
    let b = LeaderLatch::start(&other, &dir, "b").unwrap();
    eventually(10, "two participants", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    end_session(&cluster, &proxy, &doomed).await;
    let new = within(20, "b leads", b.wait_leader()).await.unwrap();
    assert!(new.czxid() > old.czxid());
    // The old leader's session is gone for good: its latch closes.
    within(20, "a closes", async {
        let mut state = a.subscribe();
        state.wait_for(|s| *s == LatchState::Closed).await.unwrap();
    })
    .await;
    assert!(matches!(a.wait_leader().await, Err(Error::RecipeClosed)));
    // Its token no longer fences anything.
    let refused = old.fenced_multi(&other, &[]).await;
    assert!(matches!(refused, Err(Error::Fenced { .. })), "{refused:?}");
    let leaders = [b];
    assert_eq!(one_leader(&leaders).await, 0);
    let [b] = leaders;
    b.close().await;
}
