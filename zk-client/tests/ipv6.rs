//! Connect strings with IPv6 literals: `[::1]:port`, mixed with a dead host and a chroot.
//! Runs against zk-testserver bound to `::1` (the real-ZooKeeper harness binds IPv4 only).

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions};
use zk_testserver::TestServer;

#[tokio::test]
async fn connects_over_ipv6_with_chroot_and_a_dead_host() {
    let server = TestServer::builder()
        .host(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .start()
        .await
        .expect("server on ::1");
    let port = server.addr().port();
    // A port nothing listens on: the client must move on to the live host.
    let dead = std::net::TcpListener::bind("[::1]:0").expect("bind ::1");
    let dead_port = dead.local_addr().expect("address").port();
    drop(dead);

    let root = Client::connect(&format!("[::1]:{port}"))
        .await
        .expect("connect over IPv6");
    let persistent = CreateOptions::new(CreateMode::Persistent);
    root.create("/v6", b"", &persistent).await.expect("chroot");

    let cs = format!("[::1]:{dead_port},[::1]:{port}/v6");
    let client = tokio::time::timeout(
        Duration::from_secs(20),
        Client::builder(cs)
            .session_timeout(Duration::from_secs(10))
            .connect(),
    )
    .await
    .expect("connect within 20 s")
    .expect("connect with a dead host first");
    let (path, _) = client
        .create("/node", b"over ipv6", &persistent)
        .await
        .expect("create");
    assert_eq!(path, "/node");
    let (data, _) = root.get_data("/v6/node").await.expect("read through root");
    assert_eq!(&data[..], b"over ipv6");
    client.close().await.expect("close");
    root.close().await.expect("close");
}
