//! Proptest strategies for every zk-proto record and message, shared by the test binaries.
//!
//! Each binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use zk_proto::records::quorum::{LearnerInfo, QuorumAuthPacket, QuorumPacket};
use zk_proto::records::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, CreateTxnV0, DeleteTxn, ErrorTxn, FileHeader, MultiTxn, SetAclTxn, SetDataTxn,
    SetMaxChildrenTxn, Txn, TxnDigest, TxnHeader,
};
use zk_proto::*;

/// Builds a record strategy from one strategy per field, in declaration order.
macro_rules! record {
    ($ty:ident { $($field:ident : $strategy:expr),+ $(,)? }) => {
        ($($strategy,)+).prop_map(|($($field,)+)| $ty { $($field),+ })
    };
}

/// Short strings of arbitrary characters (multi-byte UTF-8 included).
pub fn string() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

/// Nullable strings: `None` is encoded as length -1.
pub fn opt_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(string())
}

/// Short byte buffers.
pub fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// Nullable buffers: `None` is encoded as length -1.
pub fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(bytes())
}

/// Short lists of strings.
pub fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(string(), 0..5)
}

/// Mostly known values of an `i32`-coded enum, sometimes an arbitrary code.
macro_rules! int_enum_strategy {
    ($name:ident, $ty:ident) => {
        pub fn $name() -> impl Strategy<Value = $ty> {
            prop_oneof![
                3 => proptest::sample::select($ty::ALL),
                1 => any::<i32>().prop_map($ty::from_code),
            ]
        }
    };
}

int_enum_strategy!(error_code, ErrorCode);
int_enum_strategy!(event_type, EventType);
int_enum_strategy!(keeper_state, KeeperState);
int_enum_strategy!(watcher_type, WatcherType);
int_enum_strategy!(add_watch_mode, AddWatchMode);
int_enum_strategy!(op_code, OpCode);
int_enum_strategy!(create_mode, CreateMode);

pub fn id() -> impl Strategy<Value = Id> {
    record!(Id {
        scheme: string(),
        id: string(),
    })
}

pub fn acl() -> impl Strategy<Value = Acl> {
    record!(Acl {
        perms: any::<i32>(),
        id: id(),
    })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(acl(), 0..4)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    record!(Stat {
        czxid: any::<i64>(),
        mzxid: any::<i64>(),
        ctime: any::<i64>(),
        mtime: any::<i64>(),
        version: any::<i32>(),
        cversion: any::<i32>(),
        aversion: any::<i32>(),
        ephemeral_owner: any::<i64>(),
        data_length: any::<i32>(),
        num_children: any::<i32>(),
        pzxid: any::<i64>(),
    })
}

pub fn stat_persisted() -> impl Strategy<Value = StatPersisted> {
    record!(StatPersisted {
        czxid: any::<i64>(),
        mzxid: any::<i64>(),
        ctime: any::<i64>(),
        mtime: any::<i64>(),
        version: any::<i32>(),
        cversion: any::<i32>(),
        aversion: any::<i32>(),
        ephemeral_owner: any::<i64>(),
        pzxid: any::<i64>(),
    })
}

// ---- connect ----

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    record!(ConnectRequest {
        protocol_version: any::<i32>(),
        last_zxid_seen: any::<i64>(),
        timeout: any::<i32>(),
        session_id: any::<i64>(),
        passwd: bytes(),
        read_only: proptest::option::of(any::<bool>()),
    })
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    record!(ConnectResponse {
        protocol_version: any::<i32>(),
        timeout: any::<i32>(),
        session_id: any::<i64>(),
        passwd: bytes(),
        read_only: proptest::option::of(any::<bool>()),
    })
}

// ---- headers ----

pub fn request_header() -> impl Strategy<Value = RequestHeader> {
    record!(RequestHeader {
        xid: any::<i32>(),
        op_type: any::<i32>(),
    })
}

pub fn reply_header() -> impl Strategy<Value = ReplyHeader> {
    record!(ReplyHeader {
        xid: any::<i32>(),
        zxid: any::<i64>(),
        err: error_code(),
    })
}

pub fn auth_packet() -> impl Strategy<Value = AuthPacket> {
    record!(AuthPacket {
        auth_type: any::<i32>(),
        scheme: string(),
        auth: bytes(),
    })
}

