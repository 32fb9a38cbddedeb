//! The data recipes (barriers, queues, caches, naming, counters, persistent nodes) against
//! the Rust zk-testserver, in process.

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "data/mod.rs"]
mod data;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
