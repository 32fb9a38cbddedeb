//! The double barrier example: see [`zk_examples::barrier`].
//!
//! ```sh
//! cargo run -p zk-examples --bin barrier                                  # embedded servers
//! cargo run -p zk-examples --bin barrier -- --connect 127.0.0.1:2181     # any ensemble
//! ```

use zk_examples::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (servers, out) = zk_examples::start("barrier").await?;
    zk_examples::barrier::run(&servers, &out).await
}
