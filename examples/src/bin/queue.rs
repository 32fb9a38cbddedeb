//! The distributed queue example: see [`zk_examples::queue`].
//!
//! ```sh
//! cargo run -p zk-examples --bin queue                                  # embedded servers
//! cargo run -p zk-examples --bin queue -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("queue").await?;
    zk_examples::queue::run(&servers, &out).await
}
