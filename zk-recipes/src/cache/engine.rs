//! The engine behind every cache: one persistent watch, a walk to (re)build, and a re-read of
//! each node an event names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use tokio::sync::{broadcast, watch};
use zk_client::{
    AddWatchMode, Client, Error as ClientError, EventType, PersistentWatcher, SessionState,
};

use super::{CacheEvent, NodeData};
use crate::error::Result;
use crate::node_util::{retry, wait_connected};

/// How many events wait for a slow subscriber before it lags (see [`CacheEvent`]).
const EVENT_BUFFER: usize = 4096;

/// What a cache handle shares with its task. The std mutex guards the map only for short,
/// non-async sections (insert, remove, clone).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) root: String,
    pub(crate) nodes: Mutex<BTreeMap<String, NodeData>>,
    pub(crate) events: broadcast::Sender<CacheEvent>,
    /// The events since the start, for the first subscriber.
    pub(crate) first_events: Mutex<Option<broadcast::Receiver<CacheEvent>>>,
    pub(crate) root_value: watch::Sender<Option<NodeData>>,
}

impl Shared {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<CacheEvent> {
        self.first_events
            .lock()
            .expect("cache events")
            .take()
            .unwrap_or_else(|| self.events.subscribe())
    }
}

/// The cache task's state.
pub(crate) struct Engine {
    client: Client,
    shared: Arc<Shared>,
    /// `Some(0)`: the root only; `Some(1)`: the root and its children; `None`: the tree.
    max_depth: Option<usize>,
}

impl Engine {
    /// Sets the watch and loads everything; returns the engine and its watch.
    pub(crate) async fn start(
        client: &Client,
        root: &str,
        max_depth: Option<usize>,
    ) -> Result<(Engine, PersistentWatcher, Arc<Shared>)> {
        crate::node_util::check_path(root)?;
        let (events, first) = broadcast::channel(EVENT_BUFFER);
        let shared = Arc::new(Shared {
            root: root.to_string(),
            nodes: Mutex::new(BTreeMap::new()),
            events,
            first_events: Mutex::new(Some(first)),
            root_value: watch::channel(None).0,
        });
        let engine = Engine {
            client: client.clone(),
            shared: shared.clone(),
            max_depth,
        };
        let watcher = engine.add_watch().await?;
        engine.rebuild().await?;
        engine.emit(CacheEvent::Initialized);
        tracing::debug!(root, session = %client.session_id(), "cache initialized");
        Ok((engine, watcher, shared))
    }

    async fn add_watch(&self) -> Result<PersistentWatcher> {
        let mode = if self.max_depth == Some(0) {
            AddWatchMode::Persistent
        } else {
            AddWatchMode::PersistentRecursive
        };
        Ok(retry(&self.client, || {
            self.client.add_watch(&self.shared.root, mode)
        })
        .await?)
    }

