//! The at-least-once queue: take under an ephemeral lock, then ack, release or requeue.

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Bytes, Client, CreateMode, CreateOptions, Error as ClientError, Op};

use super::core::{Claimed, Core};
use super::format::{self, Kind};
use crate::error::{Error, Result};
use crate::node_util::{deadline_after, retry, wait_connected};

/// A FIFO queue with at-least-once delivery: items are locked while processed (see the
/// [module docs](super)). Curator's `DistributedQueue` with a lock path uses this layout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::LockingQueue;
///
/// let queue = LockingQueue::new(&client, "/app/tasks", "/app/tasks-locks")?;
/// queue.put(b"resize image 42").await?;
/// let item = queue.take().await?;
/// // ... process item.data() ...
/// item.ack().await?; // or item.release().await?, item.requeue().await?
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LockingQueue {
    core: Arc<Core>,
}

impl LockingQueue {
    /// A locking queue whose items live under `path` and whose locks under `lock_path`
    /// (both created on first use).
    pub fn new(client: &Client, path: &str, lock_path: &str) -> Result<LockingQueue> {
        Ok(LockingQueue {
            core: Core::new(client, path, Kind::Fifo, Some(lock_path))?,
        })
    }

    /// The queue's node.
    pub fn path(&self) -> &str {
        &self.core.path
    }

    /// Appends an item; returns its node name.
    pub async fn put(&self, item: &[u8]) -> Result<String> {
        self.core.put(format::PREFIX, item).await
    }

    /// The number of items, locked ones included.
    pub async fn len(&self) -> Result<usize> {
        self.core.len().await
    }

    /// Takes (locks) the next unlocked item, waiting for one. It stays in the queue until
    /// acknowledged. Cancel by dropping the future (a lock taken meanwhile is released).
    pub async fn take(&self) -> Result<QueueItem> {
        loop {
            if let Some(item) = self.claim(None).await? {
                return Ok(item);
            }
        }
    }

    /// Like [`LockingQueue::take`], waiting at most `timeout`.
    pub async fn take_timeout(&self, timeout: Duration) -> Result<Option<QueueItem>> {
        self.claim(Some(timeout)).await
    }

    /// Takes the next unlocked item if there is one now.
    pub async fn try_take(&self) -> Result<Option<QueueItem>> {
        self.claim(Some(Duration::ZERO)).await
    }

    async fn claim(&self, timeout: Option<Duration>) -> Result<Option<QueueItem>> {
        let claimed = self.core.claim(deadline_after(timeout)).await?;
        Ok(claimed.map(|claimed| QueueItem {
            core: self.core.clone(),
            claimed,
            done: false,
        }))
    }
}

/// An item taken from a [`LockingQueue`], locked by this session until it is acknowledged,
/// released or requeued. Dropping it releases the lock in the background.
#[derive(Debug)]
pub struct QueueItem {
    core: Arc<Core>,
    claimed: Claimed,
    done: bool,
}

impl QueueItem {
    /// The item (the first one, if a Curator producer put several in one node).
    pub fn data(&self) -> Bytes {
        self.claimed.items.first().cloned().unwrap_or_default()
    }

    /// Every item of the node (usually one).
    pub fn items(&self) -> &[Bytes] {
        &self.claimed.items
    }

    /// The item's node name.
    pub fn name(&self) -> &str {
        &self.claimed.name
    }

    fn item_path(&self) -> String {
        zk_proto::path::join(&self.core.path, &self.claimed.name)
    }

    fn lock_path(&self) -> String {
        let dir = self.core.lock_path.as_deref().expect("a locking queue");
        zk_proto::path::join(dir, &self.claimed.name)
    }

    /// Acknowledges the item: deletes it and its lock atomically.
    ///
    /// Errors: [`Error::NotOwner`] if our lock is gone (our session ended or someone deleted
    /// it); the item then stays for another consumer.
    pub async fn ack(mut self) -> Result<()> {
        let ops = [
            Op::check(self.lock_path(), None),
            Op::delete(self.item_path(), None),
            Op::delete(self.lock_path(), None),
        ];
        self.finish(&ops).await?;
        tracing::trace!(queue = %self.core.path, name = %self.claimed.name, "acked");
        Ok(())
    }

    /// Moves the item to the back of the queue under a fresh name of the same form, and
    /// releases it, in one `multi`.
    pub async fn requeue(mut self) -> Result<()> {
        let prefix = format::requeue_prefix(&self.claimed.name).to_string();
        let data = match self.claimed.items.as_slice() {
            [one] => format::encode(one),
            _ => self.encoded_all(),
        };
        let ops = [
            Op::check(self.lock_path(), None),
            Op::delete(self.item_path(), None),
            Op::create(
                zk_proto::path::join(&self.core.path, &prefix),
                data,
                &CreateOptions::new(CreateMode::PersistentSequential),
            ),
            Op::delete(self.lock_path(), None),
        ];
        self.finish(&ops).await
    }

    /// Releases the lock without acknowledging: the item is available again, unchanged.
    pub async fn release(mut self) -> Result<()> {
        let lock = self.lock_path();
        self.done = true;
        match retry(&self.core.client, || self.core.client.delete(&lock, None)).await {
            Ok(()) | Err(ClientError::NoNode) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn encoded_all(&self) -> Vec<u8> {
        // Several items in one node: keep Curator's multi-item framing.
        let mut out = vec![0x00, 0x01, 0x00, 0x01];
        for item in &self.claimed.items {
            out.push(1);
            out.extend_from_slice(&(item.len() as i32).to_be_bytes());
            out.extend_from_slice(item);
        }
        out.push(2);
        out
    }

    /// Runs a multi that starts with a check of our lock and ends by deleting it. A lost
    /// reply is resolved by looking at the lock: still ours means it did not apply.
    async fn finish(&mut self, ops: &[Op]) -> Result<()> {
        let lock = self.lock_path();
        // The multi's check only proves that *a* lock exists: after our session expired and
        // the client renewed it, another consumer may hold a lock of the same name. So first
        // make sure the lock is ours (our token, our session). What remains is the window of
        // one round trip in which the session would have to expire, be renewed and the item
        // be locked again by someone else.
        if self.core.client.session_id().0 != self.claimed.session
            || !self.core.holds(&lock, &self.claimed.token).await?
        {
            self.done = true;
            return Err(Error::NotOwner { path: lock });
        }
        loop {
            match self.core.client.multi(ops).await {
                Ok(_) => {
                    self.done = true;
                    return Ok(());
                }
                Err(ClientError::MultiFailed { index: 0, .. }) => {
                    self.done = true;
                    return Err(Error::NotOwner { path: lock });
                }
                Err(e) if e.is_retryable() => {
                    wait_connected(&self.core.client, None).await?;
                    let held = self.core.holds(&lock, &self.claimed.token).await?;
                    if self.core.client.session_id().0 != self.claimed.session {
                        self.done = true;
                        return Err(Error::NotOwner { path: lock });
                    }
                    if !held {
                        // Our lock is gone while our session lives: the multi applied.
                        self.done = true;
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for QueueItem {
    fn drop(&mut self) {
        if !self.done {
            crate::node_util::delete_in_background(&self.core.client, self.lock_path(), None);
        }
    }
}
