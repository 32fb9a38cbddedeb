//! A harness that launches **real Apache ZooKeeper** (the Debian 3.8 packages) for tests.
//!
//! Each member is a separate JVM running `QuorumPeerMain` with its own `zoo.cfg`, on free
//! loopback ports, with a fresh data directory under the system temp dir. Everything is removed
//! and every JVM killed when the [`RealZooKeeper`] is dropped (set `ZK_REAL_KEEP_DIRS=1` to keep
//! the directories for a post-mortem). If the test process dies without running destructors, a
//! small watchdog process kills the JVMs.
//!
//! The harness is synchronous (std only, no runtime) and blocks while it waits: from an async
//! test either call it from `spawn_blocking` or accept that construction blocks the thread for
//! a second or two. All methods take `&self`, so one instance can be shared through an `Arc`.
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
//!
//! if !require_real_zookeeper() {
//!     return; // skipped outside CI; panics in CI
//! }
//! let zk = RealZooKeeper::ensemble(3, RealOptions::default()).unwrap();
//! let leader = zk.leader().unwrap();
//! zk.kill(leader).unwrap();
//! let new_leader = zk.wait_for_leader(Duration::from_secs(30)).unwrap();
//! assert_ne!(leader, new_leader);
//! zk.restart(leader).unwrap();
//! println!("connect to {}", zk.connect_string());
//! ```
//!
//! Member indexes are 0-based; member `i` of an ensemble has `myid` `i + 1`.
//!
//! Installing the server: `scripts/install-deps.sh` (Debian packages `zookeeper` and
//! `zookeeper-bin`, and a JRE). `ZK_REAL_JAVA_DIR` overrides the jar directory
//! (`/usr/share/java`); `JAVA_HOME` selects the JVM.

mod config;
mod error;
mod four_letter;
mod options;
mod process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use config::{Ports, Role};
use four_letter::{four_letter_at, parse_mode};
use process::{MemberFiles, Running};

pub use error::RealError;
pub use options::RealOptions;

/// Whether real ZooKeeper can be launched here: the ZooKeeper jar and `java` exist.
pub fn real_zookeeper_available() -> bool {
    unavailable_reason().is_none()
}

/// Why real ZooKeeper cannot be launched, or `None` if it can.
fn unavailable_reason() -> Option<String> {
    let jar = config::java_dir().join("zookeeper.jar");
    if !jar.is_file() {
        return Some(format!("{} is missing", jar.display()));
    }
    if config::java_executable().is_none() {
        return Some("no `java` executable on PATH or in $JAVA_HOME/bin".into());
    }
    None
}

/// Whether the `CI` environment variable is set to something other than empty, `0` or `false`.
fn running_in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"),
        Err(_) => false,
    }
}

/// Gate for tests that need real ZooKeeper.
///
/// Returns `true` if it is available. Otherwise, when the `CI` environment variable is set
/// (e.g. `CI=true`) it **panics**, so a misconfigured CI machine fails instead of silently
/// skipping; outside CI it prints a note to stderr and returns `false`, and the caller should
/// return early:
///
/// ```no_run
/// if !zk_testserver::real::require_real_zookeeper() {
///     return;
/// }
/// ```
pub fn require_real_zookeeper() -> bool {
    match unavailable_reason() {
        None => true,
        Some(reason) if running_in_ci() => panic!(
            "real ZooKeeper is required when CI is set, but it is not available: {reason}; \
             run scripts/install-deps.sh on the CI machine"
        ),
        Some(reason) => {
            eprintln!(
                "skipping: real ZooKeeper is not available ({reason}); \
                 run scripts/install-deps.sh to enable these tests"
            );
            false
        }
    }
}

/// One member of the deployment.
#[derive(Debug)]
struct Member {
    ports: Ports,
    files: MemberFiles,
    /// `None` while the member is killed or stopped.
    process: Mutex<Option<Running>>,
}

