//! Request bodies decoded as leniently as ZooKeeper decodes them.
//!
//! Real ZooKeeper reads a request from a buffer and ignores whatever follows it (clients of
//! newer versions append fields), and its strings are decoded with Java's replacing UTF-8
//! decoder: a malformed sequence becomes U+FFFD, which path validation then refuses (so a
//! create answers BadArguments and a read answers NoNode). A body cut short is still an error.

use bytes::Buf;
use zk_proto::{DecodeError, DecodeResult, Request};

/// Decodes the body of a request of type `op_type`, ignoring trailing bytes and replacing
/// invalid UTF-8 in strings with U+FFFD.
pub(crate) fn decode_request_body(op_type: i32, body: &[u8]) -> DecodeResult<Request> {
    let mut owned: Option<Vec<u8>> = None;
    // Every round repairs one string, so a body has at most len/4 rounds (each string has a
    // 4-byte length); the cap only guards against a decoder that misreports.
    for _ in 0..=body.len() / 4 + 1 {
        let input = owned.as_deref().unwrap_or(body);
        let mut cursor = Tracked {
            inner: input,
            consumed: 0,
            last_copy: None,
        };
        match Request::decode_body(op_type, &mut cursor) {
            Err(DecodeError::InvalidUtf8) => {
                let Some((start, len)) = cursor.last_copy else {
                    return Err(DecodeError::InvalidUtf8);
                };
                owned = Some(repair(input, start, len));
            }
            other => return other,
        }
    }
    Err(DecodeError::InvalidUtf8)
}

/// `input` with the string body at `start..start + len` (preceded by its 4-byte length)
/// replaced by its lossy UTF-8 form.
fn repair(input: &[u8], start: usize, len: usize) -> Vec<u8> {
    let fixed = String::from_utf8_lossy(&input[start..start + len]);
    let mut out = Vec::with_capacity(input.len() + fixed.len());
    out.extend_from_slice(&input[..start.saturating_sub(4)]);
    let new_len = i32::try_from(fixed.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&new_len.to_be_bytes());
    out.extend_from_slice(fixed.as_bytes());
    out.extend_from_slice(&input[start + len..]);
    out
}

/// A reader that remembers where its last `copy_to_slice` (how strings are read) started.
struct Tracked<'a> {
    inner: &'a [u8],
    consumed: usize,
    last_copy: Option<(usize, usize)>,
}

impl Buf for Tracked<'_> {
    fn remaining(&self) -> usize {
        self.inner.len()
    }

    fn chunk(&self) -> &[u8] {
        self.inner
    }

    fn advance(&mut self, cnt: usize) {
        self.inner.advance(cnt);
        self.consumed += cnt;
    }

    fn copy_to_slice(&mut self, dst: &mut [u8]) {
        self.last_copy = Some((self.consumed, dst.len()));
        let (head, rest) = self.inner.split_at(dst.len());
        dst.copy_from_slice(head);
        self.inner = rest;
        self.consumed += dst.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::GetDataRequest;

    fn body(request: &Request) -> Vec<u8> {
        let mut b = Vec::new();
        request.encode_body(&mut b);
        b
    }

    #[test]
    fn trailing_bytes_are_ignored_and_short_input_refused() {
        let req = Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: true,
        });
        let op = req.op_code().code();
        let mut b = body(&req);
        b.extend_from_slice(&[9; 7]);
        assert_eq!(decode_request_body(op, &b).unwrap(), req);
        let b = body(&req);
        assert!(matches!(
            decode_request_body(op, &b[..b.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let req = Request::GetData(GetDataRequest {
            path: "/a-XX-b".into(),
            watch: false,
        });
        let op = req.op_code().code();
        let mut b = body(&req);
        let at = b.windows(2).position(|w| w == b"XX").unwrap();
        b[at] = 0xff;
        b[at + 1] = 0xc3; // a lead byte followed by '-': malformed too
        match decode_request_body(op, &b).unwrap() {
            Request::GetData(g) => assert_eq!(g.path, "/a-\u{fffd}\u{fffd}-b"),
            other => panic!("{other:?}"),
        }
    }
}
