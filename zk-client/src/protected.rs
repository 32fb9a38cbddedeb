//! Protected creates (Curator's `withProtection`): a create that survives a lost reply.
//!
//! A create whose reply is lost (the connection dropped, the request timed out) may or may
//! not have applied. For a sequential node, creating again could leave two nodes, one of them
//! orphaned forever (a lock nobody releases). A protected create puts a random id in the name,
//! `<parent>/_c_<uuid>-<name>`, so that after such a failure it can list the parent and look
//! for the id before creating again. The layout is Curator's, so Curator and zk-rs clients
//! can take part in the same recipes.

use std::future::Future;

use zk_proto::Stat;

use crate::error::{Error, Result};
use crate::ops::CreateOptions;
use crate::Client;

/// The prefix of a protected node name: `_c_<uuid>-<name>`.
pub const PROTECTED_PREFIX: &str = "_c_";

/// `_c_` + a 36-character uuid + `-`.
const PROTECTED_HEAD_LEN: usize = PROTECTED_PREFIX.len() + UUID_LEN + 1;
const UUID_LEN: usize = 36;

/// The uuid of a protected node name `_c_<uuid>-...`, if it is one.
///
/// ```
/// let name = "_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-0000000001";
/// assert_eq!(zk_client::protected_id(name), Some("0f8fad5b-d9cb-469f-a165-70867728950e"));
/// assert_eq!(zk_client::protected_id("lock-0000000001"), None);
/// ```
pub fn protected_id(name: &str) -> Option<&str> {
    let head = name.as_bytes().get(..PROTECTED_HEAD_LEN)?;
    if !head.starts_with(PROTECTED_PREFIX.as_bytes()) || head[PROTECTED_HEAD_LEN - 1] != b'-' {
        return None;
    }
    let id = &name[PROTECTED_PREFIX.len()..PROTECTED_HEAD_LEN - 1];
    is_uuid(id).then_some(id)
}

/// The name with a protected prefix removed (`_c_<uuid>-lock-0000000001` →
/// `lock-0000000001`); other names unchanged.
pub fn strip_protected(name: &str) -> &str {
    match protected_id(name) {
        Some(_) => &name[PROTECTED_HEAD_LEN..],
        None => name,
    }
}

