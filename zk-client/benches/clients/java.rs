//! The official Java client (ZooKeeper 3.8's `org.apache.zookeeper.ZooKeeper`) as the third
//! column of the clients bench: `benches/java/JavaClientBench.java`, compiled with javac
//! against Debian's jars, run as one JVM per round against the same server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::support::{java_classpath, javac};
use super::{Sample, Settings, Usage, CREATE_PARENT, NODE};

/// The jars the worker needs, in `/usr/share/java` (Debian's `zookeeper` package).
const JARS: &[&str] = &["zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-nop"];

/// The compiled worker (its class directory is removed on drop).
pub struct JavaClient {
    classes: PathBuf,
}

impl Drop for JavaClient {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.classes);
    }
}

impl JavaClient {
    /// Compiles the worker, or explains why not (no JDK, no jars).
    pub fn compile() -> Result<JavaClient, String> {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("benches")
            .join("java")
            .join("JavaClientBench.java");
        javac(&source, JARS).map(|classes| JavaClient { classes })
    }

    /// Runs every workload of `s` once in a fresh JVM against `connect`; the samples by
    /// (workload, depth). `tag` keeps this run's create names apart from other runs'.
    pub fn run(&self, connect: &str, s: &Settings, tag: &str) -> HashMap<(String, usize), Sample> {
        let started = Instant::now();
        let depths: Vec<String> = s.depths.iter().map(usize::to_string).collect();
        let millis = match s.pipelined_ops {
            // A fixed op count is a Rust-side knob (instruction counts); the JVM runs by time.
            Some(_) => 1000,
            None => s.pipelined_for.as_millis().max(1),
        };
        let output = Command::new("java")
            .arg("-cp")
            .arg(java_classpath(JARS, &self.classes))
            .arg("JavaClientBench")
            .arg(connect)
            .arg(NODE)
            .arg(CREATE_PARENT)
            .arg(s.seq_ops.to_string())
            .arg(millis.to_string())
            .arg(depths.join(","))
            .arg(s.workloads.join(","))
            .arg(tag)
            .output()
            .expect("run java");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.lines().any(|l| l == "DONE"),
            "the Java client bench failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut out: HashMap<(String, usize), Sample> = HashMap::new();
        for line in stdout.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("RESULT"), Some(workload)) => {
                    let mut number = || -> u64 {
                        words
                            .next()
                            .and_then(|w| w.parse().ok())
                            .unwrap_or_else(|| panic!("bad Java line {line:?}"))
                    };
                    let depth = number() as usize;
                    let ops = number();
                    let elapsed = Duration::from_nanos(number());
                    let cpu_ns = number();
                    let sample = out.entry((workload.to_string(), depth)).or_default();
                    sample.ops = ops;
                    sample.elapsed = elapsed;
                    sample.usage = Usage {
                        cpu_ns,
                        switches: 0,
                    };
                }
                (Some("LAT"), Some(workload)) => {
                    let latencies = words
                        .map(|w| w.parse().unwrap_or_else(|_| panic!("bad latency {w:?}")))
                        .collect();
                    out.entry((workload.to_string(), 1)).or_default().latencies = latencies;
                }
                _ => {}
            }
        }
        for ((workload, depth), sample) in &out {
            eprintln!(
                "  {workload:<8} depth {depth:>4} {:<16}: {:>8.0} ops/s, {:>6.2} µs CPU/op",
                "Java client",
                sample.ops as f64 / sample.elapsed.as_secs_f64(),
                sample.usage.cpu_ns as f64 / 1000.0 / sample.ops as f64,
            );
        }
        eprintln!(
            "  Java client: all workloads in {:.1} s (JVM start and warm-up included)",
            started.elapsed().as_secs_f64()
        );
        out
    }
}
