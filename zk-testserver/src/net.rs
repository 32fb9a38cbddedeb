//! The tokio side: a listener task and one task per connection.
//!
//! A connection task only moves bytes: it splits frames off its read buffer with
//! [`FrameDecoder`], hands them to the core thread, and writes whatever the core sends back,
//! coalescing queued frames into one write. The first 4 bytes of a connection may be a
//! four-letter word instead of a frame length. A bad frame length closes the connection (as
//! ZooKeeper does); nothing a client sends can take down the server or another connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc as tmpsc, oneshot};
use zk_proto::{ConnectRequest, FourLetterWord, FrameDecoder, Jute};

use crate::server::CoreMsg;
use crate::watch::ConnId;

/// What the core thread sends a connection task.
#[derive(Debug)]
pub(crate) enum ConnOut {
    /// Bytes to write (one or more whole frames).
    Bytes(Bytes),
    /// Flush and close.
    Close,
}

/// Counts connections per client address for `maxClientCnxns`.
#[derive(Debug, Default)]
pub(crate) struct ConnLimits {
    max_per_ip: usize,
    // One std mutex, never held across an await: the count is bumped and dropped in place.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnLimits {
    pub(crate) fn new(max_per_ip: usize) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            max_per_ip,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnGuard> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if self.max_per_ip != 0 && *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(ConnGuard {
            limits: Arc::clone(self),
            ip,
        })
    }
}

struct ConnGuard {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut counts = self.limits.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = counts.get_mut(&self.ip) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Shared by the listeners of one server.
#[derive(Clone)]
pub(crate) struct NetContext {
    pub(crate) core: mpsc::Sender<CoreMsg>,
    pub(crate) next_conn: Arc<AtomicU64>,
    pub(crate) limits: Arc<ConnLimits>,
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for NetContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetContext")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: NetContext) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(guard) = ctx.limits.acquire(addr.ip()) else {
            tracing::warn!(%addr, "too many connections from this address; closing");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _guard = guard;
            match ctx.tls.clone() {
                None => serve(stream, addr, conn, ctx.core).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => serve(tls, addr, conn, ctx.core).await,
                    Err(e) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                },
            }
        });
    }
}

/// Serves one connection to the end.
async fn serve<S>(stream: S, addr: SocketAddr, conn: ConnId, core: mpsc::Sender<CoreMsg>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tracing::debug!(conn, %addr, "connection opened");
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    while buf.len() < 4 {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    if let Some(word) = FourLetterWord::detect(&buf[..4]) {
        let (tx, rx) = oneshot::channel();
        if core.send(CoreMsg::FourLetter { word, reply: tx }).is_err() {
            return;
        }
        if let Ok(text) = rx.await {
            let _ = wr.write_all(text.as_bytes()).await;
        }
        let _ = wr.shutdown().await;
        return;
    }
    let (out_tx, mut out_rx) = tmpsc::unbounded_channel();
    if core
        .send(CoreMsg::Open {
            conn,
            addr,
            tx: out_tx,
        })
        .is_err()
    {
        return;
    }
    let decoder = FrameDecoder::default();
    let mut connected = false;
    'conn: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let msg = if connected {
                        CoreMsg::Frame { conn, frame }
                    } else {
                        // Bytes after the request (and its readOnly flag) are ignored, as
                        // ZooKeeper ignores them: newer clients append fields.
                        match ConnectRequest::decode(&mut &frame[..]) {
                            Ok(req) => {
                                connected = true;
                                CoreMsg::Connect { conn, req }
                            }
                            Err(e) => {
                                tracing::debug!(conn, error = %e, "bad ConnectRequest; closing");
                                break 'conn;
                            }
                        }
                    };
                    if core.send(msg).is_err() {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(conn, error = %e, "bad frame length; closing");
                    break 'conn;
                }
            }
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(_) => {}
                }
            }
            out = out_rx.recv() => {
                let mut close = false;
                // The usual case is one chunk: write it as it is. Only when more are queued
                // are they copied together, to go out in one write.
                let mut first = match out {
                    Some(ConnOut::Bytes(b)) => b,
                    Some(ConnOut::Close) | None => { close = true; Bytes::new() }
                };
                let mut joined: Option<BytesMut> = None;
                while !close {
                    match out_rx.try_recv() {
                        Ok(ConnOut::Bytes(b)) => {
                            joined
                                .get_or_insert_with(|| BytesMut::from(&std::mem::take(&mut first)[..]))
                                .extend_from_slice(&b);
                        }
                        Ok(ConnOut::Close) => close = true,
                        Err(_) => break,
                    }
                }
                let pending: &[u8] = joined.as_deref().unwrap_or(&first);
                if !pending.is_empty() && wr.write_all(pending).await.is_err() {
                    break 'conn;
                }
                if close {
                    let _ = wr.flush().await;
                    let _ = wr.shutdown().await;
                    break 'conn;
                }
            }
        }
    }
    let _ = core.send(CoreMsg::Closed { conn });
}
