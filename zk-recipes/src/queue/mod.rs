//! Distributed queues (Curator `DistributedQueue`, `DistributedPriorityQueue`,
//! `DistributedDelayQueue`; with a lock path, at-least-once delivery).
//!
//! | type | delivery | names under `P` |
//! |---|---|---|
//! | [`Queue`] | FIFO, at most once | `queue-<s>` |
//! | [`PriorityQueue`] | lowest priority first, at most once | `queue-<sign><8hex><s>` |
//! | [`DelayQueue`] | when due, earliest first, at most once | `queue-\|<hex epoch ms>\|<s>` |
//! | [`LockingQueue`] | FIFO, at least once | `queue-<s>`, locks `L/<item name>` EPHEMERAL |
//!
//! Items are PERSISTENT_SEQUENTIAL nodes whose data is Curator's item encoding (see
//! `format.rs`), so Curator producers and consumers can share a queue with these types.
//! ZooKeeper is a modest queue (Curator TN4): a take lists the queue node's children. A
//! [`Queue`] consumer then works through that listing, oldest first, as Curator's does (items
//! put later sort after it), and lists again when it is used up or a rival took an item
//! from it; the other queues list on every take, since a later item may come first.
//!
//! **At most once** (`take`): the consumer reads the first item and deletes it with the
//! version it read; only the consumer whose delete succeeds gets the item, so no item is
//! delivered twice. A consumer that dies after the delete loses the item, and so does one
//! whose delete reply is lost (it cannot tell whether it or a rival deleted it).
//!
//! **At least once** ([`LockingQueue::take`]): the consumer creates the EPHEMERAL lock
//! `L/<item name>` (data: a random token), reads the item and hands it out as a
//! [`QueueItem`]. [`QueueItem::ack`] deletes item and lock in one `multi`;
//! [`QueueItem::release`] (or dropping the item) deletes only the lock, so the item is taken
//! again under the same name; [`QueueItem::requeue`] moves it to the back in one `multi`
//! under a fresh name of the same length (CURATOR-56/224: names never grow). A consumer
//! that dies mid-item loses its session and so its lock, and the item becomes available
//! again: it is never lost, but it may be delivered twice (CURATOR-605).
//!
//! # Connection-state policy
//! - Suspended: `take` keeps waiting; the client restores its child watches on reconnect
//!   (which fire if the queue changed meanwhile), so a long disconnect never stalls the
//!   consumer (CURATOR-623). Reads retry after the reconnect.
//! - Lost: `take` fails with the terminal error; a locking consumer's locks are gone with its
//!   session, and [`QueueItem::ack`] then fails with [`Error::NotOwner`](crate::Error).
//!
//! `put` is not retried after a connection loss (a second create could duplicate the item):
//! it returns the error, and the producer decides.

mod core;
mod format;
mod locking;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zk_client::{Bytes, Client};

use crate::error::Result;
use crate::node_util::{deadline_after, until};
use format::Kind;

pub use locking::{LockingQueue, QueueItem};

/// Takes with an optional timeout, at most once.
async fn take_with(core: &core::Core, timeout: Option<Duration>) -> Result<Option<Bytes>> {
    let deadline = deadline_after(timeout);
    // The deadline ends the wait for items; requests under way (say, during a disconnect)
    // get a little longer before the take gives up on them.
    let hard = deadline.map(|d| d + Duration::from_secs(2));
    Ok(until(hard, core.take(deadline))
        .await
        .transpose()?
        .flatten())
}

macro_rules! at_most_once_takes {
    () => {
        /// Takes the next item, waiting for one. Cancel by dropping the future; an item
        /// whose node was already deleted when the future is dropped is lost (at most once).
        pub async fn take(&self) -> Result<Bytes> {
            loop {
                if let Some(item) = take_with(&self.core, None).await? {
                    return Ok(item);
                }
            }
        }

        /// Takes the next item if one comes within `timeout`.
        pub async fn take_timeout(&self, timeout: Duration) -> Result<Option<Bytes>> {
            take_with(&self.core, Some(timeout)).await
        }

        /// Takes the next item if one is available now.
        pub async fn try_take(&self) -> Result<Option<Bytes>> {
            take_with(&self.core, Some(Duration::ZERO)).await
        }

        /// The number of items in the queue (delayed ones included).
        pub async fn len(&self) -> Result<usize> {
            self.core.len().await
        }

        /// The queue's node.
        pub fn path(&self) -> &str {
            &self.core.path
        }
    };
}

/// A FIFO queue with at-most-once delivery (see the [module docs](self)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::Queue;
///
/// let queue = Queue::new(&client, "/app/jobs")?;
/// queue.put(b"job-1").await?;
/// let job = queue.take().await?;
/// assert_eq!(&job[..], b"job-1");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Queue {
    core: Arc<core::Core>,
}

impl Queue {
    /// A queue at `path` (created on first use).
    pub fn new(client: &Client, path: &str) -> Result<Queue> {
        Ok(Queue {
            core: core::Core::new(client, path, Kind::Fifo, None)?,
        })
    }

    /// Appends an item; returns its node name (`queue-<s>`).
    pub async fn put(&self, item: &[u8]) -> Result<String> {
        self.core.put(format::PREFIX, item).await
    }

    at_most_once_takes!();
}

/// A priority queue (lower priority values first, then arrival order), at most once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::PriorityQueue;
///
/// let queue = PriorityQueue::new(&client, "/app/urgent")?;
/// queue.put(b"later", 10).await?;
/// queue.put(b"first", -5).await?;
/// assert_eq!(&queue.take().await?[..], b"first");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PriorityQueue {
    core: Arc<core::Core>,
}

impl PriorityQueue {
    /// A priority queue at `path` (created on first use).
    pub fn new(client: &Client, path: &str) -> Result<PriorityQueue> {
        Ok(PriorityQueue {
            core: core::Core::new(client, path, Kind::Priority, None)?,
        })
    }

    /// Adds an item with `priority`; returns its node name.
    pub async fn put(&self, item: &[u8], priority: i32) -> Result<String> {
        self.core
            .put(&format::priority_prefix(priority), item)
            .await
    }

    at_most_once_takes!();
}

/// A delay queue: each item becomes available at its due time, earliest first, at most once.
/// Due times are compared with this host's clock.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use std::time::{Duration, SystemTime};
/// use zk_recipes::DelayQueue;
///
/// let queue = DelayQueue::new(&client, "/app/reminders")?;
/// queue.put(b"ping", SystemTime::now() + Duration::from_millis(200)).await?;
/// assert!(queue.try_take().await?.is_none());
/// assert_eq!(&queue.take().await?[..], b"ping");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DelayQueue {
    core: Arc<core::Core>,
}

impl DelayQueue {
    /// A delay queue at `path` (created on first use).
    pub fn new(client: &Client, path: &str) -> Result<DelayQueue> {
        Ok(DelayQueue {
            core: core::Core::new(client, path, Kind::Delay, None)?,
        })
    }

    /// Adds an item due at `due`; returns its node name.
    pub async fn put(&self, item: &[u8], due: SystemTime) -> Result<String> {
        let epoch = format::epoch_ms(due).max(1);
        self.core.put(&format::delay_prefix(epoch), item).await
    }

    at_most_once_takes!();
}
