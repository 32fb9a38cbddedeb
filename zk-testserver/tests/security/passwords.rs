//! Session passwords are unpredictable: not ZooKeeper 3.8's `new Random(id ^ superSecret)`.

use std::time::Duration;

use zk_client::{Client, Error};
use zk_testserver::TestServer;

/// ZooKeeper 3.8's password for a session id: `java.util.Random(id ^ 0xB3415C00)`, 16 bytes
/// from `nextBytes` (each `nextInt` gives 4 bytes, low byte first).
fn java_password(session_id: i64) -> Vec<u8> {
    const MULTIPLIER: u64 = 0x5DEE_CE66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut seed = ((session_id ^ 0xB341_5C00) as u64 ^ MULTIPLIER) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (seed >> 16) as u32
    };
    let mut out = Vec::with_capacity(16);
    while out.len() < 16 {
        let mut r = next_int();
        for _ in 0..4 {
            out.push(r as u8);
            r >>= 8;
        }
    }
    out
}

#[test]
fn java_random_reference_values() {
    // `new java.util.Random(42).nextInt()` is -1170105035; the first 4 bytes of
    // `nextBytes` are that int, low byte first.
    let mut seed = (42u64 ^ 0x5DEE_CE66D) & ((1 << 48) - 1);
    seed = (seed.wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
    assert_eq!((seed >> 16) as u32 as i32, -1_170_105_035);
    assert_eq!(
        java_password(42 ^ 0xB341_5C00)[..4],
        (-1_170_105_035i32).to_le_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessed_java_style_password_cannot_take_a_session_over() {
    let server = TestServer::builder().start().await.unwrap();
    let owner = Client::connect(&server.connect_string()).await.unwrap();
    let id = owner.session_id();
    let password = owner.session_password();
    assert_eq!(password.len(), 16);
    let guess = java_password(id.0);
    assert_ne!(password, guess);
    let thief = Client::builder(server.connect_string())
        .session(id, &guess)
        .connection_timeout(Duration::from_secs(5))
        .connect()
        .await;
    assert!(matches!(thief, Err(Error::SessionExpired)), "{thief:?}");
    // The session lives on (like ZooKeeper, the server closed the owner's connection when
    // the thief asked for the session, and the owner's client reconnects), and the right
    // password still resumes it.
    assert!(server.session_ids().await.contains(&id.0));
    let again = Client::builder(server.connect_string())
        .session(id, &password)
        .connect()
        .await
        .unwrap();
    assert_eq!(again.session_id(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_give_different_passwords() {
    // Two servers started alike: their sessions' passwords share nothing (that the same id
    // gets different passwords on two servers is checked in the session module's tests,
    // where the id can be fixed).
    let a = TestServer::builder().start().await.unwrap();
    let b = TestServer::builder().start().await.unwrap();
    let ca = Client::connect(&a.connect_string()).await.unwrap();
    let cb = Client::connect(&b.connect_string()).await.unwrap();
    assert_ne!(ca.session_password(), cb.session_password());
}
