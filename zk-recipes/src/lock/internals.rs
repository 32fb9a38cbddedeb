//! What every lock-like recipe shares: Curator's ordering of contender nodes, parent
//! containers, the contender loop (create a protected ephemeral-sequential node, wait on the
//! node that must go first, verify ownership) and the guaranteed delete.
//!
//! The contender loop runs in a task of its own ([`spawn_contender`]), so the caller's future
//! can be dropped at any point: the task sees it, finishes the create it may have in flight,
//! and deletes its node. A cancelled, timed-out or failed acquisition never leaves a node.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use zk_client::{Client, CreateMode, CreateOptions, SessionEvent, SessionId, Stat};

use crate::error::{Error, Result};
use crate::fencing::FencingToken;

/// A contender node this session owns.
#[derive(Debug, Clone)]
pub(crate) struct OwnedNode {
    /// Full path (relative to the chroot).
    pub path: String,
    /// The node's Stat when ownership was verified.
    pub stat: Stat,
    /// The session that owns it.
    pub session: SessionId,
}

impl OwnedNode {
    pub(crate) fn token(&self) -> FencingToken {
        FencingToken::new(self.path.clone(), self.stat.czxid, self.session)
    }
}

/// The text children are sorted by: what follows the last occurrence of each marker in turn
/// (Curator's `StandardLockInternalsDriver.fixForSorting`; the read/write lock strips both of
/// its markers), or the whole name when it has none.
pub(crate) fn sort_key<'a>(name: &'a str, markers: &[&str]) -> &'a str {
    let mut key = name;
    for marker in markers {
        if let Some(i) = key.rfind(marker) {
            key = &key[i + marker.len()..];
        }
    }
    key
}

/// Sorts children as Curator does: by [`sort_key`], as text.
pub(crate) fn sort_children(children: &mut [String], markers: &[&str]) {
    children.sort_by(|a, b| sort_key(a, markers).cmp(sort_key(b, markers)));
}

/// The last segment of a path.
pub(crate) fn node_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `dir/name`.
pub(crate) fn child_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Validates a recipe directory path: absolute, not the root, no trailing slash.
pub(crate) fn check_dir(path: &str) -> Result<String> {
    if !path.starts_with('/') || path == "/" || path.ends_with('/') || path.contains("//") {
        return Err(Error::InvalidPath(path.to_string()));
    }
    Ok(path.to_string())
}

