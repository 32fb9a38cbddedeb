//! Leadership: the leader latch (am I leader now, and a stream of changes) and the leader
//! election that runs a task while leading, both on Curator's znode layouts.

mod election;
mod latch;

pub use election::{LeaderElection, LeaderElectionBuilder, Leadership};
pub use latch::{LatchState, LeaderLatch};
