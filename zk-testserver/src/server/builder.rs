//! [`TestServerBuilder`]: every knob of the in-process server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::core::{CoreConfig, Whitelist};
use crate::keystore::{StoreFile, StoreType};

use super::TestServer;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The port could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// The data directory could not be read, recovered or written.
    #[error("storage: {0}")]
    Storage(#[source] std::io::Error),
    /// TLS files are missing or invalid.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The core thread could not be spawned.
    #[error("cannot spawn the core thread: {0}")]
    Thread(#[source] std::io::Error),
    /// An ensemble did not reach a state in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        after: Duration,
    },
}

/// PEM files for the secure client port.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert_chain: PathBuf,
    /// The private key (PEM); may be the same file as the chain.
    pub private_key: PathBuf,
}

/// Whether the secure port asks TLS clients for a certificate (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A client must present a certificate signed by the trusted CA (ZooKeeper's default).
    #[default]
    Need,
    /// A client may present one; if it does, it must be signed by the trusted CA.
    Want,
    /// Client certificates are not asked for.
    None,
}

impl ClientAuth {
    /// Parses `need`, `want` or `none` (any case).
    pub fn parse(value: &str) -> Option<ClientAuth> {
        match value.trim().to_ascii_lowercase().as_str() {
            "need" => Some(ClientAuth::Need),
            "want" => Some(ClientAuth::Want),
            "none" => Some(ClientAuth::None),
            _ => None,
        }
    }
}

/// Configures and starts a [`TestServer`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    pub(crate) host: IpAddr,
    pub(crate) port: u16,
    pub(crate) secure_port: u16,
    pub(crate) secure_host: Option<IpAddr>,
    pub(crate) tick_ms: i64,
    pub(crate) min_session_timeout_ms: Option<i32>,
    pub(crate) max_session_timeout_ms: Option<i32>,
    pub(crate) extended_types: bool,
    pub(crate) read_only: bool,
    pub(crate) read_only_mode_enabled: bool,
    pub(crate) reconfig_enabled: bool,
    pub(crate) super_digest: Option<String>,
    pub(crate) whitelist: Whitelist,
    pub(crate) fsync: bool,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) container_check_interval: Duration,
    pub(crate) container_max_never_used: Duration,
    pub(crate) max_client_cnxns: usize,
    pub(crate) myid: u8,
    pub(crate) secret: Option<[u8; 32]>,
    pub(crate) snap_count: u64,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) tls_client_auth: Option<(PathBuf, ClientAuth)>,
    pub(crate) extra_conf: Vec<(String, String)>,
    pub(crate) tls_key_store: Option<StoreFile>,
    pub(crate) tls_trust_store: Option<(StoreFile, ClientAuth)>,
    pub(crate) sasl_users: Option<Arc<BTreeMap<String, String>>>,
    pub(crate) sasl_super_user: Option<String>,
    pub(crate) x509_super_user: Option<String>,
    pub(crate) enforce_auth_schemes: Vec<String>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) global_outstanding_limit: usize,
    pub(crate) max_frame: usize,
    pub(crate) backlog: (usize, usize),
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            secure_port: 0,
            secure_host: None,
            tick_ms: 2000,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            extended_types: false,
            read_only: false,
            read_only_mode_enabled: false,
            reconfig_enabled: false,
            super_digest: None,
            whitelist: Whitelist::All,
            fsync: true,
            data_dir: None,
            container_check_interval: Duration::from_secs(60),
            container_max_never_used: Duration::ZERO,
            max_client_cnxns: 0,
            myid: 0,
            secret: None,
            snap_count: 100_000,
            tls: None,
            tls_client_auth: None,
            extra_conf: Vec::new(),
            tls_key_store: None,
            tls_trust_store: None,
            sasl_users: None,
            sasl_super_user: None,
            x509_super_user: None,
            enforce_auth_schemes: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            global_outstanding_limit: 1000,
            max_frame: zk_proto::DEFAULT_MAX_FRAME,
            backlog: (2 << 20, 64 << 20),
        }
    }
}

