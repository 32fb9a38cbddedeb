//! Four-letter-word answers, in ZooKeeper's text formats.
//!
//! `srvr` always runs (and `isro` in read-only mode); other words run only if whitelisted,
//! otherwise the answer is `<cmd> is not executed because it is not in the whitelist.`

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use zk_proto::FourLetterWord;

use crate::core::stats::{op_abbrev, Latency};
use crate::core::{Conn, ServerCore};
use crate::watch::ConnId;

/// What the answers need from outside the core: the network side and the data directory.
#[derive(Debug, Clone, Default)]
pub struct NetView {
    /// Requests of each connection read but not yet handled (`queued` in `cons`).
    pub queued: HashMap<ConnId, usize>,
    /// The connection asking (listed by `cons` and `stat`, as ZooKeeper lists it).
    pub asker: Option<SocketAddr>,
    /// Bytes in the data directory (`datadir_size`).
    pub data_dir_bytes: u64,
    /// Bytes in the txn log directory (`logdir_size`; the same directory here).
    pub log_dir_bytes: u64,
    /// An ensemble member's role (`leader`, `follower`, `observer`; empty while it serves
    /// nothing); `None`: standalone.
    pub role: Option<&'static str>,
}

impl NetView {
    fn outstanding(&self) -> usize {
        self.queued.values().sum()
    }
}

/// What `conf` reports of an ensemble member beyond a standalone server's settings
/// (ZooKeeper's `QuorumZooKeeperServer.dumpConf`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConf {
    /// `initLimit`, in ticks.
    pub init_limit: u32,
    /// `syncLimit`, in ticks.
    pub sync_limit: u32,
    /// The member's election port (0 when it has none: the in-process ensemble elects over
    /// the quorum port).
    pub election_port: u16,
    /// The member's quorum port.
    pub quorum_port: u16,
    /// Whether the member is an observer (`peerType=1`) rather than a participant (`0`).
    pub observer: bool,
    /// The `server.N=...` lines of the configuration the member started with, as ZooKeeper
    /// prints them (see [`QuorumConf::server_line`]). Once the ensemble's
    /// `/zookeeper/config` holds a configuration, `conf` shows that instead.
    pub servers: Vec<String>,
}

impl QuorumConf {
    /// One member as ZooKeeper's `QuorumServer.toString` prints it:
    /// `server.N=host:quorumPort:electionPort:participant|observer[;clientHost:clientPort]`,
    /// an IPv6 host in brackets; `client` only when the server line gave one.
    pub fn server_line(
        id: u64,
        host: &str,
        quorum_port: u16,
        election_port: u16,
        observer: bool,
        client: Option<(&str, u16)>,
    ) -> String {
        let bracket = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        let role = if observer { "observer" } else { "participant" };
        let mut line = format!(
            "server.{id}={}:{quorum_port}:{election_port}:{role}",
            bracket(host)
        );
        if let Some((h, port)) = client {
            let _ = write!(line, ";{}:{port}", bracket(h));
        }
        line
    }
}

