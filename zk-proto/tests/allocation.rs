//! Hostile counts never make a decoder allocate more than the input it was given.
//!
//! A vector's count is only a claim: a decoder may reserve room for it up front, but no more
//! than the remaining input could hold, or a 1 MiB frame claiming 2^31-1 ACL entries would make
//! a server allocate ~56 bytes per input byte before failing.
//!
//! This binary counts every allocation through a global allocator, so it holds a single test.

use std::alloc::System;

use bytes::Bytes;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use zk_proto::records::quorum::QuorumPacket;
use zk_proto::*;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes of input after each lying count: plenty of room for a large reservation.
const JUNK: usize = 64 * 1024;

/// A count of 2^31-1, then a first element whose string claims 2^31-1 bytes (so decoding
/// fails there), then zeros.
fn lying_vector(element_prefix: &[u8]) -> Vec<u8> {
    let mut bytes = i32::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(element_prefix);
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    bytes.resize(bytes.len() + JUNK, 0);
    bytes
}

/// Bytes allocated while `decode` runs.
fn allocated(decode: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    decode();
    region.change().bytes_allocated
}

#[test]
fn lying_counts_allocate_at_most_the_input() {
    let mut cases: Vec<(&str, usize, usize)> = Vec::new();

    // Requests: setACL and create with 2^31-1 ACL entries, setWatches2 with 2^31-1 paths.
    for (name, op, before) in [
        ("setACL", OpCode::SetAcl, &b"\0\0\0\x02/a"[..]),
        (
            "create",
            OpCode::Create,
            &b"\0\0\0\x02/a\xff\xff\xff\xff"[..],
        ),
        ("setWatches2", OpCode::SetWatches2, &[0u8; 8][..]),
    ] {
        let mut frame = RequestHeader::new(1, op).to_bytes().to_vec();
        frame.extend_from_slice(before);
        // An ACL entry starts with its perms, a path list with the string.
        let prefix: &[u8] = if op == OpCode::SetWatches2 {
            b""
        } else {
            b"\0\0\0\x1f"
        };
        frame.extend_from_slice(&lying_vector(prefix));
        let bytes = allocated(|| assert!(decode_request(&frame).is_err()));
        cases.push((name, frame.len(), bytes));
    }

    // Replies: getChildren, getACL, getEphemerals, whoAmI.
    for (name, op, prefix) in [
        ("getChildren", OpCode::GetChildren, &b""[..]),
        ("getACL", OpCode::GetAcl, &b"\0\0\0\x1f"[..]),
        ("getEphemerals", OpCode::GetEphemerals, &b""[..]),
        ("whoAmI", OpCode::WhoAmI, &b""[..]),
    ] {
        let body = Bytes::from(lying_vector(prefix));
        let len = body.len();
        let bytes = allocated(|| assert!(decode_response(op, body).is_err()));
        cases.push((name, len, bytes));
    }

    // A quorum packet whose auth info claims 2^31-1 ids.
    let mut packet = vec![0u8; 12];
    packet.extend_from_slice(&(-1i32).to_be_bytes());
    packet.extend_from_slice(&lying_vector(b""));
    let bytes = allocated(|| assert!(QuorumPacket::decode_exact(&packet).is_err()));
    cases.push(("QuorumPacket", packet.len(), bytes));

    let over: Vec<_> = cases
        .iter()
        .filter(|(_, input, bytes)| bytes > input)
        .collect();
    assert!(
        over.is_empty(),
        "(decoder, input bytes, bytes allocated) over the input size: {over:?}"
    );

    // The counting works: a real reply allocates its children.
    let children: Vec<String> = (0..100).map(|i| format!("child-{i}")).collect();
    let mut body = Vec::new();
    GetChildrenResponse {
        children: children.clone(),
    }
    .encode(&mut body);
    let body = Bytes::from(body);
    let bytes = allocated(|| {
        let decoded = decode_response(OpCode::GetChildren, body).unwrap();
        assert_eq!(
            decoded,
            Response::GetChildren(GetChildrenResponse { children })
        );
    });
    assert!(bytes >= 100 * std::mem::size_of::<String>(), "{bytes}");
}
