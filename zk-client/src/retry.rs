//! Retries: a backoff policy, and retrying only what is safe to repeat.
//!
//! # Retries
//!
//! A ZooKeeper request can fail in two ways that say nothing about the data: the server
//! answered with an error that proves the request did not apply, or the client lost the
//! reply (the connection dropped with the request in flight: [`Error::ConnectionLoss`]; it
//! waited past its timeout: [`Error::Timeout`]), and then the request **may or may not have
//! applied**. Repeating a read is always safe. Repeating a write whose outcome is unknown is
//! safe only when a second application cannot happen or cannot change anything.
//!
//! [`Client::retrying`] (the client's policy) and [`Client::with_retry`] (a policy for these
//! calls) return a [`Retrying`] handle that retries each operation as far as it is safe, and
//! no further; [`Client::retry`] and [`RetryPolicy::retry`] do the same for any closure,
//! given its [`Idempotence`]. An attempt is repeated only for [`Error::is_retryable`] errors
//! (connection loss, timeouts, throttling, a moved session), never for terminal ones
//! (expired, closed, auth failed) or for the server's answers (NoNode, BadVersion, ...).
//!
//! | operation | after an error proving it did not apply | after an unknown outcome |
//! |---|---|---|
//! | reads (`get_data`, `exists`, `get_children*`, `get_acl`, `multi_read`, `sync`, `get_ephemerals`, `get_all_children_number`, `who_am_i`, `get_config`, the `*_and_watch` variants, `add_watch`) | retried | retried |
//! | `create_protected` | retried | looks the node up by its uuid; creates again only if it is not there |
//! | `set_data`, `set_acl` and `delete` with a version | retried | retried; a retry failing with BadVersion (or NoNode) is reported as the unknown outcome, since it cannot tell our own first write from someone else's |
//! | `multi` with a versioned `set_data` or `delete` | retried | as above (MultiFailed with BadVersion, NoNode or NodeExists) |
//! | `create` (any mode), `set_data`/`set_acl`/`delete` without a version, other `multi`s | retried | **not retried**: the error is returned |
//!
//! Errors that prove a write did not apply are those that are both
//! [`Error::is_retryable`] and [`Error::has_no_data_change`]: [`Error::Throttled`] and
//! [`Error::SessionMoved`] (the server rejected the request before applying it), and the
//! server-side [`Error::OperationTimeout`], [`Error::RequestTimeout`] and
//! [`Error::ReconfigInProgress`].
//!
//! Why a retried conditional write is exactly-once: `set_data(path, data, Some(v))` that
//! applied moved the node to version `v + 1`, so its repetition fails with BadVersion
//! instead of writing again; a versioned delete that applied makes its repetition fail with
//! NoNode. A repetition that succeeds therefore proves the first attempt had not applied.
//! (The one gap: the node is deleted, re-created and brought back to version `v` between the
//! two attempts.) A failed repetition is ambiguous: the first attempt may have applied, or
//! another client may have changed the node. Reporting BadVersion then would make a
//! compare-and-set loop apply its change twice, so the unknown outcome
//! ([`Error::ConnectionLoss`]/[`Error::Timeout`]) is returned instead: re-read and decide.
//!
//! An unversioned `set_data`, `delete` or plain `create` whose reply was lost is never
//! repeated: a repeated delete could remove a node someone re-created meanwhile, a repeated
//! create could re-create a node someone deleted, and a repeated sequential create makes a
//! second node. Use versions, [`Client::create_protected`], or a `multi` with a version
//! check to make such writes retryable.
//!
//! # Timeouts
//!
//! [`Client::with_request_timeout`] returns a handle whose requests fail with
//! [`Error::Timeout`] after the given time (the outcome of a write is then unknown, as for
//! any timeout). The builder's [`request_timeout`](crate::ClientBuilder::request_timeout)
//! stays the upper bound: a longer per-handle timeout is cut to it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};
use zk_proto::{ClientInfo, ErrorCode, Stat};

