//! The session tracker: ids, passwords, timeout negotiation and tick-bucketed expiry.
//!
//! Pure state, driven by the caller's clock (`now` in ms). Session ids follow ZooKeeper's
//! layout, `((now << 24) >>> 8) | (myid << 56)`, incremented per session.
//!
//! Passwords: 16 bytes of a keyed hash (the first 16 bytes of SHA-1(secret ‖ id)) under a
//! 256-bit secret drawn from the operating system's CSPRNG ([`new_secret`]) when a server
//! starts (kept in the data dir, so sessions survive restarts, and shared by an ensemble, so
//! any member can check a reconnecting client without having seen its session created).
//! Without the secret a password cannot be predicted from the id, unlike ZooKeeper 3.8's
//! `new Random(id ^ 0xB3415C00)`, which anyone who sees a session id can recompute to take
//! the session over. Random per-session passwords would have to be logged with every
//! session, for no gain in unpredictability.
//!
//! Expiry: a session's deadline is `now + timeout` rounded *up* to the next multiple of the
//! tick, like ZooKeeper's `ExpiryQueue`; every packet from the client moves it.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};
use zk_proto::PASSWORD_LEN;

/// A session's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The negotiated timeout in ms.
    pub timeout_ms: i32,
    /// When it expires unless touched (clock ms, a multiple of the tick).
    pub expires_at: i64,
    /// A closeSession is under way: requests get SessionExpired.
    pub closing: bool,
}

/// All sessions of a server.
#[derive(Debug, Clone)]
pub struct SessionTracker {
    sessions: BTreeMap<i64, SessionInfo>,
    tick_ms: i64,
    min_timeout: i32,
    max_timeout: i32,
    next_id: i64,
    secret: [u8; 32],
}

/// A fresh secret for session passwords, from the operating system's CSPRNG (through
/// `rand`'s thread-local generator, a ChaCha stream cipher seeded and reseeded by the OS).
pub fn new_secret() -> [u8; 32] {
    rand::random()
}

/// The first session id of a server started at `now_ms` with id `myid`.
pub fn initial_session_id(now_ms: i64, myid: u8) -> i64 {
    let base = ((now_ms << 24) as u64 >> 8) as i64;
    let id = base | (i64::from(myid) << 56);
    if id == i64::MIN {
        id + 1
    } else {
        id
    }
}

impl SessionTracker {
    /// A tracker with timeouts clamped to `[min_timeout, max_timeout]`.
    pub fn new(
        tick_ms: i64,
        min_timeout: i32,
        max_timeout: i32,
        first_id: i64,
        secret: [u8; 32],
    ) -> SessionTracker {
        SessionTracker {
            sessions: BTreeMap::new(),
            tick_ms: tick_ms.max(1),
            min_timeout,
            max_timeout,
            next_id: first_id,
            secret,
        }
    }

    /// Clamps a requested timeout to the server's bounds.
    pub fn negotiate(&self, requested: i32) -> i32 {
        requested.clamp(self.min_timeout, self.max_timeout.max(self.min_timeout))
    }

    /// The session id for the next new session.
    pub fn next_session_id(&mut self) -> i64 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if id != 0 && id != i64::MIN && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// The password of `session_id`: the first 16 bytes of SHA-1(secret || id).
    pub fn password(&self, session_id: i64) -> [u8; PASSWORD_LEN] {
        let mut hasher = Sha1::new();
        hasher.update(self.secret);
        hasher.update(session_id.to_be_bytes());
        let digest = hasher.finalize();
        let mut out = [0u8; PASSWORD_LEN];
        out.copy_from_slice(&digest[..PASSWORD_LEN]);
        out
    }

    /// The secret passwords derive from.
    pub fn secret(&self) -> [u8; 32] {
        self.secret
    }

