//! The lock and leadership suite against a 3-member in-process zk-testserver `Ensemble`:
//! clients spread over the members, writes forwarded to the leader, sessions ensemble-wide.
//! (The scenarios that need a single server's fault injection run in `locks_rust_server.rs`.)

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "locks/mod.rs"]
mod locks;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::RustEnsemble;
