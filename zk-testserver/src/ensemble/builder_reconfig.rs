//! Dynamic reconfiguration on the in-process [`Ensemble`]: servers that join by `reconfig`.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use super::{bind_secure, spec_of, Ensemble, Slot};
use crate::replication::{QuorumConfig, ServerId};
use crate::server::ServerError;
use crate::tree::CONFIG_NODE;

impl Ensemble {
    /// Member `id`'s `/zookeeper/config` data (its active membership in ZooKeeper's format),
    /// `None` while it is killed.
    pub async fn config_of(&self, id: ServerId) -> Option<String> {
        let node = self.node(id)?;
        node.inspect(|core| {
            core.tree()
                .get(CONFIG_NODE)
                .and_then(|n| n.data.as_ref())
                .map(|d| String::from_utf8_lossy(d).into_owned())
        })
        .await
        .flatten()
    }

    /// Starts a new server (the next id) that is not in the membership yet, as ZooKeeper's
    /// joining server is started: knowing the leader's current membership plus itself (as an
    /// observer if `observer`). It syncs with the leader as a non-voting learner; a client's
    /// `reconfig` adding the returned `server.N=...` line makes it a member. Returns its id
    /// and that line.
    ///
    /// Errors: [`ServerError::Timeout`] without a leader within 5 s, [`ServerError::Bind`],
    /// [`ServerError::Storage`].
    pub async fn add_member(&mut self, observer: bool) -> Result<(ServerId, String), ServerError> {
        let leader = self.wait_for_leader(Duration::from_secs(5)).await?;
        let no_config = ServerError::Timeout {
            what: "the leader's membership",
            after: Duration::ZERO,
        };
        let text = self.config_of(leader).await.ok_or(no_config)?;
        let mut config = QuorumConfig::parse(&text).ok_or(ServerError::Timeout {
            what: "a readable membership",
            after: Duration::ZERO,
        })?;
        let id = self.slots.keys().max().copied().unwrap_or(0) + 1;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let bind = || TcpListener::bind(loopback).map_err(|e| ServerError::Bind(loopback, e));
        let (client, peer, election) = (bind()?, bind()?, bind()?);
        let addr = |l: &TcpListener| l.local_addr().map_err(|e| ServerError::Bind(loopback, e));
        let (client_addr, peer_addr) = (addr(&client)?, addr(&peer)?);
        let (secure_listener, secure_addr) = bind_secure(self.tls.is_some())?;
        let spec = spec_of(client_addr, peer_addr, &election, observer)?;
        config.servers.insert(id, spec.clone());
        let disk = self.spec.disk_for(id);
        self.slots.insert(
            id,
            Slot {
                node: None,
                client_addr,
                peer_addr,
                disk,
                secure_addr,
                secure_listener,
                _election: election,
                joining: Some(config),
            },
        );
        for node in self.live() {
            node.add_peer(id, peer_addr).await;
        }
        tracing::info!(member = id, observer, "ensemble: a server starts to join");
        self.launch(id, client, peer)?;
        Ok((id, format!("server.{id}={spec}")))
    }
}
