//! The data tree: nodes with data, ACL, persisted stat and children, and the pure
//! [`DataTree::apply`] that turns a [`Txn`] into changes, results and watch triggers.
//!
//! No IO, no clock: the caller passes the zxid and the txn's time. The tree also indexes
//! ephemeral nodes by owner and keeps the sets of containers and TTL nodes, so the server can
//! find expiry candidates without a full scan.

mod kind;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use zk_proto::path::{basename, parent};
use zk_proto::{perms, Acl, ErrorCode, Id, Stat, StatPersisted};

pub use kind::NodeKind;

use crate::txn::{Applied, OpResult, Trigger, Txn};

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The data; `None` is null (a create without data), distinct from empty.
    pub data: Option<Bytes>,
    /// The ACL.
    pub acl: Vec<Acl>,
    /// The persisted stat.
    pub stat: StatPersisted,
    /// Child names.
    pub children: BTreeSet<String>,
}

impl Node {
    fn new(data: Option<Bytes>, acl: Vec<Acl>, stat: StatPersisted) -> Node {
        Node {
            data,
            acl,
            stat,
            children: BTreeSet::new(),
        }
    }

    /// The client-facing stat, as ZooKeeper's `DataNode.copyStat` makes it:
    /// - the persisted cversion counts creates only (it numbers sequential children); clients
    ///   see the count of changes, `2 × creates − children` (creates plus deletes);
    /// - only session-owned nodes show their owner: containers and TTL nodes report 0.
    pub fn to_stat(&self) -> Stat {
        let len = self.data.as_ref().map_or(0, Bytes::len);
        let children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        let mut stat = self
            .stat
            .to_stat(i32::try_from(len).unwrap_or(i32::MAX), children);
        stat.cversion = self.stat.cversion.wrapping_mul(2).wrapping_sub(children);
        if !self.kind().is_ephemeral() {
            stat.ephemeral_owner = 0;
        }
        stat
    }

    /// What kind of node this is, by its ephemeral owner.
    pub fn kind(&self) -> NodeKind {
        NodeKind::of(self.stat.ephemeral_owner)
    }
}

/// The whole namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTree {
    nodes: HashMap<String, Node>,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

/// `/zookeeper`.
pub const PROC_NODE: &str = "/zookeeper";
/// `/zookeeper/quota`.
pub const QUOTA_NODE: &str = "/zookeeper/quota";
/// `/zookeeper/config`.
pub const CONFIG_NODE: &str = "/zookeeper/config";

