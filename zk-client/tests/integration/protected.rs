//! Protected creates (`_c_<uuid>-<name>`) and sequence suffixes.

use zk_client::{
    parse_sequence, parse_sequence_after, protected_id, strip_protected, Client, CreateMode,
    CreateOptions, Error, Sequence, PROTECTED_PREFIX,
};

use super::support::{self, connect_one, proxy::Proxy, shared, unique_path, ServerKind};

#[tokio::test]
async fn protected_names_and_sequences() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("protected");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();

    let eph_seq = CreateOptions::new(CreateMode::EphemeralSequential);
    let (first, stat) = client
        .create_protected(&format!("{root}/lock-"), b"a", &eph_seq)
        .await
        .unwrap();
    let (second, _) = client
        .create_protected(&format!("{root}/lock-"), b"b", &eph_seq)
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    let name = first.rsplit('/').next().unwrap();
    assert!(name.starts_with(PROTECTED_PREFIX), "{name}");
    let id = protected_id(name).expect("a protected name");
    assert_ne!(Some(id), protected_id(second.rsplit('/').next().unwrap()));
    let plain = strip_protected(name);
    assert!(plain.starts_with("lock-"), "{plain}");
    assert_eq!(parse_sequence(name), Some(Sequence(0)));
    assert_eq!(
        parse_sequence_after(name, &format!("{PROTECTED_PREFIX}{id}-lock-")),
        Some(Sequence(0))
    );
    assert_eq!(parse_sequence(&second), Some(Sequence(1)));
    assert_eq!(format!("lock-{}", Sequence(0)), plain);

    // A persistent, non-sequential protected node at the root of a chroot.
    let chrooted = Client::connect(&format!("{}{root}", support::one_member(&cluster)))
        .await
        .unwrap();
    let (path, stat) = chrooted
        .create_protected("/config", b"c", &CreateOptions::default())
        .await
        .unwrap();
    assert!(
        path.starts_with("/_c_") && path.ends_with("-config"),
        "{path}"
    );
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(&chrooted.get_data(&path).await.unwrap().0[..], b"c");

    // Errors that prove nothing was created come back as they are.
    assert_eq!(
        client
            .create_protected(&format!("{root}/missing/x"), b"", &eph_seq)
            .await,
        Err(Error::NoNode)
    );
    assert!(matches!(
        client.create_protected("relative", b"", &eph_seq).await,
        Err(Error::BadArguments(_))
    ));
    assert_eq!(client.get_children(&root).await.unwrap().len(), 3);
    chrooted.close().await.unwrap();
    client.delete_all(&root).await.unwrap();
}

/// Servers of this test's own, for their fault injection (real ZooKeeper has none): a
/// zk-testserver, or on the ensemble 3 members, the clients on member 0 (a follower), which
/// drops the reply once the leader has committed the write and it has applied it.
pub(crate) async fn fault_server() -> Option<FaultServer> {
    if super::SERVER == ServerKind::Real || !support::available() {
        return None;
    }
    let cluster = support::blocking(|| support::launch(1, &Default::default())).await;
    Some(FaultServer(cluster))
}

/// The servers of [`fault_server`].
pub(crate) struct FaultServer(std::sync::Arc<dyn support::Cluster>);

impl FaultServer {
    /// The connect string.
    pub(crate) fn addr(&self) -> String {
        support::one_member(&self.0)
    }

    /// Applies session `session_id`'s next write, then closes its connection instead of
    /// replying. False if no server holds the session.
    pub(crate) async fn drop_next_reply(&self, session_id: i64) -> bool {
        let cluster = self.0.clone();
        support::blocking(move || cluster.drop_next_reply(session_id)).await
    }
}

#[tokio::test]
async fn a_lost_reply_is_found_not_repeated() {
    let Some(server) = fault_server().await else {
        return;
    };
    let client = Client::connect(&server.addr().to_string()).await.unwrap();
    let session = client.session_id();
    client
        .create("/locks", b"", &CreateOptions::default())
        .await
        .unwrap();

    // Without protection, the create applies but its caller only sees the lost connection.
    assert!(server.drop_next_reply(session.0).await);
    let eph_seq = CreateOptions::new(CreateMode::EphemeralSequential);
    assert_eq!(
        client.create("/locks/plain-", b"", &eph_seq).await,
        Err(Error::ConnectionLoss)
    );
    let orphans = client.get_children("/locks").await.unwrap();
    assert_eq!(orphans.len(), 1, "the lost create applied: {orphans:?}");
    client
        .delete(&format!("/locks/{}", orphans[0]), None)
        .await
        .unwrap();

    // With protection, the node of the lost reply is found and returned: exactly one node.
    for options in [eph_seq.clone(), CreateOptions::new(CreateMode::Persistent)] {
        assert!(server.drop_next_reply(session.0).await);
        let (path, stat) = client
            .create_protected("/locks/lock-", b"mine", &options)
            .await
            .unwrap();
        let children = client.get_children("/locks").await.unwrap();
        assert_eq!(children.len(), 1, "{children:?}");
        assert_eq!(path, format!("/locks/{}", children[0]));
        let (data, current) = client.get_data(&path).await.unwrap();
        assert_eq!((&data[..], &current), (&b"mine"[..], &stat));
        if options.mode().is_ephemeral() {
            assert_eq!(stat.ephemeral_owner, session.0);
        }
        assert_eq!(client.session_id(), session, "same session throughout");
        client.delete(&path, None).await.unwrap();
    }
    client.close().await.unwrap();
}

