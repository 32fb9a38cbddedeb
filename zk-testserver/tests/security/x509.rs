//! x509 identities: with client authentication, a client certificate's subject is an `x509`
//! ACL identity (ZooKeeper's X509AuthenticationProvider), and a configured subject is super.

use zk_client::{perms, Acl, CreateMode, CreateOptions, Error, Id};
use zk_testserver::keystore::StoreFile;
use zk_testserver::{ClientAuth, TestServer};

use crate::support::{connect, files, have_keytool, STORE_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_subjects_are_x509_identities() {
    if !have_keytool() {
        return;
    }
    let f = files();
    let server = TestServer::builder()
        .tls_key_store(StoreFile::new(&f.server_jks).password(STORE_PASSWORD), 0)
        .tls_trust_store(
            StoreFile::new(&f.trust_jks).password(STORE_PASSWORD),
            ClientAuth::Need,
        )
        .x509_super_user("CN=root")
        .start()
        .await
        .unwrap();
    let secure = server.secure_addr().unwrap();
    let alice = connect(secure, Some(Some(&f.alice)), None).await.unwrap();
    let carol = connect(secure, Some(Some(&f.carol)), None).await.unwrap();
    let root = connect(secure, Some(Some(&f.root)), None).await.unwrap();
    // `auth` expands to the certificate's identity.
    let creator = CreateOptions::new(CreateMode::Persistent).with_acl(Acl::creator_all());
    alice.create("/alice", b"a", &creator).await.unwrap();
    assert_eq!(
        alice.get_acl("/alice").await.unwrap().0,
        vec![Acl::new(perms::ALL, Id::new("x509", "CN=alice"))]
    );
    assert_eq!(&alice.get_data("/alice").await.unwrap().0[..], b"a");
    assert_eq!(carol.get_data("/alice").await.unwrap_err(), Error::NoAuth);
    // An explicit x509 entry for someone else.
    let for_carol = vec![Acl::new(perms::READ, Id::new("x509", "CN=carol"))];
    let opts = CreateOptions::new(CreateMode::Persistent).with_acl(for_carol);
    alice.create("/for-carol", b"c", &opts).await.unwrap();
    assert_eq!(&carol.get_data("/for-carol").await.unwrap().0[..], b"c");
    assert_eq!(
        alice.get_data("/for-carol").await.unwrap_err(),
        Error::NoAuth
    );
    // The configured super user reads everything.
    assert_eq!(&root.get_data("/alice").await.unwrap().0[..], b"a");
    assert_eq!(&root.get_data("/for-carol").await.unwrap().0[..], b"c");
    // The plain port has no certificate identity.
    let plain = connect(server.addr(), None, None).await.unwrap();
    assert_eq!(plain.get_data("/alice").await.unwrap_err(), Error::NoAuth);
}
