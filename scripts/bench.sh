#!/usr/bin/env bash
# Every benchmark of the workspace, one command, all tables in one report.
#
#   scripts/bench.sh [quick|full] [BENCH ...]
#
# quick (default): every timed phase and workload size scaled down (ZK_BENCH_SCALE=0.25,
#   pipelined depth 64 only); the whole run takes minutes. full: the published settings
#   (ZK_BENCH_SCALE=1, depths 64 and 1024, 4 rounds where a bench has rounds).
# BENCH: any of codec server ensemble clients recipes fanout (default: all, in that order).
#
# Builds every bench once (release, `[profile.bench]`), runs them one after another, prints
# every table as it comes, and collects them in target/bench/report-<scale>-<UTC time>.md (the
# machine, then each bench's tables with the load average before and after it), with the
# benches' progress lines in a .log beside it. The benches need real ZooKeeper 3.8 and a JDK
# for their real-ZooKeeper, Curator and Java-client columns (scripts/install-deps.sh); without
# them those parts say "skipped" or "n/a". Any ZKB_* / ZK_BENCH_* variable set by the caller
# wins over the scale's.
set -euo pipefail

scale=${1:-quick}
if [[ $# -gt 0 ]]; then shift; fi
case "$scale" in
  quick)
    export ZK_BENCH_SCALE=${ZK_BENCH_SCALE:-0.25}
    export ZKB_DEPTHS=${ZKB_DEPTHS:-64}
    criterion_args=(--warm-up-time 0.5 --measurement-time 1)
    ;;
  full)
    export ZK_BENCH_SCALE=${ZK_BENCH_SCALE:-1}
    export ZKB_ROUNDS=${ZKB_ROUNDS:-4}
    criterion_args=()
    ;;
  -h|--help|help)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: scripts/bench.sh [quick|full] [codec server ensemble clients recipes fanout]" >&2
    exit 2
    ;;
esac
benches=("$@")
if [[ ${#benches[@]} -eq 0 ]]; then
  benches=(codec server ensemble clients recipes fanout)
fi

cd "$(dirname "$0")/.."
mkdir -p target/bench
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report=target/bench/report-$scale-$stamp.md
log=target/bench/report-$scale-$stamp.log

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "building the benches (release)..." >&2
cargo bench --workspace --no-run >>"$log" 2>&1 || {
  tail -n 30 "$log" >&2
  exit 1
}

{
  echo "# Benchmark report ($scale)"
  echo
  echo "- command: \`scripts/bench.sh $scale ${benches[*]}\`"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "- $(rustc -V); $(java -version 2>&1 | head -n1 || echo 'no java')"
  echo "- scale: ZK_BENCH_SCALE=$ZK_BENCH_SCALE${ZKB_DEPTHS:+, ZKB_DEPTHS=$ZKB_DEPTHS}${ZKB_ROUNDS:+, ZKB_ROUNDS=$ZKB_ROUNDS}"
  echo "- load average (1/5/15 min) at start: $(loadavg)"
} | tee "$report"

# Each bench runs as `cargo bench --workspace --bench <target>`: with `-p <crate>` Cargo would
# resolve features for that crate alone and rebuild the libraries the workspace build made.
run() {
  local name=$1 target=$2
  shift 2
  {
    echo
    echo "## $name (\`cargo bench --workspace --bench $target\`)"
    echo
    echo "load average before: $(loadavg)"
  } | tee -a "$report"
  local started=$SECONDS
  echo "== $name" >>"$log"
  if ! cargo bench -q --workspace --bench "$target" -- "$@" 2>>"$log" | tee -a "$report"; then
    echo "(the $name bench failed; see $log)" | tee -a "$report"
  fi
  echo | tee -a "$report"
  echo "load average after: $(loadavg); $((SECONDS - started)) s" | tee -a "$report"
}

for bench in "${benches[@]}"; do
  case "$bench" in
    codec) run "zk-proto codec" codec "${criterion_args[@]}" ;;
    server) run "zk-testserver against real ZooKeeper, standalone" server ;;
    ensemble) run "3-member ensembles: our zoo.cfg processes against real ZooKeeper JVMs" ensemble ;;
    clients) run "clients: zk-client, zookeeper-client, the Java client" clients ;;
    recipes) run "recipes against Curator" recipes ;;
    fanout) run "watch fan-out" fanout ;;
    *) echo "unknown bench $bench (codec server ensemble clients recipes fanout)" >&2; exit 2 ;;
  esac
done

echo | tee -a "$report"
echo "load average at end: $(loadavg)" | tee -a "$report"
echo >&2
echo "report: $report (progress log: $log)" >&2
