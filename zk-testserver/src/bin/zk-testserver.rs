//! `zk-testserver path/to/zoo.cfg`: a drop-in for `QuorumPeerMain zoo.cfg` in standalone mode.

use std::path::PathBuf;
use std::process::ExitCode;

use zk_testserver::config::ZooCfg;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: zk-testserver path/to/zoo.cfg");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    let cfg = match ZooCfg::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    if cfg.is_ensemble() {
        eprintln!(
            "zk-testserver: {} lists {} servers; this release runs standalone servers only \
             (ensembles come in the next release)",
            path.display(),
            cfg.servers.len()
        );
        return ExitCode::from(2);
    }
    let builder = match cfg.to_builder() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zk-testserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut server = match builder.start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("zk-testserver: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(addr = %server.addr(), "serving; stop with SIGINT");
        let _ = tokio::signal::ctrl_c().await;
        server.stop().await;
        ExitCode::SUCCESS
    })
}
