//! Round-trip properties: for every record and every message, `decode(encode(x)) == x` and
//! `encoded_len() == encode(x).len()`, directly and through the frame helpers.

mod support;

use std::fmt::Debug;

use bytes::{Buf, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use support::*;
use zk_proto::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn ok<T>(result: DecodeResult<T>) -> Result<T, TestCaseError> {
    result.map_err(|e| TestCaseError::fail(format!("decode failed: {e}")))
}

/// At most ~40 cut points in `0..len`, always including the ends.
fn cut_points(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 40).max(1);
    (0..len).step_by(step).chain(len.checked_sub(1))
}

/// The whole round-trip contract of one record.
///
/// `self_delimiting` is false for the connect records, whose trailing `readOnly` byte is read
/// only when present: for them, a shorter input can be another valid value.
fn check_record<T: Jute + PartialEq + Debug>(
    value: &T,
    self_delimiting: bool,
) -> Result<(), TestCaseError> {
    let mut encoded = Vec::new();
    value.encode(&mut encoded);
    prop_assert_eq!(value.encoded_len(), encoded.len(), "encoded_len");
    prop_assert_eq!(&value.to_bytes()[..], &encoded[..], "to_bytes");
    prop_assert_eq!(&ok(T::decode_exact(&encoded))?, value, "decode_exact");

    // Decoding from a buffer split in two chunks exercises the non-contiguous `Buf` paths.
    for split in cut_points(encoded.len()) {
        let (a, b) = encoded.split_at(split);
        let mut chained = a.chain(b);
        prop_assert_eq!(&ok(T::decode(&mut chained))?, value, "split at {}", split);
        prop_assert_eq!(chained.remaining(), 0);
    }

    if self_delimiting {
        // A record ends where its encoding ends: what follows is left alone...
        let mut with_tail = encoded.clone();
        with_tail.extend_from_slice(&[0xa5, 0x5a, 0x00]);
        let mut rest = &with_tail[..];
        prop_assert_eq!(&ok(T::decode(&mut rest))?, value, "decode with tail");
        prop_assert_eq!(rest, &[0xa5, 0x5a, 0x00][..]);
        prop_assert_eq!(
            T::decode_exact(&with_tail),
            Err(DecodeError::TrailingBytes(3))
        );
        // ...and no strict prefix is a whole record.
        for cut in cut_points(encoded.len()) {
            prop_assert!(
                T::decode_exact(&encoded[..cut]).is_err(),
                "prefix of {} bytes decoded",
                cut
            );
        }
    }
    Ok(())
}

macro_rules! record_round_trips {
    ($($name:ident: $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $name(value in $strategy) {
                    check_record(&value, true)?;
                }
            )*
        }
    };
}

