//! Three [`MemberNode`]s started by hand on loopback, driven by zk-client over real sockets:
//! a follower serves reads, writes and watches; a session moves between members; ephemerals
//! vanish everywhere on expiry; a client survives the leader's kill.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use zk_client::{Client, CreateMode, CreateOptions, EventType, SessionId};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{DurableStore, Link, MemberConfig, MemberNode, MemberStatus, MemoryDisk, Serving};
use crate::replication::ServerId;
use crate::replication::{DurableState, PersistOp};

const WAIT: Duration = Duration::from_secs(10);

/// A disk whose writes fail once `fail` is set.
#[derive(Debug)]
struct FailingDisk {
    inner: MemoryDisk,
    fail: Arc<AtomicBool>,
}

impl DurableStore for FailingDisk {
    fn load(&mut self) -> std::io::Result<DurableState> {
        self.inner.load()
    }

    fn persist(&mut self, ops: &[PersistOp]) -> std::io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("injected disk failure"));
        }
        self.inner.persist(ops)
    }
}

struct Cluster {
    nodes: Vec<Option<MemberNode>>,
    cfgs: Vec<MemberConfig>,
    disks: Vec<MemoryDisk>,
    client_addrs: Vec<SocketAddr>,
}

impl Cluster {
    async fn start(n: u64) -> Cluster {
        Cluster::start_with(n, |_| {}).await
    }

    async fn start_with(n: u64, tweak: impl Fn(&mut MemberConfig)) -> Cluster {
        Cluster::start_full(n, tweak, None).await
    }

    /// `failing`: a member whose disk fails once the flag is set.
    async fn start_full(
        n: u64,
        tweak: impl Fn(&mut MemberConfig),
        failing: Option<(ServerId, Arc<AtomicBool>)>,
    ) -> Cluster {
        let mut peer_listeners = BTreeMap::new();
        let mut peers = BTreeMap::new();
        for id in 1..=n {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            peers.insert(id, l.local_addr().expect("addr"));
            peer_listeners.insert(id, l);
        }
        let mut cluster = Cluster {
            nodes: Vec::new(),
            cfgs: Vec::new(),
            disks: Vec::new(),
            client_addrs: Vec::new(),
        };
        for (id, peer) in peer_listeners {
            let client = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let mut cfg = MemberConfig::fast(id, peers.clone(), [7; 32]);
            tweak(&mut cfg);
            let disk = MemoryDisk::new();
            cluster
                .client_addrs
                .push(client.local_addr().expect("addr"));
            let store: Box<dyn DurableStore> = match &failing {
                Some((f, fail)) if *f == id => Box::new(FailingDisk {
                    inner: disk.clone(),
                    fail: fail.clone(),
                }),
                _ => Box::new(disk.clone()),
            };
            let node = MemberNode::start(cfg.clone(), client, peer, store).expect("member starts");
            cluster.nodes.push(Some(node));
            cluster.cfgs.push(cfg);
            cluster.disks.push(disk);
        }
        for node in cluster.nodes.iter().flatten() {
            until(node, "serving", |s| s.serving == Serving::ReadWrite).await;
        }
        cluster
    }