impl DataTree {
    /// A tree with ZooKeeper's initial nodes: `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config` (read-only to everyone), all with zeroed stats and empty data.
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: HashMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
        };
        let empty = || Some(Bytes::new());
        tree.nodes.insert(
            "/".into(),
            Node::new(empty(), Acl::open_unsafe(), StatPersisted::default()),
        );
        for (path, acl, aversion) in [
            (PROC_NODE, Acl::open_unsafe(), 0),
            (QUOTA_NODE, Acl::open_unsafe(), 0),
            // ZooKeeper sets this ACL with version -1 after creating the node.
            (CONFIG_NODE, Acl::read_unsafe(), -1),
        ] {
            let stat = StatPersisted {
                aversion,
                ..StatPersisted::default()
            };
            tree.insert_raw(path, Node::new(empty(), acl, stat));
        }
        tree
    }

    /// An empty tree without even the root, for loading a snapshot with [`DataTree::insert_raw`].
    pub fn empty() -> DataTree {
        DataTree {
            nodes: HashMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
        }
    }

    /// Inserts a node as is and links it to its parent (which must exist unless it is the root).
    /// Used to build initial nodes and to load snapshots; never for client changes.
    pub fn insert_raw(&mut self, path: &str, node: Node) {
        if let Some(parent_path) = parent(path) {
            if let Some(p) = self.nodes.get_mut(parent_path) {
                p.children.insert(basename(path).to_string());
            }
        }
        self.index(path, node.stat.ephemeral_owner);
        self.nodes.insert(path.to_string(), node);
    }

    fn index(&mut self, path: &str, owner: i64) {
        match NodeKind::of(owner) {
            NodeKind::Ephemeral(session) => {
                self.ephemerals
                    .entry(session)
                    .or_default()
                    .insert(path.to_string());
            }
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Persistent => {}
        }
    }

    fn unindex(&mut self, path: &str, owner: i64) {
        match NodeKind::of(owner) {
            NodeKind::Ephemeral(session) => {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Persistent => {}
        }
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The number of nodes, root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Approximate bytes of data and paths, as `mntr` reports it.
    pub fn approximate_data_size(&self) -> usize {
        self.nodes
            .iter()
            .map(|(p, n)| p.len() + n.data.as_ref().map_or(0, Bytes::len))
            .sum()
    }

    /// The ephemeral paths owned by `session`, sorted.
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every session owning ephemerals, with its paths.
    pub fn all_ephemerals(&self) -> &BTreeMap<i64, BTreeSet<String>> {
        &self.ephemerals
    }

    /// Container paths.
    pub fn containers(&self) -> impl Iterator<Item = &String> {
        self.containers.iter()
    }

    /// TTL node paths.
    pub fn ttl_nodes(&self) -> impl Iterator<Item = &String> {
        self.ttls.iter()
    }

    /// The number of descendants of `path` (not counting itself).
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(node) = self.nodes.get(&p) {
                for child in &node.children {
                    count += 1;
                    stack.push(zk_proto::path::join(&p, child));
                }
            }
        }
        count
    }

    /// Every path in pre-order (parents before children, children sorted), for snapshots.
    pub fn preorder(&self) -> Vec<&str> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<String> = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let Some((key, node)) = self.nodes.get_key_value(&p) else {
                continue;
            };
            out.push(key.as_str());
            for child in node.children.iter().rev() {
                stack.push(zk_proto::path::join(&p, child));
            }
        }
        out
    }

    /// Checks the tree's structural invariants, for tests and fuzzing: the root exists; every
    /// other node's parent exists and lists it; every listed child exists; the ephemeral,
    /// container and TTL indexes hold exactly the nodes of those kinds. Returns the first
    /// violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        if !self.nodes.contains_key("/") && !self.nodes.is_empty() {
            return Err("no root node".into());
        }
        let (mut ephemerals, mut containers, mut ttls) = (0, 0, 0);
        for (path, node) in &self.nodes {
            if let Some(parent_path) = parent(path) {
                let Some(p) = self.nodes.get(parent_path) else {
                    return Err(format!("{path}: parent {parent_path} missing"));
                };
                if !p.children.contains(basename(path)) {
                    return Err(format!("{path}: not listed by its parent"));
                }
            }
            for child in &node.children {
                let child_path = zk_proto::path::join(path, child);
                if !self.nodes.contains_key(&child_path) {
                    return Err(format!("{path}: lists missing child {child}"));
                }
            }
            let indexed = match node.kind() {
                NodeKind::Ephemeral(session) => {
                    ephemerals += 1;
                    self.ephemerals
                        .get(&session)
                        .is_some_and(|s| s.contains(path))
                }
                NodeKind::Container => {
                    containers += 1;
                    self.containers.contains(path)
                }
                NodeKind::Ttl(_) => {
                    ttls += 1;
                    self.ttls.contains(path)
                }
                NodeKind::Persistent => true,
            };
            if !indexed {
                return Err(format!("{path}: missing from its kind's index"));
            }
        }
        let indexed_ephemerals: usize = self.ephemerals.values().map(BTreeSet::len).sum();
        if self.ephemerals.values().any(BTreeSet::is_empty)
            || indexed_ephemerals != ephemerals
            || self.containers.len() != containers
            || self.ttls.len() != ttls
        {
            return Err("an index lists nodes that are gone or of another kind".into());
        }
        Ok(())
    }

    /// Applies a prepared txn at `zxid` with timestamp `time` (ms). Deterministic: equal trees
    /// fed equal `(txn, zxid, time)` stay equal. A txn that does not fit the tree (which prep
    /// rules out) changes nothing and yields an error result instead of panicking.
    pub fn apply(&mut self, txn: &Txn, zxid: i64, time: i64) -> Applied {
        let mut triggers = Vec::new();
        let result = self.apply_one(txn, zxid, time, &mut triggers);
        Applied { result, triggers }
    }

    fn apply_one(&mut self, txn: &Txn, zxid: i64, time: i64, out: &mut Vec<Trigger>) -> OpResult {
        match txn {
            Txn::CreateSession { .. } => OpResult::SessionCreated,
            Txn::CloseSession { session_id } => {
                for path in self.ephemerals_of(*session_id) {
                    // Deleting children first is never needed: ephemerals have no children.
                    self.delete_node(&path, zxid, out);
                }
                OpResult::SessionClosed
            }
            Txn::Create {
                path,
                data,
                acl,
                ephemeral_owner,
                parent_cversion,
            } => self.create_node(
                path,
                data.clone(),
                acl.clone(),
                *ephemeral_owner,
                *parent_cversion,
                zxid,
                time,
                out,
            ),
            Txn::Delete { path } => self.delete_node(path, zxid, out),
            Txn::SetData {
                path,
                data,
                version,
            } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    return OpResult::Error(ErrorCode::NoNode);
                };
                node.data = data.clone();
                node.stat.version = *version;
                node.stat.mzxid = zxid;
                node.stat.mtime = time;
                let stat = node.to_stat();
                out.push(Trigger::DataChanged {
                    path: path.clone(),
                    acl: node.acl.clone(),
                });
                OpResult::DataSet { stat }
            }
            Txn::SetAcl { path, acl, version } => {
                let Some(node) = self.nodes.get_mut(path) else {
                    return OpResult::Error(ErrorCode::NoNode);
                };
                node.acl = acl.clone();
                node.stat.aversion = *version;
                OpResult::AclSet {
                    stat: node.to_stat(),
                }
            }
            Txn::Check { .. } => OpResult::Checked,
            Txn::Multi(ops) => {
                let failed = ops.iter().any(|op| matches!(op, Txn::Error(_)));
                let results = ops
                    .iter()
                    .map(|op| match (failed, op) {
                        (_, Txn::Error(code)) => OpResult::Error(*code),
                        // Prep never mixes, but stay all-or-nothing if a log says otherwise.
                        (true, _) => OpResult::Error(ErrorCode::RuntimeInconsistency),
                        (false, op) => self.apply_one(op, zxid, time, out),
                    })
                    .collect();
                OpResult::Multi(results)
            }
            Txn::Error(code) => OpResult::Error(*code),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        out: &mut Vec<Trigger>,
    ) -> OpResult {
        let Some(parent_path) = parent(path) else {
            return OpResult::Error(ErrorCode::NodeExists);
        };
        if self.nodes.contains_key(path) {
            return OpResult::Error(ErrorCode::NodeExists);
        }
        let Some(parent_node) = self.nodes.get_mut(parent_path) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        parent_node.children.insert(basename(path).to_string());
        parent_node.stat.cversion = parent_cversion;
        parent_node.stat.pzxid = zxid;
        let parent_acl = parent_node.acl.clone();
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        let node = Node::new(data, acl.clone(), stat);
        let client_stat = node.to_stat();
        self.index(path, owner);
        self.nodes.insert(path.to_string(), node);
        out.push(Trigger::Created {
            path: path.to_string(),
            acl,
            parent_acl,
        });
        OpResult::Created {
            path: path.to_string(),
            stat: client_stat,
        }
    }

    fn delete_node(&mut self, path: &str, zxid: i64, out: &mut Vec<Trigger>) -> OpResult {
        let Some(parent_path) = parent(path) else {
            return OpResult::Error(ErrorCode::BadArguments);
        };
        match self.nodes.get(path) {
            None => return OpResult::Error(ErrorCode::NoNode),
            Some(node) if !node.children.is_empty() => return OpResult::Error(ErrorCode::NotEmpty),
            Some(_) => {}
        }
        let Some(node) = self.nodes.remove(path) else {
            return OpResult::Error(ErrorCode::NoNode);
        };
        self.unindex(path, node.stat.ephemeral_owner);
        let mut parent_acl = Vec::new();
        if let Some(p) = self.nodes.get_mut(parent_path) {
            p.children.remove(basename(path));
            p.stat.pzxid = zxid;
            parent_acl = p.acl.clone();
        }
        out.push(Trigger::Deleted {
            path: path.to_string(),
            acl: node.acl,
            parent_acl,
        });
        OpResult::Deleted
    }
}

/// True if `acl` is the default `world:anyone` with all permissions (used by `dump`).
pub fn is_open(acl: &[Acl]) -> bool {
    acl.len() == 1 && acl[0].perms == perms::ALL && acl[0].id == Id::anyone()
}

#[cfg(test)]
mod tests;
