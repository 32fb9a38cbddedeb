//! Simulated clients with sessions: they create a session through the leader, keep it alive
//! by touching the member they are attached to (which passes touches on to the leader),
//! create ephemeral nodes, and sometimes close their session or die silently (so the leader
//! must expire it) and come back later with a new session. Once faults stop, every client goes quiet: every session must expire and
//! every ephemeral vanish on every member.

use bytes::Bytes;
use zk_proto::Acl;

use super::{Event, Sim};
use crate::txn::Txn;

#[derive(Debug, Clone, Default)]
pub(super) struct Client {
    /// The session, once its createSession committed.
    pub(super) session: Option<i64>,
    /// A createSession proposed at this time, not yet seen committed.
    pending: Option<(i64, i64)>,
    member: usize,
    alive: bool,
    ephemerals: u64,
}

impl Sim {
    pub(super) fn start_clients(&mut self, n: usize) {
        for c in 0..n {
            let member = self.rng.below(self.members.len());
            self.clients.push(Client {
                member,
                alive: true,
                ..Client::default()
            });
            self.after((1, 20), Event::Client { client: c });
        }
    }

    /// The index of an established leader that is up, if any.
    fn up_leader(&self) -> Option<usize> {
        (0..self.members.len()).find(|&i| {
            self.running(i)
                && self.members[i]
                    .replica
                    .as_ref()
                    .is_some_and(|r| r.established_epoch().is_some())
        })
    }

    /// A committed txn a client may be waiting for.
    pub(super) fn client_sees(&mut self, txn: &Txn) {
        if let Txn::CreateSession { session_id, .. } = txn {
            for c in &mut self.clients {
                if c.pending.is_some_and(|(id, _)| id == *session_id) {
                    c.pending = None;
                    c.session = Some(*session_id);
                }
            }
        }
    }