pub fn watcher_event() -> impl Strategy<Value = WatcherEvent> {
    record!(WatcherEvent {
        event_type: event_type(),
        state: keeper_state(),
        path: string(),
    })
}

pub fn error_response() -> impl Strategy<Value = ErrorResponse> {
    record!(ErrorResponse { err: error_code() })
}

pub fn multi_header() -> impl Strategy<Value = MultiHeader> {
    record!(MultiHeader {
        op_type: any::<i32>(),
        done: any::<bool>(),
        err: any::<i32>(),
    })
}

// ---- request records ----

pub fn create_request() -> impl Strategy<Value = CreateRequest> {
    record!(CreateRequest {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        flags: any::<i32>(),
    })
}

pub fn create_ttl_request() -> impl Strategy<Value = CreateTtlRequest> {
    record!(CreateTtlRequest {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        flags: any::<i32>(),
        ttl: any::<i64>(),
    })
}

pub fn delete_request() -> impl Strategy<Value = DeleteRequest> {
    record!(DeleteRequest {
        path: string(),
        version: any::<i32>(),
    })
}

pub fn exists_request() -> impl Strategy<Value = ExistsRequest> {
    record!(ExistsRequest {
        path: string(),
        watch: any::<bool>(),
    })
}

pub fn get_data_request() -> impl Strategy<Value = GetDataRequest> {
    record!(GetDataRequest {
        path: string(),
        watch: any::<bool>(),
    })
}

pub fn set_data_request() -> impl Strategy<Value = SetDataRequest> {
    record!(SetDataRequest {
        path: string(),
        data: opt_bytes(),
        version: any::<i32>(),
    })
}

pub fn get_acl_request() -> impl Strategy<Value = GetAclRequest> {
    record!(GetAclRequest { path: string() })
}

pub fn set_acl_request() -> impl Strategy<Value = SetAclRequest> {
    record!(SetAclRequest {
        path: string(),
        acl: acls(),
        version: any::<i32>(),
    })
}

pub fn get_children_request() -> impl Strategy<Value = GetChildrenRequest> {
    record!(GetChildrenRequest {
        path: string(),
        watch: any::<bool>(),
    })
}

pub fn get_children2_request() -> impl Strategy<Value = GetChildren2Request> {
    record!(GetChildren2Request {
        path: string(),
        watch: any::<bool>(),
    })
}

pub fn sync_request() -> impl Strategy<Value = SyncRequest> {
    record!(SyncRequest { path: string() })
}

pub fn check_version_request() -> impl Strategy<Value = CheckVersionRequest> {
    record!(CheckVersionRequest {
        path: string(),
        version: any::<i32>(),
    })
}

pub fn reconfig_request() -> impl Strategy<Value = ReconfigRequest> {
    record!(ReconfigRequest {
        joining_servers: opt_string(),
        leaving_servers: opt_string(),
        new_members: opt_string(),
        cur_config_id: any::<i64>(),
    })
}

pub fn check_watches_request() -> impl Strategy<Value = CheckWatchesRequest> {
    record!(CheckWatchesRequest {
        path: string(),
        watcher_type: watcher_type(),
    })
}

pub fn remove_watches_request() -> impl Strategy<Value = RemoveWatchesRequest> {
    record!(RemoveWatchesRequest {
        path: string(),
        watcher_type: watcher_type(),
    })
}

pub fn delete_container_request() -> impl Strategy<Value = DeleteContainerRequest> {
    record!(DeleteContainerRequest { path: string() })
}

pub fn set_watches() -> impl Strategy<Value = SetWatches> {
    record!(SetWatches {
        relative_zxid: any::<i64>(),
        data_watches: strings(),
        exist_watches: strings(),
        child_watches: strings(),
    })
}

pub fn set_watches2() -> impl Strategy<Value = SetWatches2> {
    record!(SetWatches2 {
        relative_zxid: any::<i64>(),
        data_watches: strings(),
        exist_watches: strings(),
        child_watches: strings(),
        persistent_watches: strings(),
        persistent_recursive_watches: strings(),
    })
}

pub fn get_sasl_request() -> impl Strategy<Value = GetSaslRequest> {
    record!(GetSaslRequest { token: bytes() })
}

pub fn get_ephemerals_request() -> impl Strategy<Value = GetEphemeralsRequest> {
    record!(GetEphemeralsRequest {
        prefix_path: string()
    })
}

