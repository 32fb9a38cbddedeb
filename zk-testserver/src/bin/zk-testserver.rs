//! `zk-testserver [JVM flags] [-Dname=value ...] [main class] path/to/zoo.cfg`: a drop-in for
//! `java ... QuorumPeerMain zoo.cfg` (see the crate docs, "Drop-in for the java command line"),
//! standalone or, with `server.N` lines and a `myid` file, as a member of an ensemble.

use std::process::ExitCode;

use zk_testserver::config::{CommandLine, MemberPlan, PropertyUse, ZooCfg};
use zk_testserver::ensemble::{DirDisk, MemberNode, SecurePort, Serving};

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
    tracing::debug!("zk-testserver process started");
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
    let plan = match cfg.member_plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("zk-testserver: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    if let Some(plan) = plan {
        return run_member(&cfg, &plan);
    }
    let builder = match cfg.to_builder() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
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

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("zk-testserver: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Runs member `plan.id` of an ensemble: binds its client (and secure client), quorum and
/// election ports (the election port is held but unused: election messages travel on the
/// quorum port) and keeps its state in `dataDir/version-2`.
fn run_member(cfg: &ZooCfg, plan: &MemberPlan) -> ExitCode {
    let member = match cfg.member_config(plan) {
        Ok(mut m) => {
            m.replica = m.replica.with_quorum(cfg.quorum_config(plan));
            m
        }
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = match cfg.member_tls() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("zk-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(data_dir) = cfg.data_dir.clone() else {
        eprintln!("zk-testserver: a member needs dataDir");
        return ExitCode::from(2);
    };
    let bind = |addr: std::net::SocketAddr, what: &str| {
        std::net::TcpListener::bind(addr).map_err(|e| {
            eprintln!("zk-testserver: cannot listen on {addr} ({what}): {e}");
            ExitCode::FAILURE
        })
    };
    let (client, quorum, election) = match (
        bind(plan.client, "clientPort"),
        bind(plan.quorum_bind, "quorum port"),
        bind(plan.election_bind, "election port"),
    ) {
        (Ok(c), Ok(q), Ok(e)) => (c, q, e),
        _ => return ExitCode::FAILURE,
    };
    tracing::debug!(id = plan.id, "config read and ports bound");
    let secure = match (plan.secure_client, tls) {
        (Some(addr), Some(tls)) => match bind(addr, "secureClientPort") {
            Ok(listener) => Some(SecurePort { listener, tls }),
            Err(code) => return code,
        },
        _ => None,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    tracing::debug!(id = plan.id, "runtime started");
    let disk = DirDisk::new(&data_dir).fsync(cfg.force_sync);
    runtime.block_on(async move {
        let node = match MemberNode::start_secure(member, client, secure, quorum, Box::new(disk)) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("zk-testserver: member {}: {e}", plan.id);
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(
            id = plan.id,
            client = %node.client_addr(),
            secure = ?node.secure_addr(),
            quorum = %node.peer_addr(),
            election = ?election.local_addr().ok(),
            members = plan.peers.len(),
            "ensemble member started; stop with SIGINT"
        );
        let mut status = node.status();
        let mut serving = Serving::No;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                changed = status.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = status.borrow_and_update().clone();
                    if now.serving != serving {
                        serving = now.serving;
                        match serving {
                            Serving::ReadWrite | Serving::ReadOnly => tracing::info!(
                                addr = %node.client_addr(),
                                role = ?now.role,
                                leader = ?now.leader,
                                ?serving,
                                "zk-testserver serving"
                            ),
                            _ => tracing::info!(role = ?now.role, "not serving: looking for a quorum"),
                        }
                    }
                }
            }
        }
        drop(election);
        node.kill();
        ExitCode::SUCCESS
    })
}
