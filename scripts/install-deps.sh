#!/usr/bin/env bash
# Installs what the test suite and the golden-frame capture need:
#   - Apache ZooKeeper 3.8 (Debian packages `zookeeper`, `zookeeper-bin`) and a Java runtime,
#   - Apache Curator 5.4 (`libcurator-recipes-java` and friends) and a JDK (javac),
#   - rustfmt and clippy,
#   - a Python venv at $REPO/.venv with kazoo (used by scripts/golden/ and the kazoo tests) and
#     pure-sasl (kazoo's SASL DIGEST-MD5 in zk-testserver's security tests),
#   - keytool (JDK) for the JKS and PKCS#12 key store tests,
#   - a venv at $REPO/.venv-kazoo for kazoo's own test harness (scripts/kazoo-harness.sh).
# Idempotent and quiet: every step first checks whether its result is already present, so a
# second run does no network traffic. Exits non-zero on the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -qq >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
        die "apt-get install $* failed"
}

# 1. ZooKeeper (server classes, Java client, zkCli) and Java.
if [ ! -e /usr/share/java/zookeeper.jar ]; then
    apt_install zookeeper zookeeper-bin
fi
[ -e /usr/share/java/zookeeper.jar ] || die "/usr/share/java/zookeeper.jar still missing"

if ! command -v java >/dev/null 2>&1; then
    apt_install default-jre-headless
fi
command -v java >/dev/null 2>&1 || die "java still missing"

# 1b. Apache Curator (the zk-recipes mixed-fleet tests compile a small Java program against
# it at run time) and a JDK for javac.
if [ ! -e /usr/share/java/curator-recipes.jar ]; then
    apt_install libcurator-recipes-java libcurator-framework-java libcurator-client-java
fi
[ -e /usr/share/java/curator-recipes.jar ] || die "/usr/share/java/curator-recipes.jar still missing"
if [ ! -e /usr/share/java/slf4j-simple.jar ]; then
    apt_install libslf4j-java
fi
if ! command -v javac >/dev/null 2>&1; then
    apt_install default-jdk-headless
fi
command -v javac >/dev/null 2>&1 || die "javac still missing"

# 2. Rust components.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "rustup not found; cannot add rustfmt/clippy"
    log "rustup component add rustfmt clippy"
    rustup component add rustfmt clippy >/dev/null 2>&1 || die "rustup component add failed"
fi

# 3. Python venv with kazoo (for scripts/golden/kazoo_capture.py).
VENV="$REPO/.venv"
if ! "$VENV/bin/python" -c 'import kazoo' >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv at $VENV"
        if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
            # Debian's python3 ships venv support in a separate package.
            rm -rf "$VENV"
            apt_install python3-venv
            python3 -m venv "$VENV" || die "python3 -m venv failed"
        fi
    fi
    log "pip install kazoo"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check kazoo ||
        die "pip install kazoo failed"
    "$VENV/bin/python" -c 'import kazoo' || die "kazoo still not importable"
fi

# 4. pure-sasl, which kazoo needs for SASL (zk-testserver/tests/security).
if ! "$VENV/bin/python" -c 'import puresasl' >/dev/null 2>&1; then
    log "pip install pure-sasl"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check pure-sasl ||
        die "pip install pure-sasl failed"
    "$VENV/bin/python" -c 'import puresasl' || die "pure-sasl still not importable"
fi

# 5. keytool (JDK) makes the JKS and PKCS#12 stores of the key store tests.
if ! command -v keytool >/dev/null 2>&1; then
    apt_install default-jdk-headless
fi
command -v keytool >/dev/null 2>&1 || die "keytool still missing"

# 6. The venv kazoo's own test harness runs in (scripts/kazoo-harness.sh; the 3-member subset
# in zk-testserver/tests/ensemble/kazoo_harness.rs): kazoo with its test dependencies, pinned.
"$REPO/scripts/kazoo-harness.sh" --setup-only || die "the kazoo harness venv could not be made"
