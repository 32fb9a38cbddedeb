//! Members' snapshots over real sockets: a member down through many snapshots rejoins by a
//! SNAP of the leader's snapshot; a full restart after many snapshots loses nothing; logs
//! stay bounded in memory and on disk.

use std::path::Path;
use std::time::Duration;

use zk_client::{Client, CreateOptions};
use zk_testserver::replication::ServerId;
use zk_testserver::Ensemble;

use crate::support::{client, client_at, init_tracing, restart_all, synced_read, within, TempDir};

const SNAP_COUNT: u64 = 50;
/// Txns a member keeps in memory before its newest snapshot (ZooKeeper's commitLogCount).
const RETAIN: i64 = 500;

/// Creates `/s{from}..=/s{to}` with pipelined requests (each acknowledged).
async fn write_range(c: &Client, from: usize, to: usize) {
    within(30, "pipelined creates", async {
        for chunk in (from..=to).collect::<Vec<_>>().chunks(100) {
            let writes: Vec<_> = chunk
                .iter()
                .map(|i| c.create(&format!("/s{i}"), b"v", &CreateOptions::default()))
                .collect();
            for (w, i) in writes.into_iter().zip(chunk) {
                w.await.unwrap_or_else(|e| panic!("create /s{i}: {e}"));
            }
        }
    })
    .await;
}

/// Every `/s{i}` for `i` in `0..n` is on the member behind `c` (after a sync).
async fn has_all(c: &Client, n: usize) {
    assert!(synced_read(c, &format!("/s{}", n - 1)).await.is_some());
    let children = c.get_children("/").await.expect("children");
    let count = children.iter().filter(|c| c.starts_with('s')).count();
    assert_eq!(count, n);
}

/// The memory bound every member keeps: its log holds the retained tail of applied txns
/// (RETAIN to twice that) and the txns not applied yet, however many were written.
fn check_bounded(ensemble: &Ensemble, written: usize) {
    for id in ensemble.member_ids() {
        let s = ensemble.status(id).expect("running");
        assert!(s.snapshot > 0, "member {id} took no snapshot");
        let unapplied = (s.last_logged - s.applied).max(0) as usize;
        let bound = 2 * RETAIN as usize + unapplied;
        assert!(
            s.log_len <= bound && (written <= bound || s.log_len < written),
            "member {id} holds {} txns after {written} writes",
            s.log_len
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_down_through_many_snapshots_rejoins_by_snap_and_serves_everything() {
    init_tracing();
    let mut ensemble = Ensemble::builder()
        .members(3)
        .fast_timeouts()
        .snap_count(SNAP_COUNT)
        .start()
        .await
        .expect("the ensemble starts");
    let leader = ensemble.leader().expect("a leader");
    let down = ensemble
        .member_ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let c = client_at(ensemble.client_addr(leader)).await;
    write_range(&c, 0, 19).await;
    ensemble.kill(down);
    write_range(&c, 20, 999).await;
    let l = ensemble.status(leader).expect("leader");
    // The leader's log no longer reaches back to the killed member's last zxid (a few
    // session txns aside, 20 writes in): DIFF is impossible, only a SNAP brings it back.
    assert!(
        l.applied as u32 as usize > l.log_len + 40,
        "leader holds {} txns up to {:#x}",
        l.log_len,
        l.applied
    );
    rejoins_with_all(&mut ensemble, down, 1000).await;
    let s = ensemble.status(down).expect("running");
    assert!(s.snapshot >= l.snapshot, "it holds the leader's snapshot");
    // It keeps up with new writes, and a second restart resumes from its snapshot.
    write_range(&c, 1000, 1199).await;
    check_bounded(&ensemble, 1200);
    ensemble.kill(down);
    rejoins_with_all(&mut ensemble, down, 1200).await;
}

/// Restarts member `id` and checks it serves every `/s{i}` for `i` in `0..n`.
async fn rejoins_with_all(ensemble: &mut Ensemble, id: ServerId, n: usize) {
    ensemble.restart(id).await.expect("restart");
    ensemble
        .wait_serving(id, Duration::from_secs(10))
        .await
        .expect("it rejoins");
    let back = client_at(ensemble.client_addr(id)).await;
    has_all(&back, n).await;
}

fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_restart_after_many_snapshots_loses_no_acknowledged_write() {
    init_tracing();
    let dir = TempDir::new("snapshots-restart");
    let mut ensemble = Ensemble::builder()
        .members(3)
        .data_dir(&dir.0)
        .snap_count(SNAP_COUNT)
        .start()
        .await
        .expect("the ensemble starts");
    let c = client(&ensemble).await;
    write_range(&c, 0, 599).await;
    c.set_data("/s7", b"changed", None).await.expect("set");
    c.delete("/s8", None).await.expect("delete");
    drop(c);
    check_bounded(&ensemble, 600);
    for id in ensemble.member_ids() {
        ensemble.kill(id);
    }
    for id in ensemble.member_ids() {
        // The two newest snapshots and the log segments after the older one (one more of
        // each if the kill came between a snapshot's write and its purge).
        let v2 = dir.0.join(format!("member-{id}")).join("version-2");
        // (A snapshot being written when the process was killed leaves a temp file.)
        let snaps: Vec<String> = files(&v2, "snapshot.")
            .into_iter()
            .filter(|n| !n.ends_with(".tmp"))
            .collect();
        assert!((1..=3).contains(&snaps.len()), "member {id}: {snaps:?}");
        let logs = files(&v2, "log.");
        assert!(logs.len() <= 4, "member {id}: old logs purged: {logs:?}");
    }
    restart_all(&mut ensemble).await;
    for id in ensemble.member_ids() {
        assert!(ensemble.status(id).expect("up").snapshot > 0, "member {id}");
        let r = client_at(ensemble.client_addr(id)).await;
        assert_eq!(
            synced_read(&r, "/s7").await.as_deref(),
            Some(&b"changed"[..])
        );
        assert!(r.get_data("/s8").await.is_err());
        let children = r.get_children("/").await.expect("children");
        assert_eq!(children.iter().filter(|c| c.starts_with('s')).count(), 599);
        r.close().await.unwrap();
    }
}
