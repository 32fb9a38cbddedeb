//! The integration suite of `integration/mod.rs` once more, against a 3-member in-process
//! `zk_testserver::Ensemble` (`ServerKind::RustEnsemble`): `support::launch(1, ..)` and the
//! shared server start 3 members, a client given the whole connect string lands on any of
//! them, and a proxy in front of `member_addr(0)` pins it to the first. Included by
//! `rust_server.rs`, so the ensemble costs no test binary of its own (each binary is a long
//! compile and link).

// A second instantiation of the same files, on purpose: each instantiation has its own
// `SERVER`.
#[allow(clippy::duplicate_mod)]
#[path = "../support/mod.rs"]
mod support;

#[allow(clippy::duplicate_mod)]
#[path = "mod.rs"]
mod integration;

/// The servers this instantiation of the suite tests against.
const SERVER: support::ServerKind = support::ServerKind::RustEnsemble;
