#!/usr/bin/env bash
# Seeds the corpora from the golden fixtures, then runs every fuzz target in turn (one core)
# for SECONDS each (default 240), logging to artifacts/<target>.log and printing each total.
#
# Usage: fuzz/run_all.sh [SECONDS]     (FUZZ_TARGET_DIR overrides cargo's target directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-240}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
python3 seed_corpora.py
mkdir -p artifacts
for target in frame request response connect multi server_core client_session; do
    log="artifacts/$target.log"
    # -malloc_limit_mb: any single allocation above 32 MiB (from inputs of at most a few KiB)
    # means a decoder trusted a length, and counts as a crash.
    if RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir "${FUZZ_TARGET_DIR:-target}" "$target" -- \
        -max_total_time="$secs" -malloc_limit_mb=32 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log)"
    fi
    printf '%-14s %s, %s\n' "$target" "$(grep -E '^Done [0-9]+ runs' "$log" | tail -1)" "$result"
done
