//! The in-process ensemble's TLS client ports and what `conf` shows of its members (a child
//! of `builder`, so it sees the ensemble's slots).

use std::net::{SocketAddr, TcpListener};

use super::{Ensemble, Slot};
use crate::ensemble::SecurePort;
use crate::four_letter::QuorumConf;
use crate::replication::{ReplicaConfig, ServerId};
use crate::server::ServerError;

impl Ensemble {
    /// Every member's TLS client address, comma-separated (a connect string for TLS
    /// clients); `None` unless the ensemble was built with [`super::EnsembleBuilder::tls`] (or TLS
    /// server settings).
    pub fn secure_connect_string(&self) -> Option<String> {
        let addrs: Option<Vec<String>> = self
            .slots
            .values()
            .map(|s| s.secure_addr.map(|a| a.to_string()))
            .collect();
        addrs.map(|a| a.join(","))
    }

    /// Member `id`'s TLS client address (kept across restarts), if it serves TLS.
    pub fn secure_addr(&self, id: ServerId) -> Option<SocketAddr> {
        self.slot(id).secure_addr
    }

    /// What `conf` shows of member `id`: the limits in ticks, its ports, and a server line
    /// per member (the election port is reserved for the `server.N` spec; elections travel
    /// on the quorum port here).
    pub(super) fn quorum_conf(&self, id: ServerId, replica: &ReplicaConfig) -> QuorumConf {
        let tick = replica.tick_ms.max(1);
        let ticks = |ms: i64| u32::try_from(ms / tick).unwrap_or(u32::MAX);
        let servers = self
            .slots
            .iter()
            .map(|(&i, s)| {
                QuorumConf::server_line(
                    i,
                    &s.peer_addr.ip().to_string(),
                    s.peer_addr.port(),
                    election_port(s),
                    i > self.spec.members as ServerId,
                    Some((&s.client_addr.ip().to_string(), s.client_addr.port())),
                )
            })
            .collect();
        QuorumConf {
            init_limit: ticks(replica.init_limit_ms),
            sync_limit: ticks(replica.sync_limit_ms),
            election_port: election_port(&self.slots[&id]),
            quorum_port: self.slots[&id].peer_addr.port(),
            observer: id > self.spec.members as ServerId,
            servers,
        }
    }

    /// Member `id`'s TLS client port, when the ensemble serves TLS: the listener bound for
    /// it, or a new one on a free loopback port (remembered for restarts).
    pub(super) fn secure_port(&mut self, id: ServerId) -> Result<Option<SecurePort>, ServerError> {
        let Some(tls) = self.tls.clone() else {
            return Ok(None);
        };
        let slot = self.slots.get_mut(&id).expect("slot");
        let listener = match slot.secure_listener.take() {
            Some(l) => l,
            None => {
                let any = SocketAddr::from(([127, 0, 0, 1], 0));
                let want = slot.secure_addr.unwrap_or(any);
                TcpListener::bind(want).map_err(|e| ServerError::Bind(want, e))?
            }
        };
        slot.secure_addr = Some(
            listener
                .local_addr()
                .map_err(|e| ServerError::Bind(slot.client_addr, e))?,
        );
        Ok(Some(SecurePort { listener, tls }))
    }
}

/// The election port a member's `server.N` spec names.
fn election_port(slot: &Slot) -> u16 {
    slot._election.local_addr().map_or(0, |a| a.port())
}
