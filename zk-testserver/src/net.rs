//! The tokio side: a listener task and one task per connection.
//!
//! A connection task only moves bytes: it splits frames off its read buffer with
//! [`FrameDecoder`], hands them to the core thread, and writes whatever the core sends back
//! (several queued chunks in one vectored write). The first 4 bytes of a connection may be a
//! four-letter word instead of a frame length. A bad frame length closes the connection (as
//! ZooKeeper does); nothing a client sends can take down the server or another connection.
//!
//! Resources stay bounded whatever a client does ([`flow`]): a request goes to the core only
//! with a credit from the connection's and the server's budgets, and a connection whose
//! replies pile up unsent stops being read. A connection that has not completed its
//! handshake (TLS and ConnectRequest) within the handshake timeout is closed, as ZooKeeper
//! closes sessionless connections. Reads and writes run side by side in one `select!`, so a
//! client that stops reading never stalls the task's other duties (closing on request,
//! aborting when its backlog grows too large).

pub(crate) mod flow;

use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc as tmpsc, oneshot};
use tokio::time::Instant;
use zk_proto::{ConnectRequest, FourLetterWord, FrameDecoder, Jute};

use crate::server::CoreMsg;
use crate::watch::ConnId;
use flow::{Budget, ConnFlow};

/// How long a connection the core closes may take to flush what was queued for it.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the core thread sends a connection task.
#[derive(Debug)]
pub(crate) enum ConnOut {
    /// Bytes to write (one or more whole frames), already counted in the unsent backlog.
    Bytes(Bytes),
    /// Flush (for at most [`CLOSE_GRACE`]) and close.
    Close,
    /// Close at once, dropping what is unsent.
    Abort,
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
    pub(crate) budget: Arc<Budget>,
    /// Closes connections that have not sent a whole ConnectRequest by then.
    pub(crate) handshake_timeout: Duration,
    /// The largest frame body accepted (`jute.maxbuffer`).
    pub(crate) max_frame: usize,
}

impl std::fmt::Debug for NetContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetContext")
            .field("tls", &self.tls.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
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
                tokio::time::sleep(Duration::from_millis(10)).await;
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
            let deadline = Instant::now() + ctx.handshake_timeout;
            match ctx.tls.clone() {
                None => serve(stream, addr, conn, ctx, deadline, None).await,
                Some(acceptor) => {
                    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            // A verified client certificate is the `x509` identity.
                            let x509 = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|certs| certs.first())
                                .and_then(crate::tls::x509_subject);
                            serve(tls, addr, conn, ctx, deadline, x509).await
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "no TLS handshake in time; closing"),
                    }
                }
            }
        });
    }
}

/// Writes the front of `queue` (up to 16 chunks in one vectored write).
async fn write_some<W: AsyncWrite + Unpin>(
    wr: &mut W,
    queue: &VecDeque<Bytes>,
) -> std::io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); 16];
    let mut n = 0;
    for (slot, chunk) in slices.iter_mut().zip(queue) {
        *slot = IoSlice::new(chunk);
        n += 1;
    }
    wr.write_vectored(&slices[..n]).await
}

/// Drops `n` written bytes off the front of `queue`.
fn consume(queue: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = queue.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            queue.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

/// Serves one connection to the end; `deadline` ends a handshake that takes too long, and
/// `x509` is the subject of the client's verified TLS certificate.
async fn serve<S>(
    stream: S,
    addr: SocketAddr,
    conn: ConnId,
    ctx: NetContext,
    deadline: Instant,
    x509: Option<String>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tracing::debug!(conn, %addr, "connection opened");
    let core = &ctx.core;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    while buf.len() < 4 {
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
    if let Some(word) = FourLetterWord::detect(&buf[..4]) {
        let (tx, rx) = oneshot::channel();
        if core
            .send(CoreMsg::FourLetter {
                word,
                addr,
                reply: tx,
            })
            .is_err()
        {
            return;
        }
        if let Ok(text) = rx.await {
            let write = async {
                let _ = wr.write_all(text.as_bytes()).await;
                let _ = wr.shutdown().await;
            };
            let _ = tokio::time::timeout(ctx.handshake_timeout, write).await;
        }
        return;
    }
    let flow = Arc::new(ConnFlow::default());
    let (out_tx, mut out_rx) = tmpsc::unbounded_channel();
    if core
        .send(CoreMsg::Open {
            conn,
            addr,
            tx: out_tx,
            x509,
            flow: Arc::clone(&flow),
        })
        .is_err()
    {
        return;
    }
    let max_unsent = ctx.budget.limits().max_unsent_bytes;
    let decoder = FrameDecoder::new(ctx.max_frame);
    let handshake = tokio::time::sleep_until(deadline);
    tokio::pin!(handshake);
    let mut connected = false;
    // A whole frame waiting for a credit.
    let mut stalled: Option<Bytes> = None;
    let mut outgoing: VecDeque<Bytes> = VecDeque::new();
    // Set when the core closes the connection: flush until then.
    let mut closing: Option<Instant> = None;
    'conn: loop {
        while closing.is_none() {
            let frame = match stalled.take() {
                Some(frame) => frame,
                None => match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(conn, error = %e, "bad frame length; closing");
                        break 'conn;
                    }
                },
            };
            let msg = if connected {
                match flow.try_credit(&ctx.budget, frame.len()) {
                    Some(credit) => CoreMsg::Frame {
                        conn,
                        frame,
                        credit,
                        received: std::time::Instant::now(),
                    },
                    None => {
                        stalled = Some(frame);
                        break;
                    }
                }
            } else {
                // Bytes after the request (and its readOnly flag) are ignored, as ZooKeeper
                // ignores them: newer clients append fields.
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
        if closing.is_some() && outgoing.is_empty() {
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
            })
            .await;
            break;
        }
        let open = closing.is_none();
        let can_read = open && stalled.is_none() && flow.unsent() <= max_unsent;
        let needs_credit = open && stalled.is_some();
        let close_by = closing.unwrap_or_else(Instant::now);
        tokio::select! {
            biased;
            // After Close the core drops its sender: nothing more comes.
            out = out_rx.recv(), if open => {
                // Everything queued is taken at once, so writing is never starved.
                let mut next = out;
                loop {
                    match next {
                        Some(ConnOut::Bytes(b)) => outgoing.push_back(b),
                        Some(ConnOut::Close) => {
                            closing = Some(Instant::now() + CLOSE_GRACE);
                            break;
                        }
                        Some(ConnOut::Abort) | None => break 'conn,
                    }
                    match out_rx.try_recv() {
                        Ok(m) => next = Some(m),
                        Err(_) => break,
                    }
                }
            }
            written = write_some(&mut wr, &outgoing), if !outgoing.is_empty() => match written {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => {
                    consume(&mut outgoing, n);
                    if flow.wrote(n) && core.send(CoreMsg::Writable { conn }).is_err() {
                        break 'conn;
                    }
                }
            },
            read = rd.read_buf(&mut buf), if can_read => match read {
                Ok(0) | Err(_) => break 'conn,
                Ok(_) => {}
            },
            _ = flow.wait_for_credit(&ctx.budget), if needs_credit => {}
            _ = &mut handshake, if !connected => {
                tracing::debug!(conn, %addr, "no ConnectRequest within the handshake timeout; closing");
                break 'conn;
            }
            _ = tokio::time::sleep_until(close_by), if !open => {
                tracing::debug!(conn, "the client did not take its last replies in time");
                break 'conn;
            }
        }
    }
    let _ = core.send(CoreMsg::Closed { conn });
}
