//! Retries (only what is safe to repeat), per-handle request timeouts, fail-fast connect.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_client::{Client, CreateMode, CreateOptions, Error, Idempotence, RetryPolicy, SessionState};

use super::protected::fault_server;
use super::support::{self, proxy::Proxy, shared, unique_path, wait_state, within};

fn quick() -> RetryPolicy {
    RetryPolicy::exponential(Duration::from_millis(20), Duration::from_millis(200)).max_attempts(10)
}

/// Runs a read through `Client::retry`, counting attempts and recording their errors.
fn counted_read(
    client: &Client,
    path: &str,
    errors: Arc<std::sync::Mutex<Vec<Error>>>,
) -> impl std::future::Future<Output = zk_client::Result<Vec<u8>>> {
    let (c, path) = (client.clone(), path.to_string());
    client.retry(Idempotence::Idempotent, move || {
        let read = c.get_data(&path);
        let errors = errors.clone();
        async move {
            match read.await {
                Ok((data, _)) => Ok(data.to_vec()),
                Err(e) => {
                    errors.lock().unwrap().push(e.clone());
                    Err(e)
                }
            }
        }
    })
}

#[tokio::test]
async fn an_unknown_write_is_never_repeated_a_read_is() {
    let Some(server) = fault_server().await else {
        return;
    };
    let client = Client::builder(server.addr().to_string())
        .retry_policy(quick())
        .connect()
        .await
        .unwrap();
    let session = client.session_id().0;
    let retrying = client.retrying();
    client
        .create("/r", b"0", &CreateOptions::default())
        .await
        .unwrap();

    // A sequential create whose reply is lost: not retried (a retry would make a second node),
    // while a read queued behind it on the same connection loses its reply too, is retried
    // and succeeds.
    assert!(server.drop_next_reply(session).await);
    let seq = CreateOptions::new(CreateMode::PersistentSequential);
    let create = retrying.create("/r/item-", b"", &seq);
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let read = counted_read(&client, "/r", errors.clone());
    assert_eq!(create.await, Err(Error::ConnectionLoss));
    assert_eq!(read.await, Ok(b"0".to_vec()));
    assert_eq!(*errors.lock().unwrap(), [Error::ConnectionLoss]);
    assert_eq!(
        client.get_children("/r").await.unwrap().len(),
        1,
        "one create"
    );

    // An unversioned set_data: not retried (the version moved once).
    let (_, before) = client.get_data("/r").await.unwrap();
    assert!(server.drop_next_reply(session).await);
    assert_eq!(
        retrying.set_data("/r", b"1", None).await,
        Err(Error::ConnectionLoss)
    );
    let (data, after) = client.get_data("/r").await.unwrap();
    assert_eq!((&data[..], after.version), (&b"1"[..], before.version + 1));

    // An unversioned delete: not retried (a retry would answer NoNode).
    let child = format!("/r/{}", client.get_children("/r").await.unwrap()[0]);
    assert!(server.drop_next_reply(session).await);
    assert_eq!(
        retrying.delete(&child, None).await,
        Err(Error::ConnectionLoss)
    );
    assert_eq!(client.exists(&child).await, Ok(None));

    // A plain create: not retried (a retry would answer NodeExists).
    assert!(server.drop_next_reply(session).await);
    assert_eq!(
        retrying
            .create("/r/plain", b"", &CreateOptions::default())
            .await,
        Err(Error::ConnectionLoss)
    );
    assert!(client.exists("/r/plain").await.unwrap().is_some());
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_versioned_write_is_retried_and_applies_once() {
    let Some(server) = fault_server().await else {
        return;
    };
    let client = Client::builder(server.addr().to_string())
        .retry_policy(quick())
        .connect()
        .await
        .unwrap();
    let session = client.session_id().0;
    let retrying = client.retrying();
    let (_, stat) = client
        .create("/v", b"0", &CreateOptions::default())
        .await
        .unwrap();
    client
        .create("/w", b"", &CreateOptions::default())
        .await
        .unwrap();

    // The versioned write sent behind the lost one never reached a standalone server: it is
    // retried after the reconnect and applies. An ensemble member may already have forwarded
    // it to the leader when it closes the connection (as any ZooKeeper server may have passed
    // it down its pipeline): then it applied, its retry fails the version check, and the
    // outcome is reported as unknown. Either way it applied exactly once.
    assert!(server.drop_next_reply(session).await);
    let lost = retrying.set_data("/w", b"lost", None);
    let cas = retrying.set_data("/v", b"1", Some(stat.version));
    assert_eq!(lost.await, Err(Error::ConnectionLoss));
    let new = match cas.await {
        Ok(new) => new,
        Err(Error::ConnectionLoss) if super::SERVER == support::ServerKind::RustEnsemble => {
            eprintln!("the write behind the lost one had reached the leader");
            client.get_data("/v").await.unwrap().1
        }
        Err(e) => panic!("the versioned write behind the lost one: {e}"),
    };
    assert_eq!(new.version, stat.version + 1);
    assert_eq!(&client.get_data("/v").await.unwrap().0[..], b"1");

    // The versioned write whose own reply is lost applied; its retry fails the version
    // check, and that is reported as the unknown outcome, not as BadVersion.
    assert!(server.drop_next_reply(session).await);
    assert_eq!(
        retrying.set_data("/v", b"2", Some(new.version)).await,
        Err(Error::ConnectionLoss)
    );
    let (data, now) = client.get_data("/v").await.unwrap();
    assert_eq!((&data[..], now.version), (&b"2"[..], new.version + 1));

    // Same for a versioned delete.
    assert!(server.drop_next_reply(session).await);
    assert_eq!(
        retrying.delete("/v", Some(now.version)).await,
        Err(Error::ConnectionLoss)
    );
    assert_eq!(client.exists("/v").await, Ok(None));

    // A server answer is never retried.
    assert_eq!(retrying.delete("/v", Some(0)).await, Err(Error::NoNode));
    client.close().await.unwrap();
}

#[tokio::test]
async fn reads_retry_across_a_reconnect() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let root = unique_path("retry");
    client
        .create(&root, b"x", &CreateOptions::default())
        .await
        .unwrap();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    // Each attempt times out while the proxy refuses; a later one succeeds once it is back.
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let policy = RetryPolicy::exponential(Duration::from_millis(50), Duration::from_millis(100))
        .max_attempts(100)
        .max_elapsed(Duration::from_secs(20));
    let mut patient = client.clone();
    patient.set_retry_policy(policy);
    let read = counted_read(&patient, &root, errors.clone());
    let reopen = async {
        while errors.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.set_blocked(false);
    };
    let (result, ()) = within(20, "the retried read", async { tokio::join!(read, reopen) }).await;
    assert_eq!(result, Ok(b"x".to_vec()));
    assert!(errors.lock().unwrap().iter().all(|e| *e == Error::Timeout));

    // With the policy spent, the last error comes back.
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    let spent = client
        .with_retry(
            RetryPolicy::exponential(Duration::from_millis(10), Duration::from_millis(10))
                .max_attempts(2),
        )
        .get_data(&root);
    assert_eq!(within(20, "two attempts", spent).await, Err(Error::Timeout));
    proxy.set_blocked(false);
    wait_state(&client, 20, |s| s == SessionState::Connected).await;
    client.delete_all(&root).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_handle_with_a_shorter_request_timeout() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let impatient = client.with_request_timeout(Duration::from_millis(300));
    assert_eq!(
        impatient.handle_request_timeout(),
        Some(Duration::from_millis(300))
    );
    assert_eq!(client.handle_request_timeout(), None);
    let root = unique_path("timeout");
    impatient
        .create(&root, b"t", &CreateOptions::default())
        .await
        .unwrap();

    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    let started = Instant::now();
    let patient = client.get_data(&root);
    assert_eq!(impatient.get_data(&root).await, Err(Error::Timeout));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The other handle's request still waits, and completes after the reconnect.
    proxy.set_blocked(false);
    assert_eq!(
        &within(20, "the patient read", patient).await.unwrap().0[..],
        b"t"
    );
    assert_eq!(&impatient.get_data(&root).await.unwrap().0[..], b"t");
    client.delete_all(&root).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn fail_fast_connect_to_a_dead_port() {
    if !support::available() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let started = Instant::now();
    let result = Client::builder(format!("{addr},localhost:{}", addr.port()))
        .connection_timeout(Duration::from_secs(30))
        .fail_fast()
        .connect()
        .await;
    assert_eq!(result.err(), Some(Error::NoHosts));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Three passes with backoff between them still end well before the timeout.
    let started = Instant::now();
    let result = Client::builder(addr.to_string())
        .connection_timeout(Duration::from_secs(30))
        .connect_attempts(3)
        .connect()
        .await;
    assert_eq!(result.err(), Some(Error::NoHosts));
    assert!(started.elapsed() < Duration::from_secs(5));

    // A live server connects as usual with the option set.
    let cluster = shared();
    let client = Client::builder(support::one_member(&cluster))
        .fail_fast()
        .connect()
        .await
        .unwrap();
    assert!(client.exists("/").await.unwrap().is_some());
    client.close().await.unwrap();
}

/// Sequential creates through `Retrying` while the connection is cut at random moments:
/// never more nodes than calls (a repeated create would make a second one), and every
/// successful call's node exists. (Seeded; set `RETRY_CUTS` for more rounds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_creates_under_connection_cuts_never_duplicate() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(20))
        .retry_policy(quick())
        .connect()
        .await
        .unwrap();
    let root = unique_path("retry-cuts");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let rounds: u64 = std::env::var("RETRY_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = rand::random();
    eprintln!("retrying_creates_under_connection_cuts_never_duplicate: seed {seed}");
    let mut state = seed | 1;
    let seq = CreateOptions::new(CreateMode::PersistentSequential);
    let (mut ok, mut unknown) = (Vec::new(), 0);
    for _ in 0..rounds {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let call = client.retrying().create(&format!("{root}/n-"), b"", &seq);
        tokio::time::sleep(Duration::from_micros(state % 3000)).await;
        proxy.cut();
        match within(30, "a create", call).await {
            Ok((path, _)) => ok.push(path),
            Err(Error::ConnectionLoss | Error::Timeout) => unknown += 1,
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    // The last cut may still be closing the connection: retry the reads and the cleanup.
    let children = client.retrying().get_children(&root).await.unwrap();
    eprintln!(
        "{} created, {unknown} unknown, {} nodes",
        ok.len(),
        children.len()
    );
    assert!(children.len() as u64 <= rounds, "a duplicate (seed {seed})");
    assert!(children.len() >= ok.len(), "seed {seed}");
    for path in &ok {
        assert!(children.contains(&path.rsplit('/').next().unwrap().to_string()));
    }
    let cleanup = client.clone();
    client
        .retry(Idempotence::Idempotent, move || cleanup.delete_all(&root))
        .await
        .unwrap();
    client.close().await.unwrap();
}
