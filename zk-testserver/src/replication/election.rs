//! Leader election (FastLeaderElection semantics).
//!
//! A LOOKING member votes for itself, broadcasts its vote and adopts any better vote it hears
//! in its round (votes order by current epoch, then last zxid, then id); it answers a worse
//! vote of its round with its own, so a peer whose first notifications were lost (it was not
//! listening yet) learns the better vote at once instead of at the next resend. A message of a
//! later round makes it join that round. Once a quorum of the round's votes agree with its own,
//! it waits `finalize_wait_ms` for a better vote and then leads or follows, without the wait
//! when no better vote can come: every voter's vote is in and agrees, except voters it cannot
//! reach (its connection to them broke or could not be opened, and they have sent nothing
//! since). A better vote could only be the own vote of a voter it has not heard, so the wait
//! adds nothing then. Safety never depends on the wait (the quorum's best history wins either
//! way, and a leader that meets a later history in discovery steps down); it only saves a
//! round. Members that already lead or follow answer a LOOKING peer with their leader; a quorum
//! of such answers, the leader among them, lets a restarted member join the sitting leader.
//!
//! A follower may decide a moment before its leader does: the FOLLOWERINFO it sends then is
//! kept and handled once this member leads, instead of waiting a tick for the resend.

use std::collections::{BTreeMap, BTreeSet};

use super::follower::Follower;
use super::leader::Leader;
use super::{Message, PeerState, Replica, Role, ServerId, Vote};

#[derive(Debug)]
pub(super) struct Election {
    /// Votes of LOOKING peers in our round.
    votes: BTreeMap<ServerId, Vote>,
    /// Leaders reported by peers that lead or follow.
    settled: BTreeMap<ServerId, (PeerState, Vote)>,
    /// Set while a quorum agrees with our vote.
    finalize_at: Option<i64>,
    resend_at: i64,
    resend_every: i64,
    /// Voters whose connection broke (or could not be opened) and who have sent nothing
    /// since: no vote is coming from them.
    unreachable: BTreeSet<ServerId>,
    /// FOLLOWERINFOs (attempt, accepted epoch) of members that elected us before we decided.
    early_infos: BTreeMap<ServerId, (u64, u32)>,
}

impl Election {
    pub(super) fn idle() -> Election {
        Election {
            votes: BTreeMap::new(),
            settled: BTreeMap::new(),
            finalize_at: None,
            resend_at: i64::MAX,
            resend_every: 0,
            unreachable: BTreeSet::new(),
            early_infos: BTreeMap::new(),
        }
    }

    pub(super) fn next_timeout(&self) -> i64 {
        self.finalize_at.unwrap_or(i64::MAX).min(self.resend_at)
    }
}

impl Replica {
    fn own_vote(&self) -> Vote {
        Vote {
            epoch: self.current_epoch,
            zxid: self.log.last_zxid(),
            leader: self.cfg.id,
        }
    }

    /// Enters LOOKING: a new round, voting for ourselves.
    pub(super) fn become_looking(&mut self) {
        self.stats.elections += 1;
        self.round += 1;
        self.decided = self.own_vote();
        let mut e = Election::idle();
        e.resend_every = self.cfg.election_resend_ms.max(1);
        e.resend_at = self.now + e.resend_every;
        self.set_role(Role::Looking(e));
        tracing::debug!(id = self.cfg.id, round = self.round, "looking for a leader");
        self.broadcast_vote();
        // A single-member ensemble elects itself at once.
        self.check_votes();
    }

    /// Our vote, round and membership, sent in `state`.
    fn notification(&self, state: PeerState) -> Message {
        Message::Notification {
            state,
            vote: self.decided,
            round: self.round,
            config: self.config_text(),
        }
    }

    /// Tells a looking peer our vote (it is behind us, or has not heard our better vote).
    fn send_own_vote(&mut self, to: ServerId) {
        let msg = self.notification(PeerState::Looking);
        self.send(to, msg);
    }

    fn broadcast_vote(&mut self) {
        if self.is_outsider() {
            // Removed by a reconfig: no vote, no leader.
            return;
        }
        // An observer only asks the voters who leads.
        let state = if self.cfg.is_observer() {
            PeerState::Observing
        } else {
            PeerState::Looking
        };
        let msg = self.notification(state);
        // Observers are asked too: one a reconfig made a voter (and maybe the leader) answers
        // a member that has not applied that reconfig yet; the others stay silent.
        let observers: Vec<ServerId> = self.cfg.observers.iter().copied().collect();
        let peers = self.voting_peers().into_iter().chain(observers);
        for p in peers.filter(|&p| p != self.cfg.id).collect::<Vec<_>>() {
            self.send(p, msg.clone());
        }
    }