/// Creates every missing ancestor of `dir` and `dir` itself as container nodes (Curator's
/// `creatingParentContainersIfNeeded`), tolerating ones that exist.
pub(crate) async fn ensure_containers(client: &Client, dir: &str) -> Result<()> {
    let container = CreateOptions::new(CreateMode::Container);
    let mut prefix = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        match client.create(&prefix, &[], &container).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Creates a protected ephemeral-sequential `dir/<name>` (`_c_<uuid>-<name><seq>`), creating
/// the parents as containers when missing. The node is this session's
/// (`create_protected` only adopts nodes whose ephemeralOwner is this session).
pub(crate) async fn create_contender(
    client: &Client,
    dir: &str,
    name: &str,
    data: &[u8],
) -> Result<OwnedNode> {
    let options = CreateOptions::new(CreateMode::EphemeralSequential);
    let path = child_path(dir, name);
    let mut created_parents = false;
    loop {
        let session = client.session_id();
        match client.create_protected(&path, data, &options).await {
            Ok((path, stat)) => {
                return Ok(OwnedNode {
                    path,
                    stat,
                    session,
                })
            }
            // The container went (or never was): make it, once more if a reaper races us.
            Err(zk_client::Error::NoNode) if !created_parents => {
                ensure_containers(client, dir).await?;
                created_parents = true;
            }
            Err(zk_client::Error::NoNode) => {
                created_parents = false;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Deletes `path` until it is gone (OK or NoNode), retrying every other error with backoff,
/// as Curator's guaranteed delete does. Returns once the node is certainly gone or will be:
/// also when the session that owns it has ended (its ephemerals go with it).
pub(crate) async fn guaranteed_delete(client: &Client, path: &str, session: SessionId) {
    let mut backoff = Duration::from_millis(20);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match client.delete(path, None).await {
            Ok(()) | Err(zk_client::Error::NoNode) => {
                tracing::debug!(path, session = ?session, attempt, "node deleted");
                return;
            }
            Err(e) if e.is_terminal() => {
                tracing::debug!(path, session = ?session, error = %e, "session over: ephemeral gone");
                return;
            }
            Err(e) if client.session_id() != session => {
                tracing::debug!(path, session = ?session, error = %e, "old session's node: it goes with that session");
                return;
            }
            Err(e) => {
                tracing::warn!(path, session = ?session, attempt, error = %e, "delete failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Deletes in a background task (when dropped outside a runtime, the node goes with the
/// session).
pub(crate) fn spawn_delete(client: Client, path: String, session: SessionId) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(async move { guaranteed_delete(&client, &path, session).await });
        }
        Err(_) => tracing::warn!(
            path,
            "dropped outside a tokio runtime: node left to its session"
        ),
    }
}

/// What a contender's predicate decides from the sorted children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Ours: the lock is held.
    Acquired,
    /// Wait until this child (a name) is gone.
    WaitFor(String),
}

/// Decides from the sorted children and our index in them.
pub(crate) type Predicate = Arc<dyn Fn(&[String], usize) -> Decision + Send + Sync>;

/// Mutex rule: the first node holds; everyone else waits on the immediate predecessor.
pub(crate) fn mutex_predicate(sorted: &[String], ours: usize) -> Decision {
    if ours == 0 {
        Decision::Acquired
    } else {
        Decision::WaitFor(sorted[ours - 1].clone())
    }
}

/// Everything a contender loop needs.
#[derive(Clone)]
pub(crate) struct Contender {
    pub client: Client,
    pub dir: String,
    /// The node name to create (`lock-`, `__READ__`, `latch-`...).
    pub name: String,
    /// The markers children are sorted by (usually `[name]`).
    pub markers: &'static [&'static str],
    pub data: Vec<u8>,
    pub predicate: Predicate,
}

/// Why a contender loop stopped without the lock.
enum Stop {
    TimedOut,
    Cancelled,
    Failed(Error),
}

/// Runs the contender loop in its own task. The returned receiver yields `Ok(Some(node))`
/// once held, `Ok(None)` when `deadline` passed first; dropping it cancels. In every case but
/// success the task deletes its node before it ends.
pub(crate) fn spawn_contender(
    contender: Contender,
    deadline: Option<Instant>,
) -> oneshot::Receiver<Result<Option<OwnedNode>>> {
    let (mut tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut own: Option<OwnedNode> = None;
        let outcome = contend(&contender, deadline, &mut own, &mut tx).await;
        let client = &contender.client;
        match outcome {
            Ok(node) => {
                if let Err(Ok(Some(node))) = tx.send(Ok(Some(node))) {
                    tracing::debug!(path = %node.path, "acquired after the caller left: releasing");
                    guaranteed_delete(client, &node.path, node.session).await;
                }
            }
            Err(stop) => {
                // Answer first (a timeout is honoured even while the delete is retried),
                // then clean up.
                let _ = match stop {
                    Stop::TimedOut => tx.send(Ok(None)),
                    Stop::Failed(e) => tx.send(Err(e)),
                    Stop::Cancelled => Ok(()),
                };
                if let Some(node) = own.take() {
                    guaranteed_delete(client, &node.path, node.session).await;
                }
            }
        }
    });
    rx
}

/// The loop itself. `own` always names the node this task created and has not yet deleted.
/// Cancellation and the deadline are only honoured at waits, never in the middle of a create,
/// so a created node is always known and cleaned up.
async fn contend(
    c: &Contender,
    deadline: Option<Instant>,
    own: &mut Option<OwnedNode>,
    caller: &mut oneshot::Sender<Result<Option<OwnedNode>>>,
) -> Result<OwnedNode, Stop> {
    let client = &c.client;
    let mut events = client.events();
    loop {
        if caller.is_closed() {
            return Err(Stop::Cancelled);
        }
        // Our node must belong to the current session; a node of an older one is dead.
        if let Some(node) = own.as_ref() {
            if node.session != client.session_id() {
                let node = own.take().expect("checked");
                tracing::info!(path = %node.path, "session changed: contending again");
                guaranteed_delete(client, &node.path, node.session).await;
            }
        }
        // Whether the node was created (or adopted) just now: its Stat then comes from this
        // session's own create, read before the listing below.
        let fresh = own.is_none();
        let node = match own {
            Some(node) => node.clone(),
            None => {
                let node = create_contender(client, &c.dir, &c.name, &c.data)
                    .await
                    .map_err(|e| fail(client, e))?;
                tracing::debug!(path = %node.path, session = ?node.session, "contender node created");
                *own = Some(node.clone());
                node
            }
        };
        let mut children = match client.get_children(&c.dir).await {
            Ok(children) => children,
            Err(zk_client::Error::NoNode) => {
                // The directory is gone, and our node with it.
                *own = None;
                continue;
            }
            Err(e) => {
                retry_or_fail(client, e, node.session, deadline, caller).await?;
                continue;
            }
        };
        sort_children(&mut children, c.markers);
        let ours = node_name(&node.path);
        let Some(index) = children.iter().position(|child| child == ours) else {
            // Our node vanished (our session ended, or someone deleted it): start over.
            tracing::info!(path = %node.path, "contender node gone: contending again");
            *own = None;
            continue;
        };
        match (c.predicate)(&children, index) {
            Decision::Acquired => {
                // Ownership is `ephemeralOwner == our session` (CURATOR-604). A node created
                // in this pass carries it in its create's Stat, and the listing that showed
                // it first ran after the create in the same session, so it is read already;
                // a node carried over from an earlier pass is read again now.
                if fresh
                    && node.stat.ephemeral_owner == node.session.0
                    && client.session_id() == node.session
                {
                    return Ok(node);
                }
                match client.exists(&node.path).await {
                    Ok(Some(stat))
                        if stat.ephemeral_owner == node.session.0
                            && client.session_id() == node.session =>
                    {
                        return Ok(OwnedNode { stat, ..node });
                    }
                    Ok(_) => {
                        // A node of an earlier session of ours, still shown (CURATOR-604):
                        // never acquire on it; delete it and contend with this session.
                        tracing::info!(path = %node.path, "node not owned by the session: contending again");
                        if let Some(old) = own.take() {
                            guaranteed_delete(client, &old.path, old.session).await;
                        }
                        continue;
                    }
                    Err(e) => {
                        retry_or_fail(client, e, node.session, deadline, caller).await?;
                        continue;
                    }
                }
            }
            Decision::WaitFor(name) => {
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    return Err(Stop::TimedOut);
                }
                let path = child_path(&c.dir, &name);
                // getData, not exists: a vanished predecessor leaves no watch behind.
                let watcher = match client.get_data_and_watch(&path).await {
                    Ok((_, _, watcher)) => watcher,
                    Err(zk_client::Error::NoNode) => continue,
                    Err(e) => {
                        retry_or_fail(client, e, node.session, deadline, caller).await?;
                        continue;
                    }
                };
                tracing::trace!(ours = %node.path, waiting_for = %path, "waiting");
                let changed = watcher.changed();
                tokio::pin!(changed);
                loop {
                    tokio::select! {
                        _ = &mut changed => break,
                        _ = caller.closed() => return Err(Stop::Cancelled),
                        _ = sleep_until(deadline) => return Err(Stop::TimedOut),
                        event = events.next() => match event {
                            Some(SessionEvent::Lost { .. } | SessionEvent::NewSession { .. }) => break,
                            Some(_) => {}
                            None => return Err(Stop::Failed(Error::Client(zk_client::Error::Closed))),
                        },
                    }
                }
            }
        }
    }
}

fn fail(client: &Client, e: Error) -> Stop {
    tracing::debug!(session = ?client.session_id(), error = %e, "contender failed");
    Stop::Failed(e)
}

/// After a failed read: wait a little and go round again if the error is retryable, or if
/// the session expired and the client renews it (then the loop contends again with the new
/// session); fail otherwise.
async fn retry_or_fail(
    client: &Client,
    e: zk_client::Error,
    session: SessionId,
    deadline: Option<Instant>,
    caller: &mut oneshot::Sender<Result<Option<OwnedNode>>>,
) -> Result<(), Stop> {
    let wait = if e.is_retryable() {
        Duration::from_millis(50)
    } else if e == zk_client::Error::SessionExpired {
        // A renewing client replaces the session within a reconnect; a strict one never does.
        Duration::from_secs(2)
    } else {
        return Err(fail(client, e.into()));
    };
    let renewed = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if client.session_id() != session {
                return;
            }
        }
    };
    tokio::select! {
        _ = renewed => Ok(()),
        _ = tokio::time::sleep(wait) => {
            if e.is_retryable() { Ok(()) } else { Err(fail(client, e.into())) }
        }
        _ = caller.closed() => Err(Stop::Cancelled),
        _ = sleep_until(deadline) => Err(Stop::TimedOut),
    }
}

