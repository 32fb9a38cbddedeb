//! Peer messages and the small value types of the replication core: zxids, votes, roles.
//!
//! The names follow ZooKeeper's `QuorumPacket` types (PROTOCOL.md §8); the encoding is our own
//! (messages are Rust values; a driver that talks over sockets frames them itself).

use super::Snapshot;
use crate::txn::LoggedTxn;

/// A member's id (`server.N` / `myid`).
pub type ServerId = u64;

/// The zxid of `counter` in `epoch`: `epoch << 32 | counter`.
pub fn make_zxid(epoch: u32, counter: u32) -> i64 {
    ((epoch as i64) << 32) | counter as i64
}

/// The epoch half of a zxid.
pub fn epoch_of(zxid: i64) -> u32 {
    (zxid >> 32) as u32
}

/// The counter half of a zxid.
pub fn counter_of(zxid: i64) -> u32 {
    zxid as u32
}

/// A member's state as seen by its peers (FastLeaderElection's `ServerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Electing a leader.
    Looking,
    /// Following an elected leader.
    Following,
    /// Leading.
    Leading,
    /// Observing: looking for the leader, or following it, without a vote.
    Observing,
}

/// A vote for a leader. Votes are ordered by `(epoch, zxid, leader)`: the candidate with the
/// most recent history wins, ties go to the higher id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vote {
    /// The candidate's current epoch (the last epoch whose leader it synced with).
    pub epoch: u32,
    /// The candidate's last logged zxid.
    pub zxid: i64,
    /// The candidate.
    pub leader: ServerId,
}

/// A message between two members. The transport must deliver the messages of one connection
/// reliably and in order, and tell both ends when a connection breaks
/// ([`super::Replica::disconnected`]); TCP does, and so does the simulated network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Fast leader election: the sender's current vote.
    Notification {
        /// The sender's state.
        state: PeerState,
        /// Its vote (for `Following`/`Leading`: the leader it follows or is).
        vote: Vote,
        /// Its election round (`logicalclock`).
        round: u64,
        /// Its active membership in ZooKeeper's format, if it has one: a LOOKING member that
        /// missed a reconfig adopts a newer one (ZooKeeper's notifications carry it too).
        config: Option<String>,
    },
    /// Discovery, follower to leader: FOLLOWERINFO.
    FollowerInfo {
        /// Distinguishes the follower's attempts to follow (a retry repeats it).
        attempt: u64,
        /// The follower's accepted epoch.
        accepted_epoch: u32,
    },
    /// Discovery, leader to follower: LEADERINFO with the new epoch.
    LeaderInfo {
        /// The follower's attempt this answers.
        attempt: u64,
        /// The proposed epoch.
        epoch: u32,
    },
    /// Discovery, follower to leader: ACKEPOCH.
    AckEpoch {
        /// The epoch acknowledged.
        epoch: u32,
        /// False if the follower had accepted this epoch already (ZooKeeper sends -1): it
        /// may sync, but it does not count towards the quorum that establishes the epoch.
        counts: bool,
        /// The follower's current epoch.
        current_epoch: u32,
        /// The follower's last logged zxid.
        last_zxid: i64,
    },
    /// Synchronization: DIFF, TRUNC or SNAP, with the txns the follower lacks.
    Sync {
        /// The new epoch.
        epoch: u32,
        /// How the follower's log is brought in line.
        mode: SyncMode,
        /// SNAP: the leader's snapshot; the entries follow it.
        snapshot: Option<Snapshot>,
        /// SNAP: the leader's active membership (a reconfig inside the snapshot is not
        /// replayed, so the follower takes the membership from here).
        config: Option<String>,
        /// The txns to append after the truncation or replacement, in zxid order.
        entries: Vec<LoggedTxn>,
    },
    /// Synchronization: NEWLEADER. The follower makes everything synced durable, sets its
    /// current epoch durably, and only then acknowledges.
    NewLeader {
        /// The new epoch.
        epoch: u32,
        /// The leader's last zxid when it sent this (what the follower now holds).
        last_zxid: i64,
        /// The version of the leader's membership (0 if it has none with addresses).
        config_version: i64,
    },
    /// Synchronization: the follower's durable acknowledgement of NEWLEADER.
    AckNewLeader {
        /// The epoch.
        epoch: u32,
    },
    /// Synchronization: UPTODATE, the follower may serve; everything up to `committed` is
    /// committed.
    UpToDate {
        /// The epoch.
        epoch: u32,
        /// The leader's commit point.
        committed: i64,
    },
    /// Broadcast: PROPOSAL.
    Proposal {
        /// The epoch.
        epoch: u32,
        /// The txn.
        entry: LoggedTxn,
    },
    /// Broadcast: the follower logged (durably) everything up to `zxid`.
    Ack {
        /// The epoch.
        epoch: u32,
        /// The highest zxid durably logged.
        zxid: i64,
    },
    /// Broadcast: COMMIT of everything up to `zxid`.
    Commit {
        /// The epoch.
        epoch: u32,
        /// The commit point.
        zxid: i64,
    },
    /// A learner forwards a client's write (REQUEST).
    Request {
        /// The epoch.
        epoch: u32,
        /// The client's session.
        session_id: i64,
        /// The encoded request.
        payload: bytes::Bytes,
    },
    /// A learner's `sync` (SYNC).
    SyncRequest {
        /// The epoch.
        epoch: u32,
        /// The learner's id for it.
        id: u64,
    },
    /// The leader's answer: everything up to `zxid` is committed (and its COMMIT went first).
    SyncReply {
        /// The epoch.
        epoch: u32,
        /// The learner's id for the sync.
        id: u64,
        /// The leader's last proposed zxid when it saw the sync.
        zxid: i64,
    },
    /// Leader liveness: PING.
    Ping {
        /// The epoch.
        epoch: u32,
        /// Numbers the leader's pings.
        seq: u64,
    },
    /// The follower's answer to a ping, with the sessions its clients touched since.
    PingReply {
        /// The epoch.
        epoch: u32,
        /// The ping answered.
        seq: u64,
        /// Session ids.
        touches: Vec<i64>,
    },
}

/// How a follower's log is brought in line with the leader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The follower's log is a prefix of the leader's: append the entries.
    Diff,
    /// Drop every entry above `to` (which the follower must hold), then append.
    Trunc {
        /// The last zxid kept (0: none).
        to: i64,
    },
    /// Start over from the message's snapshot followed by the entries (a state transfer).
    Snap,
}

impl Message {
    /// The message's epoch, for the ones that belong to one leader's reign.
    pub fn epoch(&self) -> Option<u32> {
        match self {
            Message::Notification { .. }
            | Message::FollowerInfo { .. }
            | Message::LeaderInfo { .. } => None,
            Message::AckEpoch { epoch, .. }
            | Message::Sync { epoch, .. }
            | Message::NewLeader { epoch, .. }
            | Message::AckNewLeader { epoch }
            | Message::UpToDate { epoch, .. }
            | Message::Proposal { epoch, .. }
            | Message::Ack { epoch, .. }
            | Message::Commit { epoch, .. }
            | Message::Request { epoch, .. }
            | Message::SyncRequest { epoch, .. }
            | Message::SyncReply { epoch, .. }
            | Message::Ping { epoch, .. }
            | Message::PingReply { epoch, .. } => Some(*epoch),
        }
    }
}
