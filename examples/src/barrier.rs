//! **Double barrier (data sync).** Four workers, each with its own session, meet at a
//! [`DoubleBarrier`] (Curator's `DistributedDoubleBarrier` layout). They arrive one after
//! another and the early ones wait; no one starts computing before all four are in. Each
//! then publishes its partial result and leaves; no one gets past `leave` before all four
//! have published, so every worker then reads the complete set of results.
//!
//! ```sh
//! cargo run -p zk-examples --bin barrier [-- --connect host:port,...]
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;
use zk_client::{Client, CreateMode, CreateOptions, EventType};
use zk_recipes::DoubleBarrier;

use crate::{fresh_root, remove, retry_op, say, step, text, BoxError, Out, Servers};

const WORKERS: usize = 4;

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let admin = servers.client().await?;
    let root = fresh_root(&admin, "barrier").await?;
    let barrier = format!("{root}/barrier");
    let results = format!("{root}/results");
    admin
        .create_all(&results, b"", &CreateOptions::new(CreateMode::Persistent))
        .await?;

    let arrived = AtomicUsize::new(0);
    let mut workers = Vec::new();
    let mut gates = Vec::new();
    for w in 0..WORKERS {
        let client = servers.client().await?;
        let (gate, go) = oneshot::channel::<()>();
        gates.push(gate);
        let (barrier, results, arrived) = (&barrier, &results, &arrived);
        workers.push(async move {
            let result = worker(servers, &client, out, w, barrier, results, arrived, go).await;
            client.close().await?;
            result
        });
    }

    // Let the workers arrive one at a time: the next one comes once the previous one is
    // waiting inside the barrier.
    let gating = async {
        for (w, gate) in gates.into_iter().enumerate() {
            gate.send(()).map_err(|_| "a worker stopped")?;
            if w + 1 < WORKERS {
                await_members(&admin, &barrier, w + 1).await?;
                say!(out, "{} of {WORKERS} waiting at the barrier", w + 1);
            }
        }
        Ok::<_, BoxError>(())
    };
    let (sums, ()) =
        futures::future::try_join(futures::future::try_join_all(workers), gating).await?;
    let expected: u64 = (1..=WORKERS as u64).map(|w| w * 10).sum();
    if sums.iter().any(|&sum| sum != expected) {
        return Err(format!("the workers saw sums {sums:?}, expected {expected}").into());
    }
    remove(&admin, &root).await?;
    admin.close().await?;
    say!(
        out,
        "barrier done: all {WORKERS} workers entered together and left with the full result {expected}"
    );
    Ok(())
}

/// Worker `w`: waits for its gate, enters, publishes `(w + 1) * 10`, leaves, and returns the
/// sum of the results it reads after leaving.
#[allow(clippy::too_many_arguments)]
async fn worker(
    servers: &Servers,
    client: &Client,
    out: &Out,
    w: usize,
    barrier: &str,
    results: &str,
    arrived: &AtomicUsize,
    go: oneshot::Receiver<()>,
) -> Result<u64, BoxError> {
    let mut member = DoubleBarrier::new(client, barrier, WORKERS)?;
    go.await?;
    arrived.fetch_add(1, Ordering::SeqCst);
    say!(out, "worker {w} arrives");
    step("enter the barrier", member.enter()).await??;
    let here = arrived.load(Ordering::SeqCst);
    if here != WORKERS {
        return Err(format!("worker {w} entered with only {here} arrived").into());
    }
    say!(out, "worker {w} enters: all {WORKERS} are in; computing");
    if w == 0 {
        servers.failover_point(out).await?;
    }
    let partial = (w as u64 + 1) * 10;
    let result = format!("{results}/worker-{w}");
    let create = || {
        client.create(
            &result,
            partial.to_string().as_bytes(),
            &CreateOptions::default(),
        )
    };
    match retry_op(client, create).await {
        // NodeExists: only this worker creates it, so a first attempt did.
        Ok(_) | Err(zk_client::Error::NodeExists) => {}
        Err(e) => return Err(e.into()),
    }
    step("leave the barrier", member.leave()).await??;
    let mut sum = 0;
    let names = retry_op(client, || client.get_children(results)).await?;
    for name in &names {
        let path = format!("{results}/{name}");
        let (data, _) = retry_op(client, || client.get_data(&path)).await?;
        sum += text(&data).parse::<u64>()?;
    }
    say!(
        out,
        "worker {w} leaves and reads all {} results: sum = {sum}",
        names.len()
    );
    Ok(sum)
}

/// Waits until the barrier has `count` member nodes (its children other than `ready`).
async fn await_members(client: &Client, barrier: &str, count: usize) -> Result<(), BoxError> {
    loop {
        let (watcher, members) =
            match retry_op(client, || client.get_children_and_watch(barrier)).await {
                Ok((children, _, watcher)) => {
                    let members = children.iter().filter(|c| *c != "ready").count();
                    (Some(watcher), members)
                }
                Err(zk_client::Error::NoNode) => (None, 0),
                Err(e) => return Err(e.into()),
            };
        if members >= count {
            return Ok(());
        }
        match watcher {
            Some(watcher) => {
                let event = step("a member arrives", watcher.changed()).await?;
                if event.event_type != EventType::NodeChildrenChanged {
                    return Err(format!("unexpected event {event:?}").into());
                }
            }
            None => {
                // The barrier node does not exist yet: wait for it to appear.
                let (_, watcher) = client.exists_and_watch(barrier).await?;
                step("the barrier node appears", watcher.changed()).await?;
            }
        }
    }
}
