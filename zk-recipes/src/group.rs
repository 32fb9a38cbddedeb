//! [`GroupMember`]: membership of a group, with a live view of the other members (Curator
//! `GroupMember`, kazoo `Party`).
//!
//! # Layout (Curator's)
//! `P/<member id>`, EPHEMERAL, data = the member's data; `P` is a container. Each member keeps
//! its node with a [`PersistentNode`] and watches the group with a [`ChildrenCache`].
//!
//! # Connection-state policy
//! - Suspended: the view may be stale ([`CacheEvent::Suspended`]); the member's node lives
//!   on with the session.
//! - Reconnected: the view is re-read ([`CacheEvent::Reset`]).
//! - Lost: the member's node is gone. With a client that renews its session
//!   (`renew_session_on_expiry`), it is re-created in the new session and the view rebuilt;
//!   otherwise membership ends.
//!
//! Dropping a member (or [`GroupMember::leave`]) deletes its node.

use std::collections::BTreeMap;

use tokio::sync::broadcast;
use zk_client::{Bytes, Client, CreateMode, CreateOptions};

use crate::cache::{CacheEvent, ChildrenCache};
use crate::error::Result;
use crate::persistent_node::PersistentNode;

/// This process's membership of a group, and the group as it sees it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::GroupMember;
///
/// let me = GroupMember::join(&client, "/app/workers", "worker-7", b"10.0.0.7").await?;
/// for (id, data) in me.members() {
///     println!("{id} at {data:?}");
/// }
/// me.leave().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GroupMember {
    id: String,
    node: PersistentNode,
    view: ChildrenCache,
}

impl GroupMember {
    /// Joins the group at `path` as `id` with `data`; returns once our node exists and the
    /// view is loaded.
    ///
    /// Errors: a bad path or id; the terminal error if the session ends first.
    pub async fn join(client: &Client, path: &str, id: &str, data: &[u8]) -> Result<GroupMember> {
        let node_path = crate::node_util::child_path(path, id)?;
        let node = PersistentNode::start(
            client,
            &node_path,
            CreateOptions::new(CreateMode::Ephemeral),
            data,
            false,
        )?;
        node.wait_created().await?;
        let view = ChildrenCache::start(client, path).await?;
        tracing::debug!(group = path, id, session = %client.session_id(), "joined");
        Ok(GroupMember {
            id: id.to_string(),
            node,
            view,
        })
    }

    /// Our member id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The members as last seen, by id, with their data (ours included).
    pub fn members(&self) -> BTreeMap<String, Bytes> {
        self.view
            .children()
            .into_iter()
            .map(|(id, node)| (id, node.data))
            .collect()
    }

    /// Changes in the group (members are the children of the group node).
    pub fn events(&self) -> broadcast::Receiver<CacheEvent> {
        self.view.events()
    }

    /// Replaces our data.
    pub async fn set_data(&self, data: &[u8]) -> Result<()> {
        self.node.set_data(data).await
    }

    /// Leaves the group: deletes our node.
    pub async fn leave(self) -> Result<()> {
        self.node.close().await
    }
}
