//! `decode_request` on arbitrary frame bodies; whatever it accepts must re-encode to a frame
//! that decodes to the same request.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zk_proto::{decode_request, encode_request};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, request)) = decode_request(data) {
        assert_eq!(header.op(), request.op_code());
        let mut wire = BytesMut::new();
        encode_request(&mut wire, header.xid, &request);
        assert_eq!(wire.len(), 4 + 8 + request.body_len());
        assert!(wire.len() - 4 <= data.len());
        assert_eq!(decode_request(&wire[4..]), Ok((header, request)));
    }
});
