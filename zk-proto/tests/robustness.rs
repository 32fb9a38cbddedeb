//! Hostile input: decoders never panic on arbitrary or mangled bytes, reject what they should,
//! never trust a length, and whatever they accept re-encodes to something that decodes the same.

mod support;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use support::*;
use zk_proto::*;

/// Many cases: each one is a few microseconds.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(2000)
}

/// Every op code the decoders know, plus a few they don't.
fn any_op_code() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => select(OpCode::ALL).prop_map(OpCode::code),
        1 => any::<i32>(),
    ]
}

/// Length-like values that make decoders take their edge paths.
fn interesting_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(-1),
        Just(-2),
        Just(0),
        Just(1),
        Just(i32::MAX),
        Just(i32::MIN),
        Just(DEFAULT_MAX_FRAME as i32),
        Just(DEFAULT_MAX_FRAME as i32 + 1),
        -4..300i32,
        any::<i32>(),
    ]
}

fn junk() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..160)
}

/// `decode_request` on `frame`; if it accepts, the result must survive a second round trip.
fn check_request(frame: &[u8]) -> Result<(), TestCaseError> {
    if let Ok((header, request)) = decode_request(frame) {
        prop_assert_eq!(header.op(), request.op_code());
        let mut wire = BytesMut::new();
        encode_request(&mut wire, header.xid, &request);
        prop_assert_eq!(wire.len(), 4 + 8 + request.body_len());
        prop_assert!(wire.len() - 4 <= frame.len(), "re-encoding grew");
        let again = decode_request(&wire[4..]);
        prop_assert_eq!(again, Ok((header, request)));
    }
    Ok(())
}

/// `decode_response` for `op`; an accepted body must survive a second round trip.
fn check_response(op: OpCode, body: Bytes) -> Result<(), TestCaseError> {
    if let Ok(response) = decode_response(op, body.clone()) {
        let mut encoded = BytesMut::new();
        response.encode_body(&mut encoded);
        prop_assert_eq!(encoded.len(), response.body_len());
        prop_assert!(encoded.len() <= body.len(), "re-encoding grew");
        prop_assert_eq!(decode_response(op, encoded.freeze()), Ok(response));
    }
    Ok(())
}

/// `decode_incoming` on `frame`, then every op code's response decoder on a reply body.
fn check_incoming(frame: &[u8]) -> Result<(), TestCaseError> {
    match decode_incoming(Bytes::copy_from_slice(frame)) {
        Ok(Incoming::Event { zxid, event }) => {
            let mut wire = BytesMut::new();
            encode_event(&mut wire, zxid, &event);
            let again = decode_incoming(wire.split_off(4).freeze());
            prop_assert_eq!(again, Ok(Incoming::Event { zxid, event }));
        }
        Ok(Incoming::Reply { header, body }) => {
            prop_assert_ne!(header.xid, xid::NOTIFICATION);
            prop_assert_eq!(body.len(), frame.len() - 16);
            for &op in OpCode::ALL {
                check_response(op, body.clone())?;
            }
            check_response(OpCode::Unknown(12345), body)?;
        }
        Err(_) => prop_assert!(frame.len() < 16 || frame[..4] == [0xff; 4]),
    }
    Ok(())
}

/// Every whole-frame decoder on `bytes`, as if it were that decoder's frame.
fn check_all_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_request(bytes)?;
    check_incoming(bytes)?;
    for &op in OpCode::ALL {
        check_response(op, Bytes::copy_from_slice(bytes))?;
    }
    if let Ok(request) = ConnectRequest::decode_exact(bytes) {
        prop_assert_eq!(
            ConnectRequest::decode_exact(&request.to_bytes()),
            Ok(request)
        );
    }
    if let Ok(response) = ConnectResponse::decode_exact(bytes) {
        prop_assert_eq!(
            ConnectResponse::decode_exact(&response.to_bytes()),
            Ok(response)
        );
    }
    if let Ok(multi) = MultiRequest::decode_exact(bytes) {
        let first_is_read = multi.ops.first().map(MultiOp::is_read);
        prop_assert!(multi
            .ops
            .iter()
            .all(|op| Some(op.is_read()) == first_is_read));
        prop_assert_eq!(MultiRequest::decode_exact(&multi.to_bytes()), Ok(multi));
    }
    if let Ok(multi) = MultiResponse::decode_exact(bytes) {
        prop_assert_eq!(MultiResponse::decode_exact(&multi.to_bytes()), Ok(multi));
    }
    Ok(())
}

