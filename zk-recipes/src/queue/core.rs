//! The shared engine of the queues: put, list in order, claim, and wait for more.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use zk_client::{Bytes, Client, CreateMode, CreateOptions, Error as ClientError, OneshotWatcher};

use super::format::{self, Kind};
use crate::error::Result;
use crate::node_util::{ensure_node, retry, uuid4};

/// One queue: its path, naming, and (for the locking queue) its lock directory.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) client: Client,
    pub(crate) path: String,
    pub(crate) kind: Kind,
    pub(crate) lock_path: Option<String>,
    /// Items of an already-deleted node not handed out yet (a node can hold several items
    /// when a Curator producer used `putMulti`). A std mutex: held only to push or pop.
    pub(crate) buffer: Mutex<VecDeque<Bytes>>,
    /// FIFO only: the names after the one taken in the last listing, oldest first, tried
    /// before the queue is listed again (see [`Core::take_listed`]). A std mutex: held
    /// only to pop or replace.
    listed: Mutex<VecDeque<String>>,
    prepared: tokio::sync::OnceCell<()>,
}

/// An item claimed under a lock (locking queue).
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) name: String,
    pub(crate) items: Vec<Bytes>,
    pub(crate) token: String,
    /// The session that holds the lock.
    pub(crate) session: i64,
}

/// What a scan of the queue found.
enum Scan<T> {
    Took(T),
    /// Nothing available; the earliest due time of a delayed item, if any.
    Empty(Option<u64>),
}

impl Core {
    pub(crate) fn new(
        client: &Client,
        path: &str,
        kind: Kind,
        lock_path: Option<&str>,
    ) -> Result<Arc<Core>> {
        crate::node_util::check_path(path)?;
        if let Some(lock) = lock_path {
            crate::node_util::check_path(lock)?;
        }
        Ok(Arc::new(Core {
            client: client.clone(),
            path: path.to_string(),
            kind,
            lock_path: lock_path.map(str::to_string),
            buffer: Mutex::new(VecDeque::new()),
            listed: Mutex::new(VecDeque::new()),
            prepared: tokio::sync::OnceCell::new(),
        }))
    }

    /// Creates the queue node (and lock directory) once per handle, as Curator's `start`.
    async fn prepare(&self) -> Result<()> {
        self.prepared
            .get_or_try_init(|| async {
                let persistent = CreateOptions::new(CreateMode::Persistent);
                ensure_node(&self.client, &self.path, &persistent).await?;
                if let Some(lock) = &self.lock_path {
                    ensure_node(&self.client, lock, &persistent).await?;
                }
                Ok::<(), crate::Error>(())
            })
            .await
            .map(|_| ())
    }

    /// Adds an item under the name prefix `prefix`; returns its node name.
    pub(crate) async fn put(&self, prefix: &str, item: &[u8]) -> Result<String> {
        self.prepare().await?;
        let path = zk_proto::path::join(&self.path, prefix);
        let data = format::encode(item);
        let options = CreateOptions::new(CreateMode::PersistentSequential);
        // Not retried on connection loss: a second create could duplicate the item. The
        // error tells the producer the outcome is unknown.
        let (created, _) = self.client.create(&path, &data, &options).await?;
        let name = zk_proto::path::basename(&created).to_string();
        tracing::trace!(queue = %self.path, %name, session = %self.client.session_id(), "put");
        Ok(name)
    }

    /// The number of items waiting (delayed ones included).
    pub(crate) async fn len(&self) -> Result<usize> {
        self.prepare().await?;
        let children = retry(&self.client, || self.client.get_children(&self.path)).await?;
        let buffered = self.buffer.lock().expect("queue buffer").len();
        Ok(children
            .iter()
            .filter(|c| c.starts_with(format::PREFIX))
            .count()
            + buffered)
    }

    /// Takes one item, at most once: the node is deleted (with the version read) before the
    /// item is returned. Waits until `deadline` (`None`: forever, `Some(now)`: no wait).
    pub(crate) async fn take(&self, deadline: Option<Instant>) -> Result<Option<Bytes>> {
        if let Some(item) = self.buffer.lock().expect("queue buffer").pop_front() {
            return Ok(Some(item));
        }
        self.prepare().await?;
        let taken = match self.take_listed().await? {
            Some(items) => Some(items),
            None => {
                self.wait_for(deadline, |names, _| async move {
                    self.delete_first(names).await
                })
                .await?
            }
        };
        Ok(taken.and_then(|mut items| {
            let first = items.pop_front();
            self.buffer.lock().expect("queue buffer").extend(items);
            first
        }))
    }

