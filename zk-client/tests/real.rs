//! The client integration suite against real Apache ZooKeeper 3.8 JVMs (skipped when ZooKeeper
//! is not installed, failing instead under `CI`), plus the ensemble tests (which
//! `rust_server.rs` runs against an in-process Rust ensemble too, the reconfig test among
//! them).

mod support;

#[path = "integration/mod.rs"]
mod integration;

#[path = "integration/ensemble.rs"]
mod ensemble;

#[path = "integration/ensemble_reconfig.rs"]
mod ensemble_reconfig;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Real;
