//! Request preparation: validates a write against the current state (plus changes not yet
//! applied) and turns it into a [`Txn`], like ZooKeeper's `PrepRequestProcessor`.
//!
//! Checks run in ZooKeeper's order, so the error code a client sees is the one real ZooKeeper
//! gives. Prepared-but-unapplied changes live in [`Pending`] (ZooKeeper's outstanding change
//! records): a leader that pipelines txns keeps them until they commit; the standalone server
//! clears them after each apply. Ops of a multi are validated against the state left by the
//! earlier ops; a failing op rolls the multi's pending changes back.

use std::collections::HashMap;

use bytes::Bytes;
use zk_proto::path::sequence_suffix;
use zk_proto::{
    perms, validate_path, Acl, CreateMode, ErrorCode, Id, MultiOp, MultiRequest, OpCode, Request,
    StatPersisted, MAX_TTL,
};

use crate::acl;
use crate::tree::{DataTree, NodeKind, CONFIG_NODE, PROC_NODE, QUOTA_NODE};
use crate::txn::Txn;

/// Who is asking, and which optional features are on.
#[derive(Debug, Clone, Copy)]
pub struct PrepContext<'a> {
    /// The requesting session.
    pub session_id: i64,
    /// The connection's identities.
    pub auth: &'a [Id],
    /// `extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// `reconfigEnabled`.
    pub reconfig_enabled: bool,
}

/// What prep knows about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    stat: StatPersisted,
    acl: Vec<Acl>,
    child_count: usize,
}

/// Changes prepared but not yet applied, by path (`None`: deleted), tagged with their zxid.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    changes: HashMap<String, (i64, Option<Record>)>,
}

impl Pending {
    /// Forgets every change (all applied).
    pub fn clear(&mut self) {
        self.changes.clear();
    }

    /// Forgets the changes of txns up to `zxid`, once they are applied.
    pub fn applied_up_to(&mut self, zxid: i64) {
        self.changes.retain(|_, (z, _)| *z > zxid);
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn record(&self, tree: &DataTree, path: &str) -> Result<Record, ErrorCode> {
        if let Some((_, change)) = self.changes.get(path) {
            return change.clone().ok_or(ErrorCode::NoNode);
        }
        tree.get(path)
            .map(|n| Record {
                stat: n.stat.clone(),
                acl: n.acl.clone(),
                child_count: n.children.len(),
            })
            .ok_or(ErrorCode::NoNode)
    }

    fn exists(&self, tree: &DataTree, path: &str) -> bool {
        self.record(tree, path).is_ok()
    }

    fn put(&mut self, zxid: i64, path: &str, record: Option<Record>) {
        self.changes.insert(path.to_string(), (zxid, record));
    }
}

/// One write op, from a top-level request or a multi.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    Create {
        op: OpCode,
        path: &'a str,
        data: &'a Option<Bytes>,
        acl: &'a [Acl],
        flags: i32,
        ttl: i64,
    },
    Delete {
        path: &'a str,
        version: i32,
    },
    DeleteContainer {
        path: &'a str,
    },
    SetData {
        path: &'a str,
        data: &'a Option<Bytes>,
        version: i32,
    },
    SetAcl {
        path: &'a str,
        acl: &'a [Acl],
        version: i32,
    },
    Check {
        path: &'a str,
        version: i32,
    },
}

