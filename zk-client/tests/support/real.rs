//! [`Cluster`] over real Apache ZooKeeper JVMs (`zk_testserver::real`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zk_testserver::real::{RealOptions, RealZooKeeper};

use super::{paths_in_wchc, Cluster, ServerOptions, SUPER_DIGEST};

struct Real(RealZooKeeper);

impl Cluster for Real {
    fn connect_string(&self) -> String {
        self.0.connect_string()
    }
    fn member_addr(&self, i: usize) -> SocketAddr {
        self.0.member_addr(i)
    }
    fn member_count(&self) -> usize {
        self.0.member_count()
    }
    fn kill(&self, i: usize) {
        self.0.kill(i).expect("kill member");
    }
    fn restart(&self, i: usize) {
        self.0.restart(i).expect("restart member");
    }
    fn start(&self, i: usize) {
        self.0.start(i).expect("start member");
    }
    fn member_with_session(&self, session_id: i64) -> Option<usize> {
        let needle = format!("sid=0x{session_id:x}");
        (0..self.0.member_count()).find(|&i| {
            self.0.is_running(i)
                && self
                    .0
                    .four_letter(i, "cons")
                    .is_ok_and(|cons| cons.contains(&needle))
        })
    }
    fn wait_for_leader(&self, timeout: Duration) {
        self.0.wait_for_leader(timeout).expect("a leader");
    }
    fn mode(&self, i: usize) -> Option<String> {
        self.0.mode(i)
    }
    fn watched_paths(&self, i: usize, session_id: i64) -> Vec<String> {
        paths_in_wchc(&self.0.four_letter(i, "wchc").expect("wchc"), session_id)
    }
    fn expire_session(&self, session_id: i64, password: &[u8]) {
        super::close_session_elsewhere(&self.connect_string(), session_id, password);
    }
    fn drop_next_reply(&self, _session_id: i64) -> bool {
        panic!("real ZooKeeper has no fault injection: run this test on zk-testserver only")
    }
    fn slow_link_to_leader(&self, _i: usize, _delay: Duration) {
        panic!("real ZooKeeper has no fault injection: run this test on zk-testserver only")
    }
}

/// Launches `members` JVMs (1 = standalone) and waits until they serve.
pub(super) fn launch(members: usize, opts: &ServerOptions) -> Arc<dyn Cluster> {
    let mut extra_config = opts.extra_config.clone();
    // A read-only server can only create local sessions.
    if opts.read_only_mode {
        extra_config.push("localSessionsEnabled=true".into());
    }
    if let Some(tls) = &opts.tls {
        extra_config.extend([
            format!("secureClientPort={}", tls.port),
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".into(),
            format!("ssl.keyStore.location={}", tls.key_and_chain.display()),
            "ssl.keyStore.type=PEM".into(),
            format!("ssl.trustStore.location={}", tls.ca.display()),
            "ssl.trustStore.type=PEM".into(),
            format!(
                "ssl.clientAuth={}",
                if tls.client_auth { "need" } else { "none" }
            ),
        ]);
    }
    let real = RealOptions {
        tick_time_ms: opts.tick_ms.unwrap_or(2000),
        extended_types: true,
        read_only_mode: opts.read_only_mode,
        super_digest: Some(SUPER_DIGEST.into()),
        max_session_timeout_ms: opts.max_session_timeout_ms,
        reconfig_enabled: opts.reconfig,
        extra_config,
        jvm_args: opts
            .container_check_ms
            .map(|ms| format!("-Dznode.container.checkIntervalMs={ms}"))
            .into_iter()
            .collect(),
        ..RealOptions::default()
    };
    let zk = if members == 1 {
        RealZooKeeper::standalone(real)
    } else {
        RealZooKeeper::ensemble(members, real)
    };
    Arc::new(Real(zk.expect("servers start")))
}
