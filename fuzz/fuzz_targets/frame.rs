//! `FrameDecoder::decode` on arbitrary input, fed in pieces: it must split frames off exactly,
//! wait for more bytes, or refuse a bad length, and never reserve beyond its limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zk_proto::{FrameDecoder, FrameError, DEFAULT_MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limit (small limits make TooLarge reachable) and the chunk size.
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let max = if control & 0x80 == 0 {
        DEFAULT_MAX_FRAME
    } else {
        usize::from(control & 0x3f) * 4
    };
    let chunk = usize::from(control & 0x0f) + 1;
    let decoder = FrameDecoder::new(max);

    let mut buf = BytesMut::new();
    // The buffer always holds input[consumed..fed].
    let (mut consumed, mut fed) = (0, 0);
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            let capacity = buf.capacity();
            let result = decoder.decode(&mut buf);
            let claimed = input[consumed..fed]
                .get(..4)
                .map(|p| i32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            match result {
                Ok(Some(frame)) => {
                    let len = claimed.expect("a length prefix") as usize;
                    assert!(len <= max);
                    assert_eq!(&frame[..], &input[consumed + 4..consumed + 4 + len]);
                    consumed += 4 + len;
                    assert_eq!(&buf[..], &input[consumed..fed]);
                }
                Ok(None) => {
                    assert_eq!(&buf[..], &input[consumed..fed]);
                    if let Some(len) = claimed {
                        assert!(
                            len >= 0 && len as usize <= max && fed - consumed < 4 + len as usize
                        );
                        // Waiting may reserve room for the frame (up to the limit), or reclaim
                        // the space of frames already split off; -malloc_limit_mb bounds it.
                    }
                    break;
                }
                Err(FrameError::NegativeLength(n)) => {
                    assert!(n < 0 && Some(n) == claimed);
                    assert_eq!(&buf[..], &input[consumed..fed]);
                    assert_eq!(buf.capacity(), capacity);
                    return;
                }
                Err(FrameError::TooLarge { len, max: limit }) => {
                    assert!(len > limit && limit == max && Some(len as i32) == claimed);
                    assert_eq!(&buf[..], &input[consumed..fed]);
                    assert_eq!(buf.capacity(), capacity);
                    return;
                }
                Err(other) => panic!("unexpected frame error {other:?}"),
            }
        }
    }
});
