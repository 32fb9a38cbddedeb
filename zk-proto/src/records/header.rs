//! Headers and the small records shared by many messages.

use crate::codec::records;
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

    /// Precedes every response after the handshake; a body follows only when `err` is `Ok`.
    ReplyHeader {
        /// The xid of the request answered, or a special [`xid`](crate::xid).
        xid: i32,
        /// The server's last processed zxid (the event's zxid for notifications).
        zxid: i64,
        /// The outcome.
        err: ErrorCode,
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
