//! Session events ([`Client::events`]), the lifecycle getters, and renewal after expiry.
//!
//! Expiry is made on the server's side (`Cluster::expire_session`) while a proxy keeps the
//! client away, so the client learns of it from the server when it reconnects.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use zk_client::{
    Acl, AddWatchMode, Client, CreateMode, CreateOptions, Error, EventType, LossReason,
    SessionEvent, SessionId, SessionState, WatcherType,
};

use super::support::{self, blocking, launch, proxy::Proxy, wait_state, within, Cluster};
use super::support::{unique_path, ServerOptions};

/// A client through `proxy`, renewing its session on expiry.
async fn renewing_client(proxy: &Proxy) -> Client {
    support::init_tracing();
    Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(20))
        .renew_session_on_expiry(true)
        .connect()
        .await
        .expect("connect")
}

/// Expires `client`'s session on the server while the proxy keeps the client away, then lets
/// it back; returns once the client runs on a new session.
async fn expire(cluster: &Arc<dyn Cluster>, proxy: &Proxy, client: &Client) -> SessionId {
    let old = client.session_id();
    let password = client.session_password();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(client, 10, |s| s == SessionState::Disconnected).await;
    let c = cluster.clone();
    blocking(move || c.expire_session(old.0, &password)).await;
    proxy.set_blocked(false);
    let mut state = client.state();
    within(20, "a new session", async {
        loop {
            if state.borrow_and_update().is_connected() && client.session_id() != old {
                return;
            }
            state.changed().await.expect("state channel open");
        }
    })
    .await;
    client.session_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_sees_every_transition_in_order() {
    if !support::available() {
        return;
    }
    let cluster = blocking(|| launch(1, &ServerOptions::default())).await;
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = renewing_client(&proxy).await;
    let first = client.session_id();
    assert_eq!(client.session_generation(), 1);
    assert_eq!(client.connected_server(), Some(proxy.addr()));
    assert!(client.negotiated_session_timeout() > Duration::ZERO);
    // Subscribed now, read only at the end.
    let mut events = client.events();

    // A server restart: Suspended, then Reconnected with the same session.
    let c = cluster.clone();
    blocking(move || c.kill(0)).await;
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    assert_eq!(client.connected_server(), None);
    let c = cluster.clone();
    blocking(move || c.restart(0)).await;
    wait_state(&client, 30, |s| s.is_connected()).await;
    assert_eq!(client.session_id(), first);
    assert_eq!(client.session_generation(), 1);

    // An expiry: Suspended, Lost, then NewSession.
    let second = expire(&cluster, &proxy, &client).await;
    assert_ne!(second, first);
    assert_eq!(client.session_generation(), 2);
    assert_eq!(client.connected_server(), Some(proxy.addr()));
    client.close().await.unwrap();

    let mut seen = Vec::new();
    while let Some(event) = within(5, "the events", events.next()).await {
        seen.push(event);
    }
    assert_eq!(
        seen,
        [
            SessionEvent::Connected {
                session: first,
                read_only: false
            },
            SessionEvent::Suspended { session: first },
            SessionEvent::Reconnected {
                session: first,
                read_only: false
            },
            SessionEvent::Suspended { session: first },
            SessionEvent::Lost {
                session: first,
                reason: LossReason::Expired
            },
            SessionEvent::NewSession {
                old: first,
                new: second,
                read_only: false
            },
            SessionEvent::Lost {
                session: second,
                reason: LossReason::Closed
            },
        ]
    );
    // A subscriber after the end gets where things stand, and an ended stream.
    let mut late = client.events();
    assert_eq!(
        late.next().await,
        Some(SessionEvent::Lost {
            session: second,
            reason: LossReason::Closed
        })
    );
    assert_eq!(late.next().await, None);
}

#[tokio::test]
async fn subscribers_start_with_a_snapshot() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let client = support::connect_one(&cluster).await;
    let session = client.session_id();
    let connected = SessionEvent::Connected {
        session,
        read_only: false,
    };
    let mut a = client.events();
    let mut b = client.events();
    assert_eq!(a.next().await, Some(connected.clone()));
    assert_eq!(b.next().await, Some(connected));
    // Plain requests make no events.
    client.exists(&unique_path("none")).await.unwrap();
    client.close().await.unwrap();
    let lost = SessionEvent::Lost {
        session,
        reason: LossReason::Closed,
    };
    assert_eq!(a.next().await, Some(lost.clone()));
    assert_eq!(b.next().await, Some(lost));
    assert_eq!(a.next().await, None);
    assert_eq!(b.next().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_client_ends_on_expiry() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let session = client.session_id();
    let mut events = client.events();
    assert!(matches!(
        events.next().await,
        Some(SessionEvent::Connected { .. })
    ));
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 10, |s| s == SessionState::Disconnected).await;
    let password = client.session_password();
    let c = cluster.clone();
    blocking(move || c.expire_session(session.0, &password)).await;
    proxy.set_blocked(false);
    assert_eq!(
        within(20, "expiry", wait_state(&client, 20, |s| s.is_terminal())).await,
        SessionState::Expired
    );
    assert_eq!(
        events.next().await,
        Some(SessionEvent::Suspended { session })
    );
    assert_eq!(
        events.next().await,
        Some(SessionEvent::Lost {
            session,
            reason: LossReason::Expired
        })
    );
    assert_eq!(events.next().await, None);
    assert_eq!(
        client.get_data("/").await,
        Err(zk_client::Error::SessionExpired)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_restores_persistent_watches_and_credentials() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = renewing_client(&proxy).await;
    let writer = support::connect_one(&cluster).await;
    client.add_auth("digest", b"renewer:secret").await.unwrap();
    let root = unique_path("renewal");
    let persistent = CreateOptions::new(CreateMode::Persistent);
    client.create(&root, b"", &persistent).await.unwrap();
    let private = format!("{root}/private");
    let creator_only = persistent.clone().with_acl(Acl::creator_all());
    client
        .create(&private, b"mine", &creator_only)
        .await
        .unwrap();
    let eph = format!("{root}/eph");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    let mut tree = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    // A one-shot watch on another path (servers before 3.9 keep one watch mode per path).
    let other = format!("{root}-other");
    client.create(&other, b"", &persistent).await.unwrap();
    let (_, _, oneshot) = client.get_data_and_watch(&other).await.unwrap();
    assert_eq!(writer.get_data(&private).await, Err(Error::NoAuth));

    let old = client.session_id();
    let password = client.session_password();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 10, |s| s == SessionState::Disconnected).await;
    let c = cluster.clone();
    blocking(move || c.expire_session(old.0, &password)).await;
    // Made while the session is being replaced: served by the new one, with the credentials.
    let pending = client.get_data(&private);
    proxy.set_blocked(false);
    let (data, _) = within(20, "the pending read", pending).await.unwrap();
    assert_eq!(&data[..], b"mine");
    let new = client.session_id();
    assert_ne!(new, old);
    assert_eq!(client.session_generation(), 2);

    // The one-shot watch ended with the old session.
    let e = within(5, "one-shot end", oneshot.changed()).await;
    assert_eq!(
        (e.event_type, e.state),
        (EventType::Session, SessionState::Expired)
    );
    // The persistent one heard of the disconnect, the expiry and the new session, in order.
    let mut states = Vec::new();
    while !states
        .last()
        .is_some_and(|s: &SessionState| s.is_connected())
    {
        let e = within(10, "persistent watcher", tree.next()).await.unwrap();
        assert_eq!(e.event_type, EventType::Session, "{e:?}");
        states.push(e.state);
    }
    assert_eq!(
        states,
        [
            SessionState::Disconnected,
            SessionState::Expired,
            SessionState::Connected
        ]
    );
    // The old session's ephemeral node is gone (and its deletion was not seen: re-read).
    assert_eq!(client.exists(&eph).await.unwrap(), None);
    // The persistent watch is set on the new session: another client's write fires it.
    writer
        .create(&format!("{root}/after"), b"", &persistent)
        .await
        .unwrap();
    let e = within(10, "event after renewal", tree.next())
        .await
        .unwrap();
    assert_eq!(
        (e.event_type, e.path),
        (EventType::NodeCreated, format!("{root}/after"))
    );
    // The credentials hold on the new session: who_am_i, and a write to the protected node.
    let who = client.who_am_i().await.unwrap();
    assert!(who.iter().any(|c| c.auth_scheme == "digest"), "{who:?}");
    client
        .set_data(&private, b"still mine", None)
        .await
        .unwrap();
    client.close().await.unwrap();
    writer.close().await.unwrap();
}

