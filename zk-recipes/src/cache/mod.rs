//! Caches that keep a local copy of ZooKeeper data and report its changes: [`NodeCache`]
//! (one node: the configuration-center case), [`ChildrenCache`] (a node's children) and
//! [`TreeCache`] (a whole subtree).
//!
//! # How they work
//! All three rest on one persistent watch (ZooKeeper 3.6+; Curator's `CuratorCache`
//! design): `addWatch(P, PERSISTENT)` for a node cache, `addWatch(P, PERSISTENT_RECURSIVE)`
//! for the others (a children cache ignores events below its children). The cache first
//! reads its whole scope, level by level with pipelined `getData`/`getChildren`, then
//! re-reads every node an event names. Caches sync *state*, not event logs (RECIPES §0.6):
//! an event only says "look again".
//!
//! A read is compared with the cached node by `czxid` and `mzxid`, never by version alone: a
//! different `czxid` is a different node (deleted and re-created, reported as
//! [`CacheEvent::Deleted`] then [`CacheEvent::Created`]), a higher `mzxid` is a change, and
//! an older or equal read is ignored. So a delete-and-recreate that happened while we were
//! disconnected, which leaves the version at 0, is still reported (CURATOR-391).
//!
//! # Connection-state policy
//! - Suspended: [`CacheEvent::Suspended`]; the contents stay as last seen (possibly stale).
//! - Reconnected (or a new session, when the client renews it): events of a persistent watch
//!   may be lost during a disconnect (ZOOKEEPER-4698), so the cache re-reads its whole scope,
//!   reports each difference, then [`CacheEvent::Reset`].
//! - Lost for good: [`CacheEvent::Lost`]; the cache stops following ZooKeeper and keeps its
//!   last contents.
//!
//! # Events
//! [`TreeCache::events`] (and the same method of the other caches) returns a
//! `tokio::sync::broadcast::Receiver`. The first call gets every event since the start,
//! including the `Created` events of the initial load and [`CacheEvent::Initialized`]; later
//! calls get the events from then on. A subscriber more than 4096 events behind gets
//! `RecvError::Lagged` and should re-read the cache's contents. The cache itself never waits
//! for subscribers.
//!
//! Dropping a cache stops its task and removes its watch.

mod engine;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use zk_client::{Bytes, Client, Stat};

use crate::error::Result;
use crate::node_util::TaskGuard;
use engine::{Engine, Shared};

/// A cached node: its data and Stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeData {
    /// The data.
    pub data: Bytes,
    /// The Stat it was read with.
    pub stat: Stat,
}

/// A change reported by a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheEvent {
    /// A node appeared (or was re-created: then a `Deleted` of the old one comes first).
    Created {
        /// The node's path.
        path: String,
        /// The node.
        node: NodeData,
    },
    /// A node's data changed.
    Changed {
        /// The node's path.
        path: String,
        /// The node as cached before.
        old: NodeData,
        /// The node now.
        node: NodeData,
    },
    /// A node went away.
    Deleted {
        /// The node's path.
        path: String,
        /// The node as last cached.
        node: NodeData,
    },
    /// The first load is complete.
    Initialized,
    /// The connection was lost; the contents may be stale until [`CacheEvent::Reset`].
    Suspended,
    /// The cache was rebuilt after a reconnect, a new session or a lost watch; the changes
    /// it found were reported before this event.
    Reset,
    /// The session is over for good; the cache no longer follows ZooKeeper.
    Lost,
}

/// The part every cache shares: the task and the contents.
#[derive(Debug)]
struct Cache {
    shared: Arc<Shared>,
    _task: TaskGuard,
}

impl Cache {
    async fn start(client: &Client, root: &str, max_depth: Option<usize>) -> Result<Cache> {
        let (engine, watcher, shared) = Engine::start(client, root, max_depth).await?;
        let task = tokio::spawn(engine.run(watcher));
        Ok(Cache {
            shared,
            _task: TaskGuard(task),
        })
    }

    fn get(&self, path: &str) -> Option<NodeData> {
        self.shared
            .nodes
            .lock()
            .expect("cache nodes")
            .get(path)
            .cloned()
    }

    fn children_of(&self, path: &str) -> BTreeMap<String, NodeData> {
        let nodes = self.shared.nodes.lock().expect("cache nodes");
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        nodes
            .iter()
            .filter_map(|(p, node)| {
                let name = p.strip_prefix(&prefix)?;
                (!name.is_empty() && !name.contains('/')).then(|| (name.to_string(), node.clone()))
            })
            .collect()
    }
}

