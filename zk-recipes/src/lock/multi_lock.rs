//! All-or-nothing acquisition of several mutexes (Curator's `InterProcessMultiLock`).

use std::time::Duration;

use tokio::time::Instant;
use zk_client::{Client, Op, OpResult};

use super::mutex::{Mutex, MutexGuard};
use crate::error::{Error, Result};
use crate::fencing::FencingToken;

/// Several mutexes taken as one: all of them, in the given order, or none.
///
/// If one cannot be taken (timeout, error, cancellation), those already taken are released in
/// reverse order before the call returns (or, when cancelled, in the background). The guard
/// releases in reverse order too. Give every process the same order to avoid deadlocks.
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// let both = zk_recipes::MultiLock::from_paths(&client, &["/locks/a", "/locks/b"])?;
/// let guard = both.acquire().await?;
/// guard.release().await;
/// # Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
/// #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
/// #     demo(client).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MultiLock {
    locks: Vec<Mutex>,
}

impl MultiLock {
    /// A multi-lock over `locks`, taken in this order.
    ///
    /// Errors: [`Error::InvalidPath`] when `locks` is empty.
    pub fn new(locks: Vec<Mutex>) -> Result<MultiLock> {
        if locks.is_empty() {
            return Err(Error::InvalidPath(String::new()));
        }
        Ok(MultiLock { locks })
    }

    /// A multi-lock over new [`Mutex`]es on `paths`, in this order.
    ///
    /// Errors: [`Error::InvalidPath`] (also when `paths` is empty).
    pub fn from_paths(client: &Client, paths: &[&str]) -> Result<MultiLock> {
        let locks = paths
            .iter()
            .map(|path| Mutex::new(client, path))
            .collect::<Result<Vec<_>>>()?;
        MultiLock::new(locks)
    }

    /// Waits until every lock is held.
    pub async fn acquire(&self) -> Result<MultiLockGuard> {
        Ok(self.acquire_until(None).await?.expect("no deadline"))
    }

    /// Takes every lock only if each is free now.
    pub async fn try_acquire(&self) -> Result<Option<MultiLockGuard>> {
        self.acquire_until(Some(Instant::now())).await
    }

    /// Waits at most `timeout` (in all) for every lock.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<MultiLockGuard>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<MultiLockGuard>> {
        // Held guards live in the result from the start, so a cancelled acquire drops them
        // in reverse order too.
        let mut taken = MultiLockGuard {
            client: self.locks[0].client().clone(),
            guards: Vec::with_capacity(self.locks.len()),
        };
        for lock in &self.locks {
            let outcome = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    lock.acquire_timeout(left).await
                }
                None => lock.acquire().await.map(Some),
            };
            match outcome {
                Ok(Some(guard)) => taken.guards.push(guard),
                Ok(None) => {
                    tracing::debug!(
                        path = lock.path(),
                        "multi-lock: one lock not free; releasing the others"
                    );
                    taken.release().await;
                    return Ok(None);
                }
                Err(e) => {
                    taken.release().await;
                    return Err(e);
                }
            }
        }
        Ok(Some(taken))
    }
}

/// Proof that every lock of a [`MultiLock`] is held; dropping it releases them in reverse
/// order (in the background).
#[derive(Debug)]
#[must_use = "dropping the guard releases the locks"]
pub struct MultiLockGuard {
    client: Client,
    guards: Vec<MutexGuard>,
}

impl MultiLockGuard {
    /// The fencing tokens of every lock, in acquisition order.
    pub fn tokens(&self) -> Vec<&FencingToken> {
        self.guards.iter().map(MutexGuard::token).collect()
    }

    /// Writes that apply only while every lock node exists: one multi with a check per lock.
    ///
    /// Errors: [`Error::Fenced`] if one of the locks was lost.
    pub async fn fenced_multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        let client = &self.client;
        let checks = self.guards.len();
        let mut all: Vec<Op> = self
            .guards
            .iter()
            .map(|guard| Op::check(guard.token().path(), None))
            .collect();
        all.extend_from_slice(ops);
        match client.multi(&all).await {
            Ok(results) => Ok(results.into_iter().skip(checks).collect()),
            Err(zk_client::Error::MultiFailed { index, .. }) if index < checks => {
                Err(Error::Fenced {
                    path: self.guards[index].token().path().to_string(),
                })
            }
            Err(zk_client::Error::MultiFailed { index, code }) => {
                Err(Error::Client(zk_client::Error::MultiFailed {
                    index: index - checks,
                    code,
                }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Releases every lock in reverse order, each once its node is gone.
    pub async fn release(mut self) {
        while let Some(guard) = self.guards.pop() {
            guard.release().await;
        }
    }
}

impl Drop for MultiLockGuard {
    fn drop(&mut self) {
        while let Some(guard) = self.guards.pop() {
            drop(guard);
        }
    }
}
