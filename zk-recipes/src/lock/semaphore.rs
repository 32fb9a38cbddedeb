//! The counting semaphore with leases (Curator's `InterProcessSemaphoreV2`, same layout).

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use zk_client::{Client, Op, OpResult, ReadOp, ReadResult, SessionEvent};

use super::internals::{
    check_dir, child_path, create_contender, guaranteed_delete, node_name, sleep_until, OwnedNode,
};
use super::mutex::Mutex;
use crate::error::{Error, Result};
use crate::fencing::FencingToken;

/// A distributed counting semaphore: at most `max_leases` leases are held at once, across
/// every process; Curator's `InterProcessSemaphoreV2` on the same paths.
///
/// Layout: `P/locks/` is a [`Mutex`] that serializes acquisitions, and each lease is
/// `P/leases/_c_<uuid>-lease-<seq>`, ephemeral-sequential. To acquire: take the mutex,
/// create a lease node, list `P/leases` with a watch until at most `max_leases` live leases
/// are there (waiting while holding the mutex), release the mutex. All participants must
/// agree on `max_leases`.
///
/// Permits cannot leak (CURATOR-315/335/462, kazoo #429):
/// - only **live** leases count: ephemeral nodes (a persistent node someone left in
///   `P/leases` is not a lease);
/// - a lease node is deleted on **every** failure path: timeout, cancellation (dropping the
///   acquire future), errors, and when the acquisition finishes after its caller left;
/// - a lease is an ephemeral of its holder's session, so when that session is **lost** its
///   permit comes back by itself (CURATOR-595), and waiting acquirers are woken by the
///   children watch.
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// let pool = zk_recipes::Semaphore::new(&client, "/app/db-connections", 4)?;
/// let lease = pool.acquire().await?;
/// // ... use one of the 4 permits ...
/// lease.release().await;
/// # Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
/// #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
/// #     demo(client).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    dir: String,
    max_leases: usize,
    data: Vec<u8>,
}

impl Semaphore {
    /// A semaphore of `max_leases` permits on the directory `path`.
    ///
    /// Errors: [`Error::InvalidPath`].
    pub fn new(client: &Client, path: &str, max_leases: usize) -> Result<Semaphore> {
        Ok(Semaphore {
            client: client.clone(),
            dir: check_dir(path)?,
            max_leases,
            data: Vec::new(),
        })
    }

    /// Sets the data of the lease nodes (empty by default).
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Semaphore {
        self.data = data.into();
        self
    }

    /// The number of permits.
    pub fn max_leases(&self) -> usize {
        self.max_leases
    }

    /// Waits for a lease.
    pub async fn acquire(&self) -> Result<Lease> {
        Ok(self.acquire_until(None).await?.expect("no deadline"))
    }

    /// Takes a lease only if one is free now.
    pub async fn try_acquire(&self) -> Result<Option<Lease>> {
        self.acquire_until(Some(Instant::now())).await
    }

