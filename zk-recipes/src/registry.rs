//! Service naming: register instances of a service and discover them
//! ([`ServiceDiscovery`], compatible with Curator's `curator-x-discovery`).
//!
//! # Layout and encoding (curator-x-discovery's)
//! ```text
//! base                      container
//!   <service name>          container
//!     <instance id>         EPHEMERAL, data = the instance as JSON
//! ```
//! The JSON object has the fields Curator's `JsonInstanceSerializer` writes:
//! `{"name":"svc","id":"inst-0","address":"10.0.0.7","port":8080,"sslPort":null,
//! "payload":{"zone":"a"},"registrationTimeUTC":1795987664491,"serviceType":"DYNAMIC",
//! "uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},..]}}`.
//! - `payload` holds the instance's metadata as a JSON object of strings (`null` when there
//!   is none). Reading, a payload of another shape is kept as one entry `"payload"` holding
//!   its JSON text; unknown fields are ignored.
//! - `uriSpec` is the template `{scheme}://{address}:{port}` split into Curator's parts
//!   (`{name}` = a variable part).
//!
//! # Registration
//! [`ServiceDiscovery::register`] keeps the instance's node with a [`PersistentNode`]: it is
//! re-created if deleted and, with a client that renews its session
//! (`renew_session_on_expiry`), after an expiry. If the node already exists (a stale
//! registration, or an old session's ephemeral that has not expired yet), it is deleted and
//! created again rather than overwritten, so that watchers see the change (CURATOR-164).
//!
//! # Connection-state policy
//! As [`PersistentNode`] for a registration and [`ChildrenCache`] for a [`ServiceCache`]:
//! Suspended keeps everything (the view may be stale), Reconnected re-reads, Lost removes
//! the registration (re-created on a renewed session).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::broadcast;
use zk_client::{Client, CreateMode, CreateOptions, Error as ClientError};

use crate::cache::{CacheEvent, ChildrenCache};
use crate::error::{Error, Result};
use crate::node_util::{check_path, child_path, retry};
use crate::persistent_node::PersistentNode;

/// How an instance is registered (Curator `ServiceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ServiceType {
    /// An ephemeral registration, gone with the session (the default).
    #[default]
    Dynamic,
    /// A persistent registration.
    Static,
    /// A persistent registration that is never removed by the registry.
    Permanent,
}

impl ServiceType {
    fn as_str(self) -> &'static str {
        match self {
            ServiceType::Dynamic => "DYNAMIC",
            ServiceType::Static => "STATIC",
            ServiceType::Permanent => "PERMANENT",
        }
    }

    fn parse(s: &str) -> ServiceType {
        match s {
            "STATIC" => ServiceType::Static,
            "PERMANENT" => ServiceType::Permanent,
            _ => ServiceType::Dynamic,
        }
    }
}

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    /// The service name.
    pub name: String,
    /// The instance id (unique within the service; the node's name).
    pub id: String,
    /// The host or address.
    pub address: String,
    /// The plain port, if any.
    pub port: Option<u16>,
    /// The TLS port, if any.
    pub ssl_port: Option<u16>,
    /// Metadata (Curator's `payload`).
    pub metadata: BTreeMap<String, String>,
    /// When it was registered, in ms since the Unix epoch.
    pub registration_time_ms: i64,
    /// How it is registered.
    pub service_type: ServiceType,
    /// A URI template such as `{scheme}://{address}:{port}`.
    pub uri_spec: Option<String>,
}

