//! Where a member keeps its [`DurableState`]: the seam between the replication driver and a
//! disk.
//!
//! The driver hands every [`PersistOp`] the core emits to a [`DurableStore`] in order and tells
//! the core they are durable only after [`DurableStore::persist`] returned. [`MemoryDisk`] keeps
//! the state in memory, shared, so a test can kill a member and restart it from what it had
//! persisted (or from nothing); a store on a data directory survives the process.

use std::sync::{Arc, Mutex};

use crate::replication::{DurableState, PersistOp};

/// A member's durable storage.
pub trait DurableStore: Send + std::fmt::Debug + 'static {
    /// Reads what survived the last run (empty on a fresh store).
    fn load(&mut self) -> std::io::Result<DurableState>;

    /// Makes `ops` durable, in order; returns once they are (after the fsync).
    fn persist(&mut self, ops: &[PersistOp]) -> std::io::Result<()>;
}

/// An in-memory disk shared between clones: what one clone persisted, another loads.
#[derive(Debug, Clone, Default)]
pub struct MemoryDisk {
    state: Arc<Mutex<DurableState>>,
}

impl MemoryDisk {
    /// An empty disk.
    pub fn new() -> MemoryDisk {
        MemoryDisk::default()
    }

    /// A copy of what is on the disk now.
    pub fn snapshot(&self) -> DurableState {
        self.state.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Erases the disk (a member restarted with a new, empty disk).
    pub fn wipe(&self) {
        if let Ok(mut d) = self.state.lock() {
            *d = DurableState::default();
        }
    }
}

impl DurableStore for MemoryDisk {
    fn load(&mut self) -> std::io::Result<DurableState> {
        Ok(self.snapshot())
    }

    fn persist(&mut self, ops: &[PersistOp]) -> std::io::Result<()> {
        // The lock is held only for the copy; a poisoned lock means a test thread panicked.
        let mut d = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("memory disk lock poisoned"))?;
        for op in ops {
            d.apply(op);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_disk_is_shared_between_clones_and_wipes() {
        let mut a = MemoryDisk::new();
        let mut b = a.clone();
        a.persist(&[PersistOp::Epochs {
            accepted: 3,
            current: 2,
        }])
        .unwrap();
        let loaded = b.load().unwrap();
        assert_eq!((loaded.accepted_epoch, loaded.current_epoch), (3, 2));
        b.wipe();
        assert_eq!(a.load().unwrap(), DurableState::default());
    }
}