use crate::error::{Error, Result};
use crate::ops::{AddWatchMode, CreateOptions, Op, OpResult, ReadOp, ReadResult};
use crate::watcher::{OneshotWatcher, PersistentWatcher};
use crate::{Acl, Client};

/// A bounded exponential backoff with jitter: how often and how long to retry.
///
/// The delay before retry `n` (1-based) is `initial_delay × 2^(n-1)`, capped at `max_delay`;
/// with jitter it is drawn uniformly from the upper half of that (`[d/2, d]`), so clients
/// that failed together do not retry together. Retrying stops after `max_attempts` attempts
/// in all (the first included), or when the next delay would end past `max_elapsed` since
/// the first attempt (an attempt in progress is not cut short).
///
/// The default: 100 ms doubling up to 2 s, with jitter, 5 attempts, within 30 s.
///
/// ```
/// use std::time::Duration;
/// use zk_client::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_attempts(20)
///     .max_elapsed(Duration::from_secs(120));
/// let never = RetryPolicy::never();
/// # let _ = (patient, never);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_attempts: 5,
            max_elapsed: Some(Duration::from_secs(30)),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff from `initial_delay` up to `max_delay`, with the default limits
    /// (5 attempts, 30 s) and jitter.
    pub fn exponential(initial_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            initial_delay,
            max_delay: max_delay.max(initial_delay),
            ..RetryPolicy::default()
        }
    }

    /// One attempt, no retry.
    pub fn never() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// At most `attempts` attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// No retry whose delay would end later than `elapsed` after the first attempt began
    /// (`None`: no time limit).
    pub fn max_elapsed(mut self, elapsed: impl Into<Option<Duration>>) -> Self {
        self.max_elapsed = elapsed.into();
        self
    }

    /// Whether delays are jittered (default true).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The attempt limit.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before retry `retry` (1 for the first retry), before jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }

    fn jittered(&self, retry: u32) -> Duration {
        let full = self.delay(retry);
        if !self.jitter || full.is_zero() {
            return full;
        }
        let half = full / 2;
        let span = u64::try_from((full - half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(rand::random::<u64>() % span.saturating_add(1))
    }

    /// Starts counting attempts (the first one is under way).
    pub(crate) fn start(&self) -> Backoff {
        Backoff {
            policy: self.clone(),
            attempts: 1,
            started: Instant::now(),
        }
    }

    /// Runs `op` (one call per attempt) and retries it as this policy and `kind` allow; see
    /// the [module docs](crate::retry) for what is retried.
    ///
    /// ```no_run
    /// # async fn demo(client: zk_client::Client) -> zk_client::Result<()> {
    /// use zk_client::{Idempotence, RetryPolicy};
    /// let policy = RetryPolicy::default().max_attempts(10);
    /// let (data, stat) = policy.retry(Idempotence::Idempotent, || client.get_data("/config")).await?;
    /// // Compare-and-set: safe to retry, and never applied twice.
    /// policy
    ///     .retry(Idempotence::Conditional, || client.set_data("/config", b"v2", Some(stat.version)))
    ///     .await?;
    /// # let _ = data; Ok(()) }
    /// ```
    pub fn retry<T, F, Fut>(
        &self,
        kind: Idempotence,
        mut op: F,
    ) -> impl Future<Output = Result<T>> + Send
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        // The first attempt is made now, so it keeps its place in the session's order.
        let first = op();
        let policy = self.clone();
        async move {
            let mut backoff = policy.start();
            let mut unknown: Option<Error> = None;
            let mut result = first.await;
            loop {
                let error = match result {
                    Ok(value) => return Ok(value),
                    Err(e) => e,
                };
                if let Some(earlier) = unknown.take() {
                    if kind == Idempotence::Conditional && is_condition_failure(&error) {
                        tracing::debug!(%error, "a retried conditional write failed its condition; its first attempt's outcome is unknown");
                        return Err(earlier);
                    }
                    unknown = Some(earlier);
                }
                if !may_retry(kind, &error) {
                    return Err(error);
                }
                if !error.has_no_data_change() && unknown.is_none() {
                    unknown = Some(error.clone());
                }
                if !backoff.wait().await {
                    return Err(error);
                }
                tracing::debug!(%error, attempt = backoff.attempts, "retrying");
                result = op().await;
            }
        }
    }
}

