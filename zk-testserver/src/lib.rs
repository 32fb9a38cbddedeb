//! Test servers for zk-rs.
//!
//! - A ZooKeeper-compatible server written in Rust ([`TestServer`]), started in-process in
//!   milliseconds, with fault injection (drop connections, expire sessions, restart keeping
//!   data and sessions, drop a reply after applying its write, hold a session's events) and a
//!   controllable clock. The same server runs as the
//!   `zk-testserver` binary, a drop-in for `QuorumPeerMain zoo.cfg`, standalone or, with
//!   `server.N` lines and a `myid` file, as a member of a replicated ensemble.
//! - [`Ensemble`]: a replicated ensemble of N members (participants and observers) in this
//!   process, ready when a leader is established, with fault injection (kill, restart from
//!   disk or empty, partitions, cut and slow links, pause, drop connections, expire sessions,
//!   drop a reply after applying its write, hold events).
//! - [`real`]: launches real Apache ZooKeeper (standalone or an ensemble) from the system's
//!   ZooKeeper jars, for interoperability tests.
//!
//! Layout: [`tree`] (pure data tree and `apply`), [`prep`] (validation into [`txn::Txn`]s),
//! [`watch`], [`session`], [`acl`], [`core`] (sans-IO request handling), `net` (tokio),
//! [`storage`] (txn log and snapshots), [`config`] (`zoo.cfg` and the command line),
//! [`keystore`] and [`tls`] (PEM, JKS, PKCS#12; x509 identities), [`sasl`] (JAAS and
//! DIGEST-MD5), [`four_letter`];
//! [`linearizability`] checks recorded histories of register operations (for fault tests).
//!
//! # Drop-in for the java command line
//!
//! A harness that runs `java [JVM flags] [-Dname=value ...] -cp ... \
//! org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg` runs this server by replacing
//! `java` with the `zk-testserver` binary and keeping every argument:
//!
//! - `-Dname=value` system properties are applied with ZooKeeper's precedence
//!   ([`config::ZooCfg::apply_system_properties`]): a `zoo.cfg` key ZooKeeper turns into the
//!   property `zookeeper.<key>` wins over a `-D` of that name, and the `-D` applies when the
//!   file lacks the key; settings that only exist as properties (`readonlymode.enabled`,
//!   `jute.maxbuffer`, `java.security.auth.login.config`, `znode.container.checkIntervalMs`)
//!   come from `-D`. Properties for the JVM or logging (`java.*`, `log4j.*`,
//!   `zookeeper.log.*`, ...) are skipped; any other unknown one is skipped with a warning.
//! - Other JVM flags (`-Xmx..`, `-XX:..`, `-cp x`, ...) and the main class are skipped
//!   ([`config::CommandLine`]); the first other argument is the `zoo.cfg`.
//! - `secureClientPort` serves TLS with PEM, JKS or PKCS#12 key and trust stores
//!   (`ssl.keyStore.*`, `ssl.trustStore.*`, types inferred from `.pem`/`.jks`/`.p12`/`.pfx`);
//!   a verified client certificate gives the ACL identity `x509:<subject>`.
//! - `authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider` with
//!   `-Djava.security.auth.login.config=jaas.conf` serves SASL DIGEST-MD5 for the
//!   `user_<name>` entries of the JAAS `Server` section; a login gives `sasl:<name>`.
//!
//! The binary logs `zk-testserver serving` on stderr when it accepts clients. The crate's
//! README has the full table of properties; `tests/security/dropin.rs` runs one harness
//! argument vector with this binary and with `java` and checks TLS, SASL, digest and
//! super-user sessions against both.
//!
//! [`replication`] is the sans-IO ZAB core of the replicated ensemble (election, discovery,
//! synchronization, broadcast, ensemble-wide session expiry, forwarded writes and `sync`),
//! tested by a deterministic, seeded simulation of whole ensembles (`src/sim/`, test-only:
//! `ZK_SIM_SEEDS=2000 cargo test -p zk-testserver --lib sim::tests::seeds -- --nocapture`).
//! [`member`] is a client-serving ensemble member, sans-IO: the server core in replicated
//! mode driven by a replica; a second simulation drives members with protocol-speaking
//! clients (`ZK_MEMBER_SIM_SEEDS=500 cargo test -p zk-testserver --lib
//! sim::tests::member_seeds -- --nocapture`). [`ensemble::MemberNode`] runs one member over
//! real sockets with fault injection.
//!
//! # Fuzzing
//!
//! [`core::ServerCore`] takes every byte a client sends. With the `fuzzing` feature (off by
//! default, not a stable API) the hidden module `__fuzz` runs a byte string as a script
//! against a fresh core: handshakes (new, resumed, wrong password, later zxid, read-only),
//! valid request frames of every op, the same with bits flipped, cut short, extended or with
//! another op code, arbitrary frames, ticks, closes, reconnects and expiries. After every step
//! it checks that each output targets a connection the driver still has open, that replies
//! keep each connection's request order, and [`core::ServerCore::check_invariants`] (which
//! includes [`tree::DataTree::check_invariants`]). The script runs as two proptests of 500
//! cases each in `cargo test` (`core/fuzz_tests.rs`) and as the cargo-fuzz target
//! `server_core` in `fuzz/` at the repository root:
//!
//! | target | executions | result |
//! |---|---:|---|
//! | `server_core` | 439,441 | no failure |
//!
//! 240 s, built by cargo-fuzz 0.13.2 with AddressSanitizer, on a 2-core AMD EPYC VM shared
//! with other work, on 2026-11-25, starting from the corpus of an earlier 240 s run (734,479
//! executions, no failure) of a script that differed only in the order it read one operand.
//! Command:
//!
//! ```sh
//! fuzz/run_all.sh 240    # or: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run server_core -- \
//!                        #   -max_total_time=240 -malloc_limit_mb=32
//! ```
#![warn(missing_docs)]

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
pub mod acl;
pub mod config;
pub mod core;
pub mod ensemble;
pub mod four_letter;
pub mod keystore;
pub mod linearizability;
pub mod member;
mod net;
pub mod prep;
pub mod real;
pub mod replication;
pub mod sasl;
mod server;
pub mod session;
#[cfg(test)]
mod sim;
pub mod storage;
pub mod tls;
pub mod tree;
pub mod txn;
pub mod watch;

pub use ensemble::{Ensemble, EnsembleBuilder};
pub use server::{ClientAuth, ServerError, TestServer, TestServerBuilder, TlsFiles};
