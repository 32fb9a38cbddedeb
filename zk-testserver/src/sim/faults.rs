//! Faults: crashes (losing what was not durable), partitions, pauses, slow links; and the
//! end of the faults, after which the ensemble must converge.

use super::{Event, Sim};
use crate::replication::ServerId;

impl Sim {
    pub(super) fn fault(&mut self) -> Result<(), String> {
        let n = self.members.len();
        let i = self.rng.below(n);
        match self.rng.below(12) {
            0..=3 => {
                if self.members[i].replica.is_some() {
                    self.crash(i);
                }
            }
            4..=6 => {
                // Isolate one member.
                let id = self.members[i].id;
                self.note(|| format!("isolate {id}"));
                for other in 1..=n as ServerId {
                    if other != id {
                        self.net.cut(id, other);
                    }
                }
                self.summary.partitions += 1;
                self.after(self.cfg.partition_for, Event::Heal);
            }
            7 | 10 => {
                let until = self.now + self.rng.range(self.cfg.pause_for.0, self.cfg.pause_for.1);
                let id = self.members[i].id;
                self.note(|| format!("pause {id} until {until}"));
                self.members[i].paused_until = self.members[i].paused_until.max(until);
                self.summary.pauses += 1;
            }
            8 => {
                let a = self.members[i].id;
                let b = self.members[self.rng.below(n)].id;
                let extra = self.rng.range(10, 80);
                let until = self.now + self.rng.range(50, 400);
                if a != b {
                    self.note(|| format!("slow {a}->{b} by {extra} ms until {until}"));
                    self.net.slow(a, b, extra, until);
                }
            }
            9 => {
                let a = self.members[i].id;
                let b = self.members[self.rng.below(n)].id;
                if a != b {
                    self.note(|| format!("cut {a}-{b}"));
                    self.net.cut(a, b);
                    self.summary.partitions += 1;
                    self.after(self.cfg.partition_for, Event::Heal);
                }
            }
            _ => {
                if self.net.any_cut() {
                    self.note(|| "heal".into());
                    self.net.heal_all();
                }
            }
        }
        Ok(())
    }

    pub(super) fn crash(&mut self, i: usize) {
        let id = self.members[i].id;
        self.note(|| format!("crash {id}"));
        self.summary.crashes += 1;
        let m = &mut self.members[i];
        if let Some(r) = m.replica.take() {
            m.sync_errors += r.stats().sync_errors;
        }
        m.queue.clear();
        m.incarnation += 1;
        self.in_flight.retain(|(m, _), _| *m != i);
        self.forwards.retain(|_, (m, _)| *m != i);
        self.syncs.retain(|_, (m, _, _)| *m != i);
        for peer in 1..=self.members.len() as ServerId {
            if peer == id {
                continue;
            }
            let gen = self.net.break_link(id, peer);
            if self.rng.chance_ppm(self.cfg.net.notice_ppm) {
                let at = self.now
                    + self
                        .rng
                        .range(self.cfg.net.min_delay, self.cfg.net.max_delay);
                self.schedule(
                    at,
                    Event::Notice {
                        to: peer,
                        peer: id,
                        gen,
                    },
                );
            }
        }
        self.after(self.cfg.down_for, Event::Restart { member: i });
    }

    pub(super) fn start_settling(&mut self) -> Result<(), String> {
        self.note(|| "faults stop: heal, restart everyone".into());
        self.settling = true;
        self.cfg.net.loss_ppm = 0;
        self.net.heal_all();
        for i in 0..self.members.len() {
            if self.members[i].replica.is_none() {
                self.start_member(i)?;
            }
        }
        Ok(())
    }
}
