//! Shared helpers: clients, bounded waits, retried writes.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use zk_client::{Client, CreateOptions, Error};
use zk_testserver::Ensemble;

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A 3-member ensemble with fast timeouts, state in memory.
pub async fn three() -> Ensemble {
    init_tracing();
    Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .start()
        .await
        .expect("the ensemble starts")
}

/// A client of the whole ensemble with a 10 s session.
pub async fn client(ensemble: &Ensemble) -> Client {
    client_of(&ensemble.connect_string()).await
}

/// A client of one member only.
pub async fn client_at(addr: SocketAddr) -> Client {
    client_of(&addr.to_string()).await
}

pub async fn client_of(connect: &str) -> Client {
    within(10, "connect", async {
        Client::builder(connect)
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect")
    })
    .await
}

/// Awaits `fut` for at most `secs` seconds, failing the test otherwise.
pub async fn within<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// Creates `path`, retrying retryable errors (a leader change) for up to 10 s; true if this
/// call created it, false if it existed (an earlier attempt applied but lost its reply).
pub async fn create_retrying(client: &Client, path: &str, data: &[u8]) -> bool {
    within(10, "a retried create", async {
        loop {
            match client.create(path, data, &CreateOptions::default()).await {
                Ok(_) => return true,
                Err(Error::NodeExists) => return false,
                Err(e) if e.is_retryable() => {
                    let mut state = client.state();
                    let _ = tokio::time::timeout(
                        Duration::from_millis(100),
                        state.wait_for(|s| s.is_connected()),
                    )
                    .await;
                }
                Err(e) => panic!("create {path}: {e}"),
            }
        }
    })
    .await
}

/// `sync` then `get_data` on `client` (linearizable as ZooKeeper defines it).
pub async fn synced_read(client: &Client, path: &str) -> Option<Vec<u8>> {
    client.sync(path).await.expect("sync");
    match client.get_data(path).await {
        Ok((data, _)) => Some(data.to_vec()),
        Err(Error::NoNode) => None,
        Err(e) => panic!("get {path}: {e}"),
    }
}

/// A directory under the system temp dir for members' data directories, emptied when made and
/// removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// `zk-ens-{name}-{pid}`.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("zk-ens-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Restarts every member from its disk and waits until the ensemble serves again.
pub async fn restart_all(ensemble: &mut Ensemble) {
    for id in ensemble.member_ids() {
        ensemble.restart(id).await.expect("restart");
    }
    ensemble
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("the restarted ensemble serves");
}
