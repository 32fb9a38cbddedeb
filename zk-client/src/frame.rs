//! Request frames encoded by the caller.
//!
//! A [`Client`](crate::Client) method encodes its request into a whole frame (length prefix,
//! request header, body) on the caller's thread, writing the path (with the chroot) and the
//! payload straight into the frame: nothing is copied twice and no intermediate `String` or
//! `Bytes` is built. The header's xid is a placeholder; the session core patches the real one
//! in when it sends the frame ([`RequestFrame::set_xid`]), so a frame queued while
//! disconnected gets a fresh xid on the next connection.

use std::sync::Mutex;

use bytes::{BufMut, BytesMut};
use zk_proto::{Acl, Jute, OpCode, Request};

use crate::error::Result;
use crate::hosts::{check_path, Chroot};

/// Length prefix and request header.
const PREFIX_LEN: usize = 4 + 8;
/// Where the xid sits in a frame.
const XID_AT: usize = 4;
/// Frames at least this long are written as they are (one slice of a vectored write) rather
/// than copied into the session's coalescing buffer, and their buffers are recycled.
pub(crate) const LARGE_FRAME: usize = 512;
/// The largest buffer the pool keeps, and how many it keeps: at most 256 KiB per session.
const POOL_MAX_CAPACITY: usize = 4 * 1024;
const POOL_SIZE: usize = 64;

/// Spare buffers for large frames: the session task returns a frame's buffer once it is
/// written, and the next large request is encoded into it, which spares an allocation and a
/// free of a size the allocator handles slowly. Never blocks: when the other side holds the
/// lock, a buffer is allocated (or dropped) instead.
#[derive(Debug, Default)]
pub(crate) struct FramePool {
    spare: Mutex<Vec<BytesMut>>,
}

impl FramePool {
    /// An empty buffer for a frame of `len` bytes.
    fn take(&self, len: usize) -> BytesMut {
        if (LARGE_FRAME..=POOL_MAX_CAPACITY).contains(&len) {
            let spare = self.spare.try_lock().ok().and_then(|mut spare| spare.pop());
            if let Some(mut buf) = spare {
                buf.reserve(len);
                return buf;
            }
        }
        BytesMut::with_capacity(len)
    }

    /// Takes back the buffer of a written frame (see [`FramePool::keeps`]).
    pub(crate) fn give(&self, mut buf: BytesMut) {
        buf.clear();
        if let Ok(mut spare) = self.spare.try_lock() {
            if spare.len() < POOL_SIZE {
                spare.push(buf);
            }
        }
    }

    /// Whether the buffer of this frame, once written, is worth giving back.
    pub(crate) fn keeps(frame: &BytesMut) -> bool {
        frame.len() >= LARGE_FRAME && frame.capacity() <= POOL_MAX_CAPACITY
    }
}

/// One encoded request frame whose xid is still to be set.
#[derive(Debug)]
pub(crate) struct RequestFrame {
    buf: BytesMut,
    op: OpCode,
}

impl RequestFrame {
    /// A frame of `op` with room for `body_len` more bytes (in a recycled buffer if `pool`).
    pub(crate) fn with_body(op: OpCode, body_len: usize, pool: Option<&FramePool>) -> Self {
        let len = PREFIX_LEN + body_len;
        let mut buf = match pool {
            Some(pool) => pool.take(len),
            None => BytesMut::with_capacity(len),
        };
        buf.put_i32(i32::try_from(8 + body_len).unwrap_or(i32::MAX));
        buf.put_i32(0);
        buf.put_i32(op.code());
        RequestFrame { buf, op }
    }

    /// Encodes any request (the generic path, for the rarer operations).
    pub(crate) fn from_request(request: &Request) -> RequestFrame {
        let mut frame = RequestFrame::with_body(request.op_code(), request.body_len(), None);
        request.encode_body(&mut frame.buf);
        frame
    }

    /// The op code.
    pub(crate) fn op(&self) -> OpCode {
        self.op
    }

    /// The encoded bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The length of the whole frame.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// The header and body size, as the server counts it against `jute.maxbuffer`.
    pub(crate) fn size(&self) -> usize {
        self.buf.len() - 4
    }

    /// Sets the xid in the header.
    pub(crate) fn set_xid(&mut self, xid: i32) {
        self.buf[XID_AT..XID_AT + 4].copy_from_slice(&xid.to_be_bytes());
    }

    /// The encoded frame.
    pub(crate) fn into_bytes(self) -> BytesMut {
        debug_assert_eq!(self.encoded_len(), self.buf.len());
        self.buf
    }