record_round_trips! {
    // records/data.rs
    id_round_trips: id();
    acl_round_trips: acl();
    acl_list_round_trips: acls();
    stat_round_trips: stat();
    stat_persisted_round_trips: stat_persisted();
    // records/header.rs
    request_header_round_trips: request_header();
    reply_header_round_trips: reply_header();
    auth_packet_round_trips: auth_packet();
    watcher_event_round_trips: watcher_event();
    error_response_round_trips: error_response();
    multi_header_round_trips: multi_header();
    // records/request.rs
    create_request_round_trips: create_request();
    create_ttl_request_round_trips: create_ttl_request();
    delete_request_round_trips: delete_request();
    exists_request_round_trips: exists_request();
    get_data_request_round_trips: get_data_request();
    set_data_request_round_trips: set_data_request();
    get_acl_request_round_trips: get_acl_request();
    set_acl_request_round_trips: set_acl_request();
    get_children_request_round_trips: get_children_request();
    get_children2_request_round_trips: get_children2_request();
    sync_request_round_trips: sync_request();
    check_version_request_round_trips: check_version_request();
    reconfig_request_round_trips: reconfig_request();
    check_watches_request_round_trips: check_watches_request();
    remove_watches_request_round_trips: remove_watches_request();
    delete_container_request_round_trips: delete_container_request();
    set_watches_round_trips: set_watches();
    set_watches2_round_trips: set_watches2();
    get_sasl_request_round_trips: get_sasl_request();
    get_ephemerals_request_round_trips: get_ephemerals_request();
    get_all_children_number_request_round_trips: get_all_children_number_request();
    add_watch_request_round_trips: add_watch_request();
    get_stat_persisted_request_round_trips: get_stat_persisted_request();
    get_max_children_request_round_trips: get_max_children_request();
    set_max_children_request_round_trips: set_max_children_request();
    set_sasl_request_round_trips: set_sasl_request();
    // records/response.rs
    create_response_round_trips: create_response();
    create2_response_round_trips: create2_response();
    exists_response_round_trips: exists_response();
    get_data_response_round_trips: get_data_response();
    set_data_response_round_trips: set_data_response();
    get_acl_response_round_trips: get_acl_response();
    set_acl_response_round_trips: set_acl_response();
    get_children_response_round_trips: get_children_response();
    get_children2_response_round_trips: get_children2_response();
    sync_response_round_trips: sync_response();
    set_sasl_response_round_trips: set_sasl_response();
    get_ephemerals_response_round_trips: get_ephemerals_response();
    get_all_children_number_response_round_trips: get_all_children_number_response();
    client_info_round_trips: client_info();
    who_am_i_response_round_trips: who_am_i_response();
    get_stat_persisted_response_round_trips: get_stat_persisted_response();
    get_max_children_response_round_trips: get_max_children_response();
    // records/multi.rs
    multi_write_request_round_trips: multi_write_request();
    multi_read_request_round_trips: multi_read_request();
    multi_response_round_trips: multi_response();
    // records/txn.rs
    txn_header_round_trips: txn_header();
    txn_digest_round_trips: txn_digest();
    create_txn_v0_round_trips: create_txn_v0();
    create_txn_round_trips: create_txn();
    create_ttl_txn_round_trips: create_ttl_txn();
    create_container_txn_round_trips: create_container_txn();
    delete_txn_round_trips: delete_txn();
    set_data_txn_round_trips: set_data_txn();
    check_version_txn_round_trips: check_version_txn();
    set_acl_txn_round_trips: set_acl_txn();
    set_max_children_txn_round_trips: set_max_children_txn();
    create_session_txn_round_trips: create_session_txn();
    close_session_txn_round_trips: close_session_txn();
    error_txn_round_trips: error_txn();
    txn_round_trips: txn();
    multi_txn_round_trips: multi_txn();
    file_header_round_trips: file_header();
    // records/quorum.rs
    learner_info_round_trips: learner_info();
    quorum_packet_round_trips: quorum_packet();
    quorum_auth_packet_round_trips: quorum_auth_packet();
    // primitives and nullable primitives
    string_round_trips: string();
    opt_string_round_trips: opt_string();
    bytes_round_trips: bytes();
    opt_bytes_round_trips: opt_bytes();
    string_list_round_trips: strings();
    int_round_trips: any::<i32>();
    long_round_trips: any::<i64>();
    bool_round_trips: any::<bool>();
    // the i32-coded enums
    error_code_round_trips: error_code();
    event_type_round_trips: event_type();
    keeper_state_round_trips: keeper_state();
    watcher_type_round_trips: watcher_type();
    add_watch_mode_round_trips: add_watch_mode();
    op_code_round_trips: op_code();
    create_mode_round_trips: create_mode();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn connect_request_round_trips(request in connect_request()) {
        check_record(&request, false)?;
        // Framed as a client sends it.
        let mut wire = BytesMut::new();
        encode_connect_request(&mut wire, &request);
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        prop_assert!(wire.is_empty());
        prop_assert_eq!(ok(ConnectRequest::decode_exact(&frame))?, request);
    }

    #[test]
    fn connect_response_round_trips(response in connect_response()) {
        check_record(&response, false)?;
        let mut wire = BytesMut::new();
        encode_connect_response(&mut wire, &response);
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        prop_assert!(wire.is_empty());
        prop_assert_eq!(ok(ConnectResponse::decode_exact(&frame))?, response);
    }

    /// A pre-3.4 client omits the readOnly byte; the same bytes plus the byte decode as a
    /// current client's request.
    #[test]
    fn connect_read_only_byte_is_optional(mut request in connect_request(), read_only: bool) {
        request.read_only = None;
        let old = request.to_bytes();
        prop_assert_eq!(old.len(), 4 + 8 + 4 + 8 + 4 + request.passwd.len());
        prop_assert_eq!(&ok(ConnectRequest::decode_exact(&old))?, &request);

        request.read_only = Some(read_only);
        let new = request.to_bytes();
        prop_assert_eq!(&new[..old.len()], &old[..]);
        prop_assert_eq!(new[old.len()..].to_vec(), vec![u8::from(read_only)]);
        prop_assert_eq!(ok(ConnectRequest::decode_exact(&new))?, request);
    }

    #[test]
    fn connect_response_read_only_byte_is_optional(
        mut response in connect_response(),
        read_only: bool,
    ) {
        response.read_only = None;
        let old = response.to_bytes();
        prop_assert_eq!(old.len(), 4 + 4 + 8 + 4 + response.passwd.len());
        prop_assert_eq!(&ok(ConnectResponse::decode_exact(&old))?, &response);

        response.read_only = Some(read_only);
        let new = response.to_bytes();
        prop_assert_eq!(&new[..old.len()], &old[..]);
        prop_assert_eq!(new.len(), old.len() + 1);
        prop_assert_eq!(ok(ConnectResponse::decode_exact(&new))?, response);
    }

    /// Every request variant, through `encode_request` + `FrameDecoder` + `decode_request`.
    #[test]
    fn requests_round_trip_through_frames(
        (op, request) in select(ops_with(request_for))
            .prop_flat_map(|op| (Just(op), request_for(op).unwrap())),
        xid: i32,
    ) {
        prop_assert_eq!(request.op_code(), op);
        let mut wire = request_frame(xid, &request);
        prop_assert_eq!(wire.len(), 4 + 8 + request.body_len());
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        prop_assert!(wire.is_empty());
        let (header, decoded) = ok(decode_request(&frame))?;
        prop_assert_eq!(header.op(), op);
        prop_assert_eq!(header, RequestHeader::new(xid, op));
        prop_assert_eq!(decoded, request);
    }

    /// Every response variant, through `encode_reply` + `decode_incoming` + `decode_response`.
    #[test]
    fn replies_round_trip_through_frames(
        (op, response) in any_response(),
        xid in any::<i32>().prop_filter("not the event xid", |x| *x != xid::NOTIFICATION),
        zxid: i64,
    ) {
        let header = ReplyHeader::ok(xid, zxid);
        let mut wire = reply_frame(&header, Some(&response));
        prop_assert_eq!(wire.len(), 4 + 16 + response.body_len());
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        prop_assert!(wire.is_empty());
        match ok(decode_incoming(frame))? {
            Incoming::Reply { header: decoded, body } => {
                prop_assert_eq!(decoded, header);
                prop_assert_eq!(body.len(), response.body_len());
                prop_assert_eq!(ok(decode_response(op, body))?, response);
            }
            other => prop_assert!(false, "expected a reply, got {:?}", other),
        }
    }

    /// A failed reply carries no body, whatever body the server code passed in.
    #[test]
    fn error_replies_have_no_body(
        (_, response) in any_response(),
        xid in any::<i32>().prop_filter("not the event xid", |x| *x != xid::NOTIFICATION),
        zxid: i64,
        err in error_code().prop_filter("a failure", |e| !e.is_ok()),
        with_body: bool,
    ) {
        let header = ReplyHeader { xid, zxid, err };
        let mut wire = reply_frame(&header, with_body.then_some(&response));
        prop_assert_eq!(wire.len(), 4 + 16);
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        let incoming = ok(decode_incoming(frame))?;
        prop_assert_eq!(incoming, Incoming::Reply { header, body: Default::default() });
    }

    #[test]
    fn events_round_trip_through_frames(event in watcher_event(), zxid: i64) {
        let mut wire = BytesMut::new();
        encode_event(&mut wire, zxid, &event);
        prop_assert_eq!(wire.len(), 4 + 16 + event.encoded_len());
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        prop_assert!(wire.is_empty());
        prop_assert_eq!(ok(decode_incoming(frame))?, Incoming::Event { zxid, event });
    }

    /// Frames arriving in arbitrary pieces come out whole and in order.
    #[test]
    fn frames_survive_arbitrary_chunking(
        requests in vec((any::<i32>(), any_request()), 1..8),
        chunk_sizes in vec(1usize..64, 1..32),
    ) {
        let mut stream = BytesMut::new();
        for (xid, request) in &requests {
            encode_request(&mut stream, *xid, request);
        }
        let decoder = FrameDecoder::default();
        let mut input = BytesMut::new();
        let mut frames = Vec::new();
        let mut sizes = chunk_sizes.iter().cycle();
        while !stream.is_empty() {
            let n = (*sizes.next().unwrap()).min(stream.len());
            input.extend_from_slice(&stream.split_to(n));
            while let Some(frame) = decoder.decode(&mut input).unwrap() {
                frames.push(frame);
            }
        }
        prop_assert!(input.is_empty());
        prop_assert_eq!(frames.len(), requests.len());
        for (frame, (xid, request)) in frames.iter().zip(&requests) {
            let (header, decoded) = ok(decode_request(frame))?;
            prop_assert_eq!(header.xid, *xid);
            prop_assert_eq!(&decoded, request);
        }
    }

    /// The wire layout of a multi: one header per op, then the terminator; no count.
    #[test]
    fn multi_request_layout(request in multi_request()) {
        let mut encoded = &request.to_bytes()[..];
        for op in &request.ops {
            let header = ok(MultiHeader::decode(&mut encoded))?;
            let expected = MultiHeader { op_type: op.op_code().code(), done: false, err: -1 };
            prop_assert_eq!(header, expected);
            // The op's own request record follows, nothing else.
            let e = &mut encoded;
            let decoded = match op {
                MultiOp::Create(_) => MultiOp::Create(ok(CreateRequest::decode(e))?),
                MultiOp::Create2(_) => MultiOp::Create2(ok(CreateRequest::decode(e))?),
                MultiOp::CreateContainer(_) => {
                    MultiOp::CreateContainer(ok(CreateRequest::decode(e))?)
                }
                MultiOp::CreateTtl(_) => MultiOp::CreateTtl(ok(CreateTtlRequest::decode(e))?),
                MultiOp::Delete(_) => MultiOp::Delete(ok(DeleteRequest::decode(e))?),
                MultiOp::SetData(_) => MultiOp::SetData(ok(SetDataRequest::decode(e))?),
                MultiOp::Check(_) => MultiOp::Check(ok(CheckVersionRequest::decode(e))?),
                MultiOp::GetChildren(_) => {
                    MultiOp::GetChildren(ok(GetChildrenRequest::decode(e))?)
                }
                MultiOp::GetData(_) => MultiOp::GetData(ok(GetDataRequest::decode(e))?),
                other => return Err(TestCaseError::fail(format!("unexpected op {other:?}"))),
            };
            prop_assert_eq!(&decoded, op);
        }
        prop_assert_eq!(encoded, &MultiHeader::DONE.to_bytes()[..]);
        prop_assert_eq!(MultiHeader::DONE, MultiHeader { op_type: -1, done: true, err: -1 });
    }

    /// Reads and writes never mix in one list.
    #[test]
    fn mixed_multi_is_rejected(
        write in multi_write_op(),
        read in multi_read_op(),
        read_first: bool,
    ) {
        let (first, second) = if read_first { (read, write) } else { (write, read) };
        let second_op = second.op_code().code();
        let mixed = MultiRequest { ops: vec![first.clone(), second] };
        prop_assert_eq!(
            MultiRequest::decode_exact(&mixed.to_bytes()),
            Err(DecodeError::InvalidMultiOp(second_op))
        );
        let single = MultiRequest { ops: vec![first] };
        prop_assert_eq!(ok(MultiRequest::decode_exact(&single.to_bytes()))?, single);
    }

    /// A failed atomic multi round-trips as all-error results, and the cause is found.
    #[test]
    fn failed_multi_round_trips((response, failed, code) in failed_multi_response(), zxid: i64) {
        check_record(&response, true)?;
        prop_assert_eq!(response.first_error(), Some((failed, code)));
        // Every entry is an error result whose header carries the code too.
        let mut encoded = &response.to_bytes()[..];
        for result in &response.results {
            let header = ok(MultiHeader::decode(&mut encoded))?;
            prop_assert_eq!(header.op_type, OpCode::Error.code());
            prop_assert!(!header.done);
            prop_assert_eq!(header.err, result.error_code().code());
            prop_assert_eq!(ok(ErrorResponse::decode(&mut encoded))?.err, result.error_code());
        }
        prop_assert_eq!(encoded, &MultiHeader::DONE.to_bytes()[..]);
        // The reply header of a failed multi still says Ok.
        let reply = Response::Multi(response);
        let mut wire = reply_frame(&ReplyHeader::ok(7, zxid), Some(&reply));
        let frame = FrameDecoder::default().decode(&mut wire).unwrap().expect("a whole frame");
        let Incoming::Reply { header, body } = ok(decode_incoming(frame))? else {
            return Err(TestCaseError::fail("not a reply"));
        };
        prop_assert_eq!(header.err, ErrorCode::Ok);
        prop_assert_eq!(ok(decode_response(OpCode::Multi, body))?, reply);
    }

    /// Every `i32` maps to an enum value and back, known or not.
    #[test]
    fn int_enum_codes_are_lossless(code: i32) {
        prop_assert_eq!(OpCode::from_code(code).code(), code);
        prop_assert_eq!(ErrorCode::from_code(code).code(), code);
        prop_assert_eq!(EventType::from_code(code).code(), code);
        prop_assert_eq!(KeeperState::from_code(code).code(), code);
        prop_assert_eq!(WatcherType::from_code(code).code(), code);
        prop_assert_eq!(AddWatchMode::from_code(code).code(), code);
        prop_assert_eq!(CreateMode::from_code(code).code(), code);
    }
}

