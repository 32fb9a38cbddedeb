//! Four-letter-word answers, in ZooKeeper's text formats.
//!
//! `srvr` always runs (and `isro` in read-only mode); other words run only if whitelisted,
//! otherwise the answer is `<cmd> is not executed because it is not in the whitelist.`

use std::fmt::Write as _;

use zk_proto::FourLetterWord;

use crate::core::stats::op_abbrev;
use crate::core::ServerCore;

/// The version string reported by `srvr`, `stat`, `mntr` and `envi`.
pub const VERSION: &str = "3.8.0-zk-testserver, built on 1970-01-01 00:00 UTC";

/// Answers `word` (resetting statistics for `crst`/`srst`).
pub fn render(core: &mut ServerCore, word: FourLetterWord, now: i64) -> String {
    let cfg = core.config();
    if !cfg.whitelist.allows(word, cfg.read_only_mode_enabled) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    match word {
        FourLetterWord::Ruok => "imok".to_string(),
        FourLetterWord::Isro => if cfg.read_only { "ro" } else { "rw" }.to_string(),
        FourLetterWord::Srvr => server_summary(core, false),
        FourLetterWord::Stat => server_summary(core, true),
        FourLetterWord::Mntr => mntr(core),
        FourLetterWord::Conf => conf(core),
        FourLetterWord::Envi => envi(),
        FourLetterWord::Cons => {
            let mut s = String::new();
            for (id, c) in core.connections() {
                let _ = writeln!(
                    s,
                    " /{}[1](queued=0,recved={},sent={},sid={:#x},lop={},est={},to={},lcxid={:#x},lzxid={:#x},lresp={},llat=0,minlat=0,avglat=0,maxlat=0)",
                    c.addr,
                    c.stats.received,
                    c.stats.sent,
                    c.session.unwrap_or(0),
                    op_abbrev(c.stats.last_op),
                    c.stats.established,
                    c.timeout_ms,
                    c.stats.last_cxid,
                    c.stats.last_zxid,
                    c.stats.last_activity,
                );
                let _ = id;
            }
            s.push('\n');
            s
        }
        FourLetterWord::Crst => {
            core.reset_connection_stats();
            "Connection stats reset.\n".to_string()
        }
        FourLetterWord::Srst => {
            core.reset_stats();
            "Server stats reset.\n".to_string()
        }
        FourLetterWord::Dump => dump(core, now),
        FourLetterWord::Wchs => {
            let by_conn = core.watches().by_connection();
            let paths = core.watches().by_path().len();
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                by_conn.len(),
                paths,
                core.watches().watch_count()
            )
        }
        FourLetterWord::Wchc => {
            let mut s = String::new();
            for (conn, paths) in core.watches().by_connection() {
                let session = core
                    .connections()
                    .get(&conn)
                    .and_then(|c| c.session)
                    .unwrap_or(0);
                let _ = writeln!(s, "{session:#x}");
                for p in paths {
                    let _ = writeln!(s, "\t{p}");
                }
            }
            s.push('\n');
            s
        }
        FourLetterWord::Wchp => {
            let mut s = String::new();
            for (path, conns) in core.watches().by_path() {
                let _ = writeln!(s, "{path}");
                for conn in conns {
                    let session = core
                        .connections()
                        .get(&conn)
                        .and_then(|c| c.session)
                        .unwrap_or(0);
                    let _ = writeln!(s, "\t{session:#x}");
                }
            }
            s
        }
        FourLetterWord::Dirs => "datadir_size: 0\nlogdir_size: 0\n".to_string(),
        FourLetterWord::Hash => "Digest in every 128 txns is disabled.\n".to_string(),
        FourLetterWord::Gtmk => "0\n".to_string(),
        _ => format!("{word} is not supported by this server.\n"),
    }
}

fn mode(core: &ServerCore) -> &'static str {
    if core.config().read_only {
        "read-only"
    } else {
        "standalone"
    }
}

fn server_summary(core: &ServerCore, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        s.push_str("Clients:\n");
        for c in core.connections().values() {
            let _ = writeln!(
                s,
                " /{}[1](queued=0,recved={},sent={})",
                c.addr, c.stats.received, c.stats.sent
            );
        }
        s.push('\n');
    }
    let stats = core.stats();
    let _ = write!(
        s,
        "Latency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: 0\nZxid: {:#x}\nMode: {}\nNode count: {}\n",
        stats.received,
        stats.sent,
        core.connections().len(),
        core.last_zxid(),
        mode(core),
        core.tree().node_count()
    );
    s
}

fn mntr(core: &ServerCore) -> String {
    let stats = core.stats();
    let ephemerals: usize = core.tree().all_ephemerals().values().map(|s| s.len()).sum();
    let state = if core.config().read_only {
        "read-only"
    } else {
        "standalone"
    };
    let rows: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", state.to_string()),
        ("zk_avg_latency", "0.0".to_string()),
        ("zk_max_latency", "0".to_string()),
        ("zk_min_latency", "0".to_string()),
        ("zk_packets_received", stats.received.to_string()),
        ("zk_packets_sent", stats.sent.to_string()),
        (
            "zk_num_alive_connections",
            core.connections().len().to_string(),
        ),
        ("zk_outstanding_requests", "0".to_string()),
        ("zk_znode_count", core.tree().node_count().to_string()),
        ("zk_watch_count", core.watches().watch_count().to_string()),
        ("zk_ephemerals_count", ephemerals.to_string()),
        (
            "zk_approximate_data_size",
            core.tree().approximate_data_size().to_string(),
        ),
        ("zk_global_sessions", core.sessions().len().to_string()),
        ("zk_last_proposal_size", "-1".to_string()),
    ];
    rows.into_iter()
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect()
}

fn conf(core: &ServerCore) -> String {
    let cfg = core.config();
    let mut s = String::new();
    for (k, v) in &cfg.conf_lines {
        let _ = writeln!(s, "{k}={v}");
    }
    let _ = write!(
        s,
        "tickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        cfg.tick_ms,
        cfg.max_client_cnxns,
        cfg.min_session_timeout_ms,
        cfg.max_session_timeout_ms,
        cfg.myid
    );
    s
}

fn envi() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_string());
    format!(
        "Environment:\nzookeeper.version={VERSION}\nhost.name={host}\nos.name={}\nos.arch={}\nuser.dir={}\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    )
}

fn dump(core: &ServerCore, now: i64) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let _ = writeln!(s, "Session Sets ({}):", core.sessions().len());
    for (id, info) in core.sessions().iter() {
        let _ = writeln!(
            s,
            "{id:#x}\ttimeout={}\texpires in {} ms",
            info.timeout_ms,
            info.expires_at - now
        );
    }
    s.push_str("ephemeral nodes dump:\n");
    let eph = core.tree().all_ephemerals();
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", eph.len());
    for (session, paths) in eph {
        let _ = writeln!(s, "{session:#x}:");
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s.push_str("Connections dump:\n");
    let _ = writeln!(s, "Connections Sets ({}):", core.connections().len());
    for c in core.connections().values() {
        let _ = writeln!(s, "{:#x}\t{}", c.session.unwrap_or(0), c.addr);
    }
    s
}
