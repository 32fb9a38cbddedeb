//! The ensemble part of `zoo.cfg`: `server.N` lines, `myid`, `initLimit`/`syncLimit`,
//! `peerType`, `standaloneEnabled`, read as ZooKeeper 3.8's `QuorumPeerConfig` reads them.
//!
//! A server line is `server.N=server_config[;client_config]` where `server_config` is
//! `host:quorumPort:electionPort[:participant|:observer]` (several joined by `|` when
//! `multiAddress.enabled=true`; IPv6 hosts in brackets) and `client_config` is `port` or
//! `host:port`. As in ZooKeeper:
//!
//! - the config is *distributed* when it lists more than one participant, or at least one with
//!   `standaloneEnabled=false`; one participant with `standaloneEnabled=true` (the default)
//!   runs standalone and the line is ignored;
//! - a distributed config needs `initLimit`, `syncLimit` and a `myid` file naming a listed
//!   server; observers without participants are refused;
//! - the server line's role wins over `peerType`; its client address wins over `clientPort`
//!   unless they conflict, which is refused;
//! - `dynamicConfigFile` names a file holding the server lines.
//!
//! Our members exchange election messages over the quorum port, so the election port is bound
//! (a harness that checks it finds it) but carries nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use super::{ConfigError, ZooCfg};
use crate::ensemble::MemberConfig;
use crate::four_letter::QuorumConf;
use crate::replication::{ReplicaConfig, ServerId};
use crate::server::{ServerError, TestServerBuilder};

/// The session secret of every member started from a `zoo.cfg`: members must share one so a
/// session moves between them, and each is a separate process. ZooKeeper likewise derives
/// session passwords from a fixed `superSecret`.
const MEMBER_SECRET: [u8; 32] = *b"zk-testserver/ensemble/secret/v1";

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// N.
    pub id: u64,
    /// The host (of the first address when there are several).
    pub host: String,
    /// The quorum port.
    pub quorum_port: u16,
    /// The election port.
    pub election_port: u16,
    /// `participant` or `observer` (lower case).
    pub role: String,
    /// The client address after `;`, if any: `port` or `host:port` as written.
    pub client: Option<String>,
    /// Further `host:quorumPort:electionPort` addresses after `|` (multi-address members).
    pub more_addresses: Vec<(String, u16, u16)>,
}

impl ServerLine {
    /// True if the line names an observer.
    pub fn is_observer(&self) -> bool {
        self.role == "observer"
    }

    /// The client address of the line, if it has one (host `0.0.0.0` when only a port is given).
    pub fn client_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(client) = &self.client else {
            return Ok(None);
        };
        let invalid = || ConfigError::Invalid {
            key: format!("server.{}", self.id),
            value: client.clone(),
        };
        let parts = host_and_port(client);
        let (host, port) = match parts.as_slice() {
            [port] => ("0.0.0.0", *port),
            [host, port] => (*host, *port),
            _ => return Err(invalid()),
        };
        let port: u16 = port.parse().map_err(|_| invalid())?;
        resolve(host, port).map(Some).ok_or_else(invalid)
    }
}

/// Splits `host:port[:...]` on colons, keeping a bracketed IPv6 host whole (ZooKeeper's
/// `ConfigUtils.getHostAndPort`).
fn host_and_port(s: &str) -> Vec<&str> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let mut out = vec![host];
            if let Some(tail) = tail.strip_prefix(':') {
                out.extend(tail.split(':'));
            } else if !tail.is_empty() {
                out.push(tail);
            }
            return out;
        }
    }
    s.split(':').collect()
}

/// Resolves `host` to one address, IPv4 first.
fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

