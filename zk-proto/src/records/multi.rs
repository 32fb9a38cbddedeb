//! `multi` and `multiRead`: header-terminated lists of operations and results.
//!
//! A request is a list of `MultiHeader{op, false, -1}` + request record, ended by
//! `MultiHeader{-1, true, -1}`; there is no count. A response is `MultiHeader{type, false, err}`
//! plus a result record per op, ended the same way. When an atomic multi fails, every result is an
//! error result: 0 for the ops before the failing one, its code for it, and
//! `RuntimeInconsistency` (-2) after it, while the reply header's `err` stays 0.

use bytes::{Buf, BufMut};

use crate::codec::{DecodeError, DecodeResult, Jute};
use crate::error_code::ErrorCode;
use crate::op_code::OpCode;
use crate::records::header::{ErrorResponse, MultiHeader};
use crate::records::request::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, GetChildrenRequest,
    GetDataRequest, SetDataRequest,
};
use crate::records::response::{
    Create2Response, CreateResponse, GetChildrenResponse, GetDataResponse, SetDataResponse,
};

/// One operation of a `multi` (writes) or `multiRead` (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiOp {
    /// `create` (result: path).
    Create(CreateRequest),
    /// `create2` (result: path and Stat).
    Create2(CreateRequest),
    /// `createContainer`.
    CreateContainer(CreateRequest),
    /// `createTTL`.
    CreateTtl(CreateTtlRequest),
    /// `delete`.
    Delete(DeleteRequest),
    /// `setData`.
    SetData(SetDataRequest),
    /// `check`: the node's data version must match.
    Check(CheckVersionRequest),
    /// `getChildren` (multiRead only; the watch flag is ignored).
    GetChildren(GetChildrenRequest),
    /// `getData` (multiRead only; the watch flag is ignored).
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The op code in the entry header.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// True for the read ops allowed in `multiRead`.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    /// The path the op works on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(buf),
            MultiOp::CreateTtl(r) => r.encode(buf),
            MultiOp::Delete(r) => r.encode(buf),
            MultiOp::SetData(r) => r.encode(buf),
            MultiOp::Check(r) => r.encode(buf),
            MultiOp::GetChildren(r) => r.encode(buf),
            MultiOp::GetData(r) => r.encode(buf),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                r.encoded_len()
            }
            MultiOp::CreateTtl(r) => r.encoded_len(),
            MultiOp::Delete(r) => r.encoded_len(),
            MultiOp::SetData(r) => r.encoded_len(),
            MultiOp::Check(r) => r.encoded_len(),
            MultiOp::GetChildren(r) => r.encoded_len(),
            MultiOp::GetData(r) => r.encoded_len(),
        }
    }

    fn decode_body<B: Buf>(op: i32, buf: &mut B) -> DecodeResult<Self> {
        Ok(match OpCode::from_code(op) {
            OpCode::Create => MultiOp::Create(Jute::decode(buf)?),
            OpCode::Create2 => MultiOp::Create2(Jute::decode(buf)?),
            OpCode::CreateContainer => MultiOp::CreateContainer(Jute::decode(buf)?),
            OpCode::CreateTtl => MultiOp::CreateTtl(Jute::decode(buf)?),
            OpCode::Delete => MultiOp::Delete(Jute::decode(buf)?),
            OpCode::SetData => MultiOp::SetData(Jute::decode(buf)?),
            OpCode::Check => MultiOp::Check(Jute::decode(buf)?),
            OpCode::GetChildren => MultiOp::GetChildren(Jute::decode(buf)?),
            OpCode::GetData => MultiOp::GetData(Jute::decode(buf)?),
            _ => return Err(DecodeError::InvalidMultiOp(op)),
        })
    }
}

