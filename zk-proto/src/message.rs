//! Whole requests and responses: the body type for each op code, in both directions.
//!
//! Responses carry no op code, so [`Response::decode_body`] is told which request it answers.

use bytes::{Buf, BufMut};

use crate::codec::{DecodeError, DecodeResult, Jute};
use crate::op_code::OpCode;
use crate::records::header::{AuthPacket, ErrorResponse};
use crate::records::multi::{MultiRequest, MultiResponse};
use crate::records::request::*;
use crate::records::response::*;

/// Generates the request and response enums and their op-code dispatch from one table, so the
/// mapping between op codes and records is written exactly once.
macro_rules! messages {
    (
        requests { $( $(#[$rm:meta])* $rvar:ident $( ($rty:ty) )? = $rop:ident, )* }
        responses { $( $(#[$sm:meta])* $svar:ident $( ($sty:ty) )? = [$($sop:ident),+], )* }
    ) => {
        /// A request body, typed by its op code.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Request {
            $( $(#[$rm])* $rvar $( ($rty) )?, )*
        }

        impl Request {
            /// The op code that goes in the request header.
            pub fn op_code(&self) -> OpCode {
                match self {
                    $( Request::$rvar { .. } => OpCode::$rop, )*
                }
            }

            /// Appends the body (no header).
            pub fn encode_body<B: BufMut>(&self, buf: &mut B) {
                match self {
                    $( messages!(@pat Request $rvar v $($rty)?) => { messages!(@enc v buf $($rty)?) } )*
                }
            }

            /// The length of the body.
            pub fn body_len(&self) -> usize {
                match self {
                    $( messages!(@pat Request $rvar v $($rty)?) => messages!(@len v $($rty)?), )*
                }
            }

            /// Decodes the body of a request with op code `op`. Op codes clients may not send
            /// (notification, createSession, error) and unknown ones are errors.
            pub fn decode_body<B: Buf>(op: i32, buf: &mut B) -> DecodeResult<Self> {
                match OpCode::from_code(op) {
                    $( OpCode::$rop => Ok(messages!(@dec Request $rvar buf $($rty)?)), )*
                    OpCode::Unknown(code) => Err(DecodeError::UnknownOpCode(code)),
                    _ => Err(DecodeError::UnexpectedOpCode(op)),
                }
            }
        }

        /// A response body, typed by the op code of the request it answers.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Response {
            $( $(#[$sm])* $svar $( ($sty) )?, )*
        }

        impl Response {
            /// Appends the body (no header).
            pub fn encode_body<B: BufMut>(&self, buf: &mut B) {
                match self {
                    $( messages!(@pat Response $svar v $($sty)?) => { messages!(@enc v buf $($sty)?) } )*
                }
            }

            /// The length of the body.
            pub fn body_len(&self) -> usize {
                match self {
                    $( messages!(@pat Response $svar v $($sty)?) => messages!(@len v $($sty)?), )*
                }
            }

            /// Decodes the body of a successful reply to a request with op code `op`.
            pub fn decode_body<B: Buf>(op: OpCode, buf: &mut B) -> DecodeResult<Self> {
                match op {
                    $( $( OpCode::$sop )|+ => Ok(messages!(@dec Response $svar buf $($sty)?)), )*
                    other => Err(DecodeError::UnexpectedOpCode(other.code())),
                }
            }
        }
    };
    (@pat $enum:ident $var:ident $v:ident $ty:ty) => { $enum::$var($v) };
    (@pat $enum:ident $var:ident $v:ident) => { $enum::$var };
    (@enc $v:ident $buf:ident $ty:ty) => { $v.encode($buf) };
    (@enc $v:ident $buf:ident) => { { let _ = $buf; } };
    (@len $v:ident $ty:ty) => { $v.encoded_len() };
    (@len $v:ident) => { 0 };
    (@dec $enum:ident $var:ident $buf:ident $ty:ty) => { $enum::$var(<$ty>::decode($buf)?) };
    (@dec $enum:ident $var:ident $buf:ident) => { { let _ = &$buf; $enum::$var } };
}

messages! {
    requests {
        /// `create` (1).
        Create(CreateRequest) = Create,
        /// `delete` (2).
        Delete(DeleteRequest) = Delete,
        /// `exists` (3).
        Exists(ExistsRequest) = Exists,
        /// `getData` (4).
        GetData(GetDataRequest) = GetData,
        /// `setData` (5).
        SetData(SetDataRequest) = SetData,
        /// `getACL` (6).
        GetAcl(GetAclRequest) = GetAcl,
        /// `setACL` (7).
        SetAcl(SetAclRequest) = SetAcl,
        /// `getChildren` (8).
        GetChildren(GetChildrenRequest) = GetChildren,
        /// `sync` (9).
        Sync(SyncRequest) = Sync,
        /// `ping` (11), no body.
        Ping = Ping,
        /// `getChildren2` (12).
        GetChildren2(GetChildren2Request) = GetChildren2,
        /// `check` (13): only valid inside a multi; servers answer a top-level one with an error.
        Check(CheckVersionRequest) = Check,
        /// `multi` (14).
        Multi(MultiRequest) = Multi,
        /// `create2` (15).
        Create2(CreateRequest) = Create2,
        /// `reconfig` (16).
        Reconfig(ReconfigRequest) = Reconfig,
        /// `checkWatches` (17).
        CheckWatches(CheckWatchesRequest) = CheckWatches,
        /// `removeWatches` (18).
        RemoveWatches(RemoveWatchesRequest) = RemoveWatches,
        /// `createContainer` (19).
        CreateContainer(CreateRequest) = CreateContainer,
        /// `deleteContainer` (20).
        DeleteContainer(DeleteContainerRequest) = DeleteContainer,
        /// `createTTL` (21).
        CreateTtl(CreateTtlRequest) = CreateTtl,
        /// `multiRead` (22).
        MultiRead(MultiRequest) = MultiRead,
        /// `auth` (100).
        Auth(AuthPacket) = Auth,
        /// `setWatches` (101).
        SetWatches(SetWatches) = SetWatches,
        /// `sasl` (102).
        Sasl(GetSaslRequest) = Sasl,
        /// `getEphemerals` (103).
        GetEphemerals(GetEphemeralsRequest) = GetEphemerals,
        /// `getAllChildrenNumber` (104).
        GetAllChildrenNumber(GetAllChildrenNumberRequest) = GetAllChildrenNumber,
        /// `setWatches2` (105).
        SetWatches2(SetWatches2) = SetWatches2,
        /// `addWatch` (106).
        AddWatch(AddWatchRequest) = AddWatch,
        /// `whoAmI` (107), no body.
        WhoAmI = WhoAmI,
        /// `closeSession` (-11), no body.
        CloseSession = CloseSession,
    }
    responses {
        /// Reply to `create`.
        Create(CreateResponse) = [Create],
        /// Reply to `create2`, `createContainer`, `createTTL`.
        Create2(Create2Response) = [Create2, CreateContainer, CreateTtl],
        /// Reply to `exists`.
        Exists(ExistsResponse) = [Exists],
        /// Reply to `getData`.
        GetData(GetDataResponse) = [GetData],
        /// Reply to `setData`.
        SetData(SetDataResponse) = [SetData],
        /// Reply to `getACL`.
        GetAcl(GetAclResponse) = [GetAcl],
        /// Reply to `setACL`.
        SetAcl(SetAclResponse) = [SetAcl],
        /// Reply to `getChildren`.
        GetChildren(GetChildrenResponse) = [GetChildren],
        /// Reply to `getChildren2`.
        GetChildren2(GetChildren2Response) = [GetChildren2],
        /// Reply to `sync`.
        Sync(SyncResponse) = [Sync],
        /// Reply to `multi`.
        Multi(MultiResponse) = [Multi],
        /// Reply to `multiRead`.
        MultiRead(MultiResponse) = [MultiRead],
        /// Reply to `reconfig`: the new config as data.
        Reconfig(GetDataResponse) = [Reconfig],
        /// Reply to `sasl`.
        Sasl(SetSaslResponse) = [Sasl],
        /// Reply to `getEphemerals`.
        GetEphemerals(GetEphemeralsResponse) = [GetEphemerals],
        /// Reply to `getAllChildrenNumber`.
        GetAllChildrenNumber(GetAllChildrenNumberResponse) = [GetAllChildrenNumber],
        /// Reply to `whoAmI`.
        WhoAmI(WhoAmIResponse) = [WhoAmI],
        /// Reply to `addWatch`: an `ErrorResponse{0}` body.
        AddWatch(ErrorResponse) = [AddWatch],
        /// Replies without a body.
        Empty = [Delete, Ping, CheckWatches, RemoveWatches, DeleteContainer, Auth, SetWatches, SetWatches2, CloseSession, Check],
    }
}

impl Request {
    /// The path the request names, if it names one.
    pub fn path(&self) -> Option<&str> {
        Some(match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
            Request::CreateTtl(r) => &r.path,
            Request::Delete(r) => &r.path,
            Request::Exists(r) => &r.path,
            Request::GetData(r) => &r.path,
            Request::SetData(r) => &r.path,
            Request::GetAcl(r) => &r.path,
            Request::SetAcl(r) => &r.path,
            Request::GetChildren(r) => &r.path,
            Request::GetChildren2(r) => &r.path,
            Request::Sync(r) => &r.path,
            Request::Check(r) => &r.path,
            Request::CheckWatches(r) => &r.path,
            Request::RemoveWatches(r) => &r.path,
            Request::DeleteContainer(r) => &r.path,
            Request::GetEphemerals(r) => &r.prefix_path,
            Request::GetAllChildrenNumber(r) => &r.path,
            Request::AddWatch(r) => &r.path,
            _ => return None,
        })
    }
}
