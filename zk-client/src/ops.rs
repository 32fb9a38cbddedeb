//! Option and operation types: create modes and options, multi operations and results,
//! reconfig arguments.

use std::time::Duration;

use bytes::Bytes;
use zk_proto::{
    Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, GetChildrenRequest,
    GetDataRequest, MultiOp, OpCode, SetDataRequest, Stat, MAX_TTL,
};

use crate::error::{ArgumentError, Error, Result};
use crate::frame::{self, FramePool, RequestFrame, ServerPath};
use crate::hosts::Chroot;

/// How a node is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CreateMode {
    /// A persistent node.
    #[default]
    Persistent,
    /// An ephemeral node, deleted when the session ends.
    Ephemeral,
    /// A persistent node whose name gets a 10-digit sequence suffix.
    PersistentSequential,
    /// An ephemeral node with a sequence suffix.
    EphemeralSequential,
    /// A container: the server deletes it some time after its last child is deleted.
    Container,
    /// A persistent node deleted once it has had no children and no change for its TTL
    /// (needs `extendedTypesEnabled` on the server).
    PersistentWithTtl,
    /// A sequential persistent node with a TTL.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The wire flags.
    pub fn flags(self) -> i32 {
        self.to_wire().code()
    }

    fn to_wire(self) -> zk_proto::CreateMode {
        match self {
            CreateMode::Persistent => zk_proto::CreateMode::Persistent,
            CreateMode::Ephemeral => zk_proto::CreateMode::Ephemeral,
            CreateMode::PersistentSequential => zk_proto::CreateMode::PersistentSequential,
            CreateMode::EphemeralSequential => zk_proto::CreateMode::EphemeralSequential,
            CreateMode::Container => zk_proto::CreateMode::Container,
            CreateMode::PersistentWithTtl => zk_proto::CreateMode::PersistentWithTtl,
            CreateMode::PersistentSequentialWithTtl => {
                zk_proto::CreateMode::PersistentSequentialWithTtl
            }
        }
    }

    /// True for the sequential modes.
    pub fn is_sequential(self) -> bool {
        self.to_wire().is_sequential()
    }

    /// True for the ephemeral modes.
    pub fn is_ephemeral(self) -> bool {
        self.to_wire().is_ephemeral()
    }

    /// True for the TTL modes.
    pub fn is_ttl(self) -> bool {
        self.to_wire().is_ttl()
    }
}

/// Options of [`Client::create`](crate::Client::create): mode, ACL and TTL.
///
/// ```
/// use std::time::Duration;
/// use zk_client::{CreateMode, CreateOptions};
///
/// let plain = CreateOptions::new(CreateMode::Persistent); // world:anyone, all permissions
/// let ttl = CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_secs(60));
/// let locked = CreateOptions::new(CreateMode::Ephemeral)
///     .with_acl(zk_client::Acl::creator_all());
/// # let _ = (plain, ttl, locked);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    mode: CreateMode,
    acl: Vec<Acl>,
    ttl: Option<Duration>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions::new(CreateMode::Persistent)
    }
}

impl CreateOptions {
    /// Options for `mode` with the open ACL (`world:anyone`, all permissions).
    pub fn new(mode: CreateMode) -> Self {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// Sets the ACL (must not be empty).
    pub fn with_acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    /// Sets the TTL (only for TTL modes; 1 ms ..= 2^40-1 ms).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The mode.
    pub fn mode(&self) -> CreateMode {
        self.mode
    }

    /// The ACL.
    pub fn acl(&self) -> &[Acl] {
        &self.acl
    }

    /// The TTL in milliseconds, validated against the mode.
    fn ttl_ms(&self) -> Result<Option<i64>> {
        match (self.mode.is_ttl(), self.ttl) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err(ArgumentError::TtlWithoutTtlMode.into()),
            (true, None) => Err(ArgumentError::TtlModeWithoutTtl.into()),
            (true, Some(ttl)) => {
                let ms = ttl.as_millis();
                if ms == 0 || ms > MAX_TTL as u128 {
                    Err(ArgumentError::InvalidTtl(ms).into())
                } else {
                    Ok(Some(ms as i64))
                }
            }
        }
    }

    fn build(&self, chroot: &Chroot, path: &str, data: &[u8]) -> Result<Create> {
        if self.acl.is_empty() {
            return Err(ArgumentError::EmptyAcl.into());
        }
        let ttl = self.ttl_ms()?;
        let path = chroot.to_server(path, self.mode.is_sequential())?;
        let data = Some(Bytes::copy_from_slice(data));
        let acl = self.acl.clone();
        let flags = self.mode.flags();
        Ok(match ttl {
            Some(ttl) => Create::Ttl(CreateTtlRequest {
                path,
                data,
                acl,
                flags,
                ttl,
            }),
            None => {
                let request = CreateRequest {
                    path,
                    data,
                    acl,
                    flags,
                };
                if self.mode == CreateMode::Container {
                    Create::Container(request)
                } else {
                    Create::Plain(request)
                }
            }
        })
    }

    /// The create operation of a multi, for a client path.
    pub(crate) fn to_op(&self, chroot: &Chroot, path: &str, data: &[u8]) -> Result<MultiOp> {
        Ok(match self.build(chroot, path, data)? {
            Create::Ttl(r) => MultiOp::CreateTtl(r),
            Create::Container(r) => MultiOp::CreateContainer(r),
            Create::Plain(r) => MultiOp::Create2(r),
        })
    }

