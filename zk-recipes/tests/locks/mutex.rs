//! The mutex: layout, re-entrancy, contention, timeouts, cancellation, release, fencing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_client::{perms, Acl, CreateMode, CreateOptions, Id, Op};
use zk_recipes::{Error, Mutex};

use super::{children, clients, end_session, eventually, is_protected, proxied, server};
use crate::support::{unique_path, within};

#[tokio::test]
async fn mutex_layout_and_ownership() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("mutex-layout");
    let mutex = Mutex::new(&c[0], &dir).unwrap();
    let guard = within(10, "acquire", mutex.acquire()).await.unwrap();
    let nodes = children(&c[0], &dir).await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(is_protected(&nodes[0], "lock-"), "{nodes:?}");
    // The token names the node; the node is an ephemeral of our session.
    let token = guard.token().clone();
    assert_eq!(token.path(), format!("{dir}/{}", nodes[0]));
    let (_, stat) = c[0].get_data(token.path()).await.unwrap();
    assert_eq!(stat.ephemeral_owner, c[0].session_id().0);
    assert_eq!(stat.czxid, token.czxid());
    assert_eq!(token.session(), c[0].session_id());

    // Another contender cannot take it, and leaves nothing behind.
    let other = Mutex::new(&c[1], &dir).unwrap();
    assert!(other.try_acquire().await.unwrap().is_none());
    assert!(other
        .acquire_timeout(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    one_node_left(&c[0], &dir).await;

    guard.release().await;
    assert!(!mutex.is_held());
    assert!(children(&c[0], &dir).await.is_empty());
    let taken = other.try_acquire().await.unwrap().expect("free now");
    taken.release().await;
}

#[tokio::test]
async fn mutex_is_reentrant_per_handle() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("mutex-reentrant");
    let mutex = Mutex::new(&c[0], &dir).unwrap();
    let first = mutex.acquire().await.unwrap();
    let second = within(5, "re-entrant acquire", mutex.clone().acquire())
        .await
        .unwrap();
    assert_eq!(first.token(), second.token());
    assert_eq!(children(&c[0], &dir).await.len(), 1);
    let other = Mutex::new(&c[1], &dir).unwrap();
    first.release().await;
    assert!(mutex.is_held());
    assert!(other.try_acquire().await.unwrap().is_none());
    second.release().await;
    assert!(!mutex.is_held());
    other
        .try_acquire()
        .await
        .unwrap()
        .expect("free")
        .release()
        .await;

    // A second handle in the same process is an independent contender.
    let a = Mutex::new(&c[0], &dir).unwrap();
    let b = Mutex::new(&c[0], &dir).unwrap();
    let held = a.acquire().await.unwrap();
    assert!(b.try_acquire().await.unwrap().is_none());
    drop(held);
    let got = within(10, "acquire after a dropped guard", b.acquire())
        .await
        .unwrap();
    got.release().await;
}

