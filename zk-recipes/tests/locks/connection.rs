//! The connection-state policy over a real connection, and a waiter through a long
//! disconnect.

use std::time::Duration;

use zk_client::Client;
use zk_recipes::{ConnectionMonitor, ConnectionPolicy, Mutex, OwnershipChange};

use super::{children, clients, end_session, eventually, proxied, server};
use crate::support::{self, proxy::Proxy, unique_path, within};

#[tokio::test]
async fn the_monitor_applies_each_policy() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = proxied(&cluster).await;
    let mut standard = ConnectionMonitor::new(&client, ConnectionPolicy::Standard);
    let mut session = ConnectionMonitor::new(&client, ConnectionPolicy::Session);
    assert!(standard.is_trusted() && session.is_trusted());
    proxy.set_blocked(true);
    proxy.cut();
    let change = within(10, "standard: suspended", standard.next()).await;
    assert_eq!(change, Some(OwnershipChange::Suspended));
    assert!(!standard.is_trusted());
    proxy.set_blocked(false);
    let change = within(20, "standard: reconnected", standard.next()).await;
    assert_eq!(change, Some(OwnershipChange::Reconnected));
    assert!(standard.is_trusted());
    // The session policy reports only the reconnection (nothing about the suspension).
    let change = within(10, "session: reconnected", session.next()).await;
    assert_eq!(change, Some(OwnershipChange::Reconnected));
    assert!(session.is_trusted());

    // The session ends for good: Lost, then the end of the stream.
    end_session(&cluster, &proxy, &client).await;
    let change = within(20, "lost", standard.next()).await;
    assert!(
        matches!(
            change,
            Some(OwnershipChange::Suspended) | Some(OwnershipChange::Lost { .. })
        ),
        "{change:?}"
    );
    let mut rest = Vec::new();
    while let Some(change) = within(20, "the end of the events", standard.next()).await {
        rest.push(change);
    }
    assert!(
        rest.iter()
            .chain(change.iter())
            .any(|c| matches!(c, OwnershipChange::Lost { .. })),
        "{rest:?}"
    );
    assert!(!standard.is_trusted());
}

#[tokio::test]
async fn the_monitor_follows_a_renewed_session() {
    let Some(cluster) = server() else { return };
    support::init_tracing();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .renew_session_on_expiry(true)
        .connect()
        .await
        .unwrap();
    let old = client.session_id();
    let mut monitor = ConnectionMonitor::new(&client, ConnectionPolicy::Session);
    end_session(&cluster, &proxy, &client).await;
    let renewed = within(20, "a new session", async {
        loop {
            match monitor.next().await {
                Some(OwnershipChange::NewSession { session }) => return session,
                Some(_) => {}
                None => panic!("the events ended"),
            }
        }
    })
    .await;
    assert_ne!(renewed, old);
    assert_eq!(monitor.session(), renewed);
    assert_eq!(client.session_id(), renewed);
    assert!(monitor.is_trusted());
}

#[tokio::test]
async fn a_waiter_keeps_its_place_through_a_long_disconnect() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = proxied(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("long-disconnect");
    let holder = Mutex::new(&other, &dir).unwrap().acquire().await.unwrap();
    let waiting = tokio::spawn({
        let mutex = Mutex::new(&client, &dir).unwrap();
        async move { mutex.acquire().await }
    });
    eventually(10, "the waiter queued", || async {
        children(&other, &dir).await.len() == 2
    })
    .await;
    proxy.set_blocked(true);
    proxy.cut();
    // The holder leaves while the waiter is away (a third of its session timeout).
    holder.release().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!waiting.is_finished());
    proxy.set_blocked(false);
    // Its watch is set again on reconnection and fires for the deletion it missed.
    let guard = within(20, "the lock after the disconnect", waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guard.token().session(), client.session_id());
    guard.release().await;
}
