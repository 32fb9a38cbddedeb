//! The rest of the fault-injection API: pause/resume, slow links, cut links, a dropped
//! reply, held events.

use std::time::Duration;

use zk_client::{CreateOptions, Error, EventType};

use crate::support::{client, client_at, create_retrying, synced_read, three, within};

/// A paused leader is replaced; resumed, it steps down and follows the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_replaced_and_rejoins_when_resumed() {
    let ensemble = three().await;
    let old = ensemble.leader().unwrap();
    ensemble.pause(old).await;
    let others: Vec<_> = ensemble
        .member_ids()
        .into_iter()
        .filter(|&id| id != old)
        .collect();
    let c = client_at(ensemble.client_addr(others[0])).await;
    create_retrying(&c, "/while-paused", b"p").await;
    ensemble.resume(old).await;
    ensemble
        .wait_serving(old, Duration::from_secs(5))
        .await
        .expect("the old leader rejoins");
    let r = client_at(ensemble.client_addr(old)).await;
    assert_eq!(
        synced_read(&r, "/while-paused").await.as_deref(),
        Some(&b"p"[..])
    );
    assert_ne!(ensemble.leader(), Some(old));
}

/// A slow link between the leader and one follower still lets writes commit through the
/// other follower; cutting both of the leader's links forces a new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_cut_links() {
    let mut ensemble = three().await;
    let leader = ensemble.leader().unwrap();
    let f: Vec<_> = ensemble
        .member_ids()
        .into_iter()
        .filter(|&id| id != leader)
        .collect();
    // Every message between the leader and f[0] takes 5 s: far longer than any create here.
    ensemble
        .slow_link(leader, f[0], Duration::from_secs(5))
        .await;
    let c = client_at(ensemble.client_addr(leader)).await;
    create_retrying(&c, "/slow", b"").await;
    let zxid = c
        .exists("/slow")
        .await
        .expect("exists")
        .expect("created")
        .czxid;
    // The quorum was the leader and the fast follower: the create was acknowledged while the
    // slow follower had not even logged it.
    let slow = ensemble.status(f[0]).expect("f0 runs");
    assert!(slow.last_logged < zxid, "{slow:?} logged {zxid:#x}");
    let fast = ensemble.status(f[1]).expect("f1 runs");
    assert!(fast.last_logged >= zxid, "{fast:?} did not log {zxid:#x}");
    ensemble.heal().await;
    ensemble.cut(leader, f[0]).await;
    ensemble.cut(leader, f[1]).await;
    let c2 = client_at(ensemble.client_addr(f[0])).await;
    create_retrying(&c2, "/after-cut", b"").await;
    let new = ensemble.leader().expect("a leader");
    assert_ne!(new, leader);
    ensemble.heal().await;
    ensemble
        .wait_ready(Duration::from_secs(5))
        .await
        .expect("healed");
}

/// A write whose reply is dropped applies; the client sees connection loss and finds the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_reply_after_the_write_applied() {
    let ensemble = three().await;
    let c = client(&ensemble).await;
    assert!(ensemble.drop_next_reply(c.session_id().0).await);
    let first = c.create("/dropped", b"d", &CreateOptions::default()).await;
    assert!(matches!(first, Err(ref e) if e.is_retryable()), "{first:?}");
    assert!(!create_retrying(&c, "/dropped", b"d").await, "applied once");
    assert_eq!(
        synced_read(&c, "/dropped").await.as_deref(),
        Some(&b"d"[..])
    );
    // No client: nothing to drop.
    assert!(!ensemble.drop_next_reply(0x1234).await);
}

/// Held watch events are delivered only on release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_events_are_delivered_on_release() {
    let ensemble = three().await;
    let watcher = client(&ensemble).await;
    let writer = client(&ensemble).await;
    create_retrying(&writer, "/watched", b"0").await;
    watcher.sync("/watched").await.expect("sync");
    let (_, _, changed) = watcher.get_data_and_watch("/watched").await.expect("watch");
    assert!(ensemble.hold_events(watcher.session_id().0).await);
    writer.set_data("/watched", b"1", None).await.expect("set");
    // The write is applied everywhere (a synced read sees it), the event is not delivered.
    assert_eq!(
        synced_read(&watcher, "/watched").await.as_deref(),
        Some(&b"1"[..])
    );
    let mut changed = Box::pin(changed.changed());
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut changed)
            .await
            .is_err(),
        "event delivered while held"
    );
    assert_eq!(ensemble.release_events(watcher.session_id().0).await, 1);
    let event = within(5, "the released event", changed).await;
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert!(matches!(
        writer
            .create("/watched", b"", &CreateOptions::default())
            .await,
        Err(Error::NodeExists)
    ));
}
