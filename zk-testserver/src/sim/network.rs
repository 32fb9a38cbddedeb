//! The simulated network: one connection per pair of members, reliable and in order while it
//! lasts (like TCP); a lost message breaks its connection; partitions drop messages silently.

use std::collections::{BTreeMap, BTreeSet};

use super::rng::Rng;
use crate::replication::ServerId;

/// Network knobs.
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    pub(crate) min_delay: i64,
    pub(crate) max_delay: i64,
    /// Probability (per million) that a message is lost, breaking its connection.
    pub(crate) loss_ppm: u64,
    /// Probability (per million) that a broken connection is noticed at once (RST) rather
    /// than only through timeouts.
    pub(crate) notice_ppm: u64,
}

/// What happens to a message handed to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Delivered at `at` on connection generation `gen`.
    Deliver { at: i64, gen: u64 },
    /// Lost; the connection broke (to be noticed by both ends at `notice_at` if set).
    Broken { gen: u64, notice_at: Option<i64> },
    /// Dropped silently (partition or dead receiver).
    Dropped,
}

fn pair(a: ServerId, b: ServerId) -> (ServerId, ServerId) {
    (a.min(b), a.max(b))
}

#[derive(Debug, Default)]
pub(crate) struct Network {
    /// Current connection generation of each pair.
    gens: BTreeMap<(ServerId, ServerId), u64>,
    /// The newest generation each receiver has seen from each sender.
    seen: BTreeMap<(ServerId, ServerId), u64>,
    /// Last arrival time per directed link (FIFO).
    last_arrival: BTreeMap<(ServerId, ServerId), i64>,
    /// Cut pairs.
    cut: BTreeSet<(ServerId, ServerId)>,
    /// Slowed directed links: extra delay and until when.
    slow: BTreeMap<(ServerId, ServerId), (i64, i64)>,
}

impl Network {
    pub(crate) fn gen(&self, a: ServerId, b: ServerId) -> u64 {
        self.gens.get(&pair(a, b)).copied().unwrap_or(0)
    }

    /// Breaks the connection between `a` and `b`; returns the new generation.
    pub(crate) fn break_link(&mut self, a: ServerId, b: ServerId) -> u64 {
        let g = self.gens.entry(pair(a, b)).or_insert(0);
        *g += 1;
        *g
    }

    pub(crate) fn is_cut(&self, a: ServerId, b: ServerId) -> bool {
        self.cut.contains(&pair(a, b))
    }

    pub(crate) fn cut(&mut self, a: ServerId, b: ServerId) {
        if self.cut.insert(pair(a, b)) {
            self.break_link(a, b);
        }
    }

    pub(crate) fn heal_all(&mut self) {
        self.cut.clear();
        self.slow.clear();
    }

    /// Adds `extra` ms to every message from `from` to `to` until `until`.
    pub(crate) fn slow(&mut self, from: ServerId, to: ServerId, extra: i64, until: i64) {
        self.slow.insert((from, to), (extra, until));
    }

    pub(crate) fn any_cut(&self) -> bool {
        !self.cut.is_empty()
    }

    /// Decides a message's fate.
    pub(crate) fn send(
        &mut self,
        cfg: &NetConfig,
        rng: &mut Rng,
        now: i64,
        from: ServerId,
        to: ServerId,
        receiver_up: bool,
    ) -> Fate {
        if !receiver_up || self.is_cut(from, to) {
            // The connection is gone; nobody learns it now.
            self.break_link(from, to);
            return Fate::Dropped;
        }
        if rng.chance_ppm(cfg.loss_ppm) {
            let gen = self.break_link(from, to);
            let notice_at = rng
                .chance_ppm(cfg.notice_ppm)
                .then(|| now + rng.range(cfg.min_delay, cfg.max_delay));
            return Fate::Broken { gen, notice_at };
        }
        let gen = self.gen(from, to);
        let mut delay = rng.range(cfg.min_delay, cfg.max_delay);
        if let Some((extra, until)) = self.slow.get(&(from, to)) {
            if now < *until {
                delay += extra;
            }
        }
        let last = self.last_arrival.entry((from, to)).or_insert(0);
        let at = (now + delay).max(*last);
        *last = at;
        Fate::Deliver { at, gen }
    }

    /// At delivery: `None` if the message's connection broke meanwhile; otherwise whether the
    /// receiver must first learn that its previous connection to the sender broke.
    pub(crate) fn receive(&mut self, from: ServerId, to: ServerId, gen: u64) -> Option<bool> {
        if gen < self.gen(from, to) {
            return None;
        }
        Some(self.notice(from, to, gen))
    }

    /// The receiver learns of generation `gen`; true if that is news (a broken connection).
    pub(crate) fn notice(&mut self, from: ServerId, to: ServerId, gen: u64) -> bool {
        let seen = self.seen.entry((from, to)).or_insert(0);
        if gen > *seen {
            *seen = gen;
            true
        } else {
            false
        }
    }
}
