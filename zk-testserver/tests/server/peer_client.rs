//! The `zookeeper-client` crate (kezhuw's async Rust client) as a peer: its API against our
//! server, including a reconnect after the server drops every connection.

use std::time::Duration;

use tokio::time::timeout;
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;
use zkc::{Acls, AddWatchMode, Client, CreateMode, EventType, MultiWriteResult, SessionState};
use zookeeper_client as zkc;

use crate::client::WAIT;

fn open() -> zkc::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

async fn connect(server: &TestServer) -> Client {
    connect_to(&server.connect_string()).await
}

async fn connect_to(hosts: &str) -> Client {
    timeout(
        WAIT,
        Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(hosts),
    )
    .await
    .expect("connects in time")
    .expect("connects")
}

async fn next(watcher: &mut zkc::PersistentWatcher) -> zkc::WatchedEvent {
    timeout(WAIT, watcher.changed())
        .await
        .expect("a persistent watch event in time")
}

/// The API checks below, run in order against one fresh server with extended types on: ours
/// and real ZooKeeper must both pass them.
async fn api_checks(hosts: &str) {
    create_modes_data_and_children(hosts).await;
    multi_writes_and_failures(hosts).await;
    one_shot_and_persistent_watches(hosts).await;
    a_recursive_watch_replaces_a_child_watch(hosts).await;
    digest_auth_and_who_am_i(hosts).await;
}

/// ZooKeeper 3.8 keeps one watch mode per session and path: a recursive watch added where the
/// session has a child watch replaces it, so no NodeChildrenChanged arrives for that path.
async fn a_recursive_watch_replaces_a_child_watch(hosts: &str) {
    let zk = connect_to(hosts).await;
    let writer = connect_to(hosts).await;
    zk.create("/q", b"", &open()).await.unwrap();
    let (_, child_watch) = zk.list_and_watch_children("/q").await.unwrap();
    let mut tree = zk
        .watch("/q", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    writer.create("/q/x", b"", &open()).await.unwrap();
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/q/x")
    );
    // The server sends a change's events together, before any later reply: after this round
    // trip a NodeChildrenChanged for /q would have been dispatched already.
    zk.sync("/q").await.unwrap();
    let fired = child_watch.changed();
    tokio::pin!(fired);
    tokio::select! {
        biased;
        e = &mut fired => panic!("the replaced child watch fired: {e:?}"),
        _ = std::future::ready(()) => {}
    }
}

