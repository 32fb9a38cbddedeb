//! Binary encodings of logged txns and snapshots (our own formats, built on jute primitives).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_proto::{Acl, DecodeError, DecodeResult, ErrorCode, Jute, StatPersisted};

use crate::tree::{DataTree, Node};
use crate::txn::{LoggedTxn, Txn};

/// CRC-32 (IEEE polynomial, reflected), as zlib computes it; `crc32fast` uses the CPU's
/// carry-less multiply where there is one (the txn log checksums every write).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

fn encode_txn(txn: &Txn, buf: &mut BytesMut) {
    match txn {
        Txn::CreateSession {
            session_id,
            timeout_ms,
        } => {
            buf.put_u8(1);
            session_id.encode(buf);
            timeout_ms.encode(buf);
        }
        Txn::CloseSession { session_id } => {
            buf.put_u8(2);
            session_id.encode(buf);
        }
        Txn::Create {
            path,
            data,
            acl,
            ephemeral_owner,
            parent_cversion,
        } => {
            buf.put_u8(3);
            path.encode(buf);
            data.encode(buf);
            acl.encode(buf);
            ephemeral_owner.encode(buf);
            parent_cversion.encode(buf);
        }
        Txn::Delete { path } => {
            buf.put_u8(4);
            path.encode(buf);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            buf.put_u8(5);
            path.encode(buf);
            data.encode(buf);
            version.encode(buf);
        }
        Txn::SetAcl { path, acl, version } => {
            buf.put_u8(6);
            path.encode(buf);
            acl.encode(buf);
            version.encode(buf);
        }
        Txn::Check { path, version } => {
            buf.put_u8(7);
            path.encode(buf);
            version.encode(buf);
        }
        Txn::Multi(ops) => {
            buf.put_u8(8);
            (ops.len() as i32).encode(buf);
            for op in ops {
                encode_txn(op, buf);
            }
        }
        Txn::Error(code) => {
            buf.put_u8(9);
            code.encode(buf);
        }
    }
}

fn decode_txn(buf: &mut &[u8], depth: u8) -> DecodeResult<Txn> {
    if !buf.has_remaining() {
        return Err(DecodeError::Truncated {
            needed: 1,
            remaining: 0,
        });
    }
    Ok(match buf.get_u8() {
        1 => Txn::CreateSession {
            session_id: Jute::decode(buf)?,
            timeout_ms: Jute::decode(buf)?,
        },
        2 => Txn::CloseSession {
            session_id: Jute::decode(buf)?,
        },
        3 => Txn::Create {
            path: Jute::decode(buf)?,
            data: Jute::decode(buf)?,
            acl: Jute::decode(buf)?,
            ephemeral_owner: Jute::decode(buf)?,
            parent_cversion: Jute::decode(buf)?,
        },
        4 => Txn::Delete {
            path: Jute::decode(buf)?,
        },
        5 => Txn::SetData {
            path: Jute::decode(buf)?,
            data: Jute::decode(buf)?,
            version: Jute::decode(buf)?,
        },
        6 => Txn::SetAcl {
            path: Jute::decode(buf)?,
            acl: Jute::decode(buf)?,
            version: Jute::decode(buf)?,
        },
        7 => Txn::Check {
            path: Jute::decode(buf)?,
            version: Jute::decode(buf)?,
        },
        8 if depth == 0 => {
            let n = i32::decode(buf)?;
            if n < 0 || n as usize > buf.remaining() {
                return Err(DecodeError::NegativeLength(n));
            }
            let mut ops = Vec::with_capacity(n as usize);
            for _ in 0..n {
                ops.push(decode_txn(buf, depth + 1)?);
            }
            Txn::Multi(ops)
        }
        9 => Txn::Error(ErrorCode::decode(buf)?),
        other => return Err(DecodeError::UnexpectedOpCode(i32::from(other))),
    })
}

/// Encodes a logged txn (the payload of one log record).
pub fn encode_logged(txn: &LoggedTxn, buf: &mut BytesMut) {
    txn.zxid.encode(buf);
    txn.time.encode(buf);
    txn.session_id.encode(buf);
    encode_txn(&txn.txn, buf);
}

/// Decodes a whole log record payload.
pub fn decode_logged(mut payload: &[u8]) -> DecodeResult<LoggedTxn> {
    let buf = &mut payload;
    let zxid = i64::decode(buf)?;
    let time = i64::decode(buf)?;
    let session_id = i64::decode(buf)?;
    let txn = decode_txn(buf, 0)?;
    if buf.has_remaining() {
        return Err(DecodeError::TrailingBytes(buf.remaining()));
    }
    // The cxid only matters to a live member answering its clients: not kept on disk.
    Ok(LoggedTxn {
        zxid,
        time,
        session_id,
        cxid: 0,
        txn,
    })
}

/// Appends sessions and nodes (pre-order) to a snapshot body.
pub fn encode_snapshot(tree: &DataTree, sessions: &[(i64, i32)], buf: &mut BytesMut) {
    (sessions.len() as i32).encode(buf);
    for (id, timeout) in sessions {
        id.encode(buf);
        timeout.encode(buf);
    }
    let paths = tree.preorder();
    (paths.len() as i32).encode(buf);
    for path in paths {
        let Some(node) = tree.get(path) else { continue };
        path.to_string().encode(buf);
        node.data.encode(buf);
        node.acl.encode(buf);
        node.stat.encode(buf);
    }
}

/// Decodes the sessions at the start of a snapshot body, leaving `buf` at the tree.
pub fn decode_snapshot_sessions(buf: &mut &[u8]) -> DecodeResult<Vec<(i64, i32)>> {
    let n = i32::decode(buf)?.max(0) as usize;
    // Each session takes 12 bytes: a count the input cannot back is refused.
    if n.saturating_mul(12) > buf.remaining() {
        return Err(DecodeError::Truncated {
            needed: n.saturating_mul(12),
            remaining: buf.remaining(),
        });
    }
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        sessions.push((i64::decode(buf)?, i32::decode(buf)?));
    }
    Ok(sessions)
}

/// Decodes what [`encode_snapshot`] wrote.
pub fn decode_snapshot(mut body: &[u8]) -> DecodeResult<(DataTree, Vec<(i64, i32)>)> {
    let buf = &mut body;
    let sessions = decode_snapshot_sessions(buf)?;
    let count = i32::decode(buf)?.max(0);
    let mut tree = DataTree::empty();
    for _ in 0..count {
        let path = String::decode(buf)?;
        let data = Option::<Bytes>::decode(buf)?;
        let acl = Vec::<Acl>::decode(buf)?;
        let stat = StatPersisted::decode(buf)?;
        tree.insert_raw(
            &path,
            Node {
                data,
                acl,
                stat,
                children: Default::default(),
            },
        );
    }
    if buf.has_remaining() {
        return Err(DecodeError::TrailingBytes(buf.remaining()));
    }
    Ok((tree, sessions))
}
