//! Counters for the four-letter words.

use zk_proto::OpCode;

use super::ServerCore;
use crate::watch::ConnId;

/// Request latencies in ms (from reading a request to releasing its reply, after the txn log
/// write), as ZooKeeper's `ServerStats` and `ServerCnxn` keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// The smallest (0 before the first request).
    pub min: i64,
    /// The largest.
    pub max: i64,
    /// The sum.
    pub total: i64,
    /// How many requests.
    pub count: u64,
}

impl Latency {
    /// Adds one request's latency.
    pub fn record(&mut self, ms: i64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.total = self.total.saturating_add(ms);
        self.count += 1;
    }

    /// The mean (0 before the first request).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

/// Server-wide counters.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// Txns applied.
    pub txns: u64,
    /// Request latencies.
    pub latency: Latency,
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
    /// Request latencies on this connection.
    pub latency: Latency,
    /// The last request's latency.
    pub last_latency: i64,
    /// When the last reply was released (server clock, ms).
    pub last_response: i64,
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
            latency: Latency::default(),
            last_latency: 0,
            last_response: now,
        }
    }
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats::new(0)
    }
}

impl ServerCore {
    /// Records that a request of `conn` was answered `ms` after it was read.
    pub fn record_latency(&mut self, conn: ConnId, ms: i64, now: i64) {
        self.stats.latency.record(ms);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.latency.record(ms);
            c.stats.last_latency = ms;
            c.stats.last_response = now;
        }
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
        OpCode::CreateSession => "SESS",
        _ => "NA",
    }
}
