//! Files and command lines for one member: port picking, `zoo.cfg`, `log4j.properties`, the
//! JVM arguments and the classpath.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::RealOptions;

/// Directory holding the Debian ZooKeeper jars; `ZK_REAL_JAVA_DIR` overrides it.
pub(super) fn java_dir() -> PathBuf {
    std::env::var_os("ZK_REAL_JAVA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java"))
}

/// The `java` executable: `$JAVA_HOME/bin/java` if that exists, else the first `java` on `PATH`.
pub(super) fn java_executable() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let candidate = Path::new(&home).join("bin").join("java");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("java"))
        .find(|candidate| candidate.is_file())
}

/// The server classpath. The jar's manifest names most dependencies but misses the Netty codec
/// and resolver jars and a logging backend; missing entries are ignored by `java`.
pub(super) fn classpath() -> OsString {
    const JARS: &[&str] = &[
        "zookeeper.jar",
        "zookeeper-jute.jar",
        "netty-codec.jar",
        "netty-resolver.jar",
        "netty-transport-native-unix-common.jar",
        "log4j-1.2.jar",
        "slf4j-log4j12.jar",
    ];
    let dir = java_dir();
    let mut cp = OsString::new();
    for (i, jar) in JARS.iter().enumerate() {
        if i > 0 {
            cp.push(":");
        }
        cp.push(dir.join(jar));
    }
    cp
}

/// The ports one member listens on.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ports {
    pub(super) client: u16,
    pub(super) quorum: u16,
    pub(super) election: u16,
}

/// Ports handed out by this process; never handed out twice, so concurrently running harnesses
/// in one test binary cannot collide with each other.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Picks `n` distinct free loopback ports: binds `127.0.0.1:0` until it has `n` ports not handed
/// out before, then releases them all (the JVM binds them shortly after).
pub(super) fn pick_ports(n: usize) -> io::Result<Vec<u16>> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut listeners = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    let mut attempts = 0;
    while ports.len() < n {
        attempts += 1;
        if attempts > 64 * n + 64 {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "could not find enough unused loopback ports",
            ));
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        if handed_out.insert(port) {
            ports.push(port);
        }
        // Keep every listener open until the end so the kernel hands out distinct ports.
        listeners.push(listener);
    }
    Ok(ports)
}

/// A fresh, unique directory under the system temp dir.
pub(super) fn create_root_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "zk-real-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// How a member fits into the deployment.
pub(super) enum Role<'a> {
    /// A single server without `server.N` lines.
    Standalone,
    /// Member with `myid` `id` of an ensemble whose members have these ports (index `k` is
    /// `myid` `k + 1`).
    Participant { id: usize, all: &'a [Ports] },
}

/// The text of `zoo.cfg`.
pub(super) fn zoo_cfg(
    opts: &RealOptions,
    data_dir: &Path,
    ports: Ports,
    role: &Role<'_>,
) -> String {
    let tick = opts.tick_time_ms.max(1);
    // Keep the quorum limits at a few seconds even with a small tickTime, so a slow, loaded CI
    // machine does not make followers drop out.
    let init_limit = 10.max(10_000u32.div_ceil(tick));
    let sync_limit = 5.max(5_000u32.div_ceil(tick));
    let mut cfg = String::new();
    let mut line = |s: String| {
        cfg.push_str(&s);
        cfg.push('\n');
    };
    line(format!("tickTime={tick}"));
    line(format!("initLimit={init_limit}"));
    line(format!("syncLimit={sync_limit}"));
    line(format!("dataDir={}", data_dir.display()));
    line(format!("clientPort={}", ports.client));
    line("clientPortAddress=127.0.0.1".into());
    line("admin.enableServer=false".into());
    line("4lw.commands.whitelist=*".into());
    line("maxClientCnxns=0".into());
    if let Some(ms) = opts.min_session_timeout_ms {
        line(format!("minSessionTimeout={ms}"));
    }
    if let Some(ms) = opts.max_session_timeout_ms {
        line(format!("maxSessionTimeout={ms}"));
    }
    if opts.extended_types {
        line("extendedTypesEnabled=true".into());
    }
    line(format!("reconfigEnabled={}", opts.reconfig_enabled));
    if let Role::Participant { all, .. } = role {
        for (k, p) in all.iter().enumerate() {
            line(format!(
                "server.{}=127.0.0.1:{}:{}:participant;127.0.0.1:{}",
                k + 1,
                p.quorum,
                p.election,
                p.client
            ));
        }
    }
    for extra in &opts.extra_config {
        line(extra.clone());
    }
    cfg
}

