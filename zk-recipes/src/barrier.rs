//! [`Barrier`]: a single node that blocks waiters while it exists (Curator
//! `DistributedBarrier`, kazoo `Barrier`, the ZooKeeper recipe).
//!
//! # Layout
//! The node `P` itself (persistent, parents created as containers). Set = create `P`,
//! remove = delete `P`; waiters loop on `exists(P, watch)` until it is gone.
//!
//! # Connection-state policy
//! - Suspended: waiters keep waiting. The client re-registers the watch when it reconnects
//!   (`setWatches2` with the last zxid seen), so a removal during the disconnect still wakes
//!   them; every wake-up re-checks the node.
//! - Lost: waits fail with the client's terminal error (`SessionExpired`, `Closed`), unless
//!   the client renews its session (`renew_session_on_expiry`): then they go on.

use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError};

use crate::error::Result;
use crate::node_util::{check_path, deadline_after, retry, until, wait_connected};

/// A barrier: while its node exists, [`Barrier::wait`] blocks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::Barrier;
///
/// let barrier = Barrier::new(&client, "/app/deploy-gate")?;
/// barrier.set().await?;
/// // ... elsewhere, workers wait (with or without a timeout):
/// let opened = barrier.wait_timeout(Duration::from_millis(100)).await?;
/// assert!(!opened);
/// barrier.remove().await?;
/// barrier.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// A barrier on the node `path`.
    pub fn new(client: &Client, path: &str) -> Result<Barrier> {
        check_path(path)?;
        Ok(Barrier {
            client: client.clone(),
            path: path.to_string(),
        })
    }

    /// The barrier's node.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sets the barrier (creates the node; already set is fine).
    pub async fn set(&self) -> Result<()> {
        crate::node_util::ensure_node(
            &self.client,
            &self.path,
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await?;
        tracing::debug!(path = %self.path, session = %self.client.session_id(), "barrier set");
        Ok(())
    }

    /// Removes the barrier (deletes the node; already removed is fine), releasing waiters.
    pub async fn remove(&self) -> Result<()> {
        match retry(&self.client, || self.client.delete(&self.path, None)).await {
            Ok(()) | Err(ClientError::NoNode) => {
                tracing::debug!(path = %self.path, session = %self.client.session_id(), "barrier removed");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// True while the barrier is set.
    pub async fn is_set(&self) -> Result<bool> {
        Ok(retry(&self.client, || self.client.exists(&self.path))
            .await?
            .is_some())
    }

    /// Waits until the barrier is removed (returns at once if it is not set). Cancel by
    /// dropping the future.
    ///
    /// It first `sync`s, so a barrier set by another client before this call is seen even
    /// when this client's server lags behind the leader (ZooKeeper orders one client's reads
    /// and writes, not different clients').
    pub async fn wait(&self) -> Result<()> {
        self.wait_until(None).await.map(|_| ())
    }

    /// Like [`Barrier::wait`], for at most `timeout`: `Ok(false)` if the barrier was still
    /// set when it passed.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_until(Some(timeout)).await
    }

    async fn wait_until(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = deadline_after(timeout);
        let synced = until(
            deadline,
            retry(&self.client, || self.client.sync(&self.path)),
        )
        .await;
        match synced {
            None => return Ok(false),
            Some(done) => {
                done?;
            }
        }
        loop {
            let attempt = until(
                deadline,
                retry(&self.client, || self.client.exists_and_watch(&self.path)),
            )
            .await;
            let Some(found) = attempt else {
                return Ok(false);
            };
            let (stat, watcher) = found?;
            if stat.is_none() {
                return Ok(true);
            }
            tracing::trace!(path = %self.path, "waiting for the barrier");
            match until(deadline, watcher.changed()).await {
                None => return Ok(false),
                // The session ended: go on if the client renewed it, else fail.
                Some(event) if event.state.is_terminal() => {
                    if !wait_connected(&self.client, deadline).await? {
                        return Ok(false);
                    }
                }
                // Whatever woke us, the loop checks the node again.
                Some(_) => {}
            }
        }
    }
}
