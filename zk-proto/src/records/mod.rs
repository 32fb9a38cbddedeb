//! Every jute record of ZooKeeper 3.9, one module per area.

pub mod connect;
pub mod data;
pub mod header;
pub mod multi;
pub mod quorum;
pub mod request;
pub mod response;
pub mod txn;
