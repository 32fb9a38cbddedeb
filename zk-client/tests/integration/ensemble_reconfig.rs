//! Dynamic reconfiguration of a 3-member ensemble, against real ZooKeeper (`tests/real.rs`)
//! and the in-process Rust ensemble (`tests/rust_server.rs`).
//!
//! - `reconfig_and_config_watch`: `reconfig` removes a follower of a 3-member ensemble.

use zk_client::Error;

use crate::support::{self, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_and_config_watch() {
    if !support::available() {
        return;
    }
    let opts = support::ServerOptions {
        reconfig: true,
        ..Default::default()
    };
    let cluster = support::blocking(move || support::launch(3, &opts)).await;
    // Talk to the leader, and remove a follower: neither change drops our connection.
    let c = cluster.clone();
    let modes: Vec<Option<String>> =
        support::blocking(move || (0..3).map(|i| c.mode(i)).collect()).await;
    let leader = modes
        .iter()
        .position(|m| m.as_deref() == Some("leader"))
        .unwrap();
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let admin = zk_client::Client::builder(cluster.member_addr(leader).to_string())
        .auth(
            "digest",
            format!("super:{}", support::SUPER_PASSWORD).as_bytes(),
        )
        .connect()
        .await
        .unwrap();
    let leaving = format!("server.{}=", followers[0] + 1);
    let (config, stat, watcher) = admin.get_config_and_watch().await.unwrap();
    let config = String::from_utf8(config.to_vec()).unwrap();
    assert!(config.contains(&leaving), "{config}");
    let (new_config, _) = admin
        .reconfig(&zk_client::Reconfig {
            leaving: Some(format!("{}", followers[0] + 1)),
            from_config: Some(stat.mzxid),
            ..Default::default()
        })
        .await
        .unwrap();
    let new_config = String::from_utf8(new_config.to_vec()).unwrap();
    assert!(!new_config.contains(&leaving), "{new_config}");
    let event = within(20, "config change", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (
            zk_client::EventType::NodeDataChanged,
            zk_client::CONFIG_NODE
        )
    );
    // A stale config version is refused. (The client may have been connected to the member
    // that left, which drops its connections: retry on connection loss.)
    let stale = within(30, "stale reconfig", async {
        loop {
            let result = admin
                .reconfig(&zk_client::Reconfig {
                    leaving: Some(format!("{}", followers[1] + 1)),
                    from_config: Some(stat.mzxid),
                    ..Default::default()
                })
                .await;
            match result {
                Err(e) if e.is_retryable() => {
                    support::wait_state(&admin, 30, |s| s.is_connected()).await;
                }
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert_eq!(stale, Err(Error::BadVersion));
    admin.close().await.unwrap();
}
