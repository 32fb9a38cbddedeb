//! Four-letter words over a socket.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_testserver::TestServer;

use crate::client::Client;

pub async fn ask(addr: SocketAddr, word: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(word.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn words_and_whitelist() {
    let server = TestServer::builder()
        .tick_time_ms(200)
        .four_letter_whitelist("ruok, mntr, conf, wchs, wchc, wchp, dump, cons, stat, envi")
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let mut c = Client::connect(addr).await;
    c.create("/w", b"", 1).await.unwrap();
    c.exists("/w", true).await.unwrap();
    assert_eq!(ask(addr, "ruok").await, "imok");
    let srvr = ask(addr, "srvr").await;
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(srvr.contains("Node count: 5"), "{srvr}");
    // The asking connection counts, as in ZooKeeper.
    assert!(srvr.contains("Connections: 2"), "{srvr}");
    let mntr = ask(addr, "mntr").await;
    assert!(mntr.contains("zk_server_state\tstandalone"), "{mntr}");
    assert!(mntr.contains("zk_ephemerals_count\t1"), "{mntr}");
    let conf = ask(addr, "conf").await;
    assert!(
        conf.contains("tickTime=200") && conf.contains("minSessionTimeout=400"),
        "{conf}"
    );
    assert_eq!(
        ask(addr, "wchs").await,
        "1 connections watching 1 paths\nTotal watches:1\n"
    );
    assert!(ask(addr, "wchc").await.contains("\t/w"));
    assert!(ask(addr, "wchp").await.starts_with("/w\n"));
    assert!(ask(addr, "dump").await.contains("\t/w"));
    assert!(ask(addr, "cons").await.contains("lop=EXIS"));
    assert!(ask(addr, "stat").await.contains("Clients:"));
    assert!(ask(addr, "envi").await.starts_with("Environment:"));
    assert_eq!(
        ask(addr, "isro").await,
        "isro is not executed because it is not in the whitelist.\n"
    );
    // The session is unaffected.
    assert!(c.exists("/w", false).await.is_ok());
}
