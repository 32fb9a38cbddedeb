//! Integration tests of zk-client over real sockets against real Apache ZooKeeper.
//!
//! Servers are shared where tests do not disturb them (see `support::shared`); tests that kill
//! servers start their own.

mod support;

#[path = "integration/auth.rs"]
mod auth;
#[path = "integration/chroot.rs"]
mod chroot;
#[path = "integration/faults.rs"]
mod faults;
#[path = "integration/multi.rs"]
mod multi;
#[path = "integration/ops.rs"]
mod ops;
#[path = "integration/pipelining.rs"]
mod pipelining;
#[path = "integration/readonly.rs"]
mod readonly;
#[path = "integration/session.rs"]
mod session;
#[path = "integration/tls.rs"]
mod tls;
#[path = "integration/watches.rs"]
mod watches;
