//! Test servers for zk-rs.
//!
//! - A ZooKeeper-compatible server written in Rust ([`TestServer`]), started in-process in
//!   milliseconds, with fault injection (drop connections, expire sessions, restart keeping
//!   data and sessions, drop a reply after applying its write, hold a session's events) and a
//!   controllable clock. The same server runs as the
//!   `zk-testserver` binary, a drop-in for `QuorumPeerMain zoo.cfg` in standalone mode.
//! - [`real`]: launches real Apache ZooKeeper (standalone or an ensemble) from the system's
//!   ZooKeeper jars, for interoperability tests.
//!
//! Layout: [`tree`] (pure data tree and `apply`), [`prep`] (validation into [`txn::Txn`]s),
//! [`watch`], [`session`], [`acl`], [`core`] (sans-IO request handling), `net` (tokio),
//! [`storage`] (txn log and snapshots), [`config`] (`zoo.cfg`), [`four_letter`].
//!
//! [`replication`] is the sans-IO ZAB core of the replicated ensemble (election, discovery,
//! synchronization, broadcast, ensemble-wide session expiry, forwarded writes and `sync`),
//! tested by a deterministic, seeded simulation of whole ensembles (`src/sim/`, test-only:
//! `ZK_SIM_SEEDS=2000 cargo test -p zk-testserver --lib sim::tests::seeds -- --nocapture`).
//!
//! # Fuzzing
//!
//! [`core::ServerCore`] takes every byte a client sends. With the `fuzzing` feature (off by
//! default, not a stable API) the hidden module `__fuzz` runs a byte string as a script
//! against a fresh core: handshakes (new, resumed, wrong password, later zxid, read-only),
//! valid request frames of every op, the same with bits flipped, cut short, extended or with
//! another op code, arbitrary frames, ticks, closes, reconnects and expiries. After every step
//! it checks that each output targets a connection the driver still has open, that replies
//! keep each connection's request order, and [`core::ServerCore::check_invariants`] (which
//! includes [`tree::DataTree::check_invariants`]). The script runs as two proptests of 500
//! cases each in `cargo test` (`core/fuzz_tests.rs`) and as the cargo-fuzz target
//! `server_core` in `fuzz/` at the repository root:
//!
//! | target | executions | result |
//! |---|---:|---|
//! | `server_core` | 439,441 | no failure |
//!
//! 240 s, built by cargo-fuzz 0.13.2 with AddressSanitizer, on a 2-core AMD EPYC VM shared
//! with other work, on 2026-11-25, starting from the corpus of an earlier 240 s run (734,479
//! executions, no failure) of a script that differed only in the order it read one operand.
//! Command:
//!
//! ```sh
//! fuzz/run_all.sh 240    # or: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run server_core -- \
//!                        #   -max_total_time=240 -malloc_limit_mb=32
//! ```
#![warn(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
pub mod acl;
pub mod config;
pub mod core;
pub mod ensemble;
pub mod four_letter;
mod net;
pub mod prep;
pub mod real;
pub mod replication;
mod server;
pub mod session;
#[cfg(test)]
mod sim;
pub mod storage;
pub mod tls;
pub mod tree;
pub mod txn;
pub mod watch;

pub use server::{ClientAuth, ServerError, TestServer, TestServerBuilder, TlsFiles};
