//! The main demo: a configuration center and a service registry on ZooKeeper, and what happens
//! to them when connections drop and sessions expire.
//!
//! ```sh
//! cargo run --release -p zk-examples --bin demo                       # embedded zk-testserver
//! cargo run --release -p zk-examples --bin demo -- --connect 127.0.0.1:2181   # any ensemble
//! ```
//!
//! 1. **Configuration center.** An admin writes `/demo/config/app`; three application
//!    instances follow it with persistent watches and re-read the value on every change.
//! 2. **Service naming.** Three API servers register ephemeral-sequential nodes under
//!    `/demo/services/api` with their address; a consumer follows the list with one-shot child
//!    watches, re-arming after each change.
//! 3. **Faults** (embedded server only). The server drops every connection: the clients
//!    reconnect with the same sessions, their persistent watches are re-registered, and the
//!    next config change still reaches everyone. Then one API server's session is expired by the
//!    server: its ephemeral node disappears and the consumer sees the list shrink.
//!
//! Every step waits on events, never on sleeps, and fails loudly after 10 seconds.

use futures::StreamExt;
use zk_client::{
    AddWatchMode, Client, CreateMode, CreateOptions, EventType, OneshotWatcher, PersistentWatcher,
    SessionState,
};
use zk_examples::{init_logging, step, text, BoxError, Servers};

const CONFIG: &str = "/demo/config/app";
const SERVICES: &str = "/demo/services/api";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_logging();
    let servers = Servers::from_args().await?;
    println!("zk-rs demo on {}", servers.describe());

    let admin = connect(&servers).await?;
    // Start from a clean slate (the demo may run against a shared ensemble).
    match admin.delete_all("/demo").await {
        Ok(()) | Err(zk_client::Error::NoNode) => {}
        Err(e) => return Err(e.into()),
    }

    // 1. Configuration center.
    println!("\n== 1. configuration center");
    let persistent = CreateOptions::new(CreateMode::Persistent);
    admin.create_all(CONFIG, b"", &persistent).await?;
    admin.set_data(CONFIG, b"max_connections=100", None).await?;
    let mut instances = Vec::new();
    for i in 0..3 {
        let client = connect(&servers).await?;
        let watch = client.add_watch(CONFIG, AddWatchMode::Persistent).await?;
        let (value, stat) = client.get_data(CONFIG).await?;
        println!(
            "  instance {i} (session {:#x}) starts with {:?} (version {})",
            client.session_id().0,
            text(&value),
            stat.version
        );
        instances.push((client, watch));
    }
    publish(&admin, &mut instances, b"max_connections=250").await?;

    // 2. Service naming.
    println!("\n== 2. service naming");
    admin.create_all(SERVICES, b"", &persistent).await?;
    let ephemeral = CreateOptions::new(CreateMode::EphemeralSequential);
    let mut providers = Vec::new();
    for port in [8081, 8082, 8083] {
        let client = connect(&servers).await?;
        let address = format!("10.0.0.7:{port}");
        let (node, _) = client
            .create(
                &format!("{SERVICES}/instance-"),
                address.as_bytes(),
                &ephemeral,
            )
            .await?;
        println!("  provider {address} registered as {node}");
        providers.push((client, node));
    }
    let consumer = connect(&servers).await?;
    let (mut members, mut watcher) = service_list(&consumer).await?;
    println!("  consumer sees {} providers: {members:?}", members.len());

    println!("  provider {} shuts down cleanly", providers[0].1);
    let (leaving, _) = providers.remove(0);
    leaving.close().await?;
    (members, watcher) = await_change(&consumer, watcher, members.len() - 1).await?;
    println!("  consumer now sees {members:?}");

    // 3. Faults.
    if !servers.is_embedded() {
        println!(
            "\n(external ensemble: skipping fault injection, which needs the embedded servers)"
        );
        return finish(admin).await;
    }
    println!("\n== 3. faults");
    let before: Vec<i64> = instances.iter().map(|(c, _)| c.session_id().0).collect();
    let everyone: Vec<&Client> = [&admin, &consumer]
        .into_iter()
        .chain(instances.iter().map(|(c, _)| c))
        .chain(providers.iter().map(|(c, _)| c))
        .collect();
    // Subscribe before the fault, so no state change can be missed.
    let mut states: Vec<_> = everyone.iter().map(|c| c.state()).collect();
    if !servers.drop_connections().await {
        return Err("the embedded servers cannot drop connections".into());
    }
    println!("  the server dropped every connection");
    for state in &mut states {
        step("every client reconnects", async {
            // The first change is the disconnect; then wait until connected again.
            state.changed().await.ok();
            while *state.borrow_and_update() != SessionState::Connected {
                state.changed().await.ok();
            }
        })
        .await?;
    }
    let after: Vec<i64> = instances.iter().map(|(c, _)| c.session_id().0).collect();
    assert_eq!(before, after, "sessions survive a reconnect");
    println!("  clients reconnected with the same sessions: {after:x?}");
    publish(&admin, &mut instances, b"max_connections=500").await?;

    let (doomed, node) = &providers[0];
    let id = doomed.session_id().0;
    servers.expire_session(doomed).await?;
    println!("  the server expired session {id:#x} (provider {node})");
    let mut doomed_state = doomed.state();
    step("the provider learns its session expired", async {
        while *doomed_state.borrow_and_update() != SessionState::Expired {
            doomed_state.changed().await.ok();
        }
    })
    .await?;
    (members, _) = await_change(&consumer, watcher, members.len() - 1).await?;
    println!("  its ephemeral node is gone; consumer sees {members:?}");

    finish(admin).await
}