pub fn get_all_children_number_request() -> impl Strategy<Value = GetAllChildrenNumberRequest> {
    record!(GetAllChildrenNumberRequest { path: string() })
}

pub fn add_watch_request() -> impl Strategy<Value = AddWatchRequest> {
    record!(AddWatchRequest {
        path: string(),
        mode: add_watch_mode(),
    })
}

pub fn get_stat_persisted_request() -> impl Strategy<Value = GetStatPersistedRequest> {
    record!(GetStatPersistedRequest { path: string() })
}

pub fn get_max_children_request() -> impl Strategy<Value = GetMaxChildrenRequest> {
    record!(GetMaxChildrenRequest { path: string() })
}

pub fn set_max_children_request() -> impl Strategy<Value = SetMaxChildrenRequest> {
    record!(SetMaxChildrenRequest {
        path: string(),
        max: any::<i32>(),
    })
}

pub fn set_sasl_request() -> impl Strategy<Value = SetSaslRequest> {
    record!(SetSaslRequest { token: bytes() })
}

// ---- response records ----

pub fn create_response() -> impl Strategy<Value = CreateResponse> {
    record!(CreateResponse { path: string() })
}

pub fn create2_response() -> impl Strategy<Value = Create2Response> {
    record!(Create2Response {
        path: string(),
        stat: stat(),
    })
}

pub fn exists_response() -> impl Strategy<Value = ExistsResponse> {
    record!(ExistsResponse { stat: stat() })
}

pub fn get_data_response() -> impl Strategy<Value = GetDataResponse> {
    record!(GetDataResponse {
        data: opt_bytes(),
        stat: stat(),
    })
}

pub fn set_data_response() -> impl Strategy<Value = SetDataResponse> {
    record!(SetDataResponse { stat: stat() })
}

pub fn get_acl_response() -> impl Strategy<Value = GetAclResponse> {
    record!(GetAclResponse {
        acl: acls(),
        stat: stat(),
    })
}

pub fn set_acl_response() -> impl Strategy<Value = SetAclResponse> {
    record!(SetAclResponse { stat: stat() })
}

pub fn get_children_response() -> impl Strategy<Value = GetChildrenResponse> {
    record!(GetChildrenResponse {
        children: strings()
    })
}

pub fn get_children2_response() -> impl Strategy<Value = GetChildren2Response> {
    record!(GetChildren2Response {
        children: strings(),
        stat: stat(),
    })
}

pub fn sync_response() -> impl Strategy<Value = SyncResponse> {
    record!(SyncResponse { path: string() })
}

pub fn set_sasl_response() -> impl Strategy<Value = SetSaslResponse> {
    record!(SetSaslResponse { token: bytes() })
}

pub fn get_ephemerals_response() -> impl Strategy<Value = GetEphemeralsResponse> {
    record!(GetEphemeralsResponse {
        ephemerals: strings()
    })
}

pub fn get_all_children_number_response() -> impl Strategy<Value = GetAllChildrenNumberResponse> {
    record!(GetAllChildrenNumberResponse {
        total_number: any::<i32>()
    })
}

pub fn client_info() -> impl Strategy<Value = ClientInfo> {
    record!(ClientInfo {
        auth_scheme: string(),
        user: string(),
    })
}

pub fn who_am_i_response() -> impl Strategy<Value = WhoAmIResponse> {
    record!(WhoAmIResponse {
        client_info: vec(client_info(), 0..4)
    })
}

pub fn get_stat_persisted_response() -> impl Strategy<Value = GetStatPersistedResponse> {
    record!(GetStatPersistedResponse {
        stat_persisted: stat_persisted()
    })
}

pub fn get_max_children_response() -> impl Strategy<Value = GetMaxChildrenResponse> {
    record!(GetMaxChildrenResponse { max: any::<i32>() })
}

// ---- multi ----

/// One op allowed in an atomic `multi`.
pub fn multi_write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create_request().prop_map(MultiOp::Create),
        create_request().prop_map(MultiOp::Create2),
        create_request().prop_map(MultiOp::CreateContainer),
        create_ttl_request().prop_map(MultiOp::CreateTtl),
        delete_request().prop_map(MultiOp::Delete),
        set_data_request().prop_map(MultiOp::SetData),
        check_version_request().prop_map(MultiOp::Check),
    ]
}

