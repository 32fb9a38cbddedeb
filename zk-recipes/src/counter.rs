//! Counters: [`SharedCount`] (Curator `SharedCount`) and [`AtomicValue`] (Curator
//! `DistributedAtomicLong`).
//!
//! # Layouts
//! - `SharedCount`: the node `P` holds a 4-byte big-endian `i32`. Writes are compare-and-set
//!   with the version read (`setData(P, n, version)`); the local view is replaced only by a
//!   read with a higher `mzxid`, never ordered by version (versions wrap, CURATOR-688).
//! - `AtomicValue`: the node `P` holds an 8-byte big-endian `i64`; a missing node reads as 0.
//!   Each write is `multi(setData(P, n, version), create(P/_op-<uuid>, EPHEMERAL))` (or a
//!   create of `P` when it is missing). The ephemeral marker makes a write whose reply was
//!   lost decidable: after the reconnect the marker exists exactly when the write applied, so
//!   an increment is never applied twice and never reported wrongly. The marker is deleted
//!   right after. Curator reads only `P`'s data, so both share one counter.
//!
//! # Connection-state policy
//! - Suspended (connection lost): writes wait for the reconnect (bounded by the client's
//!   request timeout); `SharedCount` keeps its last value and re-reads when reconnected
//!   (CURATOR-311), reporting the fresh value on [`SharedCount::changes`].
//! - Lost (session ended): operations fail with the client's terminal error; a
//!   `SharedCount` stops following the node.

use std::time::Duration;

use tokio::sync::watch;
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError, Op, SessionState};

use crate::error::{Error, Result};
use crate::node_util::{create_parent_containers, retry, uuid4, wait_connected, TaskGuard};

/// A [`SharedCount`] value with the Stat fields a compare-and-set needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedCount {
    /// The count.
    pub value: i32,
    /// The node's data version when read (for [`SharedCount::try_set_count`]).
    pub version: i32,
    /// The zxid of the write that produced it (orders values; versions may wrap).
    pub mzxid: i64,
}

/// A shared `i32` every participant can read, follow and compare-and-set (Curator
/// `SharedCount`; same layout, so Curator and zk-recipes processes share one count).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::SharedCount;
///
/// let count = SharedCount::start(&client, "/app/generation", 0).await?;
/// let seen = count.versioned();
/// if !count.try_set_count(&seen, seen.value + 1).await? {
///     // someone else changed it first; `count.count()` now holds the newer value
/// }
/// let changes = count.changes(); // `changes.changed().await` waits for the next value
/// println!("now {}", changes.borrow().value);
/// # Ok(()) }
/// ```
///
/// Dropping it stops the background task that follows the node.
#[derive(Debug)]
pub struct SharedCount {
    client: Client,
    path: String,
    current: watch::Sender<VersionedCount>,
    _task: TaskGuard,
}

