//! The membership a `zoo.cfg` member starts with, for `/zookeeper/config` and `reconfig`:
//! its `server.N` lines (from `zoo.cfg` or `dynamicConfigFile`) and the dynamic file's
//! `version=` line (0 without one, which the first leader turns into its epoch's zxid).

use super::ZooCfg;
use crate::config::ensemble::MemberPlan;
use crate::replication::{QuorumConfig, ServerSpec};

impl ZooCfg {
    /// The membership of this config: each server line's addresses and role, this member's
    /// client address where its line has none (as ZooKeeper fills it from `clientPort`).
    pub fn quorum_config(&self, plan: &MemberPlan) -> QuorumConfig {
        let mut config = QuorumConfig {
            version: self.dynamic_version(),
            ..QuorumConfig::default()
        };
        for line in &self.servers {
            let host = if line.host.contains(':') {
                format!("[{}]", line.host)
            } else {
                line.host.clone()
            };
            let mut text = format!("{host}:{}:{}", line.quorum_port, line.election_port);
            if let Some(client) = &line.client {
                text = format!("{text};{client}");
            }
            let Some(mut spec) = ServerSpec::parse(&text) else {
                tracing::warn!(id = line.id, %text, "server line left out of the membership");
                continue;
            };
            spec.observer = line.is_observer();
            if spec.client.is_none() && line.id == plan.id {
                spec.client = Some((plan.client.ip().to_string(), plan.client.port()));
            }
            config.servers.insert(line.id, spec);
        }
        config
    }

    /// The `version=<hex>` of the dynamic config file, if there is one.
    fn dynamic_version(&self) -> i64 {
        let Some(path) = &self.dynamic_config_file else {
            return 0;
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("version="))
            .find_map(|v| i64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    }
}
