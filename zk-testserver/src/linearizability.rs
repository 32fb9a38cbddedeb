//! A linearizability checker for histories of ZooKeeper nodes used as registers.
//!
//! Each node (a *key*) is a register holding a value and a version, changed by `setData`
//! (unconditional, [`Call::Write`]) and versioned `setData` ([`Call::CompareAndSet`]: it
//! applies if the version matches and fails with BadVersion otherwise), and observed by
//! `getData` ([`Call::Read`]). A test records every operation with the time it was invoked and
//! the time its answer came back; an operation without an answer (connection loss, timeout)
//! has the [`Outcome::Unknown`] outcome: it may have taken effect at any time after its
//! invocation, or never.
//!
//! [`Checker::check`] decides whether the history is linearizable: whether every operation
//! can be given a point in time between its invocation and its completion such that the
//! operations, in that order, are a valid sequential run of the registers. It is the
//! Wing–Gong search with Lowe's memoisation of visited (linearized set, state) pairs, as in
//! Porcupine, over each key separately (linearizability is compositional: a history is
//! linearizable iff its restriction to every key is). The search is exponential in the worst
//! case, so it has a time budget; running out gives [`CheckResult::Inconclusive`].
//!
//! ```
//! use zk_testserver::linearizability::{Call, CheckResult, Checker, Operation, Outcome};
//!
//! let history = vec![
//!     // Client 1 writes "a" during [0, 10]; client 2 reads during [5, 15] and sees it.
//!     Operation::new("/x", Call::Write(b"a".to_vec()), Outcome::written(1), 0, Some(10)),
//!     Operation::new("/x", Call::Read, Outcome::read(b"a", 1), 5, Some(15)),
//!     // A read that starts after the write completed must not see the old value.
//!     Operation::new("/x", Call::Read, Outcome::read(b"", 0), 20, Some(25)),
//! ];
//! match Checker::new().check(&history) {
//!     CheckResult::NotLinearizable(v) => assert_eq!(v.key, "/x"),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(Checker::new().check(&history[..2]), CheckResult::Linearizable);
//! ```
//!
//! Every key starts as `(empty value, version 0)` — a node created empty before the history
//! — unless [`Checker::initial`] says otherwise.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Time in any monotonic unit (e.g. nanoseconds since the test started).
pub type Time = u64;

/// What an operation asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `getData`.
    Read,
    /// `setData` with version -1.
    Write(Vec<u8>),
    /// `setData` with a version: applies only if the node's version is `expected_version`.
    CompareAndSet {
        /// The version the node must have.
        expected_version: i32,
        /// The new value.
        value: Vec<u8>,
    },
}

/// What an operation got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A read saw this value, and this version if known.
    Read {
        /// The data.
        value: Vec<u8>,
        /// `stat.version`, if recorded.
        version: Option<i32>,
    },
    /// A write or compare-and-set applied; the node's new version if known.
    Written {
        /// `stat.version` of the reply, if recorded.
        version: Option<i32>,
    },
    /// A compare-and-set failed with BadVersion (it did not apply).
    BadVersion,
    /// No answer: the operation may have applied at any time after its invocation, or never.
    Unknown,
}

impl Outcome {
    /// A read of `value` at `version`.
    pub fn read(value: &[u8], version: i32) -> Outcome {
        Outcome::Read {
            value: value.to_vec(),
            version: Some(version),
        }
    }

    /// An applied write that produced `version`.
    pub fn written(version: i32) -> Outcome {
        Outcome::Written {
            version: Some(version),
        }
    }
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The register (a node's path).
    pub key: String,
    /// What was asked.
    pub call: Call,
    /// What came back.
    pub outcome: Outcome,
    /// When it was invoked.
    pub invoked: Time,
    /// When its answer arrived; ignored (taken as "never") for [`Outcome::Unknown`].
    pub completed: Option<Time>,
}

impl Operation {
    /// An operation (see the fields).
    pub fn new(
        key: impl Into<String>,
        call: Call,
        outcome: Outcome,
        invoked: Time,
        completed: Option<Time>,
    ) -> Operation {
        Operation {
            key: key.into(),
            call,
            outcome,
            invoked,
            completed,
        }
    }
}

/// A key's history that has no linearization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// Indexes (into the checked history) of the key's operations.
    pub operations: Vec<usize>,
    /// Indexes of the longest sequence of the key's operations the search could linearize,
    /// in linearization order: the culprit is among the operations that could not follow.
    pub longest_linearizable: Vec<usize>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// Every key's history is linearizable.
    Linearizable,
    /// This key's history is not.
    NotLinearizable(Violation),
    /// The time budget ran out on this key before a verdict (no key was found violating).
    Inconclusive {
        /// The key.
        key: String,
    },
}

/// A register's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The data.
    pub value: Vec<u8>,
    /// `stat.version`.
    pub version: i32,
}

