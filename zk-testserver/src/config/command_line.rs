//! The JVM-style command line of `java ... QuorumPeerMain zoo.cfg`, and ZooKeeper's system
//! properties.
//!
//! A harness that launches real ZooKeeper runs something like
//!
//! ```text
//! java -Xmx512m -cp ... -Dzookeeper.DigestAuthenticationProvider.superDigest=super:...
//!      -Djava.security.auth.login.config=/tmp/jaas.conf
//!      org.apache.zookeeper.server.quorum.QuorumPeerMain /tmp/zoo.cfg
//! ```
//!
//! and `zk-testserver` takes the same arguments after its own name: `-Dname=value` system
//! properties are applied, other JVM flags (`-Xmx..`, `-XX:..`, `-cp x`, `-server`, ...) and
//! the main class name are skipped, and the first other argument is the config file.
//!
//! Precedence is ZooKeeper's: it turns every `zoo.cfg` key it does not parse itself into the
//! system property `zookeeper.<key>`, overwriting a `-D` of the same name, so for those keys
//! the file wins. Keys it parses itself (`tickTime`, `clientPort`, `dataDir`, ...) are not
//! properties at all. A few settings are only ever properties, under their bare names
//! (`readonlymode.enabled`, `jute.maxbuffer`, `java.security.auth.login.config`,
//! `znode.container.checkIntervalMs`); there the `-D` value wins.

use std::path::PathBuf;

use super::{ConfigError, ZooCfg};

/// The main classes a harness may name before the config file.
pub const MAIN_CLASSES: &[&str] = &[
    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    "org.apache.zookeeper.server.ZooKeeperServerMain",
];

/// `zoo.cfg` keys ZooKeeper reads as `zookeeper.<key>` system properties.
const PROPERTY_KEYS: &[&str] = &[
    "4lw.commands.whitelist",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "superUser",
    "X509AuthenticationProvider.superUser",
    "sessionRequireClientSASLAuth",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "sasl.serverconfig",
    "serverCnxnFactory",
    "forceSync",
    "jute.maxbuffer",
];

/// Settings that are only system properties, under their own names (the `-D` wins).
const BARE_PROPERTIES: &[&str] = &[
    "readonlymode.enabled",
    "jute.maxbuffer",
    "java.security.auth.login.config",
    "znode.container.checkIntervalMs",
];

/// Properties that concern only the JVM, logging, or servers this one does not run (the
/// AdMin HTTP server, JMX): skipped without a warning.
const IGNORED_PREFIXES: &[&str] = &[
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "file.",
    "user.",
    "os.",
    "line.separator",
    "log4j.",
    "log4j2.",
    "logback.",
    "slf4j.",
    "jline.",
    "zookeeper.log.",
    "zookeeper.root.logger",
    "zookeeper.console.threshold",
    "zookeeper.tracelog.",
    "zookeeper.jmx.",
    "zookeeper.admin.",
    "zookeeper.metricsProvider.",
];

/// A parsed command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// `-Dname=value` properties, in order (`-Dname` alone has the value `""`).
    pub properties: Vec<(String, String)>,
    /// The config file.
    pub config: PathBuf,
    /// JVM flags and class names that were skipped.
    pub skipped: Vec<String>,
}

/// JVM options that take the next argument as their value.
fn takes_value(flag: &str) -> bool {
    matches!(
        flag,
        "-cp"
            | "-classpath"
            | "--class-path"
            | "-p"
            | "--module-path"
            | "--add-opens"
            | "--add-exports"
            | "--add-modules"
            | "--add-reads"
    )
}

impl CommandLine {
    /// Parses the arguments after the program name. Errors if there is no config file or
    /// more than one non-flag argument besides a known main class.
    pub fn parse<I, S>(args: I) -> Result<CommandLine, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out = CommandLine::default();
        let mut config = None;
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            if let Some(prop) = arg.strip_prefix("-D") {
                let (k, v) = prop.split_once('=').unwrap_or((prop, ""));
                if k.is_empty() {
                    return Err(format!("bad system property {arg:?}"));
                }
                out.properties.push((k.to_string(), v.to_string()));
            } else if takes_value(&arg) {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                out.skipped.push(format!("{arg} {value}"));
            } else if arg.starts_with('-')
                || (MAIN_CLASSES.contains(&arg.as_str()) && config.is_none())
            {
                out.skipped.push(arg);
            } else if config.is_none() {
                config = Some(PathBuf::from(arg));
            } else {
                return Err(format!(
                    "unexpected argument {arg:?} after the config file (only the \
                     `QuorumPeerMain zoo.cfg` form is supported)"
                ));
            }
        }
        out.config = config.ok_or("no config file given")?;
        Ok(out)
    }
}