async fn connect(servers: &Servers) -> Result<Client, BoxError> {
    servers.client().await
}

/// Writes a new config value and waits until every instance has seen it.
async fn publish(
    admin: &Client,
    instances: &mut [(Client, PersistentWatcher)],
    value: &[u8],
) -> Result<(), BoxError> {
    let stat = admin.set_data(CONFIG, value, None).await?;
    println!(
        "  admin publishes {:?} (version {})",
        text(value),
        stat.version
    );
    for (i, (client, watch)) in instances.iter_mut().enumerate() {
        // Persistent watches also report connection changes; wait for the data change.
        let event = step("config change event", async {
            loop {
                match watch.next().await {
                    Some(e) if e.event_type == EventType::NodeDataChanged => return Ok(e),
                    Some(_) => continue,
                    None => return Err("watch ended"),
                }
            }
        })
        .await??;
        let (now, stat) = client.get_data(&event.path).await?;
        println!(
            "  instance {i} got {:?} on {} -> re-read {:?} (version {})",
            event.event_type,
            event.path,
            text(&now),
            stat.version
        );
    }
    Ok(())
}

async fn service_list(consumer: &Client) -> Result<(Vec<String>, OneshotWatcher), BoxError> {
    let (mut children, _, watcher) = consumer.get_children_and_watch(SERVICES).await?;
    children.sort();
    let mut members = Vec::new();
    for child in children {
        let (address, _) = consumer.get_data(&format!("{SERVICES}/{child}")).await?;
        members.push(format!("{child}={}", text(&address)));
    }
    Ok((members, watcher))
}

/// Follows the service list with one-shot watches until it has `want` members.
async fn await_change(
    consumer: &Client,
    mut watcher: OneshotWatcher,
    want: usize,
) -> Result<(Vec<String>, OneshotWatcher), BoxError> {
    loop {
        let event = step("service list change", watcher.changed()).await?;
        if event.event_type != EventType::NodeChildrenChanged {
            return Err(format!("unexpected event {event:?}").into());
        }
        let (members, next) = service_list(consumer).await?;
        if members.len() == want {
            return Ok((members, next));
        }
        watcher = next;
    }
}

async fn finish(admin: Client) -> Result<(), BoxError> {
    admin.delete_all("/demo").await?;
    admin.close().await?;
    println!("\ndemo complete: every step was confirmed by a watch event or a read");
    Ok(())
}
