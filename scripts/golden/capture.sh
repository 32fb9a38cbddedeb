#!/usr/bin/env bash
# Captures golden ZooKeeper wire frames for the zk-proto codec tests.
#
# For each client (the Java client of ZooKeeper 3.8, kazoo, raw Python handshakes) it starts a
# fresh real standalone ZooKeeper (extendedTypesEnabled, all four-letter words) on free loopback
# ports in a temp dir, puts scripts/golden/proxy.py in front of it, runs the client through the
# proxy, and writes zk-proto/tests/fixtures/{java_client,kazoo_client,raw_connect}.txt.
# A fixture is replaced only if its capture succeeded. Finally prints a summary of the op codes
# found (scripts/golden/summarize.py) and fails if an expected one is missing.
#
# Usage: scripts/golden/capture.sh            (installs missing deps via scripts/install-deps.sh)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/scripts/golden"
FIXTURES="$REPO/zk-proto/tests/fixtures"
JAVA_DIR="${ZK_REAL_JAVA_DIR:-/usr/share/java}"
PY="$REPO/.venv/bin/python"

log() { printf 'capture: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

"$REPO/scripts/install-deps.sh"
if ! command -v javac >/dev/null 2>&1; then
    log "installing a JDK for javac"
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    "${as_root[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
        default-jdk-headless >/dev/null || die "cannot install default-jdk-headless"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/zk-golden.XXXXXX")"
SERVER_PID=""
PROXY_PID=""
cleanup() {
    set +e
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
    fi
    if [ -n "$SERVER_PID" ]; then
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ -n "${KEEP_WORK:-}" ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

cp_of() {
    local cp="" jar
    for jar in "$@"; do cp="${cp:+$cp:}$JAVA_DIR/$jar"; done
    printf '%s' "$cp"
}
SERVER_CP="$(cp_of zookeeper.jar zookeeper-jute.jar netty-codec.jar netty-resolver.jar \
    netty-transport-native-unix-common.jar log4j-1.2.jar slf4j-log4j12.jar)"
CLIENT_CP="$(cp_of zookeeper.jar zookeeper-jute.jar slf4j-api.jar slf4j-simple.jar)"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# four_letter PORT WORD: prints the server's answer (empty if it does not answer).
four_letter() {
    python3 - "$1" "$2" <<'EOF' 2>/dev/null || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(sys.argv[2].encode())
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
EOF
}

# start_server NAME: a fresh standalone server; sets SERVER_PORT and SERVER_PID.
start_server() {
    local dir="$WORK/$1"
    mkdir -p "$dir/data"
    SERVER_PORT="$(free_port)"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$SERVER_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
maxClientCnxns=0
extendedTypesEnabled=true
EOF
    cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$dir/zookeeper.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
EOF
    java -Xmx256m -XX:+UseSerialGC -Xshare:auto -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
        -Djava.net.preferIPv4Stack=true -Dzookeeper.forceSync=no \
        -Dzookeeper.extendedTypesEnabled=true \
        -Dzookeeper.log.dir="$dir" -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$SERVER_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
        >"$dir/console.log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 1 300); do
        if [ "$(four_letter "$SERVER_PORT" ruok)" = imok ] &&
            four_letter "$SERVER_PORT" srvr | grep -q '^Mode: standalone'; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 40 "$dir/zookeeper.log" "$dir/console.log" >&2 || true
    die "ZooKeeper did not start"
}

stop_server() {
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# start_proxy OUT: sets PROXY_PORT, CONTROL_PORT and PROXY_PID.
start_proxy() {
    local out="$1" ready="$WORK/proxy-ready"
    rm -f "$ready"
    python3 "$HERE/proxy.py" --upstream "127.0.0.1:$SERVER_PORT" --out "$out" >"$ready" &
    PROXY_PID=$!
    local i line=""
    for i in $(seq 1 100); do
        line="$(head -n 1 "$ready" 2>/dev/null || true)"
        [ -n "$line" ] && break
        sleep 0.05
    done
    [ -n "$line" ] || die "proxy did not start"
    read -r _ PROXY_PORT _ CONTROL_PORT <<<"$line"
}

stop_proxy() {
    python3 - "$CONTROL_PORT" <<'EOF' || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"quit\n")
s.recv(100)
EOF
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
}

# write_header FILE TITLE CLIENT
write_header() {
    local version
    version="$(four_letter "$SERVER_PORT" srvr |
        sed -n 's/^Zookeeper version: \([^,]*\).*/\1/p' | sed 's/-\${mvngit.commit.id}//')"
    cat >"$1" <<EOF
# zk-rs golden frames: $2
# Captured by scripts/golden/capture.sh on $(date -u +%Y-%m-%d) through scripts/golden/proxy.py.
# Server: a real standalone Apache ZooKeeper $version (extendedTypesEnabled=true).
# Client: $3.
#
# Format (see zk-proto/tests/fixtures/README.md):
#   C <hex>   a frame sent by the client; <hex> is the frame body WITHOUT its 4-byte
#             big-endian length prefix.
#   S <hex>   a frame sent by the server, same encoding.
#   # ...     a comment. "# conn N ..." starts (or switches back to) connection N: every frame
#             line belongs to the connection named by the nearest "# conn N" line above it.
#             Other comments name the operation whose frames follow them.
# Per connection the first C frame is the ConnectRequest and the first S frame the
# ConnectResponse (neither has a header). Later C frames start with RequestHeader{xid:int32,
# type:int32}; later S frames with ReplyHeader{xid:int32, zxid:int64, err:int32}, followed by
# the response record only when err == 0. Special xids: -1 watch event, -2 ping, -4 auth
# (-8 is reserved for setWatches/setWatches2, but the 3.8 Java client overwrites it with an
# ordinary xid). Session ids, passwords, zxids and times differ between captures.
#
EOF
}

# capture NAME TITLE CLIENT_DESCRIPTION COMMAND...: the command gets PROXY_ADDR CONTROL_PORT.
capture() {
    local name="$1" title="$2" client="$3"
    shift 3
    local tmp="$WORK/$name.txt"
    log "capturing $name"
    start_server "server-$name"
    write_header "$tmp" "$title" "$client"
    start_proxy "$tmp"
    if ! "$@" "127.0.0.1:$PROXY_PORT" "$CONTROL_PORT" >"$WORK/$name.out" 2>&1; then
        cat "$WORK/$name.out" >&2
        die "$name client failed"
    fi
    stop_proxy
    stop_server
    mkdir -p "$FIXTURES"
    mv "$tmp" "$FIXTURES/$name.txt"
}

javac -nowarn -cp "$CLIENT_CP" -d "$WORK/classes" "$HERE/Capture.java"
JAVA_CLIENT=(java -Xmx128m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
    -cp "$WORK/classes:$CLIENT_CP" Capture)

capture java_client "the Java client of Apache ZooKeeper 3.8 (scripts/golden/Capture.java)" \
    "the ZooKeeper 3.8 Java client (org.apache.zookeeper.ZooKeeper / ZooKeeperAdmin)" \
    "${JAVA_CLIENT[@]}"
KAZOO_VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("kazoo"))')"
capture kazoo_client "kazoo $KAZOO_VERSION (scripts/golden/kazoo_capture.py)" \
    "kazoo $KAZOO_VERSION (Python)" "$PY" "$HERE/kazoo_capture.py"
capture raw_connect "raw handshakes (scripts/golden/raw_connect.py)" \
    "a raw-socket Python client" python3 "$HERE/raw_connect.py"

status=0
python3 "$HERE/summarize.py" --require-java "$FIXTURES/java_client.txt" || status=1
python3 "$HERE/summarize.py" --require-kazoo "$FIXTURES/kazoo_client.txt" || status=1
python3 "$HERE/summarize.py" --require-raw "$FIXTURES/raw_connect.txt" || status=1
exit "$status"
