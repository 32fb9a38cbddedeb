//! Test servers for zk-rs.
//!
//! - [`real`]: launches real Apache ZooKeeper (standalone or an ensemble) from the system's
//!   ZooKeeper jars, for interoperability tests.
#![warn(missing_docs)]

pub mod real;
