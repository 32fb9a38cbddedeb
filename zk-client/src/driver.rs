//! The tokio driver: one task per session that owns the socket and the [`Session`] core.
//!
//! Each turn it executes the core's effects, takes every queued frame (small frames coalesced
//! into one buffer, large ones as the caller encoded them; one vectored write covers them all),
//! and waits for whichever comes first: a user command, bytes from the server, the write
//! finishing, the connection attempt finishing, or the core's next deadline. It knows nothing
//! about op codes.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;
use zk_proto::Response;

use crate::error::Result;
use crate::event::{EventType, WatchedEvent};
use crate::events::Hub;
use crate::frame::FramePool;
use crate::hosts::HostPort;
use crate::session::{Chunk, Effect, Session, SessionState, Submit, WatcherId};
use crate::watcher::Sink;

/// Completes one request.
pub(crate) type Token = oneshot::Sender<Result<Response>>;

/// A message from a `Client` handle (or a dropped watcher) to the session task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a request; `sink` receives the events of the watcher it registers.
    Request {
        submit: Submit<Token>,
        sink: Option<(WatcherId, Sink)>,
    },
    /// Add credentials.
    Auth {
        scheme: String,
        data: Bytes,
        token: Token,
    },
    /// A watcher was dropped.
    Unwatch(WatcherId),
    /// Close the session.
    Close(Token),
}

/// What the handles read without asking the task.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) last_zxid: AtomicI64,
    pub(crate) identity: watch::Sender<(i64, Bytes)>,
    /// Buffers of written frames, for the next large requests.
    pub(crate) frames: FramePool,
    /// Session events, their subscribers, and the session's getters.
    pub(crate) lifecycle: Hub,
}

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;
type Opening = Pin<Box<dyn Future<Output = io::Result<Opened>> + Send>>;
/// An open connection: its halves and the server's address.
type Opened = (Reader, Writer, SocketAddr);
type Probing = Pin<Box<dyn Future<Output = (HostPort, bool)> + Send>>;

/// How long a read-write probe (`isro`) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens connections (TCP, or TLS with the `tls` feature).
#[derive(Debug, Clone, Default)]
pub(crate) struct Transport {
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Arc<crate::tls::TlsConnector>>,
}

impl Transport {
    /// Asks `host` whether it serves read-write: sends `isro`, expects `rw`.
    fn probe(&self, host: HostPort) -> Probing {
        let opening = self.open(host.clone());
        Box::pin(async move {
            let ask = async {
                let (mut reader, mut writer, _) = opening.await?;
                writer.write_all(b"isro").await?;
                writer.flush().await?;
                let mut reply = Vec::new();
                reader.read_to_end(&mut reply).await?;
                io::Result::Ok(reply.starts_with(b"rw"))
            };
            let read_write = matches!(tokio::time::timeout(PROBE_TIMEOUT, ask).await, Ok(Ok(true)));
            (host, read_write)
        })
    }

    fn open(&self, host: HostPort) -> Opening {
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.host.as_str(), host.port)).await?;
            let mut last_error = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => {
                        stream.set_nodelay(true)?;
                        #[cfg(feature = "tls")]
                        if let Some(tls) = &tls {
                            let stream = tls.connect(&host.host, stream).await?;
                            let (r, w) = tokio::io::split(stream);
                            return Ok((Box::new(r) as Reader, Box::new(w) as Writer, addr));
                        }
                        let (r, w) = stream.into_split();
                        return Ok((Box::new(r) as Reader, Box::new(w) as Writer, addr));
                    }
                    Err(e) => last_error = Some(e),
                }
            }
            Err(last_error.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "the host resolved to no address")
            }))
        })
    }
}

/// The session task.
pub(crate) struct Driver {
    pub(crate) core: Session<Token>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) state: watch::Sender<SessionState>,
    pub(crate) published: Arc<Published>,
    pub(crate) transport: Transport,
}

/// The connection's halves.
#[derive(Default)]
struct Conn {
    reader: Option<Reader>,
    writer: Option<Writer>,
    opening: Option<Opening>,
    unflushed: bool,
    /// The server of the open connection.
    peer: Option<SocketAddr>,
}

