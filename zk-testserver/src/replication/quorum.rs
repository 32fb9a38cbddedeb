//! The ensemble's membership as ZooKeeper 3.5+ writes it in its dynamic config file and in
//! `/zookeeper/config`: `server.N=host:quorumPort:electionPort:role;clientHost:clientPort`
//! lines and `version=<hex zxid>`.
//!
//! [`QuorumConfig::apply_request`] computes the membership a `reconfig` request asks for,
//! with the checks and error codes of ZooKeeper's `PrepRequestProcessor`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;

use zk_proto::ErrorCode;

use super::ServerId;

/// One member: `host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The host of the quorum and election addresses.
    pub host: String,
    /// The quorum (peer) port.
    pub quorum_port: u16,
    /// The election port.
    pub election_port: u16,
    /// True for a non-voting member.
    pub observer: bool,
    /// Where clients connect, if given (`0.0.0.0` when only a port was written).
    pub client: Option<(String, u16)>,
}

/// Splits `host:a:b...`, keeping a bracketed IPv6 host whole.
fn split_host(s: &str) -> Option<(String, Vec<&str>)> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let tail = tail.strip_prefix(':')?;
        return Some((format!("[{host}]"), tail.split(':').collect()));
    }
    let mut parts = s.split(':');
    let host = parts.next()?.to_string();
    Some((host, parts.collect()))
}

fn port(s: &str) -> Option<u16> {
    s.trim().parse().ok().filter(|p| *p != 0)
}

impl ServerSpec {
    /// Parses the value of a `server.N` line; `None` if it is malformed.
    pub fn parse(value: &str) -> Option<ServerSpec> {
        let (server, client) = match value.split_once(';') {
            Some((s, c)) => (s, Some(c)),
            None => (value, None),
        };
        let (host, rest) = split_host(server)?;
        if host.is_empty() || !(2..=3).contains(&rest.len()) {
            return None;
        }
        let quorum_port = port(rest[0])?;
        let election_port = port(rest[1])?;
        if quorum_port == election_port {
            return None;
        }
        let observer = match rest.get(2).map(|r| r.trim().to_ascii_lowercase()) {
            None => false,
            Some(r) if r == "participant" => false,
            Some(r) if r == "observer" => true,
            Some(_) => return None,
        };
        let client = match client.map(str::trim) {
            None => None,
            Some(c) if !c.contains(':') => Some(("0.0.0.0".to_string(), port(c)?)),
            Some(c) => {
                let (h, p) = split_host(c)?;
                match p.as_slice() {
                    [p] if !h.is_empty() => Some((h, port(p)?)),
                    _ => return None,
                }
            }
        };
        Some(ServerSpec {
            host: host.trim().to_string(),
            quorum_port,
            election_port,
            observer,
            client,
        })
    }

    /// The quorum address, if the host is an IP address (the core never resolves names).
    pub fn quorum_addr(&self) -> Option<SocketAddr> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let ip = if host == "localhost" {
            "127.0.0.1".parse().ok()?
        } else {
            host.parse().ok()?
        };
        Some(SocketAddr::new(ip, self.quorum_port))
    }
}

impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = if self.observer {
            "observer"
        } else {
            "participant"
        };
        write!(
            f,
            "{}:{}:{}:{role}",
            self.host, self.quorum_port, self.election_port
        )?;
        if let Some((host, port)) = &self.client {
            write!(f, ";{host}:{port}")?;
        }
        Ok(())
    }
}

/// A membership and its version (the zxid of the reconfig that made it; 0 for the initial one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConfig {
    /// The version.
    pub version: i64,
    /// Every member by id.
    pub servers: BTreeMap<ServerId, ServerSpec>,
}

impl QuorumConfig {
    /// The voting members.
    pub fn voters(&self) -> BTreeSet<ServerId> {
        self.servers
            .iter()
            .filter(|(_, s)| !s.observer)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The observers.
    pub fn observers(&self) -> BTreeSet<ServerId> {
        self.servers
            .iter()
            .filter(|(_, s)| s.observer)
            .map(|(id, _)| *id)
            .collect()
    }

    /// True if `members` hold a strict majority of the voters.
    pub fn is_quorum<'a>(&self, members: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let voters = self.voters();
        let n = members
            .into_iter()
            .filter(|m| voters.contains(m))
            .collect::<BTreeSet<_>>()
            .len();
        n * 2 > voters.len()
    }

    /// Parses the dynamic config format: `server.N=spec` and `version=hex` entries separated
    /// by newlines or commas (blank lines and `#` comments skipped). `None` if malformed.
    pub fn parse(text: &str) -> Option<QuorumConfig> {
        let mut cfg = QuorumConfig::default();
        for entry in text.split(['\n', ',']) {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let (key, value) = entry.split_once('=')?;
            let key = key.trim();
            if key == "version" {
                cfg.version = i64::from_str_radix(value.trim(), 16).ok()?;
            } else {
                let id: ServerId = key.strip_prefix("server.")?.trim().parse().ok()?;
                let spec = ServerSpec::parse(value)?;
                if cfg.servers.insert(id, spec).is_some() {
                    return None;
                }
            }
        }
        Some(cfg)
    }