/// A valid encoding of some message, as a decoder would receive it (no length prefix).
fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (any::<i32>(), any_request())
            .prop_map(|(xid, request)| request_frame(xid, &request)[4..].to_vec()),
        (any::<i32>(), any::<i64>(), any_response()).prop_map(|(xid, zxid, (_, response))| {
            reply_frame(&ReplyHeader::ok(xid, zxid), Some(&response))[4..].to_vec()
        }),
        (any::<i64>(), watcher_event()).prop_map(|(zxid, event)| {
            let mut wire = BytesMut::new();
            encode_event(&mut wire, zxid, &event);
            wire[4..].to_vec()
        }),
        connect_request().prop_map(|r| r.to_bytes().to_vec()),
        connect_response().prop_map(|r| r.to_bytes().to_vec()),
        multi_request().prop_map(|r| r.to_bytes().to_vec()),
        multi_response().prop_map(|r| r.to_bytes().to_vec()),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        mask: u8,
    },
    Truncate {
        at: usize,
    },
    Extend(Vec<u8>),
    Insert {
        at: usize,
        byte: u8,
    },
    Remove {
        at: usize,
    },
    /// Overwrites 4 bytes with a length-like value (lengths, counts and op codes are i32s).
    Int {
        at: usize,
        value: i32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        (any::<usize>(), interesting_i32()).prop_map(|(at, value)| Mutation::Int { at, value }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Flip { at, mask } if len > 0 => bytes[at % len] ^= mask,
        Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
        Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), *byte),
        Mutation::Remove { at } if len > 0 => {
            bytes.remove(at % len);
        }
        Mutation::Int { at, value } if len >= 4 => {
            let at = at % (len - 3);
            bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config())]

    /// The frame decoder splits a frame off, waits, or refuses, and says which truthfully.
    #[test]
    fn frame_decoder_never_panics(
        prefix in interesting_i32(),
        rest in vec(any::<u8>(), 0..300),
        raw_prefix: bool,
        max in prop_oneof![Just(DEFAULT_MAX_FRAME), 0usize..300],
    ) {
        let mut input = Vec::new();
        if !raw_prefix {
            input.extend_from_slice(&prefix.to_be_bytes());
        }
        input.extend_from_slice(&rest);
        let decoder = FrameDecoder::new(max);
        let mut buf = BytesMut::from(&input[..]);
        let capacity = buf.capacity();
        let claimed = input
            .get(..4)
            .map(|p| i32::from_be_bytes([p[0], p[1], p[2], p[3]]));
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => {
                let len = claimed.unwrap() as usize;
                prop_assert!(len <= max);
                prop_assert_eq!(&frame[..], &input[4..4 + len]);
                prop_assert_eq!(&buf[..], &input[4 + len..]);
            }
            Ok(None) => {
                prop_assert_eq!(&buf[..], &input[..]);
                if let Some(len) = claimed {
                    prop_assert!(len >= 0 && len as usize <= max);
                    prop_assert!(input.len() < 4 + len as usize);
                    // Waiting for a frame may reserve room for it, but never beyond the limit.
                    prop_assert!(buf.capacity() <= 2 * capacity.max(4 + max));
                }
            }
            Err(FrameError::NegativeLength(len)) => {
                prop_assert_eq!(Some(len), claimed);
                prop_assert!(len < 0);
                prop_assert_eq!(&buf[..], &input[..]);
                prop_assert_eq!(buf.capacity(), capacity);
            }
            Err(FrameError::TooLarge { len, max: limit }) => {
                prop_assert_eq!(limit, max);
                prop_assert_eq!(Some(len as i32), claimed);
                prop_assert!(len > max);
                prop_assert_eq!(&buf[..], &input[..]);
                prop_assert_eq!(buf.capacity(), capacity);
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
        let refused = decoder.decode(&mut BytesMut::from(&input[..])).is_err();
        prop_assert_eq!(decoder.peek_len(&input).is_err(), refused);
    }

    #[test]
    fn decode_request_never_panics(bytes in junk()) {
        check_request(&bytes)?;
    }

    /// Random bodies behind a plausible header reach every request body decoder.
    #[test]
    fn request_bodies_never_panic(xid: i32, op in any_op_code(), body in junk()) {
        let mut frame = RequestHeader { xid, op_type: op }.to_bytes().to_vec();
        frame.extend_from_slice(&body);
        check_request(&frame)?;
        match decode_request(&frame) {
            Err(DecodeError::UnknownOpCode(code)) => {
                prop_assert_eq!(code, op);
                prop_assert!(matches!(OpCode::from_code(op), OpCode::Unknown(_)));
            }
            Err(DecodeError::UnexpectedOpCode(code)) => {
                prop_assert_eq!(code, op);
                prop_assert!(request_for(OpCode::from_code(op)).is_none());
            }
            _ => {}
        }
    }

    #[test]
    fn decode_incoming_never_panics(bytes in junk()) {
        check_incoming(&bytes)?;
    }

    /// Random bodies behind a plausible reply header, decoded as a reply to every op code.
    #[test]
    fn reply_bodies_never_panic(
        xid in prop_oneof![Just(xid::NOTIFICATION), any::<i32>()],
        zxid: i64,
        err in error_code(),
        body in junk(),
    ) {
        let mut frame = ReplyHeader { xid, zxid, err }.to_bytes().to_vec();
        frame.extend_from_slice(&body);
        check_incoming(&frame)?;
    }

    #[test]
    fn connect_decoders_never_panic(bytes in junk()) {
        check_all_decoders(&bytes)?;
    }

    /// Plausible handshakes: right-sized fixed fields, then a password length that may lie.
    #[test]
    fn connect_decoders_handle_lying_lengths(
        fixed in vec(any::<u8>(), 16..=24),
        passwd_len in interesting_i32(),
        tail in vec(any::<u8>(), 0..40),
    ) {
        let mut bytes = fixed;
        bytes.extend_from_slice(&passwd_len.to_be_bytes());
        bytes.extend_from_slice(&tail);
        check_all_decoders(&bytes)?;
    }

    #[test]
    fn multi_decoders_never_panic(bytes in junk()) {
        check_all_decoders(&bytes)?;
    }

    /// Multi lists built from plausible headers with random records between them.
    #[test]
    fn multi_decoders_handle_plausible_headers(
        entries in vec(
            (any_op_code(), any::<bool>(), interesting_i32(), vec(any::<u8>(), 0..24)),
            0..6,
        ),
    ) {
        let mut bytes = Vec::new();
        for (op_type, done, err, record) in entries {
            MultiHeader { op_type, done, err }.encode(&mut bytes);
            bytes.extend_from_slice(&record);
        }
        check_all_decoders(&bytes)?;
    }

    /// Valid encodings of every kind, mangled a few times, fed to every decoder.
    #[test]
    fn mutated_messages_never_panic(
        mut bytes in valid_message(),
        mutations in vec(mutation(), 1..4),
    ) {
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        check_all_decoders(&bytes)?;
        let mut framed = BytesMut::new();
        encode_frame(&mut framed, |b| b.extend_from_slice(&bytes));
        prop_assert_eq!(FrameDecoder::default().decode(&mut framed).unwrap().unwrap(), bytes);
    }

    /// No strict prefix of a request is a request: a frame cut short is always refused.
    #[test]
    fn truncated_requests_are_refused(xid: i32, request in any_request(), cut: usize) {
        let frame = request_frame(xid, &request);
        let body = &frame[4..];
        let cut = cut % body.len();
        prop_assert!(decode_request(&body[..cut]).is_err());
    }

    /// No strict prefix of a reply body decodes as that reply.
    #[test]
    fn truncated_replies_are_refused(
        (op, response) in any_response().prop_filter("a body", |(_, r)| r.body_len() > 0),
        cut: usize,
    ) {
        let mut body = BytesMut::new();
        response.encode_body(&mut body);
        let cut = cut % body.len();
        prop_assert!(decode_response(op, body.freeze().slice(..cut)).is_err());
    }

    #[test]
    fn four_letter_words_are_detected_exactly(bytes in vec(any::<u8>(), 0..8)) {
        match FourLetterWord::detect(&bytes) {
            Some(word) => prop_assert_eq!(&bytes[..4], word.as_str().as_bytes()),
            None => prop_assert!(FourLetterWord::ALL
                .iter()
                .all(|w| !bytes.starts_with(w.as_str().as_bytes()))),
        }
    }

    #[test]
    fn four_letter_words_win_over_any_suffix(
        word in select(FourLetterWord::ALL),
        suffix in vec(any::<u8>(), 0..8),
    ) {
        let mut bytes = word.as_str().as_bytes().to_vec();
        bytes.extend_from_slice(&suffix);
        prop_assert_eq!(FourLetterWord::detect(&bytes), Some(word));
        prop_assert_eq!(FourLetterWord::from_name(word.as_str()), Some(word));
    }

    #[test]
    fn validate_path_never_panics(path in any::<String>()) {
        check_path(&path)?;
    }

    /// Paths from an alphabet of the characters the rules care about.
    #[test]
    fn validate_path_handles_tricky_paths(
        chars in vec(select(vec!['/', '/', '/', '.', '.', 'a', '\0', '\u{1}', '\u{7f}', 'ü',
                                 '\u{d7ff}', '\u{e000}', '\u{fff0}', '\u{1f600}']), 0..10),
    ) {
        check_path(&String::from_iter(chars))?;
    }
}

