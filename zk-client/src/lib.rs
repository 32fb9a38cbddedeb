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
//!
//! # Features
//! - `tls`: TLS with rustls ([`ClientBuilder::tls`], `TlsConfig`).

#![warn(missing_docs)]

mod builder;
mod client;
mod driver;
mod error;
mod event;
mod frame;
mod helpers;
mod hosts;
mod ops;
mod session;
#[cfg(feature = "tls")]
mod tls;
mod watcher;

pub use builder::ClientBuilder;
pub use bytes::Bytes;
pub use client::{Client, SessionId, CONFIG_NODE};
pub use error::{ArgumentError, Error, Result};
pub use event::{EventType, WatchedEvent};
pub use hosts::{Chroot, ConnectString, HostPort, DEFAULT_PORT};
pub use ops::{
    AddWatchMode, CreateMode, CreateOptions, Op, OpResult, ReadOp, ReadResult, Reconfig,
    WatcherType,
};
pub use session::SessionState;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use watcher::{OneshotWatcher, PersistentWatcher};
pub use zk_proto::{perms, Acl, ClientInfo, Id, PathError, Stat};