impl Member {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.client))
    }

    fn process(&self) -> MutexGuard<'_, Option<Running>> {
        self.process.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Real ZooKeeper servers: one standalone server or an ensemble of participants.
///
/// Dropping it kills every JVM, waits for them, and removes the temp directory.
#[derive(Debug)]
pub struct RealZooKeeper {
    members: Vec<Member>,
    opts: RealOptions,
    java: PathBuf,
    root: PathBuf,
    standalone: bool,
}

/// What a member reported on its client port.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Probe {
    /// The JVM is not running.
    Down,
    /// Running but not answering, or answering that it does not serve requests yet.
    NotServing,
    /// Serving in this mode (`standalone`, `leader`, `follower`, `observer`, `read-only`).
    Serving(String),
}

/// How many times the constructors retry with fresh ports when a port was taken meanwhile.
const BIND_ATTEMPTS: usize = 3;
/// Lines of each log file quoted in errors.
const LOG_TAIL_LINES: usize = 40;

impl RealZooKeeper {
    /// Launches a standalone server and waits until it serves requests (`ruok` answers `imok`
    /// and `srvr` shows `Mode: standalone`).
    ///
    /// Errors: [`RealError::Unavailable`] without the jar or `java`; [`RealError::Exited`] or
    /// [`RealError::Timeout`] (with the tail of the server log) if it does not come up.
    pub fn standalone(opts: RealOptions) -> Result<RealZooKeeper, RealError> {
        Self::launch(1, true, opts)
    }

    /// Launches an ensemble of `n` participants and waits until one member is leader and all
    /// others followers.
    ///
    /// `n = 1` gives a one-member ensemble, which ZooKeeper runs in standalone mode unless
    /// `standaloneEnabled=false` is in [`RealOptions::extra_config`].
    ///
    /// Errors: as [`RealZooKeeper::standalone`], and [`RealError::InvalidArgument`] for `n = 0`.
    pub fn ensemble(n: usize, opts: RealOptions) -> Result<RealZooKeeper, RealError> {
        if n == 0 {
            return Err(RealError::InvalidArgument(
                "an ensemble needs at least one member".into(),
            ));
        }
        Self::launch(n, false, opts)
    }