    /// Follows the watch until the session is over for good.
    pub(crate) async fn run(self, mut watcher: PersistentWatcher) {
        let root = self.shared.root.clone();
        loop {
            match watcher.changed().await {
                Some(event) if event.event_type == EventType::Session => {
                    if let Err(e) = self.session_event(event.state).await {
                        tracing::debug!(%root, error = %e, "cache stops");
                        self.emit(CacheEvent::Lost);
                        return;
                    }
                }
                Some(event) => {
                    if let Err(e) = self.refresh(&event.path).await {
                        tracing::debug!(%root, error = %e, "cache stops");
                        self.emit(CacheEvent::Lost);
                        return;
                    }
                }
                None => {
                    // The watch ended: the consumer lagged (we re-register and rebuild), or the
                    // session is over (then we stop, unless the client renews it).
                    let lagged = watcher.is_lagged();
                    tracing::debug!(%root, lagged, "cache watch ended");
                    let again = async {
                        wait_connected(&self.client, None).await?;
                        let w = self.add_watch().await?;
                        self.rebuild().await?;
                        Ok::<_, crate::Error>(w)
                    };
                    match again.await {
                        Ok(w) => {
                            watcher = w;
                            self.emit(CacheEvent::Reset);
                        }
                        Err(_) => {
                            self.emit(CacheEvent::Lost);
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn session_event(&self, state: SessionState) -> Result<()> {
        match state {
            SessionState::Disconnected | SessionState::Expired => {
                tracing::debug!(root = %self.shared.root, %state, "cache suspended");
                self.emit(CacheEvent::Suspended);
            }
            SessionState::Connected | SessionState::ConnectedReadOnly => {
                // Events during the disconnect may be lost (ZOOKEEPER-4698): rebuild, and
                // compare czxid/mzxid so a delete-and-recreate is seen (CURATOR-391).
                self.rebuild().await?;
                tracing::debug!(root = %self.shared.root, "cache rebuilt after a reconnect");
                self.emit(CacheEvent::Reset);
            }
            _ => {}
        }
        Ok(())
    }

    fn depth(&self, path: &str) -> Option<usize> {
        let root = &self.shared.root;
        if path == root {
            return Some(0);
        }
        let rest = path.strip_prefix(root.as_str())?.strip_prefix('/')?;
        Some(rest.split('/').count())
    }

    fn in_scope(&self, path: &str) -> bool {
        match (self.depth(path), self.max_depth) {
            (Some(d), Some(max)) => d <= max,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Re-reads one node after an event about it.
    async fn refresh(&self, path: &str) -> Result<()> {
        if !self.in_scope(path) {
            return Ok(());
        }
        match retry(&self.client, || self.client.get_data(path)).await {
            Ok((data, stat)) => self.upsert(path, NodeData { data, stat }),
            Err(ClientError::NoNode) => self.remove_subtree(path),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Reads the whole scope level by level (each level pipelined), then drops what is gone.
    async fn rebuild(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        let mut level = vec![self.shared.root.clone()];
        let mut depth = 0;
        while !level.is_empty() {
            let reads: Vec<_> = level.iter().map(|p| self.client.get_data(p)).collect();
            let descend = self.max_depth.map_or(true, |max| depth < max);
            let listings: Vec<_> = if descend {
                level
                    .iter()
                    .map(|p| Some(self.client.get_children(p)))
                    .collect()
            } else {
                level.iter().map(|_| None).collect()
            };
            let reads = join_all(reads).await;
            let listings = join_all(listings.into_iter().map(|l| async move {
                match l {
                    Some(l) => Some(l.await),
                    None => None,
                }
            }))
            .await;
            let mut next = Vec::new();
            for ((path, read), listing) in level.iter().zip(reads).zip(listings) {
                match read {
                    Ok((data, stat)) => {
                        seen.insert(path.clone());
                        self.upsert(path, NodeData { data, stat });
                    }
                    Err(ClientError::NoNode) => continue,
                    Err(e) if e.is_retryable() => {
                        // The connection dropped mid-walk: start over once it is back.
                        wait_connected(&self.client, None).await?;
                        return Box::pin(self.rebuild()).await;
                    }
                    Err(e) => return Err(e.into()),
                }
                match listing {
                    Some(Ok(children)) => {
                        next.extend(children.iter().map(|c| zk_proto::path::join(path, c)));
                    }
                    Some(Err(ClientError::NoNode)) | None => {}
                    Some(Err(e)) if e.is_retryable() => {
                        wait_connected(&self.client, None).await?;
                        return Box::pin(self.rebuild()).await;
                    }
                    Some(Err(e)) => return Err(e.into()),
                }
            }
            level = next;
            depth += 1;
        }
        let gone: Vec<String> = {
            let nodes = self.shared.nodes.lock().expect("cache nodes");
            nodes
                .keys()
                .filter(|p| !seen.contains(*p))
                .cloned()
                .collect()
        };
        for path in gone.iter().rev() {
            self.remove_one(path);
        }
        Ok(())
    }

    /// Stores a node read from the server, reporting what changed: a different `czxid` is a
    /// new node (deleted and re-created), a higher `mzxid` a data change; an older or equal
    /// read changes nothing.
    fn upsert(&self, path: &str, node: NodeData) {
        let old = {
            let mut nodes = self.shared.nodes.lock().expect("cache nodes");
            match nodes.get(path) {
                Some(old)
                    if old.stat.czxid == node.stat.czxid && node.stat.mzxid <= old.stat.mzxid =>
                {
                    return;
                }
                _ => nodes.insert(path.to_string(), node.clone()),
            }
        };
        if path == self.shared.root {
            self.shared.root_value.send_replace(Some(node.clone()));
        }
        let path = path.to_string();
        match old {
            None => self.emit(CacheEvent::Created { path, node }),
            Some(old) if old.stat.czxid != node.stat.czxid => {
                self.emit(CacheEvent::Deleted {
                    path: path.clone(),
                    node: old,
                });
                self.emit(CacheEvent::Created { path, node });
            }
            Some(old) => self.emit(CacheEvent::Changed { path, old, node }),
        }
    }

    /// Removes a node and everything cached below it, deepest first.
    fn remove_subtree(&self, path: &str) {
        let below: Vec<String> = {
            let nodes = self.shared.nodes.lock().expect("cache nodes");
            let prefix = format!("{path}/");
            nodes
                .keys()
                .filter(|p| p.as_str() == path || p.starts_with(&prefix))
                .cloned()
                .collect()
        };
        for p in below.iter().rev() {
            self.remove_one(p);
        }
    }

    fn remove_one(&self, path: &str) {
        let removed = self.shared.nodes.lock().expect("cache nodes").remove(path);
        if let Some(node) = removed {
            if path == self.shared.root {
                self.shared.root_value.send_replace(None);
            }
            self.emit(CacheEvent::Deleted {
                path: path.to_string(),
                node,
            });
        }
    }

    fn emit(&self, event: CacheEvent) {
        tracing::trace!(root = %self.shared.root, ?event, "cache event");
        // No subscriber is fine.
        let _ = self.shared.events.send(event);
    }
}
