//! [`DoubleBarrier`]: N participants enter together and leave together (Curator
//! `DistributedDoubleBarrier`, kazoo `DoubleBarrier`, the ZooKeeper recipe).
//!
//! # Layout (Curator's)
//! ```text
//! P                 container
//!   <uuid>          EPHEMERAL, one per participant (a plain UUID, no prefix)
//!   ready           PERSISTENT, created by the participant that completes the count
//! ```
//! - enter: `exists(P/ready, watch)`, create `P/<uuid>`, count the children other than
//!   `ready`; the participant that sees N creates `ready` (in a `multi` that checks every
//!   member it counted still exists), the others wait for it. Every
//!   wake-up checks `ready` again instead of trusting the event (GH-1290: a spurious or
//!   session wake-up once let a participant through alone).
//! - leave: the lowest node waits for the highest to go; every other participant deletes its
//!   node and waits for the lowest; whoever finds the barrier empty deletes `ready`.
//! - Timed waits end at their deadline (CURATOR-536 looped forever in a timed leave). A timed
//!   enter that gives up deletes its node and then looks at `ready` once more: if `ready`
//!   exists, it was created while our node existed, so the count included it, and it
//!   re-creates its node and reports that it entered; otherwise `ready` can no longer be
//!   created with it counted. All participants therefore agree (CURATOR-318). (A Curator
//!   participant creates `ready` without the checks, so mixed fleets lose this guarantee.)
//!
//! # Connection-state policy
//! - Suspended: waits continue; the client restores the watches on reconnect and the loop
//!   re-reads the barrier after every wake-up.
//! - Lost: waits fail with the terminal error. The participant's ephemeral node is gone with
//!   its session, so the others stop counting it. If the client renews its session, a
//!   waiting `enter` creates its node again in the new session and goes on.
//!
//! Dropping a handle that entered and did not leave deletes its node in the background.

use std::time::Duration;

use tokio::time::Instant;
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError, Op};

use crate::error::Result;
use crate::node_util::{
    check_path, create_in_containers, deadline_after, retry, until, uuid4, wait_connected,
};

const READY: &str = "ready";

/// One participant of a double barrier of `member_count` participants.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::DoubleBarrier;
///
/// // Two participants (usually in two processes).
/// let mut a = DoubleBarrier::new(&client, "/app/round-1", 2)?;
/// let mut b = DoubleBarrier::new(&client, "/app/round-1", 2)?;
/// let (x, y) = tokio::join!(a.enter(), b.enter()); // both return once 2 are in
/// x?;
/// y?;
/// // ... the computation ...
/// let (x, y) = tokio::join!(a.leave(), b.leave()); // both return once all have left
/// x?;
/// y?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    member_count: usize,
    name: String,
    /// True while our node may exist.
    joined: bool,
}

impl DoubleBarrier {
    /// A participant of the barrier at `path` for `member_count` participants.
    pub fn new(client: &Client, path: &str, member_count: usize) -> Result<DoubleBarrier> {
        check_path(path)?;
        Ok(DoubleBarrier {
            client: client.clone(),
            path: path.to_string(),
            member_count: member_count.max(1),
            name: uuid4(),
            joined: false,
        })
    }

    /// This participant's node.
    pub fn node_path(&self) -> String {
        zk_proto::path::join(&self.path, &self.name)
    }

    /// Enters, waiting until all participants are in. Cancel by dropping the future (the node
    /// is then deleted in the background when the handle is dropped).
    pub async fn enter(&mut self) -> Result<()> {
        self.enter_until(None).await.map(|_| ())
    }

    /// Like [`DoubleBarrier::enter`] for at most `timeout`: `Ok(false)` if the barrier did
    /// not fill in time (our node is removed again).
    pub async fn enter_timeout(&mut self, timeout: Duration) -> Result<bool> {
        self.enter_until(deadline_after(Some(timeout))).await
    }

    /// Leaves, waiting until every participant has left.
    pub async fn leave(&mut self) -> Result<()> {
        self.leave_until(None).await.map(|_| ())
    }

    /// Like [`DoubleBarrier::leave`] for at most `timeout`: `Ok(false)` if others were still
    /// in when it passed (our node is deleted either way).
    pub async fn leave_timeout(&mut self, timeout: Duration) -> Result<bool> {
        self.leave_until(deadline_after(Some(timeout))).await
    }

    fn ready_path(&self) -> String {
        zk_proto::path::join(&self.path, READY)
    }

