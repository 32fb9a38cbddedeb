//! Headers and the small records shared by many messages.

use bytes::{Buf, BufMut};

use crate::codec::{be_i32, be_i64, records, DecodeResult, Jute};
use crate::error_code::ErrorCode;
use crate::types::{EventType, KeeperState};

records! {
    /// Precedes every request after the handshake.
    RequestHeader {
        /// The client's sequence number, or a special [`xid`](crate::xid).
        xid: i32,
        /// The [`OpCode`](crate::OpCode) as sent (kept raw so unknown codes can be reported).
        op_type: i32,
    }

    /// An `auth` request (xid -4).
    AuthPacket {
        /// Always 0.
        auth_type: i32,
        /// The scheme, e.g. `digest`.
        scheme: String,
        /// The credentials, e.g. `user:password`.
        auth: bytes::Bytes,
    }

    /// A watch notification (xid -1).
    WatcherEvent {
        /// What happened.
        event_type: EventType,
        /// Always `SyncConnected` on the wire.
        state: KeeperState,
        /// The node concerned (server-side path, chroot included).
        path: String,
    }

    /// An error result, inside a multi response or as an addWatch reply body.
    ErrorResponse {
        /// The error code.
        err: ErrorCode,
    }

    /// One entry header of a multi request or response.
    MultiHeader {
        /// The op code of the entry; -1 with `done` ends the list.
        op_type: i32,
        /// True for the terminating header.
        done: bool,
        /// The entry's error code (-1 in requests).
        err: i32,
    }
}

/// Precedes every response after the handshake; a body follows only when `err` is `Ok`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyHeader {
    /// The xid of the request answered, or a special [`xid`](crate::xid).
    pub xid: i32,
    /// The server's last processed zxid (the event's zxid for notifications).
    pub zxid: i64,
    /// The outcome.
    pub err: ErrorCode,
}

/// The wire length of a [`ReplyHeader`].
const REPLY_HEADER_LEN: usize = 16;

impl Jute for ReplyHeader {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.xid);
        buf.put_i64(self.zxid);
        self.err.encode(buf);
    }

    /// Read whole from a contiguous input, field by field otherwise.
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        if let Some(raw) = buf.chunk().first_chunk::<REPLY_HEADER_LEN>() {
            let header = ReplyHeader {
                xid: be_i32(raw, 0),
                zxid: be_i64(raw, 4),
                err: ErrorCode::from_code(be_i32(raw, 12)),
            };
            buf.advance(REPLY_HEADER_LEN);
            return Ok(header);
        }
        Ok(ReplyHeader {
            xid: Jute::decode(buf)?,
            zxid: Jute::decode(buf)?,
            err: Jute::decode(buf)?,
        })
    }

    fn encoded_len(&self) -> usize {
        REPLY_HEADER_LEN
    }
}

impl RequestHeader {
    /// A header for `op` with sequence number `xid`.
    pub fn new(xid: i32, op: crate::OpCode) -> Self {
        RequestHeader {
            xid,
            op_type: op.code(),
        }
    }

    /// The typed op code.
    pub fn op(&self) -> crate::OpCode {
        crate::OpCode::from_code(self.op_type)
    }
}

impl ReplyHeader {
    /// A successful reply header.
    pub fn ok(xid: i32, zxid: i64) -> Self {
        ReplyHeader {
            xid,
            zxid,
            err: ErrorCode::Ok,
        }
    }
}

impl MultiHeader {
    /// The header that ends a multi list.
    pub const DONE: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}

#[cfg(test)]
mod tests {
    use bytes::{Buf, BytesMut};

    use super::*;

    #[test]
    fn reply_header_decodes_whole_and_split() {
        let header = ReplyHeader {
            xid: -1,
            zxid: 0x1122_3344_5566_7788,
            err: ErrorCode::NoNode,
        };
        let mut wire = BytesMut::new();
        header.encode(&mut wire);
        assert_eq!(wire.len(), REPLY_HEADER_LEN);
        assert_eq!(ReplyHeader::decode(&mut &wire[..]), Ok(header.clone()));
        for at in 1..REPLY_HEADER_LEN {
            let mut chained = (&wire[..at]).chain(&wire[at..]);
            assert_eq!(ReplyHeader::decode(&mut chained), Ok(header.clone()));
        }
        assert!(ReplyHeader::decode(&mut &wire[..15]).is_err());
    }
}
