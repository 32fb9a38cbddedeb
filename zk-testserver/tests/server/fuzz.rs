//! Random and mutated frames against a running server: it stays up and keeps serving.

use bytes::{BufMut, BytesMut};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_proto::{
    encode_connect_request, encode_request, Acl, ConnectRequest, CreateRequest, ErrorCode,
    GetDataRequest, MultiOp, MultiRequest, Request,
};
use zk_testserver::TestServer;

use crate::client::Client;

fn valid_requests() -> Vec<Request> {
    vec![
        Request::Create(CreateRequest {
            path: "/f".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 3,
        }),
        Request::GetData(GetDataRequest {
            path: "/f".into(),
            watch: true,
        }),
        Request::Multi(MultiRequest {
            ops: vec![MultiOp::Create(CreateRequest {
                path: "/f/x".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            })],
        }),
    ]
}

/// One connection's worth of garbage: a real handshake, then mutated or random frames.
async fn attack(addr: std::net::SocketAddr, rng: &mut rand::rngs::StdRng) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let mut out = BytesMut::new();
    if rng.random_bool(0.8) {
        encode_connect_request(
            &mut out,
            &ConnectRequest {
                timeout: 10_000,
                passwd: bytes::Bytes::from_static(&[0; 16]),
                read_only: Some(false),
                ..Default::default()
            },
        );
    }
    let requests = valid_requests();
    for xid in 1..rng.random_range(1..20) {
        match rng.random_range(0..4) {
            0 => {
                // Random body, plausible length.
                let len = rng.random_range(0..64);
                out.put_i32(len);
                for _ in 0..len {
                    out.put_u8(rng.random());
                }
            }
            1 => {
                // A valid request with flipped bytes.
                let mut frame = BytesMut::new();
                let req = &requests[rng.random_range(0..requests.len())];
                encode_request(&mut frame, xid, req);
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(4..frame.len());
                    frame[i] ^= rng.random::<u8>() | 1;
                }
                out.extend_from_slice(&frame);
            }
            2 => {
                // A valid request cut short inside its frame.
                let mut frame = BytesMut::new();
                encode_request(
                    &mut frame,
                    xid,
                    &requests[rng.random_range(0..requests.len())],
                );
                let cut = rng.random_range(4..frame.len());
                let body_len = (cut - 4) as i32;
                frame[..4].copy_from_slice(&body_len.to_be_bytes());
                frame.truncate(cut);
                out.extend_from_slice(&frame);
            }
            _ => {
                // An absurd length prefix.
                out.put_i32(if rng.random_bool(0.5) {
                    -5
                } else {
                    0x7fff_ffff
                });
            }
        }
    }
    let _ = s.write_all(&out).await;
    let _ = s.shutdown().await;
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(crate::client::WAIT, s.read_to_end(&mut sink)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_hurts_other_sessions() {
    let server = TestServer::builder()
        .tick_time_ms(50)
        .start()
        .await
        .unwrap();
    let mut bystander = Client::connect(server.addr()).await;
    bystander.create("/safe", b"1", 0).await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    for round in 0..300u32 {
        attack(server.addr(), &mut rng).await;
        if round % 50 == 0 {
            assert!(
                bystander.exists("/safe", false).await.is_ok(),
                "round {round}"
            );
        }
    }
    assert_eq!(
        bystander
            .set_data("/safe", b"2", 0)
            .await
            .map(|s| s.version),
        Ok(1)
    );
    assert_eq!(
        bystander.create("/safe", b"", 0).await,
        Err(ErrorCode::NodeExists)
    );
    let mut fresh = Client::connect(server.addr()).await;
    assert!(fresh.get_data("/safe", false).await.is_ok());
}