/// Checks histories; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Checker {
    initial: HashMap<String, Register>,
    budget: Duration,
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    /// Every key starts empty at version 0; 10 s of search per history.
    pub fn new() -> Checker {
        Checker {
            initial: HashMap::new(),
            budget: Duration::from_secs(10),
        }
    }

    /// The state `key` has before the history.
    pub fn initial(mut self, key: impl Into<String>, value: &[u8], version: i32) -> Checker {
        self.initial.insert(
            key.into(),
            Register {
                value: value.to_vec(),
                version,
            },
        );
        self
    }

    /// How long [`Checker::check`] may search in total (default 10 s).
    pub fn time_budget(mut self, budget: Duration) -> Checker {
        self.budget = budget;
        self
    }

    /// Checks `history` key by key (keys in order of first appearance).
    pub fn check(&self, history: &[Operation]) -> CheckResult {
        let deadline = Instant::now() + self.budget;
        let mut keys: Vec<&str> = Vec::new();
        let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, op) in history.iter().enumerate() {
            let ops = by_key.entry(op.key.as_str()).or_insert_with(|| {
                keys.push(op.key.as_str());
                Vec::new()
            });
            ops.push(i);
        }
        let mut inconclusive = None;
        let empty = Register {
            value: Vec::new(),
            version: 0,
        };
        for key in keys {
            let indexes = &by_key[key];
            let initial = self.initial.get(key).unwrap_or(&empty);
            match search(history, indexes, initial, deadline) {
                Search::Linearizable => {}
                Search::Violation(longest) => {
                    return CheckResult::NotLinearizable(Violation {
                        key: key.to_string(),
                        operations: indexes.clone(),
                        longest_linearizable: longest,
                    })
                }
                Search::OutOfTime => {
                    inconclusive.get_or_insert_with(|| key.to_string());
                }
            }
        }
        match inconclusive {
            Some(key) => CheckResult::Inconclusive { key },
            None => CheckResult::Linearizable,
        }
    }
}

/// A register state with the value interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    value: u32,
    version: i32,
}

/// One operation of a key, prepared for the search.
#[derive(Debug, Clone)]
struct Op {
    /// Index in the checked history.
    index: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Read {
        value: u32,
        version: Option<i32>,
    },
    Write {
        value: u32,
        version: Option<i32>,
        known: bool,
    },
    Cas {
        expected: i32,
        value: u32,
        version: Option<i32>,
    },
    CasFailed {
        expected: i32,
    },
    CasUnknown {
        expected: i32,
        value: u32,
    },
    /// An outcome that does not fit its call: never linearizable.
    Impossible,
}

impl Kind {
    /// The states the op may lead to from `s` (none: it cannot happen now).
    fn step(self, s: State) -> ([Option<State>; 2], usize) {
        let applied = |value, version: Option<i32>| {
            let next = State {
                value,
                version: s.version.wrapping_add(1),
            };
            version_ok(version, next.version).then_some(next)
        };
        let states = match self {
            Kind::Read { value, version } => {
                let ok = s.value == value && version_ok(version, s.version);
                [ok.then_some(s), None]
            }
            Kind::Write {
                value,
                version,
                known: true,
            } => [applied(value, version), None],
            Kind::Write { value, .. } => [applied(value, None), Some(s)],
            Kind::Cas {
                expected,
                value,
                version,
            } => [
                (s.version == expected)
                    .then(|| applied(value, version))
                    .flatten(),
                None,
            ],
            Kind::CasFailed { expected } => [(s.version != expected).then_some(s), None],
            Kind::CasUnknown { expected, value } => [
                (s.version == expected)
                    .then(|| applied(value, None))
                    .flatten(),
                Some(s),
            ],
            Kind::Impossible => [None, None],
        };
        (states, 2)
    }
}

/// Whether a recorded version (if any) is `actual`.
fn version_ok(recorded: Option<i32>, actual: i32) -> bool {
    recorded.map_or(true, |v| v == actual)
}

enum Search {
    Linearizable,
    Violation(Vec<usize>),
    OutOfTime,
}

/// Interns values so states are small and cheap to hash.
#[derive(Default)]
struct Values<'a> {
    ids: HashMap<&'a [u8], u32>,
}

impl<'a> Values<'a> {
    fn id(&mut self, v: &'a [u8]) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        *self.ids.entry(v).or_insert(next)
    }
}