    pub(super) fn client_step(&mut self, c: usize) -> Result<(), String> {
        if self.settling {
            return Ok(());
        }
        if !self.clients[c].alive {
            // A new process: a new session; the old one is left to expire.
            self.clients[c] = Client {
                member: self.rng.below(self.members.len()),
                alive: true,
                ..Client::default()
            };
            self.after((20, 200), Event::Client { client: c });
            return Ok(());
        }
        self.after((2, 15), Event::Client { client: c });
        let now = self.now;
        // Attach to another member if ours is down.
        if self.members[self.clients[c].member].replica.is_none() {
            self.clients[c].member = self.rng.below(self.members.len());
        }
        let Some(session) = self.clients[c].session else {
            if let Some((_, since)) = self.clients[c].pending {
                if now - since < 300 {
                    return Ok(());
                }
            }
            let Some(l) = self.up_leader() else {
                return Ok(());
            };
            self.next_session += 1;
            let session_id = self.next_session;
            let timeout_ms = self.rng.range(80, 300) as i32;
            let r = self.members[l].replica.as_mut().expect("up");
            if r.propose(
                session_id,
                Txn::CreateSession {
                    session_id,
                    timeout_ms,
                },
                now,
            )
            .is_some()
            {
                self.clients[c].pending = Some((session_id, now));
                self.clients[c].member = l;
            }
            return self.drain(l);
        };
        let m = self.clients[c].member;
        if !self.running(m) {
            // Its member is paused: requests wait in its socket; a sync may be among them.
            if self.members[m].replica.is_some() && self.rng.below(4) == 0 {
                let need = self.checker.acked_frontier;
                self.schedule(self.now, Event::ClientSync { member: m, need });
            }
            return Ok(());
        }
        if let Some(r) = self.members[m].replica.as_mut() {
            r.touch(session, now);
        }
        self.drain(m)?;
        match self.rng.below(40) {
            13..=20 => {
                let need = self.checker.acked_frontier;
                self.schedule(self.now, Event::ClientSync { member: m, need });
            }
            0 => {
                // Dies silently: the leader must expire the session.
                self.clients[c].alive = false;
            }
            1 => {
                // Closes its session, then leaves.
                self.clients[c].alive = false;
                if let Some(l) = self.up_leader() {
                    let r = self.members[l].replica.as_mut().expect("up");
                    r.propose(
                        session,
                        Txn::CloseSession {
                            session_id: session,
                        },
                        now,
                    );
                    self.drain(l)?;
                }
            }
            2..=12 => {
                let Some(l) = self.up_leader() else {
                    return Ok(());
                };
                // The leader's prep: only a live session may own an ephemeral.
                let r = self.members[l].replica.as_mut().expect("up");
                if !r.sessions().is_live(session) {
                    return Ok(());
                }
                self.clients[c].ephemerals += 1;
                let n = self.clients[c].ephemerals;
                let txn = Txn::Create {
                    path: format!("/e{session}-{n}"),
                    data: Some(Bytes::from_static(b"e")),
                    acl: Acl::open_unsafe(),
                    ephemeral_owner: session,
                    parent_cversion: 0,
                };
                r.propose(session, txn, now);
                self.drain(l)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The leader's layer: prepares a forwarded write (here: rebuilds the txn) and proposes it.
    pub(super) fn forwarded_write(
        &mut self,
        i: usize,
        session_id: i64,
        payload: &[u8],
    ) -> Result<(), String> {
        let n: u64 = std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("undecodable forwarded write")?;
        let now = self.now;
        if let Some(r) = self.members[i].replica.as_mut() {
            r.propose(session_id, write_txn(n), now);
        }
        Ok(())
    }

    pub(super) fn synced(&mut self, i: usize, sync: u64, ok: bool) -> Result<(), String> {
        let Some((m, incarnation, need)) = self.syncs.remove(&sync) else {
            return Ok(());
        };
        let member = &self.members[i];
        if ok && m == i && incarnation == member.incarnation && member.applied < need {
            return Err(format!(
                "sync {sync} on member {} finished with {} txns applied; acknowledged writes \
                 before it reach txn #{need}",
                member.id, member.applied
            ));
        }
        if ok {
            self.summary.syncs += 1;
        }
        Ok(())
    }

    /// A client's sync reaches member `i`.
    pub(super) fn start_sync(&mut self, i: usize, need: usize) -> Result<(), String> {
        self.next_sync += 1;
        let id = self.next_sync;
        let incarnation = self.members[i].incarnation;
        let now = self.now;
        let Some(r) = self.members[i].replica.as_mut() else {
            return Ok(());
        };
        if r.sync(id, now) {
            self.syncs.insert(id, (i, incarnation, need));
        }
        self.drain(i)
    }

    /// True if member `i` is up and not paused.
    pub(super) fn running(&self, i: usize) -> bool {
        self.members[i].replica.is_some() && self.members[i].paused_until <= self.now
    }

    pub(super) fn write(&mut self) -> Result<(), String> {
        let up: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.running(i))
            .collect();
        if up.is_empty() {
            return Ok(());
        }
        let leaders: Vec<usize> = up
            .iter()
            .copied()
            .filter(|&i| {
                self.members[i]
                    .replica
                    .as_ref()
                    .is_some_and(|r| r.established_epoch().is_some())
            })
            .collect();
        let i = if !leaders.is_empty() && self.rng.below(10) != 0 {
            leaders[self.rng.below(leaders.len())]
        } else {
            up[self.rng.below(up.len())]
        };
        self.writes += 1;
        let n = self.writes;
        let now = self.now;
        let incarnation = self.members[i].incarnation;
        let r = self.members[i].replica.as_mut().expect("up");
        if r.established_epoch().is_some() && self.rng.below(2) == 0 {
            if let Some(zxid) = r.propose(n as i64, write_txn(n), now) {
                self.in_flight.insert((i, zxid), incarnation);
            }
        } else if r.forward(n as i64, Bytes::from(n.to_string()), now) {
            self.forwards.insert(format!("/w{n}"), (i, incarnation));
        }
        self.drain(i)
    }
}

/// The txn of simulated write `n`.
fn write_txn(n: u64) -> Txn {
    Txn::Create {
        path: format!("/w{n}"),
        data: Some(Bytes::from(n.to_string())),
        acl: Acl::open_unsafe(),
        ephemeral_owner: 0,
        parent_cversion: 0,
    }
}
