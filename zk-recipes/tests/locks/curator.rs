//! Mixed fleets: Apache Curator 5.4 workers (`tests/curator/CuratorWorker.java`, compiled here
//! with javac against Debian's jars) and zk-recipes workers on the same paths, on the server
//! of this binary: one mutex (exact count, no overlap), one election (one leader at a time,
//! everyone leads once), one shared counter (exact count).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions};
use zk_recipes::{LeaderLatch, Mutex};

use super::{clients, server};
use crate::support::{blocking, unique_path, within};

#[path = "../curator/javac.rs"]
mod javac;
use javac::classpath;

/// The compiled worker's directory (compiled once per test binary), or `None` without Curator
/// or a JDK (see [`javac::compile`]).
pub fn worker_classes() -> Option<PathBuf> {
    static CLASSES: OnceLock<Option<PathBuf>> = OnceLock::new();
    CLASSES
        .get_or_init(|| javac::compile("tests/curator/CuratorWorker.java"))
        .clone()
}

/// Runs one Curator worker to completion; returns its output lines.
pub async fn curator_worker(
    classes: PathBuf,
    mode: &str,
    connect: String,
    path: String,
    id: String,
    count: usize,
) -> Vec<String> {
    let mode = mode.to_string();
    let what = format!("Curator {mode} worker {id}");
    let output = blocking(move || {
        Command::new("java")
            .arg("-cp")
            .arg(classpath(&classes))
            .arg("CuratorWorker")
            .args([&mode, &connect, &path, &id, &count.to_string()])
            .output()
            .expect("run java")
    })
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert!(
        !lines.iter().any(|l| l.starts_with("OVERLAP")),
        "{what}: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("DONE")),
        "{what}: {lines:?}"
    );
    lines
}