    /// Starts a killed member again on its addresses, from its disk.
    async fn restart(&mut self, id: ServerId) {
        let i = id as usize - 1;
        let cfg = self.cfgs[i].clone();
        let bind = |addr: SocketAddr| async move {
            // The killed member's sockets close as its tasks wind down.
            for _ in 0..500 {
                if let Ok(l) = std::net::TcpListener::bind(addr) {
                    return l;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("{addr} stays in use");
        };
        let client = bind(self.client_addrs[i]).await;
        let peer = bind(cfg.peers[&id]).await;
        let disk = Box::new(self.disks[i].clone());
        self.nodes[i] = Some(MemberNode::start(cfg, client, peer, disk).expect("restart"));
    }

    fn node(&self, id: ServerId) -> &MemberNode {
        self.nodes[id as usize - 1].as_ref().expect("member up")
    }

    fn leader(&self) -> ServerId {
        let leaders = self.leaders();
        assert_eq!(leaders.len(), 1, "one leader: {leaders:?}");
        leaders[0]
    }

    fn leaders(&self) -> Vec<ServerId> {
        self.nodes
            .iter()
            .flatten()
            .filter(|n| n.status().borrow().established.is_some())
            .map(MemberNode::id)
            .collect()
    }

    fn others(&self, id: ServerId) -> Vec<ServerId> {
        self.nodes
            .iter()
            .flatten()
            .map(MemberNode::id)
            .filter(|&i| i != id)
            .collect()
    }

    fn addr(&self, id: ServerId) -> SocketAddr {
        self.node(id).client_addr()
    }

    fn connect_string(&self) -> String {
        let addrs: Vec<String> = self
            .nodes
            .iter()
            .flatten()
            .map(|n| n.client_addr().to_string())
            .collect();
        addrs.join(",")
    }
}

/// Waits until `f` holds for the member's status.
async fn until(node: &MemberNode, what: &str, f: impl Fn(&MemberStatus) -> bool) {
    let mut rx = node.status();
    let waited = tokio::time::timeout(WAIT, rx.wait_for(|s| f(s))).await;
    assert!(
        matches!(waited, Ok(Ok(_))),
        "member {}: {what}: {:?}",
        node.id(),
        *node.status().borrow()
    );
}

/// Waits until `f` holds for the member's tree.
async fn until_tree(
    node: &MemberNode,
    what: &str,
    f: impl Fn(&crate::tree::DataTree) -> bool + Send + Sync + Clone + 'static,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let f = f.clone();
        if node.inspect(move |c| f(c.tree())).await == Some(true) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "member {}: {what}",
            node.id()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn client(connect: &str) -> Client {
    Client::builder(connect)
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("client connects")
}

fn persistent() -> CreateOptions {
    CreateOptions::new(CreateMode::Persistent)
}

fn ephemeral() -> CreateOptions {
    CreateOptions::new(CreateMode::Ephemeral)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_writes_reads_and_watches() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    let others = cluster.others(leader);
    let follower = others[0];
    let a = client(&cluster.addr(follower).to_string()).await;
    let b = client(&cluster.addr(leader).to_string()).await;
    assert!(cluster
        .node(follower)
        .connected_sessions()
        .await
        .contains(&a.session_id().0));

    // A write through the follower, read back at once through the same follower.
    a.create("/a", b"1", &persistent()).await.expect("create");
    let (data, _) = a.get_data("/a").await.expect("read own write");
    assert_eq!(&data[..], b"1");
    // Pipelined: the reads wait behind the session's writes and see them.
    let (w1, r1, w2, r2) = tokio::join!(
        a.set_data("/a", b"2", None),
        a.get_data("/a"),
        a.set_data("/a", b"3", None),
        a.get_data("/a"),
    );
    assert_eq!(w1.expect("w1").version, 1);
    assert_eq!(&r1.expect("r1").0[..], b"2");
    assert_eq!(w2.expect("w2").version, 2);
    assert_eq!(&r2.expect("r2").0[..], b"3");

    // A watch set on the follower fires for a write made through the leader.
    let (_, _, watcher) = a.get_data_and_watch("/a").await.expect("watch");
    b.set_data("/a", b"4", None)
        .await
        .expect("write via leader");
    let event = tokio::time::timeout(WAIT, watcher.changed())
        .await
        .expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(&a.get_data("/a").await.expect("read").0[..], b"4");

    // sync goes through the leader; errors come back from the leader's prep.
    a.sync("/a").await.expect("sync");
    assert!(matches!(
        a.create("/a", b"", &persistent()).await,
        Err(zk_client::Error::NodeExists)
    ));
    assert!(matches!(
        a.create("/x/y", b"", &persistent()).await,
        Err(zk_client::Error::NoNode)
    ));

    // Every member applied the same history.
    let zxid = cluster.node(leader).status().borrow().applied;
    for id in 1..=3 {
        until(cluster.node(id), &format!("applied {zxid:#x}"), |s| {
            s.applied >= zxid
        })
        .await;
        until_tree(cluster.node(id), "/a = 4", |t| {
            t.get("/a")
                .is_some_and(|n| n.data.as_deref() == Some(&b"4"[..]))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moves_between_members_and_its_ephemerals_vanish_everywhere_on_expiry() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    let others = cluster.others(leader);
    let (f1, f2) = (others[0], others[1]);
    let a = client(&cluster.addr(f1).to_string()).await;
    let session = a.session_id();
    a.create("/e1", b"", &ephemeral())
        .await
        .expect("ephemeral 1");

    // The same session resumed on another member (the secret is shared): it is live there
    // and owns what it creates there.
    let b = Client::builder(cluster.addr(f2).to_string())
        .session(SessionId(session.0), &a.session_password())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("session resumed on another member");
    assert_eq!(b.session_id(), session);
    assert!(b.exists("/e1").await.expect("exists").is_some());
    let (_, stat) = b
        .create("/e2", b"", &ephemeral())
        .await
        .expect("ephemeral 2");
    assert_eq!(stat.ephemeral_owner, session.0);
    assert!(cluster
        .node(f2)
        .connected_sessions()
        .await
        .contains(&session.0));

    // A wrong password is refused everywhere.
    let wrong = Client::builder(cluster.addr(leader).to_string())
        .session(SessionId(session.0), &[1; 16])
        .connect()
        .await;
    assert!(
        wrong.is_err(),
        "a wrong password must not resume the session"
    );

    // Expired from the leader's member: the ephemerals vanish on every member.
    assert!(cluster.node(leader).expire_session(session.0).await);
    for id in 1..=3 {
        until_tree(cluster.node(id), "ephemerals gone", |t| {
            t.get("/e1").is_none() && t.get("/e2").is_none()
        })
        .await;
        let sessions = cluster
            .node(id)
            .inspect(move |c| c.sessions().get(session.0).is_some())
            .await;
        assert_eq!(sessions, Some(false), "member {id} forgot the session");
    }
    // The expired session cannot be resumed on any member.
    let resumed = Client::builder(cluster.addr(f1).to_string())
        .session(SessionId(session.0), &a.session_password())
        .connect()
        .await;
    assert!(matches!(resumed, Err(zk_client::Error::SessionExpired)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_its_session_when_the_leader_is_killed() {
    let mut cluster = Cluster::start(3).await;
    let c = client(&cluster.connect_string()).await;
    let session = c.session_id().0;
    // Move the client onto the leader's member. The leader is looked up every time: on a
    // loaded machine the fast timeouts may elect another one meanwhile.
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    let leader = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never on the leader"
        );
        let [leader] = cluster.leaders()[..] else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if cluster
            .node(leader)
            .connected_sessions()
            .await
            .contains(&session)
        {
            break leader;
        }
        for id in cluster.others(leader) {
            if cluster
                .node(id)
                .connected_sessions()
                .await
                .contains(&session)
            {
                cluster.node(id).drop_client_connections().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    c.create("/before", b"", &persistent())
        .await
        .expect("write");
    c.create("/mine", b"", &ephemeral())
        .await
        .expect("ephemeral");

    let killed = std::time::Instant::now();
    cluster.nodes[leader as usize - 1]
        .take()
        .expect("up")
        .kill();
    // The client reconnects to a survivor with the same session and writes again.
    let (_, stat) = tokio::time::timeout(WAIT, async {
        loop {
            match c.create("/after", b"", &persistent()).await {
                Ok(done) => return done,
                // Applied, but the reply was lost with the connection.
                Err(zk_client::Error::NodeExists) => {
                    let stat = c.exists("/after").await.expect("exists").expect("node");
                    return ("/after".to_string(), stat);
                }
                Err(e) => tracing::debug!(error = %e, "retrying after the leader's kill"),
            }
        }
    })
    .await
    .expect("a write after the failover");
    eprintln!(
        "leader kill to the next acknowledged write: {:?}",
        killed.elapsed()
    );
    assert_eq!(c.session_id().0, session);
    assert!(stat.czxid > 0);
    assert!(c.exists("/mine").await.expect("exists").is_some());
    assert!(c.exists("/before").await.expect("exists").is_some());
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader);
}

/// A four-letter word's answer.
async fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(word.as_bytes()).await.expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srvr_reports_each_members_role() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    for id in 1..=3 {
        let text = four_letter(cluster.addr(id), "srvr").await;
        let want = if id == leader {
            "Mode: leader"
        } else {
            "Mode: follower"
        };
        assert!(text.contains(want), "member {id}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cut_off_serves_read_only_then_rejoins() {
    let cluster = Cluster::start_with(3, |cfg| cfg.core.read_only_mode_enabled = true).await;
    let leader = cluster.leader();
    let cut = cluster.others(leader)[0];
    let writer = client(&cluster.addr(leader).to_string()).await;
    writer
        .create("/ro", b"v", &persistent())
        .await
        .expect("create");
    let zxid = cluster.node(leader).status().borrow().applied;
    until(cluster.node(cut), "caught up", |s| s.applied >= zxid).await;

    for other in cluster.others(cut) {
        cluster.node(cut).set_link(other, Link::Down).await;
        cluster.node(other).set_link(cut, Link::Down).await;
    }
    until(cluster.node(cut), "read-only", |s| {
        s.serving == Serving::ReadOnly
    })
    .await;
    assert!(four_letter(cluster.addr(cut), "isro").await.contains("ro"));
    let ro = Client::builder(cluster.addr(cut).to_string())
        .read_only(true)
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("a read-only session");
    assert_eq!(
        *ro.state().borrow(),
        zk_client::SessionState::ConnectedReadOnly
    );
    assert_eq!(&ro.get_data("/ro").await.expect("read").0[..], b"v");
    assert!(matches!(
        ro.create("/nope", b"", &persistent()).await,
        Err(zk_client::Error::NotReadOnly)
    ));
    // A client that does not accept read-only servers is refused there.
    let refused = Client::builder(cluster.addr(cut).to_string())
        .connection_timeout(Duration::from_millis(300))
        .connect()
        .await;
    assert!(refused.is_err());
    // The majority keeps writing meanwhile.
    writer
        .set_data("/ro", b"w", None)
        .await
        .expect("majority write");

    for other in cluster.others(cut) {
        cluster.node(cut).set_link(other, Link::Up).await;
        cluster.node(other).set_link(cut, Link::Up).await;
    }
    until(cluster.node(cut), "rejoined", |s| {
        s.serving == Serving::ReadWrite
    })
    .await;
    let rw = client(&cluster.addr(cut).to_string()).await;
    assert_eq!(&rw.get_data("/ro").await.expect("read").0[..], b"w");
    rw.create("/rw", b"", &persistent())
        .await
        .expect("write after rejoining");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_follower_catches_up_on_resume() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    let paused = cluster.others(leader)[0];
    let c = client(&cluster.addr(leader).to_string()).await;
    cluster.node(paused).pause().await;
    let before = cluster.node(paused).status().borrow().applied;
    for i in 0..5 {
        c.create(&format!("/p{i}"), b"", &persistent())
            .await
            .expect("writes go on with a quorum");
    }
    assert_eq!(cluster.node(paused).status().borrow().applied, before);
    cluster.node(paused).resume().await;
    let zxid = cluster.node(leader).status().borrow().applied;
    until(cluster.node(paused), "caught up", |s| s.applied >= zxid).await;
    until_tree(cluster.node(paused), "/p4", |t| t.get("/p4").is_some()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_drops_a_reply_after_applying_and_holds_events() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    let follower = cluster.others(leader)[0];
    let node = cluster.node(follower);
    let c = client(&cluster.addr(follower).to_string()).await;
    let session = c.session_id().0;
    c.create("/held", b"0", &persistent())
        .await
        .expect("create");

    // Held events come out on release, after the replies they would have preceded.
    let (_, _, watcher) = c.get_data_and_watch("/held").await.expect("watch");
    node.hold_events(session).await;
    c.set_data("/held", b"1", None).await.expect("set");
    let changed = watcher.changed();
    tokio::pin!(changed);
    let early = tokio::time::timeout(Duration::from_millis(50), &mut changed).await;
    assert!(early.is_err(), "the event must be held");
    let released = node.release_events(session).await;
    assert_eq!(released, 1, "events released");
    let event = tokio::time::timeout(WAIT, changed).await.expect("released");
    assert_eq!(event.event_type, EventType::NodeDataChanged);

    // The next write applies but its reply is lost with the connection.
    assert!(node.drop_next_reply(session).await);
    let lost = c.create("/dropped", b"", &persistent()).await;
    assert!(
        matches!(lost, Err(zk_client::Error::ConnectionLoss)),
        "{lost:?}"
    );
    let stat = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(found) = c.exists("/dropped").await {
                return found;
            }
        }
    })
    .await
    .expect("reconnected");
    assert!(stat.is_some(), "the write was applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_serves_clients_without_voting() {
    // Members 1-3 vote; member 4 observes.
    let cluster = Cluster::start_with(4, |cfg| {
        let id = cfg.replica.id;
        let mut replica = crate::replication::ReplicaConfig::fast(id, 1..=3).with_observers([4]);
        replica.sync_limit_ms = cfg.replica.sync_limit_ms;
        replica.init_limit_ms = cfg.replica.init_limit_ms;
        cfg.replica = replica;
    })
    .await;
    assert_eq!(
        cluster.node(4).status().borrow().role,
        crate::replication::PeerState::Observing
    );
    assert!(four_letter(cluster.addr(4), "srvr")
        .await
        .contains("Mode: observer"));
    let c = client(&cluster.addr(4).to_string()).await;
    c.create("/o", b"x", &persistent())
        .await
        .expect("write via observer");
    assert_eq!(&c.get_data("/o").await.expect("read").0[..], b"x");
    let leader = cluster.leader();
    assert_ne!(leader, 4);
    until_tree(cluster.node(leader), "/o on the leader", |t| {
        t.get("/o").is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_follower_restarts_from_its_disk_and_catches_up() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader();
    let follower = cluster.others(leader)[0];
    let c = client(&cluster.addr(leader).to_string()).await;
    for i in 0..5 {
        c.create(&format!("/k{i}"), b"", &persistent())
            .await
            .expect("write");
    }
    let zxid = cluster.node(leader).status().borrow().applied;
    until(cluster.node(follower), "caught up", |s| s.applied >= zxid).await;
    cluster.nodes[follower as usize - 1]
        .take()
        .expect("up")
        .kill();
    for i in 5..10 {
        c.create(&format!("/k{i}"), b"", &persistent())
            .await
            .expect("write");
    }
    assert!(
        cluster.disks[follower as usize - 1].snapshot().log.len() >= 5,
        "the killed member's disk kept what it had acknowledged"
    );
    cluster.restart(follower).await;
    until(cluster.node(follower), "serving again", |s| {
        s.serving == Serving::ReadWrite
    })
    .await;
    let r = client(&cluster.addr(follower).to_string()).await;
    r.sync("/").await.expect("sync");
    for i in 0..10 {
        assert!(r.exists(&format!("/k{i}")).await.expect("exists").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_takes_a_round_trip_not_a_tick() {
    // With a 1 s tick, a sync answered on the leader's next ping would take up to a second.
    let cluster = Cluster::start_with(3, |cfg| {
        cfg.replica.tick_ms = 1_000;
        cfg.replica.sync_limit_ms = 10_000;
        cfg.replica.init_limit_ms = 10_000;
    })
    .await;
    let leader = cluster.leader();
    let follower = cluster.others(leader)[0];
    let c = client(&cluster.addr(follower).to_string()).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        c.sync("/").await.expect("sync");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1_500), "5 syncs took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_disk_fails_stops_and_the_rest_go_on() {
    let fail = Arc::new(AtomicBool::new(false));
    // Member 1's disk fails on demand (the election prefers the highest id: 1 follows).
    let cluster = Cluster::start_full(3, |_| {}, Some((1, fail.clone()))).await;
    let leader = cluster.leader();
    assert_ne!(leader, 1);
    let c = client(&cluster.addr(leader).to_string()).await;
    let on_failing = client(&cluster.addr(1).to_string()).await;
    fail.store(true, Ordering::SeqCst);
    for i in 0..3 {
        c.create(&format!("/f{i}"), b"", &persistent())
            .await
            .expect("the others keep a quorum");
    }
    // The failed member (a follower, which persists every proposal) stops: its clients lose
    // it; it answers nothing any more.
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster.node(1).inspect(|_| ()).await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "member 1 still runs"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let state = on_failing.state();
    assert!(!state.borrow().is_connected() || on_failing.exists("/f0").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_deletes_empty_containers_everywhere() {
    let cluster = Cluster::start_with(3, |cfg| cfg.core.container_check_interval_ms = 20).await;
    let leader = cluster.leader();
    let follower = cluster.others(leader)[0];
    let c = client(&cluster.addr(follower).to_string()).await;
    c.create("/box", b"", &CreateOptions::new(CreateMode::Container))
        .await
        .expect("container");
    c.create("/box/x", b"", &persistent()).await.expect("child");
    c.delete("/box/x", None).await.expect("delete child");
    for id in 1..=3 {
        until_tree(cluster.node(id), "container deleted", |t| {
            t.get("/box").is_none()
        })
        .await;
    }
}
