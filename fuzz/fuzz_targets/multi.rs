//! `MultiRequest` and `MultiResponse` decoding on arbitrary bodies: reads and writes never mix,
//! and whatever is accepted must re-encode to bytes that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_proto::{Jute, MultiOp, MultiRequest, MultiResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = MultiRequest::decode_exact(data) {
        let first_is_read = request.ops.first().map(MultiOp::is_read);
        assert!(request
            .ops
            .iter()
            .all(|op| Some(op.is_read()) == first_is_read));
        let encoded = request.to_bytes();
        assert_eq!(encoded.len(), request.encoded_len());
        assert!(encoded.len() <= data.len());
        assert_eq!(MultiRequest::decode_exact(&encoded), Ok(request));
    }
    if let Ok(response) = MultiResponse::decode_exact(data) {
        let encoded = response.to_bytes();
        assert_eq!(encoded.len(), response.encoded_len());
        assert!(encoded.len() <= data.len());
        assert_eq!(MultiResponse::decode_exact(&encoded), Ok(response));
    }
});