impl SharedCount {
    /// Creates `path` with `seed` unless it exists (parents as containers), reads it, and
    /// starts following it.
    ///
    /// Errors: the client's errors; [`Error::BadData`] if the node does not hold 4 bytes.
    pub async fn start(client: &Client, path: &str, seed: i32) -> Result<SharedCount> {
        crate::node_util::check_path(path)?;
        let persistent = CreateOptions::new(CreateMode::Persistent);
        let seed_bytes = seed.to_be_bytes();
        let created = retry(client, || {
            crate::node_util::create_in_containers(client, path, &seed_bytes, &persistent)
        })
        .await;
        match created {
            Ok(_) | Err(ClientError::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
        let (data, stat) = retry(client, || client.get_data(path)).await?;
        let first = VersionedCount {
            value: decode_i32(path, &data)?,
            version: stat.version,
            mzxid: stat.mzxid,
        };
        let (current, _) = watch::channel(first);
        let task = tokio::spawn(follow(client.clone(), path.to_string(), current.clone()));
        tracing::debug!(path, session = %client.session_id(), value = first.value, "shared count started");
        Ok(SharedCount {
            client: client.clone(),
            path: path.to_string(),
            current,
            _task: TaskGuard(task),
        })
    }

    /// The count as last seen.
    pub fn count(&self) -> i32 {
        self.current.borrow().value
    }

    /// The count with its version, for [`SharedCount::try_set_count`].
    pub fn versioned(&self) -> VersionedCount {
        *self.current.borrow()
    }

    /// A receiver that sees every newer value (by `mzxid`) this handle learns of.
    pub fn changes(&self) -> watch::Receiver<VersionedCount> {
        self.current.subscribe()
    }

    /// Sets the count whatever it is now.
    pub async fn set_count(&self, value: i32) -> Result<()> {
        let stat = retry(&self.client, || {
            self.client.set_data(&self.path, &value.to_be_bytes(), None)
        })
        .await?;
        self.publish(value, stat.version, stat.mzxid);
        Ok(())
    }

    /// Sets the count to `value` if it is still at `previous.version`. `Ok(false)` if
    /// someone changed it first (the newer value is then read and published).
    ///
    /// Errors: [`zk_client::Error::ConnectionLoss`] when the reply was lost and the node
    /// changed meanwhile, so whether this write applied is unknown.
    pub async fn try_set_count(&self, previous: &VersionedCount, value: i32) -> Result<bool> {
        let bytes = value.to_be_bytes();
        loop {
            match self
                .client
                .set_data(&self.path, &bytes, Some(previous.version))
                .await
            {
                Ok(stat) => {
                    self.publish(value, stat.version, stat.mzxid);
                    return Ok(true);
                }
                Err(ClientError::BadVersion) | Err(ClientError::NoNode) => {
                    self.refresh().await?;
                    return Ok(false);
                }
                Err(e) if e.is_retryable() => {
                    // A session's requests apply in order, so a read after the reconnect
                    // sees our write if it applied.
                    wait_connected(&self.client, None).await?;
                    let (_, stat) =
                        retry(&self.client, || self.client.get_data(&self.path)).await?;
                    if stat.version != previous.version || stat.mzxid != previous.mzxid {
                        self.refresh().await?;
                        return Err(e.into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Adds `delta` with compare-and-set retries; returns the new count.
    pub async fn add(&self, delta: i32) -> Result<i32> {
        loop {
            let seen = self.versioned();
            let next = seen.value.wrapping_add(delta);
            if self.try_set_count(&seen, next).await? {
                return Ok(next);
            }
        }
    }

    async fn refresh(&self) -> Result<()> {
        let (data, stat) = retry(&self.client, || self.client.get_data(&self.path)).await?;
        self.publish(decode_i32(&self.path, &data)?, stat.version, stat.mzxid);
        Ok(())
    }

    fn publish(&self, value: i32, version: i32, mzxid: i64) {
        publish(&self.current, value, version, mzxid);
    }
}

fn publish(current: &watch::Sender<VersionedCount>, value: i32, version: i32, mzxid: i64) {
    current.send_if_modified(|seen| {
        if mzxid > seen.mzxid {
            *seen = VersionedCount {
                value,
                version,
                mzxid,
            };
            true
        } else {
            false
        }
    });
}

/// The background task of a [`SharedCount`]: read with a watch, wait for the watch or a
/// reconnect, read again.
async fn follow(client: Client, path: String, current: watch::Sender<VersionedCount>) {
    let mut state = client.state();
    loop {
        let watcher = match client.get_data_and_watch(&path).await {
            Ok((data, stat, watcher)) => {
                match decode_i32(&path, &data) {
                    Ok(value) => publish(&current, value, stat.version, stat.mzxid),
                    Err(e) => tracing::warn!(%path, error = %e, "shared count ignores bad data"),
                }
                Some(watcher)
            }
            Err(ClientError::NoNode) => None,
            Err(e) if e.is_retryable() => {
                if wait_connected(&client, None).await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(%path, error = %e, "shared count stops following");
                return;
            }
        };
        let exists_watch = match watcher {
            Some(w) => w,
            None => match client.exists_and_watch(&path).await {
                Ok((_, w)) => w,
                Err(e) if e.is_retryable() => continue,
                Err(_) => return,
            },
        };
        // Wake on the watch, or on a reconnect (re-read then, CURATOR-311).
        let mut was_connected = state.borrow_and_update().is_connected();
        let fired = exists_watch.changed();
        tokio::pin!(fired);
        loop {
            tokio::select! {
                event = &mut fired => {
                    if event.state.is_terminal() {
                        return;
                    }
                    break;
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = *state.borrow_and_update();
                    if now.is_terminal() && now != SessionState::Expired {
                        return;
                    }
                    if now.is_connected() && !was_connected {
                        break;
                    }
                    was_connected = now.is_connected();
                }
            }
        }
    }
}

fn decode_i32(path: &str, data: &[u8]) -> Result<i32> {
    let bytes: [u8; 4] = data.try_into().map_err(|_| Error::BadData {
        path: path.to_string(),
        reason: "a shared count holds a 4-byte big-endian integer",
    })?;
    Ok(i32::from_be_bytes(bytes))
}

fn decode_i64(path: &str, data: &[u8]) -> Result<i64> {
    if data.is_empty() {
        return Ok(0);
    }
    let bytes: [u8; 8] = data.try_into().map_err(|_| Error::BadData {
        path: path.to_string(),
        reason: "an atomic value holds an 8-byte big-endian integer",
    })?;
    Ok(i64::from_be_bytes(bytes))
}

/// The result of an [`AtomicValue`] update (Curator `AtomicValue`): whether it applied, and
/// the value before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicOutcome {
    /// True if the update applied.
    pub succeeded: bool,
    /// The value the update was based on.
    pub pre_value: i64,
    /// The value after the update (the current value when it did not apply).
    pub post_value: i64,
}

/// A distributed `i64` updated by optimistic compare-and-set (Curator
/// `DistributedAtomicLong`, same 8-byte layout).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::AtomicValue;
///
/// let hits = AtomicValue::new(&client, "/app/hits")?;
/// let outcome = hits.increment().await?;
/// assert!(outcome.succeeded);
/// println!("{} -> {}", outcome.pre_value, outcome.post_value);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AtomicValue {
    client: Client,
    path: String,
    max_attempts: u32,
}

/// What one write attempt found.
enum Attempt {
    Applied,
    Conflict,
}

impl AtomicValue {
    /// An atomic value at `path` (created on the first write; parents as containers).
    pub fn new(client: &Client, path: &str) -> Result<AtomicValue> {
        crate::node_util::check_path(path)?;
        Ok(AtomicValue {
            client: client.clone(),
            path: path.to_string(),
            max_attempts: 1000,
        })
    }

    /// How many optimistic attempts [`AtomicValue::add`] and [`AtomicValue::try_set`] make
    /// under contention before they report `succeeded: false` (default 1000).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The current value (0 if the node does not exist).
    pub async fn get(&self) -> Result<i64> {
        Ok(self.read().await?.0)
    }

    /// Sets `new` if the value is `expected` now (one attempt; a concurrent change makes it
    /// fail with `succeeded: false`).
    pub async fn compare_and_set(&self, expected: i64, new: i64) -> Result<AtomicOutcome> {
        let (value, version) = self.read().await?;
        if value != expected {
            return Ok(AtomicOutcome {
                succeeded: false,
                pre_value: value,
                post_value: value,
            });
        }
        let applied = matches!(self.write(version, new).await?, Attempt::Applied);
        Ok(AtomicOutcome {
            succeeded: applied,
            pre_value: value,
            post_value: if applied { new } else { value },
        })
    }

    /// Sets `new` whatever the value is, by compare-and-set attempts.
    pub async fn try_set(&self, new: i64) -> Result<AtomicOutcome> {
        self.update(|_| new).await
    }

    /// Adds `delta` (wrapping); see [`AtomicValue::with_max_attempts`].
    pub async fn add(&self, delta: i64) -> Result<AtomicOutcome> {
        self.update(|v| v.wrapping_add(delta)).await
    }

    /// Adds 1.
    pub async fn increment(&self) -> Result<AtomicOutcome> {
        self.add(1).await
    }

    /// Subtracts 1.
    pub async fn decrement(&self) -> Result<AtomicOutcome> {
        self.add(-1).await
    }

    /// Creates the node with `value` if it does not exist; `Ok(false)` if it did.
    pub async fn initialize(&self, value: i64) -> Result<bool> {
        let (_, version) = self.read().await?;
        if version.is_some() {
            return Ok(false);
        }
        Ok(matches!(self.write(None, value).await?, Attempt::Applied))
    }

    async fn update(&self, f: impl Fn(i64) -> i64) -> Result<AtomicOutcome> {
        let mut pause = Duration::from_millis(1);
        let mut last = 0;
        for _ in 0..self.max_attempts {
            let (value, version) = self.read().await?;
            last = value;
            let new = f(value);
            if let Attempt::Applied = self.write(version, new).await? {
                return Ok(AtomicOutcome {
                    succeeded: true,
                    pre_value: value,
                    post_value: new,
                });
            }
            // Contention: back off a little, with jitter, so 10+ writers make progress.
            let jitter = rand::random::<u64>() % (pause.as_micros() as u64 + 1);
            tokio::time::sleep(Duration::from_micros(jitter)).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        Ok(AtomicOutcome {
            succeeded: false,
            pre_value: last,
            post_value: last,
        })
    }

    /// The value and the version to compare against (`None`: no node).
    async fn read(&self) -> Result<(i64, Option<i32>)> {
        match retry(&self.client, || self.client.get_data(&self.path)).await {
            Ok((data, stat)) => Ok((decode_i64(&self.path, &data)?, Some(stat.version))),
            Err(ClientError::NoNode) => Ok((0, None)),
            Err(e) => Err(e.into()),
        }
    }

    /// One compare-and-set attempt against `version` (`None`: create the node).
    async fn write(&self, version: Option<i32>, new: i64) -> Result<Attempt> {
        let marker = format!("{}/_op-{}", self.path, uuid4());
        let bytes = new.to_be_bytes();
        let first = match version {
            Some(v) => Op::set_data(&self.path, bytes, Some(v)),
            None => Op::create(
                &self.path,
                bytes,
                &CreateOptions::new(CreateMode::Persistent),
            ),
        };
        let ops = [
            first,
            Op::create(
                &marker,
                Vec::new(),
                &CreateOptions::new(CreateMode::Ephemeral),
            ),
        ];
        let mut parents_made = false;
        loop {
            match self.client.multi(&ops).await {
                Ok(_) => {
                    crate::node_util::delete_in_background(&self.client, marker, None);
                    return Ok(Attempt::Applied);
                }
                Err(ClientError::MultiFailed { index: 0, code }) => {
                    match ClientError::from_code(code) {
                        ClientError::NoNode if version.is_none() && !parents_made => {
                            create_parent_containers(&self.client, &self.path).await?;
                            parents_made = true;
                        }
                        ClientError::BadVersion | ClientError::NoNode | ClientError::NodeExists => {
                            return Ok(Attempt::Conflict)
                        }
                        other => return Err(other.into()),
                    }
                }
                Err(e) if e.is_retryable() => {
                    // Decide by the marker: it exists exactly when the write applied (our
                    // session still lives, so an ephemeral of ours cannot have vanished).
                    let found = retry(&self.client, || self.client.exists(&marker)).await?;
                    tracing::debug!(path = %self.path, applied = found.is_some(), "resolved a lost reply");
                    if found.is_some() {
                        crate::node_util::delete_in_background(&self.client, marker, None);
                        return Ok(Attempt::Applied);
                    }
                    return Ok(Attempt::Conflict);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