    /// The whole frame length the prefix announces.
    fn encoded_len(&self) -> usize {
        let prefix = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        4 + usize::try_from(i32::from_be_bytes(prefix)).unwrap_or(0)
    }

    fn put_i32(&mut self, v: i32) -> &mut Self {
        self.buf.put_i32(v);
        self
    }

    fn put_i64(&mut self, v: i64) -> &mut Self {
        self.buf.put_i64(v);
        self
    }

    fn put_bool(&mut self, v: bool) -> &mut Self {
        self.buf.put_u8(u8::from(v));
        self
    }

    /// A jute `buffer`.
    fn put_buffer(&mut self, data: &[u8]) -> &mut Self {
        self.buf
            .put_i32(i32::try_from(data.len()).unwrap_or(i32::MAX));
        self.buf.put_slice(data);
        self
    }

    /// A validated path as a jute `ustring`, with the chroot prepended.
    fn put_path(&mut self, path: &ServerPath<'_>) -> &mut Self {
        self.buf
            .put_i32(i32::try_from(path.len()).unwrap_or(i32::MAX));
        if let Some(root) = path.root {
            self.buf.put_slice(root.as_bytes());
        }
        self.buf.put_slice(path.rest.as_bytes());
        self
    }

    fn put_acl(&mut self, acl: &[Acl]) -> &mut Self {
        self.buf
            .put_i32(i32::try_from(acl.len()).unwrap_or(i32::MAX));
        for entry in acl {
            entry.encode(&mut self.buf);
        }
        self
    }
}

/// A validated client path seen as the server path: the chroot, then the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerPath<'a> {
    root: Option<&'a str>,
    rest: &'a str,
}

impl<'a> ServerPath<'a> {
    /// Validates `path` and joins it to the chroot, without allocating.
    pub(crate) fn new(chroot: &'a Chroot, path: &'a str, sequential: bool) -> Result<Self> {
        check_path(path, sequential)?;
        Ok(match chroot.as_str() {
            None => ServerPath {
                root: None,
                rest: path,
            },
            Some(root) if path == "/" => ServerPath {
                root: None,
                rest: root,
            },
            Some(root) => ServerPath {
                root: Some(root),
                rest: path,
            },
        })
    }

    /// The length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.root.map_or(0, str::len) + self.rest.len()
    }

    /// True for the server's root node.
    pub(crate) fn is_root(&self) -> bool {
        self.root.is_none() && self.rest == "/"
    }

    /// Its encoded length as a jute `ustring`.
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// `getData`, `exists`, `getChildren`, `getChildren2`: a path and a watch flag.
pub(crate) fn path_watch(op: OpCode, path: &ServerPath<'_>, watch: bool) -> RequestFrame {
    let mut frame = RequestFrame::with_body(op, path.encoded_len() + 1, None);
    frame.put_path(path).put_bool(watch);
    frame
}

/// `delete`.
pub(crate) fn delete(path: &ServerPath<'_>, version: i32) -> RequestFrame {
    let mut frame = RequestFrame::with_body(OpCode::Delete, path.encoded_len() + 4, None);
    frame.put_path(path).put_i32(version);
    frame
}

/// `setData`: the payload is copied once, into the frame.
pub(crate) fn set_data(
    pool: &FramePool,
    path: &ServerPath<'_>,
    data: &[u8],
    version: i32,
) -> RequestFrame {
    let body = path.encoded_len() + 4 + data.len() + 4;
    let mut frame = RequestFrame::with_body(OpCode::SetData, body, Some(pool));
    frame.put_path(path).put_buffer(data).put_i32(version);
    frame
}

/// `create2`, `createContainer` (`ttl: None`) or `createTTL`.
pub(crate) fn create(
    pool: &FramePool,
    op: OpCode,
    path: &ServerPath<'_>,
    data: &[u8],
    acl: &[Acl],
    flags: i32,
    ttl: Option<i64>,
) -> RequestFrame {
    let acl_len: usize = 4 + acl.iter().map(Jute::encoded_len).sum::<usize>();
    let ttl_len = if ttl.is_some() { 8 } else { 0 };
    let body = path.encoded_len() + 4 + data.len() + acl_len + 4 + ttl_len;
    let mut frame = RequestFrame::with_body(op, body, Some(pool));
    frame
        .put_path(path)
        .put_buffer(data)
        .put_acl(acl)
        .put_i32(flags);
    if let Some(ttl) = ttl {
        frame.put_i64(ttl);
    }
    frame
}

#[cfg(test)]
mod tests {
    use bytes::{Buf, Bytes};
    use zk_proto::{
        decode_request, encode_request, CreateRequest, CreateTtlRequest, DeleteRequest,
        ExistsRequest, FrameDecoder, GetChildren2Request, GetDataRequest, SetDataRequest,
    };

