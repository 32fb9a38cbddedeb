//! Integration tests of the Rust test server over real sockets, by topic.

mod basic;
mod binary;
mod client;
#[path = "../common/conf_text.rs"]
mod conf_text;
mod conformance;
mod faults;
mod four_letter;
mod fuzz;
mod kazoo;
mod leniency;
mod peer_client;
mod persistence;
mod robustness;
mod stats_words;
mod tls;
mod tls_v1;
mod zkcli;
