//! The watch manager: which connection watches which path, and which events a change fires.
//!
//! Two tables, as in ZooKeeper: the *data* table (getData, exists, persistent and persistent
//! recursive watches) and the *child* table (getChildren, persistent and persistent recursive
//! watches: ZooKeeper 3.8's `DataTree.addWatch` puts both persistent modes in both tables).
//! Each entry has one mode per (connection, path), as ZooKeeper's `WatcherModeManager` keeps
//! it: setting a standard watch where a persistent one exists turns it into a standard one,
//! and a recursive watch replaces a child watch of the same connection on the same path, so
//! that connection then gets no NodeChildrenChanged for that path (real 3.8 behaves so; 3.9
//! keeps several modes per path).
//!
//! Trigger rules ([`WatchManager::trigger`]):
//! - create P: NodeCreated from the data table at P; NodeChildrenChanged from the child table
//!   at parent(P);
//! - delete P: NodeDeleted from the data table and the child table at P (once per connection),
//!   then NodeChildrenChanged at parent(P);
//! - setData P: NodeDataChanged from the data table at P.
//!
//! Recursive watches on any ancestor of P see every event but NodeChildrenChanged. Standard
//! watches are consumed when they fire; persistent ones stay.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use zk_proto::path::parent;
use zk_proto::{EventType, WatcherType};

use crate::tree::DataTree;
use crate::txn::Trigger;

/// A connection, as the server core numbers them.
pub type ConnId = u64;

/// How a watch behaves when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchMode {
    /// Fires once.
    Standard,
    /// Fires on every change to the node (and its children list).
    Persistent,
    /// Fires on every change to the node or a descendant, except child-list changes.
    PersistentRecursive,
}

type Table = HashMap<String, HashMap<ConnId, WatchMode>>;

/// One event to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The watching connection.
    pub conn: ConnId,
    /// The event type.
    pub event_type: EventType,
    /// The path in the event.
    pub path: String,
    /// True if the event concerns the parent of the changed node (NodeChildrenChanged), so
    /// its READ check uses the parent's ACL.
    pub on_parent: bool,
}

/// Watch tables of one server.
#[derive(Debug, Default, Clone)]
pub struct WatchManager {
    data: Table,
    child: Table,
    /// Recursive entries in the data table and in the child table: a table with none needs
    /// no walk over a changed node's ancestors.
    recursive: usize,
    child_recursive: usize,
}

fn add(table: &mut Table, path: &str, conn: ConnId, mode: WatchMode) -> Option<WatchMode> {
    table
        .entry(path.to_string())
        .or_default()
        .insert(conn, mode)
}

/// A table's recursive count after an entry changed from `old` to `new`.
fn recount(count: usize, old: Option<WatchMode>, new: Option<WatchMode>) -> usize {
    let rec = |m: Option<WatchMode>| usize::from(m == Some(WatchMode::PersistentRecursive));
    count + rec(new) - rec(old)
}

fn remove_entry(table: &mut Table, path: &str, conn: ConnId) -> Option<WatchMode> {
    let set = table.get_mut(path)?;
    let old = set.remove(&conn);
    if set.is_empty() {
        table.remove(path);
    }
    old
}

