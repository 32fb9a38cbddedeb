//! Locks: the mutex, the read/write lock, the counting semaphore and the multi-lock, all on
//! Curator's znode layouts.

pub(crate) mod internals;
mod multi_lock;
mod mutex;
mod rwlock;
mod semaphore;

pub use multi_lock::{MultiLock, MultiLockGuard};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{ReadLock, ReadWriteLock, WriteLock};
pub use semaphore::{Lease, Semaphore};
