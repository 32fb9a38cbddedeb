//! The data recipes (barriers, queues, caches, naming, counters, persistent nodes) against
//! real Apache ZooKeeper 3.8 (skipped when it is not installed, failing instead under `CI`).

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "data/mod.rs"]
mod data;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Real;
