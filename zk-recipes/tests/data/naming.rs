//! Group membership and the service registry: live views, members leaving and dying,
//! re-registration after expiry, NodeExists → delete and re-create (CURATOR-164).

use std::time::Duration;

use zk_client::{CreateMode, CreateOptions};
use zk_recipes::{CacheEvent, GroupMember, ServiceDiscovery, ServiceInstance};

use super::{expect_event, expire, renewing};
use crate::support::{self, shared, unique_path, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_members_see_each_other() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let group = format!("{}/group", unique_path("group"));
    let mut members = Vec::new();
    let mut clients = Vec::new();
    for i in 0..10 {
        let client = support::connect(&cluster).await;
        let member = GroupMember::join(
            &client,
            &group,
            &format!("m{i}"),
            format!("d{i}").as_bytes(),
        )
        .await
        .unwrap();
        members.push(member);
        clients.push(client);
    }
    for member in &members {
        within(10, "everyone", async {
            while member.members().len() < 10 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
    assert_eq!(&members[3].members()["m7"][..], b"d7");
    let mut events = members[0].events();
    // One leaves, one dies (its session closes), one changes its data.
    members.pop().unwrap().leave().await.unwrap();
    clients[8].close().await.unwrap();
    members[1].set_data(b"new").await.unwrap();
    within(10, "the departures", async {
        while members[0].members().len() != 8 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    expect_event(
        &mut events,
        "a change",
        |e| matches!(e, CacheEvent::Changed { path, .. } if path.ends_with("/m1")),
    )
    .await;
    assert_eq!(&members[0].members()["m1"][..], b"new");
    assert!(!members[0].members().contains_key("m9"));
    assert!(GroupMember::join(&clients[0], &group, "a/b", b"")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_and_registration_come_back_after_expiry() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let (proxy, client) = renewing(&cluster).await;
    let observer = support::connect(&cluster).await;
    let base = unique_path("renewal");
    let member = GroupMember::join(&client, &format!("{base}/group"), "me", b"")
        .await
        .unwrap();
    let discovery = ServiceDiscovery::new(&client, &format!("{base}/services")).unwrap();
    let registration = discovery
        .register(ServiceInstance::new("api", "api-1", "10.0.0.1").with_port(80))
        .await
        .unwrap();
    let watcher = ServiceDiscovery::new(&observer, &format!("{base}/services")).unwrap();
    let view = watcher.watch("api").await.unwrap();
    let mut events = view.events();
    assert_eq!(view.instances().len(), 1);

    expire(&cluster, &proxy, &client).await;
    // The observer sees the registration go with the old session and come back.
    expect_event(&mut events, "gone", |e| {
        matches!(e, CacheEvent::Deleted { .. })
    })
    .await;
    expect_event(&mut events, "back", |e| {
        matches!(e, CacheEvent::Created { .. })
    })
    .await;
    within(20, "both back in the new session", async {
        loop {
            let me = observer.exists(&format!("{base}/group/me")).await.unwrap();
            let api = observer
                .exists(&format!("{base}/services/api/api-1"))
                .await
                .unwrap();
            let session = client.session_id().0;
            if me.is_some_and(|s| s.ephemeral_owner == session)
                && api.is_some_and(|s| s.ephemeral_owner == session)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(view.instances()[0].port, Some(80));
    within(10, "member view rebuilt", async {
        while !member.members().contains_key("me") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(registration);
}

#[tokio::test]
async fn registry_registers_discovers_and_replaces_stale_nodes() {
    if !support::available() {
        return;
    }
    let cluster = shared();
    let client = support::connect(&cluster).await;
    let other = support::connect(&cluster).await;
    let base = unique_path("discovery");
    let discovery = ServiceDiscovery::new(&client, &base).unwrap();
    assert!(discovery.services().await.unwrap().is_empty());
    let view = ServiceDiscovery::new(&other, &base)
        .unwrap()
        .watch("svc")
        .await
        .unwrap();
    let mut events = view.events();

    let mut registrations = Vec::new();
    for i in 0..3u16 {
        let instance = ServiceInstance::new("svc", &format!("inst-{i}"), "127.0.0.1")
            .with_port(10000 + i)
            .with_metadata("zone", "a");
        registrations.push(discovery.register(instance).await.unwrap());
    }
    assert_eq!(discovery.services().await.unwrap(), ["svc"]);
    let found = discovery.instances("svc").await.unwrap();
    assert_eq!(
        found.iter().map(|i| i.port.unwrap()).collect::<Vec<_>>(),
        [10000, 10001, 10002]
    );
    assert_eq!(found[0].metadata["zone"], "a");
    // curator-x-discovery's JSON, ephemeral.
    other.sync(&format!("{base}/svc/inst-0")).await.unwrap();
    let (data, stat) = other.get_data(&format!("{base}/svc/inst-0")).await.unwrap();
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    let json: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        (
            json["name"].as_str(),
            json["port"].as_u64(),
            json["serviceType"].as_str()
        ),
        (Some("svc"), Some(10000), Some("DYNAMIC"))
    );
    within(10, "the view", async {
        while view.instances().len() < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Update and unregister.
    let mut first = registrations.remove(0);
    first
        .update(ServiceInstance::new("svc", "inst-0", "10.1.1.1").with_port(1))
        .await
        .unwrap();
    expect_event(
        &mut events,
        "updated",
        |e| matches!(e, CacheEvent::Changed { path, .. } if path.ends_with("inst-0")),
    )
    .await;
    first.unregister().await.unwrap();
    expect_event(
        &mut events,
        "unregistered",
        |e| matches!(e, CacheEvent::Deleted { path, .. } if path.ends_with("inst-0")),
    )
    .await;

    // CURATOR-164: a stale node with our id is replaced (deleted and created), not
    // overwritten, so watchers see the registration.
    let stale = format!("{base}/svc/inst-9");
    other
        .create(&stale, b"{}", &CreateOptions::new(CreateMode::Persistent))
        .await
        .unwrap();
    let old_czxid = other.exists(&stale).await.unwrap().unwrap().czxid;
    let _ninth = discovery
        .register(ServiceInstance::new("svc", "inst-9", "127.0.0.9"))
        .await
        .unwrap();
    let stat = other.exists(&stale).await.unwrap().unwrap();
    assert_ne!(stat.czxid, old_czxid);
    assert_eq!(stat.ephemeral_owner, client.session_id().0);
    let names: Vec<String> = view_ids(&discovery).await;
    assert_eq!(names, ["inst-1", "inst-2", "inst-9"]);
}

async fn view_ids(discovery: &ServiceDiscovery) -> Vec<String> {
    discovery
        .instances("svc")
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}
