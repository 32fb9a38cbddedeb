//! The session handshake: `ConnectRequest` and `ConnectResponse`.
//!
//! Both end with an optional `readOnly` byte: clients older than 3.4 omit it, and a server
//! answers such a client without it. `read_only: None` means the byte is absent.

use bytes::{Buf, BufMut, Bytes};

use crate::codec::{DecodeResult, Jute};

/// The first frame a client sends on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The last zxid the client has seen; a server behind it refuses the connection.
    pub last_zxid_seen: i64,
    /// The requested session timeout in milliseconds.
    pub timeout: i32,
    /// 0 for a new session, or the session to resume.
    pub session_id: i64,
    /// The session password (16 zero bytes for a new session).
    pub passwd: Bytes,
    /// Whether the client accepts a read-only server; `None` for a client that omits the byte.
    pub read_only: Option<bool>,
}

/// The server's answer to a [`ConnectRequest`]; no reply header precedes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout; 0 means the session is expired or invalid.
    pub timeout: i32,
    /// The session id; 0 with a timeout of 0 means expired.
    pub session_id: i64,
    /// The session password.
    pub passwd: Bytes,
    /// Whether the server is read-only; `None` when the byte is absent.
    pub read_only: Option<bool>,
}

fn encode_opt_bool<B: BufMut>(flag: Option<bool>, buf: &mut B) {
    if let Some(flag) = flag {
        flag.encode(buf);
    }
}

fn decode_opt_bool<B: Buf>(buf: &mut B) -> DecodeResult<Option<bool>> {
    if buf.has_remaining() {
        bool::decode(buf).map(Some)
    } else {
        Ok(None)
    }
}

impl Jute for ConnectRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.last_zxid_seen.encode(buf);
        self.timeout.encode(buf);
        self.session_id.encode(buf);
        self.passwd.encode(buf);
        encode_opt_bool(self.read_only, buf);
    }

    /// Decodes a whole frame body: the trailing `readOnly` byte is read if present.
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        Ok(ConnectRequest {
            protocol_version: i32::decode(buf)?,
            last_zxid_seen: i64::decode(buf)?,
            timeout: i32::decode(buf)?,
            session_id: i64::decode(buf)?,
            passwd: Bytes::decode(buf)?,
            read_only: decode_opt_bool(buf)?,
        })
    }

    fn encoded_len(&self) -> usize {
        4 + 8 + 4 + 8 + self.passwd.encoded_len() + usize::from(self.read_only.is_some())
    }
}

impl Jute for ConnectResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.timeout.encode(buf);
        self.session_id.encode(buf);
        self.passwd.encode(buf);
        encode_opt_bool(self.read_only, buf);
    }

    /// Decodes a whole frame body: the trailing `readOnly` byte is read if present.
    fn decode<B: Buf>(buf: &mut B) -> DecodeResult<Self> {
        Ok(ConnectResponse {
            protocol_version: i32::decode(buf)?,
            timeout: i32::decode(buf)?,
            session_id: i64::decode(buf)?,
            passwd: Bytes::decode(buf)?,
            read_only: decode_opt_bool(buf)?,
        })
    }

    fn encoded_len(&self) -> usize {
        4 + 4 + 8 + self.passwd.encoded_len() + usize::from(self.read_only.is_some())
    }
}

impl ConnectResponse {
    /// The response a server sends for an expired or unknown session.
    pub fn expired(read_only: Option<bool>) -> Self {
        ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: Bytes::from_static(&[0; crate::PASSWORD_LEN]),
            read_only: read_only.map(|_| false),
        }
    }

    /// True when the server refused the session as expired (`timeout <= 0`).
    pub fn is_expired(&self) -> bool {
        self.timeout <= 0
    }
}
