//! Fencing tokens and fenced writes.
//!
//! A lock or a leadership is only as good as the holder's knowledge that it still holds it.
//! A holder paused (GC, swap, a stopped VM) past its session timeout keeps believing it holds
//! the lock while another process already took it (Curator TN10, CURATOR-206). Two defences,
//! both offered by every guard and leadership of this crate:
//!
//! - A **token** ([`FencingToken`]): the owned node's path and creation zxid. Czxids only grow,
//!   so a resource that remembers the highest token it has seen can refuse an older holder.
//! - **Fenced writes**: [`FencingToken::fenced_multi`] runs
//!   `multi([check(owned node exists), ...ops])`. The owned node is an ephemeral of the
//!   holder's session with a name no one else ever uses, so once the holder lost it (session
//!   expired, node deleted) the check fails on the server and none of the writes apply: a
//!   paused former holder cannot overwrite the new holder's work. The failure is
//!   [`Error::Fenced`].

use zk_client::{Client, Op, OpResult, SessionId};

use crate::error::{Error, Result};

/// Proof of a lock or a leadership: the owned node and its creation zxid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FencingToken {
    path: String,
    czxid: i64,
    session: SessionId,
}

impl FencingToken {
    /// A token for the node at `path` created at `czxid` and owned by `session` (recipes make
    /// them; this is for code that stores and restores tokens).
    pub fn new(path: String, czxid: i64, session: SessionId) -> FencingToken {
        FencingToken {
            path,
            czxid,
            session,
        }
    }

    /// The owned node (relative to the client's chroot).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The owned node's creation zxid: larger for every later holder of the same lock or
    /// election, so usable as a monotonic fencing number.
    pub fn czxid(&self) -> i64 {
        self.czxid
    }

    /// The session that owns the node.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Runs `multi([check(self.path()), ops...])` on `client`: the writes apply only if the
    /// owned node still exists, atomically. Returns the results of `ops` (without the check's).
    ///
    /// Errors: [`Error::Fenced`] when the owned node is gone (the lock or leadership was lost);
    /// a failing op of `ops` gives `Error::Client(MultiFailed { index, .. })` with `index`
    /// counted in `ops`.
    pub async fn fenced_multi(&self, client: &Client, ops: &[Op]) -> Result<Vec<OpResult>> {
        let mut all = Vec::with_capacity(ops.len() + 1);
        all.push(Op::check(self.path.clone(), None));
        all.extend_from_slice(ops);
        match client.multi(&all).await {
            Ok(mut results) => {
                results.remove(0);
                Ok(results)
            }
            Err(zk_client::Error::MultiFailed { index: 0, code }) => {
                tracing::debug!(path = %self.path, error = %zk_client::Error::from_code(code), "fenced write refused");
                Err(Error::Fenced {
                    path: self.path.clone(),
                })
            }
            Err(zk_client::Error::MultiFailed { index, code }) => {
                Err(Error::Client(zk_client::Error::MultiFailed {
                    index: index - 1,
                    code,
                }))
            }
            Err(e) => Err(e.into()),
        }
    }
}