impl ServiceInstance {
    /// An instance `id` of service `name` at `address`, registered now, without ports.
    pub fn new(name: &str, id: &str, address: &str) -> ServiceInstance {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        ServiceInstance {
            name: name.to_string(),
            id: id.to_string(),
            address: address.to_string(),
            port: None,
            ssl_port: None,
            metadata: BTreeMap::new(),
            registration_time_ms: now,
            service_type: ServiceType::Dynamic,
            uri_spec: None,
        }
    }

    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the TLS port.
    pub fn with_ssl_port(mut self, port: u16) -> Self {
        self.ssl_port = Some(port);
        self
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// Sets how the instance is registered.
    pub fn with_service_type(mut self, service_type: ServiceType) -> Self {
        self.service_type = service_type;
        self
    }

    /// Sets the URI template.
    pub fn with_uri_spec(mut self, spec: &str) -> Self {
        self.uri_spec = Some(spec.to_string());
        self
    }

    /// The instance as curator-x-discovery's JSON (see the [module docs](self)).
    pub fn to_json(&self) -> Vec<u8> {
        let payload = if self.metadata.is_empty() {
            Value::Null
        } else {
            Value::Object(
                self.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let value = json!({
            "name": self.name,
            "id": self.id,
            "address": self.address,
            "port": self.port,
            "sslPort": self.ssl_port,
            "payload": payload,
            "registrationTimeUTC": self.registration_time_ms,
            "serviceType": self.service_type.as_str(),
            "uriSpec": self.uri_spec.as_deref().map(uri_parts),
        });
        serde_json::to_vec(&value).expect("JSON of plain values")
    }

    /// Reads an instance from its JSON.
    ///
    /// Errors: [`Error::BadData`] if it is not a JSON object with a string `name` and `id`.
    pub fn from_json(path: &str, data: &[u8]) -> Result<ServiceInstance> {
        let bad = |reason| Error::BadData {
            path: path.to_string(),
            reason,
        };
        let value: Value =
            serde_json::from_slice(data).map_err(|_| bad("a JSON service instance"))?;
        let object = value.as_object().ok_or_else(|| bad("a JSON object"))?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
        let port = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
        };
        let metadata = match object.get("payload") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(map)) if map.values().all(Value::is_string) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            Some(other) => BTreeMap::from([("payload".to_string(), other.to_string())]),
        };
        Ok(ServiceInstance {
            name: text("name").ok_or_else(|| bad("a service instance with a name"))?,
            id: text("id").ok_or_else(|| bad("a service instance with an id"))?,
            address: text("address").unwrap_or_default(),
            port: port("port"),
            ssl_port: port("sslPort"),
            metadata,
            registration_time_ms: object
                .get("registrationTimeUTC")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            service_type: ServiceType::parse(&text("serviceType").unwrap_or_default()),
            uri_spec: object.get("uriSpec").and_then(uri_template),
        })
    }
}

/// `{scheme}://{address}` as Curator's `UriSpec` parts.
fn uri_parts(template: &str) -> Value {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        if open > 0 {
            parts.push(json!({"value": &rest[..open], "variable": false}));
        }
        parts.push(json!({"value": &rest[open + 1..open + len], "variable": true}));
        rest = &rest[open + len + 1..];
    }
    if !rest.is_empty() {
        parts.push(json!({"value": rest, "variable": false}));
    }
    json!({ "parts": parts })
}

/// The template of Curator's `UriSpec` parts.
fn uri_template(spec: &Value) -> Option<String> {
    let parts = spec.get("parts")?.as_array()?;
    let mut out = String::new();
    for part in parts {
        let value = part.get("value")?.as_str()?;
        if part.get("variable").and_then(Value::as_bool) == Some(true) {
            out.push('{');
            out.push_str(value);
            out.push('}');
        } else {
            out.push_str(value);
        }
    }
    Some(out)
}

/// Registers and discovers service instances under a base path.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = zk_testserver::TestServer::builder().extended_types(true).start().await?;
/// # let client = zk_client::Client::connect(&server.addr().to_string()).await?;
/// use zk_recipes::{ServiceDiscovery, ServiceInstance};
///
/// let discovery = ServiceDiscovery::new(&client, "/services")?;
/// let me = ServiceInstance::new("billing", "billing-1", "10.0.0.7")
///     .with_port(8080)
///     .with_metadata("zone", "eu-1");
/// let registration = discovery.register(me).await?;
///
/// let billing = discovery.watch("billing").await?;
/// for instance in billing.instances() {
///     println!("{}:{:?}", instance.address, instance.port);
/// }
/// registration.unregister().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceDiscovery {
    client: Client,
    base: String,
}

impl ServiceDiscovery {
    /// A registry under `base_path`.
    pub fn new(client: &Client, base_path: &str) -> Result<ServiceDiscovery> {
        check_path(base_path)?;
        Ok(ServiceDiscovery {
            client: client.clone(),
            base: base_path.to_string(),
        })
    }

    fn service_path(&self, service: &str) -> Result<String> {
        child_path(&self.base, service)
    }

    /// Registers `instance` and keeps it registered until the returned handle is dropped or
    /// [`Registration::unregister`]ed. Returns once the node exists.
    pub async fn register(&self, instance: ServiceInstance) -> Result<Registration> {
        let path = child_path(&self.service_path(&instance.name)?, &instance.id)?;
        let mode = match instance.service_type {
            ServiceType::Dynamic => CreateMode::Ephemeral,
            ServiceType::Static | ServiceType::Permanent => CreateMode::Persistent,
        };
        let node = PersistentNode::start(
            &self.client,
            &path,
            CreateOptions::new(mode),
            &instance.to_json(),
            true,
        )?;
        node.wait_created().await?;
        tracing::debug!(%path, session = %self.client.session_id(), "registered");
        Ok(Registration { node, instance })
    }

