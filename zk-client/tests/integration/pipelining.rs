//! Many requests in flight at once: ordered completion, one coalesced stream.

use std::time::Instant;

use futures::future::join_all;
use zk_client::{CreateOptions, Error};

use super::support::{self, connect_one, shared, unique_path, within};

#[tokio::test]
async fn ten_thousand_pipelined_requests_complete_in_order() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("pipeline");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let started = Instant::now();
    // All the writes are queued before any is awaited; each setData's version proves the
    // server applied them in call order. On the ensemble, more than a member keeps waiting
    // for commits per session: it must slow the client down, not drop it.
    let count = match super::SERVER {
        support::ServerKind::RustEnsemble => {
            zk_testserver::core::replicated::MAX_PENDING_PER_SESSION as i32 + 2_000
        }
        _ => 10_000,
    };
    let writes: Vec<_> = (0..count)
        .map(|i| client.set_data(&root, format!("{i}").as_bytes(), Some(i)))
        .collect();
    let stats = within(120, "the pipelined writes", join_all(writes)).await;
    for (i, stat) in stats.into_iter().enumerate() {
        assert_eq!(stat.unwrap().version, i as i32 + 1);
    }
    eprintln!("{count} pipelined setData in {:?}", started.elapsed());

    // Reads interleaved with writes see every earlier write of the session.
    let mut futures = Vec::new();
    for i in 0..1000 {
        futures.push(
            Box::pin(client.set_data(&root, format!("w{i}").as_bytes(), None))
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = Result<zk_client::Stat, Error>> + Send>,
                >,
        );
        let read = client.get_data(&root);
        futures.push(Box::pin(async move { read.await.map(|(_, stat)| stat) }));
    }
    let results = within(60, "mixed", join_all(futures)).await;
    for pair in results.chunks(2) {
        let written = pair[0].as_ref().unwrap();
        let read = pair[1].as_ref().unwrap();
        assert_eq!(written.version, read.version);
    }
    client.delete_all(&root).await.unwrap();
}