/// A number as Java's `Double.toString` prints it (`0.0`, `16.25`).
fn java_double(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// `min/avg/max` as `stat` and `srvr` print them.
fn latency_line(l: &Latency) -> String {
    format!("{}/{}/{}", l.min, java_double(l.avg()), l.max)
}

/// One connection as `cons` (full) or `stat` (short) lists it.
fn connection_line(out: &mut String, c: &Conn, queued: usize, full: bool) {
    let _ = write!(
        out,
        " /{}[1](queued={queued},recved={},sent={}",
        c.addr, c.stats.received, c.stats.sent
    );
    if let (true, Some(sid)) = (full, c.session) {
        let l = &c.stats.latency;
        let avg = if l.count == 0 {
            0
        } else {
            l.total / i64::try_from(l.count).unwrap_or(i64::MAX)
        };
        let _ = write!(
            out,
            ",sid={sid:#x},lop={},est={},to={},lcxid={:#x},lzxid={:#x},lresp={},llat={},minlat={},avglat={avg},maxlat={}",
            op_abbrev(c.stats.last_op),
            c.stats.established,
            c.timeout_ms,
            c.stats.last_cxid,
            c.stats.last_zxid,
            c.stats.last_response,
            c.stats.last_latency,
            l.min,
            l.max,
        );
    }
    out.push_str(")\n");
}

fn connection_list(core: &ServerCore, view: &NetView, full: bool) -> String {
    let mut s = String::new();
    for (id, c) in core.connections() {
        connection_line(&mut s, c, view.queued.get(id).copied().unwrap_or(0), full);
    }
    if let Some(addr) = view.asker {
        let _ = writeln!(s, " /{addr}[0](queued=0,recved=1,sent=0)");
    }
    s
}

/// The version string reported by `srvr`, `stat`, `mntr` and `envi`.
pub const VERSION: &str = "3.8.0-zk-testserver, built on 1970-01-01 00:00 UTC";

/// Answers `word` (resetting statistics for `crst`/`srst`).
pub fn render(core: &mut ServerCore, word: FourLetterWord, now: i64, view: &NetView) -> String {
    let cfg = core.config();
    if !cfg.whitelist.allows(word, cfg.read_only_mode_enabled) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let serving = view.role != Some("") || cfg.read_only;
    if !serving
        && !matches!(
            word,
            FourLetterWord::Ruok
                | FourLetterWord::Isro
                | FourLetterWord::Envi
                | FourLetterWord::Conf
        )
    {
        return "This ZooKeeper instance is not currently serving requests\n".to_string();
    }
    match word {
        FourLetterWord::Ruok => "imok".to_string(),
        FourLetterWord::Isro => if cfg.read_only { "ro" } else { "rw" }.to_string(),
        FourLetterWord::Srvr => server_summary(core, view, false),
        FourLetterWord::Stat => server_summary(core, view, true),
        FourLetterWord::Mntr => mntr(core, view),
        FourLetterWord::Conf => match &core.config().quorum {
            Some(q) => quorum_conf(core, q, view),
            None => conf(core, view),
        },
        FourLetterWord::Envi => envi(),
        FourLetterWord::Cons => {
            let mut s = connection_list(core, view, true);
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
        FourLetterWord::Dirs => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            view.data_dir_bytes, view.log_dir_bytes
        ),
        FourLetterWord::Hash => "Digest in every 128 txns is disabled.\n".to_string(),
        FourLetterWord::Gtmk => "0\n".to_string(),
        _ => format!("{word} is not supported by this server.\n"),
    }
}

fn mode(core: &ServerCore, view: &NetView) -> &'static str {
    if core.config().read_only {
        "read-only"
    } else {
        view.role.unwrap_or("standalone")
    }
}

fn server_summary(core: &ServerCore, view: &NetView, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        s.push_str("Clients:\n");
        s.push_str(&connection_list(core, view, false));
        s.push('\n');
    }
    let stats = core.stats();
    let _ = write!(
        s,
        "Latency min/avg/max: {}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: {:#x}\nMode: {}\nNode count: {}\n",
        latency_line(&stats.latency),
        stats.received,
        stats.sent,
        core.connections().len() + usize::from(view.asker.is_some()),
        view.outstanding(),
        core.last_zxid(),
        mode(core, view),
        core.tree().node_count()
    );
    s
}

