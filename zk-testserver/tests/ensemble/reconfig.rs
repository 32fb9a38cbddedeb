//! Dynamic reconfiguration over sockets: `reconfig` adds and removes participants and
//! observers while clients write, `/zookeeper/config` follows on every member, and the new
//! quorum is the one in force.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zk_client::{Client, Error, Reconfig};
use zk_testserver::replication::{PeerState, QuorumConfig, ServerId};
use zk_testserver::Ensemble;

use crate::support::{
    client, client_at, client_of, create_retrying, init_tracing, synced_read, within,
};

const SUPER: &str = "super:reconfig-test";

async fn ensemble(reconfig: bool) -> Ensemble {
    init_tracing();
    Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .reconfig_enabled(reconfig)
        .server_settings(|b| b.super_digest(zk_testserver::acl::digest_id(SUPER)))
        .start()
        .await
        .expect("the ensemble starts")
}

async fn admin(connect: &str) -> Client {
    within(10, "admin connect", async {
        Client::builder(connect)
            .session_timeout(Duration::from_secs(10))
            .auth("digest", SUPER.as_bytes())
            .connect()
            .await
            .expect("connect")
    })
    .await
}

/// Runs `change` until it is neither retryable nor refused for want of a synced quorum (a
/// joining server may still be syncing); returns the new config text.
async fn reconfig(admin: &Client, change: Reconfig) -> Result<QuorumConfig, Error> {
    within(20, "a reconfig", async {
        loop {
            match admin.reconfig(&change).await {
                Ok((data, stat)) => {
                    let text = String::from_utf8(data.to_vec()).expect("utf-8");
                    let config = QuorumConfig::parse(&text).expect("a config");
                    assert_eq!(config.version, stat.mzxid, "{text}");
                    return Ok(config);
                }
                Err(Error::NewConfigNoQuorum) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) if e.is_retryable() => {
                    let mut state = admin.state();
                    let _ = tokio::time::timeout(
                        Duration::from_millis(200),
                        state.wait_for(|s| s.is_connected()),
                    )
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
    })
    .await
}

/// Waits until every member in `ids` shows `config` in `/zookeeper/config`.
async fn wait_config(ensemble: &Ensemble, ids: &[ServerId], config: &QuorumConfig) {
    let want = config.to_string();
    within(10, "the config on every member", async {
        loop {
            let mut all = true;
            for &id in ids {
                all &= ensemble.config_of(id).await.as_deref() == Some(want.as_str());
            }
            if all {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// The proof: a server joins and a follower leaves while writers create nodes; no
/// acknowledged write is lost, every member's `/zookeeper/config` watch fires, the removed
/// member stops serving, and the new voters' quorum is the one in force (with the removed
/// member and one old member down, writes still commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_while_writing_loses_no_acknowledged_write() {
    let mut ensemble = ensemble(true).await;
    let leader = ensemble.leader().expect("a leader");
    let admin = admin(&ensemble.client_addr(leader).to_string()).await;
    // A config watch on every member.
    let mut watchers = Vec::new();
    for id in ensemble.member_ids() {
        let c = client_at(ensemble.client_addr(id)).await;
        let (data, stat, watcher) = c.get_config_and_watch().await.expect("getConfig");
        let config = QuorumConfig::parse(std::str::from_utf8(&data).unwrap()).unwrap();
        // As ZooKeeper: the initial membership's version is the first leader's epoch zxid.
        assert_eq!((config.version, stat.mzxid), (1 << 32, 1 << 32));
        assert_eq!(stat.version, -1);
        assert_eq!(config.voters(), [1, 2, 3].into());
        watchers.push((c, watcher));
    }
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..3 {
        // Each writer may sit on the member that leaves: it moves to another.
        let c = client(&ensemble).await;
        let (acked, stop) = (acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/w{w}-{n}");
                create_retrying(&c, &path, b"x").await;
                acked.lock().unwrap().insert(path);
                n += 1;
            }
            c
        }));
    }
    let wait_writes = |n: usize| {
        let acked = acked.clone();
        within(20, "writes", async move {
            while acked.lock().unwrap().len() < n {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    wait_writes(30).await;
    // Server 4 joins.
    let (joiner, line) = ensemble.add_member(false).await.expect("a joining server");
    assert_eq!(joiner, 4);
    let added = reconfig(
        &admin,
        Reconfig {
            joining: Some(line.clone()),
            from_config: Some(1 << 32),
            ..Default::default()
        },
    )
    .await
    .expect("add server 4");
    assert_eq!(added.voters(), [1, 2, 3, 4].into());
    assert!(added.to_string().contains(line.as_str()), "{added}");
    for (_, watcher) in watchers.drain(..) {
        let event = within(10, "a config watch", watcher.changed()).await;
        assert_eq!(event.path, zk_client::CONFIG_NODE);
    }
    wait_config(&ensemble, &[1, 2, 3, 4], &added).await;
    let done = acked.lock().unwrap().len();
    wait_writes(done + 30).await;
    // A follower leaves.
    let leaving = (1..=3).find(|&i| i != leader).unwrap();
    let removed = reconfig(
        &admin,
        Reconfig {
            leaving: Some(leaving.to_string()),
            from_config: Some(added.version),
            ..Default::default()
        },
    )
    .await
    .expect("remove a follower");
    let voters: BTreeSet<ServerId> = [1, 2, 3, 4].into_iter().filter(|&i| i != leaving).collect();
    assert_eq!(removed.voters(), voters);
    let remaining: Vec<ServerId> = voters.iter().copied().collect();
    wait_config(&ensemble, &remaining, &removed).await;
    within(10, "the removed member to stop", async {
        while ensemble.status(leaving).is_some_and(|s| s.in_config) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let done = acked.lock().unwrap().len();
    wait_writes(done + 30).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        within(30, "a writer to stop", t).await.expect("writer");
    }
    // Every acknowledged create is on every remaining member.
    let acked = acked.lock().unwrap().clone();
    for &id in &remaining {
        let c = client_at(ensemble.client_addr(id)).await;
        c.sync("/").await.expect("sync");
        let mut present = BTreeSet::new();
        for child in c.get_children("/").await.expect("children") {
            present.insert(format!("/{child}"));
        }
        let lost: Vec<&String> = acked.difference(&present).collect();
        assert!(lost.is_empty(), "member {id} lost {lost:?}");
    }
    // The new quorum is in force: without the removed member and one more old member, the
    // other two of {old members, 4} still commit (the old config would have no quorum).
    let down = remaining.iter().copied().find(|&i| i != 4).unwrap();
    ensemble.kill(leaving);
    ensemble.kill(down);
    let survivor = remaining.iter().copied().find(|&i| i != down).unwrap();
    let c = client_at(ensemble.client_addr(4)).await;
    assert!(create_retrying(&c, "/after", b"1").await);
    let s = client_at(ensemble.client_addr(survivor)).await;
    assert_eq!(synced_read(&s, "/after").await.as_deref(), Some(&b"1"[..]));
    eprintln!("{} acknowledged creates across two reconfigs", acked.len());
}

/// An observer joins (it follows without voting), serves a client, and leaves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_added_and_removed() {
    let mut ensemble = ensemble(true).await;
    let admin = admin(&ensemble.connect_string()).await;
    let (id, line) = ensemble.add_member(true).await.expect("a joining observer");
    assert!(line.contains(":observer;"), "{line}");
    let added = reconfig(
        &admin,
        Reconfig {
            joining: Some(line),
            ..Default::default()
        },
    )
    .await
    .expect("add the observer");
    assert_eq!(added.observers(), [id].into());
    assert_eq!(added.voters(), [1, 2, 3].into());
    wait_config(&ensemble, &[1, 2, 3, id], &added).await;
    assert_eq!(ensemble.status(id).unwrap().role, PeerState::Observing);
    let c = client_at(ensemble.client_addr(id)).await;
    assert!(create_retrying(&c, "/via-observer", b"o").await);
    let removed = reconfig(
        &admin,
        Reconfig {
            leaving: Some(id.to_string()),
            from_config: Some(added.version),
            ..Default::default()
        },
    )
    .await
    .expect("remove the observer");
    assert!(removed.observers().is_empty());
    wait_config(&ensemble, &[1, 2, 3], &removed).await;
    within(10, "the observer to stop", async {
        while ensemble.status(id).is_some_and(|s| s.in_config) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let s = client_at(ensemble.client_addr(1)).await;
    assert_eq!(
        synced_read(&s, "/via-observer").await.as_deref(),
        Some(&b"o"[..])
    );
}

/// ZooKeeper's errors: a stale config version, malformed specs, a new config without a
/// synced quorum, no permission without the super user, reconfig disabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_errors() {
    let ensemble = ensemble(true).await;
    let admin = admin(&ensemble.connect_string()).await;
    let leave = |ids: &str, from: Option<i64>| Reconfig {
        leaving: Some(ids.into()),
        from_config: from,
        ..Default::default()
    };
    let join = |line: &str| Reconfig {
        joining: Some(line.into()),
        ..Default::default()
    };
    assert_eq!(
        admin.reconfig(&leave("3", Some(7))).await.unwrap_err(),
        Error::BadVersion
    );
    for bad in ["server.9=127.0.0.1:1:2", "server.9=nonsense", "nonsense"] {
        assert_eq!(
            admin.reconfig(&join(bad)).await.unwrap_err(),
            Error::BadArguments(zk_client::ArgumentError::RejectedByServer),
            "{bad}"
        );
    }
    // Down to one voter.
    assert_eq!(
        admin.reconfig(&leave("1,2", None)).await.unwrap_err(),
        Error::BadArguments(zk_client::ArgumentError::RejectedByServer)
    );
    // Two voters nobody runs: 2 of the 4 new voters are synced.
    let ghosts = Reconfig {
        joining: Some("server.8=127.0.0.1:1:2;3,server.9=127.0.0.1:4:5;6".into()),
        leaving: Some("1".into()),
        ..Default::default()
    };
    assert_eq!(
        admin.reconfig(&ghosts).await.unwrap_err(),
        Error::NewConfigNoQuorum
    );
    // `/zookeeper/config` is writable by the super user only.
    let plain = client_at(ensemble.client_addr(1)).await;
    assert_eq!(
        plain.reconfig(&leave("3", None)).await.unwrap_err(),
        Error::NoAuth
    );
    // Nothing changed.
    let (data, stat) = plain.get_config().await.expect("getConfig");
    assert_eq!(stat.mzxid, 1 << 32, "{}", String::from_utf8_lossy(&data));
    let disabled = self::ensemble(false).await;
    let admin = self::admin(&disabled.connect_string()).await;
    assert_eq!(
        admin.reconfig(&leave("3", None)).await.unwrap_err(),
        Error::ReconfigDisabled
    );
}

/// Removing the leader: it steps down once the change commits, the remaining voters elect a
/// new leader, and the whole new membership comes back from disk after every member is
/// killed (each restarts from its persisted dynamic config, not the one it started with).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_removed_and_membership_survives_restart() {
    let mut ensemble = ensemble(true).await;
    let admin = admin(&ensemble.connect_string()).await;
    let (joiner, line) = ensemble.add_member(false).await.expect("a joining server");
    let added = reconfig(
        &admin,
        Reconfig {
            joining: Some(line),
            ..Default::default()
        },
    )
    .await
    .expect("add a server");
    wait_config(&ensemble, &[1, 2, 3, joiner], &added).await;
    let leader = ensemble.leader().expect("a leader");
    let removed = reconfig(
        &admin,
        Reconfig {
            leaving: Some(leader.to_string()),
            ..Default::default()
        },
    )
    .await
    .expect("remove the leader");
    let remaining: Vec<ServerId> = removed.voters().into_iter().collect();
    assert_eq!(remaining.len(), 3);
    assert!(!remaining.contains(&leader));
    let new = within(10, "a leader among the remaining voters", async {
        loop {
            match ensemble.leader() {
                Some(l) if remaining.contains(&l) => return l,
                _ => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    })
    .await;
    assert_ne!(new, leader);
    let c = client_at(ensemble.client_addr(new)).await;
    assert!(create_retrying(&c, "/after-leader-left", b"1").await);
    // Everyone down, the remaining members back from their disks.
    for id in ensemble.member_ids() {
        ensemble.kill(id);
    }
    for &id in &remaining {
        ensemble.restart(id).await.expect("restart");
    }
    ensemble
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("the new membership serves again");
    wait_config(&ensemble, &remaining, &removed).await;
    let c = client_at(ensemble.client_addr(joiner)).await;
    assert_eq!(
        synced_read(&c, "/after-leader-left").await.as_deref(),
        Some(&b"1"[..])
    );
}

/// Three `zoo.cfg` processes whose `server.N` lines sit in a `dynamicConfigFile` with
/// `reconfigEnabled=true`; a fourth, started as ZooKeeper's joining servers are (its file
/// lists the three and itself), joins by reconfig; another reconfig removes server 1; the
/// other three, killed and started again from the same files, come back with the membership
/// the reconfigs made (kept in their data directories) rather than their files'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoo_cfg_members_reconfigure_and_restart_with_the_new_membership() {
    use std::process::{Child, Command, Stdio};
    struct Kill(Vec<Option<Child>>, std::path::PathBuf);
    impl Drop for Kill {
        fn drop(&mut self) {
            for c in self.0.iter_mut().flatten() {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    init_tracing();
    let dir = std::env::temp_dir().join(format!("zk-reconfig-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let listeners: Vec<_> = (0..12)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(listeners);
    let line = |i: usize| {
        let (c, q, e) = (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
        format!(
            "server.{}=127.0.0.1:{q}:{e}:participant;127.0.0.1:{c}",
            i + 1
        )
    };
    let lines: String = (0..3).map(|i| line(i) + "\n").collect();
    let mut cfgs = Vec::new();
    for i in 0..4 {
        let member = dir.join(format!("member-{}", i + 1));
        let data = member.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
        let dynamic = member.join("zoo.cfg.dynamic");
        let own = if i == 3 { line(3) } else { String::new() };
        std::fs::write(&dynamic, format!("{lines}{own}")).unwrap();
        let cfg = member.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=20\ninitLimit=10\nsyncLimit=5\ndataDir={}\ndynamicConfigFile={}\n\
                 reconfigEnabled=true\nDigestAuthenticationProvider.superDigest={}\n",
                data.display(),
                dynamic.display(),
                zk_testserver::acl::digest_id(SUPER)
            ),
        )
        .unwrap();
        cfgs.push(cfg);
    }
    let start = |i: usize| {
        Some(
            Command::new(env!("CARGO_BIN_EXE_zk-testserver"))
                .arg(&cfgs[i])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut members = Kill(
        (0..4)
            .map(|i| if i < 3 { start(i) } else { None })
            .collect(),
        dir.clone(),
    );
    let addr = |i: usize| format!("127.0.0.1:{}", ports[3 * i]);
    let connect: Vec<String> = (0..3).map(addr).collect();
    let admin = admin(&connect.join(",")).await;
    let (data, stat) = within(10, "getConfig", async {
        loop {
            match admin.get_config().await {
                Ok(r) => return r,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await;
    let config = QuorumConfig::parse(std::str::from_utf8(&data).unwrap()).unwrap();
    assert_eq!(config.voters(), [1, 2, 3].into());
    assert_eq!(config.to_string().lines().next(), lines.lines().next());
    assert_eq!(stat.mzxid, config.version);
    members.0[3] = start(3);
    let added = reconfig(
        &admin,
        Reconfig {
            joining: Some(line(3)),
            from_config: Some(config.version),
            ..Default::default()
        },
    )
    .await
    .expect("add server 4");
    assert_eq!(added.voters(), [1, 2, 3, 4].into());
    // The joiner syncs (and learns the membership it is in) before the next change.
    wait_member_config(&addr(3), &added).await;
    let removed = reconfig(
        &admin,
        Reconfig {
            leaving: Some("1".into()),
            from_config: Some(added.version),
            ..Default::default()
        },
    )
    .await
    .expect("remove server 1");
    assert_eq!(removed.voters(), [2, 3, 4].into());
    admin.close().await.ok();
    // Wait until the remaining members show it, then restart them from their files.
    for i in [1, 2, 3] {
        wait_member_config(&addr(i), &removed).await;
    }
    for c in members.0.iter_mut() {
        if let Some(mut c) = c.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
    for i in [1, 2, 3] {
        members.0[i] = start(i);
    }
    let c = client_of(&format!("{},{},{}", addr(1), addr(2), addr(3))).await;
    within(10, "the restarted members' config", async {
        loop {
            if let Ok((d, _)) = c.get_config().await {
                assert_eq!(std::str::from_utf8(&d).unwrap(), removed.to_string());
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(create_retrying(&c, "/after-restart", b"1").await);
}

/// Waits until the member at `addr` serves `config` in `/zookeeper/config`.
async fn wait_member_config(addr: &str, config: &QuorumConfig) {
    let c = client_at(addr.parse().unwrap()).await;
    let want = config.to_string();
    within(10, "the new config on a member", async {
        loop {
            c.sync("/").await.ok();
            if let Ok((d, _)) = c.get_config().await {
                if d[..] == *want.as_bytes() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A member that is down while a server joins comes back with the old membership on its disk,
/// rejoins, and ends up with the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_down_during_a_reconfig_learns_it_when_restarted() {
    let mut ensemble = ensemble(true).await;
    let leader = ensemble.leader().expect("a leader");
    let down = (1..=3).find(|&i| i != leader).unwrap();
    ensemble.kill(down);
    let admin = admin(&ensemble.client_addr(leader).to_string()).await;
    let (joiner, line) = ensemble.add_member(false).await.expect("a joining server");
    // Three of the four new voters must be synced: the joiner has to catch up first.
    let added = reconfig(
        &admin,
        Reconfig {
            joining: Some(line),
            ..Default::default()
        },
    )
    .await
    .expect("add a server");
    let up: Vec<ServerId> = [1, 2, 3, joiner]
        .into_iter()
        .filter(|&i| i != down)
        .collect();
    wait_config(&ensemble, &up, &added).await;
    ensemble.restart(down).await.expect("restart");
    ensemble
        .wait_serving(down, Duration::from_secs(10))
        .await
        .expect("the restarted member serves");
    wait_config(&ensemble, &[1, 2, 3, joiner], &added).await;
    let c = client_at(ensemble.client_addr(down)).await;
    assert!(create_retrying(&c, "/after-rejoin", b"1").await);
}
