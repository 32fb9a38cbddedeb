//! The client integration suite, over real sockets, shared by both test binaries: `real.rs`
//! runs it against real Apache ZooKeeper 3.8, `rust_server.rs` against the Rust zk-testserver,
//! standalone and (module `on_ensemble`) as a 3-member in-process `Ensemble`. Every test here
//! runs against all three, or says in one line why it skips one.
//!
//! The modules name their servers relative to this one (`super::support`, `super::SERVER`,
//! taken from the parent of `integration`), so a binary can include the suite more than once,
//! each time beside its own `support` and `SERVER`.
//!
//! Servers are shared where tests do not disturb them (see `support::shared`); tests that kill
//! servers start their own. Tests that need an ensemble live in `ensemble.rs`.

use super::{support, SERVER};

mod acl_helpers;
mod auth;
mod chroot;
mod faults;
mod lifecycle;
mod multi;
mod ops;
mod pipelining;
mod protected;
mod retry;
mod session;
mod tls;
mod tls_v1;
mod watches;