/// Whether an attempt that failed with `error` may be repeated.
fn may_retry(kind: Idempotence, error: &Error) -> bool {
    error.is_retryable() && (kind != Idempotence::NotIdempotent || error.has_no_data_change())
}

/// The failures of a conditional write whose condition did not hold.
fn is_condition_failure(error: &Error) -> bool {
    matches!(
        error,
        Error::BadVersion
            | Error::NoNode
            | Error::NodeExists
            | Error::MultiFailed {
                code: ErrorCode::BadVersion | ErrorCode::NoNode | ErrorCode::NodeExists,
                ..
            }
    )
}

/// How safe an operation is to repeat; decides what [`RetryPolicy::retry`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Idempotence {
    /// Repeating it changes nothing: reads, and writes built to be repeatable. Retried
    /// after every retryable error.
    Idempotent,
    /// A write that fails when repeated after it applied: `set_data`/`delete`/`set_acl`
    /// with a version, a `multi` with a versioned write. Retried after every retryable
    /// error; when a retry that follows an unknown outcome fails with BadVersion, NoNode or
    /// NodeExists (or a multi failing with one), that unknown outcome is returned instead.
    Conditional,
    /// A write that must not run twice. Retried only after an error that proves it did not
    /// apply; an unknown outcome is returned as is.
    NotIdempotent,
}

/// The attempts of one retried operation.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
    started: Instant,
}

impl Backoff {
    /// True until the first retry.
    pub(crate) fn is_first(&self) -> bool {
        self.attempts == 1
    }

    /// Sleeps before the next attempt and counts it; false (at once) if the policy allows
    /// no more attempts.
    pub(crate) async fn wait(&mut self) -> bool {
        if self.attempts >= self.policy.max_attempts {
            return false;
        }
        let delay = self.policy.jittered(self.attempts);
        if let Some(limit) = self.policy.max_elapsed {
            if self.started.elapsed() + delay > limit {
                return false;
            }
        }
        tokio::time::sleep(delay).await;
        self.attempts += 1;
        true
    }
}

/// A deadline for one request of a handle made by [`Client::with_request_timeout`]; its
/// timer starts on the first poll (a `Sleep` needs a runtime, the call may not have one).
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            sleep: None,
        }
    }

    /// Ready once the deadline has passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        self.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)))
            .as_mut()
            .poll(cx)
    }
}

/// Settings that belong to one [`Client`] handle (copied into its clones).
#[derive(Debug, Clone, Default)]
pub(crate) struct HandleOptions {
    /// The retry policy of [`Client::retry`], [`Client::retrying`], [`Client::create_protected`].
    pub(crate) retry: Arc<RetryPolicy>,
    /// This handle's request timeout.
    pub(crate) request_timeout: Option<Duration>,
}

impl HandleOptions {
    /// The deadline of a request sent now.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.request_timeout.map(Deadline::after)
    }
}

