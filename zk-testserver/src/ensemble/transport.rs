//! The peer transport of a member: TCP connections to and from the other members, with
//! injectable link faults.
//!
//! Each member sends on its own outgoing connection to every peer (opened on demand, first
//! bytes: its id) and receives on the peers' connections to it. Frames are a 4-byte length
//! and a [`codec`] body. A failed connect or write is a lost message: the owner hears
//! [`PeerEvent::SendFailed`]; [`Inbound`] turns a new connection from a peer into "the old one
//! broke", so each connection stays a reliable FIFO stream as the core requires.
//!
//! Link faults ([`Link`]) are applied here, each to one peer as this member sees it: `Down`
//! drops the connections to and from the peer and every message until the link is up again
//! (each dropped message is reported as a failed send); `SendLost` does the same to this
//! member's messages to the peer only (the peer's messages still arrive: one side of an
//! asymmetric partition); `Delay(d)` holds every message this member sends to the peer for
//! `d`. Faults are per direction: set a link on both members for both directions (as
//! [`crate::Ensemble`]'s `cut` and `slow_link` do).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::replication::{codec, Message, ServerId};

/// Frames above this size close the connection (a peer never sends one that big).
const MAX_FRAME: usize = 64 << 20;

/// The state of the link between this member and one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Link {
    /// Messages flow.
    #[default]
    Up,
    /// Cut in both directions: connections break and every message is lost.
    Down,
    /// This member's messages to the peer are lost (its connection to the peer breaks and
    /// is not opened again) while the peer's messages still arrive: the peer stops hearing
    /// this member, this member still hears the peer.
    SendLost,
    /// Every message this member sends to the peer arrives this much later (one direction:
    /// set it on both members to slow both).
    Delay(Duration),
}

/// What the transport reports to its owner.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    /// A message arrived on incoming connection `conn` from `from`.
    Frame {
        from: ServerId,
        conn: u64,
        msg: Message,
    },
    /// Incoming connection `conn` from `from` ended.
    Closed { from: ServerId, conn: u64 },
    /// A message to `to` was lost (unreachable, write failed, or the link is down).
    SendFailed { to: ServerId },
    /// A peer connected and said where it listens (a server joining by reconfig is not in
    /// the configuration the others started with).
    Hello { from: ServerId, addr: SocketAddr },
}

/// Peers a transport sends to at most: a connection claiming ever new ids cannot grow it.
const MAX_PEERS: usize = 256;

/// Where the transport's tasks deliver events; false once the owner is gone.
pub(crate) type Sink = Arc<dyn Fn(PeerEvent) -> bool + Send + Sync>;

type Links = BTreeMap<ServerId, Link>;

