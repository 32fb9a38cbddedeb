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
pub use persistent_node::{PersistentNode, PersistentTtlNode, TTL_TOUCH_NODE};
pub use queue::{DelayQueue, LockingQueue, PriorityQueue, Queue, QueueItem};
pub use registry::{Registration, ServiceCache, ServiceDiscovery, ServiceInstance, ServiceType};
