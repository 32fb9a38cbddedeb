//! Coordination recipes for ZooKeeper, built only on the public API of [`zk_client`]:
//! locks (mutex, read/write, semaphore, multi-lock), leader latch and election, barriers,
//! queues, node/children/tree caches, group membership and service naming, counters and
//! persistent nodes.
//!
//! Every recipe follows the rules of `shared/design/RECIPES.md` §0: protected creation of
//! sequential nodes, ownership decided by `ephemeralOwner`, watching only the predecessor,
//! a documented connection-state policy, guaranteed delete on release, fencing tokens, and
//! Curator's znode layouts where Curator has the recipe.
//!
//! # Data recipes
//!
//! | recipe | Curator / kazoo counterpart | module |
//! |---|---|---|
//! | [`Barrier`], [`DoubleBarrier`] | `DistributedBarrier`, `DistributedDoubleBarrier` | [`barrier`], [`double_barrier`] |
//! | [`Queue`], [`PriorityQueue`], [`DelayQueue`] (at most once), [`LockingQueue`] (at least once) | `DistributedQueue` family (+ lock path), kazoo `LockingQueue` | [`queue`] |
//! | [`NodeCache`], [`ChildrenCache`], [`TreeCache`] | `NodeCache`, `PathChildrenCache`, `CuratorCache` | [`cache`] |
//! | [`GroupMember`] | `GroupMember`, kazoo `Party` | [`group`] |
//! | [`ServiceDiscovery`] | curator-x-discovery | [`registry`] |
//! | [`SharedCount`], [`AtomicValue`] | `SharedCount`, `DistributedAtomicLong` | [`counter`] |
//! | [`PersistentNode`], [`PersistentTtlNode`] | `PersistentNode`, `PersistentTtlNode` | [`persistent_node`] |
//!
//! Each module documents its znode layout and its connection-state policy. None of them
//! owns something whose ownership a disconnect makes uncertain the way a lock does, so they
//! keep working through a suspension (their watches are restored on reconnect and every
//! wake-up re-reads), re-read or rebuild on reconnection, and go on in the new session when
//! the client renews an expired one (`ClientBuilder::renew_session_on_expiry`); without
//! renewal, a lost session ends them with the client's terminal error.

#![warn(missing_docs)]

pub mod connection;
mod error;
pub mod fencing;
pub mod leader;
pub mod lock;

pub mod barrier;
pub mod cache;
pub mod counter;
pub mod double_barrier;
pub mod group;
mod node_util;
pub mod persistent_node;
pub mod queue;
pub mod registry;

pub use barrier::Barrier;
pub use cache::{CacheEvent, ChildrenCache, NodeCache, NodeData, TreeCache};
pub use connection::{ConnectionMonitor, ConnectionPolicy, OwnershipChange};
pub use counter::{AtomicOutcome, AtomicValue, SharedCount, VersionedCount};
pub use double_barrier::DoubleBarrier;
pub use error::{Error, Result};
pub use fencing::FencingToken;
pub use group::GroupMember;
pub use leader::{LatchState, LeaderElection, LeaderLatch, Leadership};
pub use lock::{
    Lease, MultiLock, MultiLockGuard, Mutex, MutexGuard, ReadLock, ReadWriteLock, Semaphore,
    WriteLock,
};
pub use persistent_node::{PersistentNode, PersistentTtlNode, TTL_TOUCH_NODE};
pub use queue::{DelayQueue, LockingQueue, PriorityQueue, Queue, QueueItem};
pub use registry::{Registration, ServiceCache, ServiceDiscovery, ServiceInstance, ServiceType};
