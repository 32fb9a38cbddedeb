//! [`RealOptions`]: the settings of the launched servers.

use std::time::Duration;

/// Settings for the servers a [`RealZooKeeper`](super::RealZooKeeper) launches.
///
/// Construct with struct-update syntax:
/// `RealOptions { tick_time_ms: 200, extended_types: true, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// `tickTime` in milliseconds (default 2000). The negotiated session timeout is clamped to
    /// `[2, 20] × tickTime` unless overridden, so use e.g. 200 for fast session-expiry tests.
    pub tick_time_ms: u32,
    /// Enables extended types (TTL nodes): `extendedTypesEnabled=true` in `zoo.cfg` and
    /// `-Dzookeeper.extendedTypesEnabled=true`.
    pub extended_types: bool,
    /// Enables read-only mode (`-Dreadonlymode.enabled=true`): a member cut off from its quorum
    /// serves read-only clients.
    pub read_only_mode: bool,
    /// The super user's digest, `super:BASE64(SHA1("super:password"))`, passed as
    /// `-Dzookeeper.DigestAuthenticationProvider.superDigest`.
    pub super_digest: Option<String>,
    /// `reconfigEnabled=true`: allows the `reconfig` operation.
    pub reconfig_enabled: bool,
    /// `minSessionTimeout` in milliseconds (server default: 2 × tickTime).
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout` in milliseconds (server default: 20 × tickTime).
    pub max_session_timeout_ms: Option<u32>,
    /// Extra `zoo.cfg` lines, appended verbatim after the generated ones.
    pub extra_config: Vec<String>,
    /// Extra JVM arguments (e.g. `-Dzookeeper.foo=bar`), placed before the classpath.
    pub jvm_args: Vec<String>,
    /// Whether the transaction log is fsynced (default `false`: `-Dzookeeper.forceSync=no`,
    /// which is faster and still survives a SIGKILL of the JVM, since the OS keeps the data).
    pub force_sync: bool,
    /// How long the constructors and
    /// [`RealZooKeeper::restart`](super::RealZooKeeper::restart) wait for the servers to
    /// serve (default 60 s).
    pub startup_timeout: Duration,
}

impl Default for RealOptions {
    fn default() -> Self {
        RealOptions {
            tick_time_ms: 2000,
            extended_types: false,
            read_only_mode: false,
            super_digest: None,
            reconfig_enabled: false,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            extra_config: Vec::new(),
            jvm_args: Vec::new(),
            force_sync: false,
            startup_timeout: Duration::from_secs(60),
        }
    }
}
