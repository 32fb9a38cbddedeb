//! Node kinds, encoded in `ephemeralOwner` as ZooKeeper's `EphemeralType` does.

use zk_proto::{CONTAINER_EPHEMERAL_OWNER, MAX_TTL, TTL_EPHEMERAL_OWNER_MASK};

/// What `ephemeralOwner` says about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A plain persistent node (owner 0).
    Persistent,
    /// An ephemeral node owned by a session.
    Ephemeral(i64),
    /// A container (`i64::MIN`).
    Container,
    /// A TTL node: high byte `0xFF`, extended type 0, low 40 bits the TTL in ms.
    Ttl(i64),
}

impl NodeKind {
    /// Decodes an `ephemeralOwner`.
    pub fn of(owner: i64) -> NodeKind {
        if owner == 0 {
            NodeKind::Persistent
        } else if owner == CONTAINER_EPHEMERAL_OWNER {
            NodeKind::Container
        } else if owner & TTL_EPHEMERAL_OWNER_MASK == TTL_EPHEMERAL_OWNER_MASK {
            NodeKind::Ttl(owner & MAX_TTL)
        } else {
            NodeKind::Ephemeral(owner)
        }
    }

    /// The `ephemeralOwner` of a TTL node.
    pub fn ttl_owner(ttl: i64) -> i64 {
        TTL_EPHEMERAL_OWNER_MASK | (ttl & MAX_TTL)
    }

    /// True for session-owned nodes, which may not have children.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, NodeKind::Ephemeral(_))
    }
}
