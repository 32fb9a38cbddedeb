//! `conf` on the in-process ensemble's members: ZooKeeper 3.8's quorum format (the binary's
//! members are compared with real ZooKeeper's in `binary.rs`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use zk_testserver::Ensemble;

use crate::support::init_tracing;

fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(word.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Every member reports its id, its role as `peerType` (0 participant, 1 observer), its
/// ports and limits, and one `server.N` line per member with its client address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_report_the_quorum_in_conf() {
    init_tracing();
    let ensemble = Ensemble::builder()
        .members(3)
        .observers(1)
        .fast_timeouts()
        .server_settings(|b| b.four_letter_whitelist("*"))
        .start()
        .await
        .expect("the ensemble starts");
    for id in ensemble.member_ids() {
        let addr = ensemble.client_addr(id);
        let conf = tokio::task::spawn_blocking(move || four_letter(addr, "conf"))
            .await
            .unwrap();
        let has = |line: &str| conf.lines().any(|l| l == line);
        assert!(has(&format!("clientPort={}", addr.port())), "{conf}");
        assert!(has("secureClientPort=-1"), "{conf}");
        assert!(has(&format!("serverId={id}")), "{conf}");
        assert!(has("electionAlg=3") && has("membership: "), "{conf}");
        let peer_type = if id == 4 { "peerType=1" } else { "peerType=0" };
        assert!(has(peer_type), "{conf}");
        for other in ensemble.member_ids() {
            let role = if other == 4 {
                "observer"
            } else {
                "participant"
            };
            let client = ensemble.client_addr(other);
            let line = conf
                .lines()
                .find(|l| l.starts_with(&format!("server.{other}=")))
                .unwrap_or_else(|| panic!("no server.{other} line:\n{conf}"));
            assert!(
                line.ends_with(&format!(":{role};{client}")),
                "{line}\n{conf}"
            );
        }
        // Without reconfigEnabled the static membership keeps version 0, as in ZooKeeper.
        assert!(conf.ends_with("version=0"), "{conf}");
    }
}
