//! Coordination recipes for ZooKeeper, built only on the public API of [`zk_client`]:
//! locks (mutex, read/write, semaphore, multi-lock), leader latch and election, barriers,
//! queues, node/children/tree caches, group membership and service naming, counters and
//! persistent nodes.
//!
//! Every recipe follows the rules of `shared/design/RECIPES.md` §0: protected creation of
//! sequential nodes, ownership decided by `ephemeralOwner`, watching only the predecessor,
//! a documented connection-state policy, guaranteed delete on release, fencing tokens, and
//! Curator's znode layouts where Curator has the recipe.

#![warn(missing_docs)]

pub mod connection;
mod error;
pub mod fencing;
pub mod leader;
pub mod lock;

pub use connection::{ConnectionMonitor, ConnectionPolicy, OwnershipChange};
pub use error::{Error, Result};
pub use fencing::FencingToken;
pub use leader::{LatchState, LeaderElection, LeaderLatch, Leadership};
pub use lock::{
    Lease, MultiLock, MultiLockGuard, Mutex, MutexGuard, ReadLock, ReadWriteLock, Semaphore,
    WriteLock,
};