    /// Waits at most `timeout` for a lease.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// The number of live leases now (holders, plus at most one acquirer waiting).
    pub async fn live_leases(&self) -> Result<usize> {
        let leases = child_path(&self.dir, "leases");
        match self.client.get_children(&leases).await {
            Ok(children) => Ok(live(&self.client, &leases, &children).await?),
            Err(zk_client::Error::NoNode) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<Lease>> {
        let (tx, rx) = oneshot::channel();
        let this = self.clone();
        tokio::spawn(async move { this.acquire_task(deadline, tx).await });
        let node = rx
            .await
            .map_err(|_| Error::Client(zk_client::Error::Closed))??;
        Ok(node.map(|node| Lease {
            client: self.client.clone(),
            token: node.token(),
            node: Some(node),
        }))
    }

    /// Runs one acquisition; deletes its lease node unless it hands it to the caller.
    async fn acquire_task(
        self,
        deadline: Option<Instant>,
        mut caller: oneshot::Sender<Result<Option<OwnedNode>>>,
    ) {
        let client = &self.client;
        // A fresh mutex handle per acquisition: re-entrancy is per handle, and concurrent
        // acquisitions of one semaphore must contend, not re-enter.
        let lock = match Mutex::new(client, &child_path(&self.dir, "locks")) {
            Ok(lock) => lock,
            Err(e) => {
                let _ = caller.send(Err(e));
                return;
            }
        };
        let guard = tokio::select! {
            guard = acquire_lock(&lock, deadline) => guard,
            _ = caller.closed() => return,
        };
        let guard = match guard {
            Ok(Some(guard)) => guard,
            other => {
                let _ = caller.send(other.map(|_| None));
                return;
            }
        };
        let leases = child_path(&self.dir, "leases");
        let mut own = None;
        let outcome = self
            .wait_for_room(&leases, deadline, &mut own, &mut caller)
            .await;
        guard.release().await;
        match outcome {
            Ok(Some(node)) => {
                tracing::debug!(path = %node.path, session = ?node.session, "lease acquired");
                if let Err(Ok(Some(node))) = caller.send(Ok(Some(node))) {
                    guaranteed_delete(client, &node.path, node.session).await;
                }
            }
            other => {
                if let Some(node) = own {
                    guaranteed_delete(client, &node.path, node.session).await;
                }
                let _ = caller.send(other);
            }
        }
    }

    /// Creates our lease and waits, holding the mutex, until it is among `max_leases` live
    /// ones. `Ok(None)`: timed out, or cancelled (the caller is gone).
    async fn wait_for_room(
        &self,
        leases: &str,
        deadline: Option<Instant>,
        own: &mut Option<OwnedNode>,
        caller: &mut oneshot::Sender<Result<Option<OwnedNode>>>,
    ) -> Result<Option<OwnedNode>> {
        let client = &self.client;
        let mut events = client.events();
        loop {
            let node = match own {
                Some(node) if node.session == client.session_id() => node.clone(),
                _ => {
                    let node = create_contender(client, leases, "lease-", &self.data).await?;
                    *own = Some(node.clone());
                    node
                }
            };
            let (children, _, watcher) = client.get_children_and_watch(leases).await?;
            if !children.iter().any(|child| child == node_name(&node.path)) {
                tracing::info!(path = %node.path, "lease node gone: creating it again");
                *own = None;
                continue;
            }
            let count = live(client, leases, &children).await?;
            if count <= self.max_leases {
                return Ok(Some(node));
            }
            tracing::trace!(path = %node.path, count, max = self.max_leases, "waiting for a lease");
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(None);
            }
            let changed = watcher.changed();
            tokio::pin!(changed);
            loop {
                tokio::select! {
                    _ = &mut changed => break,
                    _ = caller.closed() => return Ok(None),
                    _ = sleep_until(deadline) => return Ok(None),
                    event = events.next() => match event {
                        Some(SessionEvent::Lost { .. } | SessionEvent::NewSession { .. }) => break,
                        Some(_) => {}
                        None => return Err(Error::Client(zk_client::Error::Closed)),
                    },
                }
            }
        }
    }
}

async fn acquire_lock(
    lock: &Mutex,
    deadline: Option<Instant>,
) -> Result<Option<super::mutex::MutexGuard>> {
    match deadline {
        Some(deadline) => {
            lock.acquire_timeout(deadline.saturating_duration_since(Instant::now()))
                .await
        }
        None => lock.acquire().await.map(Some),
    }
}

/// How many of `children` of `dir` are live leases: ephemeral nodes that still exist.
async fn live(client: &Client, dir: &str, children: &[String]) -> Result<usize> {
    let reads: Vec<ReadOp> = children
        .iter()
        .map(|child| ReadOp::GetData(child_path(dir, child)))
        .collect();
    if reads.is_empty() {
        return Ok(0);
    }
    let results = client.multi_read(&reads).await?;
    Ok(results
        .iter()
        .filter(|result| matches!(result, Ok(ReadResult::Data { stat, .. }) if stat.ephemeral_owner != 0))
        .count())
}

/// One permit of a [`Semaphore`]. Dropping it returns the permit in the background;
/// [`Lease::release`] waits until the lease node is gone.
#[derive(Debug)]
#[must_use = "dropping the lease returns it"]
pub struct Lease {
    client: Client,
    token: FencingToken,
    node: Option<OwnedNode>,
}

impl Lease {
    /// The fencing token: the lease node and its czxid.
    pub fn token(&self) -> &FencingToken {
        &self.token
    }

    /// Writes that apply only while this lease node exists.
    ///
    /// Errors: [`Error::Fenced`] if the lease was lost.
    pub async fn fenced_multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        self.token.fenced_multi(&self.client, ops).await
    }

    /// Returns the permit: deletes the lease node, retrying until it is gone.
    pub async fn release(mut self) {
        if let Some(node) = self.node.take() {
            let client = self.client.clone();
            let _ =
                tokio::spawn(
                    async move { guaranteed_delete(&client, &node.path, node.session).await },
                )
                .await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            super::internals::spawn_delete(self.client.clone(), node.path, node.session);
        }
    }
}
