//! The peer wire format: one [`Message`] per frame body (a driver adds the length prefix).
//!
//! Built on jute primitives; tags reuse ZooKeeper's `QuorumPacket` type codes where a message
//! has one (PROPOSAL 2, ACK 3, COMMIT 4, PING 5, SYNC 7, NEWLEADER 10, FOLLOWERINFO 11,
//! UPTODATE 12, DIFF 13, TRUNC 14, SNAP 15, LEADERINFO 17, ACKEPOCH 18, REQUEST 1) and use
//! 100+ for the rest; the bodies are our own. Decoding never panics and never allocates more
//! than the input can back: every count is checked against the bytes left.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_proto::{DecodeError, DecodeResult, Jute};

use super::{Message, PeerState, Snapshot, SyncMode, Vote};
use crate::storage::codec::{decode_logged, encode_logged};
use crate::txn::LoggedTxn;

const REQUEST: u8 = 1;
const PROPOSAL: u8 = 2;
const ACK: u8 = 3;
const COMMIT: u8 = 4;
const PING: u8 = 5;
const SYNC_REQUEST: u8 = 7;
const NEWLEADER: u8 = 10;
const FOLLOWERINFO: u8 = 11;
const UPTODATE: u8 = 12;
const DIFF: u8 = 13;
const TRUNC: u8 = 14;
const SNAP: u8 = 15;
const LEADERINFO: u8 = 17;
const ACKEPOCH: u8 = 18;
const NOTIFICATION: u8 = 100;
const ACK_NEWLEADER: u8 = 101;
const PING_REPLY: u8 = 102;
const SYNC_REPLY: u8 = 103;

fn put_u32(v: u32, buf: &mut BytesMut) {
    (v as i32).encode(buf);
}

fn put_u64(v: u64, buf: &mut BytesMut) {
    (v as i64).encode(buf);
}

fn get_u32(buf: &mut &[u8]) -> DecodeResult<u32> {
    Ok(i32::decode(buf)? as u32)
}

fn get_u64(buf: &mut &[u8]) -> DecodeResult<u64> {
    Ok(i64::decode(buf)? as u64)
}

fn get_u8(buf: &mut &[u8]) -> DecodeResult<u8> {
    if buf.is_empty() {
        return Err(DecodeError::Truncated {
            needed: 1,
            remaining: 0,
        });
    }
    Ok(buf.get_u8())
}

/// A count of items each at least `min_size` bytes long, checked against the input.
fn get_count(buf: &mut &[u8], min_size: usize) -> DecodeResult<usize> {
    let n = i32::decode(buf)?;
    if n < 0 {
        return Err(DecodeError::NegativeLength(n));
    }
    let n = n as usize;
    let needed = n.saturating_mul(min_size);
    if needed > buf.len() {
        return Err(DecodeError::Truncated {
            needed,
            remaining: buf.len(),
        });
    }
    Ok(n)
}

/// An entry: its cxid, then the log record payload (which does not keep the cxid).
fn put_entry(entry: &LoggedTxn, buf: &mut BytesMut) {
    entry.cxid.encode(buf);
    let mut body = BytesMut::new();
    encode_logged(entry, &mut body);
    body.freeze().encode(buf);
}

fn get_entry(buf: &mut &[u8]) -> DecodeResult<LoggedTxn> {
    let cxid = i32::decode(buf)?;
    let body = Bytes::decode(buf)?;
    Ok(LoggedTxn {
        cxid,
        ..decode_logged(&body)?
    })
}

fn put_entries(entries: &[LoggedTxn], buf: &mut BytesMut) {
    (entries.len() as i32).encode(buf);
    for e in entries {
        put_entry(e, buf);
    }
}

fn get_entries(buf: &mut &[u8]) -> DecodeResult<Vec<LoggedTxn>> {
    let n = get_count(buf, 4)?;
    (0..n).map(|_| get_entry(buf)).collect()
}

fn state_code(state: PeerState) -> u8 {
    match state {
        PeerState::Looking => 0,
        PeerState::Following => 1,
        PeerState::Leading => 2,
        PeerState::Observing => 3,
    }
}

fn state_from(code: u8) -> DecodeResult<PeerState> {
    Ok(match code {
        0 => PeerState::Looking,
        1 => PeerState::Following,
        2 => PeerState::Leading,
        3 => PeerState::Observing,
        other => return Err(DecodeError::UnknownOpCode(other.into())),
    })
}

