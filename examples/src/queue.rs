//! **Distributed queue.** Two producers put ten tasks each on a FIFO [`LockingQueue`]
//! (Curator's `DistributedQueue` with a lock path: at-least-once delivery); three consumers,
//! each with its own session, take tasks, process them and acknowledge them.
//!
//! Processing a task records it under `done/<task>` with a create: a task delivered twice
//! (at least once means a consumer that dies mid-task leaves its task to another) finds its
//! marker and is not processed again, so every task is processed exactly once. Each consumer
//! takes tasks in queue order. When the producers are done, one `stop` item per consumer ends
//! the consumers.
//!
//! ```sh
//! cargo run -p zk-examples --bin queue [-- --connect host:port,...]
//! ```

use std::collections::BTreeSet;

use zk_client::{CreateMode, CreateOptions, Error as ClientError};
use zk_recipes::LockingQueue;

use crate::{fresh_root, remove, say, step, text, BoxError, Out, Servers};

const PRODUCERS: usize = 2;
const TASKS: usize = 10;
const CONSUMERS: usize = 3;
const STOP: &[u8] = b"stop";

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
    admin
        .create_all(
            &paths.done,
            b"",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await?;

    let consumers =
        futures::future::try_join_all((0..CONSUMERS).map(|c| consume(servers, &paths, c)));
    let producers = async {
        futures::future::try_join_all((0..PRODUCERS).map(|p| produce(servers, out, &paths, p)))
            .await?;
        let queue = LockingQueue::new(&admin, &paths.queue, &paths.locks)?;
        for _ in 0..CONSUMERS {
            queue.put(STOP).await?;
        }
        Ok::<_, BoxError>(())
    };
    let (consumed, ()) = futures::future::try_join(consumers, producers).await?;

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
    let done = admin.get_children(&paths.done).await?;
    if all.len() != PRODUCERS * TASKS || done.len() != PRODUCERS * TASKS {
        return Err(format!("{} tasks processed, {} recorded", all.len(), done.len()).into());
    }
    let left = LockingQueue::new(&admin, &paths.queue, &paths.locks)?
        .len()
        .await?;
    if left != 0 {
        return Err(format!("{left} items left in the queue").into());
    }
    say!(
        out,
        "all {} tasks processed exactly once ({redelivered} redelivered and skipped); queue empty",
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
        names.push(queue.put(format!("p{p}-task-{k}").as_bytes()).await?);
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

/// Consumer `c`: takes, processes and acknowledges until it takes a `stop`.
async fn consume(servers: &Servers, paths: &Paths, c: usize) -> Result<Consumed, BoxError> {
    let client = servers.client().await?;
    let queue = LockingQueue::new(&client, &paths.queue, &paths.locks)?;
    let mut consumed = Consumed {
        names: Vec::new(),
        processed: Vec::new(),
        redelivered: 0,
    };
    loop {
        let item = step("take a task", queue.take()).await??;
        let task = text(&item.data());
        consumed.names.push(item.name().to_string());
        if task.as_bytes() == STOP {
            item.ack().await?;
            break;
        }
        let marker = format!("{}/{task}", paths.done);
        let by = format!("consumer-{c}");
        match client
            .create(
                &marker,
                by.as_bytes(),
                &CreateOptions::new(CreateMode::Persistent),
            )
            .await
        {
            Ok(_) => consumed.processed.push(task),
            Err(ClientError::NodeExists) => consumed.redelivered += 1,
            Err(e) => return Err(e.into()),
        }
        item.ack().await?;
    }
    client.close().await?;
    Ok(consumed)
}
