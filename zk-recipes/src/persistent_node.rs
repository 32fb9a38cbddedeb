//! Nodes kept in place: [`PersistentNode`] (Curator `PersistentNode`) re-creates its node
//! after a deletion or a session expiry; [`PersistentTtlNode`] (Curator `PersistentTtlNode`)
//! keeps a TTL node alive by touching it.
//!
//! # PersistentNode
//! A background task creates the node (parents as containers) and holds a watch on it
//! (`exists`):
//! - NodeDeleted → create it again.
//! - NodeExists on create → `setData` with our data and watch the existing node: it may be an
//!   ephemeral of an older session of ours (or of another process) that is about to vanish,
//!   and is re-created when it does.
//! - Sequential modes use the protected create (`_c_<uuid>-<name>`), so a create whose reply
//!   was lost is found instead of made twice; [`PersistentNode::path`] gives the current name.
//!
//! Connection-state policy:
//! - Suspended: nothing to do; the client restores the watch on reconnect, and it fires if
//!   the node was deleted meanwhile.
//! - Lost: an ephemeral node is gone with the session. If the client renews its session
//!   (`renew_session_on_expiry`), the node is created again in the new one; otherwise the
//!   task ends and [`PersistentNode::path`] is `None`.
//!
//! Dropping or [closing](PersistentNode::close) it stops the task and deletes the node
//! (retried in the background until it is gone).
//!
//! # PersistentTtlNode
//! Curator's layout: `P` is a CONTAINER kept by a `PersistentNode`, and `P/touch` is a
//! PERSISTENT_WITH_TTL child whose data is set every `ttl / 2` (created when missing). While
//! touched, the child keeps the container alive; once the process stops touching, the server
//! deletes the child after `ttl` and then the empty container. TTL nodes need
//! `extendedTypesEnabled=true` on the server (creating one fails with
//! [`zk_client::Error::Unimplemented`] otherwise).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError, EventType};

use crate::error::Result;
use crate::node_util::{check_path, create_parent_containers, retry, wait_connected, TaskGuard};

/// What the handle and the task share.
#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    options: CreateOptions,
    /// Our data; a std mutex held only to read or replace it.
    data: Mutex<Vec<u8>>,
    /// The node's actual path while it exists (for sequential modes, with its suffix).
    actual: watch::Sender<Option<String>>,
    /// On NodeExists, delete and create instead of taking the node over (so that watchers
    /// see the change; service registration, CURATOR-164).
    replace_existing: bool,
}

/// A node that is re-created whenever it disappears (see the [module docs](self)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use std::time::Duration;
/// use zk_client::CreateMode;
/// use zk_recipes::PersistentNode;
///
/// let node = PersistentNode::new(&client, "/app/live/worker-7", CreateMode::Ephemeral, b"up")?;
/// assert!(node.wait_for_initial_create(Duration::from_secs(5)).await);
/// node.set_data(b"busy").await?;
/// node.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PersistentNode {
    inner: Arc<Inner>,
    task: Option<TaskGuard>,
    delete_on_drop: bool,
}

impl PersistentNode {
    /// Starts keeping the node `path` with `mode` and `data`; returns at once (see
    /// [`PersistentNode::wait_for_initial_create`]). TTL modes need
    /// [`PersistentNode::with_options`].
    pub fn new(
        client: &Client,
        path: &str,
        mode: CreateMode,
        data: &[u8],
    ) -> Result<PersistentNode> {
        PersistentNode::with_options(client, path, CreateOptions::new(mode), data)
    }

    /// Like [`PersistentNode::new`] with full create options (ACL, TTL).
    pub fn with_options(
        client: &Client,
        path: &str,
        options: CreateOptions,
        data: &[u8],
    ) -> Result<PersistentNode> {
        PersistentNode::start(client, path, options, data, false)
    }

    pub(crate) fn start(
        client: &Client,
        path: &str,
        options: CreateOptions,
        data: &[u8],
        replace_existing: bool,
    ) -> Result<PersistentNode> {
        check_path(path)?;
        let inner = Arc::new(Inner {
            client: client.clone(),
            path: path.to_string(),
            options,
            data: Mutex::new(data.to_vec()),
            actual: watch::channel(None).0,
            replace_existing,
        });
        let task = tokio::spawn(keep(inner.clone()));
        Ok(PersistentNode {
            inner,
            task: Some(TaskGuard(task)),
            delete_on_drop: true,
        })
    }

