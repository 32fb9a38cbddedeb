//! Helpers shared by the workspace's bench binaries: the machine line, the scale knob,
//! percentiles, number formatting, markdown tables, `/proc` readings of server processes and
//! compiling a Java worker. Every bench includes this one file with `#[path]`
//! (`zk-client/benches/support/bench.rs`), so a bench that needs only part of it leaves the
//! rest unused.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

// ----- the machine ---------------------------------------------------------------------------

/// The CPU model from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// One line about the machine, printed at the start of every bench:
/// `machine: 2 CPUs, <model>; load average at start: 1.0 1.2 1.5`.
pub fn machine_line() -> String {
    format!(
        "machine: {} CPUs, {}; load average at start: {}",
        cores(),
        cpu_model(),
        load_average()
    )
}

// ----- scale ---------------------------------------------------------------------------------

/// The factor `ZK_BENCH_SCALE` (default 1.0) that every timed phase and size is multiplied by;
/// `scripts/bench.sh quick` sets it below 1.
pub fn scale() -> f64 {
    std::env::var("ZK_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(1.0)
}

/// `s` seconds times [`scale`].
pub fn scaled_secs(s: f64) -> Duration {
    Duration::from_secs_f64(s * scale())
}

/// A size from the environment variable `var`, else `default` times [`scale`] (at least
/// `min`).
pub fn scaled_size(var: &str, default: usize, min: usize) -> usize {
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}: expected a number, got {s:?}")),
        Err(_) => ((default as f64 * scale()).round() as usize).max(min),
    }
}

// ----- statistics ----------------------------------------------------------------------------

/// The `p`th percentile (`p` in percent, nearest rank) of an ascending slice, or `None` when
/// it is empty.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The `p`th percentile of ascending nanosecond latencies, in microseconds (NaN when empty).
pub fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
    percentile(sorted_ns, p).map_or(f64::NAN, |ns| ns as f64 / 1000.0)
}

/// The `p`th percentile of ascending durations, in microseconds (NaN when empty).
pub fn percentile_dur_us(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

/// A duration in whole nanoseconds (saturating).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

// ----- tables --------------------------------------------------------------------------------

/// A number with as many decimals as its size deserves: 12345, 123.4, 1.23.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A markdown table: the first column left-aligned, the others as given.
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is right-aligned (the
    /// `>` is dropped).
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header
                .iter()
                .map(|h| h.trim_start_matches('>').to_string())
                .collect(),
            right: header.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells print empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as markdown lines.
    pub fn render(&self) -> String {
        let mut out = format!("| {} |\n|", self.header.join(" | "));
        for right in &self.right {
            out.push_str(if *right { "---:|" } else { "---|" });
        }
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<&str> = (0..self.header.len())
                .map(|i| row.get(i).map_or("", String::as_str))
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Prints `### title`, a blank line and the table to stdout.
    pub fn print(&self, title: &str) {
        println!();
        println!("### {title}");
        println!();
        print!("{}", self.render());
    }
}

// ----- server processes ----------------------------------------------------------------------

/// VmRSS of a process in MiB.
pub fn vm_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a process used so far, in µs (10 ms resolution).
pub fn process_cpu_us(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks * 10_000.0)
}

/// The pid of the ZooKeeper JVM whose command line mentions `dir` (its zoo.cfg lives there).
pub fn jvm_pid(dir: &Path) -> Option<u32> {
    let needle = dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("QuorumPeerMain") && cmdline.contains(&needle) {
            return Some(pid);
        }
    }
    None
}

/// A fresh empty directory `zk-bench-<tag>-<pid>` under the temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zk-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

/// The version a real ZooKeeper reports in `srvr` ("3.8.0"), from the word's output.
pub fn zookeeper_version(srvr: &str) -> String {
    srvr.lines()
        .find_map(|l| l.strip_prefix("Zookeeper version: "))
        .map(|v| v.split([',', '-']).next().unwrap_or(v).to_string())
        .unwrap_or_else(|| "?".into())
}

/// Sends a four-letter word to a server and returns its whole answer.
pub fn four_letter(addr: std::net::SocketAddr, word: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

// ----- Java workers --------------------------------------------------------------------------

/// The classpath of `jars` (names in `/usr/share/java`, without `.jar`) plus `extra`.
pub fn java_classpath(jars: &[&str], extra: &Path) -> String {
    let mut parts: Vec<String> = jars
        .iter()
        .map(|jar| format!("/usr/share/java/{jar}.jar"))
        .collect();
    parts.push(extra.display().to_string());
    parts.join(":")
}

/// Compiles `source` (a `.java` file) with javac against `jars` into a fresh temporary
/// directory and returns it, or `None` with the reason when a jar or javac is missing
/// (`scripts/install-deps.sh` installs them).
pub fn javac(source: &Path, jars: &[&str]) -> Result<PathBuf, String> {
    if let Some(jar) = jars
        .iter()
        .find(|jar| !Path::new(&format!("/usr/share/java/{jar}.jar")).exists())
    {
        return Err(format!("/usr/share/java/{jar}.jar is missing"));
    }
    if Command::new("javac").arg("-version").output().is_err() {
        return Err("javac is not installed".into());
    }
    let worker = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("worker");
    let out = temp_dir(&format!("java-{worker}"));
    let status = Command::new("javac")
        .arg("-nowarn")
        .arg("-d")
        .arg(&out)
        .arg("-cp")
        .arg(java_classpath(jars, &out))
        .arg(source)
        .status()
        .map_err(|e| format!("running javac: {e}"))?;
    if !status.success() {
        return Err(format!("javac failed on {}", source.display()));
    }
    Ok(out)
}