/// The strategies cover exactly the op codes the decoders accept, so a variant added to
/// `Request` or `Response` without a strategy here fails this test.
#[test]
fn strategies_cover_every_op_code() {
    for &op in OpCode::ALL {
        let request = Request::decode_body(op.code(), &mut &[][..]);
        let request_op = !matches!(
            request,
            Err(DecodeError::UnexpectedOpCode(_) | DecodeError::UnknownOpCode(_))
        );
        assert_eq!(request_op, request_for(op).is_some(), "request {op:?}");

        let response = Response::decode_body(op, &mut &[][..]);
        let response_op = !matches!(response, Err(DecodeError::UnexpectedOpCode(_)));
        assert_eq!(response_op, response_for(op).is_some(), "response {op:?}");
    }
    // Sanity: the client-only and server-internal codes are the ones left out.
    let no_request: Vec<_> = OpCode::ALL
        .iter()
        .filter(|op| request_for(**op).is_none())
        .collect();
    assert_eq!(
        no_request,
        [
            &OpCode::Notification,
            &OpCode::CreateSession,
            &OpCode::Error
        ]
    );
}

/// Every known enum value survives `code`/`from_code`.
#[test]
fn known_enum_values_are_canonical() {
    fn check<T: Copy + PartialEq + Debug>(all: &[T], code: fn(T) -> i32, from: fn(i32) -> T) {
        for &v in all {
            assert_eq!(from(code(v)), v);
        }
    }
    check(OpCode::ALL, OpCode::code, OpCode::from_code);
    check(ErrorCode::ALL, ErrorCode::code, ErrorCode::from_code);
    check(EventType::ALL, EventType::code, EventType::from_code);
    check(KeeperState::ALL, KeeperState::code, KeeperState::from_code);
    check(WatcherType::ALL, WatcherType::code, WatcherType::from_code);
    check(
        AddWatchMode::ALL,
        AddWatchMode::code,
        AddWatchMode::from_code,
    );
    check(CreateMode::ALL, CreateMode::code, CreateMode::from_code);
}
