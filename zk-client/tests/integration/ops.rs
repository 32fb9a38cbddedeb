//! Every operation and create mode against a shared standalone server.

use std::time::Duration;

use zk_client::{
    perms, Acl, ArgumentError, CreateMode, CreateOptions, Error, EventType, Id, SessionState,
    WatcherType,
};

use super::support::{self, connect_one, shared, unique_path, within};

#[tokio::test]
async fn connect_and_session_info() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    assert_eq!(*client.state().borrow(), SessionState::Connected);
    assert_ne!(client.session_id().0, 0);
    // A session id's top byte is the id of the server that created it (1 for a standalone
    // server; member `i` of our ensembles has id `i + 1`).
    let member = cluster
        .member_with_session(client.session_id().0)
        .expect("the client's member");
    assert_eq!(client.session_id().0 >> 56, member as i64 + 1);
    assert_eq!(client.session_password().len(), 16);
    let root = unique_path("info");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    assert!(client.last_zxid() > 0);
    client.close().await.unwrap();
    assert_eq!(*client.state().borrow(), SessionState::Closed);
    assert_eq!(client.get_data(&root).await, Err(Error::Closed));
}

#[tokio::test]
async fn create_in_every_mode() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("modes");
    let (path, stat) = client
        .create(&root, b"root", &CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(path, root);
    assert_eq!(stat.data_length, 4);

    let cases = [
        (CreateMode::Persistent, None),
        (CreateMode::Ephemeral, None),
        (CreateMode::PersistentSequential, None),
        (CreateMode::EphemeralSequential, None),
        (CreateMode::Container, None),
        (CreateMode::PersistentWithTtl, Some(Duration::from_secs(60))),
        (
            CreateMode::PersistentSequentialWithTtl,
            Some(Duration::from_secs(60)),
        ),
    ];
    for (i, (mode, ttl)) in cases.into_iter().enumerate() {
        let mut options = CreateOptions::new(mode);
        if let Some(ttl) = ttl {
            options = options.with_ttl(ttl);
        }
        let base = format!("{root}/n{i}-");
        let (path, stat) = client.create(&base, b"x", &options).await.unwrap();
        if mode.is_sequential() {
            let suffix = path.strip_prefix(&base).unwrap();
            assert_eq!(suffix.len(), 10, "{mode:?}: {path}");
            assert!(suffix.chars().all(|c| c.is_ascii_digit()));
        } else {
            assert_eq!(path, base, "{mode:?}");
        }
        // Servers report the special owners of containers and TTL nodes as 0 to clients
        // (DataTree.getClientEphemeralOwner).
        let expected_owner = match mode {
            CreateMode::Ephemeral | CreateMode::EphemeralSequential => client.session_id().0,
            _ => 0,
        };
        let (data, read_stat) = client.get_data(&path).await.unwrap();
        assert_eq!(&data[..], b"x");
        assert_eq!(read_stat.ephemeral_owner, expected_owner, "{mode:?}");
        assert_eq!(read_stat.czxid, stat.czxid);
    }

    // Client-side validation.
    let ttl_without_mode =
        CreateOptions::new(CreateMode::Persistent).with_ttl(Duration::from_secs(1));
    assert_eq!(
        client.create("/x", b"", &ttl_without_mode).await,
        Err(Error::BadArguments(ArgumentError::TtlWithoutTtlMode))
    );
    let zero_ttl = CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::ZERO);
    assert!(matches!(
        client.create("/x", b"", &zero_ttl).await,
        Err(Error::BadArguments(ArgumentError::InvalidTtl(0)))
    ));
    assert_eq!(
        client
            .create(
                "/x",
                b"",
                &CreateOptions::new(CreateMode::PersistentWithTtl)
            )
            .await,
        Err(Error::BadArguments(ArgumentError::TtlModeWithoutTtl))
    );
    assert!(matches!(
        client.create("bad", b"", &CreateOptions::default()).await,
        Err(Error::BadArguments(ArgumentError::InvalidPath { .. }))
    ));
    assert_eq!(
        client
            .create("/x", b"", &CreateOptions::default().with_acl(vec![]))
            .await,
        Err(Error::BadArguments(ArgumentError::EmptyAcl))
    );

    // Server-side errors.
    assert_eq!(
        client.create(&root, b"", &CreateOptions::default()).await,
        Err(Error::NodeExists)
    );
    assert_eq!(
        client
            .create(
                &format!("{root}/missing/child"),
                b"",
                &CreateOptions::default()
            )
            .await,
        Err(Error::NoNode)
    );
    let eph = format!("{root}/eph");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(
        client
            .create(&format!("{eph}/c"), b"", &CreateOptions::default())
            .await,
        Err(Error::NoChildrenForEphemerals)
    );
    client.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn read_write_delete_and_acl() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("rw");
    client
        .create(&root, b"v0", &CreateOptions::default())
        .await
        .unwrap();

    let stat = client.exists(&root).await.unwrap().expect("exists");
    assert_eq!(stat.version, 0);
    assert_eq!(client.exists(&format!("{root}/none")).await, Ok(None));

    let stat = client.set_data(&root, b"v1", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(
        client.set_data(&root, b"v2", Some(0)).await,
        Err(Error::BadVersion)
    );
    let (data, stat) = client.get_data(&root).await.unwrap();
    assert_eq!((&data[..], stat.version), (&b"v1"[..], 1));
    assert_eq!(
        client.get_data(&format!("{root}/none")).await,
        Err(Error::NoNode)
    );

    for name in ["b", "a", "c"] {
        client
            .create(&format!("{root}/{name}"), b"", &CreateOptions::default())
            .await
            .unwrap();
    }
    let mut children = client.get_children(&root).await.unwrap();
    children.sort();
    assert_eq!(children, ["a", "b", "c"]);
    let (children2, stat) = client.get_children2(&root).await.unwrap();
    assert_eq!(children2.len(), 3);
    assert_eq!(stat.num_children, 3);
    assert_eq!(client.get_all_children_number(&root).await, Ok(3));
    assert_eq!(client.delete(&root, None).await, Err(Error::NotEmpty));
    assert_eq!(
        client.delete(&format!("{root}/a"), Some(5)).await,
        Err(Error::BadVersion)
    );
    client.delete(&format!("{root}/a"), Some(0)).await.unwrap();
    assert_eq!(
        client.delete(&format!("{root}/a"), None).await,
        Err(Error::NoNode)
    );

    // ACLs.
    let (acl, stat) = client.get_acl(&root).await.unwrap();
    assert_eq!(acl, Acl::open_unsafe());
    assert_eq!(stat.aversion, 0);
    let read_only = vec![Acl::new(perms::READ | perms::ADMIN, Id::anyone())];
    let stat = client.set_acl(&root, &read_only, Some(0)).await.unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        client.set_acl(&root, &read_only, Some(0)).await,
        Err(Error::BadVersion)
    );
    assert_eq!(client.get_acl(&root).await.unwrap().0, read_only);
    // The server validates every id: no unknown schemes, malformed ids, or `auth` without
    // credentials (an ip identity does not count).
    for id in [
        Id::new("world", "someone"),
        Id::new("nosuchscheme", "x"),
        Id::new("digest", "no-colon"),
        Id::new("ip", "999.0.0.1"),
        Id::new("auth", ""),
        Id::new("super", "x"),
    ] {
        assert_eq!(
            client
                .set_acl(&root, &[Acl::new(perms::ALL, id.clone())], None)
                .await,
            Err(Error::InvalidAcl),
            "{id:?}"
        );
    }
    assert_eq!(
        client.set_data(&root, b"no", None).await,
        Err(Error::NoAuth)
    );
    client
        .set_acl(&root, &Acl::open_unsafe(), None)
        .await
        .unwrap();

    // sync, getEphemerals, whoAmI, getConfig.
    assert_eq!(client.sync(&root).await.unwrap(), root);
    let eph = format!("{root}/eph");
    client
        .create(&eph, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(
        client.get_ephemerals(&root).await.unwrap(),
        vec![eph.clone()]
    );
    let me = client.who_am_i().await.unwrap();
    assert!(me.iter().any(|c| c.auth_scheme == "ip"), "{me:?}");
    let (config, _) = client.get_config().await.unwrap();
    let _ = config; // a standalone server may have an empty config
    assert_eq!(
        client.check_watches(&root, WatcherType::Data).await,
        Err(Error::NoWatcher)
    );
    client.delete_all(&root).await.unwrap();
    assert_eq!(client.exists(&root).await, Ok(None));
}