/// A local copy of one node, updated as it changes (Curator `NodeCache`, kazoo
/// `DataWatch`): the configuration-center case.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::NodeCache;
///
/// let config = NodeCache::start(&client, "/config").await?;
/// assert!(config.get().is_none());
/// let mut value = config.watch();
/// client.create("/config", b"v1", &Default::default()).await?;
/// let node = value.wait_for(|v| v.is_some()).await?.clone().unwrap();
/// println!("config v{}: {:?}", node.stat.version, node.data);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NodeCache {
    cache: Cache,
}

impl NodeCache {
    /// Starts following the node `path` (which need not exist); returns once it was read.
    pub async fn start(client: &Client, path: &str) -> Result<NodeCache> {
        Ok(NodeCache {
            cache: Cache::start(client, path, Some(0)).await?,
        })
    }

    /// The node as last seen (`None` if it does not exist).
    pub fn get(&self) -> Option<NodeData> {
        self.cache.shared.root_value.borrow().clone()
    }

    /// The node's value as a watch channel: `borrow()` for the current value, `changed()`
    /// to wait for the next one.
    pub fn watch(&self) -> watch::Receiver<Option<NodeData>> {
        self.cache.shared.root_value.subscribe()
    }

    /// The cache's events (see the [module docs](self)).
    pub fn events(&self) -> broadcast::Receiver<CacheEvent> {
        self.cache.shared.subscribe()
    }
}

/// A local copy of a node's children (Curator `PathChildrenCache`, kazoo `ChildrenWatch`),
/// with their data.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::{CacheEvent, ChildrenCache};
///
/// let workers = ChildrenCache::start(&client, "/workers").await?;
/// let mut events = workers.events();
/// client.create("/workers", b"", &Default::default()).await?;
/// client.create("/workers/w1", b"", &Default::default()).await?;
/// while let Ok(event) = events.recv().await {
///     if let CacheEvent::Created { path, .. } = event {
///         if path == "/workers/w1" {
///             break;
///         }
///     }
/// }
/// assert_eq!(workers.children().keys().collect::<Vec<_>>(), ["w1"]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildrenCache {
    cache: Cache,
}

impl ChildrenCache {
    /// Starts following the children of `path` (which need not exist); returns once loaded.
    pub async fn start(client: &Client, path: &str) -> Result<ChildrenCache> {
        Ok(ChildrenCache {
            cache: Cache::start(client, path, Some(1)).await?,
        })
    }

    /// The children by name, with their data.
    pub fn children(&self) -> BTreeMap<String, NodeData> {
        self.cache.children_of(&self.cache.shared.root)
    }

    /// One child by name.
    pub fn get(&self, name: &str) -> Option<NodeData> {
        self.cache
            .get(&zk_proto::path::join(&self.cache.shared.root, name))
    }

    /// The parent node itself, if it exists.
    pub fn parent(&self) -> Option<NodeData> {
        self.cache.shared.root_value.borrow().clone()
    }

    /// The cache's events (for the parent and its children; see the [module docs](self)).
    pub fn events(&self) -> broadcast::Receiver<CacheEvent> {
        self.cache.shared.subscribe()
    }
}

/// A local copy of a whole subtree (Curator `CuratorCache`/`TreeCache`, kazoo `TreeCache`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::TreeCache;
///
/// let tree = TreeCache::start(&client, "/app").await?;
/// if let Some(node) = tree.get("/app/db/url") {
///     println!("db url: {:?}", node.data);
/// }
/// println!("{} nodes", tree.snapshot().len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TreeCache {
    cache: Cache,
}

impl TreeCache {
    /// Starts following the subtree at `path` (which need not exist); returns once loaded.
    pub async fn start(client: &Client, path: &str) -> Result<TreeCache> {
        Ok(TreeCache {
            cache: Cache::start(client, path, None).await?,
        })
    }

    /// Like [`TreeCache::start`], caching only `max_depth` levels below `path` (0: the node
    /// alone, 1: its children too, ...).
    pub async fn with_max_depth(
        client: &Client,
        path: &str,
        max_depth: usize,
    ) -> Result<TreeCache> {
        Ok(TreeCache {
            cache: Cache::start(client, path, Some(max_depth)).await?,
        })
    }

    /// A node by its full path.
    pub fn get(&self, path: &str) -> Option<NodeData> {
        self.cache.get(path)
    }

    /// The cached children of `path`, by name.
    pub fn children(&self, path: &str) -> BTreeMap<String, NodeData> {
        self.cache.children_of(path)
    }

    /// Every cached node by full path.
    pub fn snapshot(&self) -> BTreeMap<String, NodeData> {
        self.cache.shared.nodes.lock().expect("cache nodes").clone()
    }

    /// The cache's events (see the [module docs](self)).
    pub fn events(&self) -> broadcast::Receiver<CacheEvent> {
        self.cache.shared.subscribe()
    }
}