/// What became of one system property.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyUse {
    /// Applied as this config key.
    Applied(String),
    /// `zoo.cfg` sets the same key, which wins (as in ZooKeeper).
    OverriddenByFile(String),
    /// Only for the JVM or logging: skipped.
    Ignored,
    /// Not a setting this server knows: skipped with a warning.
    Unknown,
}

impl ZooCfg {
    /// Applies JVM system properties with ZooKeeper's precedence (see the module docs) and
    /// says what became of each.
    pub fn apply_system_properties(
        &mut self,
        properties: &[(String, String)],
    ) -> Result<Vec<(String, PropertyUse)>, ConfigError> {
        let mut out = Vec::with_capacity(properties.len());
        for (name, value) in properties {
            let used = if BARE_PROPERTIES.contains(&name.as_str()) {
                self.set(name, value)?;
                PropertyUse::Applied(name.clone())
            } else if let Some(key) = name
                .strip_prefix("zookeeper.")
                .filter(|k| PROPERTY_KEYS.contains(k) || k.starts_with("authProvider."))
            {
                if self.file_keys.contains(key) {
                    PropertyUse::OverriddenByFile(key.to_string())
                } else {
                    self.set(key, value)?;
                    PropertyUse::Applied(key.to_string())
                }
            } else if IGNORED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                PropertyUse::Ignored
            } else {
                PropertyUse::Unknown
            };
            out.push((name.clone(), used));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_java_command_line() {
        let cl = CommandLine::parse([
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-cp",
            "/usr/share/java/zookeeper.jar:x.jar",
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dflag",
            "--add-opens",
            "java.base/java.lang=ALL-UNNAMED",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            "/tmp/zoo.cfg",
        ])
        .unwrap();
        assert_eq!(cl.config, PathBuf::from("/tmp/zoo.cfg"));
        assert_eq!(
            cl.properties,
            vec![
                ("zookeeper.extendedTypesEnabled".into(), "true".into()),
                ("flag".into(), String::new())
            ]
        );
        assert_eq!(cl.skipped.len(), 5);
        assert_eq!(
            CommandLine::parse(["zoo.cfg"]).unwrap().config,
            PathBuf::from("zoo.cfg")
        );
        assert!(CommandLine::parse(["-Da=b"]).is_err());
        assert!(CommandLine::parse(["a.cfg", "b.cfg"]).is_err());
        assert!(CommandLine::parse(["-cp"]).is_err());
        assert!(CommandLine::parse(["-D=x", "z.cfg"]).is_err());
    }

    #[test]
    fn file_keys_win_over_zookeeper_properties() {
        let mut cfg = ZooCfg::parse(
            "clientPort=1\n4lw.commands.whitelist=ruok\nssl.keyStore.location=/file.jks\n",
        )
        .unwrap();
        let props: Vec<(String, String)> = [
            ("zookeeper.4lw.commands.whitelist", "*"),
            ("zookeeper.ssl.keyStore.password", "pw"),
            ("zookeeper.ssl.keyStore.location", "/prop.jks"),
            ("zookeeper.extendedTypesEnabled", "true"),
            (
                "zookeeper.authProvider.1",
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
            ),
            ("zookeeper.tickTime", "10"),
            ("readonlymode.enabled", "true"),
            ("jute.maxbuffer", "4096"),
            ("java.security.auth.login.config", "/jaas.conf"),
            ("log4j.configuration", "file:x"),
            ("zookeeper.log.dir", "/logs"),
            ("java.net.preferIPv4Stack", "true"),
            ("made.up", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let used = cfg.apply_system_properties(&props).unwrap();
        let use_of = |name: &str| used.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(
            use_of("zookeeper.4lw.commands.whitelist"),
            PropertyUse::OverriddenByFile("4lw.commands.whitelist".into())
        );
        assert_eq!(cfg.four_letter_whitelist.as_deref(), Some("ruok"));
        assert_eq!(cfg.ssl_key_store, Some(PathBuf::from("/file.jks")));
        assert_eq!(cfg.ssl_key_store_password.as_deref(), Some("pw"));
        assert!(cfg.extended_types && cfg.read_only_mode);
        assert_eq!(cfg.auth_providers.len(), 1);
        assert_eq!(cfg.tick_time, 3000, "tickTime is not a system property");
        assert_eq!(use_of("zookeeper.tickTime"), PropertyUse::Unknown);
        assert_eq!(cfg.jute_max_buffer, Some(4096));
        assert_eq!(cfg.jaas_config, Some(PathBuf::from("/jaas.conf")));
        for name in [
            "log4j.configuration",
            "zookeeper.log.dir",
            "java.net.preferIPv4Stack",
        ] {
            assert_eq!(use_of(name), PropertyUse::Ignored, "{name}");
        }
        assert_eq!(use_of("made.up"), PropertyUse::Unknown);
        let bad = [("jute.maxbuffer".to_string(), "lots".to_string())];
        assert!(cfg.apply_system_properties(&bad).is_err());
    }
}