/// The Wing–Gong–Lowe search over one key's operations.
fn search(
    history: &[Operation],
    indexes: &[usize],
    initial: &Register,
    deadline: Instant,
) -> Search {
    let mut values = Values::default();
    let mut ops = Vec::new();
    // (time, is_return, op): calls sort before returns at equal times (overlap = concurrent).
    let mut events: Vec<(Time, bool, usize)> = Vec::new();
    for &index in indexes {
        let op = &history[index];
        let kind = match (&op.call, &op.outcome) {
            (Call::Read, Outcome::Read { value, version }) => Kind::Read {
                value: values.id(value),
                version: *version,
            },
            // An unanswered read constrains nothing.
            (Call::Read, Outcome::Unknown) => continue,
            (Call::Write(v), Outcome::Written { version }) => Kind::Write {
                value: values.id(v),
                version: *version,
                known: true,
            },
            (Call::Write(v), Outcome::Unknown) => Kind::Write {
                value: values.id(v),
                version: None,
                known: false,
            },
            (
                Call::CompareAndSet {
                    expected_version,
                    value,
                },
                outcome,
            ) => match outcome {
                Outcome::Written { version } => Kind::Cas {
                    expected: *expected_version,
                    value: values.id(value),
                    version: *version,
                },
                Outcome::BadVersion => Kind::CasFailed {
                    expected: *expected_version,
                },
                Outcome::Unknown => Kind::CasUnknown {
                    expected: *expected_version,
                    value: values.id(value),
                },
                Outcome::Read { .. } => Kind::Impossible,
            },
            _ => Kind::Impossible,
        };
        let completed = match op.outcome {
            Outcome::Unknown => Time::MAX,
            _ => op.completed.unwrap_or(Time::MAX),
        };
        let n = ops.len();
        ops.push(Op { index, kind });
        events.push((op.invoked, false, n));
        events.push((completed.max(op.invoked), true, n));
    }
    events.sort_by_key(|&(t, ret, n)| (t, ret, n));
    let mut state = State {
        value: values.id(&initial.value),
        version: initial.version,
    };
    let mut list = List::new(&events, ops.len());
    let mut linearized = vec![0u64; ops.len().div_ceil(64)];
    let mut seen: HashSet<(Vec<u64>, State)> = HashSet::new();
    // (call entry, state before it, the candidate taken)
    let mut stack: Vec<(usize, State, usize)> = Vec::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut entry = list.first();
    let mut candidate = 0;
    let mut steps: u64 = 0;
    while let Some(e) = entry {
        steps += 1;
        if steps % 1024 == 0 && Instant::now() >= deadline {
            return Search::OutOfTime;
        }
        let (_, is_return, n) = events[e];
        if !is_return {
            let (next, count) = ops[n].kind.step(state);
            let mut taken = None;
            for (c, next) in next.iter().enumerate().take(count).skip(candidate) {
                let Some(next) = *next else { continue };
                linearized[n / 64] |= 1 << (n % 64);
                if seen.insert((linearized.clone(), next)) {
                    taken = Some((c, next));
                    break;
                }
                linearized[n / 64] &= !(1 << (n % 64));
            }
            candidate = 0;
            match taken {
                Some((c, next)) => {
                    stack.push((e, state, c));
                    state = next;
                    list.lift(e);
                    if stack.len() > longest.len() {
                        longest = stack
                            .iter()
                            .map(|&(e, _, _)| ops[events[e].2].index)
                            .collect();
                    }
                    entry = list.first();
                }
                None => entry = list.next(e),
            }
        } else {
            // An operation's return came before it was linearized: undo the last choice.
            let Some((e, before, c)) = stack.pop() else {
                return Search::Violation(longest);
            };
            let n = events[e].2;
            linearized[n / 64] &= !(1 << (n % 64));
            list.unlift(e);
            state = before;
            // Try the call's next candidate; past the last, move on to the next entry.
            entry = Some(e);
            candidate = c + 1;
        }
    }
    Search::Linearizable
}

/// A doubly linked list over the sorted call/return events, with O(1) removal of an
/// operation's two events and restoration in reverse order.
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// For each call event, its return event.
    partner: Vec<usize>,
}

impl List {
    /// Index 0 is the head sentinel; event `i` is node `i + 1`.
    fn new(events: &[(Time, bool, usize)], ops: usize) -> List {
        let len = events.len() + 1;
        let mut ret_of = vec![0; ops];
        for (i, &(_, is_return, n)) in events.iter().enumerate() {
            if is_return {
                ret_of[n] = i;
            }
        }
        let partner = events
            .iter()
            .map(|&(_, is_return, n)| if is_return { usize::MAX } else { ret_of[n] })
            .collect();
        List {
            next: (0..len).map(|i| i + 1).collect(),
            prev: (0..len).map(|i| i.wrapping_sub(1)).collect(),
            partner,
        }
    }

    fn node_to_event(&self, node: usize) -> Option<usize> {
        (node < self.next.len()).then(|| node - 1)
    }

    fn first(&self) -> Option<usize> {
        self.node_to_event(self.next[0])
    }

    fn next(&self, event: usize) -> Option<usize> {
        self.node_to_event(self.next[event + 1])
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n < self.prev.len() {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n < self.prev.len() {
            self.prev[n] = node;
        }
    }

    /// Removes a call event and its return.
    fn lift(&mut self, call: usize) {
        self.unlink(call + 1);
        self.unlink(self.partner[call] + 1);
    }

    /// Restores what [`List::lift`] removed (the most recent lift first).
    fn unlift(&mut self, call: usize) {
        self.relink(self.partner[call] + 1);
        self.relink(call + 1);
    }
}

#[cfg(test)]
mod tests;
