//! [`Retrying`]: a client handle whose operations retry as far as it is safe.

use std::future::Future;

use bytes::Bytes;
use zk_proto::{ClientInfo, Stat};

use super::{Idempotence, RetryPolicy};
use crate::error::Result;
use crate::ops::{AddWatchMode, CreateOptions, Op, OpResult, ReadOp, ReadResult};
use crate::watcher::{OneshotWatcher, PersistentWatcher};
use crate::{Acl, Client};

impl Client {
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
