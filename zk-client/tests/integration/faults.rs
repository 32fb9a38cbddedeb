//! Connection faults injected by a TCP proxy.

use std::time::Duration;

use zk_client::{Client, CreateOptions, Error, SessionState};

use super::support::{self, proxy::Proxy, shared, unique_path, wait_state, within};

#[tokio::test]
async fn connection_loss_mid_request() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let session = client.session_id();
    let root = unique_path("faults");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();

    // Requests in flight when the connection drops fail with ConnectionLoss...
    let in_flight: Vec<_> = (0..200)
        .map(|i| client.set_data(&root, format!("{i}").as_bytes(), None))
        .collect();
    proxy.cut();
    let mut lost = 0;
    for reply in in_flight {
        match within(20, "in-flight reply", reply).await {
            Ok(_) => {}
            Err(Error::ConnectionLoss) => lost += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    eprintln!("{lost} of 200 in-flight requests lost");
    // ...and the client reconnects to the same session by itself.
    wait_state(&client, 20, |s| s == SessionState::Connected).await;
    assert_eq!(client.session_id(), session);
    assert!(client.exists(&root).await.unwrap().is_some());

    // While the proxy refuses connections, requests wait and then succeed once it is back.
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    let waiting = client.get_data(&root);
    proxy.set_blocked(false);
    within(20, "request queued while disconnected", waiting)
        .await
        .unwrap();
    assert_eq!(client.session_id(), session);

    // A request that waits longer than the request timeout fails with Timeout.
    let short = Client::builder(proxy.addr().to_string())
        .request_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&short, 20, |s| s == SessionState::Disconnected).await;
    assert_eq!(short.get_data(&root).await, Err(Error::Timeout));
    proxy.set_blocked(false);
    wait_state(&short, 20, |s| s == SessionState::Connected).await;
    short.close().await.unwrap();

    client.delete_all(&root).await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn no_server_gives_no_hosts() {
    if !support::available() {
        return;
    }
    // A port nobody listens on: the connect attempts are refused, with backoff, until the
    // connection timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let started = std::time::Instant::now();
    let result = Client::builder(format!("{addr},localhost:{}", addr.port()))
        .connection_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert_eq!(result.err(), Some(Error::NoHosts));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn resume_a_session_from_another_client() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let original = Client::builder(proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let eph = unique_path("resumed");
    original
        .create(
            &eph,
            b"",
            &zk_client::CreateOptions::new(zk_client::CreateMode::Ephemeral),
        )
        .await
        .unwrap();
    // Cut the original off, and take its session over from a second client.
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&original, 20, |s| s == SessionState::Disconnected).await;
    let resumed = Client::builder(support::one_member(&cluster))
        .session(original.session_id(), &original.session_password())
        .connect()
        .await
        .unwrap();
    assert_eq!(resumed.session_id(), original.session_id());
    assert_eq!(
        resumed.get_ephemerals("/").await.unwrap(),
        vec![eph.clone()]
    );
    // Closing it ends the session; the original learns it expired when it gets back.
    resumed.close().await.unwrap();
    proxy.set_blocked(false);
    assert_eq!(
        wait_state(&original, 20, |s| s.is_terminal()).await,
        SessionState::Expired
    );
    assert_eq!(original.exists(&eph).await, Err(Error::SessionExpired));
}

#[tokio::test]
async fn credentials_survive_a_reconnect() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let owner = support::connect_one(&cluster).await;
    owner.add_auth("digest", b"carol:pw").await.unwrap();
    let path = unique_path("carol");
    let private = zk_client::CreateOptions::default().with_acl(zk_client::Acl::creator_all());
    owner.create(&path, b"c", &private).await.unwrap();

    let proxy = Proxy::start(cluster.member_addr(0)).await;
    let client = Client::connect(&proxy.addr().to_string()).await.unwrap();
    assert_eq!(client.get_data(&path).await, Err(Error::NoAuth));
    client.add_auth("digest", b"carol:pw").await.unwrap();
    proxy.set_blocked(true);
    proxy.cut();
    wait_state(&client, 20, |s| s == SessionState::Disconnected).await;
    // Queued before the reconnect, sent after the re-sent credentials.
    let read = client.get_data(&path);
    proxy.set_blocked(false);
    assert_eq!(
        &within(20, "read after reconnect", read).await.unwrap().0[..],
        b"c"
    );
    owner.delete(&path, None).await.unwrap();
}
