//! A minimal test client built on zk-proto: just enough to drive a server over a socket.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_proto::{
    decode_incoming, decode_response, encode_connect_request, encode_request, Acl, ConnectRequest,
    ConnectResponse, CreateRequest, DeleteRequest, ErrorCode, ExistsRequest, FrameDecoder,
    GetDataRequest, Incoming, Jute, OpCode, ReplyHeader, Request, Response, SetDataRequest, Stat,
    WatcherEvent,
};

/// Anything a client can talk over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How long any single wait may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A connected session.
pub struct Client {
    io: Box<dyn Io>,
    buf: BytesMut,
    next_xid: i32,
    /// The handshake answer.
    pub session: ConnectResponse,
    /// Events received while waiting for replies, with their header zxid.
    pub events: VecDeque<(i64, WatcherEvent)>,
    /// The highest zxid seen in replies.
    pub last_zxid: i64,
}

/// A reply: header plus the decoded body (None on error or empty body).
pub type Reply = (ReplyHeader, Option<Response>);

/// A frame off the wire, or EOF.
pub async fn read_frame(
    io: &mut (impl AsyncRead + Unpin + ?Sized),
    buf: &mut BytesMut,
) -> Option<Bytes> {
    let decoder = FrameDecoder::new(64 << 20);
    loop {
        if let Ok(Some(frame)) = decoder.decode(buf) {
            return Some(frame);
        }
        match tokio::time::timeout(WAIT, io.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(_)) => {}
            Err(_) => panic!("no frame within {WAIT:?}"),
        }
    }
}

