//! The client integration suite, over real sockets, shared by both test binaries: `real.rs`
//! runs it against real Apache ZooKeeper 3.8, `rust_server.rs` against the Rust zk-testserver.
//! Every test here runs against both.
//!
//! Servers are shared where tests do not disturb them (see `support::shared`); tests that kill
//! servers start their own. Tests that need an ensemble live in `ensemble.rs`, which only
//! `real.rs` includes.

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