    fn launch(n: usize, standalone: bool, opts: RealOptions) -> Result<RealZooKeeper, RealError> {
        if let Some(reason) = unavailable_reason() {
            return Err(RealError::Unavailable(reason));
        }
        let java = config::java_executable()
            .ok_or_else(|| RealError::Unavailable("no `java` executable".into()))?;
        let mut attempt = 1;
        loop {
            let zk = Self::prepare(n, standalone, opts.clone(), java.clone())?;
            for i in 0..n {
                zk.start(i)?;
            }
            let timeout = zk.opts.startup_timeout;
            let result = if standalone {
                zk.wait_ready(0, timeout)
            } else {
                zk.wait_for_quorum_of(n, timeout).map(|_| ())
            };
            match result {
                Ok(()) => return Ok(zk),
                Err(e) if attempt < BIND_ATTEMPTS && zk.lost_a_port() => {
                    // Someone grabbed one of the ports between picking and binding: try again
                    // with fresh ports (dropping `zk` kills the JVMs and removes the dirs).
                    attempt += 1;
                    drop(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Picks ports and writes every member's files.
    fn prepare(
        n: usize,
        standalone: bool,
        opts: RealOptions,
        java: PathBuf,
    ) -> Result<RealZooKeeper, RealError> {
        let per_member = if standalone { 1 } else { 3 };
        let picked = config::pick_ports(n * per_member)
            .map_err(|e| RealError::io("picking free loopback ports", e))?;
        let ports: Vec<Ports> = picked
            .chunks(per_member)
            .map(|c| Ports {
                client: c[0],
                quorum: c.get(1).copied().unwrap_or(0),
                election: c.get(2).copied().unwrap_or(0),
            })
            .collect();
        let root =
            config::create_root_dir().map_err(|e| RealError::io("creating the temp dir", e))?;
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, &p)| Member {
                ports: p,
                files: MemberFiles {
                    dir: root.join(format!("member-{}", i + 1)),
                },
                process: Mutex::new(None),
            })
            .collect();
        // From here on Drop cleans up the directory.
        let zk = RealZooKeeper {
            members,
            opts,
            java,
            root,
            standalone,
        };
        for (i, member) in zk.members.iter().enumerate() {
            let role = if standalone {
                Role::Standalone
            } else {
                Role::Participant {
                    id: i + 1,
                    all: &ports,
                }
            };
            member
                .files
                .write(&zk.opts, member.ports, &role)
                .map_err(|e| RealError::io(format!("writing {}", member.files.dir.display()), e))?;
        }
        Ok(zk)
    }

    /// Whether some member's log says a port was already in use.
    fn lost_a_port(&self) -> bool {
        self.members.iter().any(|m| {
            let tail = m.files.log_tail(200);
            tail.contains("Address already in use") || tail.contains("BindException")
        })
    }

    fn member(&self, index: usize) -> Result<&Member, RealError> {
        self.members.get(index).ok_or(RealError::NoSuchMember {
            index,
            count: self.members.len(),
        })
    }

    /// The number of members (1 for a standalone server).
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Whether this is a standalone server (as opposed to an ensemble).
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// The options the servers were launched with.
    pub fn options(&self) -> &RealOptions {
        &self.opts
    }

    /// The client connect string of all members, `127.0.0.1:p1,127.0.0.1:p2,...`, in member
    /// order.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| m.addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client address of member `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn member_addr(&self, index: usize) -> SocketAddr {
        match self.member(index) {
            Ok(m) => m.addr(),
            Err(e) => panic!("{e}"),
        }
    }

    /// The directory of member `index` (holding `zoo.cfg`, `data/`, `zookeeper.log`).
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn member_dir(&self, index: usize) -> &Path {
        match self.member(index) {
            Ok(m) => &m.files.dir,
            Err(e) => panic!("{e}"),
        }
    }

    /// The last `lines` lines of member `index`'s server log and console output.
    pub fn log_tail(&self, index: usize, lines: usize) -> Result<String, RealError> {
        Ok(self.member(index)?.files.log_tail(lines))
    }

    /// Whether member `index`'s JVM is running (false if it was killed, stopped or crashed).
    pub fn is_running(&self, index: usize) -> bool {
        let Ok(member) = self.member(index) else {
            return false;
        };
        let mut process = member.process();
        match process.as_mut().map(|p| p.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                // Exited by itself: reap it and forget it.
                if let Some(p) = process.take() {
                    let _ = p.kill();
                }
                false
            }
            None => false,
        }
    }

    /// Launches member `index`'s JVM (same ports and data directory as before) without waiting
    /// for it to serve. Does nothing if it is already running.
    ///
    /// Use this instead of [`RealZooKeeper::restart`] when the member cannot serve by itself,
    /// e.g. one member of an ensemble whose quorum is down.
    pub fn start(&self, index: usize) -> Result<(), RealError> {
        let member = self.member(index)?;
        // One lock for the check and the spawn, so concurrent calls start one JVM.
        let mut process = member.process();
        if let Some(running) = process.as_mut() {
            if let Ok(None) = running.try_wait() {
                return Ok(());
            }
            // It exited by itself: reap it before launching a new one.
            if let Some(exited) = process.take() {
                let _ = exited.kill();
            }
        }
        let running = Running::spawn(&self.java, &self.opts, &member.files)
            .map_err(|e| RealError::io(format!("spawning {}", self.java.display()), e))?;
        *process = Some(running);
        Ok(())
    }

    /// SIGKILLs member `index`'s JVM (no clean shutdown) and waits for it to exit.
    ///
    /// Errors: [`RealError::NotRunning`] if it is not running.
    pub fn kill(&self, index: usize) -> Result<(), RealError> {
        let running = self.member(index)?.process().take();
        match running {
            Some(p) => p
                .kill()
                .map(|_| ())
                .map_err(|e| RealError::io(format!("killing member {index}"), e)),
            None => Err(RealError::NotRunning { index }),
        }
    }

    /// Stops member `index` cleanly (SIGTERM; SIGKILL after 10 s) and waits for it to exit.
    ///
    /// Errors: [`RealError::NotRunning`] if it is not running.
    pub fn stop(&self, index: usize) -> Result<(), RealError> {
        let running = self.member(index)?.process().take();
        match running {
            Some(p) => p
                .stop()
                .map(|_| ())
                .map_err(|e| RealError::io(format!("stopping member {index}"), e)),
            None => Err(RealError::NotRunning { index }),
        }
    }

    /// Restarts member `index` with the same ports and data directory (stopping it cleanly
    /// first if it is running) and waits up to [`RealOptions::startup_timeout`] until it
    /// serves requests.
    pub fn restart(&self, index: usize) -> Result<(), RealError> {
        if self.is_running(index) {
            self.stop(index)?;
        }
        self.start(index)?;
        self.wait_ready(index, self.opts.startup_timeout)
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `mntr`, `stat`, `cons`, `conf`, ...) to member
    /// `index` and returns the whole reply.
    pub fn four_letter(&self, index: usize, command: &str) -> Result<String, RealError> {
        let member = self.member(index)?;
        if command.len() != 4 || !command.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(RealError::InvalidArgument(format!(
                "{command:?} is not a four-letter word"
            )));
        }
        four_letter_at(member.addr(), command)
            .map_err(|e| RealError::io(format!("sending `{command}` to member {index}"), e))
    }

