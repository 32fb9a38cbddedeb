//! The lock and leadership suite against real Apache ZooKeeper 3.8 JVMs (skipped when
//! ZooKeeper is not installed, failing instead under `CI`).

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "locks/mod.rs"]
mod locks;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Real;
