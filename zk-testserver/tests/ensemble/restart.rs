//! Restarting members from their disks ([`zk_testserver::ensemble::DirDisk`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zk_testserver::Ensemble;

use crate::support::{
    client, client_at, create_retrying, init_tracing, restart_all, synced_read, within, TempDir,
};

/// Members on [`DirDisk`](zk_testserver::ensemble::DirDisk)s, fsyncing. Default (not fast)
/// timeouts: an fsync on a busy CI disk can take longer than the fast 50 ms sync limit.
async fn on_disk(dir: &TempDir) -> Ensemble {
    init_tracing();
    Ensemble::builder()
        .members(3)
        .data_dir(&dir.0)
        .start()
        .await
        .expect("the ensemble starts")
}

/// Every member is killed one after the other and all restart from their data directories:
/// every acknowledged write is there, on every member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_restart_from_disk_loses_no_acknowledged_write() {
    let dir = TempDir::new("full-restart");
    let mut ensemble = on_disk(&dir).await;
    let c = client(&ensemble).await;
    for i in 0..50 {
        create_retrying(&c, &format!("/n{i}"), format!("{i}").as_bytes()).await;
    }
    c.set_data("/n7", b"changed", None).await.expect("set");
    c.delete("/n8", None).await.expect("delete");
    drop(c);
    for id in ensemble.member_ids() {
        ensemble.kill(id);
    }
    assert_eq!(ensemble.leader(), None);
    restart_all(&mut ensemble).await;
    for id in ensemble.member_ids() {
        // One sync, then plain reads: they see at least everything before the sync.
        let r = client_at(ensemble.client_addr(id)).await;
        assert_eq!(
            synced_read(&r, "/n7").await.as_deref(),
            Some(&b"changed"[..])
        );
        assert!(r.get_data("/n8").await.is_err());
        for i in (0..50).filter(|&i| i != 7 && i != 8) {
            assert_eq!(
                r.get_data(&format!("/n{i}"))
                    .await
                    .ok()
                    .map(|(d, _)| d.to_vec()),
                Some(format!("{i}").into_bytes()),
                "member {id}, /n{i}"
            );
        }
        r.close().await.unwrap();
    }
    // And the restarted ensemble takes writes.
    let c = client(&ensemble).await;
    create_retrying(&c, "/after", b"").await;
}

/// kill -9 of every member at once while writes are in flight, then a restart of all: the
/// acknowledged writes survive (the unacknowledged ones may or may not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_every_member_at_once_under_load_loses_no_acknowledged_write() {
    let dir = TempDir::new("kill-all");
    let mut ensemble = on_disk(&dir).await;
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..3 {
        let c = client(&ensemble).await;
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let path = format!("/k{w}-{n}");
                match c
                    .create(&path, b"", &zk_client::CreateOptions::default())
                    .await
                {
                    Ok(_) => {
                        acked.lock().unwrap().insert(path);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    within(10, "writes before the kill", async {
        while acked.lock().unwrap().len() < 100 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    for id in ensemble.member_ids() {
        ensemble.kill(id);
    }
    let acked = acked.lock().unwrap().clone();
    for t in tasks {
        t.abort();
    }
    restart_all(&mut ensemble).await;
    let r = client(&ensemble).await;
    r.sync("/").await.expect("sync");
    let children: BTreeSet<String> = r
        .get_children("/")
        .await
        .expect("children")
        .into_iter()
        .map(|c| format!("/{c}"))
        .collect();
    let missing: Vec<_> = acked.difference(&children).collect();
    assert!(missing.is_empty(), "lost acknowledged writes: {missing:?}");
    eprintln!(
        "{} acknowledged before the kill, {} present after",
        acked.len(),
        children.len()
    );
}

/// A member restarted with an empty disk gets the whole state from the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_restarted_with_an_empty_disk_gets_everything_back() {
    let dir = TempDir::new("empty-disk");
    let mut ensemble = on_disk(&dir).await;
    let c = client(&ensemble).await;
    for i in 0..30 {
        create_retrying(&c, &format!("/e{i}"), b"e").await;
    }
    let leader = ensemble.leader().unwrap();
    let follower = *ensemble
        .member_ids()
        .iter()
        .find(|&&id| id != leader)
        .unwrap();
    ensemble
        .restart_empty(follower)
        .await
        .expect("restart empty");
    ensemble
        .wait_serving(follower, Duration::from_secs(5))
        .await
        .expect("the wiped member rejoins");
    let r = client_at(ensemble.client_addr(follower)).await;
    r.sync("/").await.expect("sync");
    for i in 0..30 {
        let (data, _) = r.get_data(&format!("/e{i}")).await.expect("get");
        assert_eq!(&data[..], b"e");
    }
}
