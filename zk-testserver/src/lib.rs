//! Test servers for zk-rs.
//!
//! - A ZooKeeper-compatible server written in Rust ([`TestServer`]), started in-process in
//!   milliseconds, with fault injection (drop connections, expire sessions, restart keeping
//!   data and sessions, drop a reply after applying its write, hold a session's events) and a
//!   controllable clock. The same server runs as the
//!   `zk-testserver` binary, a drop-in for `QuorumPeerMain zoo.cfg` in standalone mode.
//! - [`real`]: launches real Apache ZooKeeper (standalone or an ensemble) from the system's
//!   ZooKeeper jars, for interoperability tests.
//!
//! Layout: [`tree`] (pure data tree and `apply`), [`prep`] (validation into [`txn::Txn`]s),
//! [`watch`], [`session`], [`acl`], [`core`] (sans-IO request handling), `net` (tokio),
//! [`storage`] (txn log and snapshots), [`config`] (`zoo.cfg`), [`four_letter`].
#![warn(missing_docs)]

pub mod acl;
pub mod config;
pub mod core;
pub mod four_letter;
mod net;
pub mod prep;
pub mod real;
mod server;
pub mod session;
pub mod storage;
pub mod tls;
pub mod tree;
pub mod txn;
pub mod watch;

pub use server::{ClientAuth, ServerError, TestServer, TestServerBuilder, TlsFiles};
