//! The `Client` handle and its operations.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::coop::{unconstrained, Unconstrained};
use zk_proto::{
    AddWatchRequest, CheckWatchesRequest, ClientInfo, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildren2Request, GetDataRequest, GetEphemeralsRequest,
    MultiRequest, MultiResult, OpCode, ReconfigRequest, RemoveWatchesRequest, Request, Response,
    SetAclRequest, Stat, SyncRequest,
};

use crate::builder::ClientBuilder;
use crate::driver::{Command, Published};
use crate::error::{ArgumentError, Error, Result};
use crate::events::Hub;
use crate::frame::{self, FramePool, RequestFrame, ServerPath};
use crate::hosts::Chroot;
use crate::ops::{
    unexpected_response, AddWatchMode, CreateOptions, Op, OpResult, ReadOp, ReadResult, Reconfig,
    WatcherType,
};
use crate::session::{SessionState, Submit, WatchIntent, WatchOp, WatcherId};
use crate::watcher::{OneshotWatcher, PersistentWatcher, Sink};
use crate::Acl;

mod config_watch;

/// The path of the ensemble configuration node (never chrooted).
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// A session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub i64);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Read-only state shared by every handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) chroot: Chroot,
    pub(crate) state: watch::Receiver<SessionState>,
    pub(crate) identity: watch::Receiver<(i64, Bytes)>,
    pub(crate) published: Arc<Published>,
    pub(crate) next_watcher: AtomicU64,
    pub(crate) watch_buffer: usize,
}

/// A ZooKeeper session: a cheap, cloneable handle to the task that owns the connection.
///
/// Every operation is ordered when the method is **called**, not when its future is first
/// polled, so `join!(a, b)` keeps ZooKeeper's per-session FIFO order. The futures own
/// everything they need (`'static`) and are cancellation-safe: dropping one discards its reply
/// (the request may still apply on the server).
///
/// Requests made while disconnected wait for the reconnect, up to the request timeout
/// ([`Error::Timeout`]); requests in flight when a connection drops fail with
/// [`Error::ConnectionLoss`]. After the session ends every call fails with
/// [`Error::SessionExpired`], [`Error::AuthFailed`] or [`Error::Closed`], unless the client
/// renews expired sessions ([`ClientBuilder::renew_session_on_expiry`]). Follow the session's
/// life with [`Client::events`]; the [`guide`](crate::guide) explains it.
///
/// The session closes when [`Client::close`] is called or when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    /// Settings of this handle only: retry policy, request timeout (see `retry.rs`).
    pub(crate) handle: crate::retry::HandleOptions,
}

/// The reply of one request.
struct Reply {
    state: ReplyState,
    shared: Arc<Shared>,
    /// This handle's request timeout ([`Client::with_request_timeout`]). Boxed, as is the
    /// error of a request refused before sending: both are rare, and every future of every
    /// operation holds a `Reply` (a smaller future is cheaper to move into a task or a
    /// `FuturesUnordered`).
    deadline: Option<Box<crate::retry::Deadline>>,
}

enum ReplyState {
    Failed(Option<Box<Error>>),
    /// Outside tokio's cooperative budget: a reply is one message that only the session task
    /// can make ready, so a caller cannot starve others by awaiting replies, and a task that
    /// polls many replies at once (a `FuturesUnordered` of 1,024) would otherwise see the
    /// budget run out and have every ready reply after the 128th deferred to another turn.
    Waiting(Unconstrained<oneshot::Receiver<Result<Response>>>),
}

impl Future for Reply {
    type Output = Result<Response>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response>> {
        let this = &mut *self;
        match &mut this.state {
            ReplyState::Failed(err) => Poll::Ready(Err(err.take().map_or(Error::Closed, |e| *e))),
            ReplyState::Waiting(rx) => match Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(_)) => Poll::Ready(Err(terminal_error(&this.shared))),
                Poll::Pending => match &mut this.deadline {
                    Some(deadline) => deadline.poll_expired(cx).map(|()| Err(Error::Timeout)),
                    None => Poll::Pending,
                },
            },
        }
    }
}

