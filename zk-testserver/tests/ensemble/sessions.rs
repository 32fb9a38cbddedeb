//! Sessions are ensemble-wide: they move between members, and expire everywhere.

use std::time::Duration;

use zk_client::{CreateMode, CreateOptions, EventType, SessionState};
use zk_testserver::Ensemble;

use crate::support::{
    client, client_at, create_retrying, init_tracing, synced_read, three, within,
};

/// A client whose member drops its connection (and then dies) resumes the same session on
/// another member; its ephemeral node and its pending watch survive the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_between_members() {
    let mut ensemble = three().await;
    let c = client(&ensemble).await;
    let session = c.session_id();
    let eph = CreateOptions::new(CreateMode::Ephemeral);
    c.create("/mine", b"", &eph).await.expect("ephemeral");
    let first = ensemble
        .member_of_session(session.0)
        .await
        .expect("the client's member");
    ensemble.drop_connections(first).await;
    within(10, "reconnected", async {
        let mut state = c.state();
        state.wait_for(|s| s.is_connected()).await.expect("state");
    })
    .await;
    assert_eq!(c.session_id(), session);
    // Kill whatever member holds it now: it moves again.
    let now_on = within(10, "the session's member", async {
        loop {
            if let Some(id) = ensemble.member_of_session(session.0).await {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    ensemble.kill(now_on);
    ensemble
        .wait_for_leader(Duration::from_secs(5))
        .await
        .expect("a leader");
    create_retrying(&c, "/after-move", b"").await;
    assert_eq!(c.session_id(), session);
    let moved_to = ensemble
        .member_of_session(session.0)
        .await
        .expect("connected somewhere");
    assert_ne!(moved_to, now_on);
    assert!(synced_read(&c, "/mine").await.is_some());
    assert_ne!(*c.state().borrow(), SessionState::Expired);
}

/// Expiring a session on the server removes its ephemerals on every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_vanish_everywhere_on_expiry() {
    let ensemble = three().await;
    let owner = client(&ensemble).await;
    let eph = CreateOptions::new(CreateMode::Ephemeral);
    for i in 0..5 {
        owner
            .create(&format!("/eph{i}"), b"", &eph)
            .await
            .expect("ephemeral");
    }
    let readers = {
        let mut r = Vec::new();
        for id in ensemble.member_ids() {
            r.push(client_at(ensemble.client_addr(id)).await);
        }
        r
    };
    for r in &readers {
        assert!(synced_read(r, "/eph0").await.is_some());
    }
    assert!(ensemble.expire_session(owner.session_id().0).await);
    within(10, "the owner expired", async {
        let mut state = owner.state();
        state
            .wait_for(|s| *s == SessionState::Expired)
            .await
            .expect("state");
    })
    .await;
    for (r, id) in readers.iter().zip(ensemble.member_ids()) {
        for i in 0..5 {
            assert_eq!(
                synced_read(r, &format!("/eph{i}")).await,
                None,
                "member {id} still has /eph{i}"
            );
        }
    }
    // Expiring an unknown session says so.
    assert!(!ensemble.expire_session(0x7777).await);
}

/// The window behind Curator's double-leader bugs, made on purpose: after the leader expires a
/// session, a follower that hears the leader late still serves the session's ephemeral node
/// (owned by a session that is gone) until the close reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_follower_still_shows_an_expired_sessions_ephemeral() {
    init_tracing();
    // Default timeouts: a one-way delay of 1 s stays inside the 1.5 s sync limit.
    let mut ensemble = Ensemble::builder()
        .members(3)
        .start()
        .await
        .expect("the ensemble starts");
    let leader = ensemble.leader().expect("a leader");
    let others: Vec<_> = ensemble
        .member_ids()
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    let (lagging, other) = (others[0], others[1]);
    let owner = client_at(ensemble.client_addr(other)).await;
    owner
        .create("/lock", b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("ephemeral");
    let reader = client_at(ensemble.client_addr(lagging)).await;
    assert!(synced_read(&reader, "/lock").await.is_some());
    let at_leader = client_at(ensemble.client_addr(leader)).await;
    ensemble
        .slow_link_one_way(leader, lagging, Duration::from_secs(1))
        .await;
    let session = owner.session_id().0;
    assert!(ensemble.expire_session(session).await);
    within(5, "the close applied on the leader", async {
        while at_leader.exists("/lock").await.expect("exists").is_some() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let (stat, gone) = reader.exists_and_watch("/lock").await.expect("exists");
    let stat = stat.expect("still readable on the lagging follower");
    assert_eq!(
        stat.ephemeral_owner, session,
        "owned by the expired session"
    );
    let event = within(10, "the close reaching the follower", gone.changed()).await;
    assert_eq!(event.event_type, EventType::NodeDeleted);
    ensemble.heal().await;
}
