//! Fault injection on the in-process [`Ensemble`]: links (cut, slowed, one way), partitions,
//! pauses, dropped connections, and faults aimed at one session.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Ensemble, Link};
use crate::replication::ServerId;

impl Ensemble {
    /// Sets `from`'s link to `to` (if `from` runs).
    pub(super) async fn apply_link(&self, from: ServerId, to: ServerId, link: Link) {
        if let Some(n) = self.node(from) {
            n.set_link(to, link).await;
        }
    }

    /// Sets and remembers `from`'s link to `to` (one direction).
    pub(super) async fn set_link_one_way(&mut self, from: ServerId, to: ServerId, link: Link) {
        if from == to {
            return;
        }
        match link {
            Link::Up => self.links.remove(&(from, to)),
            other => self.links.insert((from, to), other),
        };
        self.apply_link(from, to, link).await;
    }

    /// Sets the link between `a` and `b` on both members.
    pub(super) async fn set_link(&mut self, a: ServerId, b: ServerId, link: Link) {
        self.set_link_one_way(a, b, link).await;
        self.set_link_one_way(b, a, link).await;
    }

    /// Cuts the link between `a` and `b` both ways (their connections break).
    pub async fn cut(&mut self, a: ServerId, b: ServerId) {
        tracing::info!(a, b, "ensemble: cut");
        self.set_link(a, b, Link::Down).await;
    }

    /// Delays every message between `a` and `b`, both ways, by `delay`.
    pub async fn slow_link(&mut self, a: ServerId, b: ServerId, delay: Duration) {
        tracing::info!(a, b, ?delay, "ensemble: slow link");
        self.set_link(a, b, Link::Delay(delay)).await;
    }

    /// Loses every message `from` sends to `to` while `from` still hears `to`: one side of an
    /// asymmetric partition (`from`'s connection to `to` breaks and is not opened again).
    /// [`Ensemble::heal`] restores it.
    pub async fn cut_one_way(&mut self, from: ServerId, to: ServerId) {
        tracing::info!(from, to, "ensemble: cut one way");
        self.set_link_one_way(from, to, Link::SendLost).await;
    }

    /// Delays every message `from` sends to `to` by `delay` (the other direction stays as it
    /// is).
    pub async fn slow_link_one_way(&mut self, from: ServerId, to: ServerId, delay: Duration) {
        tracing::info!(from, to, ?delay, "ensemble: slow link one way");
        self.set_link_one_way(from, to, Link::Delay(delay)).await;
    }

    /// Cuts `group` off from the other members (links inside each side stay as they are).
    pub async fn partition(&mut self, group: &[ServerId]) {
        tracing::info!(?group, "ensemble: partition");
        let inside: BTreeSet<ServerId> = group.iter().copied().collect();
        for a in self.member_ids() {
            for b in self.member_ids() {
                if a < b && inside.contains(&a) != inside.contains(&b) {
                    self.set_link(a, b, Link::Down).await;
                }
            }
        }
    }

    /// Cuts member `id` off from every other member.
    pub async fn isolate(&mut self, id: ServerId) {
        self.partition(&[id]).await;
    }

    /// Restores every link (cut, partitioned or slowed).
    pub async fn heal(&mut self) {
        tracing::info!("ensemble: heal");
        let faulty: Vec<(ServerId, ServerId)> = self.links.keys().copied().collect();
        for (from, to) in faulty {
            self.set_link_one_way(from, to, Link::Up).await;
        }
    }

    /// Pauses member `id` like a stopped process: no timers fire, nothing is read or handled.
    pub async fn pause(&self, id: ServerId) {
        if let Some(n) = self.node(id) {
            n.pause().await;
        }
    }

    /// Resumes a paused member.
    pub async fn resume(&self, id: ServerId) {
        if let Some(n) = self.node(id) {
            n.resume().await;
        }
    }

    /// Closes every client connection of member `id` (the sessions live on).
    pub async fn drop_connections(&self, id: ServerId) {
        if let Some(n) = self.node(id) {
            n.drop_client_connections().await;
        }
    }

    /// The member a client of session `session_id` is connected to now, if any.
    pub async fn member_of_session(&self, session_id: i64) -> Option<ServerId> {
        for node in self.live() {
            if node.connected_sessions().await.contains(&session_id) {
                return Some(node.id());
            }
        }
        None
    }

    /// Expires session `session_id` now, ensemble-wide (the leader closes it: its ephemerals
    /// go everywhere). False if no running member knew it.
    pub async fn expire_session(&self, session_id: i64) -> bool {
        let first = self.leader().into_iter().chain(self.member_ids());
        for id in first {
            if let Some(n) = self.node(id) {
                if n.expire_session(session_id).await {
                    return true;
                }
            }
        }
        false
    }

    /// The member holding session `session_id`'s connection applies its next write and then
    /// closes the connection instead of replying. False if no member holds it.
    pub async fn drop_next_reply(&self, session_id: i64) -> bool {
        match self.member_of_session(session_id).await {
            Some(id) => match self.node(id) {
                Some(n) => n.drop_next_reply(session_id).await,
                None => false,
            },
            None => false,
        }
    }

    /// Holds session `session_id`'s watch events on the member it is connected to until
    /// [`Ensemble::release_events`]. False if no member holds it.
    pub async fn hold_events(&self, session_id: i64) -> bool {
        match self.member_of_session(session_id).await {
            Some(id) => {
                if let Some(n) = self.node(id) {
                    n.hold_events(session_id).await;
                }
                true
            }
            None => false,
        }
    }

    /// Delivers the held events of session `session_id` (on every running member); returns
    /// how many were held.
    pub async fn release_events(&self, session_id: i64) -> usize {
        let mut released = 0;
        for n in self.live() {
            released += n.release_events(session_id).await;
        }
        released
    }
}
