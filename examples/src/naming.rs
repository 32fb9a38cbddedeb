//! **Naming service.** Instances of an `api` service register themselves in a
//! [`ServiceDiscovery`] registry (Curator's `curator-x-discovery` layout: an ephemeral node
//! per instance holding its address, port and metadata as JSON). A client discovers them
//! and follows the list through a live `ServiceCache` as instances come and go: one
//! unregisters cleanly, one crashes (its session expires, so its ephemeral node goes), and a
//! new one joins.
//!
//! ```sh
//! cargo run -p zk-examples --bin naming [-- --connect host:port,...]
//! ```

use tokio::sync::broadcast::{self, error::RecvError};
use zk_client::Client;
use zk_recipes::{CacheEvent, Registration, ServiceCache, ServiceDiscovery, ServiceInstance};

use crate::{fresh_root, remove, say, step, BoxError, Out, Servers};

const SERVICE: &str = "api";

/// One provider process: its own session and its registration.
struct Provider {
    client: Client,
    registration: Registration,
}

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let admin = servers.client().await?;
    let root = fresh_root(&admin, "naming").await?;

    let consumer = servers.client().await?;
    let discovery = ServiceDiscovery::new(&consumer, &root)?;
    let cache = discovery.watch(SERVICE).await?;
    let mut events = cache.events();

    let mut providers = Vec::new();
    for (i, zone) in [(1, "eu-west-1a"), (2, "eu-west-1b"), (3, "us-east-2a")] {
        providers.push(register(servers, out, &root, i, zone).await?);
    }
    await_instances(out, &cache, &mut events, &["api-1", "api-2", "api-3"]).await?;
    for instance in discovery.instances(SERVICE).await? {
        say!(
            out,
            "client discovers {} at {}:{} {:?}",
            instance.id,
            instance.address,
            instance.port.unwrap_or(0),
            instance.metadata
        );
    }

    servers.failover_point(out).await?;
    let leaving = providers.remove(0);
    say!(out, "api-1 shuts down cleanly and unregisters");
    leaving.registration.unregister().await?;
    leaving.client.close().await?;
    await_instances(out, &cache, &mut events, &["api-2", "api-3"]).await?;

    say!(out, "api-2 crashes: its session expires");
    servers.expire_session(&providers[0].client).await?;
    await_instances(out, &cache, &mut events, &["api-3"]).await?;

    providers.push(register(servers, out, &root, 4, "eu-west-1a").await?);
    await_instances(out, &cache, &mut events, &["api-3", "api-4"]).await?;

    drop(cache);
    for provider in providers {
        drop(provider.registration);
        provider.client.close().await?;
    }
    consumer.close().await?;
    remove(&admin, &root).await?;
    admin.close().await?;
    say!(
        out,
        "naming done: the client followed every instance that came and went"
    );
    Ok(())
}

/// Starts provider `api-<i>` with its own session and registers it.
async fn register(
    servers: &Servers,
    out: &Out,
    root: &str,
    i: u8,
    zone: &str,
) -> Result<Provider, BoxError> {
    let client = servers.client().await?;
    let instance = ServiceInstance::new(SERVICE, &format!("api-{i}"), &format!("10.0.0.{i}"))
        .with_port(8080)
        .with_metadata("zone", zone)
        .with_metadata("version", "1.4.2");
    let registration = ServiceDiscovery::new(&client, root)?
        .register(instance)
        .await?;
    say!(
        out,
        "api-{i} registers 10.0.0.{i}:8080 (zone {zone}) as {}",
        registration.path().unwrap_or_default()
    );
    Ok(Provider {
        client,
        registration,
    })
}

/// Follows the cache until it lists exactly the instances `want`, printing each change.
async fn await_instances(
    out: &Out,
    cache: &ServiceCache,
    events: &mut broadcast::Receiver<CacheEvent>,
    want: &[&str],
) -> Result<(), BoxError> {
    loop {
        while let Ok(event) = events.try_recv() {
            report(out, event)?;
        }
        let ids: Vec<String> = cache.instances().into_iter().map(|i| i.id).collect();
        if ids == want {
            say!(out, "client now sees {ids:?}");
            return Ok(());
        }
        match step("a change of the service's instances", events.recv()).await? {
            Ok(event) => report(out, event)?,
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return Err("the service cache stopped".into()),
        }
    }
}

/// Prints an instance joining or leaving.
fn report(out: &Out, event: CacheEvent) -> Result<(), BoxError> {
    match event {
        CacheEvent::Created { path, .. } if last(&path) != SERVICE => {
            say!(out, "client notified: {} joined", last(&path))
        }
        CacheEvent::Deleted { path, .. } if last(&path) != SERVICE => {
            say!(out, "client notified: {} left", last(&path))
        }
        CacheEvent::Lost => return Err("the client's session was lost".into()),
        _ => {}
    }
    Ok(())
}

fn last(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
