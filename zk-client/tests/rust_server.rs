//! The client integration suite against the Rust zk-testserver, in process: a standalone
//! server; the same suite again against a 3-member in-process `zk_testserver::Ensemble`
//! (module `on_ensemble`, filter `on_ensemble::`); and the ensemble tests of
//! `integration/ensemble.rs` and the reconfig test of `integration/ensemble_reconfig.rs`.

mod support;

#[path = "integration/mod.rs"]
mod integration;

#[path = "integration/ensemble.rs"]
mod ensemble;

#[path = "integration/on_ensemble.rs"]
mod on_ensemble;

#[path = "integration/ensemble_reconfig.rs"]
mod ensemble_reconfig;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
