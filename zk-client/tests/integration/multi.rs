//! multi (atomic writes) and multiRead.

use zk_client::{CreateMode, CreateOptions, Error, ErrorCode, Op, OpResult, ReadOp, ReadResult};

use super::support::{self, connect_one, shared, unique_path};

#[tokio::test]
async fn multi_applies_all_or_nothing() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("multi");
    let opts = CreateOptions::default();
    client.create(&root, b"", &opts).await.unwrap();
    let seq = CreateOptions::new(CreateMode::PersistentSequential);

    let results = client
        .multi(&[
            Op::create(format!("{root}/a"), b"1".to_vec(), &opts),
            Op::create(format!("{root}/s-"), b"".to_vec(), &seq),
            Op::set_data(format!("{root}/a"), b"2".to_vec(), Some(0)),
            Op::check(format!("{root}/a"), Some(1)),
            Op::create(format!("{root}/b"), b"".to_vec(), &opts),
            Op::delete(format!("{root}/b"), None),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 6);
    let OpResult::Create { path, stat } = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(path, &format!("{root}/a"));
    assert_eq!(stat.version, 0);
    let OpResult::Create { path: seq_path, .. } = &results[1] else {
        panic!("{results:?}")
    };
    assert!(seq_path.starts_with(&format!("{root}/s-")) && seq_path.len() == root.len() + 13);
    assert!(matches!(&results[2], OpResult::SetData(stat) if stat.version == 1));
    assert_eq!(results[3], OpResult::Check);
    assert_eq!(results[5], OpResult::Delete);
    // Every op shares one zxid.
    let (_, a) = client.get_data(&format!("{root}/a")).await.unwrap();
    assert_eq!(a.czxid, a.mzxid);

    // A failing op fails the whole transaction: nothing applies, the index is reported.
    let failed = client
        .multi(&[
            Op::create(format!("{root}/c"), b"".to_vec(), &opts),
            Op::check(format!("{root}/a"), Some(7)),
            Op::delete(format!("{root}/a"), None),
        ])
        .await;
    assert_eq!(
        failed,
        Err(Error::MultiFailed {
            index: 1,
            code: ErrorCode::BadVersion
        })
    );
    assert!(failed.unwrap_err().has_no_data_change());
    assert_eq!(client.exists(&format!("{root}/c")).await, Ok(None));
    assert!(client.exists(&format!("{root}/a")).await.unwrap().is_some());

    let failed = client
        .multi(&[
            Op::delete(format!("{root}/a"), None),
            Op::create(format!("{root}/a"), b"".to_vec(), &opts),
            Op::create(format!("{root}/a"), b"".to_vec(), &opts),
        ])
        .await;
    assert!(matches!(
        failed,
        Err(Error::MultiFailed {
            index: 2,
            code: ErrorCode::NodeExists
        })
    ));
    assert!(client.multi(&[]).await.unwrap().is_empty());
    client.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn multi_read_has_per_op_results() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("multiread");
    let opts = CreateOptions::default();
    client.create(&root, b"r", &opts).await.unwrap();
    client
        .create(&format!("{root}/x"), b"", &opts)
        .await
        .unwrap();
    let results = client
        .multi_read(&[
            ReadOp::GetData(root.clone()),
            ReadOp::GetChildren(root.clone()),
            ReadOp::GetData(format!("{root}/missing")),
        ])
        .await
        .unwrap();
    assert!(matches!(&results[0], Ok(ReadResult::Data { data, .. }) if &data[..] == b"r"));
    assert_eq!(results[1], Ok(ReadResult::Children(vec!["x".into()])));
    assert_eq!(results[2], Err(Error::NoNode));
    client.delete_all(&root).await.unwrap();
}