    use super::*;

    /// The frame with xid 7 equals zk-proto's encoding of `expected`.
    fn check(frame: RequestFrame, expected: Request) {
        let mut frame = frame;
        frame.set_xid(7);
        let mut ours = frame.into_bytes();
        let mut theirs = BytesMut::new();
        encode_request(&mut theirs, 7, &expected);
        assert_eq!(ours, theirs);
        let body = FrameDecoder::default().decode(&mut ours).unwrap().unwrap();
        let (header, decoded) = decode_request(&body).unwrap();
        assert_eq!((header.xid, decoded), (7, expected));
    }

    #[test]
    fn frames_match_the_protocol_encoding() {
        let chroots = [Chroot::none(), Chroot::new("/app").unwrap()];
        let pool = FramePool::default();
        for chroot in &chroots {
            for client_path in ["/", "/a", "/a/bc"] {
                let path = ServerPath::new(chroot, client_path, false).unwrap();
                let server = chroot.to_server(client_path, false).unwrap();
                assert_eq!(path.len(), server.len());
                assert_eq!(path.is_root(), server == "/");
                check(
                    path_watch(OpCode::GetData, &path, true),
                    Request::GetData(GetDataRequest {
                        path: server.clone(),
                        watch: true,
                    }),
                );
                check(
                    path_watch(OpCode::Exists, &path, false),
                    Request::Exists(ExistsRequest {
                        path: server.clone(),
                        watch: false,
                    }),
                );
                check(
                    path_watch(OpCode::GetChildren2, &path, false),
                    Request::GetChildren2(GetChildren2Request {
                        path: server.clone(),
                        watch: false,
                    }),
                );
                check(
                    delete(&path, 3),
                    Request::Delete(DeleteRequest {
                        path: server.clone(),
                        version: 3,
                    }),
                );
                // Payloads of every small size, and one past the large-frame limit.
                for len in (0..=100).chain([600]) {
                    let data = vec![b'x'; len];
                    check(
                        set_data(&pool, &path, &data, -1),
                        Request::SetData(SetDataRequest {
                            path: server.clone(),
                            data: Some(Bytes::from(data.clone())),
                            version: -1,
                        }),
                    );
                    check(
                        create(
                            &pool,
                            OpCode::Create2,
                            &path,
                            &data,
                            &Acl::creator_all(),
                            0,
                            None,
                        ),
                        Request::Create2(CreateRequest {
                            path: server.clone(),
                            data: Some(Bytes::from(data)),
                            acl: Acl::creator_all(),
                            flags: 0,
                        }),
                    );
                }
                let acl = Acl::open_unsafe();
                check(
                    create(&pool, OpCode::Create2, &path, b"", &acl, 1, None),
                    Request::Create2(CreateRequest {
                        path: server.clone(),
                        data: Some(Bytes::new()),
                        acl: acl.clone(),
                        flags: 1,
                    }),
                );
                check(
                    create(
                        &pool,
                        OpCode::CreateTtl,
                        &path,
                        b"xy",
                        &acl,
                        5,
                        Some(60_000),
                    ),
                    Request::CreateTtl(CreateTtlRequest {
                        path: server,
                        data: Some(Bytes::from_static(b"xy")),
                        acl,
                        flags: 5,
                        ttl: 60_000,
                    }),
                );
            }
        }
    }

    #[test]
    fn recycled_buffers_encode_the_same() {
        let chroot = Chroot::none();
        let path = ServerPath::new(&chroot, "/node", false).unwrap();
        let pool = FramePool::default();
        for len in [600, 2000, 700, 5000, 1000] {
            let data = vec![len as u8; len];
            let frame = set_data(&pool, &path, &data, 1);
            let mut written = frame.into_bytes();
            let keep = FramePool::keeps(&written);
            assert_eq!(keep, len < 4000);
            // The session task writes it in pieces, then gives it back.
            written.advance(100);
            written.advance(written.len());
            if keep {
                pool.give(written);
            }
            check(
                set_data(&pool, &path, &data, 1),
                Request::SetData(SetDataRequest {
                    path: "/node".into(),
                    data: Some(Bytes::from(data.clone())),
                    version: 1,
                }),
            );
        }
        assert!(pool.spare.lock().unwrap().len() <= POOL_SIZE);
    }

    #[test]
    fn sequential_paths_may_end_with_a_slash() {
        let chroot = Chroot::none();
        assert!(ServerPath::new(&chroot, "/a/", true).is_ok());
        assert!(ServerPath::new(&chroot, "/a/", false).is_err());
    }
}
