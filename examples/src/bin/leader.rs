//! The leader election example: see [`zk_examples::leader`].
//!
//! ```sh
//! cargo run -p zk-examples --bin leader                                  # embedded servers
//! cargo run -p zk-examples --bin leader -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("leader").await?;
    zk_examples::leader::run(&servers, &out).await
}