    /// The `Mode:` line of member `index`'s `srvr` reply (`standalone`, `leader`, `follower`,
    /// `observer`, `read-only`), or `None` if it does not answer or does not serve requests.
    pub fn mode(&self, index: usize) -> Option<String> {
        let reply = self.four_letter(index, "srvr").ok()?;
        parse_mode(&reply)
    }

    /// The index of the member that is currently leader, if any running member says so.
    pub fn leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| self.mode(i).as_deref() == Some("leader"))
    }

    fn probe(&self, index: usize) -> Result<Probe, RealError> {
        let member = self.member(index)?;
        {
            let mut process = member.process();
            let Some(running) = process.as_mut() else {
                return Ok(Probe::Down);
            };
            match running.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    process.take();
                    return Err(RealError::Exited {
                        index,
                        status: status.to_string(),
                        log_tail: member.files.log_tail(LOG_TAIL_LINES),
                    });
                }
                Err(e) => return Err(RealError::io(format!("checking member {index}"), e)),
            }
        }
        match four_letter_at(member.addr(), "ruok") {
            Ok(reply) if reply.trim() == "imok" => {}
            _ => return Ok(Probe::NotServing),
        }
        Ok(self
            .mode(index)
            .map(Probe::Serving)
            .unwrap_or(Probe::NotServing))
    }

    /// Waits until member `index` serves requests: `ruok` answers `imok` and `srvr` reports a
    /// mode. Fails early with [`RealError::Exited`] if its JVM exits.
    pub fn wait_ready(&self, index: usize, timeout: Duration) -> Result<(), RealError> {
        let mut last = Probe::Down;
        poll_until(timeout, || {
            last = self.probe(index)?;
            Ok(match &last {
                Probe::Down => return Err(RealError::NotRunning { index }),
                Probe::NotServing => None,
                Probe::Serving(_) => Some(()),
            })
        })
        .map_err(|waited| RealError::Timeout {
            what: format!("member {index} to serve requests (last state: {last:?})"),
            waited,
            log_tail: self.member_log_tail(index),
        })?
    }

    /// Waits until member `index` reports `mode` in `srvr` (e.g. `"read-only"` after its
    /// quorum was killed, or `"leader"`). Fails early with [`RealError::Exited`] if its JVM
    /// exits and with [`RealError::NotRunning`] if it is not running.
    pub fn wait_for_mode(
        &self,
        index: usize,
        mode: &str,
        timeout: Duration,
    ) -> Result<(), RealError> {
        let mut last = Probe::Down;
        poll_until(timeout, || {
            last = self.probe(index)?;
            Ok(match &last {
                Probe::Down => return Err(RealError::NotRunning { index }),
                Probe::Serving(m) if m == mode => Some(()),
                _ => None,
            })
        })
        .map_err(|waited| RealError::Timeout {
            what: format!("member {index} to be in mode {mode} (last state: {last:?})"),
            waited,
            log_tail: self.member_log_tail(index),
        })?
    }

    /// Waits until exactly one running member is leader and every other running member
    /// follows (or observes) and returns the leader's index. Members that are killed or stopped
    /// are ignored, so after killing the leader of a 3-member ensemble this waits for the other
    /// two to elect a new one.
    pub fn wait_for_leader(&self, timeout: Duration) -> Result<usize, RealError> {
        self.wait_for_quorum_of(1, timeout)
    }

    /// Like [`RealZooKeeper::wait_for_leader`], and at least `min_running` members must be
    /// serving.
    fn wait_for_quorum_of(
        &self,
        min_running: usize,
        timeout: Duration,
    ) -> Result<usize, RealError> {
        let mut last: Vec<Probe> = Vec::new();
        poll_until(timeout, || {
            last = (0..self.members.len())
                .map(|i| self.probe(i))
                .collect::<Result<_, _>>()?;
            let serving: Vec<&str> = last
                .iter()
                .filter_map(|p| match p {
                    Probe::Serving(mode) => Some(mode.as_str()),
                    _ => None,
                })
                .collect();
            let running = last.iter().filter(|p| **p != Probe::Down).count();
            let leaders = serving.iter().filter(|m| **m == "leader").count();
            let settled = serving.len() == running
                && running >= min_running
                && leaders == 1
                && serving
                    .iter()
                    .all(|m| matches!(*m, "leader" | "follower" | "observer"));
            Ok(settled.then(|| {
                last.iter()
                    .position(|p| *p == Probe::Serving("leader".into()))
                    .unwrap_or(0)
            }))
        })
        .map_err(|waited| RealError::Timeout {
            what: format!(
                "a leader with all running members following (last states: {})",
                last.iter()
                    .enumerate()
                    .map(|(i, p)| format!("member {i}: {p:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            waited,
            log_tail: (0..self.members.len())
                .map(|i| self.member_log_tail(i))
                .collect::<Vec<_>>()
                .join(""),
        })?
    }

    fn member_log_tail(&self, index: usize) -> String {
        match self.member(index) {
            Ok(m) => format!(
                "=== member {index} ({}) ===\n{}",
                m.files.dir.display(),
                m.files.log_tail(LOG_TAIL_LINES)
            ),
            Err(_) => String::new(),
        }
    }
}

impl Drop for RealZooKeeper {
    fn drop(&mut self) {
        for member in &self.members {
            if let Some(running) = member.process().take() {
                let _ = running.kill();
            }
        }
        if std::env::var_os("ZK_REAL_KEEP_DIRS").is_some() {
            eprintln!("keeping real ZooKeeper files in {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Calls `probe` with a growing pause (10 ms up to 200 ms) until it returns `Some` or an error,
/// or `timeout` passes; the `Err` of the outer result is the time waited.
fn poll_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, RealError>,
) -> Result<Result<T, RealError>, Duration> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match probe() {
            Ok(Some(value)) => return Ok(Ok(value)),
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(waited);
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
