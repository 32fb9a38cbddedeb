//! The leader latch (Curator's `LeaderLatch`, same znode layout).

use std::time::Duration;

use tokio::sync::{oneshot, watch};
use zk_client::{Client, Op, OpResult, SessionId};

use crate::connection::{ConnectionMonitor, ConnectionPolicy, OwnershipChange};
use crate::error::{Error, Result};
use crate::fencing::FencingToken;
use crate::lock::internals::{
    check_dir, child_path, create_contender, guaranteed_delete, mutex_predicate, node_name,
    sort_children, Decision, OwnedNode,
};

const NAME: &str = "latch-";
const MARKERS: &[&str] = &[NAME];

/// Where a [`LeaderLatch`] stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LatchState {
    /// Not the leader (yet, or any more).
    Follower,
    /// The leader, with the token of the latch node that makes it so.
    Leader(FencingToken),
    /// Closed: the latch node is deleted and the latch takes no further part.
    Closed,
}

impl LatchState {
    /// The token if this is [`LatchState::Leader`].
    pub fn token(&self) -> Option<&FencingToken> {
        match self {
            LatchState::Leader(token) => Some(token),
            _ => None,
        }
    }
}

/// One participant of a leader election in which the leader is whoever holds the first
/// latch node; Curator's `LeaderLatch` on the same paths.
///
/// Layout: `P/_c_<uuid>-latch-<seq>`, ephemeral-sequential, data = the participant id. The
/// participant whose node sorts first leads; every other one watches only its immediate
/// predecessor (getData). Curator `LeaderLatch`es on the same path take part in the same
/// election.
///
/// Rules it keeps:
/// - It is leader only once its node is first **and** the node's `ephemeralOwner` is read to
///   be the current session (CURATOR-696: a node of an expired session is never ours).
/// - It stops being leader on [`OwnershipChange::Suspended`] (under
///   [`ConnectionPolicy::Standard`], the default) and on Lost, **before** the change is
///   announced.
/// - On Reconnected it re-reads the children and keeps its node (no reset: latches that reset
///   each other on reconnect livelock, CURATOR-644/645). After a new session it creates a new
///   node; the old session's node is never reused.
/// - It watches its own node while leading, so a deleted latch node or latch directory is
///   re-created and the election continues (CURATOR-724).
///
/// ```
/// # async fn demo(client: zk_client::Client) -> zk_recipes::Result<()> {
/// let latch = zk_recipes::LeaderLatch::start(&client, "/app/leader", "node-1")?;
/// let token = latch.wait_leader().await?;
/// // ... lead; fence writes with the token ...
/// latch.fenced_multi(&[]).await?;
/// latch.close().await;
/// # let _ = token; Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// #     let server = zk_testserver::TestServer::builder().start().await.unwrap();
/// #     let client = zk_client::Client::connect(&server.connect_string()).await.unwrap();
/// #     demo(client).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct LeaderLatch {
    client: Client,
    dir: String,
    state: watch::Receiver<LatchState>,
    close: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaderLatch {
    /// Joins the election on `path` as `id`, with [`ConnectionPolicy::Standard`].
    ///
    /// Errors: [`Error::InvalidPath`].
    pub fn start(client: &Client, path: &str, id: &str) -> Result<LeaderLatch> {
        LeaderLatch::start_with_policy(client, path, id, ConnectionPolicy::Standard)
    }

    /// Joins the election on `path` as `id`, dropping leadership per `policy`.
    ///
    /// Errors: [`Error::InvalidPath`].
    pub fn start_with_policy(
        client: &Client,
        path: &str,
        id: &str,
        policy: ConnectionPolicy,
    ) -> Result<LeaderLatch> {
        let dir = check_dir(path)?;
        let (state_tx, state) = watch::channel(LatchState::Follower);
        let (close, close_rx) = oneshot::channel();
        let run = Run {
            client: client.clone(),
            dir: dir.clone(),
            id: id.as_bytes().to_vec(),
            state: state_tx,
            monitor: ConnectionMonitor::new(client, policy),
            own: None,
        };
        let task = tokio::spawn(run.run(close_rx));
        Ok(LeaderLatch {
            client: client.clone(),
            dir,
            state,
            close: Some(close),
            task: Some(task),
        })
    }

    /// True while this participant leads.
    pub fn is_leader(&self) -> bool {
        matches!(*self.state.borrow(), LatchState::Leader(_))
    }

    /// The current state.
    pub fn state(&self) -> LatchState {
        self.state.borrow().clone()
    }

    /// A receiver of every change of state (a `tokio::sync::watch`: it always holds the
    /// latest; `changed().await` waits for the next).
    pub fn subscribe(&self) -> watch::Receiver<LatchState> {
        self.state.clone()
    }

    /// The token while leading.
    pub fn token(&self) -> Option<FencingToken> {
        self.state.borrow().token().cloned()
    }

    /// Waits until this participant leads; returns the token.
    ///
    /// Errors: [`Error::RecipeClosed`] if the latch closes first (closed, or the client
    /// closed or its session ended for good).
    pub async fn wait_leader(&self) -> Result<FencingToken> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| matches!(s, LatchState::Leader(_) | LatchState::Closed))
            .await;
        match result.as_deref() {
            Ok(LatchState::Leader(token)) => Ok(token.clone()),
            _ => Err(Error::RecipeClosed),
        }
    }

    /// Like [`LeaderLatch::wait_leader`], giving up after `timeout` (`None`).
    pub async fn wait_leader_timeout(&self, timeout: Duration) -> Result<Option<FencingToken>> {
        match tokio::time::timeout(timeout, self.wait_leader()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Writes that apply only while this participant's node exists and it leads.
    ///
    /// Errors: [`Error::Fenced`] if not leading now (or the node is gone on the server).
    pub async fn fenced_multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        let token = self.token().ok_or_else(|| Error::Fenced {
            path: self.dir.clone(),
        })?;
        token.fenced_multi(&self.client, ops).await
    }

    /// The participants' ids in election order (the first leads), read from the server.
    pub async fn participants(&self) -> Result<Vec<String>> {
        participants(&self.client, &self.dir).await
    }

    /// Leaves the election: stops leading, deletes the latch node (retrying until it is gone)
    /// and returns once done.
    pub async fn close(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaderLatch {
    /// Dropping the latch closes it in the background.
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
    }
}

/// The ids (node data) of the participants of the election at `dir`, in order.
pub(crate) async fn participants(client: &Client, dir: &str) -> Result<Vec<String>> {
    let mut children = match client.get_children(dir).await {
        Ok(children) => children,
        Err(zk_client::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    sort_children(&mut children, MARKERS);
    let mut ids = Vec::with_capacity(children.len());
    for child in children {
        match client.get_data(&child_path(dir, &child)).await {
            Ok((data, _)) => ids.push(String::from_utf8_lossy(&data).into_owned()),
            Err(zk_client::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ids)
}

/// The latch task.
struct Run {
    client: Client,
    dir: String,
    id: Vec<u8>,
    state: watch::Sender<LatchState>,
    monitor: ConnectionMonitor,
    own: Option<OwnedNode>,
}

/// What ended a wait.
enum Wake {
    /// Re-read the children.
    Recheck,
    /// Leave the election.
    Close,
}

impl Run {
    async fn run(mut self, mut close: oneshot::Receiver<()>) {
        let span_dir = self.dir.clone();
        tracing::debug!(dir = %span_dir, session = ?self.client.session_id(), "latch started");
        loop {
            let wake = tokio::select! {
                wake = self.step() => wake,
                _ = &mut close => Wake::Close,
            };
            if let Wake::Close = wake {
                break;
            }
        }
        self.set(LatchState::Closed);
        if let Some(node) = self.own.take() {
            guaranteed_delete(&self.client, &node.path, node.session).await;
        }
        tracing::debug!(dir = %span_dir, "latch closed");
    }

    fn set(&self, state: LatchState) {
        self.state.send_if_modified(|current| {
            if *current == state || *current == LatchState::Closed {
                return false;
            }
            match &state {
                LatchState::Leader(token) => {
                    tracing::info!(dir = %self.dir, path = token.path(), session = ?token.session(), czxid = token.czxid(), "leadership gained")
                }
                _ if matches!(current, LatchState::Leader(_)) => {
                    tracing::info!(dir = %self.dir, session = ?self.client.session_id(), "leadership lost")
                }
                _ => {}
            }
            *current = state;
            true
        });
    }

    /// One round: make sure we have a node, read the children, lead or watch, wait.
    async fn step(&mut self) -> Wake {
        if !self.monitor.is_trusted() {
            self.set(LatchState::Follower);
            return self.wait_connection().await;
        }
        let session = self.client.session_id();
        if let Some(old) = self.own.take_if(|node| node.session != session) {
            // A node of an earlier session is never ours; it goes with that session.
            let client = self.client.clone();
            tokio::spawn(async move { guaranteed_delete(&client, &old.path, old.session).await });
        }
        let node = match &self.own {
            Some(node) => node.clone(),
            None => match create_contender(&self.client, &self.dir, NAME, &self.id).await {
                Ok(node) => {
                    tracing::debug!(path = %node.path, session = ?node.session, "latch node created");
                    self.own = Some(node.clone());
                    node
                }
                Err(e) => return self.after_error(e).await,
            },
        };
        let mut children = match self.client.get_children(&self.dir).await {
            Ok(children) => children,
            Err(zk_client::Error::NoNode) => {
                // The latch directory was deleted, our node with it (CURATOR-724).
                self.set(LatchState::Follower);
                self.own = None;
                return Wake::Recheck;
            }
            Err(e) => return self.after_error(e.into()).await,
        };
        sort_children(&mut children, MARKERS);
        let Some(index) = children.iter().position(|c| c == node_name(&node.path)) else {
            tracing::info!(path = %node.path, "latch node gone: joining again");
            self.set(LatchState::Follower);
            self.own = None;
            return Wake::Recheck;
        };
        let watch_path = match mutex_predicate(&children, index) {
            Decision::Acquired => {
                match self.client.exists(&node.path).await {
                    Ok(Some(stat))
                        if stat.ephemeral_owner == session.0
                            && self.client.session_id() == session =>
                    {
                        if self.monitor.is_trusted() {
                            let token = FencingToken::new(node.path.clone(), stat.czxid, session);
                            self.set(LatchState::Leader(token));
                        }
                    }
                    Ok(_) => {
                        // Not this session's (CURATOR-696): never lead on it.
                        self.set(LatchState::Follower);
                        return Wake::Recheck;
                    }
                    Err(e) => return self.after_error(e.into()).await,
                }
                // Watch our own node: its deletion ends the leadership.
                node.path.clone()
            }
            Decision::WaitFor(name) => {
                self.set(LatchState::Follower);
                child_path(&self.dir, &name)
            }
        };
        let watcher = match self.client.get_data_and_watch(&watch_path).await {
            Ok((_, _, watcher)) => watcher,
            Err(zk_client::Error::NoNode) => {
                if watch_path == node.path {
                    self.set(LatchState::Follower);
                }
                return Wake::Recheck;
            }
            Err(e) => return self.after_error(e.into()).await,
        };
        let changed = watcher.changed();
        tokio::pin!(changed);
        loop {
            tokio::select! {
                _ = &mut changed => {
                    if watch_path == node.path {
                        // Our own node changed or went: not leader until re-checked.
                        self.set(LatchState::Follower);
                    }
                    return Wake::Recheck;
                }
                change = self.monitor.next() => match self.on_change(change) {
                    Some(wake) => return wake,
                    None => continue,
                },
            }
        }
    }

    /// Applies a connection change; `None` to keep waiting.
    fn on_change(&mut self, change: Option<OwnershipChange>) -> Option<Wake> {
        match change {
            Some(OwnershipChange::Suspended) => {
                self.set(LatchState::Follower);
                Some(Wake::Recheck)
            }
            Some(OwnershipChange::Reconnected) => Some(Wake::Recheck),
            Some(OwnershipChange::Lost { reason }) => {
                // The node is kept in `own`: after a renewal it is deleted from the new
                // session (it may outlive its session for a while on a lagging server).
                tracing::info!(dir = %self.dir, ?reason, "session lost");
                self.set(LatchState::Follower);
                Some(Wake::Recheck)
            }
            Some(OwnershipChange::NewSession { session }) => {
                self.new_session(session);
                Some(Wake::Recheck)
            }
            None => {
                self.set(LatchState::Follower);
                Some(Wake::Close)
            }
        }
    }

    fn new_session(&mut self, session: SessionId) {
        tracing::info!(dir = %self.dir, new = ?session, "new session: joining again");
        self.set(LatchState::Follower);
    }

    /// Waits until the connection can be trusted again (or the latch must close).
    async fn wait_connection(&mut self) -> Wake {
        loop {
            let change = self.monitor.next().await;
            match self.on_change(change) {
                Some(Wake::Close) => return Wake::Close,
                _ if self.monitor.is_trusted() => return Wake::Recheck,
                _ => {}
            }
        }
    }

    /// After an operation failed: back off (or wait for the connection) and go round again.
    async fn after_error(&mut self, e: Error) -> Wake {
        tracing::debug!(dir = %self.dir, error = %e, "latch operation failed");
        // A lost connection is the monitor's to judge (per the policy); anything else means
        // we cannot tell whether we lead.
        let pause = match &e {
            Error::Client(e) if e.is_retryable() => Duration::from_millis(50),
            _ => {
                self.set(LatchState::Follower);
                Duration::from_millis(500)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => Wake::Recheck,
            change = self.monitor.next() => self.on_change(change).unwrap_or(Wake::Recheck),
        }
    }
}
