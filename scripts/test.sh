#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (real Apache ZooKeeper 3.8,
# Java, rustfmt/clippy, kazoo), then checks formatting, lints with -D warnings, and runs every
# test of the workspace, including the integration suites against real ZooKeeper.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p zk-proto  # extra args go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing test dependencies"
scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked --quiet

step "cargo test"
# The integration suites start real ZooKeeper JVMs; two test threads keep a 2-core machine
# responsive enough for session timers.
cargo test --workspace --locked "$@" -- --test-threads="${ZK_TEST_THREADS:-2}"
