//! PersistentNode and PersistentTtlNode: re-creation after deletion and expiry, taking over
//! an existing node, protected sequential names, TTL reaping.

use std::time::Duration;

use zk_client::{CreateMode, CreateOptions};
use zk_recipes::{PersistentNode, PersistentTtlNode};

use super::{expire, renewing};
use crate::support::{self, blocking, launch, shared, unique_path, within, ServerOptions};

#[tokio::test]
async fn persistent_node_comes_back_after_deletion() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let other = support::connect(&cluster).await;
    let path = format!("{}/live/me", unique_path("pnode"));
    let node = PersistentNode::new(&client, &path, CreateMode::Ephemeral, b"up").unwrap();
    assert!(node.wait_for_initial_create(Duration::from_secs(10)).await);
    assert_eq!(node.path().as_deref(), Some(path.as_str()));
    other.sync(&path).await.unwrap();
    let (data, stat) = other.get_data(&path).await.unwrap();
    assert_eq!(
        (&data[..], stat.ephemeral_owner),
        (&b"up"[..], client.session_id().0)
    );

    for _ in 0..3 {
        let czxid = other.exists(&path).await.unwrap().unwrap().czxid;
        other.delete(&path, None).await.unwrap();
        within(10, "re-created", async {
            loop {
                match other.exists(&path).await.unwrap() {
                    Some(stat) if stat.czxid != czxid => break,
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
        .await;
    }
    node.set_data(b"busy").await.unwrap();
    other.sync(&path).await.unwrap();
    assert_eq!(&other.get_data(&path).await.unwrap().0[..], b"busy");
    node.close().await.unwrap();
    other.sync(&path).await.unwrap();
    assert!(other.exists(&path).await.unwrap().is_none());

    // An existing node is taken over with our data; dropping the handle deletes it.
    other
        .create(&path, b"theirs", &CreateOptions::default())
        .await
        .unwrap();
    let node = PersistentNode::new(&client, &path, CreateMode::Persistent, b"ours").unwrap();
    assert!(node.wait_for_initial_create(Duration::from_secs(10)).await);
    other.sync(&path).await.unwrap();
    assert_eq!(&other.get_data(&path).await.unwrap().0[..], b"ours");
    drop(node);
    within(10, "deleted on drop", async {
        while other.exists(&path).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn protected_sequential_persistent_node() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let dir = unique_path("pnode-seq");
    let node = PersistentNode::new(
        &client,
        &format!("{dir}/n-"),
        CreateMode::EphemeralSequential,
        b"",
    )
    .unwrap();
    assert!(node.wait_for_initial_create(Duration::from_secs(10)).await);
    let first = node.path().unwrap();
    let name = zk_proto::path::basename(&first);
    assert!(
        name.starts_with("_c_") && zk_client::parse_sequence(name).is_some(),
        "{name}"
    );
    let mut path = node.watch_path();
    client.delete(&first, None).await.unwrap();
    within(
        10,
        "a new name",
        path.wait_for(|p| p.as_ref().is_some_and(|p| *p != first)),
    )
    .await
    .unwrap();
    assert_eq!(client.get_children(&dir).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_node_comes_back_in_a_renewed_session() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let (proxy, client) = renewing(&cluster).await;
    let observer = support::connect(&cluster).await;
    let path = unique_path("pnode-expiry");
    let node = PersistentNode::new(&client, &path, CreateMode::Ephemeral, b"x").unwrap();
    assert!(node.wait_for_initial_create(Duration::from_secs(10)).await);
    let old = client.session_id();
    expire(&cluster, &proxy, &client).await;
    within(20, "re-created in the new session", async {
        loop {
            if let Some(stat) = observer.exists(&path).await.unwrap() {
                if stat.ephemeral_owner != old.0 && stat.ephemeral_owner == client.session_id().0 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_ne!(client.session_id(), old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_node_lives_while_touched() {
    if !support::available() {
        return;
    }
    let opts = ServerOptions {
        container_check_ms: Some(100),
        ..ServerOptions::default()
    };
    let cluster = blocking(move || launch(1, &opts)).await;
    let client = support::connect(&cluster).await;
    let path = unique_path("ttl");
    assert!(PersistentTtlNode::new(&client, &path, Duration::ZERO, b"").is_err());
    let node =
        PersistentTtlNode::new(&client, &path, Duration::from_millis(400), b"lease").unwrap();
    assert!(node.wait_for_initial_create(Duration::from_secs(10)).await);
    let touch = format!("{path}/{}", zk_recipes::TTL_TOUCH_NODE);
    within(10, "the touch node", async {
        while client.exists(&touch).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Several TTLs later both are still there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(client.exists(&touch).await.unwrap().is_some());
    assert_eq!(&client.get_data(&path).await.unwrap().0[..], b"lease");
    drop(node);
    // No longer touched: the server reaps the child, then the container.
    within(20, "reaped", async {
        while client.exists(&path).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let _ = CreateOptions::default();
}
