//! Protected creates (`_c_<uuid>-<name>`) and sequence suffixes.

use zk_client::{
    parse_sequence, parse_sequence_after, protected_id, strip_protected, Client, CreateMode,
    CreateOptions, Error, Sequence, PROTECTED_PREFIX,
};

use crate::support::{self, connect, shared, unique_path, ServerKind};

#[tokio::test]
async fn protected_names_and_sequences() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect(&cluster).await;
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
    let chrooted = Client::connect(&format!("{}{root}", cluster.connect_string()))
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

/// A zk-testserver of this test's own, for its fault injection (real ZooKeeper has none).
pub(crate) async fn fault_server() -> Option<zk_testserver::TestServer> {
    if crate::SERVER != ServerKind::Rust || !support::available() {
        return None;
    }
    Some(
        zk_testserver::TestServer::builder()
            .start()
            .await
            .expect("zk-testserver starts"),
    )
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
