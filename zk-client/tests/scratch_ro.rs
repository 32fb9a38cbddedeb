use bytes::{Bytes, BytesMut};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use zk_proto::{encode_connect_request, ConnectRequest};
use zk_testserver::real::{RealOptions, RealZooKeeper};

fn attempt(addr: std::net::SocketAddr, ro: Option<bool>, session: i64) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = BytesMut::new();
    encode_connect_request(
        &mut buf,
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 10000,
            session_id: session,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: ro,
        },
    );
    s.write_all(&buf).unwrap();
    let mut out = Vec::new();
    let r = s.read_to_end(&mut out);
    println!(
        "ro={ro:?} session={session:#x}: {r:?} {} bytes {:02x?}",
        out.len(),
        &out[..out.len().min(64)]
    );
    out
}

#[test]
fn probe() {
    for local in [true, false] {
        let mut opts = RealOptions {
            read_only_mode: true,
            ..RealOptions::default()
        };
        if local {
            opts.extra_config.push("localSessionsEnabled=true".into());
        }
        let zk = RealZooKeeper::ensemble(3, opts).unwrap();
        zk.kill(1).unwrap();
        zk.kill(2).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while zk.mode(0).as_deref() != Some("read-only") {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("local sessions {local}");
        let a = zk.member_addr(0);
        attempt(a, Some(false), 0);
        attempt(a, Some(true), 0);
        attempt(a, Some(true), 0x1234);
        attempt(a, None, 0);
    }
}
