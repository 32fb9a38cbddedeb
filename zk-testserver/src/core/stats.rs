//! Counters for the four-letter words.

use zk_proto::OpCode;

/// Server-wide counters.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Txns applied.
    pub txns: u64,
}

/// Per-connection counters.
#[derive(Debug, Clone)]
pub struct ConnStats {
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// When the connection opened (server clock, ms).
    pub established: i64,
    /// Last request time.
    pub last_activity: i64,
    /// The last request's xid.
    pub last_cxid: i32,
    /// The zxid of the last reply.
    pub last_zxid: i64,
    /// The last request's op.
    pub last_op: OpCode,
}

impl ConnStats {
    /// Counters for a connection opened at `now`.
    pub fn new(now: i64) -> ConnStats {
        ConnStats {
            received: 0,
            sent: 0,
            established: now,
            last_activity: now,
            last_cxid: -1,
            last_zxid: -1,
            last_op: OpCode::Notification,
        }
    }
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats::new(0)
    }
}

/// ZooKeeper's four-letter abbreviation of an op (`lop` in `cons`).
pub fn op_abbrev(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetData => "SETD",
        OpCode::GetAcl => "GETA",
        OpCode::SetAcl => "SETA",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::Sync => "SYNC",
        OpCode::Ping => "PING",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::SetWatches | OpCode::SetWatches2 => "SETW",
        OpCode::CloseSession => "CLOS",
        OpCode::Auth => "AUTH",
        _ => "NA",
    }
}
