//! Tests of the data recipes, shared by `data_rust.rs` (zk-testserver) and `data_real.rs`
//! (real ZooKeeper 3.8): every test here runs against both.

mod barrier;
mod cache;
mod counter;
mod curator;
mod naming;
mod nodes;
mod perf;
mod queue;
mod renewal;

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Client, SessionState};

use crate::support::{self, proxy::Proxy, Cluster};

/// A client that reaches the server through a proxy the test can cut, with a 30 s session
/// (long enough to survive a fault schedule on a loaded machine).
async fn proxied(cluster: &Arc<dyn Cluster>) -> (Proxy, Client) {
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(30))
        .request_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect through the proxy");
    (proxy, client)
}

/// Cuts the proxied client off until `unblock`: returns once it saw the disconnect.
async fn disconnect(proxy: &Proxy, client: &Client) {
    proxy.set_blocked(true);
    proxy.cut();
    support::wait_state(client, 20, |s| s == SessionState::Disconnected).await;
}

/// Lets the proxied client back in and waits for the reconnect.
async fn reconnect(proxy: &Proxy, client: &Client) {
    proxy.set_blocked(false);
    support::wait_state(client, 30, |s| s == SessionState::Connected).await;
}

/// Ends `client`'s session from the server side: with the client cut off (so that it cannot
/// take its session back meanwhile), another client takes the session over and closes it.
/// Works on every server. The client learns of the expiry when it reconnects.
async fn expire(cluster: &Arc<dyn Cluster>, proxy: &Proxy, client: &Client) {
    disconnect(proxy, client).await;
    let thief = Client::builder(cluster.connect_string())
        .session(client.session_id(), &client.session_password())
        .connect()
        .await
        .expect("take the session over");
    thief.close().await.expect("close the stolen session");
    proxy.set_blocked(false);
}

/// A proxied client that renews its session after expiry.
async fn renewing(cluster: &Arc<dyn Cluster>) -> (Proxy, Client) {
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(30))
        .renew_session_on_expiry(true)
        .connect()
        .await
        .expect("connect");
    (proxy, client)
}

/// The seed of a randomized test: `ZK_TEST_SEED` or a fresh one, printed.
fn seed() -> u64 {
    let seed = std::env::var("ZK_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed: {seed} (rerun with ZK_TEST_SEED={seed})");
    seed
}

/// The size of a randomized run: `ZK_TEST_ROUNDS` or `default`.
fn rounds(default: usize) -> usize {
    std::env::var("ZK_TEST_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Waits for the first event of `events` that `pred` accepts, skipping others.
async fn expect_event(
    events: &mut tokio::sync::broadcast::Receiver<zk_recipes::CacheEvent>,
    what: &str,
    pred: impl Fn(&zk_recipes::CacheEvent) -> bool,
) -> zk_recipes::CacheEvent {
    support::within(15, what, async {
        loop {
            let event = events.recv().await.expect("cache events");
            if pred(&event) {
                return event;
            }
        }
    })
    .await
}