#[tokio::test]
async fn mutex_contention_of_ten_clients() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 10).await;
    let dir = unique_path("mutex-contention");
    let counter = format!("{dir}-counter");
    c[0].create(&counter, b"0", &CreateOptions::default())
        .await
        .unwrap();
    let inside = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let rounds = 5;
    let mut tasks = Vec::new();
    for client in c.clone() {
        let (dir, counter) = (dir.clone(), counter.clone());
        let (inside, overlaps) = (inside.clone(), overlaps.clone());
        tasks.push(tokio::spawn(async move {
            let mutex = Mutex::new(&client, &dir).unwrap();
            for _ in 0..rounds {
                let guard = mutex.acquire().await.unwrap();
                if inside.swap(true, Ordering::SeqCst) {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let (data, stat) = client.get_data(&counter).await.unwrap();
                let n: u32 = std::str::from_utf8(&data).unwrap().parse().unwrap();
                tokio::task::yield_now().await;
                guard
                    .fenced_multi(&[Op::set_data(
                        counter.clone(),
                        (n + 1).to_string().into_bytes(),
                        Some(stat.version),
                    )])
                    .await
                    .unwrap();
                inside.store(false, Ordering::SeqCst);
                guard.release().await;
            }
        }));
    }
    within(60, "10 contenders", async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    c[0].sync(&counter).await.unwrap();
    let (data, _) = c[0].get_data(&counter).await.unwrap();
    assert_eq!(&data[..], (10 * rounds).to_string().as_bytes());
    assert!(children(&c[0], &dir).await.is_empty());
}

#[tokio::test]
async fn cancelled_and_timed_out_acquires_leave_no_node() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("mutex-cancel");
    let holder = Mutex::new(&c[0], &dir).unwrap();
    let guard = holder.acquire().await.unwrap();
    let waiter = Mutex::new(&c[1], &dir).unwrap();
    for _ in 0..3 {
        // Dropped while waiting on its predecessor.
        let dropped = tokio::time::timeout(Duration::from_millis(150), waiter.acquire()).await;
        assert!(dropped.is_err());
        // Dropped at once, possibly with its create in flight.
        let _ = tokio::time::timeout(Duration::from_millis(1), waiter.acquire()).await;
        assert!(waiter
            .acquire_timeout(Duration::from_millis(100))
            .await
            .unwrap()
            .is_none());
    }
    one_node_left(&c[0], &dir).await;
    // The waiter's next acquire works once the holder is gone.
    let next = tokio::spawn({
        let waiter = waiter.clone();
        async move { waiter.acquire().await.map(|g| g.token().clone()) }
    });
    guard.release().await;
    let token = within(10, "the waiter's acquire", next)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.session(), c[1].session_id());
}

#[tokio::test]
async fn release_keeps_the_hold_until_the_delete_succeeds() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("mutex-release");
    // The lock directory forbids deletes for now (CURATOR-678/486).
    let no_delete = vec![Acl::new(
        perms::READ | perms::WRITE | perms::CREATE | perms::ADMIN,
        Id::new("world", "anyone"),
    )];
    c[0].create(
        &dir,
        b"",
        &CreateOptions::new(CreateMode::Persistent).with_acl(no_delete),
    )
    .await
    .unwrap();
    let mutex = Mutex::new(&c[0], &dir).unwrap();
    let guard = mutex.acquire().await.unwrap();
    let path = guard.token().path().to_string();
    let release = tokio::spawn(guard.release());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !release.is_finished(),
        "release returned while the delete fails"
    );
    assert!(mutex.is_held(), "the local hold went before the node");
    assert!(c[0].exists(&path).await.unwrap().is_some());
    // The same handle cannot re-enter a lock that is being released.
    assert!(mutex.try_acquire().await.unwrap().is_none());
    let other = Mutex::new(&c[1], &dir).unwrap();
    assert!(other.try_acquire().await.unwrap().is_none());
    assert!(!release.is_finished());
    c[0].set_acl(&dir, &Acl::open_unsafe(), None).await.unwrap();
    within(10, "the release", release).await.unwrap();
    assert!(!mutex.is_held());
    assert!(c[0].exists(&path).await.unwrap().is_none());
    let client = c[0].clone();
    let d = dir.clone();
    eventually(10, "the other contender's node deleted", || {
        let (client, d) = (client.clone(), d.clone());
        async move { children(&client, &d).await.is_empty() }
    })
    .await;
    other
        .try_acquire()
        .await
        .unwrap()
        .expect("free")
        .release()
        .await;
    c[0].delete(&dir, None).await.unwrap();
}

