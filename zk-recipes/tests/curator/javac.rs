//! Compiling a Curator worker (a `.java` file of this crate) with javac against Debian's
//! Curator and ZooKeeper jars, for the mixed-fleet tests of both recipe suites and for the
//! recipes bench (`benches/recipes.rs`, which includes this file with `#[path]`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The jars a Curator worker needs, all in `/usr/share/java`.
const JARS: &[&str] = &[
    "curator-recipes",
    "curator-framework",
    "curator-client",
    "zookeeper",
    "zookeeper-jute",
    "guava",
    "slf4j-api",
    "slf4j-nop",
];

/// Curator's classpath plus `extra` (the compiled worker's directory).
pub fn classpath(extra: &Path) -> String {
    let mut parts: Vec<String> = JARS
        .iter()
        .map(|jar| format!("/usr/share/java/{jar}.jar"))
        .collect();
    parts.push(extra.display().to_string());
    parts.join(":")
}

/// Compiles `source` (a `.java` file, relative to this crate's directory) into a fresh
/// temporary directory and returns it, or `None` (with a note) when Curator or a JDK is
/// missing; under `CI` that is a failure (scripts/install-deps.sh installs them).
pub fn compile(source: &str) -> Option<PathBuf> {
    let missing = JARS
        .iter()
        .find(|jar| !Path::new(&format!("/usr/share/java/{jar}.jar")).exists());
    let javac = Command::new("javac").arg("-version").output().is_ok();
    if missing.is_some() || !javac {
        let why = format!(
            "Curator workers need javac and Curator's jars (missing: {missing:?}, \
             javac: {javac}); run scripts/install-deps.sh"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
    let worker = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("worker");
    let out = std::env::temp_dir().join(format!("zk-recipes-{worker}-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("temp dir");
    let status = Command::new("javac")
        .arg("-d")
        .arg(&out)
        .arg("-cp")
        .arg(classpath(&out))
        .arg(&source)
        .status()
        .expect("run javac");
    assert!(status.success(), "javac failed");
    Some(out)
}
