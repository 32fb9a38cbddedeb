//! The client's watch registry: which watcher wants which events of which path.
//!
//! The server keeps one watch per (connection, path, table); the client keeps every watcher,
//! ref-counted per (path, kind), and fans each server event out to all interested watchers.
//! Keys are server paths (chroot included).

use std::collections::HashMap;

use zk_proto::WatcherType;

use crate::event::EventType;

/// Identifies one watcher (one `OneshotWatcher` or `PersistentWatcher`).
pub(crate) type WatcherId = u64;

/// The kind of a registered watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    /// One-shot data watch (getData, or exists on an existing node).
    Data = 0,
    /// One-shot exist watch (exists on a missing node).
    Exist = 1,
    /// One-shot child watch (getChildren).
    Child = 2,
    /// Persistent watch on one node.
    Persistent = 3,
    /// Persistent recursive watch on a subtree.
    PersistentRecursive = 4,
}

impl WatchKind {
    const ALL: [WatchKind; 5] = [
        WatchKind::Data,
        WatchKind::Exist,
        WatchKind::Child,
        WatchKind::Persistent,
        WatchKind::PersistentRecursive,
    ];

    /// Whether a watch of this kind survives its first event.
    pub(crate) fn is_persistent(self) -> bool {
        matches!(self, WatchKind::Persistent | WatchKind::PersistentRecursive)
    }

    /// Whether the server keeps this kind in its data table / child table.
    fn tables(self) -> (bool, bool) {
        match self {
            WatchKind::Data | WatchKind::Exist => (true, false),
            WatchKind::Child => (false, true),
            // Servers (3.6 – 3.8) keep persistent and recursive watches in both tables.
            WatchKind::Persistent | WatchKind::PersistentRecursive => (true, true),
        }
    }
}

/// What a request asks to register once it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchIntent {
    /// getData with watch: a data watch on success.
    Data,
    /// exists with watch: a data watch if the node exists, an exist watch on NoNode.
    Exists,
    /// getChildren with watch: a child watch on success.
    Child,
    /// addWatch persistent.
    Persistent,
    /// addWatch persistent recursive.
    PersistentRecursive,
}

impl WatchIntent {
    fn tables(self) -> (bool, bool) {
        match self {
            WatchIntent::Data | WatchIntent::Exists => (true, false),
            WatchIntent::Child => (false, true),
            WatchIntent::Persistent | WatchIntent::PersistentRecursive => (true, true),
        }
    }

    /// The kind registered for a reply: `ok` when the request succeeded, `no_node` when it
    /// failed with NoNode.
    pub(crate) fn outcome(self, ok: bool, no_node: bool) -> Option<WatchKind> {
        match (self, ok, no_node) {
            (WatchIntent::Exists, true, _) => Some(WatchKind::Data),
            (WatchIntent::Exists, false, true) => Some(WatchKind::Exist),
            (_, false, _) => None,
            (WatchIntent::Data, true, _) => Some(WatchKind::Data),
            (WatchIntent::Child, true, _) => Some(WatchKind::Child),
            (WatchIntent::Persistent, true, _) => Some(WatchKind::Persistent),
            (WatchIntent::PersistentRecursive, true, _) => Some(WatchKind::PersistentRecursive),
        }
    }
}

#[derive(Debug, Default)]
struct PathWatches {
    by_kind: [Vec<WatcherId>; 5],
    /// Requests in flight that will set a watch in the data / child table.
    pending_data: u32,
    pending_child: u32,
}

impl PathWatches {
    fn data_table_empty(&self) -> bool {
        self.pending_data == 0
            && [
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ]
            .iter()
            .all(|k| self.by_kind[*k as usize].is_empty())
    }

    fn child_table_empty(&self) -> bool {
        self.pending_child == 0
            && self.by_kind[WatchKind::Child as usize].is_empty()
            && self.by_kind[WatchKind::Persistent as usize].is_empty()
            && self.by_kind[WatchKind::PersistentRecursive as usize].is_empty()
    }

    fn is_empty(&self) -> bool {
        self.data_table_empty() && self.child_table_empty()
    }
}

#[derive(Debug)]
struct Watcher {
    path: String,
    /// `None` while its request is in flight.
    kind: Option<WatchKind>,
}