const MAX_COMMANDS_PER_TURN: usize = 512;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    /// Spawns the task on the current runtime.
    pub(crate) fn spawn(self) {
        let span = tracing::info_span!("zk_session", session_id = tracing::field::Empty);
        tokio::spawn(self.run().instrument(span));
    }

    async fn run(mut self) {
        let mut sinks: HashMap<WatcherId, Sink> = HashMap::new();
        let mut conn = Conn::default();
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut wbuf: VecDeque<Chunk> = VecDeque::new();
        let mut commands_open = true;
        let mut probing: Option<Probing> = None;
        // One timer for the task's life, re-armed only when the core's deadline moves earlier
        // than the armed one: deadlines mostly move later (every send postpones the ping), and
        // registering a fresh timer each turn costs a timer-wheel insert and removal. A timer
        // that fires before the core's deadline just gets re-armed.
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        loop {
            self.apply_effects(&mut sinks, &mut conn, &mut probing, &mut rbuf, &mut wbuf);
            if self.core.is_finished() {
                break;
            }
            // While a batch is still being written, new frames keep coalescing in the core's
            // buffer and are taken once the batch is written.
            if wbuf.is_empty() && self.core.poll_transmit(&mut wbuf) {
                conn.unflushed = true;
            }
            if let Some(deadline) = self.core.next_deadline() {
                if armed.map_or(true, |at| deadline < at) {
                    timer
                        .as_mut()
                        .reset(tokio::time::Instant::from_std(deadline));
                    armed = Some(deadline);
                }
            }
            let writable = conn.writer.is_some() && !wbuf.is_empty();
            let flushable = conn.writer.is_some() && wbuf.is_empty() && conn.unflushed;
            tokio::select! {
                read = read_some(&mut conn.reader, &mut rbuf) => match read {
                    Ok(0) | Err(_) => {
                        tracing::debug!(error = ?read.err(), "connection closed");
                        self.core.on_disconnected(now());
                    }
                    Ok(_) => self.core.on_received(&mut rbuf, now()),
                },
                written = write_some(&mut conn.writer, &wbuf), if writable || flushable => {
                    match written {
                        Ok(0) => conn.unflushed = false,
                        Ok(n) => advance(&mut wbuf, n, &self.published.frames),
                        Err(e) => {
                            tracing::debug!(error = %e, "write failed");
                            wbuf.clear();
                            self.core.on_disconnected(now());
                        }
                    }
                },
                opened = wait_opening(&mut conn.opening) => {
                    conn.opening = None;
                    match opened {
                        Ok((reader, writer, peer)) => {
                            conn.reader = Some(reader);
                            conn.writer = Some(writer);
                            conn.peer = Some(peer);
                            self.core.on_connected(now());
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "connection attempt failed");
                            self.core.on_connect_failed(now());
                        }
                    }
                },
                command = self.commands.recv(), if commands_open => match command {
                    Some(command) => {
                        let now = now();
                        self.handle(command, &mut sinks, now);
                        for _ in 1..MAX_COMMANDS_PER_TURN {
                            match self.commands.try_recv() {
                                Ok(command) => self.handle(command, &mut sinks, now),
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        // Every `Client` handle is gone: close the session.
                        commands_open = false;
                        self.core.close(None, now());
                    }
                },
                (host, read_write) = wait_probe(&mut probing) => {
                    probing = None;
                    self.core.on_probe_result(host, read_write, now());
                },
                // The check below runs `on_timeout` if the core's deadline has come.
                () = &mut timer, if armed.is_some() => armed = None,
            }
            // Timers are checked after every input, so a busy connection cannot starve them.
            let now = now();
            if self.core.next_deadline().is_some_and(|d| d <= now) {
                self.core.on_timeout(now);
            }
            self.published
                .last_zxid
                .store(self.core.last_zxid(), Ordering::Relaxed);
        }
        // Every events stream ends (its buffered events are still read).
        self.published.lifecycle.end();
        tracing::debug!("session task finished");
    }

    fn handle(&mut self, command: Command, sinks: &mut HashMap<WatcherId, Sink>, now: Instant) {
        match command {
            Command::Request { submit, sink } => {
                if let Some((id, sink)) = sink {
                    sinks.insert(id, sink);
                }
                self.core.submit(submit, now);
            }
            Command::Auth {
                scheme,
                data,
                token,
            } => self.core.add_auth(scheme, data, token, now),
            Command::Unwatch(id) => {
                sinks.remove(&id);
                self.core.unwatch(id, now);
            }
            Command::Close(token) => self.core.close(Some(token), now),
        }
    }

    fn apply_effects(
        &mut self,
        sinks: &mut HashMap<WatcherId, Sink>,
        conn: &mut Conn,
        probing: &mut Option<Probing>,
        rbuf: &mut BytesMut,
        wbuf: &mut VecDeque<Chunk>,
    ) {
        while let Some(effect) = self.core.poll_effect() {
            match effect {
                Effect::Connect(host) => {
                    conn.opening = Some(self.transport.open(host));
                }
                Effect::Probe(host) => {
                    if probing.is_none() {
                        *probing = Some(self.transport.probe(host));
                    }
                }
                Effect::Disconnect => {
                    *conn = Conn::default();
                    rbuf.clear();
                    wbuf.clear();
                }
                Effect::Complete { token, result } => {
                    // The caller may have dropped its future: that just discards the reply.
                    let _ = token.send(result);
                }
                Effect::Deliver { watcher, event } => self.deliver(sinks, watcher, event),
                Effect::State(state) => {
                    self.state.send_replace(state);
                }
                Effect::Event { event, negotiated } => {
                    // Published before the state it comes with (the core's order), so that
                    // whoever sees the state finds the session id and getters up to date.
                    if event.is_connected() {
                        let identity = (self.core.session_id(), self.core.password().clone());
                        tracing::Span::current().record(
                            "session_id",
                            tracing::field::display(format_args!("{:#x}", identity.0)),
                        );
                        self.published.identity.send_replace(identity);
                    }
                    let server = if event.is_connected() {
                        conn.peer
                    } else {
                        None
                    };
                    self.published.lifecycle.publish(event, negotiated, server);
                }
            }
        }
    }

    fn deliver(&mut self, sinks: &mut HashMap<WatcherId, Sink>, id: WatcherId, ev: WatchedEvent) {
        let removed = ev.event_type == EventType::PersistentWatchRemoved;
        match sinks.get(&id) {
            Some(Sink::Oneshot(_)) => {
                if let Some(Sink::Oneshot(tx)) = sinks.remove(&id) {
                    let _ = tx.send(ev);
                }
            }
            Some(Sink::Persistent { tx, lagged }) => match tx.try_send(ev) {
                // The server confirmed removeWatches: the watcher is unregistered, and its
                // stream ends after this event.
                Ok(()) if removed => {
                    sinks.remove(&id);
                }
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(watcher = id, "persistent watcher fell behind; dropping it");
                    lagged.store(true, Ordering::Relaxed);
                    sinks.remove(&id);
                    self.core.unwatch(id, now());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    sinks.remove(&id);
                }
            },
            None => {}
        }
    }
}

