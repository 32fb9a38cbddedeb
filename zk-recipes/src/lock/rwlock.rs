//! The read/write lock (Curator's `InterProcessReadWriteLock`, same znode layout).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use zk_client::Client;

use super::internals::{mutex_predicate, node_name, sort_key, Decision};
use super::mutex::{Mutex, MutexGuard};
use crate::error::{Error, Result};

const READ: &str = "__READ__";
const WRITE: &str = "__WRIT__";
const MARKERS: &[&str] = &[READ, WRITE];

/// A distributed read/write lock; Curator's `InterProcessReadWriteLock` on the same paths.
///
/// Layout: `P/_c_<uuid>-__READ__<seq>` and `P/_c_<uuid>-__WRIT__<seq>`, ephemeral-sequential,
/// one sequence for both, ordered by the text after the marker (the sequence) only.
///
/// - A **writer** holds the lock when its node is the first of all; it waits on its immediate
///   predecessor, whatever its kind.
/// - A **reader** holds the lock when no writer node precedes its own; it waits only on the
///   first earlier writer, never on later ones (kazoo #649: counting later writers
///   deadlocks).
/// - **Downgrade**: the holder of the write lock may take the read lock through the same
///   handle. Its read node is named `__READ__<writer's sequence>`, so the server appends its
///   own sequence after the writer's and the node sorts right after the write node: a writer
///   queued behind the write lock still waits for the read lock once the write lock is
///   released (CURATOR-621). Curator processes sort it the same way.
/// - **Upgrade is refused**: asking for the write lock while holding only the read lock of
///   the same handle fails with [`Error::LockUpgrade`] (two upgrading readers would wait for
///   each other forever).
///
/// Both locks are re-entrant per handle, released with guaranteed delete, cancellable, and
/// carry fencing tokens, like [`Mutex`].
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// let rw = zk_recipes::ReadWriteLock::new(&client, "/app/rw")?;
/// let write = rw.write_lock().acquire().await?;
/// let read = rw.read_lock().acquire().await?; // downgrade
/// write.release().await;                       // readers may come in, writers may not
/// read.release().await;
/// # Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
/// #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
/// #     demo(client).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReadWriteLock {
    read: Mutex,
    write: Mutex,
}

/// The read side of a [`ReadWriteLock`] (a clone shares the handle).
#[derive(Debug, Clone)]
pub struct ReadLock {
    read: Mutex,
    write: Mutex,
}

/// The write side of a [`ReadWriteLock`] (a clone shares the handle).
#[derive(Debug, Clone)]
pub struct WriteLock {
    read: Mutex,
    write: Mutex,
}

impl ReadWriteLock {
    /// A read/write lock on the directory `path`.
    ///
    /// Errors: [`Error::InvalidPath`].
    pub fn new(client: &Client, path: &str) -> Result<ReadWriteLock> {
        Ok(ReadWriteLock {
            read: Mutex::with_layout(client, path, READ, MARKERS, Vec::new())?,
            write: Mutex::with_layout(client, path, WRITE, MARKERS, Vec::new())?,
        })
    }

    /// The read lock of this handle.
    pub fn read_lock(&self) -> ReadLock {
        ReadLock {
            read: self.read.clone(),
            write: self.write.clone(),
        }
    }

    /// The write lock of this handle.
    pub fn write_lock(&self) -> WriteLock {
        WriteLock {
            read: self.read.clone(),
            write: self.write.clone(),
        }
    }
}

impl ReadLock {
    /// Waits until the read lock is held.
    pub async fn acquire(&self) -> Result<MutexGuard> {
        Ok(self.acquire_until(None).await?.expect("no deadline"))
    }

    /// Takes the read lock only if no writer is ahead now.
    pub async fn try_acquire(&self) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now())).await
    }

    /// Waits at most `timeout` for the read lock.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// True while this handle holds the read lock.
    pub fn is_held(&self) -> bool {
        self.read.is_held()
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<MutexGuard>> {
        let write = self.write.clone();
        self.read
            .acquire_with(deadline, move |_| match write.held_node() {
                Some(writer) => {
                    // Downgrade: sort right after our own write node.
                    let name = node_name(&writer.path).to_string();
                    let suffix = sort_key(&name, MARKERS).to_string();
                    let predicate = Arc::new(move |sorted: &[String], ours: usize| {
                        reader_predicate(sorted, ours, Some(&name))
                    });
                    (Some(suffix), predicate)
                }
                None => (
                    None,
                    Arc::new(|sorted: &[String], ours: usize| reader_predicate(sorted, ours, None)),
                ),
            })
            .await
    }
}

impl WriteLock {
    /// Waits until the write lock is held.
    ///
    /// Errors: [`Error::LockUpgrade`] if this handle holds only the read lock.
    pub async fn acquire(&self) -> Result<MutexGuard> {
        Ok(self.acquire_until(None).await?.expect("no deadline"))
    }

    /// Takes the write lock only if it is free now.
    pub async fn try_acquire(&self) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now())).await
    }

    /// Waits at most `timeout` for the write lock.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// True while this handle holds the write lock.
    pub fn is_held(&self) -> bool {
        self.write.is_held()
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<MutexGuard>> {
        if self.read.is_held() && !self.write.is_held() {
            return Err(Error::LockUpgrade);
        }
        self.write
            .acquire_with(deadline, |_| (None, Arc::new(mutex_predicate)))
            .await
    }
}

/// Reader rule: held unless a writer (other than our own, on a downgrade) precedes us; then
/// wait on the first such writer.
fn reader_predicate(sorted: &[String], ours: usize, own_writer: Option<&str>) -> Decision {
    sorted[..ours]
        .iter()
        .find(|child| child.contains(WRITE) && Some(child.as_str()) != own_writer)
        .map_or(Decision::Acquired, |writer| {
            Decision::WaitFor(writer.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::super::internals::sort_children;
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut children: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        sort_children(&mut children, MARKERS);
        children
    }

    #[test]
    fn readers_wait_only_for_earlier_writers() {
        let children = sorted(&[
            "_c_d-__READ__0000000004",
            "_c_a-__READ__0000000001",
            "_c_b-__WRIT__0000000002",
            "_c_c-__WRIT__0000000003",
        ]);
        assert_eq!(reader_predicate(&children, 0, None), Decision::Acquired);
        // The later reader waits on the first earlier writer, not the nearest.
        assert_eq!(
            reader_predicate(&children, 3, None),
            Decision::WaitFor("_c_b-__WRIT__0000000002".into())
        );
    }

    #[test]
    fn a_downgraded_reader_sorts_right_after_its_writer() {
        // Our writer 1 holds; writer 2 waits; we downgrade: our read node gets 1's sequence
        // as a prefix and the server's 3 after it.
        let children = sorted(&[
            "_c_w2-__WRIT__0000000002",
            "_c_r-__READ__00000000010000000003",
            "_c_w1-__WRIT__0000000001",
        ]);
        assert_eq!(
            children,
            [
                "_c_w1-__WRIT__0000000001",
                "_c_r-__READ__00000000010000000003",
                "_c_w2-__WRIT__0000000002"
            ]
        );
        assert_eq!(
            reader_predicate(&children, 1, Some("_c_w1-__WRIT__0000000001")),
            Decision::Acquired
        );
        // Once writer 1 is gone, writer 2 still has our read node before it.
        let children = sorted(&[
            "_c_w2-__WRIT__0000000002",
            "_c_r-__READ__00000000010000000003",
        ]);
        assert_eq!(
            mutex_predicate(&children, 1),
            Decision::WaitFor("_c_r-__READ__00000000010000000003".into())
        );
    }
}