    /// The create request frame (create2, createContainer or createTTL), for a client path,
    /// encoded straight from the arguments.
    pub(crate) fn to_frame(
        &self,
        pool: &FramePool,
        chroot: &Chroot,
        path: &str,
        data: &[u8],
    ) -> Result<RequestFrame> {
        if self.acl.is_empty() {
            return Err(ArgumentError::EmptyAcl.into());
        }
        let ttl = self.ttl_ms()?;
        let path = ServerPath::new(chroot, path, self.mode.is_sequential())?;
        let op = match ttl {
            Some(_) => OpCode::CreateTtl,
            None if self.mode == CreateMode::Container => OpCode::CreateContainer,
            None => OpCode::Create2,
        };
        let flags = self.mode.flags();
        Ok(frame::create(pool, op, &path, data, &self.acl, flags, ttl))
    }
}

enum Create {
    Ttl(CreateTtlRequest),
    Container(CreateRequest),
    Plain(CreateRequest),
}

/// The persistence mode of [`Client::add_watch`](crate::Client::add_watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddWatchMode {
    /// Data, child and existence events of one node.
    Persistent,
    /// Created, deleted and data-changed events of a node and all its descendants (never
    /// child events).
    PersistentRecursive,
}

/// Which watches [`Client::remove_watches`](crate::Client::remove_watches) and
/// [`Client::check_watches`](crate::Client::check_watches) concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatcherType {
    /// Child watches.
    Children,
    /// Data and exist watches.
    Data,
    /// Every watch of the path, persistent ones included.
    Any,
}

impl WatcherType {
    pub(crate) fn to_wire(self) -> zk_proto::WatcherType {
        match self {
            WatcherType::Children => zk_proto::WatcherType::Children,
            WatcherType::Data => zk_proto::WatcherType::Data,
            WatcherType::Any => zk_proto::WatcherType::Any,
        }
    }
}

/// One write of a [`Client::multi`](crate::Client::multi) transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Create a node.
    Create {
        /// The path (prefix, for sequential modes).
        path: String,
        /// The data.
        data: Vec<u8>,
        /// Mode, ACL, TTL.
        options: CreateOptions,
    },
    /// Delete a node.
    Delete {
        /// The path.
        path: String,
        /// The expected version; `None` for any.
        version: Option<i32>,
    },
    /// Set a node's data.
    SetData {
        /// The path.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// The expected version; `None` for any.
        version: Option<i32>,
    },
    /// Require a node to exist with a version (fails the whole transaction otherwise).
    Check {
        /// The path.
        path: String,
        /// The expected version; `None` only requires the node to exist.
        version: Option<i32>,
    },
}

impl Op {
    /// A create.
    pub fn create(
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: &CreateOptions,
    ) -> Op {
        Op::Create {
            path: path.into(),
            data: data.into(),
            options: options.clone(),
        }
    }

    /// A delete.
    pub fn delete(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }

    /// A setData.
    pub fn set_data(path: impl Into<String>, data: impl Into<Vec<u8>>, version: Option<i32>) -> Op {
        Op::SetData {
            path: path.into(),
            data: data.into(),
            version,
        }
    }

    /// A version check.
    pub fn check(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Check {
            path: path.into(),
            version,
        }
    }

    pub(crate) fn to_wire(&self, chroot: &Chroot) -> Result<MultiOp> {
        Ok(match self {
            Op::Create {
                path,
                data,
                options,
            } => options.to_op(chroot, path, data)?,
            Op::Delete { path, version } => MultiOp::Delete(DeleteRequest {
                path: chroot.to_server(path, false)?,
                version: version.unwrap_or(-1),
            }),
            Op::SetData {
                path,
                data,
                version,
            } => MultiOp::SetData(SetDataRequest {
                path: chroot.to_server(path, false)?,
                data: Some(Bytes::copy_from_slice(data)),
                version: version.unwrap_or(-1),
            }),
            Op::Check { path, version } => MultiOp::Check(CheckVersionRequest {
                path: chroot.to_server(path, false)?,
                version: version.unwrap_or(-1),
            }),
        })
    }
}

/// The result of one [`Op`] of a successful multi.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpResult {
    /// A create: the created path (with its sequence suffix) and the node's Stat.
    Create {
        /// The created path, relative to the chroot.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    },
    /// A delete.
    Delete,
    /// A setData: the node's new Stat.
    SetData(Stat),
    /// A check.
    Check,
}

/// One read of a [`Client::multi_read`](crate::Client::multi_read).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOp {
    /// getData.
    GetData(String),
    /// getChildren.
    GetChildren(String),
}

impl ReadOp {
    pub(crate) fn to_wire(&self, chroot: &Chroot) -> Result<MultiOp> {
        Ok(match self {
            ReadOp::GetData(path) => MultiOp::GetData(GetDataRequest {
                path: chroot.to_server(path, false)?,
                watch: false,
            }),
            ReadOp::GetChildren(path) => MultiOp::GetChildren(GetChildrenRequest {
                path: chroot.to_server(path, false)?,
                watch: false,
            }),
        })
    }
}

/// The result of one successful [`ReadOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadResult {
    /// The node's data and Stat.
    Data {
        /// The data.
        data: Bytes,
        /// The Stat.
        stat: Stat,
    },
    /// The node's children.
    Children(Vec<String>),
}

/// Arguments of [`Client::reconfig`](crate::Client::reconfig): either incremental
/// (`joining`/`leaving`) or a whole new membership (`new_members`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconfig {
    /// Servers to add, comma separated (`server.4=host:2888:3888;2181`).
    pub joining: Option<String>,
    /// Server ids to remove, comma separated.
    pub leaving: Option<String>,
    /// The complete new membership (non-incremental).
    pub new_members: Option<String>,
    /// The config version the change applies to (`None`: any).
    pub from_config: Option<i64>,
}

pub(crate) fn unexpected_response() -> Error {
    Error::Decode(zk_proto::DecodeError::UnexpectedOpCode(0))
}