#[tokio::test]
async fn the_lookup_skips_other_protected_nodes() {
    let Some(server) = fault_server().await else {
        return;
    };
    let client = Client::connect(&server.addr().to_string()).await.unwrap();
    let other = Client::connect(&server.addr().to_string()).await.unwrap();
    client
        .create("/p", b"", &CreateOptions::default())
        .await
        .unwrap();
    // A protected-looking ephemeral of another session, and our create's reply lost: the
    // lookup lists both, and returns only ours.
    let eph = CreateOptions::new(CreateMode::Ephemeral);
    other
        .create_protected("/p/member", b"other", &eph)
        .await
        .unwrap();
    assert!(server.drop_next_reply(client.session_id().0).await);
    let (path, stat) = client
        .create_protected("/p/member", b"mine", &eph)
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    assert_eq!(&client.get_data(&path).await.unwrap().0[..], b"mine");
    assert_eq!(client.get_children("/p").await.unwrap().len(), 2);
    other.close().await.unwrap();
    client.close().await.unwrap();
}

/// A create whose reply is lost, then a reconnect to a member that has not applied it yet
/// (ZooKeeper resumes a session on any member that has seen the session's last zxid, and the
/// lost reply's zxid was never seen): the lookup must catch that member up first, or it misses
/// the node and creates a second one. Needs a lagging member: the in-process ensemble only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_catches_a_lagging_member_up() {
    if !support::available() || super::SERVER != ServerKind::RustEnsemble {
        return;
    }
    let cluster = support::blocking(|| support::launch(3, &Default::default())).await;
    let c = cluster.clone();
    let followers: Vec<usize> = support::blocking(move || {
        (0..3)
            .filter(|&i| c.mode(i).as_deref() == Some("follower"))
            .collect()
    })
    .await;
    let (first, lagging) = (followers[0], followers[1]);
    let to_first = Proxy::start(cluster.member_addr(first)).await;
    let to_lagging = Proxy::start(cluster.member_addr(lagging)).await;
    to_lagging.set_blocked(true);
    let client = Client::builder(format!("{},{}", to_first.addr(), to_lagging.addr()))
        .session_timeout(std::time::Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    let session = client.session_id();
    client
        .create("/locks", b"", &CreateOptions::default())
        .await
        .unwrap();
    // The other follower has everything so far; from now on it hears the leader 400 ms late.
    let observer = Client::connect(&cluster.member_addr(lagging).to_string())
        .await
        .unwrap();
    observer.sync("/locks").await.unwrap();
    assert!(observer.exists("/locks").await.unwrap().is_some());
    observer.close().await.unwrap();
    let c = cluster.clone();
    support::blocking(move || {
        c.slow_link_to_leader(lagging, std::time::Duration::from_millis(400))
    })
    .await;

    // The first follower applies the create and closes instead of replying; the client can
    // only come back through the lagging one.
    assert!(cluster.drop_next_reply(session.0));
    to_first.set_blocked(true);
    to_lagging.set_blocked(false);
    let eph_seq = CreateOptions::new(CreateMode::EphemeralSequential);
    let (path, _) = support::within(
        30,
        "the protected create",
        client.create_protected("/locks/lock-", b"", &eph_seq),
    )
    .await
    .unwrap();
    assert_eq!(client.session_id(), session);
    client.sync("/locks").await.unwrap();
    let children = client.get_children("/locks").await.unwrap();
    assert_eq!(
        children.len(),
        1,
        "one node, not one per attempt: {children:?}"
    );
    assert_eq!(path, format!("/locks/{}", children[0]));
    client.close().await.unwrap();
}

/// Cuts the connection at random moments around protected creates: whether each create was
/// lost before the server, applied with its reply lost, or answered, every call returns its
/// one node, and no node is left over. (Seeded; set `PROTECTED_CUTS` for more rounds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cuts_around_protected_creates() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let proxy = super::support::proxy::Proxy::start(cluster.member_addr(0)).await;
    let client = Client::builder(proxy.addr().to_string())
        .session_timeout(std::time::Duration::from_secs(20))
        .request_timeout(std::time::Duration::from_secs(20))
        .retry_policy(zk_client::RetryPolicy::default().max_attempts(20))
        .connect()
        .await
        .unwrap();
    let session = client.session_id().0;
    let root = unique_path("protected-cuts");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let rounds: u64 = std::env::var("PROTECTED_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = rand::random();
    eprintln!("connection_cuts_around_protected_creates: seed {seed}");
    let mut state = seed | 1;
    let eph_seq = CreateOptions::new(CreateMode::EphemeralSequential);
    let mut created = Vec::new();
    for round in 0..rounds {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = std::time::Duration::from_micros(state % 3000);
        let call = client.create_protected(&format!("{root}/lock-"), b"", &eph_seq);
        tokio::time::sleep(delay).await;
        proxy.cut();
        let (path, stat) = super::support::within(30, "a protected create", call)
            .await
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        assert_eq!(stat.ephemeral_owner, session, "seed {seed}");
        created.push(path);
    }
    // The last cut may still be closing the connection: retry the reads and the cleanup.
    let mut children = client.retrying().get_children(&root).await.unwrap();
    children.sort();
    let mut returned: Vec<String> = created
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    returned.sort();
    assert_eq!(children, returned, "one node per call (seed {seed})");
    assert_eq!(client.session_id().0, session);
    let cleanup = client.clone();
    client
        .retry(zk_client::Idempotence::Idempotent, move || {
            cleanup.delete_all(&root)
        })
        .await
        .unwrap();
    client.close().await.unwrap();
}
