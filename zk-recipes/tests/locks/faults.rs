//! Classic bugs as scenarios: a create whose reply is lost (protected mode; zk-testserver's
//! apply-then-drop-reply fault), and a renewed session whose old ephemerals are still there
//! (CURATOR-604 for the mutex, CURATOR-696 for the latch; on both servers: a second
//! connection keeps the old session alive on the server after the client gave it up).

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Client, CreateOptions, SessionEvent};
use zk_recipes::{LatchState, LeaderLatch, Mutex, Semaphore};
use zk_testserver::TestServer;

use super::{children, clients, eventually, server};
use crate::support::{self, proxy::Proxy, unique_path, within, Cluster, ServerKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_reply_is_found_by_protected_mode() {
    if crate::SERVER != ServerKind::Rust {
        return; // the fault is zk-testserver's
    }
    support::init_tracing();
    let server = TestServer::builder().start().await.unwrap();
    let admin = Client::connect(&server.connect_string()).await.unwrap();
    let client = Client::connect(&server.connect_string()).await.unwrap();
    let session = client.session_id().0;
    let dir = "/lost-reply";
    admin
        .create_all(&format!("{dir}/sem/locks"), b"", &CreateOptions::default())
        .await
        .unwrap();
    for recipe in ["mutex", "latch", "semaphore"] {
        // The next write of the session (the contender's create) applies, its reply is lost.
        assert!(server.drop_next_reply(session).await);
        let path = format!("{dir}/{recipe}");
        match recipe {
            "mutex" => {
                admin
                    .create(&path, b"", &CreateOptions::default())
                    .await
                    .unwrap();
                let mutex = Mutex::new(&client, &path).unwrap();
                let guard = within(20, "acquire", mutex.acquire()).await.unwrap();
                assert_eq!(children(&admin, &path).await.len(), 1);
                guard.release().await;
            }
            "latch" => {
                admin
                    .create(&path, b"", &CreateOptions::default())
                    .await
                    .unwrap();
                let latch = LeaderLatch::start(&client, &path, "a").unwrap();
                within(20, "leadership", latch.wait_leader()).await.unwrap();
                assert_eq!(children(&admin, &path).await.len(), 1);
                latch.close().await;
            }
            _ => {
                let sem = Semaphore::new(&client, &format!("{dir}/sem"), 1).unwrap();
                let lease = within(20, "a lease", sem.acquire()).await.unwrap();
                assert_eq!(children(&admin, &format!("{dir}/sem/locks")).await.len(), 0);
                assert_eq!(
                    children(&admin, &format!("{dir}/sem/leases")).await.len(),
                    1
                );
                lease.release().await;
            }
        }
        assert!(children(&admin, &path).await.is_empty(), "{recipe}");
    }
}

/// A client (through a proxy) that renews its session on expiry, with the shortest session
/// the servers grant (4 s).
async fn renewing(cluster: &Arc<dyn Cluster>) -> (Proxy, Client) {
    support::init_tracing();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(4))
        .renew_session_on_expiry(true)
        .connect()
        .await
        .unwrap();
    (proxy, client)
}

