//! Per-handle settings: the retry policy and the request timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::RetryPolicy;
use crate::Client;
#[cfg(doc)]
use crate::Error;

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
}
