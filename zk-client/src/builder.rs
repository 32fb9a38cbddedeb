//! `ClientBuilder`: session settings and `connect`.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use zk_proto::PASSWORD_LEN;

use crate::client::{Client, SessionId, Shared};
use crate::driver::{Driver, Published, Transport};
use crate::error::{Error, Result};
use crate::events::Hub;
use crate::frame::FramePool;
use crate::hosts::ConnectString;
use crate::retry::RetryPolicy;
use crate::session::{Config, Session, SessionState};

/// Settings of a [`Client`]; made by [`Client::builder`].
///
/// ```no_run
/// # async fn demo() -> zk_client::Result<()> {
/// use std::time::Duration;
/// let client = zk_client::Client::builder("127.0.0.1:2181,127.0.0.1:2182/app")
///     .session_timeout(Duration::from_secs(10))
///     .auth("digest", b"user:secret")
///     .connect()
///     .await?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connection_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    read_only: bool,
    auth: Vec<(String, Bytes)>,
    sasl: Option<crate::sasl::Credentials>,
    session: Option<(SessionId, Bytes)>,
    watch_buffer: usize,
    retry_policy: RetryPolicy,
    connect_passes: Option<u32>,
    renew: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
}

impl ClientBuilder {
    pub(crate) fn new(connect_string: impl Into<String>) -> Self {
        ClientBuilder {
            connect_string: connect_string.into(),
            session_timeout: Duration::from_secs(10),
            connection_timeout: None,
            request_timeout: None,
            read_only: false,
            auth: Vec::new(),
            sasl: None,
            session: None,
            watch_buffer: 1024,
            retry_policy: RetryPolicy::default(),
            connect_passes: None,
            renew: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The session timeout to ask for (default 10 s). The server clamps it to
    /// `[2, 20] × tickTime`; the client uses the negotiated value for its timers.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long [`ClientBuilder::connect`] waits for the first session (default: the session
    /// timeout). Also caps a single connection attempt.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = Some(timeout);
        self
    }

    /// How long a request may wait for its reply, including time queued while disconnected
    /// (default: the session timeout). Past it the request fails with [`Error::Timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Whether a read-only server (one cut off from its quorum, with `readonlymode.enabled`)
    /// may serve this session (default false). Writes then fail with [`Error::NotReadOnly`].
    pub fn read_only(mut self, allow: bool) -> Self {
        self.read_only = allow;
        self
    }

    /// Credentials sent on every connection before any request (repeatable), e.g.
    /// `.auth("digest", b"user:password")`.
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auth
            .push((scheme.to_string(), Bytes::copy_from_slice(auth)));
        self
    }

    /// Authenticates with SASL DIGEST-MD5 as `user` (a `user_<name>` of the server's JAAS
    /// `Server` section) right after connecting, and again after every reconnect, before any
    /// other request, as ZooKeeper's Java client does with a JAAS `Client` section. The
    /// connection then has the identity `sasl:<user>` for ACLs. A refused password ends the
    /// session with [`Error::AuthFailed`].
    pub fn sasl_digest(mut self, user: &str, password: &str) -> Self {
        self.sasl = Some(crate::sasl::Credentials {
            user: user.to_string(),
            password: password.to_string(),
        });
        self
    }

    /// Resumes an existing session (from [`Client::session_id`] and
    /// [`Client::session_password`]) instead of creating one.
    pub fn session(mut self, id: SessionId, password: &[u8]) -> Self {
        self.session = Some((id, Bytes::copy_from_slice(password)));
        self
    }

    /// The buffer of each [`PersistentWatcher`](crate::PersistentWatcher) in events (default
    /// 1024); see its overflow rule.
    pub fn persistent_watch_buffer(mut self, events: usize) -> Self {
        self.watch_buffer = events.max(1);
        self
    }

    /// The retry policy of [`Client::retry`], [`Client::retrying`] and
    /// [`Client::create_protected`] (default: [`RetryPolicy::default`]). Plain operations
    /// never retry by themselves; see [the retry guide](crate::retry).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Makes [`connect`](ClientBuilder::connect) give up with [`Error::NoHosts`] once every
    /// host refused (or failed) `passes` connection attempts in a row, instead of trying
    /// until the connection timeout (at least 1). Only the first connection is bounded:
    /// once a session exists the client reconnects as usual. Hosts that accept TCP but
    /// never answer still take the per-attempt timeout each.
    pub fn connect_attempts(mut self, passes: u32) -> Self {
        self.connect_passes = Some(passes.max(1));
        self
    }

    /// [`connect_attempts(1)`](ClientBuilder::connect_attempts): one pass over the hosts.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let result = zk_client::Client::builder("127.0.0.1:1").fail_fast().connect().await;
    /// assert_eq!(result.err(), Some(zk_client::Error::NoHosts)); // at once, not after 10 s
    /// # }
    /// ```
    pub fn fail_fast(self) -> Self {
        self.connect_attempts(1)
    }