#[tokio::test]
async fn api_against_our_server() {
    let server = TestServer::builder()
        .extended_types(true)
        .start()
        .await
        .unwrap();
    api_checks(&server.connect_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_against_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let zk = tokio::task::spawn_blocking(|| {
        RealZooKeeper::standalone(RealOptions {
            extended_types: true,
            ..RealOptions::default()
        })
    })
    .await
    .unwrap()
    .expect("real ZooKeeper starts");
    api_checks(&zk.connect_string()).await;
    tokio::task::spawn_blocking(move || drop(zk)).await.unwrap();
}

#[tokio::test]
async fn ttl_nodes_need_extended_types() {
    let plain = TestServer::builder().start().await.unwrap();
    let other = connect(&plain).await;
    let err = other
        .create("/ttl", b"", &open().with_ttl(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(err, zkc::Error::Unimplemented);
}

async fn create_modes_data_and_children(hosts: &str) {
    let zk = connect_to(hosts).await;
    let (stat, seq) = zk.create("/p", b"data", &open()).await.unwrap();
    assert_eq!(stat.data_length, 4);
    assert_eq!(seq.into_i64(), -1);
    let (_, seq) = zk
        .create(
            "/p/s-",
            b"",
            &CreateMode::PersistentSequential.with_acls(Acls::anyone_all()),
        )
        .await
        .unwrap();
    assert_eq!(seq.to_string(), "0000000000");
    let (_, eseq) = zk
        .create(
            "/p/e-",
            b"",
            &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()),
        )
        .await
        .unwrap();
    assert_eq!(eseq.into_i64(), 1);
    zk.create(
        "/p/eph",
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    )
    .await
    .unwrap();
    let (stat, _) = zk
        .create("/ttl", b"t", &open().with_ttl(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "a TTL node is not ephemeral");
    zk.create(
        "/box",
        b"",
        &CreateMode::Container.with_acls(Acls::anyone_all()),
    )
    .await
    .unwrap();

    let (data, stat) = zk.get_data("/p").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"data"[..], 0));
    let stat = zk.set_data("/p", b"new", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(
        zk.set_data("/p", b"x", Some(0)).await.unwrap_err(),
        zkc::Error::BadVersion
    );
    assert_eq!(
        zk.create("/p", b"", &open()).await.unwrap_err(),
        zkc::Error::NodeExists
    );
    assert_eq!(zk.check_stat("/missing").await.unwrap(), None);
    let mut children = zk.list_children("/p").await.unwrap();
    children.sort();
    assert_eq!(children, ["e-0000000001", "eph", "s-0000000000"]);
    let (_, stat) = zk.get_children("/p").await.unwrap();
    assert_eq!(stat.num_children, 3);
    assert_eq!(zk.count_descendants_number("/p").await.unwrap(), 3);
    // `/` counts everything under it, `/zookeeper` and its two children included (as real
    // ZooKeeper counts, checked with zkCli's getAllChildrenNumber).
    assert_eq!(zk.count_descendants_number("/").await.unwrap(), 9);
    let mut eph = zk.list_ephemerals("/").await.unwrap();
    eph.sort();
    assert_eq!(eph, ["/p/e-0000000001", "/p/eph"]);
    // The prefix is a string prefix, not a path (as in real ZooKeeper).
    let mut eph = zk.list_ephemerals("/p/e").await.unwrap();
    eph.sort();
    assert_eq!(eph, ["/p/e-0000000001", "/p/eph"]);
    assert_eq!(
        zk.list_ephemerals("/p/e-").await.unwrap(),
        ["/p/e-0000000001"]
    );
    assert_eq!(
        zk.delete("/p", None).await.unwrap_err(),
        zkc::Error::NotEmpty
    );
    zk.delete("/p/s-0000000000", Some(0)).await.unwrap();
    zk.sync("/p").await.unwrap();
    // Closing the session (dropping the last handle) removes its ephemerals.
    let checker = connect_to(hosts).await;
    let (stat, gone) = checker.check_and_watch_stat("/p/eph").await.unwrap();
    assert!(stat.is_some());
    drop(zk);
    let e = timeout(WAIT, gone.changed()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDeleted, "/p/eph")
    );
    assert!(checker.list_ephemerals("/").await.unwrap().is_empty());
    assert_eq!(
        checker.list_children("/p").await.unwrap(),
        Vec::<String>::new()
    );
}

async fn multi_writes_and_failures(hosts: &str) {
    let zk = connect_to(hosts).await;
    zk.create("/m", b"", &open()).await.unwrap();
    let mut w = zk.new_multi_writer();
    w.add_create("/m/a", b"1", &open()).unwrap();
    w.add_set_data("/m", b"top", Some(0)).unwrap();
    w.add_check_version("/m/a", 0).unwrap();
    w.add_create("/m/b", b"2", &open()).unwrap();
    w.add_delete("/m/b", Some(0)).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(&results[0], MultiWriteResult::Create { path, .. } if path == "/m/a"));
    assert!(matches!(&results[1], MultiWriteResult::SetData { stat } if stat.version == 1));
    assert!(matches!(results[2], MultiWriteResult::Check));
    assert!(matches!(results[4], MultiWriteResult::Delete));

    let mut w = zk.new_multi_writer();
    w.add_create("/m/c", b"", &open()).unwrap();
    w.add_check_version("/m/a", 7).unwrap();
    let err = w.commit().await.unwrap_err();
    assert!(
        matches!(
            err,
            zkc::MultiWriteError::OperationFailed {
                index: 1,
                source: zkc::Error::BadVersion
            }
        ),
        "{err:?}"
    );
    assert_eq!(zk.check_stat("/m/c").await.unwrap(), None);

    // A check writer: the write happens only if the checked version matches.
    let mut cw = zk.new_check_writer("/m", Some(1)).unwrap();
    cw.add_set_data("/m/a", b"checked", None).unwrap();
    cw.commit().await.unwrap();
    assert_eq!(zk.get_data("/m/a").await.unwrap().0, b"checked");

    let mut r = zk.new_multi_reader();
    r.add_get_data("/m/a").unwrap();
    r.add_get_children("/m").unwrap();
    r.add_get_data("/m/none").unwrap();
    let results = r.commit().await.unwrap();
    assert!(matches!(&results[0], zkc::MultiReadResult::Data { data, .. } if data == b"checked"));
    assert!(
        matches!(&results[1], zkc::MultiReadResult::Children { children } if children == &["a"])
    );
    assert!(matches!(
        &results[2],
        zkc::MultiReadResult::Error {
            err: zkc::Error::NoNode
        }
    ));
}

