//! SASL DIGEST-MD5 with zk-client: against our server (in process and, in `dropin`, the
//! binary) and real ZooKeeper 3.8 with the same JAAS file.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use zk_client::{perms, Acl, CreateMode, CreateOptions, Error, Id, SessionEvent};
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};
use zk_testserver::TestServer;

use crate::support::{connect, free_port, SASL_PASSWORD, SASL_USER};

/// Whether `against` refuses an unknown user who presents another user's password. Real
/// ZooKeeper 3.8 does not: its SASL callback handler is shared by all connections and keeps
/// the name of the last user it found, so an unknown name gets that user's password. Ours
/// refuses every user not in the JAAS section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownUsers {
    Refused,
    /// Real ZooKeeper's behaviour: not checked.
    Unchecked,
}

/// The SASL checks every server must pass at `addr` (plain, or TLS when `tls` is true).
pub async fn sasl_scenario(addr: SocketAddr, tls: bool, unknown: UnknownUsers) {
    let tls_arg = tls.then_some(None);
    let bob = connect(addr, tls_arg, Some((SASL_USER, SASL_PASSWORD)))
        .await
        .expect("bob authenticates");
    let path = format!("/sasl-{}", free_port());
    let only_bob = vec![Acl::new(perms::ALL, Id::new("sasl", SASL_USER))];
    bob.create(
        &path,
        b"bob's",
        &CreateOptions::new(CreateMode::Persistent).with_acl(only_bob),
    )
    .await
    .unwrap();
    assert_eq!(&bob.get_data(&path).await.unwrap().0[..], b"bob's");
    // `auth` expands to the SASL identity.
    let child = format!("{path}/creator");
    bob.create(
        &child,
        b"",
        &CreateOptions::new(CreateMode::Persistent).with_acl(Acl::creator_all()),
    )
    .await
    .unwrap();
    assert_eq!(
        bob.get_acl(&child).await.unwrap().0,
        vec![Acl::new(perms::ALL, Id::new("sasl", SASL_USER))]
    );
    let anonymous = connect(addr, tls_arg, None).await.unwrap();
    assert_eq!(anonymous.get_data(&path).await.unwrap_err(), Error::NoAuth);
    let mut refused = vec![(SASL_USER, "wrong"), ("mallory", "guess")];
    if unknown == UnknownUsers::Refused {
        refused.push(("mallory", SASL_PASSWORD));
    }
    for (user, password) in refused {
        match connect(addr, tls_arg, Some((user, password))).await {
            Err(Error::AuthFailed) => {}
            other => panic!("{user}/{password}: expected AuthFailed, got {other:?}"),
        }
    }
    bob.delete(&child, None).await.unwrap();
    bob.delete(&path, None).await.unwrap();
    bob.close().await.unwrap();
    anonymous.close().await.unwrap();
}

fn users() -> BTreeMap<String, String> {
    BTreeMap::from([(SASL_USER.to_string(), SASL_PASSWORD.to_string())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_client_sasl_against_our_server() {
    let server = TestServer::builder()
        .sasl_users(users())
        .start()
        .await
        .unwrap();
    sasl_scenario(server.addr(), false, UnknownUsers::Refused).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_client_sasl_against_real_zookeeper() {
    if !require_real_zookeeper() {
        return;
    }
    let jaas = crate::support::files().jaas.clone();
    let opts = RealOptions {
        jvm_args: vec![format!(
            "-Djava.security.auth.login.config={}",
            jaas.display()
        )],
        extra_config: vec![
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".into(),
        ],
        ..RealOptions::default()
    };
    let zk = tokio::task::spawn_blocking(move || RealZooKeeper::standalone(opts))
        .await
        .unwrap()
        .unwrap();
    sasl_scenario(zk.member_addr(0), false, UnknownUsers::Unchecked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_runs_again_after_every_reconnect_before_any_request() {
    // With SASL enforced, any request before the exchange would close the connection.
    let server = TestServer::builder()
        .sasl_users(users())
        .enforce_auth_schemes(["sasl"])
        .start()
        .await
        .unwrap();
    let bob = connect(server.addr(), None, Some((SASL_USER, SASL_PASSWORD)))
        .await
        .unwrap();
    let only_bob = vec![Acl::new(perms::ALL, Id::new("sasl", SASL_USER))];
    let opts = CreateOptions::new(CreateMode::Persistent).with_acl(only_bob);
    bob.create("/reauth", b"1", &opts).await.unwrap();
    let watcher = bob.exists_and_watch("/reauth").await.unwrap().1;
    // The lossless event stream, not the state: the client may be connected again before a
    // busy test thread looks at the state, and then `Disconnected` is never seen.
    let mut events = bob.events();
    assert!(matches!(
        events.next().await,
        Some(SessionEvent::Connected { .. })
    ));
    for round in 0..3 {
        assert!(server.drop_session_connection(bob.session_id().0).await);
        // Skips the previous round's Reconnected.
        loop {
            match events.next().await {
                Some(SessionEvent::Suspended { .. }) => break,
                Some(SessionEvent::Reconnected { .. }) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        // Queued while disconnected, sent after the reconnect's SASL exchange succeeded.
        let data = bob.get_data("/reauth").await.unwrap().0;
        assert_eq!(&data[..], b"1", "round {round}");
    }
    // The watch was re-registered after the exchange too.
    bob.set_data("/reauth", b"2", None).await.unwrap();
    watcher.changed().await;
    // Without SASL the first request closes the session's connection.
    let anonymous = connect(server.addr(), None, None).await.unwrap();
    let err = anonymous.get_data("/reauth").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SessionClosedRequireSaslAuth | Error::ConnectionLoss
        ),
        "{err:?}"
    );
}