fn terminal_error(shared: &Shared) -> Error {
    match *shared.state.borrow() {
        SessionState::Expired => Error::SessionExpired,
        SessionState::AuthFailed => Error::AuthFailed,
        _ => Error::Closed,
    }
}

impl Client {
    /// A builder for a client of `connect_string` (`host:port,host2:port/chroot`).
    pub fn builder(connect_string: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(connect_string)
    }

    /// Connects with default settings; see [`ClientBuilder::connect`].
    pub async fn connect(connect_string: &str) -> Result<Client> {
        Client::builder(connect_string).connect().await
    }

    pub(crate) fn from_parts(
        commands: mpsc::UnboundedSender<Command>,
        shared: Arc<Shared>,
    ) -> Self {
        Client {
            commands,
            shared,
            handle: Default::default(),
        }
    }

    /// The session id (0 before the first session). With
    /// [`ClientBuilder::renew_session_on_expiry`], the new session's id once
    /// [`SessionEvent::NewSession`](crate::SessionEvent::NewSession) is announced.
    pub fn session_id(&self) -> SessionId {
        SessionId(self.shared.identity.borrow().0)
    }

    /// The session's lifecycle state, shared with the session task.
    pub(crate) fn lifecycle(&self) -> &Hub {
        &self.shared.published.lifecycle
    }

    /// The session password, to resume the session elsewhere with
    /// [`ClientBuilder::session`].
    pub fn session_password(&self) -> Vec<u8> {
        self.shared.identity.borrow().1.to_vec()
    }

    /// The session state: `borrow()` it for the current state, `changed().await` to follow it.
    /// The current state counts as seen, so `changed()` resolves on the next change after
    /// this call.
    pub fn state(&self) -> watch::Receiver<SessionState> {
        let mut state = self.shared.state.clone();
        state.borrow_and_update();
        state
    }

    /// The last zxid seen in a reply.
    pub fn last_zxid(&self) -> i64 {
        self.shared.published.last_zxid.load(Ordering::Relaxed)
    }

