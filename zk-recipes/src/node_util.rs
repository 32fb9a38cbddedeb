//! Small helpers the data recipes share: parent containers, retries across reconnects,
//! waiting for the session, random ids, and background tasks tied to a handle.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use zk_client::{Client, CreateMode, CreateOptions, LossReason, SessionEvent, SessionState, Stat};

use crate::error::Error;

/// A random (version 4) UUID in its usual text form, as Curator names its nodes.
pub(crate) fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The error a terminal session state stands for.
pub(crate) fn terminal_error(state: SessionState) -> zk_client::Error {
    match state {
        SessionState::Expired => zk_client::Error::SessionExpired,
        SessionState::AuthFailed => zk_client::Error::AuthFailed,
        _ => zk_client::Error::Closed,
    }
}

/// Waits until the client is connected (after a renewal too). `Ok(false)` when `deadline`
/// passes first; an error when the session is over for good.
pub(crate) async fn wait_connected(
    client: &Client,
    deadline: Option<Instant>,
) -> Result<bool, zk_client::Error> {
    let mut events = client.events();
    let mut last_loss = None;
    loop {
        let next = match until(deadline, events.next()).await {
            Some(next) => next,
            None => return Ok(false),
        };
        match next {
            Some(event) if event.is_connected() => return Ok(true),
            Some(SessionEvent::Lost { reason, .. }) => last_loss = Some(reason),
            Some(_) => {}
            None => {
                return Err(match last_loss {
                    Some(LossReason::Expired) => zk_client::Error::SessionExpired,
                    Some(LossReason::AuthFailed) => zk_client::Error::AuthFailed,
                    _ => terminal_error(*client.state().borrow()),
                })
            }
        }
    }
}

/// Runs an idempotent operation until it gets an answer: after a retryable error (connection
/// loss, timeout) it waits for the connection, with a short growing pause, and tries again.
/// Only for reads and for writes whose repetition is harmless.
pub(crate) async fn retry<T, F, Fut>(client: &Client, mut op: F) -> Result<T, zk_client::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, zk_client::Error>>,
{
    let mut pause = Duration::from_millis(20);
    loop {
        match op().await {
            Err(e) if e.is_retryable() => {
                tracing::debug!(error = %e, session = %client.session_id(), "retrying after a reconnect");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
                wait_connected(client, None).await?;
            }
            other => return other,
        }
    }
}

/// Creates every missing ancestor of `path` as a container node (Curator's
/// `creatingParentContainersIfNeeded`); the node itself is not created.
pub(crate) async fn create_parent_containers(
    client: &Client,
    path: &str,
) -> Result<(), zk_client::Error> {
    let mut ancestors = Vec::new();
    let mut current = zk_proto::path::parent(path);
    while let Some(p) = current {
        if p == "/" {
            break;
        }
        ancestors.push(p.to_string());
        current = zk_proto::path::parent(p);
    }
    let container = CreateOptions::new(CreateMode::Container);
    for ancestor in ancestors.iter().rev() {
        match retry(client, || client.create(ancestor, &[], &container)).await {
            Ok(_) | Err(zk_client::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `path`, creating missing parents as containers first if the parent is missing.
/// Not retried: the caller decides what a lost reply means for its node.
pub(crate) async fn create_in_containers(
    client: &Client,
    path: &str,
    data: &[u8],
    options: &CreateOptions,
) -> Result<(String, Stat), zk_client::Error> {
    match client.create(path, data, options).await {
        Err(zk_client::Error::NoNode) => {
            create_parent_containers(client, path).await?;
            client.create(path, data, options).await
        }
        other => other,
    }
}

/// Creates `path` (with parent containers) unless it exists; harmless to repeat.
pub(crate) async fn ensure_node(
    client: &Client,
    path: &str,
    options: &CreateOptions,
) -> Result<(), zk_client::Error> {
    match retry(client, || create_in_containers(client, path, &[], options)).await {
        Ok(_) | Err(zk_client::Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks that `path` is an absolute ZooKeeper path a recipe may own (not the root).
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    if path == "/" || zk_proto::validate_path(path, false).is_err() {
        return Err(Error::InvalidPath(path.to_string()));
    }
    Ok(())
}

/// `parent/name`, checking that `name` is a single path component.
pub(crate) fn child_path(parent: &str, name: &str) -> Result<String, Error> {
    check_path(parent)?;
    let path = zk_proto::path::join(parent, name);
    if name.is_empty() || name.contains('/') {
        return Err(Error::InvalidPath(path));
    }
    check_path(&path)?;
    Ok(path)
}

/// Aborts a background task when dropped.
#[derive(Debug)]
pub(crate) struct TaskGuard(pub(crate) JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Deletes `path` in the background, retrying across reconnects until it is gone or the
/// session is over (then an ephemeral is gone anyway). `version` as for `delete`.
pub(crate) fn delete_in_background(client: &Client, path: String, version: Option<i32>) {
    let client = client.clone();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(%path, "no runtime to delete the node on");
        return;
    };
    runtime.spawn(async move {
        match retry(&client, || client.delete(&path, version)).await {
            Ok(()) | Err(zk_client::Error::NoNode) => {
                tracing::debug!(%path, session = %client.session_id(), "deleted in the background");
            }
            Err(e) => tracing::debug!(%path, error = %e, "background delete gave up"),
        }
    });
}

/// The deadline `timeout` from now (`None`: no deadline).
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

/// Awaits `fut` until `deadline`; `None` when the deadline passed first.
pub(crate) async fn until<F: Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await.ok(),
        None => Some(fut.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_uuids() {
        let a = uuid4();
        let b = uuid4();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_eq!(a.matches('-').count(), 4);
    }
}
