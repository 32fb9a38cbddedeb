//! Framing: a 4-byte big-endian length, then the body.
//!
//! Decoding is two-phase over a buffer the connection owns ([`FrameDecoder::decode`]): first
//! check that a whole frame is there, then split it off. A length that is negative or above the
//! limit is an error before anything is allocated. Encoding writes a placeholder length, the
//! body, then patches the length, so bodies are never encoded twice.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codec::{ensure_consumed, DecodeError, DecodeResult, Jute};
use crate::message::{Request, Response};
use crate::op_code::xid;
use crate::records::connect::{ConnectRequest, ConnectResponse};
use crate::records::header::{ReplyHeader, RequestHeader, WatcherEvent};

/// ZooKeeper's default `jute.maxbuffer`: the largest frame body accepted.
pub const DEFAULT_MAX_FRAME: usize = 0xfffff;

/// Why a frame could not be split off the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix was negative.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    /// The length prefix was above the limit.
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLarge {
        /// The claimed length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Splits length-prefixed frames off a growing buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder accepting bodies up to `max_frame` bytes.
    pub const fn new(max_frame: usize) -> Self {
        FrameDecoder { max_frame }
    }

    /// The limit.
    pub const fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Splits the next whole frame body off `buf`: `Ok(None)` when more bytes are needed.
    /// On error the connection must be closed; the buffer is left untouched.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(len) = self.peek_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len).freeze()))
    }

    /// Validates the length prefix at the front of `buf`, if 4 bytes are there.
    pub fn peek_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if len < 0 {
            return Err(FrameError::NegativeLength(len));
        }
        let len = len as usize;
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        Ok(Some(len))
    }
}

/// Writes one frame into `buf`: the length prefix is patched after `body` has written.
pub fn encode_frame(buf: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_i32(0);
    body(buf);
    let len = buf.len() - start - 4;
    let len = i32::try_from(len).unwrap_or(i32::MAX);
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Client: frames a ConnectRequest.
pub fn encode_connect_request(buf: &mut BytesMut, request: &ConnectRequest) {
    encode_frame(buf, |b| request.encode(b));
}

/// Client: frames a request with its header.
pub fn encode_request(buf: &mut BytesMut, xid: i32, request: &Request) {
    encode_frame(buf, |b| {
        RequestHeader::new(xid, request.op_code()).encode(b);
        request.encode_body(b);
    });
}

/// Server: frames a ConnectResponse.
pub fn encode_connect_response(buf: &mut BytesMut, response: &ConnectResponse) {
    encode_frame(buf, |b| response.encode(b));
}

/// Server: frames a reply. The body is written only when the header's `err` is `Ok`.
pub fn encode_reply(buf: &mut BytesMut, header: &ReplyHeader, body: Option<&Response>) {
    encode_frame(buf, |b| {
        header.encode(b);
        if header.err.is_ok() {
            if let Some(body) = body {
                body.encode_body(b);
            }
        }
    });
}

/// Server: frames a watch event (xid -1) whose header carries `zxid`.
pub fn encode_event(buf: &mut BytesMut, zxid: i64, event: &WatcherEvent) {
    encode_frame(buf, |b| {
        ReplyHeader::ok(xid::NOTIFICATION, zxid).encode(b);
        event.encode(b);
    });
}

/// Server: decodes a request frame body into its header and body. Trailing bytes are an error.
pub fn decode_request(mut frame: &[u8]) -> DecodeResult<(RequestHeader, Request)> {
    let header = RequestHeader::decode(&mut frame)?;
    let request = Request::decode_body(header.op_type, &mut frame)?;
    ensure_consumed(&frame)?;
    Ok((header, request))
}

/// What a client receives after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A watch event (xid -1).
    Event {
        /// The zxid of the change that triggered it.
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
    /// A reply; decode the body with [`Response::decode_body`] once the request is known.
    Reply {
        /// The header.
        header: ReplyHeader,
        /// The undecoded body (empty when `header.err` is not `Ok`).
        body: Bytes,
    },
}

/// Client: splits a frame into an event or a reply header and body (zero-copy).
pub fn decode_incoming(mut frame: Bytes) -> DecodeResult<Incoming> {
    let header = ReplyHeader::decode(&mut frame)?;
    if header.xid == xid::NOTIFICATION {
        let event = WatcherEvent::decode(&mut frame)?;
        ensure_consumed(&frame)?;
        return Ok(Incoming::Event {
            zxid: header.zxid,
            event,
        });
    }
    Ok(Incoming::Reply {
        header,
        body: frame,
    })
}

/// Client: decodes a reply body for a request with op code `op`, rejecting trailing bytes.
pub fn decode_response(op: crate::OpCode, mut body: Bytes) -> DecodeResult<Response> {
    let response = Response::decode_body(op, &mut body)?;
    if body.has_remaining() {
        return Err(DecodeError::TrailingBytes(body.remaining()));
    }
    Ok(response)
}