    /// FIFO only: takes the oldest name left from the last listing without listing the
    /// queue again, as Curator's `DistributedQueue` works through one listing. Items put
    /// since then have higher sequence numbers, so the order stays FIFO. The first miss (a
    /// rival consumer took the item, or it is unreadable) drops the names: the caller lists
    /// again, so a contended queue costs no more round trips than before. Without this, a
    /// backlog of n items cost O(n) bytes of listing per take, O(n²) to drain.
    async fn take_listed(&self) -> Result<Option<VecDeque<Bytes>>> {
        let next = self.listed.lock().expect("queue listing").pop_front();
        let Some(name) = next else {
            return Ok(None);
        };
        let taken = self.delete_one(&name).await?;
        if taken.is_none() {
            self.listed.lock().expect("queue listing").clear();
        }
        Ok(taken)
    }

    /// Claims one item under a lock (locking queue).
    pub(crate) async fn claim(&self, deadline: Option<Instant>) -> Result<Option<Claimed>> {
        self.prepare().await?;
        self.wait_for(deadline, |names, locked| async move {
            self.lock_first(names, locked).await
        })
        .await
    }

    /// Lists the available items in order, lets `attempt` take one, and otherwise waits for
    /// the children (and, with locks, the lock directory) to change or a delay to pass.
    async fn wait_for<T, F, Fut>(&self, deadline: Option<Instant>, attempt: F) -> Result<Option<T>>
    where
        F: Fn(Vec<String>, HashSet<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Scan<T>>>,
    {
        loop {
            let (mut names, _, items_changed) = retry(&self.client, || {
                self.client.get_children_and_watch(&self.path)
            })
            .await?;
            let (locked, locks_changed) = match &self.lock_path {
                Some(lock) => {
                    let (held, _, w) =
                        retry(&self.client, || self.client.get_children_and_watch(lock)).await?;
                    (held.into_iter().collect(), Some(w))
                }
                None => (HashSet::new(), None),
            };
            names.retain(|n| n.starts_with(format::PREFIX));
            format::sort(self.kind, &mut names);
            let due = match attempt(names, locked).await? {
                Scan::Took(t) => return Ok(Some(t)),
                Scan::Empty(due) => due,
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(None);
            }
            let delay_wake = due.map(|epoch| {
                let now = format::epoch_ms(SystemTime::now());
                Instant::now() + Duration::from_millis(epoch.saturating_sub(now))
            });
            let wake = match (deadline, delay_wake) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tracing::trace!(queue = %self.path, "waiting for items");
            if wait_any(items_changed, locks_changed, wake).await.is_some()
                && !crate::node_util::wait_connected(&self.client, deadline).await?
            {
                // The session ended and was renewed too late (or not at all: then the call
                // above failed with the terminal error).
                return Ok(None);
            }
        }
    }

    /// At-most-once: delete the first item we can, with the version we read. A FIFO queue
    /// keeps the names after it for [`Core::take_listed`].
    async fn delete_first(&self, names: Vec<String>) -> Result<Scan<VecDeque<Bytes>>> {
        let now = format::epoch_ms(SystemTime::now());
        let mut names = names.into_iter();
        while let Some(name) = names.next() {
            if self.kind == Kind::Delay {
                let due = format::delay_epoch(&name);
                if due > now {
                    return Ok(Scan::Empty(Some(due)));
                }
            }
            if let Some(items) = self.delete_one(&name).await? {
                if self.kind == Kind::Fifo {
                    *self.listed.lock().expect("queue listing") = names.collect();
                }
                return Ok(Scan::Took(items));
            }
        }
        Ok(Scan::Empty(None))
    }

    /// At-most-once: reads the item `name` and deletes it with the version read; `None` if
    /// it is gone, a rival consumer took it first, or the delete's reply was lost (then the
    /// item may be gone unseen: at most once).
    async fn delete_one(&self, name: &str) -> Result<Option<VecDeque<Bytes>>> {
        let path = zk_proto::path::join(&self.path, name);
        let (data, stat) = match retry(&self.client, || self.client.get_data(&path)).await {
            Ok(found) => found,
            Err(ClientError::NoNode) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match self.client.delete(&path, Some(stat.version)).await {
            Ok(()) => {
                tracing::trace!(queue = %self.path, %name, "took");
                Ok(Some(format::decode(&data).into()))
            }
            Err(ClientError::NoNode) | Err(ClientError::BadVersion) => Ok(None),
            Err(e) if e.is_retryable() => {
                // The reply is lost. If the node is still there the delete did not apply (a
                // session's requests apply in order); if it is gone, we cannot tell who
                // deleted it, and an at-most-once queue must not deliver it.
                let still_there = retry(&self.client, || self.client.exists(&path)).await?;
                if still_there.is_none() {
                    tracing::warn!(queue = %self.path, %name, "delete reply lost: item dropped (at most once)");
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// At-least-once: lock the first unlocked item (`L/<name>` EPHEMERAL holding a token).
    async fn lock_first(
        &self,
        names: Vec<String>,
        locked: HashSet<String>,
    ) -> Result<Scan<Claimed>> {
        let lock_dir = self.lock_path.as_deref().expect("a locking queue");
        let eph = CreateOptions::new(CreateMode::Ephemeral);
        for name in names {
            if locked.contains(&name) {
                continue;
            }
            let lock = zk_proto::path::join(lock_dir, &name);
            let token = uuid4();
            // If this future is dropped from here on, the lock is deleted in the background.
            let mut guard = LockGuard {
                client: &self.client,
                path: Some(lock.clone()),
            };
            if !self.acquire_lock(&lock, &token, &eph).await? {
                guard.path = None;
                continue;
            }
            let path = zk_proto::path::join(&self.path, &name);
            match retry(&self.client, || self.client.get_data(&path)).await {
                Ok((data, _)) => {
                    guard.path = None;
                    tracing::trace!(queue = %self.path, %name, session = %self.client.session_id(), "claimed");
                    return Ok(Scan::Took(Claimed {
                        name,
                        items: format::decode(&data),
                        token,
                        session: self.client.session_id().0,
                    }));
                }
                Err(ClientError::NoNode) => {
                    // Acknowledged by someone else between our listing and our lock; the
                    // guard deletes our lock.
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Scan::Empty(None))
    }

    /// Creates the lock node; a lost reply is resolved by the token in its data.
    async fn acquire_lock(&self, lock: &str, token: &str, eph: &CreateOptions) -> Result<bool> {
        loop {
            match self.client.create(lock, token.as_bytes(), eph).await {
                Ok(_) => return Ok(true),
                Err(ClientError::NodeExists) => return self.holds(lock, token).await,
                Err(e) if e.is_retryable() => {
                    crate::node_util::wait_connected(&self.client, None).await?;
                    match retry(&self.client, || self.client.get_data(lock)).await {
                        Ok((data, stat)) => {
                            return Ok(&data[..] == token.as_bytes()
                                && stat.ephemeral_owner == self.client.session_id().0)
                        }
                        Err(ClientError::NoNode) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// True if the lock node holds our token and belongs to our session.
    pub(crate) async fn holds(&self, lock: &str, token: &str) -> Result<bool> {
        match retry(&self.client, || self.client.get_data(lock)).await {
            Ok((data, stat)) => {
                Ok(&data[..] == token.as_bytes()
                    && stat.ephemeral_owner == self.client.session_id().0)
            }
            Err(ClientError::NoNode) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Deletes a lock node in the background unless disarmed (`path = None`).
struct LockGuard<'a> {
    client: &'a Client,
    path: Option<String>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            crate::node_util::delete_in_background(self.client, path, None);
        }
    }
}

/// Waits for either watcher or `wake`; `Some(state)` if the session ended.
async fn wait_any(
    items: OneshotWatcher,
    locks: Option<OneshotWatcher>,
    wake: Option<Instant>,
) -> Option<zk_client::SessionState> {
    let sleep = async move {
        match wake {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let locks = async move {
        match locks {
            Some(w) => w.changed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        event = items.changed() => event.state.is_terminal().then_some(event.state),
        event = locks => event.state.is_terminal().then_some(event.state),
        () = sleep => None,
    }
}
