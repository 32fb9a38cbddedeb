//! Drivers that run the [`crate::replication`] core over real sockets.
//!
//! [`PeerNode`] is one replicating member on loopback (or any address): the ZAB core, peer
//! connections over TCP, timers, and an in-memory disk that survives a kill so the member can
//! restart from it. It replicates txns without a client port yet; the client-facing ensemble
//! builder grows on top of it.

mod dir_disk;
mod disk;
mod peer;
#[cfg(test)]
mod tests;

pub use dir_disk::DirDisk;
pub use disk::{DurableStore, MemoryDisk};
pub use peer::{NodeState, PeerNode};