    pub(super) fn on_notification(
        &mut self,
        from: ServerId,
        state: PeerState,
        vote: Vote,
        round: u64,
    ) {
        let observer = self.cfg.is_observer();
        if self.is_outsider() {
            return;
        }
        let Role::Looking(_) = self.role else {
            // We lead or follow: tell a LOOKING peer (or an observer) who the leader is.
            let asks = matches!(state, PeerState::Looking | PeerState::Observing);
            if asks {
                // A settled observer answers as a follower of its leader: it counts only for a
                // member whose (stale) membership still makes it a voter, which can then join
                // and learn the reconfig that demoted it.
                let state = if observer {
                    PeerState::Following
                } else {
                    self.state()
                };
                let msg = self.notification(state);
                self.send(from, msg);
            }
            return;
        };
        if let Role::Looking(e) = &mut self.role {
            e.unreachable.remove(&from);
        }
        if observer || state == PeerState::Observing {
            // Observers only learn the leader from settled voters; voters ignore them here.
            if observer && matches!(state, PeerState::Following | PeerState::Leading) {
                if let Role::Looking(e) = &mut self.role {
                    e.settled.insert(from, (state, vote));
                }
                self.check_settled(vote.leader);
            }
            return;
        }
        if state != PeerState::Looking {
            if let Role::Looking(e) = &mut self.role {
                e.settled.insert(from, (state, vote));
            }
            self.check_settled(vote.leader);
            return;
        }
        if round < self.round {
            // A peer behind us: show it our round and vote.
            self.send_own_vote(from);
            return;
        }
        let mut changed = false;
        if round > self.round {
            self.round = round;
            if let Role::Looking(e) = &mut self.role {
                e.votes.clear();
                e.finalize_at = None;
            }
            self.decided = self.own_vote().max(vote);
            changed = true;
        } else if vote > self.decided {
            self.decided = vote;
            changed = true;
        } else if vote < self.decided {
            // It has not heard our better vote (maybe it was not listening when we sent it).
            self.send_own_vote(from);
        }
        if let Role::Looking(e) = &mut self.role {
            e.votes.insert(from, vote);
            if changed {
                e.finalize_at = None;
            }
        }
        if changed {
            self.broadcast_vote();
        }
        self.check_votes();
    }

    /// Starts the finalize wait when a quorum of our round agrees with our vote.
    fn check_votes(&mut self) {
        if self.cfg.is_observer() {
            return;
        }
        let decided = self.decided;
        let Role::Looking(e) = &self.role else {
            return;
        };
        let mut agreeing: Vec<ServerId> = e
            .votes
            .iter()
            .filter(|(_, v)| **v == decided)
            .map(|(id, _)| *id)
            .collect();
        agreeing.push(self.cfg.id);
        let quorum = self.is_quorum(&agreeing);
        // No better vote can come: every voter agrees or cannot be heard.
        let settled = self
            .cfg
            .voters
            .iter()
            .all(|v| agreeing.contains(v) || e.unreachable.contains(v));
        let now = self.now;
        let wait = self.cfg.finalize_wait_ms;
        if let Role::Looking(e) = &mut self.role {
            if !quorum {
                e.finalize_at = None;
            } else if e.finalize_at.is_none() {
                e.finalize_at = Some(now + wait);
            }
        }
        if quorum && (wait == 0 || settled) {
            if wait > 0 {
                tracing::debug!(
                    id = self.cfg.id,
                    "every reachable voter agrees: no finalize wait"
                );
            }
            self.finish_election(decided.leader);
        }
    }

    /// The connection to voter `peer` broke or could not be opened while looking: its vote
    /// will not come (until it sends something).
    pub(super) fn election_disconnected(&mut self, peer: ServerId) {
        let Role::Looking(e) = &mut self.role else {
            return;
        };
        if e.unreachable.insert(peer) {
            self.check_votes();
        }
    }

    /// A message other than a notification while looking: a FOLLOWERINFO is kept for the
    /// moment we lead (its sender decided for us a moment before we did).
    pub(super) fn election_step(&mut self, from: ServerId, msg: Message) {
        let Role::Looking(e) = &mut self.role else {
            return;
        };
        if let Message::FollowerInfo {
            attempt,
            accepted_epoch,
        } = msg
        {
            e.early_infos.insert(from, (attempt, accepted_epoch));
        }
    }

    /// Joins a sitting leader that a quorum of settled peers (the leader among them) reports.
    fn check_settled(&mut self, leader: ServerId) {
        let Role::Looking(e) = &self.role else {
            return;
        };
        let leading =
            matches!(e.settled.get(&leader), Some((PeerState::Leading, v)) if v.leader == leader);
        // We back it too: with us it has a quorum (a server joining by reconfig counts the
        // new membership, with itself, while a member of it may be down).
        let backers: Vec<ServerId> = e
            .settled
            .iter()
            .filter(|(_, (_, v))| v.leader == leader)
            .map(|(id, _)| *id)
            .chain([self.cfg.id])
            .collect();
        if leading && leader != self.cfg.id && self.is_quorum(&backers) {
            if let Some((_, vote)) = e.settled.get(&leader) {
                self.decided = *vote;
            }
            self.finish_election(leader);
        }
    }

    fn finish_election(&mut self, leader: ServerId) {
        tracing::info!(
            id = self.cfg.id,
            leader,
            round = self.round,
            "election decided"
        );
        let early = match &mut self.role {
            Role::Looking(e) => std::mem::take(&mut e.early_infos),
            _ => BTreeMap::new(),
        };
        if leader == self.cfg.id {
            let l = Leader::new(self.now, self.current_epoch, self.log.last_zxid());
            self.set_role(Role::Leading(l));
            self.leader_start();
            for (from, (attempt, accepted_epoch)) in early {
                self.leader_step(
                    from,
                    Message::FollowerInfo {
                        attempt,
                        accepted_epoch,
                    },
                );
            }
        } else {
            self.attempts += 1;
            let f = Follower::new(leader, self.attempts, self.now, self.cfg.tick_ms);
            self.set_role(Role::Following(f));
            self.follower_start();
        }
    }

    pub(super) fn election_tick(&mut self) {
        let now = self.now;
        let Role::Looking(e) = &mut self.role else {
            return;
        };
        if let Some(at) = e.finalize_at {
            if now >= at {
                let leader = self.decided.leader;
                self.finish_election(leader);
                return;
            }
        }
        if now >= e.resend_at {
            e.resend_every = (e.resend_every * 2).min(self.cfg.election_resend_ms.max(1) * 8);
            e.resend_at = now + e.resend_every;
            self.broadcast_vote();
        }
    }
}

#[cfg(test)]
#[path = "election_tests.rs"]
mod tests;