/// Appends `msg`'s frame body to `buf`.
pub fn encode(msg: &Message, buf: &mut BytesMut) {
    match msg {
        Message::Notification {
            state,
            vote,
            round,
            config,
        } => {
            buf.put_u8(NOTIFICATION);
            buf.put_u8(state_code(*state));
            put_u32(vote.epoch, buf);
            vote.zxid.encode(buf);
            put_u64(vote.leader, buf);
            put_u64(*round, buf);
            config.encode(buf);
        }
        Message::FollowerInfo {
            attempt,
            accepted_epoch,
        } => {
            buf.put_u8(FOLLOWERINFO);
            put_u64(*attempt, buf);
            put_u32(*accepted_epoch, buf);
        }
        Message::LeaderInfo { attempt, epoch } => {
            buf.put_u8(LEADERINFO);
            put_u64(*attempt, buf);
            put_u32(*epoch, buf);
        }
        Message::AckEpoch {
            epoch,
            counts,
            current_epoch,
            last_zxid,
        } => {
            buf.put_u8(ACKEPOCH);
            put_u32(*epoch, buf);
            counts.encode(buf);
            put_u32(*current_epoch, buf);
            last_zxid.encode(buf);
        }
        Message::Sync {
            epoch,
            mode,
            snapshot,
            config,
            entries,
        } => {
            match mode {
                SyncMode::Diff => buf.put_u8(DIFF),
                SyncMode::Trunc { to } => {
                    buf.put_u8(TRUNC);
                    to.encode(buf);
                }
                SyncMode::Snap => buf.put_u8(SNAP),
            }
            put_u32(*epoch, buf);
            put_entries(entries, buf);
            if *mode == SyncMode::Snap {
                snapshot.is_some().encode(buf);
                if let Some(s) = snapshot {
                    s.zxid.encode(buf);
                    s.data.encode(buf);
                }
                config.encode(buf);
            }
        }
        Message::NewLeader {
            epoch,
            last_zxid,
            config_version,
        } => {
            buf.put_u8(NEWLEADER);
            put_u32(*epoch, buf);
            last_zxid.encode(buf);
            config_version.encode(buf);
        }
        Message::AckNewLeader { epoch } => {
            buf.put_u8(ACK_NEWLEADER);
            put_u32(*epoch, buf);
        }
        Message::UpToDate { epoch, committed } => {
            buf.put_u8(UPTODATE);
            put_u32(*epoch, buf);
            committed.encode(buf);
        }
        Message::Proposal { epoch, entry } => {
            buf.put_u8(PROPOSAL);
            put_u32(*epoch, buf);
            put_entry(entry, buf);
        }
        Message::Ack { epoch, zxid } => {
            buf.put_u8(ACK);
            put_u32(*epoch, buf);
            zxid.encode(buf);
        }
        Message::Commit { epoch, zxid } => {
            buf.put_u8(COMMIT);
            put_u32(*epoch, buf);
            zxid.encode(buf);
        }
        Message::Request {
            epoch,
            session_id,
            payload,
        } => {
            buf.put_u8(REQUEST);
            put_u32(*epoch, buf);
            session_id.encode(buf);
            payload.encode(buf);
        }
        Message::SyncRequest { epoch, id } => {
            buf.put_u8(SYNC_REQUEST);
            put_u32(*epoch, buf);
            put_u64(*id, buf);
        }
        Message::SyncReply { epoch, id, zxid } => {
            buf.put_u8(SYNC_REPLY);
            put_u32(*epoch, buf);
            put_u64(*id, buf);
            zxid.encode(buf);
        }
        Message::Ping { epoch, seq } => {
            buf.put_u8(PING);
            put_u32(*epoch, buf);
            put_u64(*seq, buf);
        }
        Message::PingReply {
            epoch,
            seq,
            touches,
        } => {
            buf.put_u8(PING_REPLY);
            put_u32(*epoch, buf);
            put_u64(*seq, buf);
            (touches.len() as i32).encode(buf);
            for t in touches {
                t.encode(buf);
            }
        }
    }
}