/// One op allowed in a `multiRead`.
pub fn multi_read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        get_children_request().prop_map(MultiOp::GetChildren),
        get_data_request().prop_map(MultiOp::GetData),
    ]
}

/// A `multi` body: writes only (possibly none).
pub fn multi_write_request() -> impl Strategy<Value = MultiRequest> {
    vec(multi_write_op(), 0..6).prop_map(|ops| MultiRequest { ops })
}

/// A `multiRead` body: reads only (possibly none).
pub fn multi_read_request() -> impl Strategy<Value = MultiRequest> {
    vec(multi_read_op(), 0..6).prop_map(|ops| MultiRequest { ops })
}

/// Either kind of multi body.
pub fn multi_request() -> impl Strategy<Value = MultiRequest> {
    prop_oneof![multi_write_request(), multi_read_request()]
}

/// Any single result, error results included.
pub fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        create_response().prop_map(MultiResult::Create),
        create2_response().prop_map(MultiResult::Create2),
        Just(MultiResult::Delete),
        set_data_response().prop_map(MultiResult::SetData),
        Just(MultiResult::Check),
        get_children_response().prop_map(MultiResult::GetChildren),
        get_data_response().prop_map(MultiResult::GetData),
        error_code().prop_map(MultiResult::Error),
    ]
}

/// The results of a failed atomic multi: `Ok` before the failing op, its code, then
/// `RuntimeInconsistency`. Returns the response, the failing index and its code.
pub fn failed_multi_response() -> impl Strategy<Value = (MultiResponse, usize, ErrorCode)> {
    let failure = error_code().prop_filter("a real failure code", |code| {
        !code.is_ok() && *code != ErrorCode::RuntimeInconsistency
    });
    (1usize..8, failure)
        .prop_flat_map(|(len, code)| (Just(len), 0..len, Just(code)))
        .prop_map(|(len, failed, code)| {
            let results = (0..len)
                .map(|i| {
                    MultiResult::Error(match i.cmp(&failed) {
                        std::cmp::Ordering::Less => ErrorCode::Ok,
                        std::cmp::Ordering::Equal => code,
                        std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                    })
                })
                .collect();
            (MultiResponse { results }, failed, code)
        })
}

/// Any multi response: arbitrary result lists and failed atomic multis.
pub fn multi_response() -> impl Strategy<Value = MultiResponse> {
    prop_oneof![
        vec(multi_result(), 0..6).prop_map(|results| MultiResponse { results }),
        failed_multi_response().prop_map(|(response, _, _)| response),
    ]
}

// ---- txn ----

pub fn txn_header() -> impl Strategy<Value = TxnHeader> {
    record!(TxnHeader {
        client_id: any::<i64>(),
        cxid: any::<i32>(),
        zxid: any::<i64>(),
        time: any::<i64>(),
        txn_type: any::<i32>(),
    })
}

pub fn txn_digest() -> impl Strategy<Value = TxnDigest> {
    record!(TxnDigest {
        version: any::<i32>(),
        tree_digest: any::<i64>(),
    })
}

pub fn create_txn_v0() -> impl Strategy<Value = CreateTxnV0> {
    record!(CreateTxnV0 {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        ephemeral: any::<bool>(),
    })
}

pub fn create_txn() -> impl Strategy<Value = CreateTxn> {
    record!(CreateTxn {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        ephemeral: any::<bool>(),
        parent_c_version: any::<i32>(),
    })
}

pub fn create_ttl_txn() -> impl Strategy<Value = CreateTtlTxn> {
    record!(CreateTtlTxn {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        parent_c_version: any::<i32>(),
        ttl: any::<i64>(),
    })
}

pub fn create_container_txn() -> impl Strategy<Value = CreateContainerTxn> {
    record!(CreateContainerTxn {
        path: string(),
        data: opt_bytes(),
        acl: acls(),
        parent_c_version: any::<i32>(),
    })
}

pub fn delete_txn() -> impl Strategy<Value = DeleteTxn> {
    record!(DeleteTxn { path: string() })
}

pub fn set_data_txn() -> impl Strategy<Value = SetDataTxn> {
    record!(SetDataTxn {
        path: string(),
        data: opt_bytes(),
        version: any::<i32>(),
    })
}

pub fn check_version_txn() -> impl Strategy<Value = CheckVersionTxn> {
    record!(CheckVersionTxn {
        path: string(),
        version: any::<i32>(),
    })
}