impl Client {
    /// This handle's retry policy (the builder's
    /// [`retry_policy`](crate::ClientBuilder::retry_policy) unless changed).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.handle.retry
    }

    /// Sets this handle's retry policy (its clones made afterwards inherit it).
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.handle.retry = Arc::new(policy);
    }

    /// A handle to the same session whose requests fail with [`Error::Timeout`] once they
    /// waited `timeout` for their reply (queued while disconnected included). Cheap: it
    /// shares everything with this one. The builder's
    /// [`request_timeout`](crate::ClientBuilder::request_timeout) still applies, so a longer
    /// `timeout` is cut to it. As with any timeout, a write's outcome is then unknown.
    ///
    /// ```no_run
    /// # async fn demo(client: zk_client::Client) -> zk_client::Result<()> {
    /// use std::time::Duration;
    /// let impatient = client.with_request_timeout(Duration::from_millis(200));
    /// match impatient.get_data("/config").await {
    ///     Err(zk_client::Error::Timeout) => { /* use a cached value */ }
    ///     other => { other?; }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn with_request_timeout(&self, timeout: Duration) -> Client {
        let mut client = self.clone();
        client.handle.request_timeout = Some(timeout);
        client
    }

    /// The timeout set by [`Client::with_request_timeout`], if any.
    pub fn handle_request_timeout(&self) -> Option<Duration> {
        self.handle.request_timeout
    }

    /// Runs `op` with this client's [`RetryPolicy`]; see [`RetryPolicy::retry`].
    pub fn retry<T, F, Fut>(
        &self,
        kind: Idempotence,
        op: F,
    ) -> impl Future<Output = Result<T>> + Send
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
        T: Send,
    {
        self.retry_policy().retry(kind, op)
    }

    /// A handle whose operations retry as far as safe, with this client's policy
    /// ([`ClientBuilder::retry_policy`](crate::ClientBuilder::retry_policy)).
    pub fn retrying(&self) -> Retrying {
        self.with_retry(self.retry_policy().clone())
    }

    /// A handle whose operations retry as far as safe, with `policy`.
    pub fn with_retry(&self, policy: RetryPolicy) -> Retrying {
        Retrying {
            client: self.clone(),
            policy,
        }
    }
}

/// A [`Client`] whose operations retry as far as it is safe (see the [module docs](crate::retry)
/// for what each one retries); made by [`Client::retrying`] or [`Client::with_retry`].
///
/// Like the client's, each method sends its first attempt when called.
///
/// ```no_run
/// # async fn demo(client: zk_client::Client) -> zk_client::Result<()> {
/// let (data, stat) = client.retrying().get_data("/config").await?;
/// client.retrying().set_data("/config", b"v2", Some(stat.version)).await?;
/// # let _ = data; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Retrying {
    client: Client,
    policy: RetryPolicy,
}

/// Retries a client method: `$kind` and a call on `c` (the cloned client) with owned args.
macro_rules! retried {
    ($self:ident, $kind:expr, |$c:ident| $call:expr) => {{
        let $c = $self.client.clone();
        $self.policy.retry($kind, move || $call)
    }};
}