fn mntr(core: &ServerCore, view: &NetView) -> String {
    let stats = core.stats();
    let ephemerals: usize = core.tree().all_ephemerals().values().map(|s| s.len()).sum();
    let state = mode(core, view);
    let rows: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", state.to_string()),
        ("zk_avg_latency", java_double(stats.latency.avg())),
        ("zk_max_latency", stats.latency.max.to_string()),
        ("zk_min_latency", stats.latency.min.to_string()),
        ("zk_packets_received", stats.received.to_string()),
        ("zk_packets_sent", stats.sent.to_string()),
        (
            "zk_num_alive_connections",
            (core.connections().len() + usize::from(view.asker.is_some())).to_string(),
        ),
        ("zk_outstanding_requests", view.outstanding().to_string()),
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

/// `conf` on a standalone server, in the order and format of ZooKeeper 3.8's
/// `ZooKeeperServer.dumpConf`, then any [`crate::TestServerBuilder::conf_entry`] lines.
fn conf(core: &ServerCore, view: &NetView) -> String {
    let mut s = String::new();
    server_conf(&mut s, core, view);
    common_conf(&mut s, core);
    for (k, v) in &core.config().conf_lines {
        if !STANDARD_CONF_KEYS.contains(&k.as_str()) {
            let _ = writeln!(s, "{k}={v}");
        }
    }
    s
}

/// The `conf_lines` keys every server's `conf` prints in its own place; the others are extra
/// entries a test asked for.
const STANDARD_CONF_KEYS: [&str; 4] = ["clientPort", "secureClientPort", "dataDir", "dataLogDir"];

/// The start of every server's `conf`: the client ports (`secureClientPort=-1` when there is
/// none) and the data directories with their `version-2` and sizes.
fn server_conf(s: &mut String, core: &ServerCore, view: &NetView) {
    let cfg = core.config();
    let line = |key: &str| {
        cfg.conf_lines
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let _ = writeln!(s, "clientPort={}", line("clientPort").unwrap_or("0"));
    let _ = writeln!(
        s,
        "secureClientPort={}",
        line("secureClientPort").unwrap_or("-1")
    );
    if let Some(dir) = line("dataDir") {
        let log = line("dataLogDir").unwrap_or(dir);
        let _ = write!(
            s,
            "dataDir={}\ndataDirSize={}\ndataLogDir={}\ndataLogSize={}\n",
            std::path::Path::new(dir).join("version-2").display(),
            view.data_dir_bytes,
            std::path::Path::new(log).join("version-2").display(),
            view.log_dir_bytes
        );
    }
}

/// Settings every server's `conf` ends with, from `tickTime` to `serverId`.
fn common_conf(s: &mut String, core: &ServerCore) {
    let cfg = core.config();
    let _ = write!(
        s,
        "tickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        cfg.tick_ms,
        cfg.max_client_cnxns,
        cfg.min_session_timeout_ms,
        cfg.max_session_timeout_ms,
        cfg.myid
    );
}

/// `conf` on an ensemble member, in the order and format of ZooKeeper 3.8's quorum servers:
/// the standalone settings (`secureClientPort=-1` when there is none, the data directories
/// with their `version-2`), then `initLimit`, `syncLimit`, `electionAlg`, `electionPort`,
/// `quorumPort`, `peerType` and the membership (the `server.N` lines and `version=`, without
/// a final newline, as ZooKeeper prints it).
fn quorum_conf(core: &ServerCore, q: &QuorumConf, view: &NetView) -> String {
    let mut s = String::new();
    server_conf(&mut s, core, view);
    common_conf(&mut s, core);
    let _ = write!(
        s,
        "initLimit={}\nsyncLimit={}\nelectionAlg=3\nelectionPort={}\nquorumPort={}\npeerType={}\nmembership: \n",
        q.init_limit,
        q.sync_limit,
        q.election_port,
        q.quorum_port,
        u8::from(q.observer)
    );
    let live = core
        .tree()
        .get(crate::tree::CONFIG_NODE)
        .and_then(|n| n.data.as_ref())
        .map(|data| String::from_utf8_lossy(data).into_owned())
        .filter(|text| !text.trim().is_empty());
    match live {
        Some(text) => s.push_str(text.trim_end_matches('\n')),
        None => {
            for server in &q.servers {
                let _ = writeln!(s, "{server}");
            }
            s.push_str("version=0");
        }
    }
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
