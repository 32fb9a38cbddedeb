//! `zk-testserver [JVM flags] [-Dname=value ...] [main class] path/to/zoo.cfg`: a drop-in for
//! `java ... QuorumPeerMain zoo.cfg` in standalone mode (see the crate docs, "Drop-in for the
//! java command line").

use std::process::ExitCode;

use zk_testserver::config::{CommandLine, PropertyUse, ZooCfg};

const USAGE: &str = "usage: zk-testserver [JVM flags] [-Dname=value ...] \
                     [org.apache.zookeeper.server.quorum.QuorumPeerMain] path/to/zoo.cfg";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<Result<_, _>>()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("zk-testserver: argument is not UTF-8: {bad:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let command_line = match CommandLine::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zk-testserver: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for flag in &command_line.skipped {
        tracing::debug!(%flag, "JVM argument skipped");
    }
    let path = &command_line.config;
    let mut cfg = match ZooCfg::load(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    match cfg.apply_system_properties(&command_line.properties) {
        Ok(uses) => {
            for (name, used) in uses {
                match used {
                    PropertyUse::Applied(key) => {
                        tracing::debug!(%name, %key, "system property applied")
                    }
                    PropertyUse::OverriddenByFile(key) => tracing::info!(
                        %name,
                        %key,
                        "system property overridden by zoo.cfg (ZooKeeper's precedence)"
                    ),
                    PropertyUse::Unknown => {
                        tracing::warn!(%name, "system property ignored by zk-testserver")
                    }
                    _ => tracing::debug!(%name, "JVM or logging property skipped"),
                }
            }
        }
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    }
    match cfg.member_plan() {
        Ok(None) => {}
        Ok(Some(plan)) => {
            eprintln!(
                "zk-testserver: {} makes server {} a member of an ensemble of {};                  this build runs standalone servers only",
                path.display(),
                plan.id,
                plan.peers.len()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("zk-testserver: {}: {e}", path.display());
            return ExitCode::from(2);
        }
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