/// Parses the value of `server.N` (see the module docs).
pub(super) fn parse_server_line(
    key: &str,
    id: &str,
    value: &str,
) -> Result<ServerLine, ConfigError> {
    let invalid = || ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
    };
    let id: u64 = id.trim().parse().map_err(|_| invalid())?;
    let parts: Vec<&str> = value.split(';').collect();
    let (server, client) = match parts.as_slice() {
        [s] => (*s, None),
        [s, c] => (*s, Some(c.trim().to_string())),
        _ => return Err(invalid()),
    };
    let mut addresses = Vec::new();
    let mut role: Option<String> = None;
    for address in server.split('|') {
        let p = host_and_port(address);
        if !(3..=4).contains(&p.len()) {
            return Err(invalid());
        }
        let quorum: u16 = p[1].trim().parse().map_err(|_| invalid())?;
        let election: u16 = p[2].trim().parse().map_err(|_| invalid())?;
        if quorum == election {
            // "Client and election port must be different!" in ZooKeeper's words.
            return Err(invalid());
        }
        if let Some(t) = p.get(3) {
            let t = t.trim().to_ascii_lowercase();
            if t != "participant" && t != "observer" {
                return Err(invalid());
            }
            if role.as_ref().is_some_and(|r| *r != t) {
                return Err(invalid());
            }
            role = Some(t);
        }
        addresses.push((p[0].trim().to_string(), quorum, election));
    }
    let (host, quorum_port, election_port) = addresses.remove(0);
    let line = ServerLine {
        id,
        host,
        quorum_port,
        election_port,
        role: role.unwrap_or_else(|| "participant".into()),
        client,
        more_addresses: addresses,
    };
    line.client_addr()?;
    Ok(line)
}

/// Everything a member of a distributed `zoo.cfg` needs beside the client-side settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPlan {
    /// This member's id (`myid`).
    pub id: ServerId,
    /// The voting members.
    pub voters: BTreeSet<ServerId>,
    /// The observers.
    pub observers: BTreeSet<ServerId>,
    /// Every member's quorum address (this one's included).
    pub peers: BTreeMap<ServerId, SocketAddr>,
    /// Where this member binds its quorum port (all interfaces with `quorumListenOnAllIPs`).
    pub quorum_bind: SocketAddr,
    /// Where this member binds its (unused) election port.
    pub election_bind: SocketAddr,
    /// Where this member serves clients.
    pub client: SocketAddr,
    /// Where this member serves TLS clients (`secureClientPort` on the client address's
    /// host), when `ssl.keyStore.location` is set too.
    pub secure_client: Option<SocketAddr>,
    /// `tickTime`, ms.
    pub tick_ms: u32,
    /// `initLimit` × `tickTime`, ms.
    pub init_limit_ms: u32,
    /// `syncLimit` × `tickTime`, ms.
    pub sync_limit_ms: u32,
}

impl MemberPlan {
    /// The replication settings of this member: ZooKeeper's timing from `tickTime` and the
    /// limits (elections resend and finalize after at most 200 ms, ZooKeeper's `finalizeWait`).
    pub fn replica_config(&self) -> ReplicaConfig {
        let tick = i64::from(self.tick_ms.max(1));
        let mut cfg = ReplicaConfig::fast(self.id, self.voters.iter().copied())
            .with_observers(self.observers.iter().copied());
        cfg.tick_ms = tick;
        cfg.finalize_wait_ms = tick.min(200);
        cfg.election_resend_ms = tick.min(200);
        cfg.init_limit_ms = i64::from(self.init_limit_ms.max(1));
        cfg.sync_limit_ms = i64::from(self.sync_limit_ms.max(1));
        cfg
    }
}

impl ZooCfg {
    /// True if the config runs a member of an ensemble rather than a standalone server
    /// (ZooKeeper's `isDistributed`).
    pub fn is_distributed(&self) -> bool {
        let participants = self.servers.iter().filter(|s| !s.is_observer()).count();
        participants > 1 || (!self.standalone_enabled && participants > 0)
    }

