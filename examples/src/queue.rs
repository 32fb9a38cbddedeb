//! **Distributed queue.** Two producers put ten tasks each on a FIFO [`LockingQueue`]
//! (Curator's `DistributedQueue` with a lock path: at-least-once delivery); three consumers,
//! each with its own session, take tasks, process them and acknowledge them.
//!
//! Processing a task records it under `done/<task>` with a create. A task delivered twice
//! (at least once means a consumer that dies mid-task leaves its task to another; a producer
//! that lost the reply to a put puts the task again) finds its marker and is not processed
//! again, so every task is processed exactly once. Each consumer takes tasks in queue order.
//! Once all tasks are recorded the consumers stop, and whatever is left in the queue (only
//! repeated tasks) is drained.
//!
//! ```sh
//! cargo run -p zk-examples --bin queue [-- --connect host:port,...]
//! ```

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError};
use zk_recipes::{Error as RecipeError, LockingQueue};

use crate::{fresh_root, reconnected, remove, retry_op, say, step, text, BoxError, Out, Servers};

const PRODUCERS: usize = 2;
const TASKS: usize = 10;
const CONSUMERS: usize = 3;

/// Paths of the example's nodes.
struct Paths {
    queue: String,
    locks: String,
    done: String,
}

/// What one consumer did.
struct Consumed {
    /// The queue names of the tasks it took, in the order it took them.
    names: Vec<String>,
    /// The tasks it processed.
    processed: Vec<String>,
    /// Tasks delivered again that it found already processed.
    redelivered: usize,
}

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let admin = servers.client().await?;
    let root = fresh_root(&admin, "queue").await?;
    let paths = Paths {
        queue: format!("{root}/tasks"),
        locks: format!("{root}/locks"),
        done: format!("{root}/done"),
    };
    let persistent = CreateOptions::new(CreateMode::Persistent);
    admin.create_all(&paths.done, b"", &persistent).await?;

    let (stop, stopped) = watch::channel(false);
    let processed = AtomicUsize::new(0);
    let consumers =
        (0..CONSUMERS).map(|c| consume(servers, out, &paths, c, &processed, stopped.clone()));
    let producers = (0..PRODUCERS).map(|p| produce(servers, out, &paths, p));
    let all_done = async {
        await_markers(&admin, &paths.done, PRODUCERS * TASKS).await?;
        stop.send_replace(true);
        Ok::<_, BoxError>(())
    };
    let (consumed, _, ()) = futures::future::try_join3(
        futures::future::try_join_all(consumers),
        futures::future::try_join_all(producers),
        all_done,
    )
    .await?;

    let mut all = BTreeSet::new();
    let mut redelivered = 0;
    for (c, consumed) in consumed.iter().enumerate() {
        if consumed.names.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("consumer {c} took {:?} out of order", consumed.names).into());
        }
        for task in &consumed.processed {
            if !all.insert(task.clone()) {
                return Err(format!("{task} was processed twice").into());
            }
        }
        redelivered += consumed.redelivered;
        say!(
            out,
            "consumer {c} processed {} tasks, in queue order: {}",
            consumed.processed.len(),
            consumed.processed.join(" ")
        );
    }
    let done = retry_op(&admin, || admin.get_children(&paths.done)).await?;
    if all.len() != PRODUCERS * TASKS || done.len() != PRODUCERS * TASKS {
        return Err(format!("{} tasks processed, {} recorded", all.len(), done.len()).into());
    }
    // Only repeated tasks may be left: drain them.
    let queue = LockingQueue::new(&admin, &paths.queue, &paths.locks)?;
    while let Some(item) = queue.try_take().await? {
        let task = text(&item.data());
        if !all.contains(&task) {
            return Err(format!("{task} was left unprocessed").into());
        }
        item.ack().await?;
        redelivered += 1;
    }
    say!(
        out,
        "all {} tasks processed exactly once ({redelivered} repeated deliveries skipped); queue empty",
        PRODUCERS * TASKS
    );
    remove(&admin, &root).await?;
    admin.close().await?;
    say!(out, "queue done");
    Ok(())
}

/// Producer `p`: its own session, `TASKS` tasks.
async fn produce(servers: &Servers, out: &Out, paths: &Paths, p: usize) -> Result<(), BoxError> {
    let client = servers.client().await?;
    let queue = LockingQueue::new(&client, &paths.queue, &paths.locks)?;
    let mut names = Vec::new();
    for k in 0..TASKS {
        let task = format!("p{p}-task-{k}");
        // A put whose reply was lost may have applied; putting again may repeat the task,
        // which the consumers' markers absorb.
        loop {
            match queue.put(task.as_bytes()).await {
                Ok(name) => break names.push(name),
                Err(RecipeError::Client(e)) if e.is_retryable() => reconnected(&client).await,
                Err(e) => return Err(e.into()),
            }
        }
    }
    say!(
        out,
        "producer {p} put {TASKS} tasks ({} .. {})",
        names[0],
        names[TASKS - 1]
    );
    client.close().await?;
    Ok(())
}

/// Consumer `c`: takes, processes and acknowledges until told to stop.
async fn consume(
    servers: &Servers,
    out: &Out,
    paths: &Paths,
    c: usize,
    processed: &AtomicUsize,
    mut stop: watch::Receiver<bool>,
) -> Result<Consumed, BoxError> {
    let client = servers.client().await?;
    let queue = LockingQueue::new(&client, &paths.queue, &paths.locks)?;
    let mut consumed = Consumed {
        names: Vec::new(),
        processed: Vec::new(),
        redelivered: 0,
    };
    loop {
        // Dropping a take that is waiting releases whatever it locked.
        let item = tokio::select! {
            item = queue.take() => item?,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let task = text(&item.data());
        consumed.names.push(item.name().to_string());
        if process(&client, paths, c, item.name(), &task).await? {
            consumed.processed.push(task);
        } else {
            consumed.redelivered += 1;
        }
        item.ack().await?;
        // Mid-run: once a quarter of the tasks are done (by whichever consumer).
        if processed.fetch_add(1, Ordering::SeqCst) + 1 == PRODUCERS * TASKS / 4 {
            servers.failover_point(out).await?;
        }
    }
    client.close().await?;
    Ok(consumed)
}

/// Records `task` as processed by consumer `c` (taken as queue item `name`); false if it was
/// processed before.
async fn process(
    client: &Client,
    paths: &Paths,
    c: usize,
    name: &str,
    task: &str,
) -> Result<bool, BoxError> {
    let marker = format!("{}/{task}", paths.done);
    let by = format!("consumer-{c} {name}");
    let create = || client.create(&marker, by.as_bytes(), &CreateOptions::default());
    match retry_op(client, create).await {
        Ok(_) => Ok(true),
        // Ours if a first attempt whose reply was lost created it.
        Err(ClientError::NodeExists) => {
            let (data, _) = retry_op(client, || client.get_data(&marker)).await?;
            Ok(data.as_ref() == by.as_bytes())
        }
        Err(e) => Err(e.into()),
    }
}

/// Waits until `done` has `count` children.
async fn await_markers(client: &Client, done: &str, count: usize) -> Result<(), BoxError> {
    loop {
        let (children, _, watcher) =
            retry_op(client, || client.get_children_and_watch(done)).await?;
        if children.len() >= count {
            return Ok(());
        }
        step("a task is processed", watcher.changed()).await?;
    }
}
