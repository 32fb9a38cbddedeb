//! The tour: every example in turn, on one set of servers (embedded by default).
//!
//! ```sh
//! cargo run --release -p zk-examples --bin tour
//! cargo run --release -p zk-examples --bin tour -- --connect 127.0.0.1:2181
//! ```

use std::time::Instant;

use zk_examples::{run_example, BoxError, EXAMPLES};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("tour").await?;
    let started = Instant::now();
    for (i, (name, title)) in EXAMPLES.iter().enumerate() {
        println!("\n== {}. {title}", i + 1);
        run_example(name, &servers, &out).await?;
    }
    println!(
        "\ntour complete in {:.1?}: every step was confirmed by an event or a read",
        started.elapsed()
    );
    Ok(())
}