async fn read_some(reader: &mut Option<Reader>, buf: &mut BytesMut) -> io::Result<usize> {
    match reader {
        Some(reader) => {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(64 * 1024);
            }
            reader.read_buf(buf).await
        }
        None => std::future::pending().await,
    }
}

/// The most chunks one vectored write covers.
const MAX_SLICES: usize = 64;

/// Writes some of `chunks` (vectored when there are several), or flushes when there are none
/// (returning 0).
async fn write_some(writer: &mut Option<Writer>, chunks: &VecDeque<Chunk>) -> io::Result<usize> {
    let Some(writer) = writer else {
        return std::future::pending().await;
    };
    let written = match chunks.len() {
        0 => return writer.flush().await.map(|()| 0),
        1 => writer.write(&chunks[0].buf).await,
        _ => {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(chunks) {
                *slot = IoSlice::new(&chunk.buf);
                count += 1;
            }
            writer.write_vectored(&slices[..count]).await
        }
    };
    match written {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        other => other,
    }
}

/// Drops the first `n` bytes of `chunks`, recycling the buffers of written frames.
fn advance(chunks: &mut VecDeque<Chunk>, mut n: usize, pool: &FramePool) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if n < front.buf.len() {
            front.buf.advance(n);
            return;
        }
        n -= front.buf.len();
        if let Some(chunk) = chunks.pop_front() {
            if chunk.recycle {
                pool.give(chunk.buf);
            }
        }
    }
}

async fn wait_opening(opening: &mut Option<Opening>) -> io::Result<Opened> {
    match opening {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

async fn wait_probe(probing: &mut Option<Probing>) -> (HostPort, bool) {
    match probing {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}
