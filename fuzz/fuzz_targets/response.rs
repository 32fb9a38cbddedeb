//! `decode_incoming` on arbitrary frame bodies, then `decode_response` of the reply body for
//! every op code; whatever is accepted must re-encode to bytes that decode the same.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use zk_proto::{decode_incoming, decode_response, encode_event, Incoming, OpCode};

fuzz_target!(|data: &[u8]| {
    match decode_incoming(Bytes::copy_from_slice(data)) {
        Ok(Incoming::Event { zxid, event }) => {
            let mut wire = BytesMut::new();
            encode_event(&mut wire, zxid, &event);
            let again = decode_incoming(wire.split_off(4).freeze());
            assert_eq!(again, Ok(Incoming::Event { zxid, event }));
        }
        Ok(Incoming::Reply { body, .. }) => {
            for &op in OpCode::ALL {
                if let Ok(response) = decode_response(op, body.clone()) {
                    let mut encoded = BytesMut::new();
                    response.encode_body(&mut encoded);
                    assert_eq!(encoded.len(), response.body_len());
                    assert!(encoded.len() <= body.len());
                    assert_eq!(decode_response(op, encoded.freeze()), Ok(response));
                }
            }
        }
        Err(_) => assert!(data.len() < 16 || data[..4] == [0xff; 4]),
    }
});