/// Server watches that no client watcher needs any more: send removeWatches for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Orphaned {
    pub(crate) path: String,
    pub(crate) types: Vec<WatcherType>,
}

/// The watch lists of a setWatches2 replay.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WatchLists {
    pub(crate) data: Vec<String>,
    pub(crate) exist: Vec<String>,
    pub(crate) child: Vec<String>,
    pub(crate) persistent: Vec<String>,
    pub(crate) recursive: Vec<String>,
}

/// The registry.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    paths: HashMap<String, PathWatches>,
    watchers: HashMap<WatcherId, Watcher>,
    recursive: usize,
}

impl Registry {
    /// Records a watcher whose request is being sent.
    pub(crate) fn intend(&mut self, id: WatcherId, path: String, intent: WatchIntent) {
        let entry = self.paths.entry(path.clone()).or_default();
        let (data, child) = intent.tables();
        entry.pending_data += u32::from(data);
        entry.pending_child += u32::from(child);
        self.watchers.insert(id, Watcher { path, kind: None });
    }

    /// Settles a pending watcher when its reply arrives (`kind = None`: the server set no
    /// watch). Returns server watches to remove when the watcher was dropped meanwhile and
    /// nobody else needs the server watch.
    pub(crate) fn settle(
        &mut self,
        id: WatcherId,
        path: &str,
        intent: WatchIntent,
        kind: Option<WatchKind>,
    ) -> Option<Orphaned> {
        let (data, child) = intent.tables();
        if let Some(entry) = self.paths.get_mut(path) {
            entry.pending_data -= u32::from(data);
            entry.pending_child -= u32::from(child);
        }
        let alive = self.watchers.get(&id).is_some_and(|w| w.kind.is_none());
        match (alive, kind) {
            (true, Some(kind)) => {
                if let Some(w) = self.watchers.get_mut(&id) {
                    w.kind = Some(kind);
                }
                self.paths.entry(path.to_string()).or_default().by_kind[kind as usize].push(id);
                if kind == WatchKind::PersistentRecursive {
                    self.recursive += 1;
                }
                None
            }
            (true, None) => {
                self.watchers.remove(&id);
                self.prune(path);
                None
            }
            (false, Some(kind)) => {
                // The watcher was dropped while its request was in flight, but the server set
                // the watch: remove it there unless someone else uses it.
                let (data, child) = kind.tables();
                self.orphans(path, data, child)
            }
            (false, None) => {
                self.prune(path);
                None
            }
        }
    }

    /// Unregisters a watcher (dropped by its owner). Returns the server watches to remove.
    pub(crate) fn remove(&mut self, id: WatcherId) -> Option<Orphaned> {
        let watcher = self.watchers.remove(&id)?;
        let kind = watcher.kind?; // still pending: `settle` handles it
        if let Some(entry) = self.paths.get_mut(&watcher.path) {
            entry.by_kind[kind as usize].retain(|w| *w != id);
        }
        if kind == WatchKind::PersistentRecursive {
            self.recursive -= 1;
        }
        let (data, child) = kind.tables();
        self.orphans(&watcher.path, data, child)
    }

    fn orphans(&mut self, path: &str, data: bool, child: bool) -> Option<Orphaned> {
        let entry = self.paths.get(path);
        let data_empty = entry.map_or(true, PathWatches::data_table_empty);
        let child_empty = entry.map_or(true, PathWatches::child_table_empty);
        self.prune(path);
        let mut types = Vec::new();
        if data && data_empty {
            types.push(WatcherType::Data);
        }
        if child && child_empty {
            types.push(WatcherType::Children);
        }
        (!types.is_empty()).then(|| Orphaned {
            path: path.to_string(),
            types,
        })
    }

    fn prune(&mut self, path: &str) {
        if self.paths.get(path).is_some_and(PathWatches::is_empty) {
            self.paths.remove(path);
        }
    }

