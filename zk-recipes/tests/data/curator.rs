//! Mixed fleets: Apache Curator 5.4 workers (`tests/curator/CuratorDataWorker.java`, compiled
//! here with javac against Debian's jars) beside zk-recipes on the same paths: one queue
//! (items put by either side are taken by either side, each exactly once), one atomic counter
//! (exact), one double barrier (nobody passes before all are in).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use zk_recipes::{AtomicValue, DoubleBarrier, Queue};

use crate::support::{self, blocking, shared, unique_path, within};

#[path = "../curator/javac.rs"]
mod javac;
use javac::classpath;

/// The compiled worker's directory (compiled once per test binary), or `None` without Curator
/// or a JDK (see [`javac::compile`]).
fn worker_classes() -> Option<PathBuf> {
    static CLASSES: OnceLock<Option<PathBuf>> = OnceLock::new();
    CLASSES
        .get_or_init(|| javac::compile("tests/curator/CuratorDataWorker.java"))
        .clone()
}

/// Runs one Curator worker to completion; returns its output lines.
async fn curator(
    classes: &Path,
    mode: &str,
    connect: &str,
    path: &str,
    id: &str,
    count: usize,
) -> Vec<String> {
    let classes = classes.to_path_buf();
    let args = [
        mode.to_string(),
        connect.to_string(),
        path.to_string(),
        id.to_string(),
        count.to_string(),
    ];
    let what = format!("Curator {mode} worker {id}");
    let output = blocking(move || {
        Command::new("java")
            .arg("-cp")
            .arg(classpath(&classes))
            .arg("CuratorDataWorker")
            .args(&args)
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
        lines.iter().any(|l| l.starts_with("DONE")),
        "{what}: {lines:?}"
    );
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_zk_recipes_share_a_queue() {
    if !support::available() {
        return;
    }
    let Some(classes) = worker_classes() else {
        return;
    };
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let path = unique_path("curator-queue");
    let queue = Queue::new(&client, &path).unwrap();
    // Curator puts, we take: Curator's item bytes decode here.
    curator(&classes, "put", &cluster.connect_string(), &path, "c", 20).await;
    let mut got = BTreeSet::new();
    while let Some(item) = queue.try_take().await.unwrap() {
        assert!(
            got.insert(String::from_utf8(item.to_vec()).unwrap()),
            "twice"
        );
    }
    let expected: BTreeSet<String> = (0..20).map(|i| format!("c-{i}")).collect();
    assert_eq!(got, expected);

    // We put, Curator takes while we take too (slowly, so both get some): every item
    // exactly once.
    let total = 30;
    for i in 0..total {
        queue.put(format!("r-{i}").as_bytes()).await.unwrap();
    }
    let connect = cluster.connect_string();
    let consumer = curator(&classes, "take", &connect, &path, "t", total);
    let ours = async {
        let mut mine = Vec::new();
        let other = support::connect(&cluster).await;
        let q = Queue::new(&other, &path).unwrap();
        // Once Curator's consumer has started taking, take side by side.
        within(60, "Curator taking an item", async {
            while q.len().await.unwrap() >= total {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        while let Some(item) = q.take_timeout(Duration::from_millis(1500)).await.unwrap() {
            mine.push(String::from_utf8(item.to_vec()).unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        mine
    };
    let (lines, mine) = tokio::join!(consumer, ours);
    let theirs: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ITEM "))
        .map(str::to_string)
        .collect();
    eprintln!(
        "Curator took {}, zk-recipes took {}",
        theirs.len(),
        mine.len()
    );
    let mut all: Vec<String> = theirs.iter().chain(mine.iter()).cloned().collect();
    all.sort();
    let mut expected: Vec<String> = (0..total).map(|i| format!("r-{i}")).collect();
    expected.sort();
    assert_eq!(all, expected, "each item exactly once");
    assert!(!theirs.is_empty(), "Curator decoded none of our items");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_zk_recipes_share_an_atomic_long() {
    if !support::available() {
        return;
    }
    let Some(classes) = worker_classes() else {
        return;
    };
    let cluster = shared();
    let path = unique_path("curator-atomic");
    let per_worker = 25;
    let mut tasks = Vec::new();
    for i in 0..2 {
        let (classes, connect, path) = (classes.clone(), cluster.connect_string(), path.clone());
        tasks.push(tokio::spawn(async move {
            curator(
                &classes,
                "atomic",
                &connect,
                &path,
                &format!("c{i}"),
                per_worker,
            )
            .await;
        }));
    }
    for _ in 0..2 {
        let client = support::connect(&cluster).await;
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let value = AtomicValue::new(&client, &path).unwrap();
            for _ in 0..per_worker {
                assert!(value.increment().await.unwrap().succeeded);
            }
        }));
    }
    for task in tasks {
        within(120, "incrementing", task).await.unwrap();
    }
    let client = support::connect(&cluster).await;
    let value = AtomicValue::new(&client, &path)
        .unwrap()
        .get()
        .await
        .unwrap();
    assert_eq!(value, 4 * per_worker as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curator_and_zk_recipes_share_a_double_barrier() {
    if !support::available() {
        return;
    }
    let Some(classes) = worker_classes() else {
        return;
    };
    let cluster = shared();
    let path = unique_path("curator-dbarrier");
    let members = 4;
    let java = {
        let (classes, connect, path) = (classes.clone(), cluster.connect_string(), path.clone());
        tokio::spawn(async move {
            let (a, b) = tokio::join!(
                curator(&classes, "dbarrier", &connect, &path, "c0", members),
                curator(&classes, "dbarrier", &connect, &path, "c1", members),
            );
            (a, b)
        })
    };
    let ours = async {
        let a = support::connect(&cluster).await;
        let b = support::connect(&cluster).await;
        let mut x = DoubleBarrier::new(&a, &path, members).unwrap();
        let mut y = DoubleBarrier::new(&b, &path, members).unwrap();
        let (e1, e2) = tokio::join!(x.enter(), y.enter());
        e1.unwrap();
        e2.unwrap();
        // Everyone is in: the directory holds four members and `ready`.
        assert!(a.get_children(&path).await.unwrap().len() >= members);
        let (l1, l2) = tokio::join!(x.leave(), y.leave());
        l1.unwrap();
        l2.unwrap();
    };
    within(90, "our members", ours).await;
    let (c0, c1) = within(90, "Curator's members", java).await.unwrap();
    for lines in [c0, c1] {
        assert!(
            lines.iter().any(|l| l == "ENTERED") && lines.iter().any(|l| l == "LEFT"),
            "{lines:?}"
        );
    }
}