/// `validate_path` properties that hold for any input.
fn check_path(path: &str) -> Result<(), TestCaseError> {
    let plain = validate_path(path, false);
    let sequential = validate_path(path, true);
    let chars = path.chars().count();
    for (result, limit) in [(&plain, chars), (&sequential, chars + 1)] {
        match result {
            Ok(()) => {
                prop_assert!(path.starts_with('/'));
                prop_assert!(!path.contains("//"));
                prop_assert!(!path.contains('\0'));
            }
            Err(
                PathError::EmptyNodeName(i) | PathError::Relative(i) | PathError::InvalidChar(i),
            ) => prop_assert!(*i < limit, "index {} beyond {}", i, limit),
            Err(_) => {}
        }
    }
    if plain.is_ok() {
        // A valid path is a valid prefix for a sequential create.
        prop_assert_eq!(sequential, Ok(()));
    }
    if path.len() > 1 && path.starts_with('/') && !path.ends_with('/') {
        // Only the root and sequential prefixes may end in '/'.
        prop_assert_ne!(plain, Err(PathError::TrailingSlash));
    }
    Ok(())
}

#[test]
fn oversized_and_negative_lengths_allocate_nothing() {
    let decoder = FrameDecoder::default();
    for claimed in [
        i32::MAX,
        DEFAULT_MAX_FRAME as i32 + 1,
        0x7fff_0000,
        -1,
        -2,
        i32::MIN,
    ] {
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(&claimed.to_be_bytes());
        buf.extend_from_slice(b"abcd");
        let before = buf.clone();
        let result = decoder.decode(&mut buf);
        if claimed < 0 {
            assert_eq!(result, Err(FrameError::NegativeLength(claimed)));
        } else {
            assert_eq!(
                result,
                Err(FrameError::TooLarge {
                    len: claimed as usize,
                    max: DEFAULT_MAX_FRAME
                })
            );
        }
        assert_eq!(buf, before, "buffer untouched");
        assert_eq!(buf.capacity(), 16, "nothing reserved for {claimed}");
        assert_eq!(decoder.peek_len(&buf), result.map(|_| None));
    }
    // The limit itself is accepted, and waiting for it reserves at most one frame.
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&(DEFAULT_MAX_FRAME as i32).to_be_bytes());
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.capacity() >= 4 + DEFAULT_MAX_FRAME);
    assert!(buf.capacity() <= 2 * (4 + DEFAULT_MAX_FRAME));
}

