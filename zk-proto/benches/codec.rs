//! Codec throughput: whole frames (length prefix, header, body) encoded into a reused buffer,
//! and decoded the way a connection does it (split the frame off the input buffer, decode the
//! header, decode the body).
//!
//! Run with `cargo bench -p zk-proto --bench codec`; figures are in docs/BENCHMARKS.md.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zk_proto::*;

fn stat(n: i64) -> Stat {
    Stat {
        czxid: 0x1_0000_0000 + n,
        mzxid: 0x1_0000_0100 + n,
        ctime: 1_732_000_000_000 + n,
        mtime: 1_732_000_100_000 + n,
        version: 3,
        cversion: 1000,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 1024,
        num_children: 1000,
        pzxid: 0x1_0000_0200 + n,
    }
}

/// A 1 KiB getData reply.
fn get_data_reply() -> (OpCode, Response) {
    let data: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    let response = Response::GetData(GetDataResponse {
        data: Some(Bytes::from(data)),
        stat: stat(1),
    });
    (OpCode::GetData, response)
}

/// A getChildren2 reply listing 1,000 sequential-node names.
fn get_children2_reply() -> (OpCode, Response) {
    let children = (0..1000).map(|i| format!("lock-{i:010}")).collect();
    let response = Response::GetChildren2(GetChildren2Response {
        children,
        stat: stat(2),
    });
    (OpCode::GetChildren2, response)
}

/// A 10-op multi: 4 creates, 3 setData, 2 checks, 1 delete, with 64-byte values.
fn multi_request() -> Request {
    let path = |i: usize| format!("/app/service/instances/node-{i:04}");
    let data = || Some(Bytes::from(vec![b'x'; 64]));
    let mut ops = Vec::new();
    for i in 0..4 {
        ops.push(MultiOp::Create(CreateRequest {
            path: path(i),
            data: data(),
            acl: Acl::open_unsafe(),
            flags: CreateMode::Persistent.code(),
        }));
    }
    for i in 4..7 {
        ops.push(MultiOp::SetData(SetDataRequest {
            path: path(i),
            data: data(),
            version: 5,
        }));
    }
    for i in 7..9 {
        ops.push(MultiOp::Check(CheckVersionRequest {
            path: path(i),
            version: 2,
        }));
    }
    ops.push(MultiOp::Delete(DeleteRequest {
        path: path(9),
        version: -1,
    }));
    Request::Multi(MultiRequest { ops })
}

/// The successful reply to [`multi_request`].
fn multi_reply() -> (OpCode, Response) {
    let mut results = Vec::new();
    for i in 0..4 {
        results.push(MultiResult::Create(CreateResponse {
            path: format!("/app/service/instances/node-{i:04}"),
        }));
    }
    for i in 4..7 {
        results.push(MultiResult::SetData(SetDataResponse { stat: stat(i) }));
    }
    results.extend([MultiResult::Check, MultiResult::Check, MultiResult::Delete]);
    (OpCode::Multi, Response::Multi(MultiResponse { results }))
}

fn bench_reply(c: &mut Criterion, name: &str, (op, response): (OpCode, Response)) {
    let header = ReplyHeader::ok(42, 0x1_0000_0300);
    let mut wire = BytesMut::new();
    encode_reply(&mut wire, &header, Some(&response));
    let wire = wire.freeze();

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    let mut buf = BytesMut::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode_reply(&mut buf, black_box(&header), Some(black_box(&response)));
            black_box(buf.len())
        })
    });
    let decoder = FrameDecoder::default();
    group.bench_function("decode", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut input| {
                let frame = decoder.decode(&mut input).unwrap().unwrap();
                let Incoming::Reply { header, body } = decode_incoming(frame).unwrap() else {
                    unreachable!("a reply")
                };
                (header, decode_response(op, body).unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // The decoded reply is the one encoded.
    let frame = decoder
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    let Ok(Incoming::Reply { body, .. }) = decode_incoming(frame) else {
        panic!("not a reply")
    };
    assert_eq!(decode_response(op, body).unwrap(), response);
}

fn bench_request(c: &mut Criterion, name: &str, request: Request) {
    let mut wire = BytesMut::new();
    encode_request(&mut wire, 42, &request);
    let wire = wire.freeze();

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    let mut buf = BytesMut::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode_request(&mut buf, 42, black_box(&request));
            black_box(buf.len())
        })
    });
    let decoder = FrameDecoder::default();
    group.bench_function("decode", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut input| {
                let frame = decoder.decode(&mut input).unwrap().unwrap();
                decode_request(&frame).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let frame = decoder
        .decode(&mut BytesMut::from(&wire[..]))
        .unwrap()
        .unwrap();
    assert_eq!(decode_request(&frame).unwrap().1, request);
}

fn codec(c: &mut Criterion) {
    bench_reply(c, "getData_reply_1KiB", get_data_reply());
    bench_reply(c, "getChildren2_reply_1000", get_children2_reply());
    bench_request(c, "multi_request_10_ops", multi_request());
    bench_reply(c, "multi_reply_10_ops", multi_reply());
}

criterion_group!(benches, codec);
criterion_main!(benches);
