//! `zoo.cfg`: the subset of ZooKeeper's server configuration this server understands.
//!
//! The format is Java properties (`key=value`, `#`/`!` comments). Keys this server ignores are
//! reported with a `tracing` warning, never silently. Ensemble settings (`server.N=...`,
//! `myid`, `initLimit`, ...) become a [`MemberPlan`] (see `config/ensemble.rs`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod command_line;
mod dynamic;
mod ensemble;

pub use command_line::{CommandLine, PropertyUse, MAIN_CLASSES};
pub use ensemble::{MemberPlan, ServerLine};

use crate::keystore::{StoreFile, StoreType};
use crate::server::{ClientAuth, TestServerBuilder};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    /// A value has the wrong form.
    #[error("invalid value for {key}: {value:?}")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A required key is missing.
    #[error("missing {0}")]
    Missing(&'static str),
}

/// A parsed `zoo.cfg`.
#[derive(Debug, Clone, Default)]
pub struct ZooCfg {
    /// `tickTime` (default 3000, as in ZooKeeper's code).
    pub tick_time: u32,
    /// `dataDir`.
    pub data_dir: Option<PathBuf>,
    /// `dataLogDir` (the txn log lives with the snapshots here; a different value is warned).
    pub data_log_dir: Option<PathBuf>,
    /// `clientPort`.
    pub client_port: Option<u16>,
    /// `secureClientPort`.
    pub secure_client_port: Option<u16>,
    /// `clientPortAddress`.
    pub client_port_address: Option<IpAddr>,
    /// `secureClientPortAddress` (default: every address, as in ZooKeeper, not
    /// `clientPortAddress`).
    pub secure_client_port_address: Option<IpAddr>,
    /// `maxClientCnxns` (default 60).
    pub max_client_cnxns: usize,
    /// `minSessionTimeout`.
    pub min_session_timeout: Option<u32>,
    /// `maxSessionTimeout`.
    pub max_session_timeout: Option<u32>,
    /// `initLimit`.
    pub init_limit: Option<u32>,
    /// `syncLimit`.
    pub sync_limit: Option<u32>,
    /// `server.N` lines.
    pub servers: Vec<ServerLine>,
    /// `peerType`.
    pub peer_type: Option<String>,
    /// `standaloneEnabled` (default true): false runs even a single listed server as a member.
    pub standalone_enabled: bool,
    /// `multiAddress.enabled` (also `zookeeper.multiAddress.enabled`): allows `|` in server
    /// lines.
    pub multi_address: bool,
    /// `quorumListenOnAllIPs`: bind the quorum and election ports on all interfaces.
    pub quorum_listen_on_all_ips: bool,
    /// `dynamicConfigFile`: the file holding the `server.N` lines.
    pub dynamic_config_file: Option<PathBuf>,
    /// `4lw.commands.whitelist` (default: only `srvr`).
    pub four_letter_whitelist: Option<String>,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
    /// `extendedTypesEnabled` (also `zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// `readonlymode.enabled` (ZooKeeper reads it as a Java system property; here it may stand
    /// in `zoo.cfg`).
    pub read_only_mode: bool,
    /// `DigestAuthenticationProvider.superDigest`.
    pub super_digest: Option<String>,
    /// `ssl.keyStore.location` (PEM, JKS or PKCS#12 with the key and its certificate).
    pub ssl_key_store: Option<PathBuf>,
    /// `ssl.keyStore.password`.
    pub ssl_key_store_password: Option<String>,
    /// `ssl.keyStore.type` (`PEM`, `JKS`, `PKCS12`; inferred from the file name if unset).
    pub ssl_key_store_type: Option<String>,
    /// `ssl.trustStore.location` (CA certificates for client authentication).
    pub ssl_trust_store: Option<PathBuf>,
    /// `ssl.trustStore.password`.
    pub ssl_trust_store_password: Option<String>,
    /// `ssl.trustStore.type` (`PEM`, `JKS`, `PKCS12`; inferred from the file name if unset).
    pub ssl_trust_store_type: Option<String>,
    /// `authProvider.N` (`zookeeper.authProvider.N`): N to provider class.
    pub auth_providers: BTreeMap<String, String>,
    /// `java.security.auth.login.config`: the JAAS file (a JVM system property only).
    pub jaas_config: Option<PathBuf>,
    /// `zookeeper.sasl.serverconfig`: the JAAS section of the server (default `Server`).
    pub jaas_section: Option<String>,
    /// `superUser` (`zookeeper.superUser`): the SASL user that is also the super user.
    pub sasl_super_user: Option<String>,
    /// `X509AuthenticationProvider.superUser`: the certificate subject that is super.
    pub x509_super_user: Option<String>,
    /// `sessionRequireClientSASLAuth`: every connection must SASL-authenticate first.
    pub require_sasl_auth: bool,
    /// `enforce.auth.enabled`.
    pub enforce_auth: bool,
    /// `enforce.auth.schemes` (comma-separated).
    pub enforce_auth_schemes: Option<String>,
    /// `jute.maxbuffer`: the largest request frame.
    pub jute_max_buffer: Option<usize>,
    /// `serverCnxnFactory` (accepted: this server has one connection layer for both ports).
    pub server_cnxn_factory: Option<String>,
    /// Keys given in the file itself (for the precedence of system properties).
    pub file_keys: std::collections::BTreeSet<String>,
    /// `ssl.clientAuth` (`need`, `want`, `none`; ZooKeeper's default is `need`).
    pub ssl_client_auth: Option<ClientAuth>,
    /// `forceSync` (default yes).
    pub force_sync: bool,
    /// `snapCount` (also `zookeeper.snapCount`): txns between snapshots (default 100000).
    pub snap_count: Option<u64>,
    /// `myid` from `dataDir/myid`.
    pub myid: Option<u64>,
    /// `znode.container.checkIntervalMs`.
    pub container_check_interval_ms: Option<u64>,
    /// `globalOutstandingLimit` (also `zookeeper.globalOutstandingLimit`).
    pub global_outstanding_limit: Option<usize>,
    /// `nio.sessionlessCnxnTimeout` in ms (also `zookeeper.`-prefixed): the handshake timeout.
    pub sessionless_cnxn_timeout_ms: Option<u64>,
    /// Keys that were ignored, with their values.
    pub ignored: BTreeMap<String, String>,
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
    })
}