/// Cuts `client` off until it gives its session up and renews it, while a second connection
/// keeps the old session alive on the server (as a lagging server would keep showing its
/// ephemerals). Returns that second connection: closing it ends the old session.
async fn renew_keeping_the_old_session(
    cluster: &Arc<dyn Cluster>,
    proxy: &Proxy,
    client: &Client,
) -> Client {
    let mut events = client.events();
    proxy.set_blocked(true);
    proxy.cut();
    let keeper = Client::builder(cluster.connect_string())
        .session(client.session_id(), &client.session_password())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .await
        .expect("keep the old session");
    within(20, "the client gives its session up", async {
        while !matches!(events.next().await, Some(SessionEvent::Lost { .. })) {}
    })
    .await;
    proxy.set_blocked(false);
    within(20, "a new session", async {
        while !matches!(events.next().await, Some(SessionEvent::NewSession { .. })) {}
    })
    .await;
    keeper
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_session_never_acquires_on_its_old_node() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = renewing(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("renewed-mutex");
    let holder = Mutex::new(&other, &dir).unwrap().acquire().await.unwrap();
    let old_session = client.session_id();
    let waiting = tokio::spawn({
        let mutex = Mutex::new(&client, &dir).unwrap();
        async move { mutex.acquire().await }
    });
    eventually(10, "the waiter queued", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    let old_node = children(&other, &dir)
        .await
        .into_iter()
        .find(|n| n != holder.token().path().rsplit('/').next().unwrap())
        .unwrap();
    let keeper = renew_keeping_the_old_session(&cluster, &proxy, &client).await;
    assert_ne!(client.session_id(), old_session);
    // The old session's node is still there and next in line when the holder leaves.
    holder.release().await;
    let guard = within(20, "the lock in the new session", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guard.token().session(), client.session_id());
    assert!(!guard.token().path().ends_with(&old_node));
    other.sync(guard.token().path()).await.unwrap();
    let (_, stat) = other.get_data(guard.token().path()).await.unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    // The stale node was ours: it is gone, though its session still lives.
    assert!(!children(&other, &dir).await.contains(&old_node));
    guard.release().await;
    keeper.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_latch_never_leads_on_its_old_node() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = renewing(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("renewed-latch");
    let a = LeaderLatch::start(&client, &dir, "a").unwrap();
    let old = within(10, "a leads", a.wait_leader()).await.unwrap();
    let b = LeaderLatch::start(&other, &dir, "b").unwrap();
    eventually(10, "two participants", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    // Record every state of a: it must never lead with a token of the old session again.
    let mut states = a.subscribe();
    let log = tokio::spawn(async move {
        let mut seen = Vec::new();
        while states.changed().await.is_ok() {
            let state = states.borrow_and_update().clone();
            let closed = state == LatchState::Closed;
            seen.push(state);
            if closed {
                break;
            }
        }
        seen
    });
    let keeper = renew_keeping_the_old_session(&cluster, &proxy, &client).await;
    // Exactly one leader follows, never on the old node.
    let leader = within(20, "a leader after the renewal", async {
        loop {
            match (a.token(), b.token()) {
                (Some(_), Some(_)) => panic!("two leaders"),
                (Some(t), None) | (None, Some(t)) => return t,
                (None, None) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert_ne!(leader.path(), old.path());
    assert_ne!(leader.session(), old.session());
    a.close().await;
    b.close().await;
    keeper.close().await.unwrap();
    let seen = log.await.unwrap();
    let lost_at = seen
        .iter()
        .position(|s| *s == LatchState::Follower)
        .expect("a lost its leadership");
    for state in &seen[lost_at..] {
        if let LatchState::Leader(token) = state {
            assert_ne!(
                token.session(),
                old.session(),
                "led on the old session: {seen:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_participant_rejoins_with_its_renewed_session() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = renewing(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("renewed-election");
    let holder = Mutex::new(&other, &dir).unwrap().acquire().await.unwrap();
    let election = zk_recipes::LeaderElection::builder(&client, &dir, "a")
        .start(|_| async {})
        .unwrap();
    eventually(10, "a queued", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    let old = client.session_id();
    super::end_session(&cluster, &proxy, &client).await;
    eventually(20, "a renewed session", || async {
        client.session_id() != old
    })
    .await;
    eventually(20, "a queued again in its new session", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    holder.release().await;
    // Its one term runs and ends; then it leaves the election.
    eventually(20, "a's term", || async { election.is_finished() }).await;
    assert!(children(&other, &dir).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutex_waiter_contends_again_with_its_renewed_session() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = renewing(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("renewed-waiter");
    let holder = Mutex::new(&other, &dir).unwrap().acquire().await.unwrap();
    let waiting = tokio::spawn({
        let mutex = Mutex::new(&client, &dir).unwrap();
        async move { mutex.acquire().await }
    });
    eventually(10, "the waiter queued", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    let old = client.session_id();
    super::end_session(&cluster, &proxy, &client).await;
    eventually(20, "the waiter queued in its new session", || async {
        client.session_id() != old && children(&other, &dir).await.len() == 2
    })
    .await;
    holder.release().await;
    let guard = within(20, "the lock in the new session", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guard.token().session(), client.session_id());
    guard.release().await;
}
