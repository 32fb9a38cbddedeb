//! The Apache ZooKeeper 3.9 wire protocol ("jute"), sans-IO.
//!
//! This crate turns bytes into typed messages and back, for both sides of a connection: a client
//! encodes requests and decodes replies and watch events; a server decodes requests and encodes
//! replies and events. It does no IO and keeps no state beyond a frame-size limit.
//!
//! ```
//! use bytes::BytesMut;
//! use zk_proto::{
//!     decode_request, encode_request, FrameDecoder, GetDataRequest, OpCode, Request,
//! };
//!
//! // A client frames a getData request with xid 1...
//! let mut wire = BytesMut::new();
//! let request = Request::GetData(GetDataRequest { path: "/app/config".into(), watch: true });
//! encode_request(&mut wire, 1, &request);
//!
//! // ...and a server splits the frame off its input buffer and decodes it.
//! let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
//! let (header, decoded) = decode_request(&frame).unwrap();
//! assert_eq!((header.xid, header.op()), (1, OpCode::GetData));
//! assert_eq!(decoded, request);
//! ```
//!
//! Layout: [`codec`] has the [`Jute`] trait and primitives; [`records`] every record of
//! `zookeeper.jute` (plus `ClientInfo`/`WhoAmIResponse` of 3.9); [`message`] the request and
//! response enums keyed by op code; [`frame`] framing and whole-message helpers; [`path`] path
//! rules; [`four_letter`] admin-command detection.
//!
//! Robustness: decoders never panic and never allocate more than the input could hold; frames
//! longer than the limit ([`DEFAULT_MAX_FRAME`], like `jute.maxbuffer`) are refused up front.

#![warn(missing_docs)]

pub mod codec;
pub mod error_code;
pub mod four_letter;
pub mod frame;
pub mod message;
pub mod op_code;
pub mod path;
pub mod records;
pub mod types;

pub use codec::{DecodeError, DecodeResult, Jute};
pub use error_code::ErrorCode;
pub use four_letter::FourLetterWord;
pub use frame::{
    decode_incoming, decode_request, decode_response, encode_connect_request,
    encode_connect_response, encode_event, encode_frame, encode_reply, encode_request,
    FrameDecoder, FrameError, Incoming, DEFAULT_MAX_FRAME,
};
pub use message::{Request, Response};
pub use op_code::{xid, OpCode};
pub use path::{validate_path, PathError};
pub use records::connect::{ConnectRequest, ConnectResponse};
pub use records::data::{Acl, Id, Stat, StatPersisted};
pub use records::header::{
    AuthPacket, ErrorResponse, MultiHeader, ReplyHeader, RequestHeader, WatcherEvent,
};
pub use records::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use records::request::*;
pub use records::response::*;
pub use types::{
    perms, AddWatchMode, CreateMode, EventType, KeeperState, WatcherType,
    CONTAINER_EPHEMERAL_OWNER, MAX_TTL, PASSWORD_LEN, PROTOCOL_VERSION, TTL_EPHEMERAL_OWNER_MASK,
};