async fn one_shot_and_persistent_watches(hosts: &str) {
    let zk = connect_to(hosts).await;
    let writer = connect_to(hosts).await;
    zk.create("/w", b"", &open()).await.unwrap();

    let (_, _, data_watch) = zk.get_and_watch_data("/w").await.unwrap();
    let (_, child_watch) = zk.list_and_watch_children("/w").await.unwrap();
    let (stat, exists_watch) = zk.check_and_watch_stat("/w/new").await.unwrap();
    assert_eq!(stat, None);
    let mut node = zk.watch("/w", AddWatchMode::Persistent).await.unwrap();
    // The recursive watch sits on `/`: on `/w` itself it would replace this session's child
    // watches there (ZooKeeper 3.8 keeps one mode per session and path; see watch.rs).
    let mut tree = zk
        .watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    writer.set_data("/w", b"1", None).await.unwrap();
    let e = timeout(WAIT, data_watch.changed()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    let e = next(&mut node).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );

    writer.create("/w/new", b"", &open()).await.unwrap();
    let e = timeout(WAIT, exists_watch.changed()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/w/new")
    );
    let e = timeout(WAIT, child_watch.changed()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, "/w")
    );
    let e = next(&mut node).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, "/w")
    );
    // A recursive watch reports the child's creation, not a children change.
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/w/new")
    );

    writer.set_data("/w/new", b"deep", None).await.unwrap();
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/w/new")
    );
    // Persistent watches keep firing; one-shot ones fired once and are gone.
    writer.set_data("/w", b"2", None).await.unwrap();
    let e = next(&mut node).await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    drop(node);
    writer.delete("/w/new", None).await.unwrap();
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDeleted, "/w/new")
    );
}

async fn digest_auth_and_who_am_i(hosts: &str) {
    let zk = connect_to(hosts).await;
    let users = zk.list_auth_users().await.unwrap();
    assert_eq!(users, [zkc::AuthUser::new("ip", "127.0.0.1")]);
    zk.auth("digest", b"alice:secret").await.unwrap();
    let users = zk.list_auth_users().await.unwrap();
    assert!(
        users.contains(&zkc::AuthUser::new("digest", "alice")),
        "{users:?}"
    );
    zk.create(
        "/mine",
        b"private",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    )
    .await
    .unwrap();
    let (acl, _) = zk.get_acl("/mine").await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].scheme(), "digest");
    assert!(acl[0].id().starts_with("alice:"), "{:?}", acl[0]);
    assert_eq!(zk.get_data("/mine").await.unwrap().0, b"private");

    let stranger = connect_to(hosts).await;
    assert_eq!(
        stranger.get_data("/mine").await.unwrap_err(),
        zkc::Error::NoAuth
    );
    let friend = Client::connector()
        .with_auth("digest", b"alice:secret")
        .connect(hosts)
        .await
        .unwrap();
    assert_eq!(friend.get_data("/mine").await.unwrap().0, b"private");
}