    /// The names of the registered services.
    pub async fn services(&self) -> Result<Vec<String>> {
        match retry(&self.client, || self.client.get_children(&self.base)).await {
            Ok(mut names) => {
                names.sort();
                Ok(names)
            }
            Err(ClientError::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// The instances of `service` now (read once; undecodable nodes are skipped).
    pub async fn instances(&self, service: &str) -> Result<Vec<ServiceInstance>> {
        let path = self.service_path(service)?;
        let ids = match retry(&self.client, || self.client.get_children(&path)).await {
            Ok(ids) => ids,
            Err(ClientError::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let reads: Vec<_> = ids
            .iter()
            .map(|id| self.client.get_data(&zk_proto::path::join(&path, id)))
            .collect();
        let mut instances = Vec::new();
        for (id, read) in ids.iter().zip(reads) {
            match read.await {
                Ok((data, _)) => {
                    match ServiceInstance::from_json(&zk_proto::path::join(&path, id), &data) {
                        Ok(instance) => instances.push(instance),
                        Err(e) => tracing::warn!(error = %e, "skipping a service instance"),
                    }
                }
                Err(ClientError::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(instances)
    }

    /// A live view of the instances of `service` (Curator `ServiceCache`).
    pub async fn watch(&self, service: &str) -> Result<ServiceCache> {
        let path = self.service_path(service)?;
        Ok(ServiceCache {
            cache: ChildrenCache::start(&self.client, &path).await?,
            path,
        })
    }
}

/// A registered instance, kept registered while this handle lives.
#[derive(Debug)]
pub struct Registration {
    node: PersistentNode,
    instance: ServiceInstance,
}

impl Registration {
    /// The instance as registered.
    pub fn instance(&self) -> &ServiceInstance {
        &self.instance
    }

    /// The instance's node, while it exists.
    pub fn path(&self) -> Option<String> {
        self.node.path()
    }

    /// Replaces the registered instance's data (same service and id).
    pub async fn update(&mut self, mut instance: ServiceInstance) -> Result<()> {
        instance.name.clone_from(&self.instance.name);
        instance.id.clone_from(&self.instance.id);
        self.node.set_data(&instance.to_json()).await?;
        self.instance = instance;
        Ok(())
    }

    /// Unregisters: deletes the node.
    pub async fn unregister(self) -> Result<()> {
        self.node.close().await
    }
}

/// A live view of one service's instances.
#[derive(Debug)]
pub struct ServiceCache {
    cache: ChildrenCache,
    path: String,
}

impl ServiceCache {
    /// The instances as last seen, by id (undecodable nodes are skipped).
    pub fn instances(&self) -> Vec<ServiceInstance> {
        self.cache
            .children()
            .into_iter()
            .filter_map(|(id, node)| {
                ServiceInstance::from_json(&zk_proto::path::join(&self.path, &id), &node.data).ok()
            })
            .collect()
    }

    /// Changes of the service's nodes.
    pub fn events(&self) -> broadcast::Receiver<CacheEvent> {
        self.cache.events()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_curator_input() {
        let instance = ServiceInstance::new("svc", "inst-0", "127.0.0.1")
            .with_port(10000)
            .with_metadata("zone", "a")
            .with_uri_spec("{scheme}://{address}:{port}/x");
        let back = ServiceInstance::from_json("/p", &instance.to_json()).unwrap();
        assert_eq!(back, instance);

        // As curator-x-discovery 5.4 wrote it.
        let curator = br#"{"name":"svc","id":"inst-0","address":"127.0.0.1","port":10000,"sslPort":null,"payload":null,"registrationTimeUTC":1795987664491,"serviceType":"DYNAMIC","uriSpec":null}"#;
        let parsed = ServiceInstance::from_json("/p", curator).unwrap();
        assert_eq!(parsed.port, Some(10000));
        assert_eq!(parsed.ssl_port, None);
        assert_eq!(parsed.registration_time_ms, 1795987664491);
        assert!(parsed.metadata.is_empty());
        let plain = ServiceInstance::new("svc", "inst-0", "127.0.0.1").with_port(10000);
        let ours: Value = serde_json::from_slice(&plain.to_json()).unwrap();
        let theirs: Value = serde_json::from_slice(curator).unwrap();
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&ours), keys(&theirs));

        assert!(ServiceInstance::from_json("/p", b"[1]").is_err());
        assert!(ServiceInstance::from_json("/p", b"\xff").is_err());
        let odd = ServiceInstance::from_json(
            "/p",
            br#"{"name":"a","id":"b","payload":[1,2],"port":70000}"#,
        )
        .unwrap();
        assert_eq!(odd.metadata["payload"], "[1,2]");
        assert_eq!(odd.port, None);
    }
}