impl Retrying {
    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// [`Client::get_data`], retried.
    pub fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.get_data(&path))
    }

    /// [`Client::get_data_and_watch`], retried.
    pub fn get_data_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat, OneshotWatcher)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c
            .get_data_and_watch(&path))
    }

    /// [`Client::exists`], retried.
    pub fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.exists(&path))
    }

    /// [`Client::exists_and_watch`], retried.
    pub fn exists_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, OneshotWatcher)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.exists_and_watch(&path))
    }

    /// [`Client::get_children`], retried.
    pub fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.get_children(&path))
    }

    /// [`Client::get_children2`], retried.
    pub fn get_children2(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.get_children2(&path))
    }

    /// [`Client::get_children_and_watch`], retried.
    pub fn get_children_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat, OneshotWatcher)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c
            .get_children_and_watch(&path))
    }

    /// [`Client::add_watch`], retried.
    pub fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<PersistentWatcher>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.add_watch(&path, mode))
    }

    /// [`Client::get_acl`], retried.
    pub fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat)>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.get_acl(&path))
    }

    /// [`Client::sync`], retried.
    pub fn sync(&self, path: &str) -> impl Future<Output = Result<String>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.sync(&path))
    }

    /// [`Client::multi_read`], retried.
    pub fn multi_read(
        &self,
        ops: &[ReadOp],
    ) -> impl Future<Output = Result<Vec<Result<ReadResult>>>> + Send + 'static {
        let ops = ops.to_vec();
        retried!(self, Idempotence::Idempotent, |c| c.multi_read(&ops))
    }

    /// [`Client::get_ephemerals`], retried.
    pub fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let prefix = prefix.to_string();
        retried!(self, Idempotence::Idempotent, |c| c.get_ephemerals(&prefix))
    }

    /// [`Client::get_all_children_number`], retried.
    pub fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<i32>> + Send + 'static {
        let path = path.to_string();
        retried!(self, Idempotence::Idempotent, |c| c
            .get_all_children_number(&path))
    }

    /// [`Client::who_am_i`], retried.
    pub fn who_am_i(&self) -> impl Future<Output = Result<Vec<ClientInfo>>> + Send + 'static {
        retried!(self, Idempotence::Idempotent, |c| c.who_am_i())
    }

    /// [`Client::get_config`], retried.
    pub fn get_config(&self) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + 'static {
        retried!(self, Idempotence::Idempotent, |c| c.get_config())
    }

    /// [`Client::create`], retried only after errors proving it did not apply: a create whose
    /// outcome is unknown returns that error. Use [`Retrying::create_protected`] for a
    /// create that recovers.
    pub fn create(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + 'static {
        let (path, data, options) = (path.to_string(), data.to_vec(), options.clone());
        retried!(self, Idempotence::NotIdempotent, |c| c
            .create(&path, &data, &options))
    }

    /// [`Client::create_protected`], with this handle's policy.
    pub fn create_protected(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + 'static {
        let mut client = self.client.clone();
        client.set_retry_policy(self.policy.clone());
        client.create_protected(path, data, options)
    }

    /// [`Client::set_data`]: retried as a conditional write with a version, else only after
    /// errors proving it did not apply.
    pub fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + 'static {
        let (path, data) = (path.to_string(), data.to_vec());
        retried!(self, versioned(version), |c| c
            .set_data(&path, &data, version))
    }

    /// [`Client::delete`]: retried as a conditional write with a version, else only after
    /// errors proving it did not apply.
    pub fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let path = path.to_string();
        retried!(self, versioned(version), |c| c.delete(&path, version))
    }

    /// [`Client::set_acl`]: retried as a conditional write with a version, else only after
    /// errors proving it did not apply.
    pub fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + 'static {
        let (path, acl) = (path.to_string(), acl.to_vec());
        retried!(self, versioned(version), |c| c
            .set_acl(&path, &acl, version))
    }

    /// [`Client::multi`]: retried as a conditional write when an op is a versioned
    /// `set_data` or `delete` (its repetition cannot apply again), else only after errors
    /// proving it did not apply.
    pub fn multi(
        &self,
        ops: &[Op],
    ) -> impl Future<Output = Result<Vec<OpResult>>> + Send + 'static {
        let fenced = ops.iter().any(|op| {
            matches!(
                op,
                Op::SetData {
                    version: Some(_),
                    ..
                } | Op::Delete {
                    version: Some(_),
                    ..
                }
            )
        });
        let kind = if fenced {
            Idempotence::Conditional
        } else {
            Idempotence::NotIdempotent
        };
        let ops = ops.to_vec();
        retried!(self, kind, |c| c.multi(&ops))
    }
}

