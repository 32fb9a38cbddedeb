//! One member's JVM: spawning, killing, stopping, and the watchdog that kills it if the test
//! process dies without running destructors.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::config::{self, Ports};
use super::RealOptions;

/// The main class of both standalone servers and ensemble members.
const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// How long [`Running::stop`] waits for a JVM to exit after SIGTERM before using SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running JVM and its watchdog.
#[derive(Debug)]
pub(super) struct Running {
    jvm: Child,
    /// `sh -c 'read _; kill -9 JVM_PID'` with its stdin piped from this process: when this
    /// process exits for any reason the pipe closes, `read` returns and the JVM is killed, so no
    /// server outlives a crashed or SIGKILLed test binary.
    watchdog: Option<Child>,
}

/// Layout of a member's directory.
#[derive(Debug, Clone)]
pub(super) struct MemberFiles {
    /// The member's own directory.
    pub(super) dir: PathBuf,
}

impl MemberFiles {
    pub(super) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub(super) fn zoo_cfg(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }
    pub(super) fn log_file(&self) -> PathBuf {
        self.dir.join("zookeeper.log")
    }
    pub(super) fn console_file(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// Creates the directory, `data/`, `data/myid`, `zoo.cfg` and `log4j.properties`.
    pub(super) fn write(
        &self,
        opts: &RealOptions,
        ports: Ports,
        role: &config::Role<'_>,
    ) -> io::Result<()> {
        std::fs::create_dir_all(self.data_dir())?;
        if let config::Role::Participant { id, .. } = role {
            std::fs::write(self.data_dir().join("myid"), format!("{id}\n"))?;
        }
        std::fs::write(
            self.zoo_cfg(),
            config::zoo_cfg(opts, &self.data_dir(), ports, role),
        )?;
        std::fs::write(
            self.dir.join("log4j.properties"),
            config::log4j_properties(&self.log_file()),
        )?;
        Ok(())
    }

    /// The last `max_lines` lines of the member's log and of its console output.
    pub(super) fn log_tail(&self, max_lines: usize) -> String {
        let mut out = String::new();
        for (name, path) in [
            ("zookeeper.log", self.log_file()),
            ("console.log", self.console_file()),
        ] {
            match tail_lines(&path, max_lines) {
                Ok(text) if text.trim().is_empty() => {}
                Ok(text) => {
                    out.push_str(&format!("--- {} ---\n", path.display()));
                    out.push_str(&text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => out.push_str(&format!("--- {name}: cannot read: {e} ---\n")),
            }
        }
        if out.is_empty() {
            out.push_str("(no log output)\n");
        }
        out
    }
}

/// The last `max_lines` lines of a file, reading at most its last 64 KiB.
fn tail_lines(path: &Path, max_lines: usize) -> io::Result<String> {
    const MAX_BYTES: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    Ok(lines[start..].join("\n"))
}

impl Running {
    /// Starts the member's JVM; output the log4j file does not catch goes to `console.log`.
    pub(super) fn spawn(
        java: &Path,
        opts: &RealOptions,
        files: &MemberFiles,
    ) -> io::Result<Running> {
        let console = OpenOptions::new()
            .create(true)
            .append(true)
            .open(files.console_file())?;
        let jvm = Command::new(java)
            .args(config::jvm_args(opts, &files.dir))
            .arg("-cp")
            .arg(config::classpath())
            .arg(MAIN_CLASS)
            .arg(files.zoo_cfg())
            .current_dir(&files.dir)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .spawn()?;
        // The watchdog is best effort: without `sh` the servers are still killed on Drop.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(r#"read _ignored; kill -9 "$1" 2>/dev/null"#)
            .arg("zk-real-watchdog")
            .arg(jvm.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Ok(Running { jvm, watchdog })
    }

    /// The exit status if the JVM has exited.
    pub(super) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.jvm.try_wait()
    }

    /// Stops the watchdog without letting it fire (it must not kill a reused pid after the JVM
    /// has been reaped).
    fn disarm_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }

    /// SIGKILLs the JVM and reaps it.
    pub(super) fn kill(mut self) -> io::Result<ExitStatus> {
        self.disarm_watchdog();
        if let Some(status) = self.jvm.try_wait()? {
            return Ok(status);
        }
        self.jvm.kill()?;
        self.jvm.wait()
    }

    /// SIGTERMs the JVM (a clean shutdown) and waits for it; SIGKILLs it after a grace period.
    pub(super) fn stop(mut self) -> io::Result<ExitStatus> {
        self.disarm_watchdog();
        if let Some(status) = self.jvm.try_wait()? {
            return Ok(status);
        }
        let termed = Command::new("kill")
            .arg("-TERM")
            .arg(self.jvm.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if termed {
            let deadline = Instant::now() + STOP_GRACE;
            let mut pause = Duration::from_millis(5);
            while Instant::now() < deadline {
                if let Some(status) = self.jvm.try_wait()? {
                    return Ok(status);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
        self.jvm.kill()?;
        self.jvm.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Normally `kill`/`stop` consumed the JVM already; this covers early returns.
        self.disarm_watchdog();
        if let Ok(None) = self.jvm.try_wait() {
            let _ = self.jvm.kill();
            let _ = self.jvm.wait();
        }
    }
}
