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
}
