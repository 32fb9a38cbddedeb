//! The client integration suite against real Apache ZooKeeper 3.8 JVMs (skipped when ZooKeeper
//! is not installed, failing instead under `CI`), plus the ensemble tests only real ZooKeeper
//! can run.

mod support;

#[path = "integration/mod.rs"]
mod integration;

#[path = "integration/ensemble.rs"]
mod ensemble;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Real;
