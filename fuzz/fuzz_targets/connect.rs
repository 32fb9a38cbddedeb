//! `ConnectRequest::decode_exact` and `ConnectResponse::decode_exact` on arbitrary bodies;
//! whatever is accepted must re-encode to bytes that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_proto::{ConnectRequest, ConnectResponse, Jute};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = ConnectRequest::decode_exact(data) {
        let encoded = request.to_bytes();
        assert_eq!(encoded.len(), request.encoded_len());
        assert!(encoded.len() <= data.len());
        assert_eq!(ConnectRequest::decode_exact(&encoded), Ok(request));
    }
    if let Ok(response) = ConnectResponse::decode_exact(data) {
        let encoded = response.to_bytes();
        assert_eq!(encoded.len(), response.encoded_len());
        assert!(encoded.len() <= data.len());
        assert_eq!(ConnectResponse::decode_exact(&encoded), Ok(response));
    }
});