/// ZooKeeper's `zookeeper.nio.sessionlessCnxnTimeout` default.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TestServerBuilder {
    /// The address to listen on (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The client port (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// `tickTime` in ms (default 2000). Session bounds default to 2× and 20× of it.
    pub fn tick_time_ms(mut self, ms: u32) -> Self {
        self.tick_ms = i64::from(ms.max(1));
        self
    }

    /// `minSessionTimeout` and `maxSessionTimeout` in ms.
    pub fn session_timeout_bounds(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.min_session_timeout_ms = Some(i32::try_from(min_ms).unwrap_or(i32::MAX));
        self.max_session_timeout_ms = Some(i32::try_from(max_ms).unwrap_or(i32::MAX));
        self
    }

    /// `extendedTypesEnabled`: allows TTL nodes.
    pub fn extended_types(mut self, on: bool) -> Self {
        self.extended_types = on;
        self
    }

    /// Serve as a read-only server (as a partitioned ensemble member with
    /// `readonlymode.enabled` would): only read-only clients, writes get NotReadOnly.
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// `readonlymode.enabled`: the server may serve read-only clients when cut off from its
    /// quorum. A standalone server always has its "quorum", so it keeps serving reads and
    /// writes; the setting shows in `isro` (answered even when not whitelisted) and `conf`.
    pub fn read_only_mode_enabled(mut self, on: bool) -> Self {
        self.read_only_mode_enabled = on;
        self
    }

    /// `reconfigEnabled` (standalone servers still answer reconfig with Unimplemented).
    pub fn reconfig_enabled(mut self, on: bool) -> Self {
        self.reconfig_enabled = on;
        self
    }

    /// The super user's digest, `super:BASE64(SHA1("super:password"))`
    /// (see [`crate::acl::digest_id`]).
    pub fn super_digest(mut self, digest: impl Into<String>) -> Self {
        self.super_digest = Some(digest.into());
        self
    }

    /// The four-letter-word whitelist as in `4lw.commands.whitelist` (default `*`).
    pub fn four_letter_whitelist(mut self, list: &str) -> Self {
        self.whitelist = Whitelist::parse(list);
        self
    }

    /// Whether the txn log is fsynced before replies (default true; needs a data dir).
    pub fn fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// Persist to this directory (txn log and snapshots); without it the server is in-memory.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// How often containers and TTL nodes are checked (default 60 s, like ZooKeeper).
    pub fn container_check_interval(mut self, every: Duration) -> Self {
        self.container_check_interval = every;
        self
    }

    /// Delete containers that never had a child after this long (default: never).
    pub fn container_max_never_used(mut self, after: Duration) -> Self {
        self.container_max_never_used = after;
        self
    }

    /// `maxClientCnxns` per client address (default 0: unlimited).
    pub fn max_client_cnxns(mut self, n: usize) -> Self {
        self.max_client_cnxns = n;
        self
    }

    /// The server id (top byte of session ids; the default 0, standalone, numbers them as 1).
    pub fn myid(mut self, id: u8) -> Self {
        self.myid = id;
        self
    }

    /// The secret session passwords derive from (default: random, or the one stored in the
    /// data dir).
    pub fn session_secret(mut self, secret: [u8; 32]) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Take a snapshot (and start a new log) after this many txns (default 100000).
    pub fn snap_count(mut self, n: u64) -> Self {
        self.snap_count = n.max(1);
        self
    }

    /// Serve TLS on a second port with these PEM files.
    pub fn tls(mut self, files: TlsFiles, secure_port: u16) -> Self {
        self.tls = Some(files);
        self.secure_port = secure_port;
        self
    }

    /// Authenticates TLS clients on the secure port (`ssl.trustStore.location` and
    /// `ssl.clientAuth`): client certificates must chain to a CA in `trust_store` (PEM).
    pub fn tls_client_auth(mut self, trust_store: impl Into<PathBuf>, mode: ClientAuth) -> Self {
        self.tls_client_auth = Some((trust_store.into(), mode));
        self
    }

    /// Serve TLS on a second port with the key and certificate chain of a key store (PEM, JKS
    /// or PKCS#12; `ssl.keyStore.*`).
    pub fn tls_key_store(mut self, store: StoreFile, secure_port: u16) -> Self {
        self.tls_key_store = Some(store);
        self.secure_port = secure_port;
        self
    }

    /// The address the TLS port listens on (`secureClientPortAddress`; default: the
    /// [`host`](Self::host) of the plain port).
    pub fn secure_host(mut self, host: IpAddr) -> Self {
        self.secure_host = Some(host);
        self
    }

    /// Authenticates TLS clients against the CAs of a trust store (PEM, JKS or PKCS#12;
    /// `ssl.trustStore.*` with `ssl.clientAuth`). A verified client certificate gives the
    /// connection the `x509` identity of its subject.
    pub fn tls_trust_store(mut self, store: StoreFile, mode: ClientAuth) -> Self {
        self.tls_trust_store = Some((store, mode));
        self
    }

    /// The `x509` subject (RFC 2253, as in ACLs) that is also the super user
    /// (`zookeeper.X509AuthenticationProvider.superUser`).
    pub fn x509_super_user(mut self, subject: impl Into<String>) -> Self {
        self.x509_super_user = Some(subject.into());
        self
    }

    /// Answers SASL DIGEST-MD5 with these users (name to password), as ZooKeeper does with
    /// the `user_<name>="<password>"` entries of the JAAS `Server` section.
    pub fn sasl_users(mut self, users: BTreeMap<String, String>) -> Self {
        self.sasl_users = Some(Arc::new(users));
        self
    }

    /// The SASL user that is also the super user (`zookeeper.superUser`).
    pub fn sasl_super_user(mut self, user: impl Into<String>) -> Self {
        self.sasl_super_user = Some(user.into());
        self
    }

    /// Requires every connection to authenticate with one of these schemes (e.g. `sasl`)
    /// before any request but auth and SASL (`zookeeper.enforce.auth.schemes`,
    /// `zookeeper.sessionRequireClientSASLAuth`); others get `SessionClosedRequireSaslAuth`.
    pub fn enforce_auth_schemes<I, S>(mut self, schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.enforce_auth_schemes = schemes.into_iter().map(Into::into).collect();
        self
    }

    /// Extra `key=value` pairs `conf` reports.
    pub fn conf_entry(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_conf.push((key.into(), value.into()));
        self
    }

    /// How long a connection may take to complete its handshake (TLS, then a whole
    /// ConnectRequest) before it is closed (default 10 s, like ZooKeeper's
    /// `nio.sessionlessCnxnTimeout`).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// `globalOutstandingLimit` (default 1000): requests of all connections read but not yet
    /// handled. Connections stop being read while the server is at the limit.
    pub fn global_outstanding_limit(mut self, limit: usize) -> Self {
        self.global_outstanding_limit = limit.max(1);
        self
    }

    /// `jute.maxbuffer` (default 0xfffff): the largest request frame accepted; a longer one
    /// closes the connection.
    pub fn jute_max_buffer(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Bounds on a connection's unsent replies and events (defaults 2 MiB and 64 MiB): above
    /// `pause_at` bytes its requests wait and its socket is not read; above `close_at` (which
    /// only other sessions' watch events can reach) the connection is closed.
    pub fn connection_backlog(mut self, pause_at: usize, close_at: usize) -> Self {
        self.backlog = (pause_at, close_at.max(pause_at));
        self
    }

    pub(crate) fn flow_limits(&self) -> crate::net::flow::FlowLimits {
        crate::net::flow::FlowLimits {
            max_requests: self.global_outstanding_limit,
            max_conn_requests: self.global_outstanding_limit,
            max_unsent_bytes: self.backlog.0,
            abort_unsent_bytes: self.backlog.1,
            ..Default::default()
        }
    }

    /// Starts serving.
    pub async fn start(self) -> Result<TestServer, ServerError> {
        TestServer::launch(self).await
    }

    pub(crate) fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    pub(crate) fn secure_listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.secure_host.unwrap_or(self.host), self.secure_port)
    }

    pub(crate) fn tls_acceptor(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
        let identity = match (&self.tls_key_store, &self.tls) {
            (Some(store), _) => store.load_identity(),
            (None, Some(files)) => crate::tls::pem_identity(&files.cert_chain, &files.private_key),
            (None, None) => return Ok(None),
        }
        .map_err(ServerError::Tls)?;
        let trust = self.tls_trust_store.clone().or_else(|| {
            self.tls_client_auth
                .as_ref()
                .map(|(path, mode)| (StoreFile::new(path).store_type(StoreType::Pem), *mode))
        });
        let config = crate::tls::server_config_from_stores(
            identity,
            trust.as_ref().map(|(store, mode)| (store, *mode)),
        )
        .map_err(ServerError::Tls)?;
        Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    pub(crate) fn core_config(&self, addr: SocketAddr, secure: Option<SocketAddr>) -> CoreConfig {
        let mut cfg = CoreConfig::with_tick(self.tick_ms).whitelisted(self.whitelist.clone());
        if let Some(min) = self.min_session_timeout_ms {
            cfg.min_session_timeout_ms = min;
        }
        if let Some(max) = self.max_session_timeout_ms {
            cfg.max_session_timeout_ms = max;
        }
        cfg.extended_types = self.extended_types;
        cfg.read_only = self.read_only;
        cfg.read_only_mode_enabled = self.read_only || self.read_only_mode_enabled;
        cfg.reconfig_enabled = self.reconfig_enabled;
        cfg.super_digest = self.super_digest.clone();
        cfg.container_check_interval_ms =
            i64::try_from(self.container_check_interval.as_millis()).unwrap_or(i64::MAX / 2);
        cfg.container_max_never_used_ms =
            i64::try_from(self.container_max_never_used.as_millis()).unwrap_or(i64::MAX / 2);
        cfg.myid = self.myid;
        cfg.secret = self.secret.unwrap_or_else(crate::session::new_secret);
        cfg.wall_clock_ms = super::wall_ms();
        cfg.max_client_cnxns = self.max_client_cnxns;
        cfg.sasl_users = self.sasl_users.clone();
        cfg.sasl_super_user = self.sasl_super_user.clone();
        cfg.x509_super_user = self.x509_super_user.clone();
        cfg.enforce_auth_schemes = self.enforce_auth_schemes.clone();
        cfg.handshake_timeout_ms =
            u64::try_from(self.handshake_timeout.as_millis()).unwrap_or(u64::MAX);
        cfg.max_frame = self.max_frame;
        cfg.global_outstanding_limit = self.global_outstanding_limit;
        let mut conf = vec![("clientPort".to_string(), addr.port().to_string())];
        if let Some(s) = secure {
            conf.push(("secureClientPort".to_string(), s.port().to_string()));
        }
        if let Some(dir) = &self.data_dir {
            conf.push(("dataDir".to_string(), dir.display().to_string()));
            conf.push(("dataLogDir".to_string(), dir.display().to_string()));
        }
        conf.extend(self.extra_conf.iter().cloned());
        cfg.conf_lines = conf;
        cfg
    }
}
