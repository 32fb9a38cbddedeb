//! Runnable examples of zk-rs, one binary per use case (`examples/src/bin`), and the small
//! pieces they share: where the ZooKeeper servers come from, and a step timeout.
//!
//! Every example starts an embedded [`zk_testserver::TestServer`] by default, so it runs on a
//! fresh machine with nothing installed; `--connect host:port[,host:port...]` runs it against
//! any ZooKeeper ensemble instead (real Apache ZooKeeper included).

use std::future::Future;
use std::time::Duration;

use zk_testserver::TestServer;

/// The error type of the examples: anything printable.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the example's servers are.
#[derive(Debug)]
pub enum Servers {
    /// An embedded zk-testserver, alive as long as this value.
    Embedded(Box<TestServer>),
    /// An external ensemble given on the command line.
    External(String),
}

impl Servers {
    /// Starts an embedded server, or uses `--connect <connect string>` from the arguments.
    pub async fn from_args() -> Result<Servers, BoxError> {
        let args: Vec<String> = std::env::args().collect();
        if let Some(i) = args.iter().position(|a| a == "--connect") {
            let connect = args
                .get(i + 1)
                .ok_or("--connect needs a connect string, e.g. 127.0.0.1:2181")?;
            return Ok(Servers::External(connect.clone()));
        }
        let server = TestServer::builder()
            .tick_time_ms(100)
            .session_timeout_bounds(200, 60_000)
            .start()
            .await?;
        Ok(Servers::Embedded(Box::new(server)))
    }

    /// The connect string of the servers.
    pub fn connect_string(&self) -> String {
        match self {
            Servers::Embedded(server) => server.connect_string(),
            Servers::External(connect) => connect.clone(),
        }
    }

    /// The embedded server, for fault injection (`None` for an external ensemble).
    pub fn embedded(&self) -> Option<&TestServer> {
        match self {
            Servers::Embedded(server) => Some(server),
            Servers::External(_) => None,
        }
    }

    /// A line describing the servers.
    pub fn describe(&self) -> String {
        match self {
            Servers::Embedded(server) => {
                format!("embedded zk-testserver at {}", server.connect_string())
            }
            Servers::External(connect) => format!("external ensemble {connect}"),
        }
    }
}

/// Awaits `fut` for at most 10 seconds, turning a timeout into an error naming `step`.
pub async fn step<F: Future>(step: &str, fut: F) -> Result<F::Output, BoxError> {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| format!("timed out: {step}").into())
}

/// Logs to stderr at the level in `RUST_LOG` (default: warnings only).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}
