//! The settings the core needs.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use zk_proto::FourLetterWord;

/// Which four-letter words may run (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whitelist {
    /// `*`: every word.
    All,
    /// Only these (plus `srvr`, always allowed).
    Only(HashSet<FourLetterWord>),
}

impl Whitelist {
    /// ZooKeeper's default: only `srvr`.
    pub fn default_zookeeper() -> Whitelist {
        Whitelist::Only(HashSet::new())
    }

    /// Parses a comma-separated whitelist; unknown names are ignored (with a warning).
    pub fn parse(list: &str) -> Whitelist {
        if list.split(',').any(|w| w.trim() == "*") {
            return Whitelist::All;
        }
        let mut words = HashSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match FourLetterWord::from_name(name) {
                Some(w) => {
                    words.insert(w);
                }
                None => tracing::warn!(name, "unknown four-letter word in the whitelist"),
            }
        }
        Whitelist::Only(words)
    }

    /// Whether `word` may run; `read_only_mode` also enables `isro`.
    pub fn allows(&self, word: FourLetterWord, read_only_mode: bool) -> bool {
        if word == FourLetterWord::Srvr || (read_only_mode && word == FourLetterWord::Isro) {
            return true;
        }
        match self {
            Whitelist::All => true,
            Whitelist::Only(words) => words.contains(&word),
        }
    }
}

/// Core settings.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// `tickTime` in ms.
    pub tick_ms: i64,
    /// `minSessionTimeout` in ms.
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout` in ms.
    pub max_session_timeout_ms: i32,
    /// `extendedTypesEnabled`.
    pub extended_types: bool,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
    /// Serve as a read-only server.
    pub read_only: bool,
    /// `readonlymode.enabled` (reported by `isro` whitelisting and `conf`).
    pub read_only_mode_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest`: `super:BASE64`.
    pub super_digest: Option<String>,
    /// The four-letter-word whitelist.
    pub whitelist: Whitelist,
    /// How often containers and TTL nodes are checked, in ms.
    pub container_check_interval_ms: i64,
    /// Containers that never had a child are deleted after this long; 0 disables.
    pub container_max_never_used_ms: i64,
    /// This server's id: the top byte of its session ids (0, standalone, numbers them as 1).
    pub myid: u8,
    /// The secret session passwords derive from.
    pub secret: [u8; 32],
    /// The wall clock at start-up, in ms, which seeds session ids.
    pub wall_clock_ms: i64,
    /// `key=value` lines `conf` reports (client port, data dir, ...).
    pub conf_lines: Vec<(String, String)>,
    /// `maxClientCnxns` (for `conf`; enforced by the listener).
    pub max_client_cnxns: usize,
    /// SASL DIGEST-MD5 users, name to password (the JAAS `Server` section); `None` when no
    /// JAAS file is configured: SASL requests then get an empty answer, as from ZooKeeper.
    pub sasl_users: Option<Arc<BTreeMap<String, String>>>,
    /// `zookeeper.superUser`: the SASL user that is also the super user.
    pub sasl_super_user: Option<String>,
    /// `zookeeper.X509AuthenticationProvider.superUser`: the certificate subject that is also
    /// the super user.
    pub x509_super_user: Option<String>,
    /// Schemes one of which a connection must be authenticated with before any request but
    /// auth and SASL (`zookeeper.enforce.auth.*`, `zookeeper.sessionRequireClientSASLAuth`);
    /// empty: not enforced.
    pub enforce_auth_schemes: Vec<String>,
    /// An ensemble member's quorum settings, which `conf` reports as ZooKeeper's quorum
    /// servers do; `None`: standalone.
    pub quorum: Option<crate::four_letter::QuorumConf>,
    /// How long a new connection may take for its TLS handshake and ConnectRequest
    /// (`nio.sessionlessCnxnTimeout`), in ms: applied by an ensemble member's listeners (a
    /// standalone server takes it from its builder).
    pub handshake_timeout_ms: u64,
    /// The largest request frame (`jute.maxbuffer`), for an ensemble member's listeners.
    pub max_frame: usize,
    /// Requests in flight from all connections (`globalOutstandingLimit`), for an ensemble
    /// member's listeners.
    pub global_outstanding_limit: usize,
}

impl CoreConfig {
    /// Settings for `tickTime` with ZooKeeper's defaults for the rest.
    pub fn with_tick(tick_ms: i64) -> CoreConfig {
        let tick = i32::try_from(tick_ms).unwrap_or(i32::MAX / 20);
        CoreConfig {
            tick_ms,
            min_session_timeout_ms: tick.saturating_mul(2),
            max_session_timeout_ms: tick.saturating_mul(20),
            extended_types: false,
            reconfig_enabled: false,
            read_only: false,
            read_only_mode_enabled: false,
            super_digest: None,
            whitelist: Whitelist::default_zookeeper(),
            container_check_interval_ms: 60_000,
            container_max_never_used_ms: 0,
            myid: 0,
            secret: [0; 32],
            wall_clock_ms: 0,
            conf_lines: Vec::new(),
            max_client_cnxns: 60,
            sasl_users: None,
            sasl_super_user: None,
            x509_super_user: None,
            enforce_auth_schemes: Vec::new(),
            quorum: None,
            handshake_timeout_ms: 10_000,
            max_frame: zk_proto::DEFAULT_MAX_FRAME,
            global_outstanding_limit: 1000,
        }
    }
}