/// Sleeps until `deadline`, forever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curator_order_ignores_the_protected_prefix() {
        let mut children = vec![
            "_c_ffff-lock-0000000003".to_string(),
            "_c_0000-lock-0000000010".to_string(),
            "_c_aaaa-lock-0000000001".to_string(),
        ];
        sort_children(&mut children, &["lock-"]);
        assert_eq!(
            children,
            [
                "_c_aaaa-lock-0000000001",
                "_c_ffff-lock-0000000003",
                "_c_0000-lock-0000000010"
            ]
        );
        let rw = &["__READ__", "__WRIT__"];
        assert_eq!(sort_key("_c_x-__READ__0000000007", rw), "0000000007");
        assert_eq!(sort_key("_c_x-__WRIT__0000000008", rw), "0000000008");
        assert_eq!(sort_key("foreign", &["lock-"]), "foreign");
    }

    #[test]
    fn mutex_waits_on_the_immediate_predecessor() {
        let sorted: Vec<String> = ["a-lock-1", "b-lock-2", "c-lock-3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(mutex_predicate(&sorted, 0), Decision::Acquired);
        assert_eq!(
            mutex_predicate(&sorted, 2),
            Decision::WaitFor("b-lock-2".into())
        );
    }

    #[test]
    fn paths() {
        assert_eq!(child_path("/a/b", "c"), "/a/b/c");
        assert_eq!(node_name("/a/b/c"), "c");
        assert!(check_dir("/a").is_ok());
        assert!(check_dir("a").is_err());
        assert!(check_dir("/").is_err());
        assert!(check_dir("/a/").is_err());
    }
}