    fn deadline(&self, now: i64, timeout_ms: i32) -> i64 {
        let t = now + i64::from(timeout_ms);
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Registers a session (a createSession txn was applied, or a snapshot loaded).
    pub fn add(&mut self, session_id: i64, timeout_ms: i32, now: i64) {
        let expires_at = self.deadline(now, timeout_ms);
        self.sessions.insert(
            session_id,
            SessionInfo {
                timeout_ms,
                expires_at,
                closing: false,
            },
        );
        if session_id >= self.next_id && (session_id >> 56) == (self.next_id >> 56) {
            self.next_id = session_id + 1;
        }
    }

    /// Forgets a session (a closeSession txn was applied).
    pub fn remove(&mut self, session_id: i64) -> Option<SessionInfo> {
        self.sessions.remove(&session_id)
    }

    /// Marks a session as closing.
    pub fn set_closing(&mut self, session_id: i64) {
        if let Some(s) = self.sessions.get_mut(&session_id) {
            s.closing = true;
        }
    }

    /// Moves a live session's deadline; false if it is unknown or closing.
    pub fn touch(&mut self, session_id: i64, now: i64) -> bool {
        let tick = self.tick_ms;
        match self.sessions.get_mut(&session_id) {
            Some(s) if !s.closing => {
                let t = now + i64::from(s.timeout_ms);
                s.expires_at = (t / tick + 1) * tick;
                true
            }
            _ => false,
        }
    }

    /// The session, if known.
    pub fn get(&self, session_id: i64) -> Option<&SessionInfo> {
        self.sessions.get(&session_id)
    }

    /// True if the session is known and not closing.
    pub fn is_live(&self, session_id: i64) -> bool {
        self.sessions.get(&session_id).is_some_and(|s| !s.closing)
    }

    /// Sessions whose deadline has passed at `now` and are not already closing, sorted.
    pub fn expired(&self, now: i64) -> Vec<i64> {
        self.sessions
            .iter()
            .filter(|(_, s)| !s.closing && s.expires_at <= now)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The earliest deadline of a live session.
    pub fn next_deadline(&self) -> Option<i64> {
        self.sessions
            .values()
            .filter(|s| !s.closing)
            .map(|s| s.expires_at)
            .min()
    }

    /// Every session with its timeout, sorted by id (for snapshots and `dump`).
    pub fn iter(&self) -> impl Iterator<Item = (i64, &SessionInfo)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    /// The number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Restarts every deadline from `now` (after a restart or recovery).
    pub fn reset_deadlines(&mut self, now: i64) {
        let ids: Vec<i64> = self.sessions.keys().copied().collect();
        for id in ids {
            if let Some(s) = self.sessions.get(&id) {
                let deadline = self.deadline(now, s.timeout_ms);
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.expires_at = deadline;
                }
            }
        }
    }

    /// The tick length.
    pub fn tick_ms(&self) -> i64 {
        self.tick_ms
    }

    /// The timeout bounds.
    pub fn bounds(&self) -> (i32, i32) {
        (self.min_timeout, self.max_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> SessionTracker {
        SessionTracker::new(100, 200, 2000, initial_session_id(1_000, 1), [7; 32])
    }

    #[test]
    fn ids_and_passwords() {
        let mut t = tracker();
        let a = t.next_session_id();
        let b = t.next_session_id();
        assert_eq!(b, a + 1);
        assert_eq!(a >> 56, 1);
        assert_eq!(t.password(a), tracker().password(a));
        assert_ne!(t.password(a), t.password(b));
        let other = SessionTracker::new(100, 200, 2000, 1, [8; 32]);
        assert_ne!(other.password(a), t.password(a));
    }

    /// ZooKeeper 3.8's password for `id`: `new java.util.Random(id ^ 0xB3415C00)`,
    /// `nextBytes` of 16.
    fn java_password(id: i64) -> Vec<u8> {
        const M: u64 = 0x5DEE_CE66D;
        const MASK: u64 = (1 << 48) - 1;
        let mut seed = ((id ^ 0xB341_5C00) as u64 ^ M) & MASK;
        let mut out = Vec::new();
        while out.len() < 16 {
            seed = (seed.wrapping_mul(M).wrapping_add(0xB)) & MASK;
            out.extend(((seed >> 16) as u32).to_le_bytes());
        }
        out
    }

    #[test]
    fn the_same_id_gets_unrelated_passwords_on_two_servers() {
        let id = initial_session_id(1_000, 1);
        let a = SessionTracker::new(100, 200, 2000, id, new_secret());
        let b = SessionTracker::new(100, 200, 2000, id, new_secret());
        assert_ne!(a.secret(), b.secret());
        assert_ne!(a.password(id), b.password(id));
        for t in [&a, &b] {
            assert_ne!(t.password(id).to_vec(), java_password(id));
            // Neighbouring ids share no bytes in the same places beyond chance.
            let (p, q) = (t.password(id), t.password(id + 1));
            assert!(p.iter().zip(&q).filter(|(x, y)| x == y).count() < 4);
        }
    }

    #[test]
    fn negotiation_clamps() {
        let t = tracker();
        assert_eq!(t.negotiate(10), 200);
        assert_eq!(t.negotiate(500), 500);
        assert_eq!(t.negotiate(1_000_000), 2000);
    }

    #[test]
    fn expiry_is_bucketed_and_touch_extends() {
        let mut t = tracker();
        t.add(5, 200, 1_050);
        // 1050 + 200 = 1250, rounded up to the next tick boundary: 1300.
        assert_eq!(t.get(5).unwrap().expires_at, 1_300);
        assert!(t.expired(1_299).is_empty());
        assert!(t.touch(5, 1_250));
        assert!(t.expired(1_300).is_empty());
        assert_eq!(t.expired(1_500), vec![5]);
        t.set_closing(5);
        assert!(t.expired(1_500).is_empty());
        assert!(!t.touch(5, 1_500));
        assert!(t.remove(5).is_some());
        assert!(!t.is_live(5));
    }
}
