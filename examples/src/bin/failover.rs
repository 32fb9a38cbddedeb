//! The failover tour: every example in turn on a three-member ensemble, whose leader member
//! is killed in the middle of each (and restarted after it). Each example still checks its
//! guarantees; the tour prints how long writes stalled.
//!
//! ```sh
//! cargo run --release -p zk-examples --bin failover
//! ```
//!
//! It runs on the embedded servers when they are an ensemble, else on three real Apache
//! ZooKeeper JVMs (Debian's `zookeeper` package, installed by `scripts/install-deps.sh`).

use std::time::Instant;

use zk_examples::{init_logging, run_example, BoxError, Out, Servers, EXAMPLES};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_logging();
    let servers = Servers::for_failover().await?;
    println!("zk-rs failover tour on {}", servers.describe());
    let started = Instant::now();
    let out = Out::plain();
    for (i, (name, title)) in EXAMPLES.iter().enumerate() {
        println!("\n== {}. {title}, losing the leader member mid-run", i + 1);
        servers.arm_failover().await?;
        run_example(name, &servers, &out).await?;
        let report = servers
            .disarm_failover()
            .await?
            .ok_or("the example never reached its failover point")?;
        let leader = match report.new_leader {
            Some(member) => format!("member {member} leads now"),
            None => "a new leader was elected".to_string(),
        };
        println!(
            "*** failover: member {} was killed; {leader}; writes resumed {} ms after the kill; \
             {name}'s guarantees held",
            report.killed,
            report.gap.as_millis()
        );
    }
    println!(
        "\nfailover tour complete in {:.1?}: six leader failovers, every example's checks passed",
        started.elapsed()
    );
    Ok(())
}
