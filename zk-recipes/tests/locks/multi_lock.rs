//! The multi-lock: all or nothing, fenced writes over every lock.

use zk_client::{CreateOptions, Op};
use zk_recipes::{Error, MultiLock, Mutex};

use super::{children, clients, eventually, server};
use crate::support::{unique_path, within};

#[tokio::test]
async fn all_or_nothing() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 2).await;
    let a = unique_path("multi-a");
    let b = unique_path("multi-b");
    let both = MultiLock::from_paths(&c[0], &[&a, &b]).unwrap();
    // b is taken elsewhere: the multi-lock takes nothing, and gives a back.
    let other_b = Mutex::new(&c[1], &b).unwrap().acquire().await.unwrap();
    assert!(both.try_acquire().await.unwrap().is_none());
    eventually(10, "a released again", || async {
        children(&c[0], &a).await.is_empty()
    })
    .await;
    let other_a = Mutex::new(&c[1], &a).unwrap();
    other_a
        .try_acquire()
        .await
        .unwrap()
        .expect("a is free")
        .release()
        .await;

    let waiting = tokio::spawn({
        let both = both.clone();
        async move { both.acquire().await }
    });
    other_b.release().await;
    let guard = within(10, "both locks", waiting).await.unwrap().unwrap();
    assert_eq!(guard.tokens().len(), 2);
    assert!(other_a.try_acquire().await.unwrap().is_none());

    // Fenced writes check every lock node.
    let data = unique_path("multi-data");
    c[0].create(&data, b"", &CreateOptions::default())
        .await
        .unwrap();
    guard
        .fenced_multi(&[Op::set_data(data.clone(), b"1".to_vec(), None)])
        .await
        .unwrap();
    let b_node = guard.tokens()[1].path().to_string();
    c[1].delete(&b_node, None).await.unwrap();
    let refused = guard
        .fenced_multi(&[Op::set_data(data.clone(), b"2".to_vec(), None)])
        .await;
    assert!(
        matches!(&refused, Err(Error::Fenced { path }) if *path == b_node),
        "{refused:?}"
    );
    guard.release().await;
    assert!(children(&c[0], &a).await.is_empty());
    assert!(children(&c[0], &b).await.is_empty());
}