pub fn set_acl_txn() -> impl Strategy<Value = SetAclTxn> {
    record!(SetAclTxn {
        path: string(),
        acl: acls(),
        version: any::<i32>(),
    })
}

pub fn set_max_children_txn() -> impl Strategy<Value = SetMaxChildrenTxn> {
    record!(SetMaxChildrenTxn {
        path: string(),
        max: any::<i32>(),
    })
}

pub fn create_session_txn() -> impl Strategy<Value = CreateSessionTxn> {
    record!(CreateSessionTxn {
        time_out: any::<i32>()
    })
}

pub fn close_session_txn() -> impl Strategy<Value = CloseSessionTxn> {
    record!(CloseSessionTxn {
        paths2_delete: strings()
    })
}

pub fn error_txn() -> impl Strategy<Value = ErrorTxn> {
    record!(ErrorTxn { err: any::<i32>() })
}

pub fn txn() -> impl Strategy<Value = Txn> {
    record!(Txn {
        txn_type: any::<i32>(),
        data: bytes(),
    })
}

pub fn multi_txn() -> impl Strategy<Value = MultiTxn> {
    record!(MultiTxn {
        txns: vec(txn(), 0..4)
    })
}

pub fn file_header() -> impl Strategy<Value = FileHeader> {
    record!(FileHeader {
        magic: any::<i32>(),
        version: any::<i32>(),
        dbid: any::<i64>(),
    })
}

// ---- quorum ----

pub fn learner_info() -> impl Strategy<Value = LearnerInfo> {
    record!(LearnerInfo {
        serverid: any::<i64>(),
        protocol_version: any::<i32>(),
        config_version: any::<i64>(),
    })
}

pub fn quorum_packet() -> impl Strategy<Value = QuorumPacket> {
    record!(QuorumPacket {
        packet_type: any::<i32>(),
        zxid: any::<i64>(),
        data: opt_bytes(),
        authinfo: vec(id(), 0..4),
    })
}

pub fn quorum_auth_packet() -> impl Strategy<Value = QuorumAuthPacket> {
    record!(QuorumAuthPacket {
        magic: any::<i64>(),
        status: any::<i32>(),
        token: opt_bytes(),
    })
}

// ---- whole messages, keyed by op code ----

/// A request body strategy for `op`, or `None` for op codes clients never send.
pub fn request_for(op: OpCode) -> Option<BoxedStrategy<Request>> {
    use OpCode as O;
    Some(match op {
        O::Create => create_request().prop_map(Request::Create).boxed(),
        O::Delete => delete_request().prop_map(Request::Delete).boxed(),
        O::Exists => exists_request().prop_map(Request::Exists).boxed(),
        O::GetData => get_data_request().prop_map(Request::GetData).boxed(),
        O::SetData => set_data_request().prop_map(Request::SetData).boxed(),
        O::GetAcl => get_acl_request().prop_map(Request::GetAcl).boxed(),
        O::SetAcl => set_acl_request().prop_map(Request::SetAcl).boxed(),
        O::GetChildren => get_children_request()
            .prop_map(Request::GetChildren)
            .boxed(),
        O::Sync => sync_request().prop_map(Request::Sync).boxed(),
        O::Ping => Just(Request::Ping).boxed(),
        O::GetChildren2 => get_children2_request()
            .prop_map(Request::GetChildren2)
            .boxed(),
        O::Check => check_version_request().prop_map(Request::Check).boxed(),
        O::Multi => multi_write_request().prop_map(Request::Multi).boxed(),
        O::Create2 => create_request().prop_map(Request::Create2).boxed(),
        O::Reconfig => reconfig_request().prop_map(Request::Reconfig).boxed(),
        O::CheckWatches => check_watches_request()
            .prop_map(Request::CheckWatches)
            .boxed(),
        O::RemoveWatches => remove_watches_request()
            .prop_map(Request::RemoveWatches)
            .boxed(),
        O::CreateContainer => create_request().prop_map(Request::CreateContainer).boxed(),
        O::DeleteContainer => delete_container_request()
            .prop_map(Request::DeleteContainer)
            .boxed(),
        O::CreateTtl => create_ttl_request().prop_map(Request::CreateTtl).boxed(),
        O::MultiRead => multi_read_request().prop_map(Request::MultiRead).boxed(),
        O::Auth => auth_packet().prop_map(Request::Auth).boxed(),
        O::SetWatches => set_watches().prop_map(Request::SetWatches).boxed(),
        O::Sasl => get_sasl_request().prop_map(Request::Sasl).boxed(),
        O::GetEphemerals => get_ephemerals_request()
            .prop_map(Request::GetEphemerals)
            .boxed(),
        O::GetAllChildrenNumber => get_all_children_number_request()
            .prop_map(Request::GetAllChildrenNumber)
            .boxed(),
        O::SetWatches2 => set_watches2().prop_map(Request::SetWatches2).boxed(),
        O::AddWatch => add_watch_request().prop_map(Request::AddWatch).boxed(),
        O::WhoAmI => Just(Request::WhoAmI).boxed(),
        O::CloseSession => Just(Request::CloseSession).boxed(),
        _ => return None,
    })
}