/// Decodes one whole frame body (trailing bytes are an error).
pub fn decode(mut body: &[u8]) -> DecodeResult<Message> {
    let buf = &mut body;
    let tag = get_u8(buf)?;
    let msg = match tag {
        NOTIFICATION => {
            let state = state_from(get_u8(buf)?)?;
            let vote = Vote {
                epoch: get_u32(buf)?,
                zxid: i64::decode(buf)?,
                leader: get_u64(buf)?,
            };
            Message::Notification {
                state,
                vote,
                round: get_u64(buf)?,
                config: Option::<String>::decode(buf)?,
            }
        }
        FOLLOWERINFO => Message::FollowerInfo {
            attempt: get_u64(buf)?,
            accepted_epoch: get_u32(buf)?,
        },
        LEADERINFO => Message::LeaderInfo {
            attempt: get_u64(buf)?,
            epoch: get_u32(buf)?,
        },
        ACKEPOCH => Message::AckEpoch {
            epoch: get_u32(buf)?,
            counts: bool::decode(buf)?,
            current_epoch: get_u32(buf)?,
            last_zxid: i64::decode(buf)?,
        },
        DIFF | TRUNC | SNAP => {
            let mode = match tag {
                DIFF => SyncMode::Diff,
                TRUNC => SyncMode::Trunc {
                    to: i64::decode(buf)?,
                },
                _ => SyncMode::Snap,
            };
            let epoch = get_u32(buf)?;
            let entries = get_entries(buf)?;
            let (snapshot, config) = if mode == SyncMode::Snap {
                let snapshot = if bool::decode(buf)? {
                    Some(Snapshot {
                        zxid: i64::decode(buf)?,
                        data: Bytes::decode(buf)?,
                    })
                } else {
                    None
                };
                (snapshot, Option::<String>::decode(buf)?)
            } else {
                (None, None)
            };
            Message::Sync {
                epoch,
                mode,
                snapshot,
                config,
                entries,
            }
        }
        NEWLEADER => Message::NewLeader {
            epoch: get_u32(buf)?,
            last_zxid: i64::decode(buf)?,
            config_version: i64::decode(buf)?,
        },
        ACK_NEWLEADER => Message::AckNewLeader {
            epoch: get_u32(buf)?,
        },
        UPTODATE => Message::UpToDate {
            epoch: get_u32(buf)?,
            committed: i64::decode(buf)?,
        },
        PROPOSAL => Message::Proposal {
            epoch: get_u32(buf)?,
            entry: get_entry(buf)?,
        },
        ACK => Message::Ack {
            epoch: get_u32(buf)?,
            zxid: i64::decode(buf)?,
        },
        COMMIT => Message::Commit {
            epoch: get_u32(buf)?,
            zxid: i64::decode(buf)?,
        },
        REQUEST => Message::Request {
            epoch: get_u32(buf)?,
            session_id: i64::decode(buf)?,
            payload: Bytes::decode(buf)?,
        },
        SYNC_REQUEST => Message::SyncRequest {
            epoch: get_u32(buf)?,
            id: get_u64(buf)?,
        },
        SYNC_REPLY => Message::SyncReply {
            epoch: get_u32(buf)?,
            id: get_u64(buf)?,
            zxid: i64::decode(buf)?,
        },
        PING => Message::Ping {
            epoch: get_u32(buf)?,
            seq: get_u64(buf)?,
        },
        PING_REPLY => {
            let epoch = get_u32(buf)?;
            let seq = get_u64(buf)?;
            let n = get_count(buf, 8)?;
            let touches = (0..n)
                .map(|_| i64::decode(buf))
                .collect::<DecodeResult<Vec<i64>>>()?;
            Message::PingReply {
                epoch,
                seq,
                touches,
            }
        }
        other => return Err(DecodeError::UnknownOpCode(other.into())),
    };
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::txn::Txn;

    fn entry(zxid: i64) -> LoggedTxn {
        LoggedTxn {
            zxid,
            time: 1_700_000_000_000,
            session_id: 0x1234,
            cxid: 42,
            txn: Txn::Multi(vec![
                Txn::Create {
                    path: "/a".into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: zk_proto::Acl::open_unsafe(),
                    ephemeral_owner: 0x1234,
                    parent_cversion: 3,
                },
                Txn::CloseSession { session_id: 7 },
            ]),
        }
    }

    fn every_message() -> Vec<Message> {
        let vote = Vote {
            epoch: u32::MAX,
            zxid: -1,
            leader: u64::MAX,
        };
        let mut all = vec![
            Message::FollowerInfo {
                attempt: 9,
                accepted_epoch: 3,
            },
            Message::LeaderInfo {
                attempt: 9,
                epoch: 4,
            },
            Message::AckEpoch {
                epoch: 4,
                counts: false,
                current_epoch: 3,
                last_zxid: 0x3_0000_0005,
            },
            Message::NewLeader {
                epoch: 4,
                last_zxid: 0x3_0000_0005,
                config_version: 0x4_0000_0000,
            },
            Message::AckNewLeader { epoch: 4 },
            Message::UpToDate {
                epoch: 4,
                committed: 0x3_0000_0005,
            },
            Message::Proposal {
                epoch: 4,
                entry: entry(0x4_0000_0001),
            },
            Message::Ack {
                epoch: 4,
                zxid: 0x4_0000_0001,
            },
            Message::Commit {
                epoch: 4,
                zxid: 0x4_0000_0001,
            },
            Message::Request {
                epoch: 4,
                session_id: 0x1234,
                payload: Bytes::from_static(b"\x00\x01request"),
            },
            Message::SyncRequest { epoch: 4, id: 77 },
            Message::SyncReply {
                epoch: 4,
                id: 77,
                zxid: 0x4_0000_0001,
            },
            Message::Ping { epoch: 4, seq: 12 },
            Message::PingReply {
                epoch: 4,
                seq: 12,
                touches: vec![1, -2, i64::MAX],
            },
        ];
        for state in [
            PeerState::Looking,
            PeerState::Following,
            PeerState::Leading,
            PeerState::Observing,
        ] {
            all.push(Message::Notification {
                state,
                vote,
                round: 5,
                config: (state == PeerState::Leading).then(|| "server.1=h:1:2\nversion=0".into()),
            });
        }
        for mode in [
            SyncMode::Diff,
            SyncMode::Trunc { to: 0x3_0000_0002 },
            SyncMode::Snap,
        ] {
            let snap = mode == SyncMode::Snap;
            all.push(Message::Sync {
                epoch: 4,
                mode,
                snapshot: snap.then(|| Snapshot {
                    zxid: 0x3_0000_0002,
                    data: Bytes::from_static(b"state"),
                }),
                config: snap.then(|| "server.1=h:1:2\nversion=0".into()),
                entries: vec![entry(0x3_0000_0003), entry(0x3_0000_0004)],
            });
            if snap {
                all.push(Message::Sync {
                    epoch: 4,
                    mode,
                    snapshot: None,
                    config: None,
                    entries: Vec::new(),
                });
            }
        }
        all
    }

    #[test]
    fn every_message_round_trips_and_rejects_truncation_and_trailing_bytes() {
        for msg in every_message() {
            let mut buf = BytesMut::new();
            encode(&msg, &mut buf);
            assert_eq!(decode(&buf), Ok(msg.clone()));
            for cut in 0..buf.len() {
                assert!(decode(&buf[..cut]).is_err(), "{msg:?} cut at {cut}");
            }
            buf.put_u8(0);
            assert_eq!(decode(&buf), Err(DecodeError::TrailingBytes(1)));
        }
        assert_eq!(decode(&[200]), Err(DecodeError::UnknownOpCode(200)));
    }

    #[test]
    fn a_huge_count_allocates_nothing() {
        let mut buf = BytesMut::new();
        buf.put_u8(PING_REPLY);
        buf.put_i32(4);
        buf.put_i64(12);
        buf.put_i32(i32::MAX);
        assert!(matches!(decode(&buf), Err(DecodeError::Truncated { .. })));
        let mut buf = BytesMut::new();
        buf.put_u8(DIFF);
        buf.put_i32(4);
        buf.put_i32(-5);
        assert_eq!(decode(&buf), Err(DecodeError::NegativeLength(-5)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(
            pick in 0usize..22,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        ) {
            let all = every_message();
            let mut buf = BytesMut::new();
            encode(&all[pick % all.len()], &mut buf);
            let mut bytes = buf.to_vec();
            for (at, x) in flips {
                let n = bytes.len();
                bytes[at % n] ^= x;
            }
            if let Ok(msg) = decode(&bytes) {
                let mut again = BytesMut::new();
                encode(&msg, &mut again);
                prop_assert_eq!(decode(&again), Ok(msg));
            }
        }
    }
}