/// The sending side of the transport, owned by the member's driver.
pub(crate) struct Transport {
    outbound: BTreeMap<ServerId, mpsc::UnboundedSender<(Instant, Bytes)>>,
    links: watch::Sender<Links>,
    me: ServerId,
    /// The port this member listens on, told to every peer it connects to.
    port: u16,
    sink: Sink,
    /// Runs the sender tasks of peers added later (they end when the transport is dropped).
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("me", &self.me)
            .field("peers", &self.outbound.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Starts accepting on `listener` and a sender task per peer of `peers` other than `me`;
    /// the tasks go into `tasks` (aborting them stops the transport).
    pub(crate) fn start(
        me: ServerId,
        listener: TcpListener,
        peers: &BTreeMap<ServerId, SocketAddr>,
        sink: Sink,
        tasks: &mut JoinSet<()>,
    ) -> Transport {
        let (links, links_rx) = watch::channel(Links::new());
        let port = listener.local_addr().map_or(0, |a| a.port());
        tasks.spawn(accept(listener, sink.clone(), links_rx.clone()));
        let mut outbound = BTreeMap::new();
        for (&peer, &addr) in peers {
            if peer == me {
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            outbound.insert(peer, tx);
            tasks.spawn(send_loop(
                (me, port),
                peer,
                addr,
                rx,
                sink.clone(),
                links_rx.clone(),
            ));
        }
        Transport {
            outbound,
            links,
            me,
            port,
            sink,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Starts sending to a peer not known at start (a member added by a reconfig); nothing
    /// if it is known already.
    pub(crate) fn add_peer(&mut self, peer: ServerId, addr: SocketAddr) {
        if peer == self.me || self.outbound.contains_key(&peer) {
            return;
        }
        if self.outbound.len() >= MAX_PEERS {
            tracing::warn!(peer, %addr, "too many peers: not adding one more");
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.outbound.insert(peer, tx);
        let links = self.links.subscribe();
        self.runtime.spawn(send_loop(
            (self.me, self.port),
            peer,
            addr,
            rx,
            self.sink.clone(),
            links,
        ));
    }

    /// Queues `msg` for `to` (lost, and reported, if it cannot be delivered).
    pub(crate) fn send(&self, to: ServerId, msg: &Message) {
        let mut body = BytesMut::new();
        body.put_u32(0);
        codec::encode(msg, &mut body);
        let len = u32::try_from(body.len() - 4).unwrap_or(u32::MAX);
        body[..4].copy_from_slice(&len.to_be_bytes());
        if let Some(tx) = self.outbound.get(&to) {
            let _ = tx.send((Instant::now(), body.freeze()));
        }
    }

    /// Sets the link to `peer`; connections to and from it break at once when it goes down.
    pub(crate) fn set_link(&self, peer: ServerId, link: Link) {
        self.links.send_modify(|l| {
            if link == Link::Up {
                l.remove(&peer);
            } else {
                l.insert(peer, link);
            }
        });
    }
}

fn link_of(links: &watch::Receiver<Links>, peer: ServerId) -> Link {
    links.borrow().get(&peer).copied().unwrap_or_default()
}

/// Whether messages this member sends over `link` are lost.
fn sends_lost(link: Link) -> bool {
    matches!(link, Link::Down | Link::SendLost)
}

async fn accept(listener: TcpListener, sink: Sink, links: watch::Receiver<Links>) {
    let mut next_conn = 0u64;
    let mut readers = JoinSet::new();
    loop {
        while readers.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        next_conn += 1;
        readers.spawn(read_loop(stream, next_conn, sink.clone(), links.clone()));
    }
}

async fn read_loop(
    mut stream: TcpStream,
    conn: u64,
    sink: Sink,
    mut links: watch::Receiver<Links>,
) {
    let _ = stream.set_nodelay(true);
    let Ok(from) = stream.read_u64().await else {
        return;
    };
    let Ok(port) = stream.read_u16().await else {
        return;
    };
    if let Ok(remote) = stream.peer_addr() {
        let addr = SocketAddr::new(remote.ip(), port);
        if port != 0 && !sink(PeerEvent::Hello { from, addr }) {
            return;
        }
    }
    if link_of(&links, from) == Link::Down {
        return;
    }
    let mut body = Vec::new();
    loop {
        let frame = async {
            let len = stream.read_u32().await? as usize;
            if len > MAX_FRAME {
                return Err(std::io::Error::other(format!(
                    "oversized peer frame: {len}"
                )));
            }
            body.resize(len, 0);
            stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(())
        };
        let cut = async {
            while link_of(&links, from) != Link::Down {
                if links.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            read = frame => {
                if let Err(e) = read {
                    tracing::trace!(from, error = %e, "peer connection ended");
                    break;
                }
            }
            () = cut => break,
        }
        match codec::decode(&body) {
            Ok(msg) => {
                if !sink(PeerEvent::Frame { from, conn, msg }) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(from, error = %e, "undecodable peer frame; closing");
                break;
            }
        }
    }
    let _ = sink(PeerEvent::Closed { from, conn });
}

async fn send_loop(
    (me, port): (ServerId, u16),
    peer: ServerId,
    addr: SocketAddr,
    mut frames: mpsc::UnboundedReceiver<(Instant, Bytes)>,
    sink: Sink,
    mut links: watch::Receiver<Links>,
) {
    let mut conn: Option<TcpStream> = None;
    loop {
        let (queued, frame) = tokio::select! {
            next = frames.recv() => match next {
                Some(f) => f,
                None => return,
            },
            changed = links.changed() => {
                if changed.is_err() {
                    return;
                }
                if sends_lost(link_of(&links, peer)) {
                    conn = None;
                }
                continue;
            }
        };
        let link = link_of(&links, peer);
        if let Link::Delay(d) = link {
            tokio::time::sleep_until(queued + d).await;
        }
        if sends_lost(link_of(&links, peer)) {
            conn = None;
            if !sink(PeerEvent::SendFailed { to: peer }) {
                return;
            }
            continue;
        }
        if conn.is_none() {
            match TcpStream::connect(addr).await {
                Ok(mut s) => {
                    let _ = s.set_nodelay(true);
                    let mut hello = [0u8; 10];
                    hello[..8].copy_from_slice(&me.to_be_bytes());
                    hello[8..].copy_from_slice(&port.to_be_bytes());
                    if s.write_all(&hello).await.is_ok() {
                        conn = Some(s);
                    }
                }
                Err(e) => tracing::trace!(peer, error = %e, "peer unreachable"),
            }
        }
        let sent = match conn.as_mut() {
            Some(s) => s.write_all(&frame).await.is_ok(),
            None => false,
        };
        if !sent {
            conn = None;
            if !sink(PeerEvent::SendFailed { to: peer }) {
                return;
            }
        }
    }
}

/// Tracks the current incoming connection of each peer.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    seen: BTreeMap<ServerId, u64>,
}

/// What a transport event means for the replication core.
#[derive(Debug)]
pub(crate) enum PeerInput {
    /// Step this message.
    Message(ServerId, Message),
    /// The connection with this peer broke.
    Disconnected(ServerId),
    /// A message of `from` preceded by the break of its older connection.
    Reconnected(ServerId, Message),
}

impl Inbound {
    /// Interprets `event`; `None` if it is stale (an older connection's).
    pub(crate) fn input(&mut self, event: PeerEvent) -> Option<PeerInput> {
        match event {
            PeerEvent::Frame { from, conn, msg } => {
                let seen = self.seen.get(&from).copied().unwrap_or(0);
                if conn < seen {
                    return None;
                }
                if conn > seen {
                    self.seen.insert(from, conn);
                    if seen != 0 {
                        return Some(PeerInput::Reconnected(from, msg));
                    }
                }
                Some(PeerInput::Message(from, msg))
            }
            PeerEvent::Closed { from, conn } => {
                (self.seen.get(&from) == Some(&conn)).then_some(PeerInput::Disconnected(from))
            }
            PeerEvent::SendFailed { to } => Some(PeerInput::Disconnected(to)),
            PeerEvent::Hello { .. } => None,
        }
    }
}