    /// Checks the server list as ZooKeeper does when it reads it (observers need
    /// participants, ids are unique, `standaloneEnabled=false` needs a participant).
    fn check_servers(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: String| ConfigError::Invalid {
            key: key.to_string(),
            value,
        };
        let mut ids = BTreeSet::new();
        for s in &self.servers {
            let key = format!("server.{}", s.id);
            if !ids.insert(s.id) {
                return Err(invalid(&key, "listed twice".into()));
            }
            if !s.more_addresses.is_empty() && !self.multi_address {
                // ZooKeeper: "Multiple address feature is disabled, but multiple addresses
                // were specified".
                return Err(invalid(
                    &key,
                    "several addresses need multiAddress.enabled".into(),
                ));
            }
        }
        let participants = self.servers.iter().filter(|s| !s.is_observer()).count();
        let observers = self.servers.len() - participants;
        if participants == 0 && !self.servers.is_empty() {
            if !self.standalone_enabled {
                return Err(invalid(
                    "standaloneEnabled",
                    "false needs at least one participant".into(),
                ));
            }
            return Err(invalid("server.N", "observers without participants".into()));
        }
        if participants == 1 && self.standalone_enabled && observers > 0 {
            return Err(invalid("server.N", "observers without a quorum".into()));
        }
        Ok(())
    }

    /// The member this config describes, or `None` for a standalone server. Refuses what
    /// ZooKeeper refuses: a missing `initLimit`/`syncLimit`/`myid`, a `myid` not in the list,
    /// a `clientPort` conflicting with the member's line, no client address at all.
    pub fn member_plan(&self) -> Result<Option<MemberPlan>, ConfigError> {
        self.check_servers()?;
        if !self.is_distributed() {
            return Ok(None);
        }
        let init = self
            .init_limit
            .filter(|&n| n > 0)
            .ok_or(ConfigError::Missing("initLimit"))?;
        let sync = self
            .sync_limit
            .filter(|&n| n > 0)
            .ok_or(ConfigError::Missing("syncLimit"))?;
        let myid = self
            .myid
            .ok_or(ConfigError::Missing("myid file in dataDir"))?;
        let me =
            self.servers
                .iter()
                .find(|s| s.id == myid)
                .ok_or_else(|| ConfigError::Invalid {
                    key: "myid".into(),
                    value: format!("{myid} is not in the server list"),
                })?;
        if let Some(t) = &self.peer_type {
            if t.to_ascii_lowercase() != me.role {
                tracing::warn!(peerType = %t, role = %me.role, "peerType differs from the server list; the list wins");
            }
        }
        let mut peers = BTreeMap::new();
        for s in &self.servers {
            let addr = resolve(&s.host, s.quorum_port).ok_or_else(|| ConfigError::Invalid {
                key: format!("server.{}", s.id),
                value: format!("cannot resolve {}", s.host),
            })?;
            peers.insert(s.id, addr);
        }
        let static_client = self.client_port.map(|port| {
            let ip = self
                .client_port_address
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            SocketAddr::new(ip, port)
        });
        let client = match (static_client, me.client_addr()?) {
            (Some(s), Some(line)) => {
                let conflict = if s.ip().is_unspecified() {
                    s.port() != line.port()
                } else {
                    s != line
                };
                if conflict {
                    return Err(ConfigError::Invalid {
                        key: "clientPort".into(),
                        value: format!("{s} differs from server.{myid}'s client address {line}"),
                    });
                }
                line
            }
            (None, Some(line)) => line,
            (Some(s), None) => s,
            (None, None) => return Err(ConfigError::Missing("clientPort")),
        };
        let quorum = peers[&myid];
        let bind_ip = if self.quorum_listen_on_all_ips {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            quorum.ip()
        };
        let tick = self.tick_time;
        self.check_secure_address()?;
        let secure_client = match (self.secure_client_port, &self.ssl_key_store) {
            (Some(port), Some(_)) => Some(SocketAddr::new(
                self.secure_client_port_address
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                port,
            )),
            (Some(_), None) => {
                tracing::warn!("secureClientPort without ssl.keyStore.location: TLS disabled");
                None
            }
            (None, _) => None,
        };
        Ok(Some(MemberPlan {
            id: myid,
            voters: self
                .servers
                .iter()
                .filter(|s| !s.is_observer())
                .map(|s| s.id)
                .collect(),
            observers: self
                .servers
                .iter()
                .filter(|s| s.is_observer())
                .map(|s| s.id)
                .collect(),
            peers,
            quorum_bind: SocketAddr::new(bind_ip, me.quorum_port),
            election_bind: SocketAddr::new(bind_ip, me.election_port),
            client,
            secure_client,
            tick_ms: tick,
            init_limit_ms: init.saturating_mul(tick),
            sync_limit_ms: sync.saturating_mul(tick),
        }))
    }
}

