//! Leader election: one term at a time, cancellation on loss, auto-requeue.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_client::{CreateOptions, Op};
use zk_recipes::LeaderElection;

use super::{clients, eventually, proxied, server};
use crate::support::{unique_path, within};

#[tokio::test]
async fn every_participant_leads_once_one_at_a_time() {
    let Some(cluster) = server() else { return };
    let c = clients(&cluster, 5).await;
    let dir = unique_path("election");
    let data = format!("{dir}-data");
    c[0].create(&data, b"", &CreateOptions::default())
        .await
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let terms = Arc::new(AtomicUsize::new(0));
    let mut elections = Vec::new();
    for (i, client) in c.iter().enumerate() {
        let (running, terms, data) = (running.clone(), terms.clone(), data.clone());
        let client = client.clone();
        let id = format!("p{i}");
        let election = LeaderElection::builder(&client, &dir, &id)
            .start(move |leadership| {
                let (running, terms, data, client, id) = (
                    running.clone(),
                    terms.clone(),
                    data.clone(),
                    client.clone(),
                    id.clone(),
                );
                async move {
                    assert_eq!(
                        running.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two terms at once"
                    );
                    let (node_data, _) = client.get_data(leadership.token().path()).await.unwrap();
                    assert_eq!(&node_data[..], id.as_bytes());
                    leadership
                        .fenced_multi(&[Op::set_data(data, id.into_bytes(), None)])
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    terms.fetch_add(1, Ordering::SeqCst);
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        elections.push(election);
    }
    eventually(30, "five terms", || async {
        elections.iter().all(LeaderElection::is_finished)
    })
    .await;
    assert_eq!(terms.load(Ordering::SeqCst), 5);
    for election in elections {
        election.close().await;
    }
}

/// Sets its flag when dropped: tells that a term's future was cancelled.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_term_is_cancelled_when_leadership_is_lost_and_requeues() {
    let Some(cluster) = server() else { return };
    let (proxy, client) = proxied(&cluster).await;
    let other = clients(&cluster, 1).await.remove(0);
    let dir = unique_path("election-cancel");
    let cancelled = Arc::new(AtomicBool::new(false));
    let a_terms = Arc::new(AtomicUsize::new(0));
    let a = LeaderElection::builder(&client, &dir, "a")
        .auto_requeue(true)
        .start({
            let (cancelled, a_terms) = (cancelled.clone(), a_terms.clone());
            move |leadership| {
                let flag = DropFlag(cancelled.clone());
                a_terms.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _flag = flag;
                    // Leads until cancelled; `lost()` is there for tasks that wind down.
                    leadership.lost().await;
                    std::future::pending::<()>().await;
                }
            }
        })
        .unwrap();
    eventually(10, "a leads", || async { a.is_leader() }).await;
    let b_terms = Arc::new(AtomicUsize::new(0));
    let b = LeaderElection::builder(&other, &dir, "b")
        .start({
            let b_terms = b_terms.clone();
            move |_| {
                let b_terms = b_terms.clone();
                async move {
                    b_terms.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .unwrap();
    proxy.set_blocked(true);
    proxy.cut();
    within(10, "a's term cancelled on suspension", async {
        while !cancelled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!a.is_leader());
    // a's node stays until a can delete it: b cannot lead meanwhile.
    assert_eq!(b_terms.load(Ordering::SeqCst), 0);
    proxy.set_blocked(false);
    eventually(20, "b's term", || async {
        b_terms.load(Ordering::SeqCst) == 1
    })
    .await;
    // a queued up again and leads once b is done.
    eventually(20, "a's second term", || async {
        a_terms.load(Ordering::SeqCst) == 2 && a.is_leader()
    })
    .await;
    assert!(b.is_finished() || !b.is_leader());
    a.close().await;
    b.close().await;
}
