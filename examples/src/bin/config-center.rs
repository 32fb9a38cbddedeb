//! The config center example: see [`zk_examples::config_center`].
//!
//! ```sh
//! cargo run -p zk-examples --bin config-center                                  # embedded servers
//! cargo run -p zk-examples --bin config-center -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("config-center").await?;
    zk_examples::config_center::run(&servers, &out).await
}
