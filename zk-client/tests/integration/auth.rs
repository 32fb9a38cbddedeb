//! Digest authentication, ACLs and NoAuth.

use std::time::Duration;

use zk_client::{perms, Acl, Client, CreateMode, CreateOptions, Error, Id, SessionState};

use super::support::{self, connect_one, shared, unique_path, wait_state, SUPER_PASSWORD};

#[tokio::test]
async fn digest_auth_and_no_auth() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let alice = Client::builder(support::one_member(&cluster))
        .auth("digest", b"alice:secret")
        .connect()
        .await
        .unwrap();
    let anonymous = connect_one(&cluster).await;
    let root = unique_path("auth");
    let private = CreateOptions::new(CreateMode::Persistent).with_acl(Acl::creator_all());
    alice.create(&root, b"mine", &private).await.unwrap();
    let (acl, _) = alice.get_acl(&root).await.unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"));
    assert!(alice
        .who_am_i()
        .await
        .unwrap()
        .iter()
        .any(|c| c.auth_scheme == "digest" && c.user == "alice"));

    assert_eq!(anonymous.get_data(&root).await, Err(Error::NoAuth));
    assert_eq!(
        anonymous.set_data(&root, b"x", None).await,
        Err(Error::NoAuth)
    );

    // Credentials added later work too, and apply to this session only.
    let bob = connect_one(&cluster).await;
    assert_eq!(bob.get_data(&root).await, Err(Error::NoAuth));
    bob.add_auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(&bob.get_data(&root).await.unwrap().0[..], b"mine");

    // The super user passes every ACL.
    let admin = connect_one(&cluster).await;
    admin
        .add_auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes())
        .await
        .unwrap();
    assert_eq!(&admin.get_data(&root).await.unwrap().0[..], b"mine");

    // An ACL naming a digest id directly.
    let readers = vec![
        Acl::new(perms::READ, Id::anyone()),
        Acl::new(perms::ALL, Id::new("digest", acl[0].id.id.clone())),
    ];
    let child = format!("{root}/c");
    alice
        .create(&child, b"", &CreateOptions::default())
        .await
        .unwrap();
    alice.set_acl(&root, &readers, None).await.unwrap();
    assert_eq!(&anonymous.get_data(&root).await.unwrap().0[..], b"mine");
    // Deleting needs DELETE on the parent.
    assert_eq!(anonymous.delete(&child, None).await, Err(Error::NoAuth));
    alice.delete_all(&root).await.unwrap();
}

#[tokio::test]
async fn failed_auth_is_terminal() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = connect_one(&cluster).await;
    // The server rejects credentials of a scheme it has no provider for.
    assert_eq!(
        client.add_auth("nosuchscheme", b"x").await,
        Err(Error::AuthFailed)
    );
    wait_state(&client, 10, |s| s == SessionState::AuthFailed).await;
    assert_eq!(client.get_data("/").await, Err(Error::AuthFailed));
    let rejected = Client::builder(support::one_member(&cluster))
        .auth("nosuchscheme", b"x")
        .connection_timeout(Duration::from_secs(10))
        .connect()
        .await;
    assert_eq!(rejected.err(), Some(Error::AuthFailed));
}