/// A log4j 1.2 configuration that writes everything to `log_file` and nothing to the console.
pub(super) fn log4j_properties(log_file: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "log4j.rootLogger=INFO, FILE");
    let _ = writeln!(s, "log4j.appender.FILE=org.apache.log4j.FileAppender");
    let _ = writeln!(s, "log4j.appender.FILE.File={}", log_file.display());
    let _ = writeln!(s, "log4j.appender.FILE.Append=true");
    let _ = writeln!(
        s,
        "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout"
    );
    let _ = writeln!(
        s,
        "log4j.appender.FILE.layout.ConversionPattern=%d{{ISO8601}} [myid:%X{{myid}}] %-5p [%t] %c{{1}} - %m%n"
    );
    s
}

/// JVM options (before `-cp`) for a member living in `dir`.
pub(super) fn jvm_args(opts: &RealOptions, dir: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-Xshare:auto",
        "-XX:TieredStopAtLevel=1",
        "-XX:-UsePerfData",
        "-Djava.net.preferIPv4Stack=true",
        "-Dzookeeper.admin.enableServer=false",
        "-Dzookeeper.jmx.log4j.disable=true",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let mut prop = |key: &str, value: &dyn AsRef<std::ffi::OsStr>| {
        let mut arg = OsString::from(format!("-D{key}="));
        arg.push(value);
        args.push(arg);
    };
    prop("zookeeper.log.dir", &dir);
    prop("zookeeper.log.file", &"zookeeper.log");
    let mut log4j = OsString::from("file:");
    log4j.push(dir.join("log4j.properties"));
    prop("log4j.configuration", &log4j);
    if !opts.force_sync {
        prop("zookeeper.forceSync", &"no");
    }
    if opts.extended_types {
        prop("zookeeper.extendedTypesEnabled", &"true");
    }
    if opts.read_only_mode {
        prop("readonlymode.enabled", &"true");
    }
    if let Some(digest) = &opts.super_digest {
        prop("zookeeper.DigestAuthenticationProvider.superDigest", digest);
    }
    args.extend(opts.jvm_args.iter().map(OsString::from));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_cfg_for_an_ensemble_member() {
        let opts = RealOptions {
            tick_time_ms: 200,
            extended_types: true,
            min_session_timeout_ms: Some(400),
            extra_config: vec!["localSessionsEnabled=false".into()],
            ..RealOptions::default()
        };
        let ports = [
            Ports {
                client: 1,
                quorum: 2,
                election: 3,
            },
            Ports {
                client: 4,
                quorum: 5,
                election: 6,
            },
        ];
        let cfg = zoo_cfg(
            &opts,
            Path::new("/d"),
            ports[1],
            &Role::Participant { id: 2, all: &ports },
        );
        for line in [
            "tickTime=200",
            "initLimit=50",
            "syncLimit=25",
            "dataDir=/d",
            "clientPort=4",
            "extendedTypesEnabled=true",
            "minSessionTimeout=400",
            "server.1=127.0.0.1:2:3:participant;127.0.0.1:1",
            "server.2=127.0.0.1:5:6:participant;127.0.0.1:4",
            "localSessionsEnabled=false",
        ] {
            assert!(cfg.lines().any(|l| l == line), "{line} missing from\n{cfg}");
        }
    }

    #[test]
    fn jvm_args_carry_the_options() {
        let opts = RealOptions {
            extended_types: true,
            read_only_mode: true,
            super_digest: Some("super:abc=".into()),
            ..RealOptions::default()
        };
        let args: Vec<String> = jvm_args(&opts, Path::new("/m"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        for arg in [
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dreadonlymode.enabled=true",
            "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc=",
            "-Dlog4j.configuration=file:/m/log4j.properties",
            "-Dzookeeper.forceSync=no",
        ] {
            assert!(args.iter().any(|a| a == arg), "{arg} missing from {args:?}");
        }
    }

    #[test]
    fn picked_ports_are_distinct() {
        let mut ports = pick_ports(10).unwrap();
        ports.extend(pick_ports(10).unwrap());
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len());
    }
}
