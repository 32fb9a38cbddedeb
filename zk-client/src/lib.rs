//! An async [tokio] client for Apache ZooKeeper (3.5 – 3.9 servers).
//!
//! ```no_run
//! use zk_client::{AddWatchMode, Client, CreateMode, CreateOptions, EventType};
//! use futures::StreamExt;
//!
//! # async fn demo() -> zk_client::Result<()> {
//! let client = Client::connect("127.0.0.1:2181/myapp").await?;
//!
//! // Every operation is queued when called, so these two keep their order under join!.
//! let persistent = CreateOptions::new(CreateMode::Persistent);
//! let (created, read) = futures::join!(
//!     client.create("/config", b"v1", &persistent),
//!     client.get_data("/config"),
//! );
//! assert_eq!(created?.0, "/config");
//! assert_eq!(&read?.0[..], b"v1");
//!
//! // A one-shot watch is a future...
//! let (_, _, watcher) = client.get_data_and_watch("/config").await?;
//! client.set_data("/config", b"v2", None).await?;
//! assert_eq!(watcher.changed().await.event_type, EventType::NodeDataChanged);
//!
//! // ...a persistent watch is a Stream, re-registered after every reconnect.
//! let mut events = client.add_watch("/", AddWatchMode::PersistentRecursive).await?;
//! client.delete("/config", None).await?;
//! let event = events.next().await.expect("an event");
//! assert_eq!((event.event_type, event.path.as_str()), (EventType::NodeDeleted, "/config"));
//!
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Design
//! - The session core (`src/session/`) is a sans-IO state machine: it takes connection results, bytes,
//!   commands and the current time, and returns effects (connect, disconnect, complete a
//!   request, deliver an event, change state), the bytes to send and its next deadline. It
//!   owns reconnects, pings, timeouts, client-side expiry, credentials, the ordered queue of
//!   requests in flight and the watch registry (re-registered with `setWatches2` in 128 KiB
//!   chunks after a reconnect).
//! - A thin driver task per session owns the socket (TCP or TLS) and executes those effects,
//!   writing every queued frame with one coalesced write per wake.
//! - [`Client`] is a cheap handle: an unbounded channel sender plus shared read-only state.
//!   No task and no lock per request.
//! - Watchers are typed: [`OneshotWatcher`] (a future), [`PersistentWatcher`] (a `Stream`),
//!   and the session state is a `tokio::sync::watch` channel ([`Client::state`]). Events of
//!   a change reach watchers before the reply of any later request completes.
//! - One error type, [`Error`], with a variant per server error code.
//! - Session events ([`Client::events`]): connected, suspended, reconnected, lost, and a new
//!   session after expiry when [`ClientBuilder::renew_session_on_expiry`] is on.
//!
//! The [`guide`] explains sessions, their states and events, expiry and renewal, and what to
//! do with each error.
//!
//! # Helpers
//! - [`Client::create_protected`]: Curator-compatible protected creates (`_c_<uuid>-<name>`)
//!   that survive a lost reply; [`protected_id`], [`strip_protected`], [`parse_sequence`].
//! - [`retry`]: [`RetryPolicy`] and [`Client::retrying`], which retry only what is safe to
//!   repeat (the module's guide says what, per operation); [`Client::with_request_timeout`];
//!   [`ClientBuilder::fail_fast`] for a first connect that gives up after one pass.
//! - [`Perms`] and [`AclExt`] (`Acl::digest(user, password, Perms::ALL)`, ...).
//! - [`Client::create_all`] (`mkdir -p`) and [`Client::delete_all`].
//!
//! # Features
//! - `tls`: TLS with rustls (`ClientBuilder::tls`, `TlsConfig`; both exist only with the
//!   feature, so they are not linked here).
//! - `fuzzing`: the hidden `__fuzz` module for the cargo-fuzz targets (not a stable API).
//!
//! # Fuzzing
//!
//! The session core reads every byte the server sends. `src/session/fuzz_script.rs` runs a
//! byte string as a script against it: a session is established and requests submitted
//! (watch registrations among them), then the server end sends arbitrary bytes, replies with
//! matching and non-matching xids, events, frames with bits flipped, cut short or with garbage
//! after a valid header, and oversized or negative length prefixes, while time passes and the
//! connection drops and comes back. It checks that every request completes exactly once (all
//! of them once the session is closed), that events reach registered watchers only, and that
//! a frame the core cannot decode makes it drop the connection. The script runs as two
//! proptests of 500 cases each in `cargo test` (`session/fuzz_tests.rs`) and, through
//! `__fuzz` with the `fuzzing` feature, as the cargo-fuzz target `client_session` in `fuzz/`
//! at the repository root:
//!
//! | target | executions | result |
//! |---|---:|---|
//! | `client_session` | 688,062 | no failure |
//!
//! 240 s, built by cargo-fuzz 0.13.2 with AddressSanitizer, on a 2-core AMD EPYC VM whose
//! other core ran builds and tests, on 2026-11-25. A first run stopped after 6,969
//! executions on a false alarm of the script itself (it expected trailing garbage where the
//! input had run out of bytes to append); it is fixed and kept as a fixed case in
//! `fuzz_tests.rs`. Command:
//!
//! ```sh
//! fuzz/run_all.sh 240    # or: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run client_session -- \
//!                        #   -max_total_time=240 -malloc_limit_mb=32
//! ```

#![warn(missing_docs)]

mod acl;
mod builder;
mod client;
mod driver;
mod error;
mod event;
mod events;
mod frame;
pub mod guide;
mod helpers;
mod hosts;
mod ops;
mod protected;
pub mod retry;
mod sasl;
mod sequence;
mod session;
#[cfg(feature = "tls")]
mod tls;
mod watcher;

/// Entry points for the cargo-fuzz targets in `fuzz/`; not a stable API.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod __fuzz {
    /// Runs `data` as a script against the session core (see `session/fuzz_script.rs`);
    /// panics if the core panics or breaks one of the script's checks.
    pub fn session_script(data: &[u8]) {
        crate::session::fuzz_script::run(data);
    }
}

pub use acl::{digest_id, AclExt, ParsePermsError, Perms};
pub use builder::ClientBuilder;
pub use bytes::Bytes;
pub use client::{Client, SessionId, CONFIG_NODE};
pub use error::{ArgumentError, Error, Result};
pub use event::{EventType, WatchedEvent};
pub use events::{LossReason, SessionEvent, SessionEvents};
pub use hosts::{Chroot, ConnectString, HostPort, DEFAULT_PORT};
pub use ops::{
    AddWatchMode, CreateMode, CreateOptions, Op, OpResult, ReadOp, ReadResult, Reconfig,
    WatcherType,
};
pub use protected::{protected_id, strip_protected, PROTECTED_PREFIX};
pub use retry::{Idempotence, RetryPolicy, Retrying};
pub use sequence::{parse_sequence, parse_sequence_after, Sequence, SEQUENCE_LEN};
pub use session::SessionState;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use watcher::{OneshotWatcher, PersistentWatcher};
// zk-proto types that appear in this crate's public API, so users need no zk-proto dependency.
pub use zk_proto::{perms, Acl, ClientInfo, DecodeError, ErrorCode, Id, PathError, Stat};
