//! Persistence across restarts, including a log torn at random offsets.

use rand::{Rng, SeedableRng};
use zk_testserver::TestServer;

use crate::client::Client;

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zk-persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn acknowledged_writes_and_sessions_survive_restart() {
    let dir = fresh_dir("restart");
    let mut server = TestServer::builder()
        .tick_time_ms(50)
        .data_dir(&dir)
        .snap_count(7)
        .start()
        .await
        .unwrap();
    let mut c = Client::connect(server.addr()).await;
    for i in 0..20 {
        c.create(&format!("/n{i}"), format!("{i}").as_bytes(), 0)
            .await
            .unwrap();
    }
    c.create("/eph", b"", 1).await.unwrap();
    c.create("/q/", b"", 2).await.unwrap_err();
    server.restart().await.unwrap();
    let mut c2 = c.reconnect(server.addr()).await.unwrap();
    assert_eq!(
        c2.session_id(),
        c.session_id(),
        "session and password survive"
    );
    for i in 0..20 {
        let (data, _) = c2.get_data(&format!("/n{i}"), false).await.unwrap();
        assert_eq!(data.as_deref(), Some(format!("{i}").as_bytes()));
    }
    assert!(c2.exists("/eph", false).await.is_ok());
    // Sequence numbers continue from the recovered cversion.
    assert_eq!(c2.create("/s-", b"", 2).await.unwrap(), "/s-0000000021");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn torn_log_tails_recover_to_a_prefix() {
    let dir = fresh_dir("torn");
    let mut server = TestServer::builder()
        .data_dir(&dir)
        .fsync(false)
        .start()
        .await
        .unwrap();
    let mut c = Client::connect(server.addr()).await;
    for i in 0..30 {
        c.create(&format!("/t{i:02}"), b"x", 0).await.unwrap();
    }
    drop(c);
    // Kill without a clean shutdown: copy the files as they are while the server runs.
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
        .unwrap();
    let full = std::fs::read(&log).unwrap();
    server.stop().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut last = usize::MAX;
    for _ in 0..12 {
        let cut = rng.random_range(0..=full.len());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("snapshot.") || name.starts_with("log.") {
                std::fs::remove_file(p).unwrap();
            }
        }
        std::fs::write(&log, &full[..cut]).unwrap();
        server.restart().await.unwrap();
        let mut c = Client::connect(server.addr()).await;
        // A prefix of the creates survived, and nothing after a gap.
        let mut present = 0;
        for i in 0..30 {
            if c.exists(&format!("/t{i:02}"), false).await.is_ok() {
                assert_eq!(present, i, "recovered a prefix");
                present += 1;
            }
        }
        assert!(present <= 30);
        if cut == full.len() {
            assert_eq!(present, 30);
        }
        last = present;
        // The server keeps working after recovery.
        c.create("/after", b"", 0).await.unwrap();
        server.stop().await;
    }
    assert!(last <= 30);
    let _ = std::fs::remove_dir_all(&dir);
}
