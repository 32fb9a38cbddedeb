use bytes::Bytes;
use zk_proto::{
    Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ErrorCode, Id,
    MultiOp, MultiRequest, Request, SetAclRequest, SetDataRequest,
};

use super::*;
use crate::tree::DataTree;
use crate::txn::Txn;

const AUTH: &[Id] = &[];

fn ctx() -> PrepContext<'static> {
    PrepContext {
        session_id: 9,
        auth: AUTH,
        extended_types: true,
        reconfig_enabled: false,
    }
}

fn create_req(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"x")),
        acl: Acl::open_unsafe(),
        flags,
    }
}

/// Preps and applies, like the standalone server.
fn run(tree: &mut DataTree, zxid: &mut i64, req: Request) -> Txn {
    let mut pending = Pending::default();
    *zxid += 1;
    let txn = prepare(tree, &mut pending, &ctx(), &req, *zxid).expect("a write");
    tree.apply(&txn, *zxid, 0);
    txn
}

#[test]
fn create_checks_in_zookeeper_order() {
    let mut tree = DataTree::new();
    let mut z = 0;
    assert!(matches!(
        run(&mut tree, &mut z, Request::Create(create_req("/a", 0))),
        Txn::Create { .. }
    ));
    let cases = [
        (create_req("/a", 0), ErrorCode::NodeExists),
        (create_req("/x/y", 0), ErrorCode::NoNode),
        (create_req("/a/", 0), ErrorCode::BadArguments),
        // Java looks the parent ("/a/") up before validating the whole path.
        (create_req("/a//b", 0), ErrorCode::NoNode),
        (create_req("a", 0), ErrorCode::BadArguments),
        (create_req("/a/b", 77), ErrorCode::BadArguments),
        (create_req("/a/b", 5), ErrorCode::BadArguments),
        (
            CreateRequest {
                acl: vec![],
                ..create_req("/x/y", 0)
            },
            ErrorCode::InvalidAcl,
        ),
    ];
    for (req, code) in cases {
        let path = req.path.clone();
        assert_eq!(
            run(&mut tree, &mut z, Request::Create(req)),
            Txn::Error(code),
            "{path}"
        );
    }
    run(&mut tree, &mut z, Request::Create(create_req("/e", 1)));
    assert_eq!(
        run(&mut tree, &mut z, Request::Create(create_req("/e/x", 0))),
        Txn::Error(ErrorCode::NoChildrenForEphemerals)
    );
}

#[test]
fn sequence_numbers_come_from_creates_only() {
    let mut tree = DataTree::new();
    let mut z = 0;
    run(&mut tree, &mut z, Request::Create(create_req("/q", 0)));
    let Txn::Create { path, .. } = run(&mut tree, &mut z, Request::Create(create_req("/q/n-", 2)))
    else {
        panic!()
    };
    assert_eq!(path, "/q/n-0000000000");
    run(
        &mut tree,
        &mut z,
        Request::Delete(DeleteRequest {
            path: path.clone(),
            version: -1,
        }),
    );
    let Txn::Create { path, .. } = run(&mut tree, &mut z, Request::Create(create_req("/q/n-", 2)))
    else {
        panic!()
    };
    assert_eq!(path, "/q/n-0000000001");
}

#[test]
fn ttl_rules() {
    let tree = DataTree::new();
    let mut pending = Pending::default();
    let ttl = |flags, ttl| {
        Request::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        })
    };
    let no_ext = PrepContext {
        extended_types: false,
        ..ctx()
    };
    assert_eq!(
        prepare(&tree, &mut pending, &no_ext, &ttl(5, 10), 1),
        Some(Txn::Error(ErrorCode::Unimplemented))
    );
    assert_eq!(
        prepare(&tree, &mut pending, &ctx(), &ttl(5, 0), 1),
        Some(Txn::Error(ErrorCode::BadArguments))
    );
    assert_eq!(
        prepare(&tree, &mut pending, &ctx(), &ttl(0, 10), 1),
        Some(Txn::Error(ErrorCode::BadArguments))
    );
    let Some(Txn::Create {
        ephemeral_owner, ..
    }) = prepare(&tree, &mut pending, &ctx(), &ttl(5, 10), 1)
    else {
        panic!()
    };
    assert_eq!(ephemeral_owner, NodeKind::ttl_owner(10));
}

