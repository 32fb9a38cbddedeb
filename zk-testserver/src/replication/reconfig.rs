//! Dynamic reconfiguration (ZooKeeper 3.5+): the membership changes at a committed txn.
//!
//! A reconfig is an ordinary replicated txn: the leader prepares it (checks in
//! [`Replica::prepare_reconfig`]) into a `setData` of `/zookeeper/config` with version -1
//! whose data is the new membership in ZooKeeper's format ([`QuorumConfig`]). While it is
//! proposed but not committed, the leader commits a txn at or after it only once a quorum of
//! the old voters *and* a quorum of the new voters hold it (ZooKeeper's proposals carry both
//! quorum verifiers). When a member applies the committed txn it activates the new
//! membership ([`Output::Reconfigured`]) and persists it ([`PersistOp::Config`], ZooKeeper's
//! dynamic config file), so a restart starts from it.
//!
//! - A server outside the view (one joining, started with the current membership plus
//!   itself) learns the leader from the settled voters' replies and syncs as a non-voting
//!   learner; its acks count for the new voters' quorum, and it votes once the config that
//!   includes it is active.
//! - A member removed by the config stops: it neither votes nor follows (and so serves no
//!   client). A leader removed by it steps down after sending the commit; followers of a
//!   removed leader elect a new one among the new voters.
//!
//! A new leader whose log holds a reconfig not known committed establishes its epoch (and
//! commits its whole log) only once a quorum of the old voters and a quorum of the new ones
//! acknowledged NEWLEADER, as ZooKeeper's leader waits for both quorum verifiers.
//!
//! Election notifications carry the sender's active membership: a LOOKING member that missed
//! a reconfig (down when it committed) adopts a newer one that includes it, as ZooKeeper's
//! FastLeaderElection does; settled observers answer LOOKING members too (as followers of
//! their leader), which a member that still counts them as voters needs.

use std::collections::BTreeSet;

use zk_proto::ErrorCode;

use super::{Output, PersistOp, QuorumConfig, Replica, Role, ServerId};
use crate::tree::CONFIG_NODE;
use crate::txn::{LoggedTxn, Txn};

/// The membership a reconfig txn activates, if `entry` is one.
pub(super) fn config_of(entry: &LoggedTxn) -> Option<QuorumConfig> {
    match &entry.txn {
        Txn::SetData {
            path,
            data: Some(data),
            version: -1,
        } if path == CONFIG_NODE => {
            let text = std::str::from_utf8(data).ok()?;
            QuorumConfig::parse(text).map(|mut c| {
                c.version = entry.zxid;
                c
            })
        }
        _ => None,
    }
}

impl Replica {
    /// The active membership (with addresses), if this member knows one.
    pub fn quorum_config(&self) -> Option<&QuorumConfig> {
        self.cfg.quorum.as_ref()
    }

    /// The last membership seen: a logged reconfig not yet committed, or the active one.
    pub fn last_seen_config(&self) -> Option<QuorumConfig> {
        self.pending_config(i64::MAX)
            .or_else(|| self.cfg.quorum.clone())
    }

    /// The membership of a logged, uncommitted reconfig at or below `upto`.
    fn pending_config(&self, upto: i64) -> Option<QuorumConfig> {
        self.log
            .after(self.committed.min(self.log.last_zxid()))
            .iter()
            .take_while(|e| e.zxid <= upto)
            .filter_map(config_of)
            .last()
    }

    /// True if `holders` also form a quorum of every pending config at or below `zxid`.
    pub(super) fn pending_quorum(&self, zxid: i64, holders: &[ServerId]) -> bool {
        match self.pending_config(zxid) {
            Some(next) => next.is_quorum(holders),
            None => true,
        }
    }

    /// Leader: the members that count for a new config's quorum: itself and the followers
    /// synced with it now. As in ZooKeeper (`Leader.isQuorumSynced` counts forwarding
    /// followers only), an observer of the active config does not count, even when the new
    /// config promotes it; a server the active config does not name (one joining) does.
    fn synced_voters(&self) -> BTreeSet<ServerId> {
        let observers = self
            .cfg
            .quorum
            .as_ref()
            .map(QuorumConfig::observers)
            .unwrap_or_default();
        let mut ids: BTreeSet<ServerId> = self
            .synced_learners()
            .into_iter()
            .filter(|id| !observers.contains(id) && !self.cfg.observers.contains(id))
            .collect();
        ids.insert(self.cfg.id);
        ids
    }

