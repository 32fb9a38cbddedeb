//! **Configuration center.** A publisher writes an application's configuration to one znode;
//! three application instances follow it through a [`NodeCache`] and print each change as it
//! arrives: ZooKeeper pushes the event, the cache pulls the new data.
//!
//! Midway, one instance's session expires (as after a long GC pause). Its client opens a new
//! session by itself (`renew_session_on_expiry`), the cache re-reads the node, and the
//! instance still gets every later version. At the end the publisher deletes the
//! configuration and every instance sees it go.
//!
//! ```sh
//! cargo run -p zk-examples --bin config-center [-- --connect host:port,...]
//! ```

use tokio::sync::broadcast::{self, error::RecvError};
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError};
use zk_recipes::{CacheEvent, NodeCache};

use crate::{fresh_root, remove, retry_op, say, step, text, BoxError, Out, Servers};

/// One application instance: its own session and its cache of the configuration.
struct Instance {
    client: Client,
    cache: NodeCache,
    events: broadcast::Receiver<CacheEvent>,
    /// Whether the last connection event was a suspension.
    suspended: bool,
}

/// Runs the example.
pub async fn run(servers: &Servers, out: &Out) -> Result<(), BoxError> {
    let publisher = servers.client().await?;
    let root = fresh_root(&publisher, "config-center").await?;
    let config = format!("{root}/app.properties");
    publisher
        .create_all(
            &config,
            b"max_connections=100",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await?;
    say!(out, "publisher writes {config} = \"max_connections=100\"");

    let mut instances = Vec::new();
    for i in 0..3 {
        let client = servers
            .client_with(|b| b.renew_session_on_expiry(true))
            .await?;
        let cache = NodeCache::start(&client, &config).await?;
        let events = cache.events();
        let node = cache.get().ok_or("the configuration node is missing")?;
        say!(
            out,
            "instance {i} starts with {:?} (version {})",
            text(&node.data),
            node.stat.version
        );
        instances.push(Instance {
            client,
            cache,
            events,
            suspended: false,
        });
    }

    let version = publish(
        out,
        &publisher,
        &config,
        &mut instances,
        0,
        "max_connections=250",
    )
    .await?;

    let old = instances[0].client.session_id();
    servers.expire_session(&instances[0].client).await?;
    say!(
        out,
        "instance 0's session {:#x} expires (a long pause)",
        old.0
    );
    await_event(out, 0, &mut instances[0], |event| {
        *event == CacheEvent::Reset
    })
    .await?;
    say!(
        out,
        "instance 0's client renewed its session as {:#x}; the cache re-read the node",
        instances[0].client.session_id().0
    );
    servers.failover_point(out).await?;
    let version = publish(
        out,
        &publisher,
        &config,
        &mut instances,
        version,
        "max_connections=500",
    )
    .await?;

    say!(out, "publisher deletes the configuration");
    match retry_op(&publisher, || publisher.delete(&config, Some(version))).await {
        // NoNode: a first attempt whose reply was lost had deleted it.
        Ok(()) | Err(ClientError::NoNode) => {}
        Err(e) => return Err(e.into()),
    }
    for (i, instance) in instances.iter_mut().enumerate() {
        await_event(out, i, instance, |event| {
            matches!(event, CacheEvent::Deleted { .. })
        })
        .await?;
        say!(out, "instance {i} sees the configuration deleted");
    }

    for instance in instances {
        drop(instance.cache);
        instance.client.close().await?;
    }
    remove(&publisher, &root).await?;
    publisher.close().await?;
    say!(
        out,
        "config center done: every instance saw every version, in order"
    );
    Ok(())
}

/// Writes a new value over `version` and waits until every instance has it; returns the new
/// version.
async fn publish(
    out: &Out,
    publisher: &Client,
    config: &str,
    instances: &mut [Instance],
    version: i32,
    value: &str,
) -> Result<i32, BoxError> {
    // A versioned write can be repeated after a lost reply: if the first attempt applied,
    // the repetition fails with BadVersion, and a read tells whether the value is ours.
    let write = || publisher.set_data(config, value.as_bytes(), Some(version));
    let stat = match retry_op(publisher, write).await {
        Ok(stat) => stat,
        Err(ClientError::BadVersion) => {
            let (data, stat) = retry_op(publisher, || publisher.get_data(config)).await?;
            if data.as_ref() != value.as_bytes() {
                return Err(format!("someone else wrote {config}").into());
            }
            stat
        }
        Err(e) => return Err(e.into()),
    };
    say!(out, "publisher sets {value:?} (version {})", stat.version);
    for (i, instance) in instances.iter_mut().enumerate() {
        await_event(out, i, instance, |event| match event {
            CacheEvent::Changed { node, .. } | CacheEvent::Created { node, .. } => {
                node.stat.version >= stat.version
            }
            _ => false,
        })
        .await?;
        let node = instance.cache.get().ok_or("the configuration vanished")?;
        if node.stat.version != stat.version || node.data.as_ref() != value.as_bytes() {
            return Err(format!("instance {i} has {node:?}, not version {}", stat.version).into());
        }
        say!(
            out,
            "instance {i} notified -> now {:?} (version {})",
            text(&node.data),
            node.stat.version
        );
    }
    Ok(stat.version)
}

/// Reads the instance's cache events until `done` says yes, printing connection changes.
async fn await_event(
    out: &Out,
    i: usize,
    instance: &mut Instance,
    done: impl Fn(&CacheEvent) -> bool,
) -> Result<(), BoxError> {
    loop {
        let event = match step("a configuration event", instance.events.recv()).await? {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return Err("the cache stopped".into()),
        };
        if done(&event) {
            return Ok(());
        }
        match event {
            CacheEvent::Suspended if !instance.suspended => {
                instance.suspended = true;
                say!(
                    out,
                    "instance {i}: connection suspended, keeps the last value"
                )
            }
            CacheEvent::Reset => instance.suspended = false,
            CacheEvent::Lost => return Err(format!("instance {i} lost its session").into()),
            _ => {}
        }
    }
}
