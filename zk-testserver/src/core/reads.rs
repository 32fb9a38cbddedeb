//! Requests that change no state: reads, watch management, sync, whoAmI.

use zk_proto::{
    perms, AddWatchMode, ClientInfo, ErrorCode, ErrorResponse, ExistsResponse, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, MultiOp, MultiResponse, MultiResult, Request, Response, SyncResponse,
    WatcherType, WhoAmIResponse,
};

use super::ServerCore;
use crate::acl;
use crate::tree::Node;
use crate::watch::{ConnId, SetWatchLists};

impl ServerCore {
    fn node_for_read(&self, conn: ConnId, path: &str, perm: i32) -> Result<&Node, ErrorCode> {
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check(&node.acl, perm, self.conn_auth(conn))?;
        Ok(node)
    }

    fn get_data(
        &mut self,
        conn: ConnId,
        path: &str,
        watch: bool,
    ) -> Result<GetDataResponse, ErrorCode> {
        let node = self.node_for_read(conn, path, perms::READ)?;
        let response = GetDataResponse {
            data: node.data.clone(),
            stat: node.to_stat(),
        };
        if watch {
            self.watches.add_data_watch(path, conn);
        }
        Ok(response)
    }

    fn get_children(
        &mut self,
        conn: ConnId,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, zk_proto::Stat), ErrorCode> {
        let node = self.node_for_read(conn, path, perms::READ)?;
        let children = node.children.iter().cloned().collect();
        let stat = node.to_stat();
        if watch {
            self.watches.add_child_watch(path, conn);
        }
        Ok((children, stat))
    }

    /// Answers a read-like request; events it produces (setWatches) are queued first.
    pub(super) fn read(
        &mut self,
        conn: ConnId,
        session_id: i64,
        request: &Request,
    ) -> Result<Option<Response>, ErrorCode> {
        let body = match request {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                if r.watch {
                    self.watches.add_data_watch(&r.path, conn);
                }
                let node = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                Response::Exists(ExistsResponse {
                    stat: node.to_stat(),
                })
            }
            Request::GetData(r) => Response::GetData(self.get_data(conn, &r.path, r.watch)?),
            Request::GetChildren(r) => {
                let (children, _) = self.get_children(conn, &r.path, r.watch)?;
                Response::GetChildren(GetChildrenResponse { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.get_children(conn, &r.path, r.watch)?;
                Response::GetChildren2(GetChildren2Response { children, stat })
            }
            Request::GetAcl(r) => {
                let node = self.node_for_read(conn, &r.path, perms::READ | perms::ADMIN)?;
                let admin = acl::check(&node.acl, perms::ADMIN, self.conn_auth(conn)).is_ok();
                let acl = if admin {
                    node.acl.clone()
                } else {
                    acl::mask_digests(&node.acl)
                };
                Response::GetAcl(GetAclResponse {
                    acl,
                    stat: node.to_stat(),
                })
            }
            Request::Sync(r) => Response::Sync(SyncResponse {
                path: r.path.clone(),
            }),
            Request::GetAllChildrenNumber(r) => {
                self.node_for_read(conn, &r.path, perms::READ)?;
                let n = self.tree.descendant_count(&r.path);
                Response::GetAllChildrenNumber(GetAllChildrenNumberResponse {
                    total_number: i32::try_from(n).unwrap_or(i32::MAX),
                })
            }
            Request::GetEphemerals(r) => {
                let prefix = r.prefix_path.trim();
                let ephemerals = self
                    .tree
                    .ephemerals_of(session_id)
                    .into_iter()
                    .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(&r.prefix_path))
                    .collect();
                Response::GetEphemerals(GetEphemeralsResponse { ephemerals })
            }
            Request::WhoAmI => {
                let client_info = self
                    .conn_auth(conn)
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: if id.scheme == "digest" {
                            id.id.split(':').next().unwrap_or("").to_string()
                        } else {
                            id.id.clone()
                        },
                    })
                    .collect();
                Response::WhoAmI(WhoAmIResponse { client_info })
            }
            Request::AddWatch(r) => {
                let recursive = match r.mode {
                    AddWatchMode::Persistent => false,
                    AddWatchMode::PersistentRecursive => true,
                    _ => return Err(ErrorCode::MarshallingError),
                };
                self.watches.add_persistent(&r.path, conn, recursive);
                Response::AddWatch(ErrorResponse { err: ErrorCode::Ok })
            }
            Request::CheckWatches(r) => {
                check_watcher_type(r.watcher_type)?;
                if !self.watches.contains(&r.path, conn, r.watcher_type) {
                    return Err(ErrorCode::NoWatcher);
                }
                return Ok(None);
            }
            Request::RemoveWatches(r) => {
                check_watcher_type(r.watcher_type)?;
                if !self.watches.remove(&r.path, conn, r.watcher_type) {
                    return Err(ErrorCode::NoWatcher);
                }
                return Ok(None);
            }
            Request::SetWatches(r) => {
                let lists = SetWatchLists {
                    data: &r.data_watches,
                    exist: &r.exist_watches,
                    child: &r.child_watches,
                    persistent: &[],
                    persistent_recursive: &[],
                };
                self.replay_watches(conn, r.relative_zxid, lists);
                return Ok(None);
            }
            Request::SetWatches2(r) => {
                let lists = SetWatchLists {
                    data: &r.data_watches,
                    exist: &r.exist_watches,
                    child: &r.child_watches,
                    persistent: &r.persistent_watches,
                    persistent_recursive: &r.persistent_recursive_watches,
                };
                self.replay_watches(conn, r.relative_zxid, lists);
                return Ok(None);
            }
            Request::MultiRead(m) => {
                let mut results = Vec::with_capacity(m.ops.len());
                for op in &m.ops {
                    let result = match op {
                        MultiOp::GetData(r) => self
                            .get_data(conn, &r.path, r.watch)
                            .map(MultiResult::GetData),
                        MultiOp::GetChildren(r) => {
                            self.get_children(conn, &r.path, r.watch)
                                .map(|(children, _)| {
                                    MultiResult::GetChildren(GetChildrenResponse { children })
                                })
                        }
                        _ => return Err(ErrorCode::MarshallingError),
                    };
                    results.push(result.unwrap_or_else(MultiResult::Error));
                }
                Response::MultiRead(MultiResponse { results })
            }
            _ => return Err(ErrorCode::Unimplemented),
        };
        Ok(Some(body))
    }

    fn replay_watches(&mut self, conn: ConnId, relative_zxid: i64, lists: SetWatchLists<'_>) {
        let events = self
            .watches
            .set_watches(&self.tree, conn, relative_zxid, lists);
        for (event_type, path) in events {
            self.push_event(conn, -1, event_type, path);
        }
    }
}

fn check_watcher_type(t: WatcherType) -> Result<(), ErrorCode> {
    match t {
        WatcherType::Unknown(_) => Err(ErrorCode::MarshallingError),
        _ => Ok(()),
    }
}
