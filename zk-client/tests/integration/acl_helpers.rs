//! ACLs built with the helpers (`Acl::digest`, `Perms`), as the servers enforce them.

use zk_client::{digest_id, Acl, AclExt, CreateMode, CreateOptions, Error, Perms};

use super::support::{self, connect_one, shared, unique_path};

#[tokio::test]
async fn a_digest_acl_from_user_and_password() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let owner = connect_one(&cluster).await;
    let root = unique_path("acl-helpers");
    let acl = vec![
        Acl::digest("carol", "pa:ss", Perms::ALL),
        Acl::world(Perms::CREATE),
    ];
    owner
        .create(
            &root,
            b"secret",
            &CreateOptions::new(CreateMode::Persistent).with_acl(acl.clone()),
        )
        .await
        .unwrap();
    // Its anonymous creator cannot read it back.
    assert_eq!(owner.get_data(&root).await, Err(Error::NoAuth));

    // Without the credentials: no read, no write, but CREATE is open to the world.
    let stranger = connect_one(&cluster).await;
    assert_eq!(stranger.get_data(&root).await, Err(Error::NoAuth));
    assert_eq!(
        stranger.set_data(&root, b"x", None).await,
        Err(Error::NoAuth)
    );
    let child = format!("{root}/c");
    stranger
        .create(&child, b"", &CreateOptions::default())
        .await
        .unwrap();
    // The wrong password is a different identity.
    let guesser = connect_one(&cluster).await;
    guesser.add_auth("digest", b"carol:pass").await.unwrap();
    assert_eq!(guesser.get_data(&root).await, Err(Error::NoAuth));

    // With them (the password may hold ':'; the user ends at the first one).
    let carol = connect_one(&cluster).await;
    carol.add_auth("digest", b"carol:pa:ss").await.unwrap();
    assert_eq!(&carol.get_data(&root).await.unwrap().0[..], b"secret");
    carol.set_data(&root, b"v2", None).await.unwrap();
    // The server keeps the ids as given (it does not hash digest ids again).
    let (stored, _) = carol.get_acl(&root).await.unwrap();
    assert_eq!(stored, acl);
    assert_eq!(stored[0].id.id, digest_id("carol", "pa:ss"));
    assert_eq!(stored[1].permissions(), Perms::CREATE);

    // `auth` and `ip` entries.
    let mine = format!("{root}/mine");
    carol
        .create(
            &mine,
            b"m",
            &CreateOptions::new(CreateMode::Persistent)
                .with_acl(vec![Acl::auth(Perms::READ | Perms::WRITE | Perms::DELETE)]),
        )
        .await
        .unwrap();
    let (mine_acl, _) = carol.get_acl(&mine).await.unwrap();
    // `auth:` became carol's digest id (its hash shown as `x`: getACL masks digests from
    // callers without ADMIN on the node).
    assert_eq!(mine_acl[0].id.scheme, "digest");
    assert!(mine_acl[0].id.id.starts_with("carol:"), "{:?}", mine_acl[0]);
    assert_eq!(
        mine_acl[0].permissions(),
        Perms::READ | Perms::WRITE | Perms::DELETE
    );
    assert_eq!(stranger.get_data(&mine).await, Err(Error::NoAuth));
    assert_eq!(
        stranger
            .create(
                &format!("{root}/nobody"),
                b"",
                &CreateOptions::new(CreateMode::Persistent).with_acl(vec![Acl::auth(Perms::ALL)]),
            )
            .await,
        Err(Error::InvalidAcl),
        "auth: needs an authenticated session"
    );
    let local = format!("{root}/local");
    let far = format!("{root}/far");
    for (path, ip) in [(&local, "127.0.0.0/8"), (&far, "10.1.2.3")] {
        carol
            .create(
                path,
                b"ip",
                &CreateOptions::new(CreateMode::Persistent).with_acl(vec![
                    Acl::ip(ip, Perms::READ),
                    Acl::digest("carol", "pa:ss", Perms::ALL),
                ]),
            )
            .await
            .unwrap();
    }
    assert_eq!(&stranger.get_data(&local).await.unwrap().0[..], b"ip");
    assert_eq!(stranger.get_data(&far).await, Err(Error::NoAuth));

    for path in [&mine, &local, &far, &child] {
        carol.delete(path, None).await.unwrap();
    }
    carol.delete(&root, None).await.unwrap();
}