    /// The chroot of this client, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.shared.chroot.as_str()
    }

    /// Queues a request encoded by the caller; `watch` carries the server path it concerns.
    fn send(
        &self,
        frame: Result<RequestFrame>,
        watch: Option<(WatchOp, String)>,
        sink: Option<(WatcherId, Sink)>,
    ) -> Reply {
        let shared = self.shared.clone();
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                return Reply {
                    state: ReplyState::Failed(Some(Box::new(e))),
                    shared,
                    deadline: None,
                }
            }
        };
        let (token, rx) = oneshot::channel();
        let command = Command::Request {
            submit: Submit {
                frame,
                token,
                watch,
            },
            sink,
        };
        let state = match self.commands.send(command) {
            Ok(()) => ReplyState::Waiting(unconstrained(rx)),
            Err(_) => ReplyState::Failed(Some(Box::new(terminal_error(&shared)))),
        };
        Reply {
            state,
            shared,
            deadline: self.handle.deadline().map(Box::new),
        }
    }

    /// Encodes a request the generic way and queues it.
    fn send_request(
        &self,
        request: Result<Request>,
        watch: Option<WatchOp>,
        sink: Option<(WatcherId, Sink)>,
    ) -> Reply {
        let mut bookkeeping = None;
        let frame = request.map(|request| {
            bookkeeping = watch.map(|w| (w, request.path().unwrap_or("/").to_string()));
            RequestFrame::from_request(&request)
        });
        self.send(frame, bookkeeping, sink)
    }

    /// Validates a client path and sees it as the server path.
    fn server_path<'a>(&'a self, path: &'a str) -> Result<ServerPath<'a>> {
        ServerPath::new(&self.shared.chroot, path, false)
    }

    fn frames(&self) -> &FramePool {
        &self.shared.published.frames
    }

    fn next_watcher_id(&self) -> WatcherId {
        self.shared.next_watcher.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a request that registers a new one-shot watcher on success.
    fn send_watched(
        &self,
        request: Result<Request>,
        intent: WatchIntent,
    ) -> (Reply, OneshotWatcher) {
        let id = self.next_watcher_id();
        let (watcher, sink) = OneshotWatcher::new(id, self.commands.downgrade());
        let reply = self.send_request(
            request,
            Some(WatchOp::Register(id, intent)),
            Some((id, sink)),
        );
        (reply, watcher)
    }

    pub(crate) fn path(&self, path: &str) -> Result<String> {
        self.shared.chroot.to_server(path, false)
    }

    fn strip(&self) -> Chroot {
        self.shared.chroot.clone()
    }

    /// Creates a node and returns its path (with the sequence suffix for sequential modes,
    /// relative to the chroot) and Stat. Uses create2, createContainer or createTTL.
    ///
    /// Errors: [`Error::NodeExists`], [`Error::NoNode`] (no parent), [`Error::NoAuth`],
    /// [`Error::NoChildrenForEphemerals`], [`Error::InvalidAcl`], [`Error::Unimplemented`]
    /// (TTL without `extendedTypesEnabled`), [`Error::BadArguments`] (bad path, TTL, ACL).
    pub fn create(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + 'static {
        let frame = options.to_frame(self.frames(), &self.shared.chroot, path, data);
        let reply = self.send(frame, None, None);
        let chroot = self.strip();
        async move {
            match reply.await? {
                Response::Create2(r) => Ok((chroot.strip(r.path), r.stat)),
                Response::Create(r) => Ok((chroot.strip(r.path), Stat::default())),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// Deletes a node if its version matches (`None`: any version).
    ///
    /// Errors: [`Error::NoNode`], [`Error::BadVersion`], [`Error::NotEmpty`], [`Error::NoAuth`].
    pub fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let frame = self.server_path(path).and_then(|path| {
            if path.is_root() {
                return Err(ArgumentError::RootNode.into());
            }
            Ok(frame::delete(&path, version.unwrap_or(-1)))
        });
        let reply = self.send(frame, None, None);
        async move { reply.await.map(|_| ()) }
    }

    /// The Stat of a node, or `None` if it does not exist.
    pub fn exists(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Option<Stat>>> + Send + 'static {
        let frame = self
            .server_path(path)
            .map(|path| frame::path_watch(OpCode::Exists, &path, false));
        let reply = self.send(frame, None, None);
        async move { exists_result(reply.await) }
    }

    /// Like [`Client::exists`], and leaves a one-shot watch: it fires on the node's creation
    /// if it does not exist, else on its data change or deletion.
    pub fn exists_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, OneshotWatcher)>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::Exists(ExistsRequest { path, watch: true }));
        let (reply, watcher) = self.send_watched(request, WatchIntent::Exists);
        async move { Ok((exists_result(reply.await)?, watcher)) }
    }

    /// A node's data and Stat.
    ///
    /// Errors: [`Error::NoNode`], [`Error::NoAuth`].
    pub fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + 'static {
        let frame = self
            .server_path(path)
            .map(|path| frame::path_watch(OpCode::GetData, &path, false));
        let reply = self.send(frame, None, None);
        async move { data_result(reply.await?) }
    }

    /// Like [`Client::get_data`], and leaves a one-shot watch that fires on the node's next
    /// data change or deletion. No watch is left if the node does not exist.
    pub fn get_data_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat, OneshotWatcher)>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::GetData(GetDataRequest { path, watch: true }));
        let (reply, watcher) = self.send_watched(request, WatchIntent::Data);
        async move {
            let (data, stat) = data_result(reply.await?)?;
            Ok((data, stat, watcher))
        }
    }

    /// Sets a node's data if its version matches (`None`: any version); returns the new Stat.
    ///
    /// Errors: [`Error::NoNode`], [`Error::BadVersion`], [`Error::NoAuth`].
    pub fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + 'static {
        let frame = self
            .server_path(path)
            .map(|path| frame::set_data(self.frames(), &path, data, version.unwrap_or(-1)));
        let reply = self.send(frame, None, None);
        async move {
            match reply.await? {
                Response::SetData(r) => Ok(r.stat),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// A node's ACL and Stat.
    pub fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat)>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::GetAcl(GetAclRequest { path }));
        let reply = self.send_request(request, None, None);
        async move {
            match reply.await? {
                Response::GetAcl(r) => Ok((r.acl, r.stat)),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// Sets a node's ACL if its ACL version matches (`None`: any); returns the new Stat.
    ///
    /// Errors: [`Error::NoNode`], [`Error::BadVersion`], [`Error::NoAuth`],
    /// [`Error::InvalidAcl`].
    pub fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + 'static {
        let request = if acl.is_empty() {
            Err(ArgumentError::EmptyAcl.into())
        } else {
            self.path(path).map(|path| {
                Request::SetAcl(SetAclRequest {
                    path,
                    acl: acl.to_vec(),
                    version: version.unwrap_or(-1),
                })
            })
        };
        let reply = self.send_request(request, None, None);
        async move {
            match reply.await? {
                Response::SetAcl(r) => Ok(r.stat),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// The names of a node's children, in no particular order.
    pub fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let frame = self
            .server_path(path)
            .map(|path| frame::path_watch(OpCode::GetChildren, &path, false));
        let reply = self.send(frame, None, None);
        async move {
            match reply.await? {
                Response::GetChildren(r) => Ok(r.children),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// A node's children and its Stat (getChildren2).
    pub fn get_children2(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat)>> + Send + 'static {
        let frame = self
            .server_path(path)
            .map(|path| frame::path_watch(OpCode::GetChildren2, &path, false));
        let reply = self.send(frame, None, None);
        async move { children2_result(reply.await?) }
    }

    /// Like [`Client::get_children2`], and leaves a one-shot watch that fires when a child is
    /// created or deleted, or the node is deleted.
    pub fn get_children_and_watch(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat, OneshotWatcher)>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::GetChildren2(GetChildren2Request { path, watch: true }));
        let (reply, watcher) = self.send_watched(request, WatchIntent::Child);
        async move {
            let (children, stat) = children2_result(reply.await?)?;
            Ok((children, stat, watcher))
        }
    }

    /// Waits until the server this client is connected to has applied every write the leader
    /// had committed when it got the sync; returns the path.
    pub fn sync(&self, path: &str) -> impl Future<Output = Result<String>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::Sync(SyncRequest { path }));
        let reply = self.send_request(request, None, None);
        let chroot = self.strip();
        async move {
            match reply.await? {
                Response::Sync(r) => Ok(chroot.strip(r.path)),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// Runs writes atomically: either all apply (one result per op, in order) or none does,
    /// and the error is [`Error::MultiFailed`] with the index and error code of the first
    /// failure.
    pub fn multi(
        &self,
        ops: &[Op],
    ) -> impl Future<Output = Result<Vec<OpResult>>> + Send + 'static {
        let chroot = self.strip();
        let request = ops
            .iter()
            .map(|op| op.to_wire(&chroot))
            .collect::<Result<Vec<_>>>()
            .map(|ops| Request::Multi(MultiRequest { ops }));
        let reply = self.send_request(request, None, None);
        async move {
            let Response::Multi(response) = reply.await? else {
                return Err(unexpected_response());
            };
            if let Some((index, code)) = response.first_error() {
                return Err(Error::MultiFailed { index, code });
            }
            response
                .results
                .into_iter()
                .enumerate()
                .map(|(index, result)| match result {
                    MultiResult::Create2(r) => Ok(OpResult::Create {
                        path: chroot.strip(r.path),
                        stat: r.stat,
                    }),
                    MultiResult::Create(r) => Ok(OpResult::Create {
                        path: chroot.strip(r.path),
                        stat: Stat::default(),
                    }),
                    MultiResult::Delete => Ok(OpResult::Delete),
                    MultiResult::SetData(r) => Ok(OpResult::SetData(r.stat)),
                    MultiResult::Check => Ok(OpResult::Check),
                    MultiResult::Error(code) => Err(Error::MultiFailed { index, code }),
                    _ => Err(unexpected_response()),
                })
                .collect()
        }
    }

    /// Runs reads in one round trip (multiRead). Not atomic: each read has its own result.
    pub fn multi_read(
        &self,
        ops: &[ReadOp],
    ) -> impl Future<Output = Result<Vec<Result<ReadResult>>>> + Send + 'static {
        let chroot = self.strip();
        let request = ops
            .iter()
            .map(|op| op.to_wire(&chroot))
            .collect::<Result<Vec<_>>>()
            .map(|ops| Request::MultiRead(MultiRequest { ops }));
        let reply = self.send_request(request, None, None);
        async move {
            let Response::MultiRead(response) = reply.await? else {
                return Err(unexpected_response());
            };
            Ok(response
                .results
                .into_iter()
                .map(|result| match result {
                    MultiResult::GetData(r) => Ok(ReadResult::Data {
                        data: r.data.unwrap_or_default(),
                        stat: r.stat,
                    }),
                    MultiResult::GetChildren(r) => Ok(ReadResult::Children(r.children)),
                    MultiResult::Error(code) => Err(Error::from_code(code)),
                    _ => Err(unexpected_response()),
                })
                .collect())
        }
    }

    /// The paths of this session's ephemeral nodes under `prefix` (a path; `/` for all),
    /// relative to the chroot.
    pub fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let request = self
            .path(prefix)
            .map(|prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path }));
        let reply = self.send_request(request, None, None);
        let chroot = self.strip();
        async move {
            match reply.await? {
                Response::GetEphemerals(r) => Ok(r
                    .ephemerals
                    .iter()
                    .filter_map(|p| chroot.strip_if_inside(p).map(str::to_string))
                    .collect()),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// The number of descendants of a node (not counting itself).
    pub fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<i32>> + Send + 'static {
        let request = self
            .path(path)
            .map(|path| Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path }));
        let reply = self.send_request(request, None, None);
        async move {
            match reply.await? {
                Response::GetAllChildrenNumber(r) => Ok(r.total_number),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// The identities this session is authenticated as (whoAmI).
    pub fn who_am_i(&self) -> impl Future<Output = Result<Vec<ClientInfo>>> + Send + 'static {
        let reply = self.send_request(Ok(Request::WhoAmI), None, None);
        async move {
            match reply.await? {
                Response::WhoAmI(r) => Ok(r.client_info),
                _ => Err(unexpected_response()),
            }
        }
    }

    /// Adds credentials (e.g. `digest`, `user:password`). They are re-sent after every
    /// reconnect, before any other request.
    ///
    /// Errors: [`Error::AuthFailed`], after which the session is over (state `AuthFailed`).
    pub fn add_auth(
        &self,
        scheme: &str,
        auth: &[u8],
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let (token, rx) = oneshot::channel();
        let command = Command::Auth {
            scheme: scheme.to_string(),
            data: Bytes::copy_from_slice(auth),
            token,
        };
        let state = match self.commands.send(command) {
            Ok(()) => ReplyState::Waiting(unconstrained(rx)),
            Err(_) => ReplyState::Failed(Some(Box::new(terminal_error(&self.shared)))),
        };
        let reply = Reply {
            state,
            shared: self.shared.clone(),
            deadline: self.handle.deadline().map(Box::new),
        };
        async move { reply.await.map(|_| ()) }
    }

    /// Closes the session: sends closeSession and waits for the server to confirm (at most
    /// the request timeout, capped at 5 s), which deletes the session's ephemeral nodes. Every
    /// handle then fails with [`Error::Closed`]. Closing a session that is already over
    /// succeeds.
    ///
    /// A client that is disconnected when `close` is called (a connection blip during a
    /// shutdown) reconnects within that bound only to send closeSession, so its ephemerals go
    /// at once. If no server answers in time, the client ends anyway and the session lives on
    /// the server until its timeout: ephemerals stay that long (as with every ZooKeeper
    /// client); queued requests fail with [`Error::Closed`] at once.
    pub fn close(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let (token, rx) = oneshot::channel();
        let sent = self.commands.send(Command::Close(token)).is_ok();
        async move {
            if sent {
                let _ = rx.await;
            }
            Ok(())
        }
    }
}

fn exists_result(reply: Result<Response>) -> Result<Option<Stat>> {
    match reply {
        Ok(Response::Exists(r)) => Ok(Some(r.stat)),
        Ok(_) => Err(unexpected_response()),
        Err(Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

fn data_result(response: Response) -> Result<(Bytes, Stat)> {
    match response {
        Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
        _ => Err(unexpected_response()),
    }
}

fn children2_result(response: Response) -> Result<(Vec<String>, Stat)> {
    match response {
        Response::GetChildren2(r) => Ok((r.children, r.stat)),
        _ => Err(unexpected_response()),
    }
}
