//! The read/write lock: sharing, exclusion, readers behind writers (kazoo #649), downgrade
//! (CURATOR-621), upgrade refused.

use std::time::Duration;

use zk_recipes::{Error, ReadWriteLock};

use super::{children, clients, eventually, is_protected, server};
use crate::support::{unique_path, within};

#[tokio::test]
async fn readers_share_and_writers_exclude() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 4).await;
    let dir = unique_path("rw-share");
    let locks: Vec<ReadWriteLock> = c
        .iter()
        .map(|client| ReadWriteLock::new(client, &dir).unwrap())
        .collect();
    let mut readers = Vec::new();
    for lock in &locks[..3] {
        readers.push(
            within(10, "a reader", lock.read_lock().acquire())
                .await
                .unwrap(),
        );
    }
    let nodes = children(&c[0], &dir).await;
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes.iter().all(|n| is_protected(n, "__READ__")),
        "{nodes:?}"
    );
    let writer = locks[3].write_lock();
    assert!(writer.try_acquire().await.unwrap().is_none());
    let waiting = tokio::spawn({
        let writer = writer.clone();
        async move { writer.acquire().await }
    });
    for reader in readers {
        reader.release().await;
    }
    let held = within(10, "the writer", waiting).await.unwrap().unwrap();
    let name = held.token().path().rsplit('/').next().unwrap().to_string();
    assert!(is_protected(&name, "__WRIT__"), "{name}");
    assert!(locks[0].read_lock().try_acquire().await.unwrap().is_none());
    assert!(locks[1].write_lock().try_acquire().await.unwrap().is_none());
    held.release().await;
    eventually(10, "an empty lock directory", || async {
        children(&c[0], &dir).await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_reader_waits_only_for_earlier_writers() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 3).await;
    let dir = unique_path("rw-order");
    let r1 = ReadWriteLock::new(&c[0], &dir).unwrap();
    let w = ReadWriteLock::new(&c[1], &dir).unwrap();
    let r2 = ReadWriteLock::new(&c[2], &dir).unwrap();
    let first = r1.read_lock().acquire().await.unwrap();
    let writer = tokio::spawn({
        let w = w.write_lock();
        async move { w.acquire().await }
    });
    eventually(10, "the writer queued", || async {
        children(&c[0], &dir).await.len() == 2
    })
    .await;
    // A reader after a queued writer waits for it: no writer starvation.
    let reader = tokio::spawn({
        let r2 = r2.read_lock();
        async move { r2.acquire().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!reader.is_finished());
    first.release().await;
    let held = within(10, "the writer", writer).await.unwrap().unwrap();
    assert!(!reader.is_finished());
    held.release().await;
    let read = within(10, "the second reader", reader)
        .await
        .unwrap()
        .unwrap();
    read.release().await;

    // kazoo #649: a queued reader counts only earlier writers. Writer w holds, reader r2
    // queues, writer r1 queues after it: when w goes, r2 gets in (it does not wait for the
    // later writer, which waits for it).
    let held = w.write_lock().acquire().await.unwrap();
    let reader = tokio::spawn({
        let r2 = r2.read_lock();
        async move { r2.acquire().await }
    });
    eventually(10, "the reader queued", || async {
        children(&c[0], &dir).await.len() == 2
    })
    .await;
    let late_writer = tokio::spawn({
        let r1 = r1.write_lock();
        async move { r1.acquire().await }
    });
    eventually(10, "the late writer queued", || async {
        children(&c[0], &dir).await.len() == 3
    })
    .await;
    held.release().await;
    let read = within(10, "the reader before the late writer", reader)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!late_writer.is_finished());
    read.release().await;
    within(10, "the late writer", late_writer)
        .await
        .unwrap()
        .unwrap()
        .release()
        .await;
}

#[tokio::test]
async fn downgrade_keeps_queued_writers_out_and_upgrade_is_refused() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 3).await;
    let dir = unique_path("rw-downgrade");
    let mine = ReadWriteLock::new(&c[0], &dir).unwrap();
    let write = mine.write_lock().acquire().await.unwrap();
    let other = ReadWriteLock::new(&c[1], &dir).unwrap();
    let queued = tokio::spawn({
        let w = other.write_lock();
        async move { w.acquire().await }
    });
    eventually(10, "the other writer queued", || async {
        children(&c[0], &dir).await.len() == 2
    })
    .await;
    // Downgrade: the write holder takes the read lock at once.
    let read = within(5, "the downgrade", mine.read_lock().acquire())
        .await
        .unwrap();
    write.release().await;
    // CURATOR-621: the queued writer must not get in while the downgraded read lock is held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "a writer got in beside a reader");
    let third = ReadWriteLock::new(&c[2], &dir).unwrap();
    assert!(third.write_lock().try_acquire().await.unwrap().is_none());
    read.release().await;
    let got = within(10, "the queued writer", queued)
        .await
        .unwrap()
        .unwrap();
    got.release().await;

    // Upgrade: a read holder asking for the write lock is refused.
    let read = mine.read_lock().acquire().await.unwrap();
    let refused = mine.write_lock().acquire().await;
    assert!(matches!(refused, Err(Error::LockUpgrade)), "{refused:?}");
    read.release().await;
}
