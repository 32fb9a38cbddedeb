//! Coordination recipes for ZooKeeper, built only on the public API of [`zk-client`]:
//! locks (mutex, read/write, semaphore), leader latch and election, barriers, queues, config
//! and tree caches, group membership and service naming, counters.
//!
//! This crate exports nothing yet: the recipes follow the replicated zk-testserver ensemble in
//! the project's plan, and each will arrive with tests against real ZooKeeper and zk-testserver
//! for the classic failure modes (lost create replies, session expiry while holding, herd
//! effects). Until then, `examples/src/bin/demo.rs` shows configuration and service-naming
//! patterns written directly on the client.
//!
//! [`zk-client`]: https://docs.rs/zk-client