/// Creates the ephemeral marker `path` (the holder's), failing the test if another holder's
/// marker is there: two holders at once.
async fn enter(client: &Client, path: &str, who: &str) {
    match client
        .create(
            path,
            who.as_bytes(),
            &CreateOptions::new(CreateMode::Ephemeral),
        )
        .await
    {
        Ok(_) => {}
        Err(zk_client::Error::NodeExists) => panic!("{who} overlaps another holder at {path}"),
        Err(e) => panic!("{who}: create {path}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_zk_recipes_share_one_mutex() {
    let Some(cluster) = server() else { return };
    let Some(classes) = worker_classes() else {
        return;
    };
    let c = clients(&cluster, 3).await;
    let root = unique_path("curator-mutex");
    let counter = format!("{root}/counter");
    c[0].create_all(&counter, b"0", &CreateOptions::default())
        .await
        .unwrap();
    let rounds = 15;
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(tokio::spawn(curator_worker(
            classes.clone(),
            "mutex",
            cluster.connect_string(),
            root.clone(),
            format!("curator-{i}"),
            rounds,
        )));
    }
    let mut rust = Vec::new();
    for (i, client) in c.iter().cloned().enumerate() {
        let root = root.clone();
        rust.push(tokio::spawn(async move {
            let who = format!("rust-{i}");
            let mutex = Mutex::new(&client, &format!("{root}/lock")).unwrap();
            let inside = format!("{root}/inside");
            let counter = format!("{root}/counter");
            for _ in 0..rounds {
                let guard = mutex.acquire().await.unwrap();
                enter(&client, &inside, &who).await;
                let (data, _) = client.get_data(&counter).await.unwrap();
                let n: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
                client
                    .set_data(&counter, (n + 1).to_string().as_bytes(), None)
                    .await
                    .unwrap();
                client.delete(&inside, None).await.unwrap();
                guard.release().await;
            }
        }));
    }
    within(120, "the mixed fleet", async {
        for task in rust {
            task.await.unwrap();
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    c[0].sync(&counter).await.unwrap();
    let (data, _) = c[0].get_data(&counter).await.unwrap();
    assert_eq!(&data[..], (5 * rounds).to_string().as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_zk_recipes_share_one_election() {
    let Some(cluster) = server() else { return };
    let Some(classes) = worker_classes() else {
        return;
    };
    let c = clients(&cluster, 2).await;
    let root = unique_path("curator-latch");
    c[0].create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let terms = 2;
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(tokio::spawn(curator_worker(
            classes.clone(),
            "latch",
            cluster.connect_string(),
            root.clone(),
            format!("curator-{i}"),
            terms,
        )));
    }
    let mut rust = Vec::new();
    for (i, client) in c.iter().cloned().enumerate() {
        let root = root.clone();
        rust.push(tokio::spawn(async move {
            let who = format!("rust-{i}");
            let marker = format!("{root}/leader");
            for _ in 0..terms {
                let latch = LeaderLatch::start(&client, &format!("{root}/latch"), &who).unwrap();
                latch.wait_leader().await.unwrap();
                enter(&client, &marker, &who).await;
                tokio::time::sleep(Duration::from_millis(30)).await;
                assert!(latch.is_leader());
                client.delete(&marker, None).await.unwrap();
                latch.close().await;
            }
        }));
    }
    let mut lead = 0;
    within(120, "the mixed election", async {
        for task in rust {
            task.await.unwrap();
        }
        for task in tasks {
            let lines = task.await.unwrap();
            lead += lines.iter().filter(|l| l.starts_with("LEAD")).count();
        }
    })
    .await;
    assert_eq!(lead, 2 * terms, "every Curator term led once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_shared_count_and_zk_recipes_agree_on_the_layout() {
    let Some(cluster) = server() else { return };
    let Some(classes) = worker_classes() else {
        return;
    };
    let c = clients(&cluster, 2).await;
    let root = unique_path("curator-count");
    c[0].create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let count = format!("{root}/count");
    let increments = 25;
    let mut tasks = Vec::new();
    for i in 0..2 {
        tasks.push(tokio::spawn(curator_worker(
            classes.clone(),
            "count",
            cluster.connect_string(),
            root.clone(),
            format!("curator-{i}"),
            increments,
        )));
    }
    // SharedCount's layout: a 4-byte big-endian int, changed by compare-and-set on the version.
    // A versioned write whose reply is lost with the connection (a leader change on an
    // ensemble) has an unknown outcome; it is counted, not repeated.
    let unknown = Arc::new(AtomicUsize::new(0));
    let mut rust = Vec::new();
    for client in c.clone() {
        let count = count.clone();
        let unknown = unknown.clone();
        rust.push(tokio::spawn(async move {
            match client
                .create(&count, &0i32.to_be_bytes(), &CreateOptions::default())
                .await
            {
                Ok(_) | Err(zk_client::Error::NodeExists) => {}
                Err(e) => panic!("create the count: {e}"),
            }
            for _ in 0..increments {
                loop {
                    let (data, stat) = client.get_data(&count).await.unwrap();
                    let value = i32::from_be_bytes(data[..].try_into().expect("4 bytes"));
                    match client
                        .set_data(&count, &(value + 1).to_be_bytes(), Some(stat.version))
                        .await
                    {
                        Ok(_) => break,
                        Err(zk_client::Error::BadVersion) => continue,
                        Err(e) if e.is_retryable() => {
                            eprintln!("increment of unknown outcome: {e}");
                            unknown.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Err(e) => panic!("increment: {e}"),
                    }
                }
            }
        }));
    }
    within(120, "the mixed counters", async {
        for task in rust {
            task.await.unwrap();
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    c[0].sync(&count).await.unwrap();
    let (data, _) = c[0].get_data(&count).await.unwrap();
    let value = i32::from_be_bytes(data[..].try_into().expect("4 bytes"));
    let unknown = unknown.load(Ordering::SeqCst) as i32;
    let expected = 4 * increments as i32;
    assert!(
        (expected - unknown..=expected).contains(&value),
        "count {value}, expected {expected} ({unknown} increments of unknown outcome)"
    );
}
