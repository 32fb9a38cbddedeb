//! Snapshots of a replicated [`ServerCore`]: what an ensemble member's state machine hands its
//! replication core every `snapCount` txns, and restores from a leader's snapshot (a SNAP
//! sync) or its own newest one (a restart).
//!
//! The state is the data tree and the sessions of the committed history with their timeouts
//! (ephemerals are in the tree, by owner), in [`crate::storage`]'s snapshot format, the one
//! the standalone server writes. Connections, watches, queued requests and read-only
//! (local) sessions are not part of it: a restore closes every connection first, as
//! ZooKeeper's follower shuts its client-serving server down to sync.

use bytes::Bytes;

use super::ServerCore;
use crate::storage::{decode_snapshot_file, encode_snapshot_file};

impl ServerCore {
    /// The applied state (tree and sessions of the committed history) in the snapshot format,
    /// at [`ServerCore::last_zxid`].
    pub fn snapshot_bytes(&self) -> Bytes {
        let sessions: Vec<(i64, i32)> = self
            .sessions
            .iter()
            .filter(|(id, _)| !self.local_sessions.contains_key(id))
            .map(|(id, s)| (id, s.timeout_ms))
            .collect();
        encode_snapshot_file(self.zxid, &self.tree, &sessions)
    }

    /// Replaces the applied state by a snapshot's (bytes of [`ServerCore::snapshot_bytes`]):
    /// every connection is closed, queued requests dropped, sessions' deadlines start from
    /// `now`. On a damaged snapshot nothing changes and the error is returned.
    pub fn restore_snapshot(&mut self, data: &[u8], now: i64) -> std::io::Result<i64> {
        let (tree, sessions, zxid) = decode_snapshot_file(data)?;
        self.leader_lost();
        let old: Vec<i64> = self.sessions.iter().map(|(id, _)| id).collect();
        for id in old {
            self.sessions.remove(id);
        }
        for (id, timeout) in sessions {
            self.sessions.add(id, timeout, now);
        }
        self.tree = tree;
        self.zxid = zxid;
        tracing::debug!(
            zxid = format_args!("{zxid:#x}"),
            nodes = self.tree.node_count(),
            sessions = self.sessions.len(),
            "state restored from a snapshot"
        );
        Ok(zxid)
    }
}
