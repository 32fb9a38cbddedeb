//! The client integration suite against the Rust zk-testserver, in process: a standalone
//! server, and for the ensemble tests of `integration/ensemble.rs` a 3-member in-process
//! `zk_testserver::Ensemble`.

mod support;

#[path = "integration/mod.rs"]
mod integration;

#[path = "integration/ensemble.rs"]
mod ensemble;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