    async fn create_own(&mut self) -> Result<()> {
        let ours = self.node_path();
        let eph = CreateOptions::new(CreateMode::Ephemeral);
        self.joined = true;
        match retry(&self.client, || {
            create_in_containers(&self.client, &ours, &[], &eph)
        })
        .await
        {
            // NodeExists: a create whose reply was lost; the UUID is ours alone.
            Ok(_) | Err(ClientError::NodeExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_own(&mut self) -> Result<()> {
        let ours = self.node_path();
        match retry(&self.client, || self.client.delete(&ours, None)).await {
            Ok(()) | Err(ClientError::NoNode) => {
                self.joined = false;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn enter_until(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let ready = self.ready_path();
        let client = self.client.clone();
        let mut created = false;
        loop {
            let Some(found) =
                until(deadline, retry(&client, || client.exists_and_watch(&ready))).await
            else {
                return self.abandon_enter().await;
            };
            let (stat, watcher) = found?;
            if stat.is_some() {
                if !created {
                    // The barrier is already open: join it so that leave counts us.
                    self.create_own().await?;
                }
                tracing::debug!(path = %self.path, session = %client.session_id(), "entered the double barrier");
                return Ok(true);
            }
            if !created {
                self.create_own().await?;
                created = true;
            }
            let children = match retry(&client, || client.get_children(&self.path)).await {
                Ok(children) => children,
                Err(ClientError::NoNode) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let members: Vec<&String> = children.iter().filter(|c| c.as_str() != READY).collect();
            let count = members.len();
            if count >= self.member_count {
                // Create `ready` only if every member counted is still there, atomically: a
                // member that gave up (deleted its node) then makes this fail and we count
                // again, so a member that gives up is never counted (CURATOR-318).
                let mut ops: Vec<Op> = members
                    .iter()
                    .map(|m| Op::check(zk_proto::path::join(&self.path, m), None))
                    .collect();
                ops.push(Op::create(
                    &ready,
                    Vec::new(),
                    &CreateOptions::new(CreateMode::Persistent),
                ));
                match client.multi(&ops).await {
                    Ok(_) => {
                        tracing::debug!(path = %self.path, count, "double barrier full: ready created");
                        return Ok(true);
                    }
                    Err(ClientError::MultiFailed { index, code })
                        if index == count && code == zk_proto::ErrorCode::NodeExists =>
                    {
                        return Ok(true);
                    }
                    // A member left meanwhile, or the reply was lost: look again.
                    Err(ClientError::MultiFailed { .. }) => continue,
                    Err(e) if e.is_retryable() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            tracing::trace!(path = %self.path, count, "waiting for the double barrier to fill");
            match until(deadline, watcher.changed()).await {
                None => return self.abandon_enter().await,
                Some(event) if event.state.is_terminal() => {
                    // Our node died with the session; with a renewed session, join again.
                    if !wait_connected(&client, deadline).await? {
                        return self.abandon_enter().await;
                    }
                    created = false;
                }
                // GH-1290: whatever woke us, the loop checks `ready` again.
                Some(_) => {}
            }
        }
    }

    /// A timed enter gives up: remove our node, unless the barrier was completed with it
    /// counted (CURATOR-318), in which case we are in.
    async fn abandon_enter(&mut self) -> Result<bool> {
        self.delete_own().await?;
        let ready = self.ready_path();
        if retry(&self.client, || self.client.exists(&ready))
            .await?
            .is_some()
        {
            self.create_own().await?;
            tracing::debug!(path = %self.path, "enter timed out but the barrier had filled: entered");
            return Ok(true);
        }
        tracing::debug!(path = %self.path, "enter timed out");
        Ok(false)
    }

    async fn leave_until(&mut self, deadline: Option<Instant>) -> Result<bool> {
        let client = self.client.clone();
        loop {
            let mut children: Vec<String> =
                match retry(&client, || client.get_children(&self.path)).await {
                    Ok(children) => children,
                    Err(ClientError::NoNode) => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
            children.retain(|c| c != READY);
            children.sort();
            let ours_present = children.contains(&self.name);
            if children.is_empty() || (children.len() == 1 && ours_present) {
                if ours_present {
                    self.delete_own().await?;
                }
                self.joined = false;
                let ready = self.ready_path();
                match retry(&client, || client.delete(&ready, None)).await {
                    Ok(()) | Err(ClientError::NoNode) | Err(ClientError::NotEmpty) => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::debug!(path = %self.path, session = %client.session_id(), "left the double barrier");
                return Ok(true);
            }
            let lowest = children[0].clone();
            let highest = children[children.len() - 1].clone();
            let awaited = if ours_present && lowest == self.name {
                highest
            } else {
                if ours_present {
                    self.delete_own().await?;
                }
                lowest
            };
            let awaited = zk_proto::path::join(&self.path, &awaited);
            let (stat, watcher) = retry(&client, || client.exists_and_watch(&awaited)).await?;
            if stat.is_none() {
                continue;
            }
            match until(deadline, watcher.changed()).await {
                None => {
                    // CURATOR-536: give up instead of looping; leave nothing of ours behind.
                    self.delete_own().await?;
                    tracing::debug!(path = %self.path, "leave timed out");
                    return Ok(false);
                }
                Some(event) if event.state.is_terminal() => {
                    if !wait_connected(&client, deadline).await? {
                        return Ok(false);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

impl Drop for DoubleBarrier {
    fn drop(&mut self) {
        if self.joined {
            crate::node_util::delete_in_background(&self.client, self.node_path(), None);
        }
    }
}