/// A successful reply body strategy for a request with op code `op`, or `None` for op codes
/// that are never answered with a reply body decoded by op code.
pub fn response_for(op: OpCode) -> Option<BoxedStrategy<Response>> {
    use OpCode as O;
    Some(match op {
        O::Create => create_response().prop_map(Response::Create).boxed(),
        O::Create2 | O::CreateContainer | O::CreateTtl => {
            create2_response().prop_map(Response::Create2).boxed()
        }
        O::Exists => exists_response().prop_map(Response::Exists).boxed(),
        O::GetData => get_data_response().prop_map(Response::GetData).boxed(),
        O::SetData => set_data_response().prop_map(Response::SetData).boxed(),
        O::GetAcl => get_acl_response().prop_map(Response::GetAcl).boxed(),
        O::SetAcl => set_acl_response().prop_map(Response::SetAcl).boxed(),
        O::GetChildren => get_children_response()
            .prop_map(Response::GetChildren)
            .boxed(),
        O::GetChildren2 => get_children2_response()
            .prop_map(Response::GetChildren2)
            .boxed(),
        O::Sync => sync_response().prop_map(Response::Sync).boxed(),
        O::Multi => multi_response().prop_map(Response::Multi).boxed(),
        O::MultiRead => multi_response().prop_map(Response::MultiRead).boxed(),
        O::Reconfig => get_data_response().prop_map(Response::Reconfig).boxed(),
        O::Sasl => set_sasl_response().prop_map(Response::Sasl).boxed(),
        O::GetEphemerals => get_ephemerals_response()
            .prop_map(Response::GetEphemerals)
            .boxed(),
        O::GetAllChildrenNumber => get_all_children_number_response()
            .prop_map(Response::GetAllChildrenNumber)
            .boxed(),
        O::WhoAmI => who_am_i_response().prop_map(Response::WhoAmI).boxed(),
        O::AddWatch => error_response().prop_map(Response::AddWatch).boxed(),
        O::Delete
        | O::Ping
        | O::CheckWatches
        | O::RemoveWatches
        | O::DeleteContainer
        | O::Auth
        | O::SetWatches
        | O::SetWatches2
        | O::CloseSession
        | O::Check => Just(Response::Empty).boxed(),
        _ => return None,
    })
}

/// The known op codes for which `f` has a strategy.
pub fn ops_with<T>(f: fn(OpCode) -> Option<T>) -> Vec<OpCode> {
    OpCode::ALL
        .iter()
        .copied()
        .filter(|op| f(*op).is_some())
        .collect()
}

/// Any request, with its op code.
pub fn any_request() -> impl Strategy<Value = Request> {
    Union::new(ops_with(request_for).into_iter().filter_map(request_for))
}

/// Any successful reply body, with the op code of the request it answers.
pub fn any_response() -> impl Strategy<Value = (OpCode, Response)> {
    Union::new(
        ops_with(response_for)
            .into_iter()
            .filter_map(|op| response_for(op).map(|s| s.prop_map(move |r| (op, r)))),
    )
}

/// A whole request frame as a client sends it (length prefix included).
pub fn request_frame(xid: i32, request: &Request) -> BytesMut {
    let mut wire = BytesMut::new();
    encode_request(&mut wire, xid, request);
    wire
}

/// A whole reply frame as a server sends it (length prefix included).
pub fn reply_frame(header: &ReplyHeader, body: Option<&Response>) -> BytesMut {
    let mut wire = BytesMut::new();
    encode_reply(&mut wire, header, body);
    wire
}
