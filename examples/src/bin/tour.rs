//! The tour: every example in turn, on one set of servers (embedded by default).
//!
//! ```sh
//! cargo run --release -p zk-examples --bin tour
//! cargo run --release -p zk-examples --bin tour -- --connect 127.0.0.1:2181
//! ```

use std::time::Instant;

use zk_examples::{barrier, config_center, leader, lock, naming, queue, BoxError, Out};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, _) = zk_examples::start("tour").await?;
    let started = Instant::now();
    let out = Out::plain();
    println!("\n== 1. configuration center (NodeCache)");
    config_center::run(&servers, &out).await?;
    println!("\n== 2. naming service (ServiceDiscovery)");
    naming::run(&servers, &out).await?;
    println!("\n== 3. distributed lock (Mutex, fencing tokens)");
    lock::run(&servers, &out).await?;
    println!("\n== 4. leader election (LeaderElection)");
    leader::run(&servers, &out).await?;
    println!("\n== 5. distributed queue (LockingQueue)");
    queue::run(&servers, &out).await?;
    println!("\n== 6. double barrier (DoubleBarrier)");
    barrier::run(&servers, &out).await?;
    println!(
        "\ntour complete in {:.1?}: every step was confirmed by an event or a read",
        started.elapsed()
    );
    Ok(())
}
