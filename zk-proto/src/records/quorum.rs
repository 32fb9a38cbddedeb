//! Quorum records (`org.apache.zookeeper.server.quorum`), as real ZooKeeper peers exchange them.

use bytes::Bytes;

use crate::codec::records;
use crate::records::data::Id;

records! {
    /// What a learner tells the leader about itself.
    LearnerInfo {
        /// The learner's server id.
        serverid: i64,
        /// Protocol version (0x10000).
        protocol_version: i32,
        /// The learner's config version.
        config_version: i64,
    }

    /// A message between quorum peers.
    QuorumPacket {
        /// REQUEST, PROPOSAL, ACK, COMMIT, PING, ...
        packet_type: i32,
        /// The zxid concerned.
        zxid: i64,
        /// The payload.
        data: Option<Bytes>,
        /// Auth info of a forwarded request.
        authinfo: Vec<Id>,
    }

    /// Quorum SASL authentication.
    QuorumAuthPacket {
        /// Magic number.
        magic: i64,
        /// Status.
        status: i32,
        /// The token.
        token: Option<Bytes>,
    }
}