impl WatchManager {
    /// An empty manager.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    fn set_data(&mut self, path: &str, conn: ConnId, mode: WatchMode) {
        let old = add(&mut self.data, path, conn, mode);
        self.recursive = recount(self.recursive, old, Some(mode));
    }

    fn set_child(&mut self, path: &str, conn: ConnId, mode: WatchMode) {
        let old = add(&mut self.child, path, conn, mode);
        self.child_recursive = recount(self.child_recursive, old, Some(mode));
    }

    fn recount_all(&mut self) {
        let count = |t: &Table| {
            t.values()
                .flat_map(HashMap::values)
                .filter(|m| **m == WatchMode::PersistentRecursive)
                .count()
        };
        self.recursive = count(&self.data);
        self.child_recursive = count(&self.child);
    }

    /// A one-shot data/exist watch (getData, exists).
    pub fn add_data_watch(&mut self, path: &str, conn: ConnId) {
        self.set_data(path, conn, WatchMode::Standard);
    }

    /// A one-shot child watch (getChildren).
    pub fn add_child_watch(&mut self, path: &str, conn: ConnId) {
        self.set_child(path, conn, WatchMode::Standard);
    }

    /// addWatch: persistent or persistent recursive, in both tables (as ZooKeeper 3.8 does).
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        let mode = if recursive {
            WatchMode::PersistentRecursive
        } else {
            WatchMode::Persistent
        };
        self.set_data(path, conn, mode);
        self.set_child(path, conn, mode);
    }

    /// Drops every watch of a connection (it closed).
    pub fn remove_connection(&mut self, conn: ConnId) {
        for table in [&mut self.data, &mut self.child] {
            table.retain(|_, set| {
                set.remove(&conn);
                !set.is_empty()
            });
        }
        self.recount_all();
    }

    fn matches(&self, path: &str, conn: ConnId, kind: WatcherType) -> (bool, bool) {
        let data = self.data.get(path).and_then(|s| s.get(&conn)).copied();
        let child = self.child.get(path).and_then(|s| s.get(&conn)).copied();
        match kind {
            WatcherType::Children => (false, child.is_some()),
            WatcherType::Data => (data.is_some(), false),
            WatcherType::Persistent => (
                data == Some(WatchMode::Persistent),
                child == Some(WatchMode::Persistent),
            ),
            WatcherType::PersistentRecursive => (
                data == Some(WatchMode::PersistentRecursive),
                child == Some(WatchMode::PersistentRecursive),
            ),
            _ => (data.is_some(), child.is_some()),
        }
    }

    /// checkWatches: whether `conn` has a watch of `kind` on `path`.
    pub fn contains(&self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        let (d, c) = self.matches(path, conn, kind);
        d || c
    }

    /// removeWatches: removes the matching watches; false if there were none.
    pub fn remove(&mut self, path: &str, conn: ConnId, kind: WatcherType) -> bool {
        let (d, c) = self.matches(path, conn, kind);
        if d {
            let old = remove_entry(&mut self.data, path, conn);
            self.recursive = recount(self.recursive, old, None);
        }
        if c {
            let old = remove_entry(&mut self.child, path, conn);
            self.child_recursive = recount(self.child_recursive, old, None);
        }
        d || c
    }

    fn fire_table(
        table: &mut Table,
        walk_parents: bool,
        path: &str,
        event_type: EventType,
        suppress: &HashSet<ConnId>,
    ) -> HashSet<ConnId> {
        let mut hit = HashSet::new();
        let mut current = Some(path);
        let mut at_path = true;
        while let Some(p) = current {
            if let Some(set) = table.get_mut(p) {
                set.retain(|conn, mode| {
                    match mode {
                        WatchMode::PersistentRecursive
                            if event_type != EventType::NodeChildrenChanged =>
                        {
                            hit.insert(*conn);
                        }
                        WatchMode::Persistent if at_path => {
                            hit.insert(*conn);
                        }
                        WatchMode::Standard if at_path => {
                            hit.insert(*conn);
                            return false;
                        }
                        _ => {}
                    }
                    true
                });
                if set.is_empty() {
                    table.remove(p);
                }
            }
            if !walk_parents {
                break;
            }
            current = parent(p);
            at_path = false;
        }
        hit.retain(|c| !suppress.contains(c));
        hit
    }

    fn fire(
        &mut self,
        data_table: bool,
        path: &str,
        event_type: EventType,
        suppress: &HashSet<ConnId>,
    ) -> HashSet<ConnId> {
        if data_table {
            let walk = self.recursive > 0;
            WatchManager::fire_table(&mut self.data, walk, path, event_type, suppress)
        } else {
            let walk = self.child_recursive > 0;
            WatchManager::fire_table(&mut self.child, walk, path, event_type, suppress)
        }
    }

    /// The events a change fires, in delivery order; consumed standard watches are removed.
    pub fn trigger(&mut self, trigger: &Trigger) -> Vec<Fired> {
        let none = HashSet::new();
        let mut out = Vec::new();
        let mut push = |conns: HashSet<ConnId>, t: EventType, path: &str, on_parent: bool| {
            let mut conns: Vec<ConnId> = conns.into_iter().collect();
            conns.sort_unstable();
            for conn in conns {
                out.push(Fired {
                    conn,
                    event_type: t,
                    path: path.to_string(),
                    on_parent,
                });
            }
        };
        match trigger {
            Trigger::Created { path, .. } => {
                let hit = self.fire(true, path, EventType::NodeCreated, &none);
                push(hit, EventType::NodeCreated, path, false);
                if let Some(p) = parent(path) {
                    let hit = self.fire(false, p, EventType::NodeChildrenChanged, &none);
                    push(hit, EventType::NodeChildrenChanged, p, true);
                }
            }
            Trigger::Deleted { path, .. } => {
                let first = self.fire(true, path, EventType::NodeDeleted, &none);
                let second = self.fire(false, path, EventType::NodeDeleted, &first);
                push(first, EventType::NodeDeleted, path, false);
                push(second, EventType::NodeDeleted, path, false);
                if let Some(p) = parent(path) {
                    let hit = self.fire(false, p, EventType::NodeChildrenChanged, &none);
                    push(hit, EventType::NodeChildrenChanged, p, true);
                }
            }
            Trigger::DataChanged { path, .. } => {
                let hit = self.fire(true, path, EventType::NodeDataChanged, &none);
                push(hit, EventType::NodeDataChanged, path, false);
            }
        }
        self.recount_all();
        out
    }

    /// setWatches/setWatches2 replay for `conn` after a reconnect: events for what changed
    /// after `relative_zxid` (returned, to be sent with zxid -1), watches re-armed otherwise.
    pub fn set_watches(
        &mut self,
        tree: &DataTree,
        conn: ConnId,
        relative_zxid: i64,
        lists: SetWatchLists<'_>,
    ) -> Vec<(EventType, String)> {
        let mut events = Vec::new();
        for path in lists.data {
            match tree.get(path) {
                None => events.push((EventType::NodeDeleted, path.clone())),
                Some(n) if n.stat.mzxid > relative_zxid => {
                    events.push((EventType::NodeDataChanged, path.clone()))
                }
                Some(_) => self.add_data_watch(path, conn),
            }
        }
        for path in lists.exist {
            if tree.get(path).is_some() {
                events.push((EventType::NodeCreated, path.clone()));
            } else {
                self.add_data_watch(path, conn);
            }
        }
        for path in lists.child {
            match tree.get(path) {
                None => events.push((EventType::NodeDeleted, path.clone())),
                Some(n) if n.stat.pzxid > relative_zxid => {
                    events.push((EventType::NodeChildrenChanged, path.clone()))
                }
                Some(_) => self.add_child_watch(path, conn),
            }
        }
        for path in lists.persistent {
            self.add_persistent(path, conn, false);
        }
        for path in lists.persistent_recursive {
            self.add_persistent(path, conn, true);
        }
        events
    }

    /// The total number of (connection, path) watches, as `wchs` counts them.
    pub fn watch_count(&self) -> usize {
        self.data.values().map(HashMap::len).sum::<usize>()
            + self.child.values().map(HashMap::len).sum::<usize>()
    }

    /// Watched paths by connection (`wchc`).
    pub fn by_connection(&self) -> BTreeMap<ConnId, BTreeSet<String>> {
        let mut out: BTreeMap<ConnId, BTreeSet<String>> = BTreeMap::new();
        for table in [&self.data, &self.child] {
            for (path, set) in table {
                for conn in set.keys() {
                    out.entry(*conn).or_default().insert(path.clone());
                }
            }
        }
        out
    }

    /// Watching connections by path (`wchp`).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        let mut out: BTreeMap<String, BTreeSet<ConnId>> = BTreeMap::new();
        for table in [&self.data, &self.child] {
            for (path, set) in table {
                out.entry(path.clone()).or_default().extend(set.keys());
            }
        }
        out
    }
}

/// The path lists of a setWatches / setWatches2 request.
#[derive(Debug, Clone, Copy)]
pub struct SetWatchLists<'a> {
    /// Data watches.
    pub data: &'a [String],
    /// Exist watches.
    pub exist: &'a [String],
    /// Child watches.
    pub child: &'a [String],
    /// Persistent watches.
    pub persistent: &'a [String],
    /// Persistent recursive watches.
    pub persistent_recursive: &'a [String],
}

#[cfg(test)]
mod tests;
