//! A user's guide to sessions and errors (documentation only, no code).
//!
//! - [Sessions, connections and their states](#sessions-connections-and-their-states)
//! - [Session events](#session-events)
//! - [Expiry, and renewing the session](#expiry-and-renewing-the-session)
//! - [Errors, and what to do with each](#errors-and-what-to-do-with-each)
//! - [Retries](#retries)
//!
//! # Sessions, connections and their states
//!
//! A [`Client`](crate::Client) holds one ZooKeeper *session* at a time over one TCP (or TLS)
//! *connection*. The session outlives connections: when a connection drops, the client
//! reconnects (to the same server or another one of the connect string) and presents the
//! same session id and password; the server accepts it if the session has not expired, and the
//! session keeps its ephemeral nodes and watches. A session expires when no server heard from
//! its client for the negotiated session timeout
//! ([`Client::negotiated_session_timeout`](crate::Client::negotiated_session_timeout)); the
//! ensemble then deletes its ephemeral nodes. The client also declares the session expired
//! itself when it could not reach any server for that long.
//!
//! [`Client::state`](crate::Client::state) is a `tokio::sync::watch` channel of
//! [`SessionState`](crate::SessionState):
//!
//! ```text
//!                  session accepted            connection lost
//!   Connecting ──────────────────────▶ Connected ─────────────────▶ Disconnected
//!       ▲                          (ConnectedReadOnly) ◀────────────     │
//!       │                                              reconnected       │
//!       │ renewal on                                                     │
//!       └──────────── Expired ◀──────────────────────────────────────────┘
//!                                 expired (told by the server on reconnecting,
//!                                 or no server reached within the timeout)
//!
//!   from any state:  Closed (close() or every handle dropped), AuthFailed (credentials
//!                    rejected); and Expired when renewal is off. These end the client.
//! ```
//!
//! A `watch` channel keeps only the latest state, so a reader can miss a short-lived one (a
//! quick disconnect, or `Expired` on its way to `Connecting` when renewing). Use
//! [`Client::events`](crate::Client::events) to see every step.
//!
//! # Session events
//!
//! [`Client::events`](crate::Client::events) returns a lossless, ordered stream of
//! [`SessionEvent`](crate::SessionEvent)s; any number of subscribers may read it, each at its
//! own pace. The first item tells where things stand at subscription. They carry the session
//! id, and mean (with Curator's names):
//!
//! | event | meaning | what a holder of a lock or leadership does |
//! |---|---|---|
//! | `Connected` | first connection of a session | may act |
//! | `Suspended` (SUSPENDED) | connection lost; the session may live or expire | stop acting as owner until told more |
//! | `Reconnected` (RECONNECTED) | back, same session: ephemerals and watches kept | resume; re-read data if a watch may have missed events |
//! | `Lost` (LOST) | the session is over (`Expired`, `Closed`, `AuthFailed`) | ownership is gone |
//! | `NewSession` | after `Lost { Expired }`, with renewal: a new session | start over (see below) |
//!
//! ```text
//!   Connected ──▶ Suspended ──▶ Reconnected ──▶ Suspended ──▶ ...
//!                     │
//!                     ├──▶ Lost{Expired} ──▶ NewSession ──▶ Suspended ──▶ ...   (renewal on)
//!                     └──▶ Lost{Expired}                                  (strict: the end)
//!   from any state:  Lost{Closed}, Lost{AuthFailed}                       (the end)
//! ```
//!
//! [`Client::session_generation`](crate::Client::session_generation) counts sessions (1 for
//! the first): compare it before and after a step to know whether the session changed under
//! you.
//!
//! # Expiry, and renewing the session
//!
//! By default a `Client` is one session (the strict mode of the Java client): once expired,
//! every call fails with [`Error::SessionExpired`](crate::Error::SessionExpired) and the
//! application makes a new client. With
//! [`ClientBuilder::renew_session_on_expiry(true)`](crate::ClientBuilder::renew_session_on_expiry)
//! (what Curator and kazoo do) the same handle starts a new session instead:
//!
//! 1. Subscribers see `Lost { reason: Expired }`; requests in flight fail with
//!    `SessionExpired`; one-shot watchers complete with a `Session` event in state `Expired`;
//!    persistent watchers get that event too and stay.
//! 2. The client connects as a new session (asking for a server at least as recent as the last
//!    zxid it saw), sends its credentials again, and sets the persistent watches again
//!    (`setWatches2`), all before announcing `NewSession { old, new }`. Requests made
//!    meanwhile wait for it, up to their timeout.
//!
//! **After `NewSession`, the application must redo what belonged to the old session:**
//! - its **ephemeral nodes are gone**: create them again, and treat locks, leadership, group
//!   membership and leases held through them as lost;
//! - its **one-shot watches are gone**: set them again;
//! - **changes made in between were not observed**, not even by the persistent watches (they
//!   were not set for a while): re-read whatever state a cache or a watcher keeps.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> zk_client::Result<()> {
//! use std::time::Duration;
//! use zk_client::{Client, CreateMode, CreateOptions, LossReason, SessionEvent};
//!
//! let server = zk_testserver::TestServer::builder().start().await.unwrap();
//! let client = Client::builder(server.addr().to_string())
//!     .session_timeout(Duration::from_secs(10))
//!     .renew_session_on_expiry(true)
//!     .connect()
//!     .await?;
//! let mut events = client.events();
//! let first = client.session_id();
//! assert!(matches!(events.next().await, Some(SessionEvent::Connected { .. })));
//! let ephemeral = CreateOptions::new(CreateMode::Ephemeral);
//! client.create("/member", b"", &ephemeral).await?;
//!
//! // The server expires the session (in production: a long pause, a partition).
//! server.expire_session(first.0).await;
//! assert_eq!(events.next().await, Some(SessionEvent::Suspended { session: first }));
//! assert_eq!(
//!     events.next().await,
//!     Some(SessionEvent::Lost { session: first, reason: LossReason::Expired })
//! );
//! let Some(SessionEvent::NewSession { old, new, .. }) = events.next().await else {
//!     panic!("expected a new session")
//! };
//! assert_eq!((old, new), (first, client.session_id()));
//! assert_eq!(client.session_generation(), 2);
//!
//! // The old session's ephemeral node is gone: the application creates it again.
//! assert_eq!(client.exists("/member").await?, None);
//! client.create("/member", b"", &ephemeral).await?;
//! # client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Errors, and what to do with each
//!
//! Every operation returns [`Error`](crate::Error). Server error codes map one-to-one to
//! variants ([`Error::from_code`](crate::Error::from_code), [`Error::code`](crate::Error::code)
//! gives the [`ErrorCode`](crate::ErrorCode) back). The ones to plan for:
//!
//! | error | means | what to do |
//! |---|---|---|
//! | `ConnectionLoss` | the connection dropped with the request in flight; a write may or may not have applied | retry once reconnected; make writes idempotent or check (versions, protected creates) |
//! | `Timeout` | no reply within the request timeout (queued while disconnected, or slow server); outcome unknown | as `ConnectionLoss` |
//! | `SessionExpired` | the session is over | strict: make a new client; renewing: the call failed with the old session, redo the work on the new one |
//! | `Closed` | the client was closed | stop |
//! | `AuthFailed` | credentials rejected; the client is over | fix the credentials |
//! | `NoHosts` | `connect` found no server accepting a session in time | check the connect string, the network, the ensemble |
//! | `ReadOnlyServerRefused` | only a read-only member (no quorum) answered, and it refused | allow read-only servers, or wait for the quorum |
//! | `NoNode`, `NodeExists`, `NotEmpty`, `BadVersion` | the tree is not as the request assumed | application logic: re-read, then decide |
//! | `NoAuth`, `InvalidAcl` | permissions | add credentials, fix the ACL |
//! | `NotReadOnly` | a write on a read-only server | wait for a read-write server |
//! | `MultiFailed { index, code }` | a transaction failed at `index` with server error `code`; nothing applied | match on `code` (`Error::MultiFailed { index: 1, code: ErrorCode::BadVersion }`) |
//! | `BadArguments` | refused before sending (path, TTL, size) or by the server | fix the call |
//!
//! Three predicates sum it up: [`Error::is_retryable`](crate::Error::is_retryable),
//! [`Error::is_terminal`](crate::Error::is_terminal) (for `SessionExpired`: terminal for the
//! session, not for a client that renews it) and
//! [`Error::has_no_data_change`](crate::Error::has_no_data_change).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> zk_client::Result<()> {
//! # let server = zk_testserver::TestServer::builder().start().await.unwrap();
//! use zk_client::{Client, CreateOptions, Error, ErrorCode};
//!
//! let client = Client::connect(&server.addr().to_string()).await?;
//! client.create("/config", b"v1", &CreateOptions::default()).await?;
//! match client.create("/config", b"v2", &CreateOptions::default()).await {
//!     Err(Error::NodeExists) => { /* someone was first: read theirs */ }
//!     Err(e) if e.is_retryable() => { /* unknown outcome: check, then retry */ }
//!     Err(e) => return Err(e),
//!     Ok(_) => unreachable!("the node exists"),
//! }
//! assert_eq!(Error::NodeExists.code(), Some(ErrorCode::NodeExists));
//! assert!(Error::NodeExists.has_no_data_change());
//! # client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Retries
//!
//! The client retries nothing on its own, except connecting: it reconnects after a connection
//! loss, and requests made while disconnected wait for the connection (up to the request
//! timeout). A request that was in flight when the connection dropped fails with
//! `ConnectionLoss` and is **not** sent again, because a write may already have applied:
//! sending it again could create a second sequential node or apply a change twice. Retry reads
//! freely; retry writes only when they are idempotent or guarded (a version check, or finding
//! the node you may have created). [`Client::retrying`](crate::Client::retrying) and
//! [`Client::create_protected`](crate::Client::create_protected) do exactly that; the
//! [`retry`](crate::retry) module lists what each operation retries.