    /// Leader: the membership a `reconfig` request asks for, prepared for `zxid`, with
    /// ZooKeeper's checks in its order: `ReconfigInProgress` while one is pending,
    /// `BadVersion` if `from_config` (-1: any) is not the last seen version, the request's
    /// own errors ([`QuorumConfig::apply_request`]), and `NewConfigNoQuorum` unless a
    /// quorum of the new voters is connected and synced with this leader.
    pub fn prepare_reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
        zxid: i64,
    ) -> Result<QuorumConfig, ErrorCode> {
        let Some(active) = self.cfg.quorum.as_ref() else {
            // Only members configured with addresses can describe a new membership.
            return Err(ErrorCode::Unimplemented);
        };
        if self.established_epoch().is_none() {
            return Err(ErrorCode::ConnectionLoss);
        }
        if self.pending_config(i64::MAX).is_some() {
            return Err(ErrorCode::ReconfigInProgress);
        }
        if from_config != -1 && from_config != active.version {
            return Err(ErrorCode::BadVersion);
        }
        let next = active.apply_request(joining, leaving, new_members, zxid)?;
        if !next.is_quorum(&self.synced_voters()) {
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        Ok(next)
    }

    /// At start: the persisted membership if it is newer than the configured one.
    pub(super) fn restore_config(&mut self, persisted: Option<&str>) {
        let Some(config) = persisted.and_then(QuorumConfig::parse) else {
            return;
        };
        let newer = match &self.cfg.quorum {
            Some(q) => config.version > q.version,
            None => true,
        };
        if newer {
            self.set_quorum(config);
        }
    }

    fn set_quorum(&mut self, config: QuorumConfig) {
        self.cfg.voters = config.voters();
        self.cfg.observers = config.observers();
        self.cfg.quorum = Some(config);
    }

    /// A committed reconfig's membership becomes active (older ones, met while a joining
    /// member replays history, are skipped).
    pub(super) fn activate(&mut self, config: QuorumConfig) {
        if self
            .cfg
            .quorum
            .as_ref()
            .is_some_and(|q| q.version >= config.version)
        {
            return;
        }
        let id = self.cfg.id;
        let was_voter = self.cfg.voters.contains(&id);
        tracing::info!(
            id,
            version = format_args!("{:x}", config.version),
            voters = ?config.voters(),
            observers = ?config.observers(),
            "membership changed"
        );
        self.persist(PersistOp::Config(config.to_string()));
        self.set_quorum(config.clone());
        self.out.push(Output::Reconfigured(config));
        let voter = self.cfg.voters.contains(&id);
        self.reelect = match &self.role {
            Role::Leading(_) => !voter,
            Role::Following(f) => !self.cfg.voters.contains(&f.leader()) || !self.cfg.is_member(id),
            Role::Looking(_) => was_voter != voter,
        };
    }

    /// Gives the initial membership (version 0) the version ZooKeeper gives it: the zxid
    /// `epoch << 32` of the first leader's NEWLEADER (a leader passes it on in NEWLEADER).
    /// Versions of reconfig txns (counter above 0) are left alone.
    pub(super) fn version_initial_config(&mut self, version: i64) {
        if !self.cfg.version_initial_config {
            return;
        }
        let Some(q) = self.cfg.quorum.as_ref() else {
            return;
        };
        if q.version != 0 || version == 0 || super::counter_of(version) != 0 {
            return;
        }
        let mut q = q.clone();
        q.version = version;
        self.persist(PersistOp::Config(q.to_string()));
        self.cfg.quorum = Some(q.clone());
        self.out.push(Output::Reconfigured(q));
    }

    /// The active membership as notifications carry it.
    pub(super) fn config_text(&self) -> Option<String> {
        self.cfg.quorum.as_ref().map(QuorumConfig::to_string)
    }

    /// A LOOKING member adopts a newer membership a peer reports (one committed while this
    /// member was down or cut off), unless it leaves this member out (a server started to
    /// join knows a membership with itself that the others will only commit later).
    pub(super) fn adopt_config(&mut self, text: &str) {
        if !matches!(self.role, Role::Looking(_)) {
            return;
        }
        let Some(ours) = self.cfg.quorum.as_ref() else {
            return;
        };
        let Some(theirs) = QuorumConfig::parse(text) else {
            return;
        };
        if theirs.version <= ours.version || !theirs.servers.contains_key(&self.cfg.id) {
            return;
        }
        tracing::info!(
            id = self.cfg.id,
            version = format_args!("{:x}", theirs.version),
            "adopting a newer membership from a peer"
        );
        self.persist(PersistOp::Config(theirs.to_string()));
        self.set_quorum(theirs.clone());
        self.out.push(Output::Reconfigured(theirs));
        self.become_looking();
    }

    /// Elects again if a reconfig just applied asks for it (called once the commit is handled:
    /// a leader first sends it to its learners).
    pub(super) fn reelect_if_reconfigured(&mut self) {
        if std::mem::take(&mut self.reelect) {
            tracing::info!(id = self.cfg.id, "reconfigured: electing again");
            self.become_looking();
        }
    }

    /// True if this member is outside its own membership (removed by a reconfig).
    pub(super) fn is_outsider(&self) -> bool {
        self.cfg.quorum.is_some() && !self.cfg.is_member(self.cfg.id)
    }

    /// False once a reconfig removed this member (it neither votes nor follows).
    pub fn in_config(&self) -> bool {
        !self.is_outsider()
    }
}
