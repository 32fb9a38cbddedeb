//! The client integration suite against the Rust zk-testserver, in process.
//!
//! The ensemble tests of `integration/ensemble.rs` are not here: zk-testserver has no
//! replication yet.

mod support;

#[path = "integration/mod.rs"]
mod integration;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
