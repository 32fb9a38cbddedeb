//! Ensemble members over real sockets.
//!
//! [`MemberNode`] is one client-serving member of a replicated ensemble: the sans-IO
//! [`crate::member::Member`] (the server core in replicated mode driven by the
//! [`crate::replication`] core) on a core thread, client connections like a standalone
//! server's, peer connections over TCP with injectable link faults ([`Link`]), and a
//! [`DurableStore`] for its epochs and log. [`PeerNode`] drives a bare replication core
//! (no client port) over the same transport.

mod builder;
mod dir_disk;
mod disk;
mod member_node;
#[cfg(test)]
mod member_tests;
mod peer;
#[cfg(test)]
mod tests;
mod transport;

pub use crate::member::Serving;
pub use builder::{Ensemble, EnsembleBuilder};
pub use dir_disk::DirDisk;
pub use disk::{DurableStore, MemoryDisk};
pub(crate) use member_node::MemberMsg;
pub use member_node::{MemberConfig, MemberNode, MemberStatus, SecurePort};
pub use peer::{NodeState, PeerNode};
pub use transport::Link;
