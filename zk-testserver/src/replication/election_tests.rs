//! Scripted tests of the election's shortcuts: no finalize wait once no better vote can come,
//! worse votes answered at once, and early FOLLOWERINFOs kept. Time never advances unless a
//! test says so, so a decision that needed the finalize wait shows as no decision.

use std::collections::{BTreeSet, VecDeque};

use super::super::*;

/// A long finalize wait: a test that sees a decision at time 0 saw the shortcut.
const WAIT: i64 = 1_000;

/// Members on an instant network; disks durable at once; `dead` members hear nothing.
struct Net {
    replicas: Vec<Replica>,
    inbox: VecDeque<(ServerId, ServerId, Message)>,
    /// Every message sent, delivered or not.
    sent: Vec<(ServerId, ServerId, Message)>,
    dead: BTreeSet<ServerId>,
    now: i64,
}

impl Net {
    fn new(n: u64) -> Net {
        let replicas = (1..=n).map(|id| replica(id, n)).collect();
        let mut net = Net {
            replicas,
            inbox: VecDeque::new(),
            sent: Vec::new(),
            dead: BTreeSet::new(),
            now: 0,
        };
        for i in 0..n as usize {
            net.collect(i);
        }
        net
    }

    fn collect(&mut self, i: usize) {
        loop {
            let outputs = self.replicas[i].take_outputs();
            if outputs.is_empty() {
                return;
            }
            let from = self.replicas[i].id();
            for out in outputs {
                match out {
                    Output::Send { to, msg } => {
                        self.sent.push((from, to, msg.clone()));
                        self.inbox.push_back((from, to, msg));
                    }
                    Output::Persist { seq, .. } => self.replicas[i].persisted(seq, self.now),
                    _ => {}
                }
            }
        }
    }

    /// Delivers messages until none is left; no timer fires.
    fn deliver_all(&mut self) {
        while let Some((from, to, msg)) = self.inbox.pop_front() {
            if self.dead.contains(&to) || self.dead.contains(&from) {
                continue;
            }
            let i = (to - 1) as usize;
            self.replicas[i].step(from, msg, self.now);
            self.collect(i);
        }
    }

    fn leader(&self) -> Option<ServerId> {
        self.replicas
            .iter()
            .find(|r| r.established_epoch().is_some() && !self.dead.contains(&r.id()))
            .map(Replica::id)
    }

    fn tick_all(&mut self, now: i64) {
        self.now = now;
        for i in 0..self.replicas.len() {
            if !self.dead.contains(&self.replicas[i].id()) {
                self.replicas[i].tick(now);
                self.collect(i);
            }
        }
    }
}

fn replica(id: ServerId, n: u64) -> Replica {
    let mut cfg = ReplicaConfig::fast(id, 1..=n);
    cfg.finalize_wait_ms = WAIT;
    Replica::new(cfg, DurableState::default(), 0)
}

#[test]
fn every_voter_agreeing_decides_without_the_finalize_wait() {
    let mut net = Net::new(3);
    net.deliver_all();
    assert_eq!(net.leader(), Some(3), "elected and established at time 0");
    for r in &net.replicas {
        assert_ne!(r.state(), PeerState::Looking);
    }
}

#[test]
fn a_quorum_still_waits_while_a_voter_may_vote() {
    // Member 3 is silent but nothing says it is unreachable: its vote may still come.
    let mut net = Net::new(3);
    net.dead.insert(3);
    net.deliver_all();
    assert_eq!(net.leader(), None, "no decision before the finalize wait");
    assert!(net.replicas[..2]
        .iter()
        .all(|r| r.state() == PeerState::Looking));
    net.tick_all(WAIT);
    net.deliver_all();
    assert_eq!(net.leader(), Some(2), "decided once the wait is over");
}

#[test]
fn a_lost_leader_is_not_waited_for() {
    let mut net = Net::new(3);
    net.deliver_all();
    assert_eq!(net.leader(), Some(3));
    // The leader dies: both followers see its connection break.
    net.dead.insert(3);
    net.now = 1;
    for i in 0..2 {
        net.replicas[i].disconnected(3, net.now);
        net.collect(i);
    }
    net.deliver_all();
    assert_eq!(
        net.leader(),
        Some(2),
        "re-elected without the finalize wait"
    );
    assert_eq!(net.replicas[0].synced_leader(), Some(2));
}

#[test]
fn a_voter_that_cannot_be_reached_is_not_waited_for_until_it_speaks() {
    let mut net = Net::new(3);
    net.dead.insert(3);
    // Member 1's messages to 3 fail: the transport reports the peer unreachable.
    net.replicas[0].disconnected(3, 0);
    net.collect(0);
    net.deliver_all();
    // Member 2 never heard of the failure, so it still waits; member 1 decided.
    assert_eq!(net.replicas[0].state(), PeerState::Following);
    assert_eq!(net.replicas[1].state(), PeerState::Looking);
    net.replicas[1].disconnected(3, 0);
    net.collect(1);
    net.deliver_all();
    assert_eq!(net.leader(), Some(2));
}

#[test]
fn a_worse_vote_of_the_round_is_answered_at_once() {
    let mut two = replica(2, 3);
    // Its first notifications are lost: member 1 was not listening yet.
    let _ = two.take_outputs();
    let mut one = replica(1, 3);
    let vote_of_one = one
        .take_outputs()
        .into_iter()
        .find_map(|o| match o {
            Output::Send { to: 2, msg } => Some(msg),
            _ => None,
        })
        .expect("member 1 votes to 2");
    two.step(1, vote_of_one, 0);
    let answer = two.take_outputs().into_iter().any(|o| {
        matches!(o, Output::Send { to: 1, msg: Message::Notification { vote, .. } }
                if vote.leader == 2)
    });
    assert!(
        answer,
        "member 2 tells member 1 its better vote without waiting to resend"
    );
}

#[test]
fn a_followerinfo_sent_before_the_leader_decided_is_kept() {
    let mut net = Net::new(3);
    // Member 1 already follows 3 while 3 is still looking: its FOLLOWERINFO arrives first.
    let info = Message::FollowerInfo {
        attempt: 1,
        accepted_epoch: 0,
    };
    net.replicas[2].step(1, info, 0);
    assert_eq!(net.replicas[2].state(), PeerState::Looking);
    net.collect(2);
    // Member 1 is cut off from now on: only the kept FOLLOWERINFO can count for it.
    net.dead.insert(1);
    net.replicas[2].disconnected(1, 0);
    net.replicas[1].disconnected(1, 0);
    net.collect(1);
    net.collect(2);
    net.deliver_all();
    assert_eq!(net.replicas[2].state(), PeerState::Leading);
    let answered = net
        .sent
        .iter()
        .any(|(from, to, m)| (*from, *to) == (3, 1) && matches!(m, Message::LeaderInfo { .. }));
    assert!(
        answered,
        "the leader answered member 1's early FOLLOWERINFO"
    );
}