#[tokio::test]
async fn reconnects_keeping_the_session_and_its_watches() {
    let server = TestServer::builder().start().await.unwrap();
    let zk = connect(&server).await;
    let writer = connect(&server).await;
    let session = zk.session_id();
    let mut state = zk.state_watcher();
    assert_eq!(state.state(), SessionState::SyncConnected);
    zk.create("/r", b"", &open()).await.unwrap();
    zk.create(
        "/r/eph",
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    )
    .await
    .unwrap();
    let mut tree = zk
        .watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let (_, _, data_watch) = zk.get_and_watch_data("/r").await.unwrap();

    server.drop_connections().await;
    let s = timeout(WAIT, state.changed()).await.unwrap();
    assert_eq!(s, SessionState::Disconnected);
    let s = timeout(WAIT, state.changed()).await.unwrap();
    assert_eq!(s, SessionState::SyncConnected);
    assert_eq!(
        zk.session_id(),
        session,
        "the same session after the reconnect"
    );
    assert_eq!(server.session_ids().await.len(), 2);

    // A persistent watcher sees the session go and come back.
    let e = next(&mut tree).await;
    assert_eq!(
        (e.event_type, e.session_state),
        (EventType::Session, SessionState::Disconnected)
    );
    // The one-shot watch was re-registered on the new connection (setWatches).
    writer.set_data("/r", b"after", None).await.unwrap();
    let e = timeout(WAIT, data_watch.changed()).await.unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/r")
    );
    // zookeeper-client 0.11.2 re-sends persistent watches only when its resend batch index
    // grows, which it never does (`index = index.max(index)` in `resend_watches`), so it sends
    // setWatches without them: the server holds exactly what the client re-registered.
    // `setwatches2_restores_persistent_watches` checks the server side of that with a raw
    // setWatches2.
    let held = server
        .inspect(|c| {
            c.watches()
                .by_connection()
                .values()
                .map(|s| s.len())
                .sum::<usize>()
        })
        .await
        .unwrap();
    assert_eq!(held, 0, "the fired one-shot watch is gone");
    // The session's ephemeral survived, and the session still writes and reads.
    assert!(writer.check_stat("/r/eph").await.unwrap().is_some());
    zk.create("/r/x", b"mine", &open()).await.unwrap();
    assert_eq!(zk.get_data("/r/x").await.unwrap().0, b"mine");
    drop(tree);
}

#[tokio::test]
async fn setwatches2_restores_persistent_watches() {
    use zk_proto::{AddWatchMode as Mode, AddWatchRequest, EventType as Ev, Request};

    let server = TestServer::builder().start().await.unwrap();
    let mut c = crate::client::Client::connect(server.addr()).await;
    c.create("/r", b"", 0).await.unwrap();
    let (h, _) = c
        .call(Request::AddWatch(AddWatchRequest {
            path: "/r".into(),
            mode: Mode::PersistentRecursive,
        }))
        .await;
    assert!(h.err.is_ok());
    server.drop_connections().await;
    assert!(c.closed_by_server().await);
    let mut c = c
        .reconnect(server.addr())
        .await
        .expect("the session resumes");
    let xid = c
        .send(&Request::SetWatches2(zk_proto::SetWatches2 {
            relative_zxid: c.last_zxid,
            data_watches: vec![],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec![],
            persistent_recursive_watches: vec!["/r".into()],
        }))
        .await;
    let (h, _) = c.recv_raw_reply().await.unwrap();
    assert_eq!((h.xid, h.err.is_ok()), (xid, true));
    let mut writer = crate::client::Client::connect(server.addr()).await;
    writer.create("/r/deep", b"", 0).await.unwrap();
    let (_, e) = c.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (Ev::NodeCreated, "/r/deep")
    );
    writer.set_data("/r/deep", b"x", -1).await.unwrap();
    let (_, e) = c.next_event().await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (Ev::NodeDataChanged, "/r/deep")
    );
}
