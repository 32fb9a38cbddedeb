//! Multi-node helpers: `create_all` (mkdir -p) and `delete_all` (recursive delete).

use std::future::Future;

use crate::error::{ArgumentError, Error, Result};
use crate::ops::CreateOptions;
use crate::Client;

impl Client {
    /// Creates `path` and every missing ancestor (like `mkdir -p`), tolerating nodes that
    /// already exist. Ancestors are persistent with the ACL of `options`; the last node gets
    /// `data` and `options`. All creates are pipelined in one round trip.
    pub fn create_all(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let mut replies = Vec::new();
        let mut ancestor = String::new();
        let parent_options =
            CreateOptions::new(crate::CreateMode::Persistent).with_acl(options.acl().to_vec());
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let invalid = self.path(path).err();
        if invalid.is_none() {
            for (i, component) in components.iter().enumerate() {
                ancestor.push('/');
                ancestor.push_str(component);
                if i + 1 == components.len() {
                    replies.push(self.create(&ancestor, data, options));
                } else {
                    replies.push(self.create(&ancestor, &[], &parent_options));
                }
            }
        }
        async move {
            if let Some(e) = invalid {
                return Err(e);
            }
            for reply in replies {
                match reply.await {
                    Ok(_) | Err(Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
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
