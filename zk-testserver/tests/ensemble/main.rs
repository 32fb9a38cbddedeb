//! The in-process replicated [`zk_testserver::Ensemble`] over real sockets, driven by
//! zk-client: failover under write load, partitions, `sync`, restarts from disk, sessions
//! moving between members, ensemble-wide expiry, and the fault-injection API.

mod binary;
mod conf;
#[path = "../common/conf_text.rs"]
mod conf_text;
mod failover;
mod faults;
mod kazoo_harness;
mod links;
mod nemesis;
mod read_only;
mod reconfig;
mod restart;
mod sessions;
mod snapshots;
mod support;
mod tls;
