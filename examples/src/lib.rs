//! Runnable examples of zk-rs: one program per ZooKeeper use case, and the small pieces they
//! share.
//!
//! | use case | module | binary |
//! |---|---|---|
//! | configuration center ([`zk_recipes::NodeCache`]) | [`config_center`] | `config-center` |
//! | naming service ([`zk_recipes::ServiceDiscovery`]) | [`naming`] | `naming` |
//! | distributed lock ([`zk_recipes::Mutex`], fencing tokens) | [`lock`] | `lock` |
//! | leader election ([`zk_recipes::LeaderElection`]) | [`leader`] | `leader` |
//! | distributed queue ([`zk_recipes::LockingQueue`]) | [`queue`] | `queue` |
//! | double barrier ([`zk_recipes::DoubleBarrier`]) | [`barrier`] | `barrier` |
//!
//! The `tour` binary runs them all in turn on one set of servers; `demo` shows the plain
//! client API (watches, ephemeral nodes) and what faults do to it.
//!
//! Every example takes its servers from [`Servers`]: an embedded zk-testserver by default,
//! so it runs on a fresh machine with nothing installed, or any ZooKeeper ensemble (real
//! Apache ZooKeeper included) given by `--connect host:port[,host:port...]` or the
//! `ZK_SERVERS` environment variable. The examples only use the connect string and the
//! fault methods of [`Servers`], so they do not depend on which servers these are. Each works
//! under its own root node ([`fresh_root`]) and removes it when done.
//!
//! Every step waits on an event, never on a sleep, and fails after 10 seconds ([`step`]).

pub mod barrier;
pub mod config_center;
pub mod leader;
pub mod lock;
pub mod naming;
mod proxy;
pub mod queue;
mod servers;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use servers::Servers;

/// The error type of the examples: anything printable.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The node under which every example keeps its data (`/zk-rs-examples/<example>`).
pub const EXAMPLES_ROOT: &str = "/zk-rs-examples";

/// Awaits `fut` for at most 10 seconds, turning a timeout into an error naming `step`.
pub async fn step<F: Future>(step: &str, fut: F) -> Result<F::Output, BoxError> {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| format!("timed out: {step}").into())
}

/// Deletes `EXAMPLES_ROOT/name` with everything under it (a previous run may have left it on
/// a shared ensemble) and returns its path.
pub async fn fresh_root(client: &zk_client::Client, name: &str) -> Result<String, BoxError> {
    let root = format!("{EXAMPLES_ROOT}/{name}");
    remove(client, &root).await?;
    Ok(root)
}

/// Deletes `path` and everything under it; a missing node is fine.
pub async fn remove(client: &zk_client::Client, path: &str) -> Result<(), BoxError> {
    match client.delete_all(path).await {
        Ok(()) | Err(zk_client::Error::NoNode) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Where an example prints: plain lines when it runs alone, lines tagged with its name when
/// the tour runs several at once.
#[derive(Debug, Clone)]
pub struct Out {
    tag: Option<String>,
}

impl Out {
    /// Plain lines.
    pub fn plain() -> Out {
        Out { tag: None }
    }

    /// Lines starting with `[tag]`.
    pub fn tagged(tag: &str) -> Out {
        Out {
            tag: Some(tag.to_string()),
        }
    }

    /// Prints one line.
    pub fn line(&self, args: fmt::Arguments<'_>) {
        match &self.tag {
            Some(tag) => println!("[{tag}] {args}"),
            None => println!("{args}"),
        }
    }
}

/// Prints a line through an [`Out`]: `say!(out, "format {}", args)`.
#[macro_export]
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}

/// The start of an example binary's `main`: logging, the servers from the command line (or
/// `ZK_SERVERS`), a first line saying where it runs, and plain output.
pub async fn start(name: &str) -> Result<(Servers, Out), BoxError> {
    init_logging();
    let servers = Servers::from_args().await?;
    println!("zk-rs example `{name}` on {}", servers.describe());
    Ok((servers, Out::plain()))
}

/// Text of a node's data, for printing.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Logs to stderr at the level in `RUST_LOG` (default: errors only, since the examples cause
/// session expiries on purpose and the client warns of each).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
}