    /// Renew the session after expiry (Curator/kazoo behaviour). Default false (strict: one
    /// `Client` = one session: after expiry every call fails with [`Error::SessionExpired`]).
    ///
    /// When on, an expired session (reported by the server, or declared by the client when no
    /// server accepted it within its timeout) is replaced by a new one on the same handle:
    /// [`Client::events`] yields `Lost { reason: Expired }` then `NewSession { old, new, .. }`,
    /// and the state goes `Expired`, `Connecting`, then `Connected`.
    /// - Requests in flight at the expiry fail with [`Error::SessionExpired`]; requests made
    ///   meanwhile wait for the new session, up to the request timeout ([`Error::Timeout`]).
    /// - One-shot watchers of the old session complete with a `Session` event in state
    ///   `Expired`. Persistent watchers get that event too, and stay: their watches are set
    ///   again on the new session (with `setWatches2`, before `NewSession` is announced).
    /// - Credentials ([`ClientBuilder::auth`], [`Client::add_auth`]) are sent again on the new
    ///   session before any request.
    /// - [`Client::session_id`] and [`Client::session_generation`] change.
    ///
    /// What the application must redo after `NewSession`: its ephemeral nodes are gone (create
    /// them again: locks, leadership and registrations were lost), its one-shot watches are
    /// gone (set them again), and changes made meanwhile were not seen (re-read the state
    /// caches and persistent watchers depend on). See the crate's `guide` module.
    pub fn renew_session_on_expiry(mut self, renew: bool) -> Self {
        self.renew = renew;
        self
    }

    /// Connects over TLS with this configuration (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Starts the session task and waits until a server accepts the session.
    ///
    /// Hosts are shuffled and tried in turn (DNS is resolved on every attempt), with a
    /// jittered exponential backoff between passes over all of them.
    ///
    /// Errors: [`Error::NoHosts`] if no server accepted within the connection timeout (or
    /// the [`connect_attempts`](ClientBuilder::connect_attempts); [`Error::ReadOnlyServerRefused`]
    /// instead when a read-only server refused the client);
    /// [`Error::SessionExpired`] if the session given to [`ClientBuilder::session`] has
    /// expired; [`Error::AuthFailed`] if the credentials were rejected;
    /// [`Error::BadArguments`] for a bad connect string.
    pub async fn connect(self) -> Result<Client> {
        let client = self.start()?;
        let mut state = client.state();
        let connection_timeout = self.connection_timeout.unwrap_or(self.session_timeout);
        let wait = async {
            loop {
                let current = *state.borrow_and_update();
                match current {
                    SessionState::Connected | SessionState::ConnectedReadOnly => return Ok(()),
                    // With renewal, a resumed session that expired is replaced by a new one.
                    SessionState::Expired if !self.renew => return Err(Error::SessionExpired),
                    SessionState::AuthFailed => return Err(Error::AuthFailed),
                    // Only the core closes a session nobody has yet: out of connect attempts.
                    SessionState::Closed if self.connect_passes.is_some() => {
                        return Err(Error::NoHosts)
                    }
                    SessionState::Closed => return Err(Error::Closed),
                    _ => {}
                }
                if state.changed().await.is_err() {
                    return Err(Error::Closed);
                }
            }
        };
        match tokio::time::timeout(connection_timeout, wait).await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(match client.lifecycle().refusal() {
                Some(read_only_allowed) => Error::ReadOnlyServerRefused { read_only_allowed },
                None => Error::NoHosts,
            }),
        }
    }

    /// Starts the session task without waiting for a session. Must run inside a tokio runtime.
    pub(crate) fn start(&self) -> Result<Client> {
        let parsed = ConnectString::parse(&self.connect_string)?;
        let session = self
            .session
            .as_ref()
            .map(|(id, password)| (id.0, password.clone()));
        let identity = session
            .clone()
            .unwrap_or((0, Bytes::from_static(&[0; PASSWORD_LEN])));
        let request_timeout = self.request_timeout.unwrap_or(self.session_timeout);
        let config = Config {
            hosts: parsed.hosts,
            chroot: parsed.chroot.clone(),
            session_timeout: self.session_timeout,
            connection_timeout: self.connection_timeout.unwrap_or(self.session_timeout),
            request_timeout,
            read_only: self.read_only,
            session,
            auth: self.auth.clone(),
            sasl: self.sasl.clone(),
            seed: rand::random(),
            connect_passes: self.connect_passes,
            renew: self.renew,
        };
        let now = tokio::time::Instant::now().into_std();
        let core = Session::new(config, now);
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(SessionState::Connecting);
        let (identity_tx, identity_rx) = watch::channel(identity);
        let published = Arc::new(Published {
            last_zxid: AtomicI64::new(0),
            identity: identity_tx,
            frames: FramePool::default(),
            lifecycle: Hub::default(),
        });
        let transport = self.transport()?;
        Driver {
            core,
            commands: commands_rx,
            state: state_tx,
            published: published.clone(),
            transport,
        }
        .spawn();
        let shared = Arc::new(Shared {
            chroot: parsed.chroot,
            state: state_rx,
            identity: identity_rx,
            published,
            next_watcher: AtomicU64::new(1),
            watch_buffer: self.watch_buffer,
        });
        let mut client = Client::from_parts(commands_tx, shared);
        client.set_retry_policy(self.retry_policy.clone());
        Ok(client)
    }

    #[cfg(feature = "tls")]
    fn transport(&self) -> Result<Transport> {
        let tls = match &self.tls {
            Some(config) => Some(Arc::new(config.connector()?)),
            None => None,
        };
        Ok(Transport { tls })
    }

    #[cfg(not(feature = "tls"))]
    fn transport(&self) -> Result<Transport> {
        Ok(Transport::default())
    }
}