impl Client {
    /// A new session on `addr` with a 30 s timeout request.
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_with(
            addr,
            ConnectRequest {
                timeout: 30_000,
                passwd: Bytes::from_static(&[0; 16]),
                read_only: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("session established")
    }

    /// A handshake with a custom request; `None` if the server closed without an answer.
    pub async fn connect_with(addr: SocketAddr, req: ConnectRequest) -> Option<Client> {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        stream.set_nodelay(true).unwrap();
        Client::handshake(Box::new(stream), req).await
    }

    /// A handshake over any stream.
    pub async fn handshake(mut io: Box<dyn Io>, req: ConnectRequest) -> Option<Client> {
        let mut out = BytesMut::new();
        encode_connect_request(&mut out, &req);
        io.write_all(&out).await.ok()?;
        let mut buf = BytesMut::new();
        let frame = read_frame(&mut io, &mut buf).await?;
        let session = ConnectResponse::decode_exact(&frame).expect("ConnectResponse");
        Some(Client {
            io,
            buf,
            next_xid: 1,
            session,
            events: VecDeque::new(),
            last_zxid: 0,
        })
    }

    /// A client over a stream whose handshake was done by hand (`buf` holds what was read
    /// after the ConnectResponse).
    pub fn from_parts(io: Box<dyn Io>, buf: BytesMut, session: ConnectResponse) -> Client {
        Client {
            io,
            buf,
            next_xid: 1,
            session,
            events: VecDeque::new(),
            last_zxid: 0,
        }
    }

    /// Resumes this client's session on a new connection.
    pub async fn reconnect(&self, addr: SocketAddr) -> Option<Client> {
        Client::connect_with(
            addr,
            ConnectRequest {
                last_zxid_seen: self.last_zxid,
                timeout: self.session.timeout,
                session_id: self.session.session_id,
                passwd: self.session.passwd.clone(),
                read_only: Some(false),
                ..Default::default()
            },
        )
        .await
    }

    /// The session id.
    pub fn session_id(&self) -> i64 {
        self.session.session_id
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await
    }

    /// Sends a request with the next xid (or `xid` if given); returns the xid.
    pub async fn send(&mut self, request: &Request) -> i32 {
        let xid = match request {
            Request::Ping => -2,
            Request::Auth(_) => -4,
            Request::SetWatches(_) | Request::SetWatches2(_) => -8,
            _ => {
                let x = self.next_xid;
                self.next_xid += 1;
                x
            }
        };
        let mut out = BytesMut::new();
        encode_request(&mut out, xid, request);
        self.io.write_all(&out).await.expect("write request");
        xid
    }

    /// Reads the next frame that is not an event; events are queued. `None` on EOF.
    pub async fn recv_raw_reply(&mut self) -> Option<(ReplyHeader, Bytes)> {
        loop {
            let frame = read_frame(&mut self.io, &mut self.buf).await?;
            match decode_incoming(frame).expect("decodable frame") {
                Incoming::Event { zxid, event } => self.events.push_back((zxid, event)),
                Incoming::Reply { header, body } => {
                    self.last_zxid = self.last_zxid.max(header.zxid);
                    return Some((header, body));
                }
            }
        }
    }

    /// Reads the reply to a request of type `op`.
    pub async fn recv_reply(&mut self, op: OpCode) -> Option<Reply> {
        let (header, body) = self.recv_raw_reply().await?;
        if !header.err.is_ok() || body.is_empty() {
            return Some((header, None));
        }
        let response = decode_response(op, body).expect("decodable body");
        Some((header, Some(response)))
    }

    /// Sends and awaits the reply, checking the xid.
    pub async fn call(&mut self, request: Request) -> Reply {
        let op = request.op_code();
        let xid = self.send(&request).await;
        let reply = self.recv_reply(op).await.expect("reply before EOF");
        assert_eq!(reply.0.xid, xid, "reply out of order");
        reply
    }

    /// The next event (waiting for one if none is queued).
    pub async fn next_event(&mut self) -> (i64, WatcherEvent) {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        let frame = read_frame(&mut self.io, &mut self.buf)
            .await
            .expect("an event before EOF");
        match decode_incoming(frame).expect("decodable frame") {
            Incoming::Event { zxid, event } => (zxid, event),
            Incoming::Reply { header, .. } => panic!("expected an event, got reply {header:?}"),
        }
    }

    /// True if the server closes the connection (reading and dropping anything else).
    pub async fn closed_by_server(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, self.io.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => self.buf.clear(),
                Err(_) => return false,
            }
        }
    }

    /// create with a plain path result.
    pub async fn create(
        &mut self,
        path: &str,
        data: &[u8],
        flags: i32,
    ) -> Result<String, ErrorCode> {
        let (h, body) = self
            .call(Request::Create(CreateRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl: Acl::open_unsafe(),
                flags,
            }))
            .await;
        match body {
            Some(Response::Create(r)) => Ok(r.path),
            _ => Err(h.err),
        }
    }

    /// getData.
    pub async fn get_data(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let (h, body) = self
            .call(Request::GetData(GetDataRequest {
                path: path.into(),
                watch,
            }))
            .await;
        match body {
            Some(Response::GetData(r)) => Ok((r.data, r.stat)),
            _ => Err(h.err),
        }
    }

    /// setData.
    pub async fn set_data(
        &mut self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Stat, ErrorCode> {
        let (h, body) = self
            .call(Request::SetData(SetDataRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                version,
            }))
            .await;
        match body {
            Some(Response::SetData(r)) => Ok(r.stat),
            _ => Err(h.err),
        }
    }

    /// exists.
    pub async fn exists(&mut self, path: &str, watch: bool) -> Result<Stat, ErrorCode> {
        let (h, body) = self
            .call(Request::Exists(ExistsRequest {
                path: path.into(),
                watch,
            }))
            .await;
        match body {
            Some(Response::Exists(r)) => Ok(r.stat),
            _ => Err(h.err),
        }
    }

    /// delete.
    pub async fn delete(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        let (h, _) = self
            .call(Request::Delete(DeleteRequest {
                path: path.into(),
                version,
            }))
            .await;
        if h.err.is_ok() {
            Ok(())
        } else {
            Err(h.err)
        }
    }

    /// closeSession; waits for the reply and the close.
    pub async fn close(mut self) {
        let (h, _) = self.call(Request::CloseSession).await;
        assert!(h.err.is_ok());
        assert!(self.closed_by_server().await);
    }
}
