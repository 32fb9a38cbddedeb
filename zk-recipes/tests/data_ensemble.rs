//! The data recipes suite (queues, caches, barriers, naming, counters, persistent nodes)
//! against a 3-member in-process zk-testserver `Ensemble`: clients spread over the members,
//! writes forwarded to the leader, sessions ensemble-wide.
//! (The scenarios that need a single server's fault injection run in `data_rust.rs`.)

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "data/mod.rs"]
mod data;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::RustEnsemble;
