//! Item names and item bytes, as Curator's `DistributedQueue` family writes them.
//!
//! Names (`P/<name>`, all PERSISTENT_SEQUENTIAL, `<s>` = the server's 10-digit suffix):
//! - FIFO: `queue-<s>`, taken in name order.
//! - priority: `queue-<sign><8 hex digits><s>`: `<sign>` is `1` for priorities ≥ 0 and `0`
//!   for negative ones, the hex digits are the priority as an unsigned 32-bit number, so
//!   name order is priority order (lower first), then arrival order.
//! - delay: `queue-|<hex epoch ms>|<s>` (at least 8 hex digits), taken once the epoch has
//!   passed, earliest first.
//!
//! Bytes (Curator's `ItemSerializer` for a `MultiItem`): the int32 `0x00010001`, then per
//! item the byte `1`, an int32 length and the item, and finally the byte `2`. A node whose
//! data is not in this format is delivered as one raw item, so plain producers work too.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes};

/// The prefix of every item name.
pub(crate) const PREFIX: &str = "queue-";
const VERSION: i32 = 0x0001_0001;
const ITEM: u8 = 1;
const END: u8 = 2;
const SEPARATOR: char = '|';

/// How a queue names and orders its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fifo,
    Priority,
    Delay,
}

/// The name prefix (before the server's suffix) of an item with `priority`.
pub(crate) fn priority_prefix(priority: i32) -> String {
    let sign = if priority >= 0 { '1' } else { '0' };
    format!("{PREFIX}{sign}{:08X}", priority as u32)
}

/// The name prefix of an item due at `epoch_ms`.
pub(crate) fn delay_prefix(epoch_ms: u64) -> String {
    format!("{PREFIX}{SEPARATOR}{epoch_ms:08X}{SEPARATOR}")
}

/// The epoch (ms) of a delay-queue item name; 0 (due now) if it has none, as in Curator.
pub(crate) fn delay_epoch(name: &str) -> u64 {
    let Some(end) = name.rfind(SEPARATOR) else {
        return 0;
    };
    let Some(start) = name[..end].rfind(SEPARATOR) else {
        return 0;
    };
    u64::from_str_radix(&name[start + 1..end], 16).unwrap_or(0)
}

/// Milliseconds since the Unix epoch of `t` (0 before it).
pub(crate) fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sorts item names in taking order for `kind`.
pub(crate) fn sort(kind: Kind, names: &mut [String]) {
    match kind {
        Kind::Fifo | Kind::Priority => names.sort(),
        Kind::Delay => names.sort_by(|a, b| delay_epoch(a).cmp(&delay_epoch(b)).then(a.cmp(b))),
    }
}

/// The name prefix to re-queue an item under, keeping its priority or due time (the old
/// name minus its 10-digit suffix, so names never grow: CURATOR-56/224).
pub(crate) fn requeue_prefix(name: &str) -> &str {
    if name.len() >= PREFIX.len() + 10
        && name.is_char_boundary(name.len() - 10)
        && name[name.len() - 10..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-')
    {
        &name[..name.len() - 10]
    } else {
        PREFIX
    }
}

/// Curator's bytes for one item.
pub(crate) fn encode(item: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(item.len() + 10);
    out.put_i32(VERSION);
    out.put_u8(ITEM);
    out.put_i32(item.len() as i32);
    out.put_slice(item);
    out.put_u8(END);
    out
}

/// The items in a node's data (see the module docs); never panics on any input.
pub(crate) fn decode(data: &Bytes) -> Vec<Bytes> {
    parse(data).unwrap_or_else(|| vec![data.clone()])
}

fn parse(data: &Bytes) -> Option<Vec<Bytes>> {
    let mut buf = data.clone();
    if buf.remaining() < 5 || buf.get_i32() != VERSION {
        return None;
    }
    let mut items = Vec::new();
    loop {
        if !buf.has_remaining() {
            return None;
        }
        match buf.get_u8() {
            ITEM => {
                if buf.remaining() < 4 {
                    return None;
                }
                let len = usize::try_from(buf.get_i32()).ok()?;
                if buf.remaining() < len {
                    return None;
                }
                items.push(buf.split_to(len));
            }
            END if !buf.has_remaining() => return Some(items),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curator_bytes() {
        // Observed from Curator 5.4 for the item "item-0".
        let expected = [
            0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x06, b'i', b't', b'e', b'm', b'-',
            b'0', 0x02,
        ];
        assert_eq!(encode(b"item-0"), expected);
        assert_eq!(
            decode(&Bytes::copy_from_slice(&expected)),
            vec![Bytes::from("item-0")]
        );
    }

    #[test]
    fn foreign_or_broken_data_is_one_raw_item() {
        for raw in [
            &b""[..],
            b"plain",
            &[0, 1, 0, 1, 1, 0, 0, 0, 9, 1, 2],
            &[0, 1, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 2],
        ] {
            let data = Bytes::copy_from_slice(raw);
            assert_eq!(decode(&data), vec![data.clone()]);
        }
    }

    #[test]
    fn priority_names_sort_by_priority() {
        let mut names: Vec<String> = [5, -3, 0, i32::MIN, i32::MAX, -1]
            .iter()
            .map(|p| format!("{}0000000001", priority_prefix(*p)))
            .collect();
        sort(Kind::Priority, &mut names);
        let order: Vec<i32> = names
            .iter()
            .map(|n| {
                let hex = &n[PREFIX.len() + 1..PREFIX.len() + 9];
                u32::from_str_radix(hex, 16).unwrap() as i32
            })
            .collect();
        assert_eq!(order, vec![i32::MIN, -3, -1, 0, 5, i32::MAX]);
        assert_eq!(priority_prefix(-1), "queue-0FFFFFFFF");
        assert_eq!(priority_prefix(10), "queue-10000000A");
    }

    #[test]
    fn delay_names() {
        let name = format!("{}0000000007", delay_prefix(0x18C_0000_0000));
        assert_eq!(name, "queue-|18C00000000|0000000007");
        assert_eq!(delay_epoch(&name), 0x18C_0000_0000);
        assert_eq!(delay_epoch("queue-0000000001"), 0);
        assert_eq!(requeue_prefix(&name), "queue-|18C00000000|");
        assert_eq!(requeue_prefix("queue-0000000012"), "queue-");
        assert_eq!(requeue_prefix("x"), "queue-");
    }
}