    /// Waits until the node exists; fails if the session ends for good first.
    pub(crate) async fn wait_created(&self) -> Result<String> {
        let mut actual = self.inner.actual.subscribe();
        loop {
            if let Some(path) = actual.borrow_and_update().clone() {
                return Ok(path);
            }
            let soon = tokio::time::Instant::now() + Duration::from_millis(200);
            wait_connected(&self.inner.client, Some(soon)).await?;
            let _ = tokio::time::timeout_at(soon, actual.changed()).await;
        }
    }

    /// Waits until the node was created the first time; `false` after `timeout`.
    pub async fn wait_for_initial_create(&self, timeout: Duration) -> bool {
        let mut actual = self.inner.actual.subscribe();
        tokio::time::timeout(timeout, actual.wait_for(|p| p.is_some()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The node's path while it exists (with the sequence suffix for sequential modes).
    pub fn path(&self) -> Option<String> {
        self.inner.actual.borrow().clone()
    }

    /// The path as a watch channel (`None` while the node is being re-created).
    pub fn watch_path(&self) -> watch::Receiver<Option<String>> {
        self.inner.actual.subscribe()
    }

    /// Our data.
    pub fn data(&self) -> Vec<u8> {
        self.inner.data.lock().expect("node data").clone()
    }

    /// Replaces our data, and writes it to the node if it exists now (it is used for every
    /// re-creation either way).
    pub async fn set_data(&self, data: &[u8]) -> Result<()> {
        *self.inner.data.lock().expect("node data") = data.to_vec();
        // While the node is being re-created, its name is the requested one (except for
        // sequential modes; the task then writes the new data after its create).
        let path = match self.path() {
            Some(path) => path,
            None if self.inner.options.mode().is_sequential() => return Ok(()),
            None => self.inner.path.clone(),
        };
        match retry(&self.inner.client, || {
            self.inner.client.set_data(&path, data, None)
        })
        .await
        {
            Ok(_) | Err(ClientError::NoNode) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops keeping the node and deletes it.
    pub async fn close(mut self) -> Result<()> {
        self.task = None;
        self.delete_on_drop = false;
        let Some(path) = self.path() else {
            return Ok(());
        };
        match retry(&self.inner.client, || self.inner.client.delete(&path, None)).await {
            Ok(()) | Err(ClientError::NoNode) | Err(ClientError::NotEmpty) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for PersistentNode {
    fn drop(&mut self) {
        self.task = None;
        if self.delete_on_drop {
            if let Some(path) = self.path() {
                crate::node_util::delete_in_background(&self.inner.client, path, None);
            }
        }
    }
}

/// Creates the node; `Ok(None)` when the client cannot serve (retry after waiting).
async fn create(inner: &Inner) -> std::result::Result<Option<String>, ClientError> {
    let data = inner.data.lock().expect("node data").clone();
    let client = &inner.client;
    let mode = inner.options.mode();
    let attempt = if mode.is_sequential() {
        client
            .create_protected(&inner.path, &data, &inner.options)
            .await
    } else {
        client.create(&inner.path, &data, &inner.options).await
    };
    match attempt {
        Ok((path, _)) => {
            // Our data may have changed while the create was under way.
            let now = inner.data.lock().expect("node data").clone();
            if now != data {
                client.set_data(&path, &now, None).await?;
            }
            Ok(Some(path))
        }
        Err(ClientError::NoNode) => {
            create_parent_containers(client, &inner.path).await?;
            Ok(None)
        }
        Err(ClientError::NodeExists) if inner.replace_existing => {
            match client.delete(&inner.path, None).await {
                Ok(()) | Err(ClientError::NoNode) => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(ClientError::NodeExists) => {
            // Ours from a lost reply, an older session's ephemeral, or someone else's node:
            // take it over with our data and watch it.
            match client.set_data(&inner.path, &data, None).await {
                Ok(_) => Ok(Some(inner.path.clone())),
                Err(ClientError::NoNode) => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The task of a [`PersistentNode`].
async fn keep(inner: Arc<Inner>) {
    let client = inner.client.clone();
    loop {
        let path = match create(&inner).await {
            Ok(Some(path)) => path,
            Ok(None) => continue,
            Err(e) if e.is_retryable() || e.is_terminal() => {
                if wait_connected(&client, None).await.is_err() {
                    inner.actual.send_replace(None);
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(path = %inner.path, error = %e, "persistent node cannot be created; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::debug!(%path, session = %client.session_id(), "persistent node in place");
        inner.actual.send_replace(Some(path.clone()));
        // Watch it until it is deleted or the session ends.
        loop {
            let watched = match client.exists_and_watch(&path).await {
                Ok((Some(_), watcher)) => watcher,
                Ok((None, _)) => break,
                Err(e) if e.is_retryable() => {
                    if wait_connected(&client, None).await.is_err() {
                        inner.actual.send_replace(None);
                        return;
                    }
                    continue;
                }
                Err(_) => break,
            };
            let event = watched.changed().await;
            match event.event_type {
                EventType::NodeDeleted => break,
                EventType::Session if event.state.is_terminal() => break,
                _ => {}
            }
        }
        inner.actual.send_replace(None);
        tracing::debug!(%path, "persistent node gone; re-creating");
    }
}

/// The name of the child a [`PersistentTtlNode`] touches.
pub const TTL_TOUCH_NODE: &str = "touch";

/// A node that lives while this process touches it, and is removed by the server `ttl` after
/// it stops (see the [module docs](self)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use std::time::Duration;
/// use zk_recipes::PersistentTtlNode;
///
/// let node = PersistentTtlNode::new(&client, "/app/leases/batch-9", Duration::from_secs(30), b"")?;
/// assert!(node.wait_for_initial_create(Duration::from_secs(5)).await);
/// // Dropped or closed: the server deletes it about 30 s later.
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PersistentTtlNode {
    node: PersistentNode,
    _touch: TaskGuard,
}

impl PersistentTtlNode {
    /// Starts keeping `path` (a container) with a `touch` child of `ttl`.
    ///
    /// Errors: [`zk_client::Error::BadArguments`] for a TTL outside 1 ms ..= 2^40-1 ms.
    pub fn new(
        client: &Client,
        path: &str,
        ttl: Duration,
        data: &[u8],
    ) -> Result<PersistentTtlNode> {
        let ms = ttl.as_millis();
        if ms == 0 || ms > zk_proto::MAX_TTL as u128 {
            return Err(ClientError::BadArguments(zk_client::ArgumentError::InvalidTtl(ms)).into());
        }
        let mut node = PersistentNode::new(client, path, CreateMode::Container, data)?;
        // The server reaps it once the child lapses; deleting it would end the lease early.
        node.delete_on_drop = false;
        let touch_path = zk_proto::path::join(path, TTL_TOUCH_NODE);
        let ttl_options = CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(ttl);
        let client = client.clone();
        let mut actual = node.watch_path();
        let touch = tokio::spawn(async move {
            let period = (ttl / 2).max(Duration::from_millis(1));
            loop {
                if actual.wait_for(|p| p.is_some()).await.is_err() {
                    return;
                }
                match client.set_data(&touch_path, &[], None).await {
                    Ok(_) => {}
                    Err(ClientError::NoNode) => {
                        match client.create(&touch_path, &[], &ttl_options).await {
                            Ok(_) | Err(ClientError::NodeExists) | Err(ClientError::NoNode) => {}
                            Err(e) => {
                                tracing::debug!(path = %touch_path, error = %e, "could not create the touch node")
                            }
                        }
                    }
                    Err(e) if e.is_terminal() && wait_connected(&client, None).await.is_err() => {
                        return
                    }
                    Err(e) => tracing::debug!(path = %touch_path, error = %e, "could not touch"),
                }
                tokio::time::sleep(period).await;
            }
        });
        Ok(PersistentTtlNode {
            node,
            _touch: TaskGuard(touch),
        })
    }

    /// Waits until the node was created the first time; `false` after `timeout`.
    pub async fn wait_for_initial_create(&self, timeout: Duration) -> bool {
        self.node.wait_for_initial_create(timeout).await
    }

    /// The node's path while it exists.
    pub fn path(&self) -> Option<String> {
        self.node.path()
    }

    /// Our data.
    pub fn data(&self) -> Vec<u8> {
        self.node.data()
    }

    /// Replaces the node's data.
    pub async fn set_data(&self, data: &[u8]) -> Result<()> {
        self.node.set_data(data).await
    }
}