    /// The membership a `reconfig` request asks for, prepared at `zxid` (its version), as
    /// ZooKeeper's `PrepRequestProcessor` computes it from the last config seen. Errors:
    /// `MarshallingError` for a server id that is not a number, `BadArguments` for any other
    /// malformed spec or duplicate address, and for a result with fewer than 2 voters.
    pub fn apply_request(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        zxid: i64,
    ) -> Result<QuorumConfig, ErrorCode> {
        let mut next = if let Some(members) = new_members {
            let mut next = QuorumConfig::parse(members).ok_or(ErrorCode::BadArguments)?;
            if next.servers.is_empty() {
                return Err(ErrorCode::BadArguments);
            }
            next.version = zxid;
            next
        } else {
            let mut next = self.clone();
            for id in leaving.into_iter().flat_map(|l| l.split(',')) {
                let id = id.trim();
                if id.is_empty() {
                    continue;
                }
                let id: ServerId = id.parse().map_err(|_| ErrorCode::MarshallingError)?;
                next.servers.remove(&id);
            }
            for joiner in joining.into_iter().flat_map(|j| j.split(',')) {
                let joiner = joiner.trim();
                if joiner.is_empty() {
                    continue;
                }
                let (key, value) = joiner.split_once('=').ok_or(ErrorCode::BadArguments)?;
                let key = key.trim();
                let id = key.rsplit('.').next().unwrap_or(key);
                let id: ServerId = id.parse().map_err(|_| ErrorCode::MarshallingError)?;
                let spec = ServerSpec::parse(value).ok_or(ErrorCode::BadArguments)?;
                if spec.client.is_none() {
                    // "each server should have 3 ports specified"
                    return Err(ErrorCode::BadArguments);
                }
                let taken = |s: &ServerSpec| {
                    let addrs = [s.quorum_port, s.election_port];
                    s.host == spec.host
                        && (addrs.contains(&spec.quorum_port)
                            || addrs.contains(&spec.election_port))
                };
                if next.servers.iter().any(|(i, s)| *i != id && taken(s)) {
                    return Err(ErrorCode::BadArguments);
                }
                next.servers.insert(id, spec);
            }
            next.version = zxid;
            next
        };
        next.version = zxid;
        // ZooKeeper with `standaloneEnabled=true` (the default) keeps at least 2 voters.
        if next.voters().len() < 2 {
            return Err(ErrorCode::BadArguments);
        }
        Ok(next)
    }
}

impl fmt::Display for QuorumConfig {
    /// ZooKeeper's `QuorumMaj.toString()`: one `server.N=spec` line per member, then
    /// `version=<hex>` without a trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, spec) in &self.servers {
            writeln!(f, "server.{id}={spec}")?;
        }
        write!(f, "version={:x}", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                         server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n\
                         server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\n\
                         version=0";

    #[test]
    fn parses_and_prints_zookeepers_format() {
        let cfg = QuorumConfig::parse(THREE).unwrap();
        assert_eq!(cfg.voters().len(), 3);
        assert_eq!(cfg.to_string(), THREE);
        let spec = ServerSpec::parse("localhost:1:2;3").unwrap();
        assert_eq!(spec.to_string(), "localhost:1:2:participant;0.0.0.0:3");
        assert_eq!(spec.quorum_addr(), Some("127.0.0.1:1".parse().unwrap()));
        let obs = ServerSpec::parse("10.0.0.1:1:2:observer;10.0.0.2:3").unwrap();
        assert!(obs.observer);
        assert_eq!(obs.to_string(), "10.0.0.1:1:2:observer;10.0.0.2:3");
        for bad in [
            "h:1",
            "h:1:1;2",
            "h:1:2:boss;3",
            "h:x:2",
            "h:1:2;h:",
            ":1:2",
        ] {
            assert_eq!(ServerSpec::parse(bad), None, "{bad}");
        }
        assert_eq!(QuorumConfig::parse("server.x=h:1:2"), None);
        assert_eq!(QuorumConfig::parse("version=zz"), None);
    }

    #[test]
    fn incremental_and_full_requests() {
        let cfg = QuorumConfig::parse(THREE).unwrap();
        let next = cfg
            .apply_request(
                Some("server.4=127.0.0.1:2891:3891;2184"),
                Some("1"),
                None,
                0x1_0000_0005,
            )
            .unwrap();
        assert_eq!(next.voters(), [2, 3, 4].into());
        assert!(next.to_string().ends_with("version=100000005"));
        let observer = cfg
            .apply_request(Some("server.5=127.0.0.1:1:2:observer;3"), None, None, 9)
            .unwrap();
        assert_eq!(observer.observers(), [5].into());
        let full = cfg
            .apply_request(
                None,
                None,
                Some("server.1=127.0.0.1:2888:3888;2181,server.2=127.0.0.1:2889:3889;2182"),
                7,
            )
            .unwrap();
        assert_eq!(full.voters(), [1, 2].into());
        let err = |j: Option<&str>, l: Option<&str>| cfg.apply_request(j, l, None, 1).unwrap_err();
        // No client port, a taken address, a bad id, too few voters.
        assert_eq!(
            err(Some("server.4=127.0.0.1:5:6"), None),
            ErrorCode::BadArguments
        );
        assert_eq!(
            err(Some("server.4=127.0.0.1:2888:6;7"), None),
            ErrorCode::BadArguments
        );
        assert_eq!(err(None, Some("one")), ErrorCode::MarshallingError);
        assert_eq!(err(None, Some("1,2")), ErrorCode::BadArguments);
        assert_eq!(err(Some("nonsense"), None), ErrorCode::BadArguments);
    }
}
