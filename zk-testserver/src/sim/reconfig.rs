//! Membership changes in the simulation: now and then the leader proposes a reconfig that
//! turns the first observer into a voter or back (ZooKeeper's non-incremental `reconfig`),
//! so the invariants are checked across config changes too. The acknowledged-write check
//! counts the original voters' disks only, which stays sound: a quorum of the original voters
//! plus that one server always includes a quorum of the original voters.

use bytes::Bytes;

use super::Sim;
use crate::replication::{QuorumConfig, ServerSpec};
use crate::tree::CONFIG_NODE;
use crate::txn::Txn;

/// The membership the simulated members start with: made-up addresses, version 0.
pub(super) fn initial(voters: usize, observers: usize) -> QuorumConfig {
    let mut q = QuorumConfig::default();
    for id in 1..=(voters + observers) as u64 {
        let spec = ServerSpec {
            host: format!("10.0.0.{id}"),
            quorum_port: 2888,
            election_port: 3888,
            observer: id > voters as u64,
            client: Some(("0.0.0.0".into(), 2181)),
        };
        q.servers.insert(id, spec);
    }
    q
}

impl Sim {
    /// With an observer configured, sometimes has the established leader propose flipping
    /// it between observer and voter (when the leader's checks allow one now).
    pub(super) fn maybe_reconfig(&mut self) -> Result<(), String> {
        if self.cfg.observers == 0 || self.reconfig_rng.below(8) != 0 {
            return Ok(());
        }
        let flip = self.cfg.members as u64 + 1;
        let Some(i) = self.members.iter().position(|m| {
            m.replica
                .as_ref()
                .is_some_and(|r| r.established_epoch().is_some())
        }) else {
            return Ok(());
        };
        let now = self.now;
        let r = self.members[i].replica.as_mut().expect("up");
        let (Some(current), Some(zxid)) = (r.quorum_config().cloned(), r.next_zxid()) else {
            return Ok(());
        };
        let mut next = current.clone();
        if let Some(spec) = next.servers.get_mut(&flip) {
            spec.observer = !spec.observer;
        }
        let lines: Vec<String> = next
            .servers
            .iter()
            .map(|(id, s)| format!("server.{id}={s}"))
            .collect();
        let Ok(next) = r.prepare_reconfig(None, None, Some(&lines.join("\n")), -1, zxid) else {
            return Ok(());
        };
        let txn = Txn::SetData {
            path: CONFIG_NODE.into(),
            data: Some(Bytes::from(next.to_string())),
            version: -1,
        };
        if r.propose(0, txn, now).is_some() {
            let voter = next.voters().contains(&flip);
            self.note(|| format!("reconfig {zxid:#x}: {flip} votes: {voter}"));
            self.summary.reconfigs += 1;
        }
        self.drain(i)
    }
}