#[tokio::test]
async fn persistent_watch_stream_ends_after_remove_watches() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let client = support::connect_one(&cluster).await;
    let path = unique_path("removed");
    let persistent = CreateOptions::new(CreateMode::Persistent);
    client.create(&path, b"", &persistent).await.unwrap();
    let mut single = client
        .add_watch(&path, AddWatchMode::Persistent)
        .await
        .unwrap();
    let tree_root = unique_path("removed-tree");
    let mut tree = client
        .add_watch(&tree_root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    client.set_data(&path, b"1", None).await.unwrap();
    let e = within(10, "a change", single.next()).await.unwrap();
    assert_eq!(e.event_type, EventType::NodeDataChanged);

    for (watched, stream) in [(&path, &mut single), (&tree_root, &mut tree)] {
        client
            .remove_watches(watched, WatcherType::Any)
            .await
            .unwrap();
        let e = within(10, "the removal", stream.next()).await.unwrap();
        assert_eq!(
            (e.event_type, e.path.as_str()),
            (EventType::PersistentWatchRemoved, watched.as_str())
        );
        assert_eq!(within(10, "the end", stream.next()).await, None);
        assert!(!stream.is_lagged());
    }
    // The server forgot them: nothing is left to remove, and changes reach nobody.
    assert_eq!(
        client.remove_watches(&path, WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
    client.set_data(&path, b"2", None).await.unwrap();
    client.close().await.unwrap();
}

/// zk-testserver only: a read-only server refusing a client that does not allow read-only
/// servers. (Real ZooKeeper is read-only only as an ensemble member cut off from its quorum:
/// `ensemble::reads_on_a_read_only_server` checks the same there.)
#[tokio::test]
async fn read_only_server_refusal_is_a_clear_error() {
    if super::SERVER == support::ServerKind::Real
        || support::skip_on_ensemble(
            "a standalone read-only server; members: ensemble::reads_on_a_read_only_server",
        )
    {
        return;
    }
    support::init_tracing();
    let server = zk_testserver::TestServer::builder()
        .read_only(true)
        .start()
        .await
        .unwrap();
    let refused = Client::builder(server.addr().to_string())
        .connection_timeout(Duration::from_secs(3))
        .connect()
        .await;
    assert_eq!(
        refused.err(),
        Some(Error::ReadOnlyServerRefused {
            read_only_allowed: false
        })
    );
    // A client that allows read-only servers is served.
    let client = Client::builder(server.addr().to_string())
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let mut events = client.events();
    assert_eq!(
        events.next().await,
        Some(SessionEvent::Connected {
            session: client.session_id(),
            read_only: true
        })
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_after_client_side_expiry() {
    if !support::available() {
        return;
    }
    let cluster = support::shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    // The shortest session the servers grant (2 ticks of 2 s).
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(4))
        .renew_session_on_expiry(true)
        .connect()
        .await
        .unwrap();
    let first = client.session_id();
    let mut events = client.events();
    assert!(matches!(
        events.next().await,
        Some(SessionEvent::Connected { .. })
    ));
    // No server for longer than the session timeout: the client declares the expiry itself.
    proxy.set_blocked(true);
    proxy.cut();
    assert_eq!(
        within(10, "suspended", events.next()).await,
        Some(SessionEvent::Suspended { session: first })
    );
    assert_eq!(
        within(10, "lost", events.next()).await,
        Some(SessionEvent::Lost {
            session: first,
            reason: LossReason::Expired
        })
    );
    assert_eq!(client.session_generation(), 1);
    proxy.set_blocked(false);
    let Some(SessionEvent::NewSession { old, new, .. }) =
        within(20, "new session", events.next()).await
    else {
        panic!("expected a new session");
    };
    assert_eq!((old, new), (first, client.session_id()));
    assert_ne!(new, first);
    assert_eq!(client.session_generation(), 2);
    client.exists("/").await.unwrap();
    client.close().await.unwrap();
}
