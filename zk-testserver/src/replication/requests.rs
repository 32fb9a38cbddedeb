//! Requests that only the leader can serve: writes forwarded by learners (REQUEST) and `sync`.
//!
//! A learner forwards a client's write to the leader as an opaque payload (the member layer
//! encodes the request and its identities; the leader's member layer prepares it and calls
//! [`Replica::propose`]). Forwarded requests travel on the learner's FIFO connection, so one
//! session's writes reach the leader in the order the client sent them.
//!
//! `sync(id)`: the leader notes its last proposed zxid `z` and answers once `z` is committed
//! *and* a quorum answered a ping sent after the sync arrived (so no newer leader can have
//! committed anything it lacks: ZooKeeper skips this check, which is why its sync + read is
//! not linearizable, jepsen-io/jepsen#399); the learner reports [`Output::Synced`] once it has
//! applied up to `z`. A read served after that sees every write acknowledged before the sync
//! began. If the member loses its leader first, the sync fails (`ok: false`; the client sees
//! a connection loss).

use bytes::Bytes;

use super::{epoch_of, make_zxid, Message, Output, Replica, Role, ServerId};

/// A sync waiting for the commit point (on the leader) or the apply point (on a learner).
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingSync {
    /// Who asked: this member (`None`) or a learner.
    from: Option<ServerId>,
    id: u64,
    zxid: i64,
    /// The first ping sent after the sync arrived.
    ping: u64,
}

impl Replica {
    /// The zxid [`Replica::propose`] would give the next txn now: `None` unless this member
    /// leads an established epoch. The leader's state machine prepares a txn for this zxid.
    pub fn next_zxid(&self) -> Option<i64> {
        let Role::Leading(l) = &self.role else {
            return None;
        };
        let epoch = l.established_epoch()?;
        let last = self.log.last_zxid();
        Some(if epoch_of(last) == epoch {
            last + 1
        } else {
            make_zxid(epoch, 1)
        })
    }

    /// Forwards a client's write (`payload`, opaque) towards the leader. A leader hands it to
    /// itself as [`Output::Request`]; a synced learner sends it; otherwise returns false (the
    /// member has no leader: the client should get a connection loss).
    pub fn forward(&mut self, session_id: i64, payload: Bytes, now: i64) -> bool {
        self.now = now.max(self.now);
        let id = self.cfg.id;
        match &self.role {
            Role::Leading(l) if l.established_epoch().is_some() => {
                self.out.push(Output::Request {
                    from: id,
                    session_id,
                    payload,
                });
                true
            }
            Role::Following(f) if f.is_active() => {
                let leader = f.leader();
                let epoch = self.current_epoch;
                self.send(
                    leader,
                    Message::Request {
                        epoch,
                        session_id,
                        payload,
                    },
                );
                true
            }
            _ => false,
        }
    }

    /// Starts a `sync`: [`Output::Synced`] with this `id` follows once this member has
    /// applied everything the leader had proposed when it saw the sync. False if the member
    /// has no leader now.
    pub fn sync(&mut self, id: u64, now: i64) -> bool {
        self.now = now.max(self.now);
        match &self.role {
            Role::Leading(l) if l.established_epoch().is_some() => {
                let zxid = self.log.last_zxid();
                let ping = self.next_ping_seq();
                self.leader_syncs.push(PendingSync {
                    from: None,
                    id,
                    zxid,
                    ping,
                });
                self.release_syncs();
                true
            }
            Role::Following(f) if f.is_active() => {
                let leader = f.leader();
                let epoch = self.current_epoch;
                self.learner_syncs.push(id);
                self.send(leader, Message::SyncRequest { epoch, id });
                true
            }
            _ => false,
        }
    }

    /// Leader: a learner's sync.
    pub(super) fn on_sync_request(&mut self, from: ServerId, id: u64) {
        let zxid = self.log.last_zxid();
        let ping = self.next_ping_seq();
        self.leader_syncs.push(PendingSync {
            from: Some(from),
            id,
            zxid,
            ping,
        });
        self.release_syncs();
    }

    /// Learner: the leader's answer; everything up to `zxid` was committed before it (and the
    /// commit travelled ahead of it on the same connection).
    pub(super) fn on_sync_reply(&mut self, id: u64, zxid: i64) {
        let Some(pos) = self.learner_syncs.iter().position(|&s| s == id) else {
            return;
        };
        self.learner_syncs.remove(pos);
        self.commit_to(zxid);
        let ok = self.applied_zxid() >= zxid;
        self.out.push(Output::Synced { id, ok });
    }

    /// Leader: answers the syncs whose zxid is committed and whose leadership check passed.
    pub(super) fn release_syncs(&mut self) {
        if self.leader_syncs.is_empty() {
            return;
        }
        let committed = self.committed;
        let epoch = self.current_epoch;
        let pending = std::mem::take(&mut self.leader_syncs);
        let (done, waiting): (Vec<PendingSync>, Vec<PendingSync>) = pending
            .into_iter()
            .partition(|s| s.zxid <= committed && self.quorum_answered_ping(s.ping));
        self.leader_syncs = waiting;
        for s in done {
            match s.from {
                None => self.out.push(Output::Synced { id: s.id, ok: true }),
                Some(to) => self.send(
                    to,
                    Message::SyncReply {
                        epoch,
                        id: s.id,
                        zxid: s.zxid,
                    },
                ),
            }
        }
    }

    /// The member lost its leader (or its leadership): pending syncs of its own clients fail;
    /// learners' syncs die with their connections.
    pub(super) fn fail_syncs(&mut self) {
        let mine: Vec<u64> = self
            .leader_syncs
            .drain(..)
            .filter(|s| s.from.is_none())
            .map(|s| s.id)
            .chain(self.learner_syncs.drain(..))
            .collect();
        for id in mine {
            self.out.push(Output::Synced { id, ok: false });
        }
    }
}