#[test]
fn versions_acls_and_special_paths() {
    let mut tree = DataTree::new();
    let mut z = 0;
    run(&mut tree, &mut z, Request::Create(create_req("/v", 0)));
    let set = |version| {
        Request::SetData(SetDataRequest {
            path: "/v".into(),
            data: None,
            version,
        })
    };
    assert_eq!(
        run(&mut tree, &mut z, set(3)),
        Txn::Error(ErrorCode::BadVersion)
    );
    assert!(matches!(
        run(&mut tree, &mut z, set(0)),
        Txn::SetData { version: 1, .. }
    ));
    assert_eq!(check_and_inc(-2, -1), Ok(0), "the increment skips -1");
    assert_eq!(check_and_inc(i32::MAX, -1), Ok(i32::MIN));
    let acl = Request::SetAcl(SetAclRequest {
        path: "/v".into(),
        acl: Acl::read_unsafe(),
        version: 0,
    });
    assert!(matches!(
        run(&mut tree, &mut z, acl),
        Txn::SetAcl { version: 1, .. }
    ));
    assert_eq!(
        run(&mut tree, &mut z, set(-1)),
        Txn::Error(ErrorCode::NoAuth)
    );
    for path in ["/", "/zookeeper", "/zookeeper/config"] {
        let del = Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        });
        assert_eq!(
            run(&mut tree, &mut z, del),
            Txn::Error(ErrorCode::BadArguments),
            "{path}"
        );
    }
}

#[test]
fn multi_sees_earlier_ops_and_rolls_back() {
    let mut tree = DataTree::new();
    let mut z = 0;
    let ok = MultiRequest {
        ops: vec![
            MultiOp::Create(create_req("/m", 0)),
            MultiOp::Create(create_req("/m/s-", 2)),
            MultiOp::Create(create_req("/m/s-", 2)),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 0,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/m/s-0000000000".into(),
                version: -1,
            }),
        ],
    };
    let Txn::Multi(ops) = run(&mut tree, &mut z, Request::Multi(ok)) else {
        panic!()
    };
    assert!(matches!(&ops[2], Txn::Create { path, .. } if path == "/m/s-0000000001"));
    assert!(tree.get("/m/s-0000000001").is_some() && tree.get("/m/s-0000000000").is_none());
    let bad = MultiRequest {
        ops: vec![
            MultiOp::Create(create_req("/n", 0)),
            MultiOp::Delete(DeleteRequest {
                path: "/m".into(),
                version: -1,
            }),
            MultiOp::Create(create_req("/n2", 0)),
        ],
    };
    assert_eq!(
        run(&mut tree, &mut z, Request::Multi(bad)),
        Txn::Multi(vec![
            Txn::Error(ErrorCode::Ok),
            Txn::Error(ErrorCode::NotEmpty),
            Txn::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    assert!(tree.get("/n").is_none());
}

#[test]
fn pending_changes_expire_with_their_zxid() {
    let tree = DataTree::new();
    let mut pending = Pending::default();
    prepare(
        &tree,
        &mut pending,
        &ctx(),
        &Request::Create(create_req("/p", 0)),
        1,
    );
    // Not applied yet: a second create sees the pending one.
    assert_eq!(
        prepare(
            &tree,
            &mut pending,
            &ctx(),
            &Request::Create(create_req("/p", 0)),
            2
        ),
        Some(Txn::Error(ErrorCode::NodeExists))
    );
    pending.applied_up_to(1);
    assert!(pending.is_empty());
}
