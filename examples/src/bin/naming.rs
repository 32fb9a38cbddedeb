//! The naming service example: see [`zk_examples::naming`].
//!
//! ```sh
//! cargo run -p zk-examples --bin naming                                  # embedded servers
//! cargo run -p zk-examples --bin naming -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("naming").await?;
    zk_examples::naming::run(&servers, &out).await
}