    /// The watchers a server event goes to, in registration order per kind; one-shot watchers
    /// are unregistered.
    pub(crate) fn dispatch(&mut self, event: EventType, path: &str) -> Vec<WatcherId> {
        let kinds: &[WatchKind] = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist, WatchKind::Persistent]
            }
            EventType::NodeDeleted => &[
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Child,
                WatchKind::Persistent,
            ],
            EventType::NodeChildrenChanged => &[WatchKind::Child, WatchKind::Persistent],
            _ => &[],
        };
        let mut out = Vec::new();
        if let Some(entry) = self.paths.get_mut(path) {
            for kind in kinds {
                let ids = &mut entry.by_kind[*kind as usize];
                if kind.is_persistent() {
                    out.extend_from_slice(ids);
                } else {
                    for id in ids.drain(..) {
                        self.watchers.remove(&id);
                        out.push(id);
                    }
                }
            }
        }
        if self.recursive > 0 && event != EventType::NodeChildrenChanged {
            let mut current = Some(path);
            while let Some(p) = current {
                if let Some(entry) = self.paths.get(p) {
                    out.extend_from_slice(&entry.by_kind[WatchKind::PersistentRecursive as usize]);
                }
                current = zk_proto::path::parent(p);
            }
        }
        self.prune(path);
        out
    }

    /// Unregisters the watchers of `path` matching `types` (client-side part of
    /// removeWatches) and returns them with the event each gets.
    pub(crate) fn remove_matching(
        &mut self,
        path: &str,
        kind: WatcherType,
    ) -> Vec<(WatcherId, EventType)> {
        let kinds: &[WatchKind] = match kind {
            WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
            _ => &WatchKind::ALL,
        };
        let mut out = Vec::new();
        if let Some(entry) = self.paths.get_mut(path) {
            for kind in kinds {
                let event = match kind {
                    WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
                    WatchKind::Child => EventType::ChildWatchRemoved,
                    _ => EventType::PersistentWatchRemoved,
                };
                for id in entry.by_kind[*kind as usize].drain(..) {
                    self.watchers.remove(&id);
                    if *kind == WatchKind::PersistentRecursive {
                        self.recursive -= 1;
                    }
                    out.push((id, event));
                }
            }
        }
        self.prune(path);
        out
    }

    /// Unregisters every settled one-shot watcher (the session expired) and returns them.
    /// Persistent watchers and those whose request is still queued stay.
    pub(crate) fn take_one_shots(&mut self) -> Vec<WatcherId> {
        let mut out = Vec::new();
        for entry in self.paths.values_mut() {
            for kind in [WatchKind::Data, WatchKind::Exist, WatchKind::Child] {
                out.append(&mut entry.by_kind[kind as usize]);
            }
        }
        for id in &out {
            self.watchers.remove(id);
        }
        self.paths.retain(|_, entry| !entry.is_empty());
        out.sort_unstable();
        out
    }

    /// Every registered watcher and whether it is persistent.
    pub(crate) fn all(&self) -> impl Iterator<Item = (WatcherId, bool)> + '_ {
        self.watchers
            .iter()
            .filter_map(|(id, w)| w.kind.map(|k| (*id, k.is_persistent())))
    }

    /// Forgets every watcher.
    pub(crate) fn clear(&mut self) {
        self.paths.clear();
        self.watchers.clear();
        self.recursive = 0;
    }

    /// The paths to re-register after a reconnect.
    pub(crate) fn lists(&self) -> WatchLists {
        let mut lists = WatchLists::default();
        let mut paths: Vec<&String> = self.paths.keys().collect();
        paths.sort();
        for path in paths {
            let entry = &self.paths[path];
            for kind in WatchKind::ALL {
                if entry.by_kind[kind as usize].is_empty() {
                    continue;
                }
                let list = match kind {
                    WatchKind::Data => &mut lists.data,
                    WatchKind::Exist => &mut lists.exist,
                    WatchKind::Child => &mut lists.child,
                    WatchKind::Persistent => &mut lists.persistent,
                    WatchKind::PersistentRecursive => &mut lists.recursive,
                };
                list.push(path.clone());
            }
        }
        lists
    }

    /// The number of registered (settled) watchers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.all().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(reg: &mut Registry, id: WatcherId, path: &str, intent: WatchIntent) {
        reg.intend(id, path.into(), intent);
        let kind = intent.outcome(true, false);
        assert_eq!(reg.settle(id, path, intent, kind), None);
    }

    #[test]
    fn one_shot_and_persistent_dispatch() {
        let mut reg = Registry::default();
        registered(&mut reg, 1, "/a", WatchIntent::Data);
        registered(&mut reg, 2, "/a", WatchIntent::Data);
        registered(&mut reg, 3, "/a", WatchIntent::Child);
        registered(&mut reg, 4, "/", WatchIntent::PersistentRecursive);
        registered(&mut reg, 5, "/a", WatchIntent::Persistent);
        assert_eq!(
            reg.dispatch(EventType::NodeDataChanged, "/a"),
            vec![1, 2, 5, 4]
        );
        // One-shots are gone, persistent ones stay.
        assert_eq!(reg.dispatch(EventType::NodeDataChanged, "/a"), vec![5, 4]);
        assert_eq!(
            reg.dispatch(EventType::NodeChildrenChanged, "/a"),
            vec![3, 5]
        );
        assert_eq!(reg.dispatch(EventType::NodeCreated, "/a/b/c"), vec![4]);
        assert_eq!(reg.len(), 2);
    }

    #[test]
    fn exists_on_missing_node_is_an_exist_watch() {
        let mut reg = Registry::default();
        reg.intend(1, "/x".into(), WatchIntent::Exists);
        let kind = WatchIntent::Exists.outcome(false, true);
        assert_eq!(kind, Some(WatchKind::Exist));
        reg.settle(1, "/x", WatchIntent::Exists, kind);
        assert_eq!(reg.lists().exist, vec!["/x".to_string()]);
        assert_eq!(reg.dispatch(EventType::NodeCreated, "/x"), vec![1]);
        assert!(reg.lists().exist.is_empty());
    }

    #[test]
    fn last_drop_orphans_the_server_watch() {
        let mut reg = Registry::default();
        registered(&mut reg, 1, "/a", WatchIntent::Data);
        registered(&mut reg, 2, "/a", WatchIntent::Data);
        assert_eq!(reg.remove(1), None);
        assert_eq!(
            reg.remove(2),
            Some(Orphaned {
                path: "/a".into(),
                types: vec![WatcherType::Data]
            })
        );
        registered(&mut reg, 3, "/p", WatchIntent::Persistent);
        assert_eq!(
            reg.remove(3).unwrap().types,
            vec![WatcherType::Data, WatcherType::Children]
        );
        // A recursive watch occupies both server tables too: removing it clears both, but
        // not while a one-shot child watch on the same path still needs the child table.
        registered(&mut reg, 4, "/r", WatchIntent::PersistentRecursive);
        registered(&mut reg, 5, "/r", WatchIntent::Child);
        assert_eq!(reg.remove(4).unwrap().types, vec![WatcherType::Data]);
        assert_eq!(reg.remove(5).unwrap().types, vec![WatcherType::Children]);
        registered(&mut reg, 6, "/r", WatchIntent::PersistentRecursive);
        assert_eq!(
            reg.remove(6).unwrap().types,
            vec![WatcherType::Data, WatcherType::Children]
        );
        assert!(reg.paths.is_empty());
    }

    #[test]
    fn dropped_while_pending() {
        let mut reg = Registry::default();
        reg.intend(1, "/a".into(), WatchIntent::Data);
        reg.intend(2, "/a".into(), WatchIntent::Data);
        assert_eq!(reg.remove(1), None);
        // 2 is still pending on the same table: no removal yet.
        assert_eq!(
            reg.settle(1, "/a", WatchIntent::Data, Some(WatchKind::Data)),
            None
        );
        assert_eq!(reg.remove(2), None);
        assert_eq!(
            reg.settle(2, "/a", WatchIntent::Data, Some(WatchKind::Data))
                .map(|o| o.types),
            Some(vec![WatcherType::Data])
        );
        assert!(reg.paths.is_empty());
        assert!(reg.watchers.is_empty());
    }

    #[test]
    fn lists_and_remove_matching() {
        let mut reg = Registry::default();
        registered(&mut reg, 1, "/a", WatchIntent::Data);
        registered(&mut reg, 2, "/b", WatchIntent::Child);
        registered(&mut reg, 3, "/c", WatchIntent::PersistentRecursive);
        let lists = reg.lists();
        assert_eq!(lists.data, vec!["/a".to_string()]);
        assert_eq!(lists.child, vec!["/b".to_string()]);
        assert_eq!(lists.recursive, vec!["/c".to_string()]);
        assert_eq!(
            reg.remove_matching("/c", WatcherType::Any),
            vec![(3, EventType::PersistentWatchRemoved)]
        );
        assert_eq!(reg.recursive, 0);
    }
}
