//! Runnable examples of zk-rs; see the binaries in `examples/src/bin`.
