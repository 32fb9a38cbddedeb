//! The client integration suite against the Rust zk-testserver, in process: a standalone
//! server, and for the ensemble tests of `integration/ensemble.rs` and the reconfig test of
//! `integration/ensemble_reconfig.rs` a 3-member in-process `zk_testserver::Ensemble`.

mod support;

#[path = "integration/mod.rs"]
mod integration;

#[path = "integration/ensemble.rs"]
mod ensemble;

#[path = "integration/ensemble_reconfig.rs"]
mod ensemble_reconfig;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
