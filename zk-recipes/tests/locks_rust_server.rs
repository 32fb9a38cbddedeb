//! The lock and leadership suite against the Rust zk-testserver, in process, plus the
//! scenarios that need its fault injection (lost create replies).

#[path = "../../zk-client/tests/support/mod.rs"]
mod support;

#[path = "locks/mod.rs"]
mod locks;

/// The servers this binary tests against.
const SERVER: support::ServerKind = support::ServerKind::Rust;