fn parse_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "yes")
}

impl ZooCfg {
    /// Reads and parses a file, plus `myid` from its data dir.
    pub fn load(path: &Path) -> Result<ZooCfg, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        let mut cfg = ZooCfg::parse(&text)?;
        if let Some(dynamic) = cfg.dynamic_config_file.clone() {
            if !cfg.servers.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "server.N".into(),
                    value: "must be in the dynamic config file when dynamicConfigFile is set"
                        .into(),
                });
            }
            let text = std::fs::read_to_string(&dynamic)
                .map_err(|e| ConfigError::Read(dynamic.clone(), e))?;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                    continue;
                }
                let (key, value) = line.split_once(['=', ':']).unwrap_or((line, ""));
                let key = key.trim();
                match key.strip_prefix("server.") {
                    Some(id) => {
                        cfg.servers
                            .push(ensemble::parse_server_line(key, id, value.trim())?)
                    }
                    None if key == "version" => {}
                    None => {
                        return Err(ConfigError::Invalid {
                            key: key.to_string(),
                            value: format!("not allowed in {}", dynamic.display()),
                        })
                    }
                }
            }
        }
        if let Some(dir) = &cfg.data_dir {
            if let Ok(id) = std::fs::read_to_string(dir.join("myid")) {
                cfg.myid = Some(parse_num("myid", &id)?);
            }
        }
        Ok(cfg)
    }

    /// Parses the text of a `zoo.cfg`.
    pub fn parse(text: &str) -> Result<ZooCfg, ConfigError> {
        let mut cfg = ZooCfg {
            tick_time: 3000,
            max_client_cnxns: 60,
            force_sync: true,
            standalone_enabled: true,
            ..ZooCfg::default()
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                cfg.ignored.insert(line.to_string(), String::new());
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            cfg.file_keys.insert(key.to_string());
            if !cfg.set(key, value)? {
                cfg.ignored.insert(key.to_string(), value.to_string());
            }
        }
        Ok(cfg)
    }

    /// Applies one `key=value` setting (a `zoo.cfg` line or a system property mapped to its
    /// key); false if this server does not know the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "tickTime" => self.tick_time = parse_num(key, value)?,
            "dataDir" => self.data_dir = Some(PathBuf::from(value)),
            "dataLogDir" => self.data_log_dir = Some(PathBuf::from(value)),
            "clientPort" => self.client_port = Some(parse_num(key, value)?),
            "secureClientPort" => self.secure_client_port = Some(parse_num(key, value)?),
            "clientPortAddress" => self.client_port_address = Some(parse_num(key, value)?),
            "secureClientPortAddress" => {
                self.secure_client_port_address = Some(parse_num(key, value)?);
            }
            "maxClientCnxns" => self.max_client_cnxns = parse_num(key, value)?,
            "minSessionTimeout" => self.min_session_timeout = Some(parse_num(key, value)?),
            "maxSessionTimeout" => self.max_session_timeout = Some(parse_num(key, value)?),
            "initLimit" => self.init_limit = Some(parse_num(key, value)?),
            "syncLimit" => self.sync_limit = Some(parse_num(key, value)?),
            "peerType" => {
                let t = value.to_ascii_lowercase();
                if t != "participant" && t != "observer" {
                    return Err(ConfigError::Invalid {
                        key: key.to_string(),
                        value: value.to_string(),
                    });
                }
                self.peer_type = Some(value.to_string())
            }
            "standaloneEnabled" => self.standalone_enabled = parse_bool(value),
            "multiAddress.enabled" | "zookeeper.multiAddress.enabled" => {
                self.multi_address = parse_bool(value)
            }
            "quorumListenOnAllIPs" => self.quorum_listen_on_all_ips = parse_bool(value),
            "dynamicConfigFile" => self.dynamic_config_file = Some(PathBuf::from(value)),
            "electionAlg" => {
                // Only FastLeaderElection (3) exists since 3.6.
                if value.trim() != "3" {
                    return Err(ConfigError::Invalid {
                        key: key.to_string(),
                        value: value.to_string(),
                    });
                }
            }
            "4lw.commands.whitelist" => self.four_letter_whitelist = Some(value.to_string()),
            "reconfigEnabled" => self.reconfig_enabled = parse_bool(value),
            "extendedTypesEnabled" | "zookeeper.extendedTypesEnabled" => {
                self.extended_types = parse_bool(value)
            }
            "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
                self.read_only_mode = parse_bool(value)
            }
            "DigestAuthenticationProvider.superDigest"
            | "zookeeper.DigestAuthenticationProvider.superDigest" => {
                self.super_digest = Some(value.to_string())
            }
            "ssl.keyStore.location" => self.ssl_key_store = Some(PathBuf::from(value)),
            "ssl.keyStore.type" => self.ssl_key_store_type = Some(value.to_string()),
            "ssl.trustStore.location" => self.ssl_trust_store = Some(PathBuf::from(value)),
            "ssl.trustStore.type" => self.ssl_trust_store_type = Some(value.to_string()),
            "ssl.clientAuth" => {
                self.ssl_client_auth =
                    Some(
                        ClientAuth::parse(value).ok_or_else(|| ConfigError::Invalid {
                            key: key.to_string(),
                            value: value.to_string(),
                        })?,
                    )
            }
            "forceSync" => self.force_sync = parse_bool(value),
            "snapCount" | "zookeeper.snapCount" => self.snap_count = Some(parse_num(key, value)?),
            "globalOutstandingLimit" | "zookeeper.globalOutstandingLimit" => {
                self.global_outstanding_limit = Some(parse_num(key, value)?)
            }
            "nio.sessionlessCnxnTimeout" | "zookeeper.nio.sessionlessCnxnTimeout" => {
                self.sessionless_cnxn_timeout_ms = Some(parse_num(key, value)?)
            }
            "znode.container.checkIntervalMs" => {
                self.container_check_interval_ms = Some(parse_num(key, value)?)
            }
            k if k.starts_with("server.") => {
                let line = ensemble::parse_server_line(k, &k["server.".len()..], value)?;
                self.servers.push(line);
            }
            "ssl.keyStore.password" => self.ssl_key_store_password = Some(value.to_string()),
            "ssl.trustStore.password" => self.ssl_trust_store_password = Some(value.to_string()),
            "java.security.auth.login.config" => self.jaas_config = Some(PathBuf::from(value)),
            "sasl.serverconfig" => self.jaas_section = Some(value.to_string()),
            "superUser" => self.sasl_super_user = Some(value.to_string()),
            "X509AuthenticationProvider.superUser" => {
                self.x509_super_user = Some(value.to_string())
            }
            "sessionRequireClientSASLAuth" => self.require_sasl_auth = parse_bool(value),
            "enforce.auth.enabled" => self.enforce_auth = parse_bool(value),
            "enforce.auth.schemes" => self.enforce_auth_schemes = Some(value.to_string()),
            "jute.maxbuffer" => self.jute_max_buffer = Some(parse_num(key, value)?),
            "serverCnxnFactory" => self.server_cnxn_factory = Some(value.to_string()),
            k if k.starts_with("authProvider.") => {
                self.auth_providers
                    .insert(k["authProvider.".len()..].to_string(), value.to_string());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn store(
        &self,
        key: &str,
        path: &Path,
        password: &Option<String>,
        store_type: &Option<String>,
    ) -> Result<StoreFile, ConfigError> {
        let mut store = StoreFile::new(path);
        store.password = password.clone();
        if let Some(t) = store_type {
            store.store_type = Some(StoreType::parse(t).ok_or_else(|| ConfigError::Invalid {
                key: format!("{key}.type"),
                value: t.clone(),
            })?);
        }
        Ok(store)
    }

    /// ZooKeeper refuses `secureClientPortAddress` without `secureClientPort`.
    pub(crate) fn check_secure_address(&self) -> Result<(), ConfigError> {
        match (self.secure_client_port_address, self.secure_client_port) {
            (Some(addr), None) => Err(ConfigError::Invalid {
                key: "secureClientPortAddress".into(),
                value: format!("{addr} is set but secureClientPort is not"),
            }),
            _ => Ok(()),
        }
    }

    fn tls_to_builder(&self, mut b: TestServerBuilder) -> Result<TestServerBuilder, ConfigError> {
        self.check_secure_address()?;
        let (Some(port), Some(path)) = (self.secure_client_port, &self.ssl_key_store) else {
            if self.secure_client_port.is_some() {
                tracing::warn!("secureClientPort without ssl.keyStore.location: TLS disabled");
            }
            return Ok(b);
        };
        let key_store = self.store(
            "ssl.keyStore",
            path,
            &self.ssl_key_store_password,
            &self.ssl_key_store_type,
        )?;
        b = b.tls_key_store(key_store, port).secure_host(
            self.secure_client_port_address
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        );
        match (&self.ssl_trust_store, self.ssl_client_auth) {
            (Some(path), mode) => {
                let trust = self.store(
                    "ssl.trustStore",
                    path,
                    &self.ssl_trust_store_password,
                    &self.ssl_trust_store_type,
                )?;
                b = b.tls_trust_store(trust, mode.unwrap_or_default());
            }
            (None, Some(ClientAuth::None) | None) => {}
            (None, Some(mode)) => {
                // Java falls back to the JVM's default CAs; there is no such store here.
                tracing::warn!(
                    ?mode,
                    "ssl.clientAuth without ssl.trustStore.location: client certificates \
                     are not asked for"
                );
            }
        }
        Ok(b)
    }

    fn auth_to_builder(&self, mut b: TestServerBuilder) -> Result<TestServerBuilder, ConfigError> {
        const KNOWN_PROVIDERS: &[&str] = &[
            "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
            "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
            "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
            "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
        ];
        for (n, class) in &self.auth_providers {
            if !KNOWN_PROVIDERS.contains(&class.as_str()) {
                tracing::warn!(n = %n, %class, "authProvider ignored: unknown provider class");
            }
        }
        if let Some(path) = &self.jaas_config {
            let section = self.jaas_section.as_deref().unwrap_or("Server");
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.clone(), e))?;
            let invalid = |why: String| ConfigError::Invalid {
                key: "java.security.auth.login.config".into(),
                value: format!("{}: {why}", path.display()),
            };
            // As ZooKeeper's ServerCnxnFactory.configureSaslLogin: a file that does not parse
            // stops the server, a file without the section (kazoo's harness writes an empty
            // one) means no SASL.
            let sections = crate::sasl::parse_jaas(&text).map_err(|e| invalid(e.to_string()))?;
            match sections.get(section) {
                None => tracing::warn!(
                    file = %path.display(),
                    section,
                    "no JAAS section of that name: SASL is off"
                ),
                Some(entries) => {
                    let users: BTreeMap<String, String> =
                        entries.iter().flat_map(|e| e.digest_users()).collect();
                    if users.is_empty() {
                        tracing::warn!(
                            file = %path.display(),
                            section,
                            "the JAAS section has no DigestLoginModule users: SASL logins will fail"
                        );
                    }
                    b = b.sasl_users(users);
                }
            }
        }
        if let Some(user) = &self.sasl_super_user {
            b = b.sasl_super_user(user.clone());
        }
        if let Some(subject) = &self.x509_super_user {
            b = b.x509_super_user(subject.clone());
        }
        if self.require_sasl_auth {
            b = b.enforce_auth_schemes(["sasl"]);
        } else if self.enforce_auth {
            let schemes = self.enforce_auth_schemes.as_deref().unwrap_or("");
            let schemes: Vec<&str> = schemes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if schemes.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "enforce.auth.schemes".into(),
                    value: String::new(),
                });
            }
            b = b.enforce_auth_schemes(schemes);
        }
        Ok(b)
    }

    /// A server builder for this config (warning about every ignored key).
    pub fn to_builder(&self) -> Result<TestServerBuilder, ConfigError> {
        for (k, v) in &self.ignored {
            tracing::warn!(key = %k, value = %v, "zoo.cfg key ignored by zk-testserver");
        }
        if let (Some(data), Some(log)) = (&self.data_dir, &self.data_log_dir) {
            if data != log {
                tracing::warn!(dataLogDir = %log.display(), "dataLogDir ignored: the txn log is kept in dataDir");
            }
        }
        let port = self.client_port.ok_or(ConfigError::Missing("clientPort"))?;
        let host = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut b = TestServerBuilder::default()
            .host(host)
            .port(port)
            .tick_time_ms(self.tick_time)
            .extended_types(self.extended_types)
            .reconfig_enabled(self.reconfig_enabled)
            .read_only_mode_enabled(self.read_only_mode)
            .max_client_cnxns(self.max_client_cnxns)
            .fsync(self.force_sync)
            .four_letter_whitelist(self.four_letter_whitelist.as_deref().unwrap_or("srvr"));
        let tick = self.tick_time;
        let min = self.min_session_timeout.unwrap_or(tick.saturating_mul(2));
        let max = self.max_session_timeout.unwrap_or(tick.saturating_mul(20));
        b = b.session_timeout_bounds(min, max);
        if let Some(d) = &self.data_dir {
            b = b.data_dir(d.clone());
        }
        if let Some(n) = self.snap_count {
            b = b.snap_count(n);
        }
        if let Some(s) = &self.super_digest {
            b = b.super_digest(s.clone());
        }
        if let Some(id) = self.myid {
            b = b.myid(u8::try_from(id).unwrap_or(u8::MAX));
        }
        if let Some(n) = self.global_outstanding_limit {
            b = b.global_outstanding_limit(n);
        }
        if let Some(ms) = self.sessionless_cnxn_timeout_ms {
            b = b.handshake_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = self.container_check_interval_ms {
            b = b.container_check_interval(Duration::from_millis(ms));
        }
        b = self.tls_to_builder(b)?;
        b = self.auth_to_builder(b)?;
        if let Some(max) = self.jute_max_buffer {
            b = b.jute_max_buffer(max);
        }
        if let Some(factory) = &self.server_cnxn_factory {
            tracing::info!(%factory, "serverCnxnFactory: one connection layer serves both ports");
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_config() {
        let cfg = ZooCfg::parse(
            "# sample\ntickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=ruok, srvr\nadmin.enableServer=false\n\
             extendedTypesEnabled=true\nserver.1=10.0.0.1:2888:3888;2181\n\
             globalOutstandingLimit=50\nnio.sessionlessCnxnTimeout=700\n\
             server.2=10.0.0.2:2888:3888:observer\nsnapCount=500\n",
        )
        .unwrap();
        assert_eq!(cfg.tick_time, 2000);
        assert_eq!(cfg.client_port, Some(2181));
        assert_eq!(cfg.max_client_cnxns, 0);
        assert!(cfg.extended_types);
        assert_eq!(cfg.servers.len(), 2);
        assert_eq!(cfg.servers[0].client.as_deref(), Some("2181"));
        assert_eq!(cfg.servers[1].role, "observer");
        assert_eq!(
            cfg.ignored.get("admin.enableServer").map(String::as_str),
            Some("false")
        );
        assert_eq!(cfg.global_outstanding_limit, Some(50));
        assert_eq!(cfg.snap_count, Some(500));
        let b = cfg.to_builder().unwrap();
        assert_eq!(b.global_outstanding_limit, 50);
        assert_eq!(b.snap_count, 500);
        assert_eq!(b.handshake_timeout, Duration::from_millis(700));
    }

    #[test]
    fn secure_client_port_address_as_zookeeper_reads_it() {
        let tls = "clientPort=2181\nclientPortAddress=127.0.0.1\nsecureClientPort=2281\n\
                   ssl.keyStore.location=/k.pem\n";
        // Without it the TLS port listens on every address, not on clientPortAddress.
        let b = ZooCfg::parse(tls).unwrap().to_builder().unwrap();
        assert_eq!(b.secure_listen_addr(), "0.0.0.0:2281".parse().unwrap());
        assert_eq!(b.listen_addr(), "127.0.0.1:2181".parse().unwrap());
        let cfg = ZooCfg::parse(&format!("{tls}secureClientPortAddress=127.0.0.2\n")).unwrap();
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
        let b = cfg.to_builder().unwrap();
        assert_eq!(b.secure_listen_addr(), "127.0.0.2:2281".parse().unwrap());
        // An address without the port is an error, as in ZooKeeper.
        let cfg = ZooCfg::parse("clientPort=2181\nsecureClientPortAddress=127.0.0.2\n").unwrap();
        assert!(matches!(
            cfg.to_builder(),
            Err(ConfigError::Invalid { ref key, .. }) if key == "secureClientPortAddress"
        ));
    }

    #[test]
    fn parses_tls_client_auth_and_read_only_mode() {
        let cfg = ZooCfg::parse(
            "clientPort=2181\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\n\
             ssl.trustStore.location=/ca.pem\nssl.trustStore.type=PEM\nssl.clientAuth=Want\n\
             readonlymode.enabled=true\n",
        )
        .unwrap();
        assert_eq!(cfg.ssl_trust_store, Some(PathBuf::from("/ca.pem")));
        assert_eq!(cfg.ssl_client_auth, Some(ClientAuth::Want));
        assert!(cfg.read_only_mode);
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
        let b = cfg.to_builder().unwrap();
        let (trust, mode) = b.tls_trust_store.clone().unwrap();
        assert_eq!(
            (trust.path, mode),
            (PathBuf::from("/ca.pem"), ClientAuth::Want)
        );
        assert_eq!(trust.store_type, Some(StoreType::Pem));
        assert!(b.read_only_mode_enabled && !b.read_only);
        // A trust store without ssl.clientAuth means `need`, ZooKeeper's default; types
        // come from the file names when not given.
        let cfg = ZooCfg::parse(
            "clientPort=1\nsecureClientPort=2\nssl.keyStore.location=/k.p12\n\
             ssl.keyStore.password=pw\nssl.trustStore.location=/ca.jks\n",
        )
        .unwrap();
        let b = cfg.to_builder().unwrap();
        let key = b.tls_key_store.clone().unwrap();
        assert_eq!(key.password.as_deref(), Some("pw"));
        assert_eq!(key.resolved_type(), Ok(StoreType::Pkcs12));
        let (trust, mode) = b.tls_trust_store.clone().unwrap();
        assert_eq!(mode, ClientAuth::Need);
        assert_eq!(trust.resolved_type(), Ok(StoreType::Jks));
        assert!(matches!(
            ZooCfg::parse("clientPort=1\nsecureClientPort=2\nssl.keyStore.location=/k\nssl.keyStore.type=BKS\n")
                .unwrap()
                .to_builder(),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            ZooCfg::parse("ssl.clientAuth=maybe"),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            ZooCfg::parse("tickTime=fast"),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            ZooCfg::parse("server.1=host").map(|_| ()),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            ZooCfg::parse("tickTime=100").unwrap().to_builder(),
            Err(ConfigError::Missing("clientPort"))
        ));
    }

    /// kazoo's harness passes `-Djava.security.auth.login.config` with an empty file when it
    /// wants no SASL; real ZooKeeper starts without SASL then, and so do we. A file that does
    /// not parse still stops the server.
    #[test]
    fn a_jaas_file_without_the_server_section_means_no_sasl() {
        let dir = std::env::temp_dir().join(format!("zk-jaas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.conf");
        std::fs::write(&empty, "").unwrap();
        let other = dir.join("client-only.conf");
        std::fs::write(
            &other,
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"u\" password=\"p\"; };",
        )
        .unwrap();
        let broken = dir.join("broken.conf");
        std::fs::write(&broken, "Server { oops").unwrap();
        let cfg = |jaas: &Path| {
            let mut cfg = ZooCfg::parse(
                "clientPort=2181\n\
                 authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
            )
            .unwrap();
            cfg.jaas_config = Some(jaas.to_path_buf());
            cfg.to_builder()
        };
        for file in [&empty, &other] {
            let b = cfg(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(b.sasl_users.is_none(), "{}", file.display());
        }
        assert!(matches!(cfg(&broken), Err(ConfigError::Invalid { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
