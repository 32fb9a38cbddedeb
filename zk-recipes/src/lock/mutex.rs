//! The distributed mutex (Curator's `InterProcessMutex`, same znode layout).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use zk_client::{Client, Op, OpResult};

use super::internals::{
    check_dir, guaranteed_delete, mutex_predicate, spawn_contender, Contender, OwnedNode, Predicate,
};
use crate::error::{Error, Result};
use crate::fencing::FencingToken;

/// A distributed, re-entrant mutex; Curator's `InterProcessMutex` on the same paths.
///
/// Layout: each contender creates `P/_c_<uuid>-lock-<seq>`, ephemeral-sequential, with the
/// protected create (a create whose reply was lost is found again, not repeated). Children
/// are ordered by sequence; the first holds the lock; every other contender watches only its
/// immediate predecessor, with getData. Parents are created as containers, so an unused lock
/// directory is reaped by the server. Curator processes using `InterProcessMutex` on the same
/// path take part in the same lock.
///
/// Ownership is decided by the server: the lock is granted only once the node's
/// `ephemeralOwner` is read to be this client's current session, so a node of an expired
/// session that the server still shows is never taken for ours (CURATOR-604/696).
///
/// **Re-entrancy is keyed by the handle.** Acquiring again through the same `Mutex` (or a
/// clone of it) while it is held returns another guard at once, without touching
/// ZooKeeper; the lock is released when the last guard goes. Acquisitions through one handle
/// are serialized. For two independent contenders in one process, make two `Mutex` values.
///
/// **Release** deletes the node and retries until it is gone (OK or NoNode), keeping the
/// local hold until then: an acquire through the same handle waits for it
/// (CURATOR-678/486). Dropping a guard releases in the background; [`MutexGuard::release`]
/// waits for it.
///
/// **Cancellation**: every acquire can be dropped at any point, and a timed-out, cancelled or
/// failed acquire deletes its node (the contention runs in a task that outlives the dropped
/// future just long enough to clean up).
///
/// **Connection loss**: a waiting contender keeps its node and its watch through a
/// disconnect. If the session ends it contends again with the new session (when the client
/// renews sessions; a node of the old session still shown by the server is deleted and never
/// acquired on), or fails with `SessionExpired`. A holder is not interrupted: follow
/// [`crate::connection::ConnectionMonitor`] to learn when a held lock becomes uncertain, and
/// use [`MutexGuard::fenced_multi`] for writes that must not outlive the lock.
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// # client.create_all("/app/config", b"v1", &Default::default()).await?;
/// use zk_recipes::Mutex;
///
/// let mutex = Mutex::new(&client, "/app/locks/config")?;
/// let guard = mutex.acquire().await?;
/// // ... critical section; writes that must not outlive the lock are fenced:
/// guard
///     .fenced_multi(&[zk_client::Op::set_data("/app/config", b"v2".to_vec(), None)])
///     .await?;
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
pub struct Mutex {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    dir: String,
    name: &'static str,
    markers: &'static [&'static str],
    data: Vec<u8>,
    /// Serializes the acquisitions of this handle (held across the contention's await).
    acquiring: tokio::sync::Mutex<()>,
    /// Never held across an await.
    state: std::sync::Mutex<State>,
    /// Signalled when a release has deleted the node.
    released: Notify,
}

#[derive(Debug, Default)]
struct State {
    held: Option<Hold>,
}

#[derive(Debug)]
struct Hold {
    node: OwnedNode,
    count: usize,
    /// The node is being deleted: the hold stays until it is gone.
    releasing: bool,
}

impl Mutex {
    /// A mutex on the directory `path` (created as containers when first used).
    ///
    /// Errors: [`Error::InvalidPath`].
    pub fn new(client: &Client, path: &str) -> Result<Mutex> {
        Mutex::with_layout(client, path, "lock-", &["lock-"], Vec::new())
    }

    /// Sets the data of this handle's lock nodes (Curator's LeaderSelector stores the
    /// participant id there); empty by default.
    pub fn with_data(self, data: impl Into<Vec<u8>>) -> Mutex {
        let inner = &self.inner;
        Mutex::with_layout(
            &inner.client,
            &inner.dir,
            inner.name,
            inner.markers,
            data.into(),
        )
        .expect("the path was valid")
    }

