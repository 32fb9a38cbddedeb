//! Test bodies shared by `locks_real.rs` and `locks_rust_server.rs`, and their helpers.

mod chaos;
mod connection;
mod curator;
mod election;
mod faults;
mod latch;
mod multi_lock;
mod mutex;
mod rwlock;
mod semaphore;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use zk_client::Client;

use crate::support::proxy::Proxy;
use crate::support::{self, Cluster};

/// The shared server, or `None` when this binary's servers cannot run here.
pub fn server() -> Option<Arc<dyn Cluster>> {
    support::available().then(support::shared)
}

/// `n` clients of `cluster`.
pub async fn clients(cluster: &Arc<dyn Cluster>, n: usize) -> Vec<Client> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(support::connect(cluster).await);
    }
    all
}

/// A client of `cluster` whose connections go through a [`Proxy`] (10 s session).
pub async fn proxied(cluster: &Arc<dyn Cluster>) -> (Proxy, Client) {
    support::init_tracing();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect through the proxy");
    (proxy, client)
}

/// Ends the session of `client` (connected through `proxy`) on the server, on either kind of
/// server: cut the client off, attach a second connection to its session and close it (the
/// server deletes its ephemerals), then let the client reconnect and learn it expired.
pub async fn end_session(cluster: &Arc<dyn Cluster>, proxy: &Proxy, client: &Client) {
    proxy.set_blocked(true);
    proxy.cut();
    let twin = Client::builder(cluster.connect_string())
        .session(client.session_id(), &client.session_password())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("attach to the session");
    twin.close().await.expect("close the twin");
    proxy.set_blocked(false);
}

/// The children of `dir` (empty if it does not exist).
pub async fn children(client: &Client, dir: &str) -> Vec<String> {
    match client.get_children(dir).await {
        Ok(children) => children,
        Err(zk_client::Error::NoNode) => Vec::new(),
        Err(e) => panic!("get_children {dir}: {e}"),
    }
}

/// Polls `check` every 20 ms until it returns true, for at most `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    support::within(secs, what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// True if `name` is a Curator protected name `_c_<uuid>-<kind><10 digits>`.
pub fn is_protected(name: &str, kind: &str) -> bool {
    let Some(rest) = name.strip_prefix("_c_") else {
        return false;
    };
    let Some((uuid, tail)) = rest.split_at_checked(36) else {
        return false;
    };
    let Some(seq) = tail.strip_prefix('-').and_then(|t| t.strip_prefix(kind)) else {
        return false;
    };
    uuid.chars().filter(|c| *c == '-').count() == 4
        && seq.len() >= 10
        && seq.chars().all(|c| c.is_ascii_digit())
}