#[tokio::test]
async fn create_all_and_delete_all() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    let root = unique_path("tree");
    let deep = format!("{root}/a/b/c");
    let created = client
        .create_all(&deep, b"leaf", &CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(created, deep);
    // Idempotent.
    let again = client
        .create_all(&deep, b"leaf", &CreateOptions::default())
        .await
        .unwrap();
    assert_eq!(again, deep);
    // A sequential leaf: the path with its suffix, under new ancestors.
    let seq = client
        .create_all(
            &format!("{root}/q/r/item-"),
            b"s",
            &CreateOptions::new(zk_client::CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    assert_eq!(seq, format!("{root}/q/r/item-0000000000"));
    assert_eq!(&client.get_data(&seq).await.unwrap().0[..], b"s");
    client.delete_all(&format!("{root}/q")).await.unwrap();
    assert!(client
        .create_all("relative/x", b"", &CreateOptions::default())
        .await
        .is_err());
    assert_eq!(&client.get_data(&deep).await.unwrap().0[..], b"leaf");
    for i in 0..20 {
        client
            .create(&format!("{root}/a/x{i}"), b"", &CreateOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(client.get_all_children_number(&root).await, Ok(23));
    within(30, "delete_all", client.delete_all(&root))
        .await
        .unwrap();
    assert_eq!(client.exists(&root).await, Ok(None));
    assert!(matches!(
        client.delete_all("/").await,
        Err(Error::BadArguments(ArgumentError::RootNode))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_delete_expired_ttl_nodes_and_empty_containers() {
    if !support::available() {
        return;
    }
    let opts = support::ServerOptions {
        container_check_ms: Some(100),
        ..Default::default()
    };
    let cluster = support::blocking(move || support::launch(1, &opts)).await;
    let client = connect_one(&cluster).await;
    let root = unique_path("cleanup");
    client
        .create(&root, b"", &CreateOptions::default())
        .await
        .unwrap();
    let ttl =
        |ms| CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_millis(ms));
    let container = CreateOptions::new(CreateMode::Container);
    // Expire: a TTL node without children, a container whose last child went.
    let (expiring, _) = client
        .create(&format!("{root}/ttl"), b"", &ttl(300))
        .await
        .unwrap();
    let (emptied, _) = client
        .create(&format!("{root}/emptied"), b"", &container)
        .await
        .unwrap();
    let child = format!("{emptied}/c");
    client
        .create(&child, b"", &CreateOptions::default())
        .await
        .unwrap();
    // Stay: a TTL node with a child, a container that never had one, a long TTL.
    let (parent, _) = client
        .create(&format!("{root}/ttl-parent"), b"", &ttl(300))
        .await
        .unwrap();
    client
        .create(&format!("{parent}/c"), b"", &CreateOptions::default())
        .await
        .unwrap();
    let (unused, _) = client
        .create(&format!("{root}/unused"), b"", &container)
        .await
        .unwrap();
    let (long, _) = client
        .create(&format!("{root}/long"), b"", &ttl(600_000))
        .await
        .unwrap();

    let (_, ttl_gone) = client.exists_and_watch(&expiring).await.unwrap();
    let (_, container_gone) = client.exists_and_watch(&emptied).await.unwrap();
    client.delete(&child, None).await.unwrap();
    for (what, watcher) in [("TTL node", ttl_gone), ("container", container_gone)] {
        let event = within(20, what, watcher.changed()).await;
        assert_eq!(event.event_type, EventType::NodeDeleted, "{what}");
    }
    // Both were deleted by a check that saw the others too.
    for path in [&parent, &unused, &long] {
        assert!(client.exists(path).await.unwrap().is_some(), "{path}");
    }
    client.close().await.unwrap();
}