impl<'a> Op<'a> {
    fn from_multi(op: &'a MultiOp) -> Option<Op<'a>> {
        Some(match op {
            MultiOp::Create(r) => Op::create(OpCode::Create, r),
            MultiOp::Create2(r) => Op::create(OpCode::Create2, r),
            MultiOp::CreateContainer(r) => Op::create(OpCode::CreateContainer, r),
            MultiOp::CreateTtl(r) => Op::Create {
                op: OpCode::CreateTtl,
                path: &r.path,
                data: &r.data,
                acl: &r.acl,
                flags: r.flags,
                ttl: r.ttl,
            },
            MultiOp::Delete(r) => Op::Delete {
                path: &r.path,
                version: r.version,
            },
            MultiOp::SetData(r) => Op::SetData {
                path: &r.path,
                data: &r.data,
                version: r.version,
            },
            MultiOp::Check(r) => Op::Check {
                path: &r.path,
                version: r.version,
            },
            _ => return None,
        })
    }

    fn create(op: OpCode, r: &'a zk_proto::CreateRequest) -> Op<'a> {
        Op::Create {
            op,
            path: &r.path,
            data: &r.data,
            acl: &r.acl,
            flags: r.flags,
            ttl: -1,
        }
    }
}

/// Prepares a write request. Returns `None` for requests that are not writes.
/// Failures come back as [`Txn::Error`] (or a multi of errors), never as `Err`: a failed write
/// still uses up a zxid, as in ZooKeeper.
pub fn prepare(
    tree: &DataTree,
    pending: &mut Pending,
    ctx: &PrepContext<'_>,
    request: &Request,
    zxid: i64,
) -> Option<Txn> {
    let op = match request {
        Request::Create(r) => Op::create(OpCode::Create, r),
        Request::Create2(r) => Op::create(OpCode::Create2, r),
        Request::CreateContainer(r) => Op::create(OpCode::CreateContainer, r),
        Request::CreateTtl(r) => Op::Create {
            op: OpCode::CreateTtl,
            path: &r.path,
            data: &r.data,
            acl: &r.acl,
            flags: r.flags,
            ttl: r.ttl,
        },
        Request::Delete(r) => Op::Delete {
            path: &r.path,
            version: r.version,
        },
        Request::DeleteContainer(r) => Op::DeleteContainer { path: &r.path },
        Request::SetData(r) => Op::SetData {
            path: &r.path,
            data: &r.data,
            version: r.version,
        },
        Request::SetAcl(r) => Op::SetAcl {
            path: &r.path,
            acl: &r.acl,
            version: r.version,
        },
        Request::Multi(m) => return Some(prepare_multi(tree, pending, ctx, m, zxid)),
        Request::Reconfig(_) => {
            // Standalone: disabled, or not supported even when enabled (as in ZooKeeper).
            return Some(Txn::Error(if ctx.reconfig_enabled {
                ErrorCode::Unimplemented
            } else {
                ErrorCode::ReconfigDisabled
            }));
        }
        Request::CloseSession => {
            return Some(Txn::CloseSession {
                session_id: ctx.session_id,
            })
        }
        _ => return None,
    };
    Some(prep_op(tree, pending, ctx, op, zxid).unwrap_or_else(Txn::Error))
}

/// The txn of a `reconfig` on an ensemble member, prepared for `zxid`: `next` computes the
/// new membership's config data (or the replication layer's error: version, arguments,
/// quorum), checked after `reconfigEnabled` and before the write permission on
/// `/zookeeper/config` (only a super user has it), as ZooKeeper's `PrepRequestProcessor`
/// does. The txn sets `/zookeeper/config` with data version -1, which marks it a reconfig.
pub fn prepare_reconfig(
    tree: &DataTree,
    pending: &mut Pending,
    ctx: &PrepContext<'_>,
    zxid: i64,
    next: impl FnOnce() -> Result<Bytes, ErrorCode>,
) -> Txn {
    let result = (|| {
        if !ctx.reconfig_enabled {
            return Err(ErrorCode::ReconfigDisabled);
        }
        let data = next()?;
        let mut node = pending.record(tree, CONFIG_NODE)?;
        acl::check(&node.acl, perms::WRITE, ctx.auth)?;
        node.stat.version = -1;
        node.stat.mzxid = zxid;
        pending.put(zxid, CONFIG_NODE, Some(node));
        Ok(Txn::SetData {
            path: CONFIG_NODE.to_string(),
            data: Some(data),
            version: -1,
        })
    })();
    result.unwrap_or_else(Txn::Error)
}

fn prepare_multi(
    tree: &DataTree,
    pending: &mut Pending,
    ctx: &PrepContext<'_>,
    multi: &MultiRequest,
    zxid: i64,
) -> Txn {
    let saved = pending.clone();
    let mut txns = Vec::with_capacity(multi.ops.len());
    let mut failed = None;
    for (i, op) in multi.ops.iter().enumerate() {
        let result = match Op::from_multi(op) {
            Some(op) => prep_op(tree, pending, ctx, op, zxid),
            None => Err(ErrorCode::MarshallingError),
        };
        match result {
            Ok(txn) => txns.push(txn),
            Err(code) => {
                failed = Some((i, code));
                break;
            }
        }
    }
    let Some((index, code)) = failed else {
        return Txn::Multi(txns);
    };
    *pending = saved;
    let results = (0..multi.ops.len())
        .map(|i| {
            Txn::Error(match i.cmp(&index) {
                std::cmp::Ordering::Less => ErrorCode::Ok,
                std::cmp::Ordering::Equal => code,
                std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
            })
        })
        .collect();
    Txn::Multi(results)
}

/// `%010d` version check with ZOOKEEPER-4743's skip over -1.
fn check_and_inc(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(match current.wrapping_add(1) {
        -1 => 0,
        next => next,
    })
}

fn full_path_check(path: &str) -> Result<(), ErrorCode> {
    validate_path(path, false).map_err(|_| ErrorCode::BadArguments)
}

/// Java's `path.substring(0, lastSlash)` with its root spelled `/`.
fn parent_of(path: &str) -> Result<&str, ErrorCode> {
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    match path.rfind('/') {
        None => Err(ErrorCode::BadArguments),
        Some(0) => Ok("/"),
        Some(i) => Ok(&path[..i]),
    }
}

fn is_special(path: &str) -> bool {
    matches!(path, "/" | PROC_NODE | QUOTA_NODE | CONFIG_NODE)
}

fn prep_op(
    tree: &DataTree,
    pending: &mut Pending,
    ctx: &PrepContext<'_>,
    op: Op<'_>,
    zxid: i64,
) -> Result<Txn, ErrorCode> {
    match op {
        Op::Create {
            op,
            path,
            data,
            acl,
            flags,
            ttl,
        } => prep_create(tree, pending, ctx, op, path, data, acl, flags, ttl, zxid),
        Op::Delete { path, version } => {
            let parent = parent_of(path)?;
            if is_special(path) {
                return Err(ErrorCode::BadArguments);
            }
            let mut parent_rec = pending.record(tree, parent)?;
            acl::check(&parent_rec.acl, perms::DELETE, ctx.auth)?;
            let node = pending.record(tree, path)?;
            check_and_inc(node.stat.version, version)?;
            if node.child_count > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            parent_rec.child_count = parent_rec.child_count.saturating_sub(1);
            parent_rec.stat.pzxid = zxid;
            pending.put(zxid, parent, Some(parent_rec));
            pending.put(zxid, path, None);
            Ok(Txn::Delete {
                path: path.to_string(),
            })
        }
        Op::DeleteContainer { path } => {
            let parent = parent_of(path)?;
            if is_special(path) {
                return Err(ErrorCode::BadArguments);
            }
            let node = pending.record(tree, path)?;
            if node.child_count > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            if NodeKind::of(node.stat.ephemeral_owner).is_ephemeral() {
                return Err(ErrorCode::BadVersion);
            }
            let mut parent_rec = pending.record(tree, parent)?;
            parent_rec.child_count = parent_rec.child_count.saturating_sub(1);
            parent_rec.stat.pzxid = zxid;
            pending.put(zxid, parent, Some(parent_rec));
            pending.put(zxid, path, None);
            Ok(Txn::Delete {
                path: path.to_string(),
            })
        }
        Op::SetData {
            path,
            data,
            version,
        } => {
            full_path_check(path)?;
            let mut node = pending.record(tree, path)?;
            acl::check(&node.acl, perms::WRITE, ctx.auth)?;
            let new_version = check_and_inc(node.stat.version, version)?;
            node.stat.version = new_version;
            node.stat.mzxid = zxid;
            pending.put(zxid, path, Some(node));
            Ok(Txn::SetData {
                path: path.to_string(),
                data: data.clone(),
                version: new_version,
            })
        }
        Op::SetAcl { path, acl, version } => {
            full_path_check(path)?;
            let fixed = acl::fixup(acl, ctx.auth)?;
            let mut node = pending.record(tree, path)?;
            acl::check(&node.acl, perms::ADMIN, ctx.auth)?;
            let new_version = check_and_inc(node.stat.aversion, version)?;
            node.stat.aversion = new_version;
            node.acl = fixed.clone();
            pending.put(zxid, path, Some(node));
            Ok(Txn::SetAcl {
                path: path.to_string(),
                acl: fixed,
                version: new_version,
            })
        }
        Op::Check { path, version } => {
            full_path_check(path)?;
            let node = pending.record(tree, path)?;
            acl::check(&node.acl, perms::READ, ctx.auth)?;
            check_and_inc(node.stat.version, version)?;
            Ok(Txn::Check {
                path: path.to_string(),
                version,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn prep_create(
    tree: &DataTree,
    pending: &mut Pending,
    ctx: &PrepContext<'_>,
    op: OpCode,
    path: &str,
    data: &Option<Bytes>,
    acl: &[Acl],
    flags: i32,
    ttl: i64,
    zxid: i64,
) -> Result<Txn, ErrorCode> {
    let mode = CreateMode::from_code(flags);
    if matches!(mode, CreateMode::Unknown(_)) {
        return Err(ErrorCode::BadArguments);
    }
    if mode.is_ttl() && !ctx.extended_types {
        return Err(ErrorCode::Unimplemented);
    }
    let ttl_ok = if mode.is_ttl() {
        ttl > 0 && ttl <= MAX_TTL
    } else {
        ttl < 0
    };
    if !ttl_ok {
        return Err(ErrorCode::BadArguments);
    }
    let parent = parent_of(path)?;
    let fixed = acl::fixup(acl, ctx.auth)?;
    let mut parent_rec = pending.record(tree, parent)?;
    acl::check(&parent_rec.acl, perms::CREATE, ctx.auth)?;
    let parent_cversion = parent_rec.stat.cversion;
    let path = if mode.is_sequential() {
        format!("{path}{}", sequence_suffix(parent_cversion))
    } else {
        path.to_string()
    };
    full_path_check(&path)?;
    if pending.exists(tree, &path) {
        return Err(ErrorCode::NodeExists);
    }
    if NodeKind::of(parent_rec.stat.ephemeral_owner).is_ephemeral() {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let new_cversion = parent_cversion.wrapping_add(1);
    let _ = op;
    let owner = if mode.is_container() {
        zk_proto::CONTAINER_EPHEMERAL_OWNER
    } else if mode.is_ttl() {
        NodeKind::ttl_owner(ttl)
    } else if mode.is_ephemeral() {
        ctx.session_id
    } else {
        0
    };
    parent_rec.child_count += 1;
    parent_rec.stat.cversion = new_cversion;
    parent_rec.stat.pzxid = zxid;
    pending.put(zxid, parent, Some(parent_rec));
    pending.put(
        zxid,
        &path,
        Some(Record {
            stat: StatPersisted {
                czxid: zxid,
                mzxid: zxid,
                ephemeral_owner: owner,
                pzxid: zxid,
                ..StatPersisted::default()
            },
            acl: fixed.clone(),
            child_count: 0,
        }),
    );
    Ok(Txn::Create {
        path,
        data: data.clone(),
        acl: fixed,
        ephemeral_owner: owner,
        parent_cversion: new_cversion,
    })
}

#[cfg(test)]
mod tests;