/// The body of a `multi` or `multiRead` request.
///
/// Decoding rejects a list that mixes reads and writes ([`DecodeError::InvalidMultiOp`]), as
/// ZooKeeper does; whether the list suits the outer op code is for the caller to check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The operations, in order.
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for op in &self.ops {
            MultiHeader {
                op_type: op.op_code().code(),
                done: false,
                err: -1,
            }
            .encode(buf);
            op.encode_body(buf);
        }
        MultiHeader::DONE.encode(buf);
    }

    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        let mut ops: Vec<MultiOp> = Vec::new();
        loop {
            let header = MultiHeader::decode(buf)?;
            if header.done {
                break;
            }
            let op = MultiOp::decode_body(header.op_type, buf)?;
            if let Some(first) = ops.first() {
                if first.is_read() != op.is_read() {
                    return Err(DecodeError::InvalidMultiOp(header.op_type));
                }
            }
            ops.push(op);
        }
        Ok(MultiRequest { ops })
    }

    fn encoded_len(&self) -> usize {
        let header = MultiHeader::DONE.encoded_len();
        self.ops
            .iter()
            .map(|op| header + op.body_len())
            .sum::<usize>()
            + header
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiResult {
    /// A `create` succeeded.
    Create(CreateResponse),
    /// A `create2`, `createContainer` or `createTTL` succeeded (always sent as type 15).
    Create2(Create2Response),
    /// A `delete` succeeded.
    Delete,
    /// A `setData` succeeded.
    SetData(SetDataResponse),
    /// A `check` succeeded.
    Check,
    /// A `getChildren` succeeded.
    GetChildren(GetChildrenResponse),
    /// A `getData` succeeded.
    GetData(GetDataResponse),
    /// The op failed (or, in a failed atomic multi, was rolled back with code 0 or -2).
    Error(ErrorCode),
}

impl MultiResult {
    fn op_type(&self) -> i32 {
        match self {
            MultiResult::Create(_) => OpCode::Create.code(),
            MultiResult::Create2(_) => OpCode::Create2.code(),
            MultiResult::Delete => OpCode::Delete.code(),
            MultiResult::SetData(_) => OpCode::SetData.code(),
            MultiResult::Check => OpCode::Check.code(),
            MultiResult::GetChildren(_) => OpCode::GetChildren.code(),
            MultiResult::GetData(_) => OpCode::GetData.code(),
            MultiResult::Error(_) => OpCode::Error.code(),
        }
    }

    fn header(&self) -> MultiHeader {
        MultiHeader {
            op_type: self.op_type(),
            done: false,
            err: match self {
                MultiResult::Error(code) => code.code(),
                _ => 0,
            },
        }
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiResult::Create(r) => r.encode(buf),
            MultiResult::Create2(r) => r.encode(buf),
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData(r) => r.encode(buf),
            MultiResult::GetChildren(r) => r.encode(buf),
            MultiResult::GetData(r) => r.encode(buf),
            MultiResult::Error(code) => ErrorResponse { err: *code }.encode(buf),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiResult::Create(r) => r.encoded_len(),
            MultiResult::Create2(r) => r.encoded_len(),
            MultiResult::Delete | MultiResult::Check => 0,
            MultiResult::SetData(r) => r.encoded_len(),
            MultiResult::GetChildren(r) => r.encoded_len(),
            MultiResult::GetData(r) => r.encoded_len(),
            MultiResult::Error(_) => 4,
        }
    }

    fn decode_body<B: Buf>(header: &MultiHeader, buf: &mut B) -> DecodeResult<Self> {
        Ok(match OpCode::from_code(header.op_type) {
            OpCode::Create => MultiResult::Create(Jute::decode(buf)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                MultiResult::Create2(Jute::decode(buf)?)
            }
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData(Jute::decode(buf)?),
            OpCode::Check => MultiResult::Check,
            OpCode::GetChildren => MultiResult::GetChildren(Jute::decode(buf)?),
            OpCode::GetData => MultiResult::GetData(Jute::decode(buf)?),
            OpCode::Error => MultiResult::Error(ErrorResponse::decode(buf)?.err),
            _ => return Err(DecodeError::InvalidMultiOp(header.op_type)),
        })
    }

    /// The error code of an error result, `Ok` otherwise.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            MultiResult::Error(code) => *code,
            _ => ErrorCode::Ok,
        }
    }
}

/// The body of a `multi` or `multiRead` reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in order.
    pub results: Vec<MultiResult>,
}

impl MultiResponse {
    /// The first failure of an atomic multi: its index and code (the real cause, not the
    /// rolled-back `Ok`/`RuntimeInconsistency` results around it).
    pub fn first_error(&self) -> Option<(usize, ErrorCode)> {
        self.results.iter().enumerate().find_map(|(i, r)| match r {
            MultiResult::Error(code)
                if !code.is_ok() && *code != ErrorCode::RuntimeInconsistency =>
            {
                Some((i, *code))
            }
            _ => None,
        })
    }
}

impl Jute for MultiResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for result in &self.results {
            result.header().encode(buf);
            result.encode_body(buf);
        }
        MultiHeader::DONE.encode(buf);
    }

    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        let mut results = Vec::new();
        loop {
            let header = MultiHeader::decode(buf)?;
            if header.done {
                break;
            }
            results.push(MultiResult::decode_body(&header, buf)?);
        }
        Ok(MultiResponse { results })
    }

    fn encoded_len(&self) -> usize {
        let header = MultiHeader::DONE.encoded_len();
        self.results
            .iter()
            .map(|r| header + r.body_len())
            .sum::<usize>()
            + header
    }
}
