//! Queues: Curator layout, order, timeouts, 10 consumers, consumers dying mid-item, long
//! disconnects (CURATOR-623), requeue names (CURATOR-56/224), randomized faults.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::{Rng, SeedableRng};
use zk_client::Client;
use zk_recipes::{DelayQueue, LockingQueue, PriorityQueue, Queue};

use super::{disconnect, proxied, reconnect, rounds, seed};
use crate::support::{self, shared, unique_path, within};

#[tokio::test]
async fn fifo_queue_layout_order_and_timeouts() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = unique_path("queue");
    let queue = Queue::new(&client, &path).unwrap();
    assert_eq!(queue.try_take().await.unwrap(), None);
    for i in 0..5 {
        let name = queue.put(format!("item-{i}").as_bytes()).await.unwrap();
        assert_eq!(name, format!("queue-{i:010}"));
    }
    // Curator's item bytes.
    let (data, _) = client
        .get_data(&format!("{path}/queue-0000000000"))
        .await
        .unwrap();
    assert_eq!(&data[..], b"\x00\x01\x00\x01\x01\x00\x00\x00\x06item-0\x02");
    assert_eq!(queue.len().await.unwrap(), 5);
    for i in 0..5 {
        assert_eq!(queue.take().await.unwrap(), format!("item-{i}").as_bytes());
    }
    let started = Instant::now();
    assert_eq!(
        queue
            .take_timeout(Duration::from_millis(200))
            .await
            .unwrap(),
        None
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    // A waiting take gets the next put.
    let consumer = queue.clone();
    let waiting = tokio::spawn(async move { consumer.take().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    queue.put(b"late").await.unwrap();
    assert_eq!(
        within(10, "take", waiting).await.unwrap().unwrap(),
        &b"late"[..]
    );
    // A raw node from a foreign producer is one item.
    client
        .create(
            &format!("{path}/queue-"),
            b"raw",
            &zk_client::CreateOptions::new(zk_client::CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    assert_eq!(queue.take().await.unwrap(), &b"raw"[..]);
}

/// A FIFO consumer works through one listing (no listing per take) and still hands items out
/// in order, beside items put meanwhile and a rival consumer taking some of the listed ones.
#[tokio::test]
async fn fifo_takes_work_through_one_listing_in_order_beside_a_rival() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let a = support::connect(&cluster).await;
    let b = support::connect(&cluster).await;
    let path = unique_path("queue-listing");
    let mine = Queue::new(&a, &path).unwrap();
    let rival = Queue::new(&b, &path).unwrap();
    for i in 0..5 {
        mine.put(format!("item-{i}").as_bytes()).await.unwrap();
    }
    // The first take lists items 0-4 and keeps 1-4 for the next takes.
    assert_eq!(mine.take().await.unwrap(), &b"item-0"[..]);
    // An item put meanwhile comes after the listed ones.
    mine.put(b"item-5").await.unwrap();
    assert_eq!(mine.take().await.unwrap(), &b"item-1"[..]);
    // The rival takes the next two listed items; our miss on item 2 makes us list again.
    assert_eq!(rival.take().await.unwrap(), &b"item-2"[..]);
    assert_eq!(rival.take().await.unwrap(), &b"item-3"[..]);
    rival.put(b"item-6").await.unwrap();
    for i in 4..7 {
        assert_eq!(mine.take().await.unwrap(), format!("item-{i}").as_bytes());
    }
    assert_eq!(mine.try_take().await.unwrap(), None);
    // The rival's remaining names are all taken: it finds nothing rather than a stale item.
    assert_eq!(rival.try_take().await.unwrap(), None);
    assert_eq!(mine.len().await.unwrap(), 0);
}

#[tokio::test]
async fn priority_and_delay_queues() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let queue = PriorityQueue::new(&client, &unique_path("prio")).unwrap();
    for (item, priority) in [("c", 5), ("a", -10), ("d", 5), ("b", 0), ("z", i32::MAX)] {
        queue.put(item.as_bytes(), priority).await.unwrap();
    }
    let mut order = String::new();
    while let Some(item) = queue.try_take().await.unwrap() {
        order.push_str(std::str::from_utf8(&item).unwrap());
    }
    assert_eq!(order, "abcdz");

    let queue = DelayQueue::new(&client, &unique_path("delay")).unwrap();
    let now = SystemTime::now();
    let ms = Duration::from_millis;
    queue.put(b"later", now + ms(1300)).await.unwrap();
    queue.put(b"soon", now + ms(1000)).await.unwrap();
    queue.put(b"now", now).await.unwrap();
    assert_eq!(queue.try_take().await.unwrap().unwrap(), &b"now"[..]);
    if SystemTime::now() < now + ms(900) {
        assert_eq!(queue.try_take().await.unwrap(), None);
    }
    assert_eq!(
        within(10, "soon", queue.take()).await.unwrap(),
        &b"soon"[..]
    );
    assert!(SystemTime::now() >= now + ms(1000));
    assert_eq!(
        within(10, "later", queue.take()).await.unwrap(),
        &b"later"[..]
    );
    assert!(SystemTime::now() >= now + ms(1300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_consumers_take_each_item_once() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let path = unique_path("queue-10");
    let producer = support::connect(&cluster).await;
    let queue = Queue::new(&producer, &path).unwrap();
    let total = 150;
    for i in 0..total {
        queue.put(format!("{i}").as_bytes()).await.unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = support::connect(&cluster).await;
        let (path, seen) = (path.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let queue = Queue::new(&client, &path).unwrap();
            while let Some(item) = queue.try_take().await.unwrap() {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8(item.to_vec()).unwrap());
            }
        }));
    }
    for task in tasks {
        within(60, "a consumer", task).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), total, "no duplicates");
    assert_eq!(unique.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_queue_ack_release_requeue_and_a_dying_consumer() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let base = unique_path("lq");
    let (path, locks) = (format!("{base}/items"), format!("{base}/locks"));
    let queue = LockingQueue::new(&client, &path, &locks).unwrap();
    queue.put(b"one").await.unwrap();
    queue.put(b"two").await.unwrap();

    // Taken items stay until acknowledged, locked (EPHEMERAL, ours).
    let item = queue.take().await.unwrap();
    assert_eq!(item.data(), &b"one"[..]);
    let (_, lock) = client
        .get_data(&format!("{locks}/{}", item.name()))
        .await
        .unwrap();
    assert_eq!(lock.ephemeral_owner, client.session_id().0);
    let next = queue.try_take().await.unwrap().unwrap();
    assert_eq!(next.data(), &b"two"[..]);
    assert!(queue.try_take().await.unwrap().is_none());
    assert_eq!(queue.len().await.unwrap(), 2);
    item.release().await.unwrap();
    let again = queue.take().await.unwrap();
    assert_eq!(
        (again.data(), again.name()),
        (bytes(b"one"), "queue-0000000000")
    );
    again.ack().await.unwrap();

    // Requeue moves it to the back under a name of the same length (CURATOR-56/224).
    let old_name = next.name().to_string();
    next.requeue().await.unwrap();
    queue.put(b"three").await.unwrap();
    let mut names = client.get_children(&path).await.unwrap();
    names.sort();
    assert_eq!(names.len(), 2);
    assert!(names
        .iter()
        .all(|n| n.len() == old_name.len() && *n != old_name));
    assert_eq!(queue.take().await.unwrap().data(), &b"two"[..]);
    // (dropped: released in the background)

    // A consumer that dies mid-item: its lock goes with its session, the item comes back.
    let dying = support::connect(&cluster).await;
    let doomed = LockingQueue::new(&dying, &path, &locks).unwrap();
    let taken = doomed.take().await.unwrap();
    let name = taken.name().to_string();
    std::mem::forget(taken);
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..2 {
                let item = queue.take().await.unwrap();
                got.push(item.name().to_string());
                item.ack().await.unwrap();
            }
            got
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    dying.close().await.unwrap();
    let got = within(20, "the orphaned item", waiting).await.unwrap();
    assert!(got.contains(&name), "{got:?} lacks {name}");
    assert!(client.get_children(&path).await.unwrap().is_empty());
    assert!(client.get_children(&locks).await.unwrap().is_empty());
}

fn bytes(b: &'static [u8]) -> zk_client::Bytes {
    zk_client::Bytes::from_static(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_consumer_survives_a_long_disconnect() {
    if !support::available() {
        return;
    }
    // CURATOR-623: after a long disconnect the consumer must not stall.
    let cluster = shared();
    let (proxy, client) = proxied(&cluster).await;
    let producer = support::connect(&cluster).await;
    let path = unique_path("queue-623");
    let locks = format!("{path}-locks");
    let queue = Queue::new(&client, &path).unwrap();
    let locking = LockingQueue::new(&client, &format!("{path}-l"), &locks).unwrap();
    queue.len().await.unwrap();
    locking.len().await.unwrap();
    let (q, l) = (queue.clone(), locking.clone());
    let waiting = tokio::spawn(async move { q.take().await });
    let waiting_locked = tokio::spawn(async move { l.take().await.map(|i| i.data()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    disconnect(&proxy, &client).await;
    Queue::new(&producer, &path)
        .unwrap()
        .put(b"x")
        .await
        .unwrap();
    LockingQueue::new(&producer, &format!("{path}-l"), &locks)
        .unwrap()
        .put(b"y")
        .await
        .unwrap();
    // Longer than the connection timeout of a 10 s session.
    tokio::time::sleep(Duration::from_secs(5)).await;
    reconnect(&proxy, &client).await;
    assert_eq!(
        within(10, "take", waiting).await.unwrap().unwrap(),
        &b"x"[..]
    );
    assert_eq!(
        within(10, "locked take", waiting_locked)
            .await
            .unwrap()
            .unwrap(),
        &b"y"[..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_under_a_random_fault_schedule() {
    if !support::available() {
        return;
    }
    // Consumers behind proxies whose connections are cut at random; some locking consumers
    // die mid-item. The locking queue loses nothing; the at-most-once queue duplicates
    // nothing.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let cluster = shared();
    let base = unique_path("queue-faults");
    let (fifo, items, locks) = (
        format!("{base}/fifo"),
        format!("{base}/items"),
        format!("{base}/locks"),
    );
    let producer = support::connect(&cluster).await;
    let total = rounds(60);
    let plain = Queue::new(&producer, &fifo).unwrap();
    let locking = LockingQueue::new(&producer, &items, &locks).unwrap();
    for i in 0..total {
        plain.put(format!("{i}").as_bytes()).await.unwrap();
        locking.put(format!("{i}").as_bytes()).await.unwrap();
    }
    let taken = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut proxies = Vec::new();
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (proxy, client) = proxied(&cluster).await;
        proxies.push(proxy);
        let (fifo, items, locks) = (fifo.clone(), items.clone(), locks.clone());
        let (taken, acked) = (taken.clone(), acked.clone());
        let die_after = if c == 0 {
            Some(rng.random_range(1..5))
        } else {
            None
        };
        tasks.push(tokio::spawn(async move {
            let plain = Queue::new(&client, &fifo).unwrap();
            let locking = LockingQueue::new(&client, &items, &locks).unwrap();
            let mut handled = 0;
            loop {
                let a = plain.try_take().await.unwrap();
                if let Some(item) = &a {
                    taken
                        .lock()
                        .unwrap()
                        .push(String::from_utf8(item.to_vec()).unwrap());
                }
                let b = locking
                    .take_timeout(Duration::from_millis(300))
                    .await
                    .unwrap();
                if let Some(item) = b {
                    handled += 1;
                    if die_after == Some(handled) {
                        // Dies mid-item with the lock held. Its close may never reach the
                        // server (a cut connection): then the session, and the lock, live
                        // until the session is ended below.
                        std::mem::forget(item);
                        let dead = (client.session_id(), client.session_password());
                        client.close().await.unwrap();
                        return Some(dead);
                    }
                    let data = String::from_utf8(item.data().to_vec()).unwrap();
                    if item.ack().await.is_ok() {
                        acked.lock().unwrap().insert(data);
                    }
                } else if a.is_none() {
                    return None;
                }
            }
        }));
    }
    let cutter = async {
        while !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..120))).await;
            let victim = rng.random_range(0..proxies.len());
            proxies[victim].cut();
        }
    };
    within(120, "the consumers", cutter).await;
    for task in tasks {
        if let Some((id, password)) = task.await.unwrap() {
            // End the dead consumer's session if its close was lost, as its session timeout
            // would (a 30 s wait); connecting fails if the session is already gone.
            if let Ok(twin) = Client::builder(cluster.connect_string())
                .session(id, &password)
                .connect()
                .await
            {
                twin.close().await.unwrap();
            }
        }
    }
    // Whatever is left (the dead consumer's item, items acked by nobody) is still there.
    let rest = LockingQueue::new(&producer, &items, &locks).unwrap();
    // Items stay locked until their lock's deletion reaches our member: wait for them.
    while rest.len().await.unwrap() > 0 {
        let Some(item) = rest.take_timeout(Duration::from_secs(40)).await.unwrap() else {
            panic!("an item stayed locked longer than any session of this test lives");
        };
        acked
            .lock()
            .unwrap()
            .insert(String::from_utf8(item.data().to_vec()).unwrap());
        item.ack().await.unwrap();
    }
    let expected: BTreeSet<String> = (0..total).map(|i| i.to_string()).collect();
    assert_eq!(
        *acked.lock().unwrap(),
        expected,
        "the locking queue lost an item"
    );
    let taken = taken.lock().unwrap().clone();
    let unique: HashSet<_> = taken.iter().collect();
    assert_eq!(
        unique.len(),
        taken.len(),
        "the at-most-once queue delivered an item twice"
    );
    let left = plain.len().await.unwrap();
    eprintln!(
        "at-most-once: {} taken, {left} left, {} dropped",
        taken.len(),
        total - taken.len() - left
    );
}
