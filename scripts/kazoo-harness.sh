#!/usr/bin/env bash
# Runs kazoo's own test suite, with kazoo's own test harness (kazoo.testing), against a server.
#
# kazoo's harness writes a zoo.cfg for real ZooKeeper (JKS key and trust stores, a SASL auth
# provider, a JAAS file, admin and secure ports) and launches
#   java -cp CLASSPATH -Dreadonlymode.enabled=true -Dzookeeper.log.dir=... ...
#        -Djava.security.auth.login.config=jaas.conf -Dzookeeper.DigestAuthenticationProvider...
#        org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg
# With `--server rust` a `java` on PATH runs our `zk-testserver` binary with exactly those
# arguments, so kazoo's suite exercises our server the way it exercises real ZooKeeper.
#
#   scripts/kazoo-harness.sh --server rust            # the whole kazoo suite on zk-testserver
#   scripts/kazoo-harness.sh --server real            # the same on real ZooKeeper 3.8
#   scripts/kazoo-harness.sh --server rust -k lock    # extra args go to pytest
#   ZOOKEEPER_CLUSTER_SIZE=3 scripts/kazoo-harness.sh --server rust -k lock
#                                                     # kazoo's harness as a 3-member ensemble
#   ZK_TESTSERVER_BIN=target/debug/zk-testserver scripts/kazoo-harness.sh ...
#                                                     # an already built binary, no release build
#   scripts/kazoo-harness.sh --setup-only             # only create the venv (install-deps.sh)
#
# CI runs a representative subset against 3 members of our binary (TLS on every member's
# secureClientPort, sessions, expiry): zk-testserver/tests/ensemble/kazoo_harness.rs. The
# whole suite on 3 members (about 5 minutes) is
#   ZOOKEEPER_CLUSTER_SIZE=3 scripts/kazoo-harness.sh --server rust
#
# Prints pytest's summary line; exits with pytest's status.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

SERVER=rust
SETUP_ONLY=0
if [ "${1:-}" = "--setup-only" ]; then
    SETUP_ONLY=1
    shift
fi
if [ "${1:-}" = "--server" ]; then
    SERVER="$2"
    shift 2
fi
case "$SERVER" in rust | real) ;; *) echo "--server rust|real" >&2; exit 2 ;; esac

log() { printf 'kazoo-harness: %s\n' "$*" >&2; }

# kazoo's test dependencies, pinned where newer releases break its harness: pyOpenSSL 24.3
# removed X509Extension, which kazoo.testing uses to make its certificates.
VENV="$REPO/.venv-kazoo"
if ! "$VENV/bin/python" -c 'import kazoo, pytest, pytest_timeout, jks, OpenSSL, objgraph, gevent, eventlet, puresasl' >/dev/null 2>&1; then
    log "creating $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kazoo==2.11.0" pytest pytest-timeout pyjks "pyopenssl==24.2.1" "cryptography<44" \
        objgraph gevent eventlet pure-sasl
fi

[ "$SETUP_ONLY" = 1 ] && exit 0

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ "$SERVER" = rust ]; then
    if [ -n "${ZK_TESTSERVER_BIN:-}" ]; then
        # Absolute: kazoo runs the server from its own working directory.
        BIN="$(realpath "$ZK_TESTSERVER_BIN")"
    else
        log "building zk-testserver (release)"
        cargo build --release --locked -q -p zk-testserver --bin zk-testserver
        BIN="$REPO/target/release/zk-testserver"
    fi
    mkdir -p "$WORK/shim"
    # The harness runs `java ARGS...`; hand the same arguments to our binary.
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$BIN" >"$WORK/shim/java"
    chmod +x "$WORK/shim/java"
    export PATH="$WORK/shim:$PATH"
    export ZOOKEEPER_CLASSPATH="$WORK/no-jars-needed"
else
    [ -e /usr/share/java/zookeeper.jar ] || "$REPO/scripts/install-deps.sh"
    CP=""
    for jar in zookeeper zookeeper-jute netty-codec netty-resolver \
        netty-transport-native-unix-common log4j-1.2 slf4j-log4j12; do
        CP="$CP${CP:+:}/usr/share/java/$jar.jar"
    done
    export ZOOKEEPER_CLASSPATH="$CP"
fi

export ZOOKEEPER_VERSION=3.8.0
export ZOOKEEPER_CLUSTER_SIZE="${ZOOKEEPER_CLUSTER_SIZE:-1}"
export ZOOKEEPER_JAAS_AUTH=digest
export ZOOKEEPER_PORT_OFFSET="${ZOOKEEPER_PORT_OFFSET:-22000}"

cd "$WORK"
log "running kazoo's test suite against the $SERVER server"
"$VENV/bin/python" -m pytest -q --timeout=60 -p no:cacheprovider --pyargs kazoo.tests "$@"