fn versioned(version: Option<i32>) -> Idempotence {
    match version {
        Some(_) => Idempotence::Conditional,
        None => Idempotence::NotIdempotent,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (1..=6).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(1));
        for n in 1..10 {
            let d = p.jittered(n);
            assert!(d >= p.delay(n) / 2 && d <= p.delay(n), "{d:?}");
        }
        assert_eq!(p.clone().jitter(false).jittered(3), p.delay(3));
        assert_eq!(RetryPolicy::never().attempts(), 1);
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    }

    /// Runs `policy.retry(kind, ..)` over scripted outcomes; returns the result and the
    /// number of attempts made.
    async fn scripted(
        policy: RetryPolicy,
        kind: Idempotence,
        outcomes: Vec<Result<u32>>,
    ) -> (Result<u32>, u32) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let outcomes = Arc::new(outcomes);
        let result = policy
            .retry(kind, move || {
                let i = counter.fetch_add(1, Ordering::SeqCst) as usize;
                let outcome = outcomes[i.min(outcomes.len() - 1)].clone();
                async move { outcome }
            })
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    fn fast() -> RetryPolicy {
        RetryPolicy::exponential(Duration::from_millis(1), Duration::from_millis(4))
    }

    #[tokio::test(start_paused = true)]
    async fn what_each_kind_retries() {
        use Idempotence::*;
        let lost = || Err(Error::ConnectionLoss);
        // Reads: retried through unknown outcomes until success.
        let r = scripted(fast(), Idempotent, vec![lost(), Err(Error::Timeout), Ok(7)]).await;
        assert_eq!(r, (Ok(7), 3));
        // ...but never after a server answer or a terminal error.
        assert_eq!(
            scripted(fast(), Idempotent, vec![Err(Error::NoNode)]).await,
            (Err(Error::NoNode), 1)
        );
        assert_eq!(
            scripted(fast(), Idempotent, vec![Err(Error::SessionExpired), Ok(1)]).await,
            (Err(Error::SessionExpired), 1)
        );
        // The attempt limit holds, and the last error is returned.
        let r = scripted(fast().max_attempts(3), Idempotent, vec![lost()]).await;
        assert_eq!(r, (Err(Error::ConnectionLoss), 3));
        // Non-idempotent writes: an unknown outcome is returned at once...
        assert_eq!(
            scripted(fast(), NotIdempotent, vec![lost(), Ok(1)]).await,
            (Err(Error::ConnectionLoss), 1)
        );
        assert_eq!(
            scripted(fast(), NotIdempotent, vec![Err(Error::Timeout), Ok(1)]).await,
            (Err(Error::Timeout), 1)
        );
        // ...a proven rejection is retried.
        let r = scripted(
            fast(),
            NotIdempotent,
            vec![Err(Error::Throttled), Err(Error::SessionMoved), Ok(2)],
        )
        .await;
        assert_eq!(r, (Ok(2), 3));
        // Conditional writes: retried; a success after an unknown outcome stands...
        assert_eq!(
            scripted(fast(), Conditional, vec![lost(), Ok(3)]).await,
            (Ok(3), 2)
        );
        // ...a failed condition after an unknown outcome reports the unknown outcome...
        assert_eq!(
            scripted(fast(), Conditional, vec![lost(), Err(Error::BadVersion)]).await,
            (Err(Error::ConnectionLoss), 2)
        );
        let multi = Error::MultiFailed {
            index: 0,
            code: ErrorCode::NoNode,
        };
        assert_eq!(
            scripted(
                fast(),
                Conditional,
                vec![
                    Err(Error::Timeout),
                    Err(Error::Throttled),
                    Err(multi.clone())
                ]
            )
            .await,
            (Err(Error::Timeout), 3)
        );
        // ...but stands when no unknown outcome came before it.
        assert_eq!(
            scripted(
                fast(),
                Conditional,
                vec![Err(Error::Throttled), Err(Error::BadVersion)]
            )
            .await,
            (Err(Error::BadVersion), 2)
        );
        assert_eq!(
            scripted(fast(), Conditional, vec![Err(multi.clone())]).await,
            (Err(multi), 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_limit_holds() {
        let policy = RetryPolicy::exponential(Duration::from_secs(1), Duration::from_secs(1))
            .jitter(false)
            .max_attempts(100)
            .max_elapsed(Duration::from_millis(3500));
        let started = Instant::now();
        let r = scripted(
            policy,
            Idempotence::Idempotent,
            vec![Err(Error::ConnectionLoss)],
        )
        .await;
        // Attempts at 0, 1, 2 and 3 s; a fifth would start at 4 s, past the limit.
        assert_eq!(r, (Err(Error::ConnectionLoss), 4));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