/// `8-4-4-4-12` hex digits (either case, as Java's `UUID.fromString` accepts).
fn is_uuid(s: &str) -> bool {
    s.len() == UUID_LEN
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A random (version 4) uuid, lowercase, as Java's `UUID.randomUUID().toString()`.
pub(crate) fn random_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(UUID_LEN);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The parent of a client path and the protected path for `uuid` under it.
fn protected_path(path: &str, uuid: &str) -> Option<(String, String)> {
    let slash = path.rfind('/')?;
    let parent = if slash == 0 { "/" } else { &path[..slash] };
    let name = &path[slash + 1..];
    let child = format!("{PROTECTED_PREFIX}{uuid}-{name}");
    Some((parent.to_string(), zk_proto::path::join(parent, &child)))
}

impl Client {
    /// Curator `withProtection`: creates `<parent>/_c_<uuid>-<name>` (name = last segment of
    /// `path`), mode from `options` (sequential modes append the 10-digit suffix as usual).
    /// On ConnectionLoss (or a request timeout), it syncs the parent (the session may have
    /// moved to a member that has not applied the lost create yet), lists its children, finds
    /// the node carrying our uuid (for ephemerals only one whose ephemeralOwner is this
    /// session), and returns it instead of creating again; retries the create otherwise.
    /// Returns the created path (chroot stripped) and its Stat.
    ///
    /// Attempts follow the client's [`RetryPolicy`](crate::RetryPolicy)
    /// ([`ClientBuilder::retry_policy`](crate::ClientBuilder::retry_policy)): the create
    /// is sent again (with the same uuid) after an unknown outcome the lookup did not find,
    /// or after an error that proves it did not apply ([`Error::Throttled`],
    /// [`Error::SessionMoved`]); a failed lookup is retried the same way. When the policy is
    /// spent the last error is returned; the node then may or may not exist, and
    /// [`protected_id`] finds it by the uuid in its name.
    ///
    /// An ephemeral node carrying our uuid but owned by another session (one this client
    /// had before its session was renewed) is never returned: it is deleted, and the create
    /// is made again under a new uuid.
    ///
    /// Errors: those of [`Client::create`] that prove nothing was created (NoNode for a
    /// missing parent, NoAuth, ...), and the last unknown-outcome error once retries are spent.
    pub fn create_protected(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + 'static {
        let mut uuid = random_uuid();
        let target = protected_path(path, &uuid);
        // Sent now, so the create keeps its place in the session's order.
        let first = self.create(
            target.as_ref().map_or(path, |(_, full)| full.as_str()),
            data,
            options,
        );
        let client = self.clone();
        let data = data.to_vec();
        let options = options.clone();
        let policy = self.retry_policy().clone();
        let path = path.to_string();
        async move {
            let first = first.await;
            let Some((parent, mut full)) = target else {
                // No parent: the create failed validation; report its error.
                return first;
            };
            let mut backoff = policy.start();
            let mut result = first;
            // Whether the last create's outcome is unknown (a lookup is due).
            loop {
                let unknown = match result {
                    Ok(created) => return Ok(created),
                    Err(ref e) if !e.has_no_data_change() => true,
                    Err(ref e) if e.is_retryable() => false,
                    // NodeExists for a non-sequential name: only an earlier attempt of ours
                    // can have made it (the uuid is ours), so look it up.
                    Err(Error::NodeExists) if !backoff.is_first() => true,
                    Err(e) => return Err(e),
                };
                let last_error = result.err().unwrap_or(Error::ConnectionLoss);
                if unknown {
                    tracing::debug!(path = %full, error = %last_error, "protected create: outcome unknown, looking up");
                    match client
                        .find_protected_node(&parent, &uuid, &options, &mut backoff)
                        .await
                    {
                        Lookup::Found(found) => {
                            tracing::debug!(path = %found.0, "protected create: found the node of the lost reply");
                            return Ok(found);
                        }
                        Lookup::NotFound => {}
                        Lookup::Foreign => {
                            uuid = random_uuid();
                            full = protected_path(&path, &uuid).map_or(full, |(_, p)| p);
                        }
                        Lookup::Failed(e) => return Err(e),
                    }
                }
                if !backoff.wait().await {
                    return Err(last_error);
                }
                result = client.create(&full, &data, &options).await;
            }
        }
    }

    /// Looks for our protected node under `parent`, retrying the listing as the policy
    /// allows.
    async fn find_protected_node(
        &self,
        parent: &str,
        uuid: &str,
        options: &CreateOptions,
        backoff: &mut crate::retry::Backoff,
    ) -> Lookup {
        loop {
            match self.find_protected_once(parent, uuid, options).await {
                Err(e) if e.is_retryable() => {
                    if !backoff.wait().await {
                        return Lookup::Failed(e);
                    }
                }
                Err(e) => return Lookup::Failed(e),
                Ok(lookup) => return lookup,
            }
        }
    }

    async fn find_protected_once(
        &self,
        parent: &str,
        uuid: &str,
        options: &CreateOptions,
    ) -> Result<Lookup> {
        // After a reconnect the session may sit on a member that has not applied the lost
        // create yet (it only had to have seen our last reply's zxid, and the lost reply's was
        // never seen): catch it up with the leader first, or the listing misses our node and
        // we would create a second one.
        self.sync(parent).await?;
        let children = self.get_children(parent).await?;
        let mut lookup = Lookup::NotFound;
        for child in children {
            if protected_id(&child) != Some(uuid) {
                continue;
            }
            let node = zk_proto::path::join(parent, &child);
            let Some(stat) = self.exists(&node).await? else {
                continue; // deleted since the listing
            };
            if options.mode().is_ephemeral() && stat.ephemeral_owner != self.session_id().0 {
                // Ours, from a session this client no longer has: it will go with that
                // session; delete it now so nobody takes it for a live one.
                tracing::info!(node = %node, owner = stat.ephemeral_owner, "protected create: deleting a node of an earlier session");
                match self.delete(&node, Some(stat.version)).await {
                    Ok(()) | Err(Error::NoNode) | Err(Error::BadVersion) => {}
                    Err(e) => return Err(e),
                }
                lookup = Lookup::Foreign;
                continue;
            }
            return Ok(Lookup::Found((node, stat)));
        }
        Ok(lookup)
    }
}

/// The outcome of a protected-node lookup.
enum Lookup {
    Found((String, Stat)),
    NotFound,
    /// Only a node of an earlier session carried the uuid (now deleted): use a new uuid.
    Foreign,
    Failed(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_format() {
        for _ in 0..100 {
            let id = random_uuid();
            assert!(is_uuid(&id), "{id}");
            assert_eq!(id, id.to_lowercase());
            assert_eq!(id.as_bytes()[14], b'4', "version 4: {id}");
            assert!(
                matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
        }
        assert_ne!(random_uuid(), random_uuid());
    }

    #[test]
    fn names() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let name = format!("_c_{id}-lock-0000000001");
        assert_eq!(protected_id(&name), Some(id));
        assert_eq!(strip_protected(&name), "lock-0000000001");
        assert_eq!(protected_id(&format!("_c_{id}-")), Some(id));
        assert_eq!(strip_protected(&format!("_c_{id}-")), "");
        assert_eq!(protected_id(&format!("_c_{id}")), None, "no separator");
        assert_eq!(protected_id(&format!("_c_{id}x")), None);
        assert_eq!(protected_id(&format!("_d_{id}-x")), None);
        assert_eq!(
            protected_id("_c_0f8fad5b-d9cb-469f-a165-70867728950g-x"),
            None
        );
        assert_eq!(
            protected_id("_c_0f8fad5bxd9cb-469f-a165-70867728950e-x"),
            None
        );
        assert_eq!(protected_id("_c_€€€€€€€€€€€€-a165-70867728950e-x"), None);
        assert_eq!(protected_id(""), None);
        assert_eq!(strip_protected("lock-0000000001"), "lock-0000000001");
        // Curator writes uppercase-free ids, but Java's UUID parser accepts both cases.
        let upper = name.to_uppercase().replacen("_C_", "_c_", 1);
        assert!(protected_id(&upper).is_some());
    }

    /// CURATOR-498: a node carrying our uuid but owned by another session (one this client
    /// had before a renewal) is never taken for ours; it is deleted instead.
    #[tokio::test]
    async fn another_sessions_node_is_not_ours() {
        let server = zk_testserver::TestServer::builder().start().await.unwrap();
        let addr = server.addr().to_string();
        let (ours, old) = (
            Client::connect(&addr).await.unwrap(),
            Client::connect(&addr).await.unwrap(),
        );
        ours.create("/p", b"", &CreateOptions::default())
            .await
            .unwrap();
        let uuid = random_uuid();
        let (_, full) = protected_path("/p/member", &uuid).unwrap();
        let eph = CreateOptions::new(crate::CreateMode::Ephemeral);
        old.create(&full, b"", &eph).await.unwrap();
        let mut backoff = crate::RetryPolicy::never().start();
        let lookup = ours
            .find_protected_node("/p", &uuid, &eph, &mut backoff)
            .await;
        assert!(matches!(lookup, Lookup::Foreign));
        assert_eq!(ours.exists(&full).await, Ok(None), "deleted");

        // A persistent node has no owner: it is found.
        let persistent = CreateOptions::default();
        old.create(&full, b"", &persistent).await.unwrap();
        let lookup = ours
            .find_protected_node("/p", &uuid, &persistent, &mut backoff)
            .await;
        assert!(matches!(lookup, Lookup::Found((ref path, _)) if *path == full));
        // And our own ephemeral is found.
        ours.delete(&full, None).await.unwrap();
        ours.create(&full, b"", &eph).await.unwrap();
        let lookup = ours
            .find_protected_node("/p", &uuid, &eph, &mut backoff)
            .await;
        assert!(matches!(lookup, Lookup::Found((ref path, _)) if *path == full));
        // A missing parent is an error of the lookup.
        let lookup = ours
            .find_protected_node("/none", &uuid, &eph, &mut backoff)
            .await;
        assert!(matches!(lookup, Lookup::Failed(Error::NoNode)));
    }

    #[test]
    fn paths() {
        let (parent, full) = protected_path("/a/b/lock-", "u").unwrap();
        assert_eq!(
            (parent.as_str(), full.as_str()),
            ("/a/b", "/a/b/_c_u-lock-")
        );
        let (parent, full) = protected_path("/x", "u").unwrap();
        assert_eq!((parent.as_str(), full.as_str()), ("/", "/_c_u-x"));
        let (parent, full) = protected_path("/a/", "u").unwrap();
        assert_eq!((parent.as_str(), full.as_str()), ("/a", "/a/_c_u-"));
        assert!(protected_path("relative", "u").is_none());
    }
}