/// Lengths and counts that claim more than the input holds are refused without allocating
/// their size (an allocation of ~2 GiB per element would abort the test process).
#[test]
fn lying_lengths_inside_records_are_refused() {
    let huge = i32::MAX.to_be_bytes();
    // getChildren reply claiming 2^31-1 children; getData reply claiming a 2 GiB buffer.
    for op in [
        OpCode::GetChildren,
        OpCode::GetData,
        OpCode::GetAcl,
        OpCode::Sync,
    ] {
        let body = Bytes::copy_from_slice(&[&huge[..], b"tiny"].concat());
        assert!(
            matches!(
                decode_response(op, body),
                Err(DecodeError::Truncated { .. })
            ),
            "{op:?}"
        );
    }
    // A setWatches claiming 2^31-1 data watches.
    let mut frame = RequestHeader::new(xid::SET_WATCHES, OpCode::SetWatches)
        .to_bytes()
        .to_vec();
    frame.extend_from_slice(&0i64.to_be_bytes());
    frame.extend_from_slice(&huge);
    assert!(matches!(
        decode_request(&frame),
        Err(DecodeError::Truncated { .. })
    ));
    // A negative length other than the null marker.
    let body = Bytes::copy_from_slice(&(-7i32).to_be_bytes());
    assert_eq!(
        decode_response(OpCode::Sync, body),
        Err(DecodeError::NegativeLength(-7))
    );
}
