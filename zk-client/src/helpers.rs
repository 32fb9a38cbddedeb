//! Multi-node helpers: `create_all` (mkdir -p) and `delete_all` (recursive delete).

use std::future::Future;

use crate::error::{ArgumentError, Error, Result};
use crate::ops::CreateOptions;
use crate::Client;

impl Client {
    /// Creates `path` and every missing ancestor (like `mkdir -p`), tolerating nodes that
    /// already exist, and returns the path of the last node: the one created (with its
    /// sequence suffix for sequential modes), or `path` if it already existed. Ancestors
    /// are persistent with the ACL of `options`; the last node gets `data` and `options`.
    /// All creates are pipelined in one round trip.
    ///
    /// Errors: those of [`Client::create`] except [`Error::NodeExists`].
    pub fn create_all(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<String>> + Send + 'static {
        let parent_options =
            CreateOptions::new(crate::CreateMode::Persistent).with_acl(options.acl().to_vec());
        let mut ancestors = Vec::new();
        // An invalid path creates no ancestor; the leaf's create reports why.
        if crate::hosts::check_path(path, options.mode().is_sequential()).is_ok() {
            let parent = path.rfind('/').map_or("", |slash| &path[..slash]);
            let mut ancestor = String::new();
            for component in parent.split('/').filter(|c| !c.is_empty()) {
                ancestor.push('/');
                ancestor.push_str(component);
                ancestors.push(self.create(&ancestor, &[], &parent_options));
            }
        }
        let leaf = self.create(path, data, options);
        let path = path.to_string();
        async move {
            for reply in ancestors {
                match reply.await {
                    Ok(_) | Err(Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            match leaf.await {
                Ok((created, _)) => Ok(created),
                Err(Error::NodeExists) => Ok(path),
                Err(e) => Err(e),
            }
        }
    }

    /// Deletes `path` and everything below it, tolerating nodes that disappear meanwhile.
    /// Lists level by level, then deletes deepest first, pipelined. Retries a few times if
    /// children appear concurrently ([`Error::NotEmpty`]).
    pub fn delete_all(&self, path: &str) -> impl Future<Output = Result<()>> + Send + 'static {
        let client = self.clone();
        let path = path.to_string();
        async move {
            client.path(&path)?;
            if path == "/" {
                return Err(ArgumentError::RootNode.into());
            }
            let mut attempts = 0;
            loop {
                attempts += 1;
                match client.delete_tree_once(&path).await {
                    Err(Error::NotEmpty) if attempts < 5 => continue,
                    other => return other,
                }
            }
        }
    }

    async fn delete_tree_once(&self, root: &str) -> Result<()> {
        let mut nodes = vec![root.to_string()];
        let mut level = vec![root.to_string()];
        while !level.is_empty() {
            let listings: Vec<_> = level.iter().map(|p| self.get_children(p)).collect();
            let mut next = Vec::new();
            for (parent, listing) in level.iter().zip(listings) {
                match listing.await {
                    Ok(children) => {
                        for child in children {
                            next.push(zk_proto::path::join(parent, &child));
                        }
                    }
                    Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
            }
            nodes.extend(next.iter().cloned());
            level = next;
        }
        let deletes: Vec<_> = nodes.iter().rev().map(|p| self.delete(p, None)).collect();
        for delete in deletes {
            match delete.await {
                Ok(()) | Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