#[tokio::test]
async fn fenced_writes_of_a_lost_lock_are_refused() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let dir = unique_path("mutex-fenced");
    let data = format!("{dir}-data");
    c[0].create(&data, b"", &CreateOptions::default())
        .await
        .unwrap();
    let a = Mutex::new(&c[0], &dir).unwrap();
    let b = Mutex::new(&c[1], &dir).unwrap();
    let old = a.acquire().await.unwrap();
    // A "paused" holder: its node goes (as when its session expires) without it noticing.
    let waiting = tokio::spawn(async move { b.acquire().await });
    c[1].delete(old.token().path(), None).await.unwrap();
    let new = within(10, "the next holder", waiting)
        .await
        .unwrap()
        .unwrap();
    new.fenced_multi(&[Op::set_data(data.clone(), b"new".to_vec(), None)])
        .await
        .unwrap();
    let refused = old
        .fenced_multi(&[Op::set_data(data.clone(), b"old".to_vec(), None)])
        .await;
    assert!(matches!(refused, Err(Error::Fenced { .. })), "{refused:?}");
    c[0].sync(&data).await.unwrap();
    assert_eq!(&c[0].get_data(&data).await.unwrap().0[..], b"new");
    assert!(new.token().czxid() > old.token().czxid());
    // A failing op of the caller's is reported at its own index.
    let failed = new
        .fenced_multi(&[Op::set_data(data.clone(), b"x".to_vec(), Some(99))])
        .await;
    assert!(
        matches!(
            failed,
            Err(Error::Client(zk_client::Error::MultiFailed {
                index: 0,
                ..
            }))
        ),
        "{failed:?}"
    );
    drop(old);
    new.release().await;
}

#[tokio::test]
async fn a_waiter_whose_session_ends_fails_and_the_next_one_gets_the_lock() {
    let Some(cluster) = server() else { return };
    let mut c = clients(&cluster, 2).await;
    let (proxy, doomed_client) = proxied(&cluster).await;
    c.insert(1, doomed_client);
    let dir = unique_path("mutex-expiry");
    let holder = Mutex::new(&c[0], &dir).unwrap();
    let guard = holder.acquire().await.unwrap();
    let doomed = Mutex::new(&c[1], &dir).unwrap();
    let doomed_wait = tokio::spawn(async move { doomed.acquire().await.map(|_| ()) });
    let next = Mutex::new(&c[2], &dir).unwrap();
    let next_wait = tokio::spawn(async move { next.acquire().await });
    let client = c[0].clone();
    let d = dir.clone();
    eventually(10, "three contenders", || {
        let (client, d) = (client.clone(), d.clone());
        async move { children(&client, &d).await.len() == 3 }
    })
    .await;
    end_session(&cluster, &proxy, &c[1]).await;
    let outcome = within(20, "the doomed waiter", doomed_wait).await.unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
    guard.release().await;
    let got = within(10, "the next waiter", next_wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.token().session(), c[2].session_id());
    got.release().await;
}

/// Waits until `dir` holds exactly one node (the cleanup of failed acquires runs after they
/// return).
async fn one_node_left(client: &zk_client::Client, dir: &str) {
    eventually(10, "only the holder's node left", || async {
        children(client, dir).await.len() == 1
    })
    .await;
}

/// The requests zk-testserver has received from sessions (`Received:` of `srvr`).
async fn requests_received(server: &zk_testserver::TestServer) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(b"srvr").await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
        .lines()
        .find_map(|l| l.strip_prefix("Received: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Received line in {reply:?}"))
}

/// An uncontended acquire+release costs create, getChildren and delete, as Curator's: the
/// ownership of a node created in the same pass is not read again (the create's Stat has it).
#[tokio::test]
async fn an_uncontended_pair_costs_three_requests() {
    if crate::SERVER != crate::support::ServerKind::Rust {
        return; // counted on a dedicated zk-testserver
    }
    let server = zk_testserver::TestServer::builder().start().await.unwrap();
    let client = zk_client::Client::connect(&server.connect_string())
        .await
        .unwrap();
    let mutex = Mutex::new(&client, "/pairs").unwrap();
    // The first pair also creates the container.
    mutex.acquire().await.unwrap().release().await;
    let pairs = 20;
    let before = requests_received(&server).await;
    for _ in 0..pairs {
        let guard = within(10, "acquire", mutex.acquire()).await.unwrap();
        assert!(guard.token().czxid() > 0);
        assert_eq!(guard.token().session(), client.session_id());
        guard.release().await;
    }
    let requests = requests_received(&server).await - before;
    // A ping may fall into the window.
    assert!(
        (3 * pairs..=3 * pairs + 2).contains(&requests),
        "{requests} requests for {pairs} pairs"
    );
}
