//! The distributed lock example: see [`zk_examples::lock`].
//!
//! ```sh
//! cargo run -p zk-examples --bin lock                                  # embedded servers
//! cargo run -p zk-examples --bin lock -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("lock").await?;
    zk_examples::lock::run(&servers, &out).await
}