impl ZooCfg {
    /// Everything [`crate::ensemble::MemberNode::start`] needs for the member `plan`
    /// describes: its replication settings, its peers, and the client-side settings of this
    /// config (as a standalone server would use them) with the shared session secret.
    pub fn member_config(&self, plan: &MemberPlan) -> Result<MemberConfig, ConfigError> {
        let mut cfg = self.clone();
        cfg.client_port = Some(plan.client.port());
        cfg.client_port_address = Some(plan.client.ip());
        let builder = cfg
            .to_builder()?
            .session_secret(MEMBER_SECRET)
            .myid(u8::try_from(plan.id).unwrap_or(u8::MAX));
        let mut core = builder.core_config(plan.client, plan.secure_client);
        core.quorum = Some(self.quorum_conf(plan)?);
        let mut replica = plan.replica_config();
        if let Some(n) = self.snap_count {
            replica.snap_count = n.max(1);
        }
        Ok(MemberConfig {
            replica,
            peers: plan.peers.clone(),
            core,
        })
    }
}

impl ZooCfg {
    /// What `conf` reports of member `plan`: its limits and ports, and the server lines as
    /// ZooKeeper prints them (the client address only where a line gave one).
    fn quorum_conf(&self, plan: &MemberPlan) -> Result<QuorumConf, ConfigError> {
        let mut servers = Vec::new();
        for s in &self.servers {
            let client = match &s.client {
                None => None,
                Some(written) => {
                    let parts = host_and_port(written);
                    let addr = s.client_addr()?.ok_or(ConfigError::Missing("clientPort"))?;
                    let host = match parts.as_slice() {
                        [_] => "0.0.0.0",
                        [host, _] => host,
                        _ => "0.0.0.0",
                    };
                    Some((host.to_string(), addr.port()))
                }
            };
            servers.push(QuorumConf::server_line(
                s.id,
                &s.host,
                s.quorum_port,
                s.election_port,
                s.is_observer(),
                client.as_ref().map(|(h, p)| (h.as_str(), *p)),
            ));
        }
        Ok(QuorumConf {
            init_limit: self.init_limit.unwrap_or(0),
            sync_limit: self.sync_limit.unwrap_or(0),
            election_port: plan.election_bind.port(),
            quorum_port: plan.quorum_bind.port(),
            observer: plan.observers.contains(&plan.id),
            servers,
        })
    }

    /// The TLS settings of a member's secure client port (`secureClientPort` with
    /// `ssl.keyStore.*`, `ssl.trustStore.*`, `ssl.clientAuth`), loaded from the stores as a
    /// standalone server loads them; `None` without a key store or secure port.
    ///
    /// Errors: [`ServerError::Tls`] if a store cannot be read (wrong password, unknown type).
    pub fn member_tls(&self) -> Result<Option<Arc<rustls::ServerConfig>>, ServerError> {
        if self.secure_client_port.is_none() || self.ssl_key_store.is_none() {
            return Ok(None);
        }
        let builder = self
            .tls_to_builder(TestServerBuilder::default())
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        Ok(builder
            .tls_acceptor()?
            .map(|acceptor| Arc::clone(acceptor.config())))
    }
}

#[cfg(test)]
#[path = "ensemble_tests.rs"]
mod tests;