    pub(crate) fn with_layout(
        client: &Client,
        path: &str,
        name: &'static str,
        markers: &'static [&'static str],
        data: Vec<u8>,
    ) -> Result<Mutex> {
        Ok(Mutex {
            inner: Arc::new(Inner {
                client: client.clone(),
                dir: check_dir(path)?,
                name,
                markers,
                data,
                acquiring: tokio::sync::Mutex::new(()),
                state: std::sync::Mutex::new(State::default()),
                released: Notify::new(),
            }),
        })
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        &self.inner.dir
    }

    /// Waits until the lock is held.
    ///
    /// Errors: client errors that are not retryable (the session ended without renewal,
    /// the client closed, no permission).
    pub async fn acquire(&self) -> Result<MutexGuard> {
        let guard = self.acquire_until(None).await?;
        Ok(guard.expect("no deadline"))
    }

    /// Takes the lock only if it is free now; `None` otherwise (the node is deleted again).
    pub async fn try_acquire(&self) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now())).await
    }

    /// Waits at most `timeout` for the lock; `None` if it did not come in time.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// True while this handle holds the lock (including while its release is under way).
    pub fn is_held(&self) -> bool {
        self.inner.lock_state().held.is_some()
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<MutexGuard>> {
        self.acquire_with(deadline, |_| (None, Arc::new(mutex_predicate)))
            .await
    }

    /// The client this lock uses.
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The node this handle holds, if any (not while releasing).
    pub(crate) fn held_node(&self) -> Option<OwnedNode> {
        let state = self.inner.lock_state();
        state
            .held
            .as_ref()
            .filter(|hold| !hold.releasing)
            .map(|hold| hold.node.clone())
    }

    /// Acquires with a node name and predicate chosen once the handle is known not to hold
    /// the lock (`layout` gets the handle and returns a name suffix to insert after the
    /// node name, and the predicate).
    pub(crate) async fn acquire_with(
        &self,
        deadline: Option<Instant>,
        layout: impl FnOnce(&Mutex) -> (Option<String>, Predicate),
    ) -> Result<Option<MutexGuard>> {
        let inner = &self.inner;
        let _serial = match deadline {
            Some(d) => match tokio::time::timeout_at(d, inner.acquiring.lock()).await {
                Ok(serial) => serial,
                Err(_) => return Ok(None),
            },
            None => inner.acquiring.lock().await,
        };
        // Re-entrant acquire, or wait for a release of this handle to finish.
        loop {
            let notified = inner.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = inner.lock_state();
                match state.held.as_mut() {
                    Some(hold) if !hold.releasing => {
                        hold.count += 1;
                        tracing::trace!(path = %hold.node.path, count = hold.count, "re-entered");
                        return Ok(Some(self.guard(hold.node.token())));
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = super::internals::sleep_until(deadline) => return Ok(None),
            }
        }
        let (suffix, predicate) = layout(self);
        let contender = Contender {
            client: inner.client.clone(),
            dir: inner.dir.clone(),
            name: format!("{}{}", inner.name, suffix.unwrap_or_default()),
            markers: inner.markers,
            data: inner.data.clone(),
            predicate,
        };
        let started = std::time::Instant::now();
        let outcome = spawn_contender(contender, deadline)
            .await
            .map_err(|_| Error::Client(zk_client::Error::Closed))?;
        match outcome? {
            Some(node) => {
                tracing::debug!(
                    path = %node.path,
                    session = ?node.session,
                    czxid = node.stat.czxid,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "lock acquired"
                );
                let token = node.token();
                inner.lock_state().held = Some(Hold {
                    node,
                    count: 1,
                    releasing: false,
                });
                Ok(Some(self.guard(token)))
            }
            None => {
                tracing::debug!(dir = %inner.dir, "lock not acquired in time");
                Ok(None)
            }
        }
    }

    fn guard(&self, token: FencingToken) -> MutexGuard {
        MutexGuard {
            inner: Arc::clone(&self.inner),
            token,
            done: false,
        }
    }
}

impl Inner {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops one guard's hold; returns the node to delete when it was the last.
    fn unhold(&self) -> Option<OwnedNode> {
        let mut state = self.lock_state();
        let hold = state.held.as_mut()?;
        hold.count -= 1;
        if hold.count > 0 {
            return None;
        }
        hold.releasing = true;
        Some(hold.node.clone())
    }

    async fn finish_release(&self, node: OwnedNode) {
        guaranteed_delete(&self.client, &node.path, node.session).await;
        self.lock_state().held = None;
        self.released.notify_waiters();
        tracing::debug!(path = %node.path, session = ?node.session, "lock released");
    }
}

/// Proof that the lock is held. Dropping it releases (in the background, when it is the
/// handle's last guard); [`MutexGuard::release`] does so and waits until the node is gone.
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct MutexGuard {
    inner: Arc<Inner>,
    token: FencingToken,
    done: bool,
}

impl MutexGuard {
    /// The fencing token: the lock node and its czxid.
    pub fn token(&self) -> &FencingToken {
        &self.token
    }

    /// Writes that apply only while the lock node exists (see [`crate::fencing`]).
    ///
    /// Errors: [`Error::Fenced`] if the lock was lost.
    pub async fn fenced_multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        self.token.fenced_multi(&self.inner.client, ops).await
    }

    /// Releases this hold; when it is the handle's last, deletes the lock node and returns
    /// once it is gone (retrying failed deletes: the node is gone or its session over).
    pub async fn release(mut self) {
        self.done = true;
        if let Some(node) = self.inner.unhold() {
            // In a task, so that dropping this future does not leave the hold half released.
            let inner = Arc::clone(&self.inner);
            let _ = tokio::spawn(async move { inner.finish_release(node).await }).await;
        }
    }
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(node) = self.inner.unhold() {
            let inner = Arc::clone(&self.inner);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(async move { inner.finish_release(node).await });
                }
                Err(_) => {
                    tracing::warn!(path = %node.path, "guard dropped outside a runtime: the node goes with the session");
                    inner.lock_state().held = None;
                }
            }
        }
    }
}
