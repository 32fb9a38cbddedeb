//! Leader election that runs a task while leading (Curator's `LeaderSelector`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use zk_client::{Client, Op, OpResult};

use crate::connection::{ConnectionMonitor, ConnectionPolicy, OwnershipChange};
use crate::error::{Error, Result};
use crate::fencing::FencingToken;
use crate::lock::Mutex;

/// What a leadership task gets: the token, fenced writes, and a way to learn that the
/// leadership was lost (for tasks that want to wind down themselves; the task is cancelled
/// anyway).
#[derive(Debug, Clone)]
pub struct Leadership {
    client: Client,
    token: FencingToken,
    lost: watch::Receiver<bool>,
}

impl Leadership {
    /// The fencing token: the election node and its czxid.
    pub fn token(&self) -> &FencingToken {
        &self.token
    }

    /// Writes that apply only while the election node exists.
    ///
    /// Errors: [`Error::Fenced`](crate::Error::Fenced) if the leadership was lost.
    pub async fn fenced_multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        self.token.fenced_multi(&self.client, ops).await
    }

    /// True once the leadership is lost.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves when the leadership is lost (or at once if it already is).
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|lost| *lost).await;
    }
}

/// Builder of a [`LeaderElection`].
#[derive(Debug, Clone)]
pub struct LeaderElectionBuilder {
    client: Client,
    path: String,
    id: String,
    policy: ConnectionPolicy,
    auto_requeue: bool,
}

impl LeaderElectionBuilder {
    /// When the leadership counts as lost ([`ConnectionPolicy::Standard`] by default).
    pub fn policy(mut self, policy: ConnectionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Re-join the election after each term (Curator's `autoRequeue`); default false: the
    /// election ends after the first term.
    pub fn auto_requeue(mut self, requeue: bool) -> Self {
        self.auto_requeue = requeue;
        self
    }

    /// Joins the election; `lead` is called for each term and its future runs while leading.
    /// The term ends when the future completes, or when the leadership is lost: then the
    /// future is dropped (cancelled) before anything else happens.
    ///
    /// Errors: [`Error::InvalidPath`](crate::Error::InvalidPath).
    pub fn start<F, Fut>(self, lead: F) -> Result<LeaderElection>
    where
        F: FnMut(Leadership) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mutex = Mutex::new(&self.client, &self.path)?.with_data(self.id.clone());
        let (leading_tx, leading) = watch::channel(None);
        let (close, close_rx) = oneshot::channel();
        let task = tokio::spawn(run(self, mutex, lead, Arc::new(leading_tx), close_rx));
        Ok(LeaderElection {
            leading,
            close: Some(close),
            task: Some(task),
        })
    }
}

/// A participant of a leader election that runs a task while it leads; Curator's
/// `LeaderSelector` on the same paths (a [`Mutex`] whose node data is the participant id:
/// `P/_c_<uuid>-lock-<seq>`).
///
/// The leader is the holder of the mutex. While leading, the participant runs the future
/// made by its `lead` function. Leadership is lost on Suspended (under
/// [`ConnectionPolicy::Standard`]), on Lost, and on a new session; the future is then
/// dropped, which cancels it at its next await, and the node is deleted. With
/// [`LeaderElectionBuilder::auto_requeue`], the participant queues up again after each term.
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// let election = zk_recipes::LeaderElection::builder(&client, "/app/election", "node-1")
///     .auto_requeue(true)
///     .start(|leadership| async move {
///         // Lead until done or cancelled; fence the writes that matter.
///         let _ = leadership.fenced_multi(&[]).await;
///     })?;
/// election.close().await;
/// # Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
/// #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
/// #     demo(client).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct LeaderElection {
    leading: watch::Receiver<Option<FencingToken>>,
    close: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaderElection {
    /// A builder for a participant `id` of the election on `path`.
    pub fn builder(client: &Client, path: &str, id: &str) -> LeaderElectionBuilder {
        LeaderElectionBuilder {
            client: client.clone(),
            path: path.to_string(),
            id: id.to_string(),
            policy: ConnectionPolicy::Standard,
            auto_requeue: false,
        }
    }

    /// True while a term of this participant runs.
    pub fn is_leader(&self) -> bool {
        self.leading.borrow().is_some()
    }

    /// A receiver of the current term's token (`None` while not leading).
    pub fn subscribe(&self) -> watch::Receiver<Option<FencingToken>> {
        self.leading.clone()
    }

    /// True once the participant has left the election (after its only term without
    /// auto-requeue, after [`LeaderElection::close`], or when the client closed).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().map_or(true, |task| task.is_finished())
    }

    /// Leaves the election: cancels a running term, deletes the node, returns once done.
    pub async fn close(mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaderElection {
    /// Dropping the election closes it in the background.
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

async fn run<F, Fut>(
    config: LeaderElectionBuilder,
    mutex: Mutex,
    mut lead: F,
    leading: Arc<watch::Sender<Option<FencingToken>>>,
    mut close: oneshot::Receiver<()>,
) where
    F: FnMut(Leadership) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let client = &config.client;
    let mut backoff = Duration::from_millis(100);
    loop {
        let session = client.session_id();
        let guard = tokio::select! {
            guard = mutex.acquire() => guard,
            _ = &mut close => return,
        };
        let guard = match guard {
            Ok(guard) => {
                backoff = Duration::from_millis(100);
                guard
            }
            Err(e) => {
                // The client is gone, or its session ended without renewal: leave. Otherwise
                // (a renewed session, a passing error) contend again after a pause.
                tracing::warn!(path = %config.path, error = %e, "election: contending failed");
                if matches!(e, Error::Client(zk_client::Error::Closed)) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = &mut close => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                let terminal = matches!(&e, Error::Client(e) if e.is_terminal());
                if terminal && client.session_id() == session {
                    tracing::warn!(path = %config.path, "election: session over; leaving");
                    return;
                }
                continue;
            }
        };
        let token = guard.token().clone();
        // Follow the connection from the moment we hold the node; its first event is a
        // snapshot, so a suspension or new session since the node was verified is seen.
        let mut monitor = ConnectionMonitor::new(client, config.policy);
        let (lost_tx, lost_rx) = watch::channel(false);
        let leadership = Leadership {
            client: client.clone(),
            token: token.clone(),
            lost: lost_rx,
        };
        tracing::info!(path = %config.path, node = token.path(), session = ?token.session(), czxid = token.czxid(), "term starts");
        leading.send_replace(Some(token.clone()));
        // Boxed so that it can be dropped (cancelled) as soon as the term ends.
        let mut term = Box::pin(lead(leadership));
        let mut closing = false;
        let ended = loop {
            tokio::select! {
                () = &mut term => break "completed",
                _ = &mut close => { closing = true; break "closed" }
                change = monitor.next() => match change {
                    Some(OwnershipChange::Reconnected) => {
                        // Still ours? Re-read the node's owner before going on.
                        match client.exists(token.path()).await {
                            Ok(Some(stat)) if stat.ephemeral_owner == token.session().0 => {}
                            _ => break "node lost",
                        }
                    }
                    Some(OwnershipChange::Suspended) => break "suspended",
                    Some(_) => break "session lost",
                    None => { closing = true; break "client closed" }
                },
            }
        };
        // Leadership ends before anyone can learn of it: flag, cancel, then release.
        leading.send_replace(None);
        let _ = lost_tx.send(true);
        drop(term);
        tracing::info!(path = %config.path, node = token.path(), reason = ended, "term ends");
        guard.release().await;
        if closing || !config.auto_requeue {
            return;
        }
    }
}
