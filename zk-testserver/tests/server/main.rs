//! Integration tests of the Rust test server over real sockets, by topic.

mod basic;
mod binary;
mod client;
mod conformance;
mod faults;
mod four_letter;
mod fuzz;
mod kazoo;
mod peer_client;
mod persistence;
mod tls;
mod tls_v1;
mod zkcli;
