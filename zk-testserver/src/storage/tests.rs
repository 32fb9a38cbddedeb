use bytes::{Bytes, BytesMut};
use zk_proto::Acl;

use super::*;
use crate::core::{CoreConfig, ServerCore};
use crate::txn::{LoggedTxn, Txn};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zk-storage-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn txn(zxid: i64) -> LoggedTxn {
    LoggedTxn {
        zxid,
        time: 1000 + zxid,
        session_id: 5,
        cxid: 0,
        txn: Txn::Multi(vec![
            Txn::Create {
                path: format!("/n{zxid}"),
                data: Some(Bytes::from_static(b"data")),
                acl: Acl::open_unsafe(),
                ephemeral_owner: 0,
                parent_cversion: zxid as i32,
            },
            Txn::Check {
                path: "/".into(),
                version: 0,
            },
        ]),
    }
}

#[test]
fn crc_matches_zlib() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn logged_txns_round_trip() {
    let t = txn(3);
    let mut buf = BytesMut::new();
    encode_logged(&t, &mut buf);
    assert_eq!(decode_logged(&buf).unwrap(), t);
    assert!(decode_logged(&buf[..buf.len() - 1]).is_err());
}

#[test]
fn append_recover_and_snapshot() {
    let dir = temp_dir("basic");
    let (mut s, r) = Storage::open(&dir, true, [1; 32]).unwrap();
    assert_eq!((r.zxid, r.txns.len(), r.secret), (0, 0, [1; 32]));
    s.append(&[txn(1), txn(2)]).unwrap();
    drop(s);
    let (mut s, r) = Storage::open(&dir, true, [2; 32]).unwrap();
    assert_eq!(r.secret, [1; 32], "the stored secret wins");
    assert_eq!(r.txns, vec![txn(1), txn(2)]);
    let mut core =
        ServerCore::from_state(CoreConfig::with_tick(100), r.tree, r.sessions, r.zxid, 0);
    for t in &r.txns {
        core.apply_logged(t, 0);
    }
    s.snapshot(&core).unwrap();
    s.append(&[txn(3)]).unwrap();
    drop(s);
    let (_s, r) = Storage::open(&dir, true, [2; 32]).unwrap();
    assert_eq!(r.zxid, 2);
    assert!(r.tree.get("/n1").is_some() && r.tree.get("/n2").is_some());
    assert_eq!(r.txns, vec![txn(3)]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn torn_tail_is_cut_at_every_offset() {
    let dir = temp_dir("torn");
    let (mut s, _) = Storage::open(&dir, false, [1; 32]).unwrap();
    s.append(&[txn(1), txn(2), txn(3)]).unwrap();
    let log = s.log_path().to_path_buf();
    drop(s);
    let full = fs::read(&log).unwrap();
    // Record boundaries, to know how many records must survive each cut.
    let mut ends = Vec::new();
    let mut pos = LOG_MAGIC.len();
    while pos < full.len() {
        let len = u32::from_be_bytes(full[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
        ends.push(pos);
    }
    for cut in 0..=full.len() {
        fs::write(&log, &full[..cut]).unwrap();
        let (s, r) = Storage::open(&dir, false, [1; 32]).unwrap();
        let intact = ends.iter().filter(|e| **e <= cut).count();
        assert_eq!(r.txns.len(), intact, "cut at {cut}");
        drop(s);
        // Garbage in the tail (a flipped byte) is refused too.
        if cut > LOG_MAGIC.len() + 9 && cut == full.len() {
            let mut bad = full.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            fs::write(&log, &bad).unwrap();
            let (_s, r) = Storage::open(&dir, false, [1; 32]).unwrap();
            assert_eq!(r.txns.len(), 2);
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn gaps_are_refused() {
    let dir = temp_dir("gap");
    let (mut s, _) = Storage::open(&dir, false, [1; 32]).unwrap();
    s.append(&[txn(1), txn(3)]).unwrap();
    drop(s);
    assert!(Storage::open(&dir, false, [1; 32]).is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn crc32_matches_the_bitwise_definition() {
    fn bitwise(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for b in data {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let data: Vec<u8> = (0..1500u32).map(|i| (i * 131 % 251) as u8).collect();
    for len in (0..70).chain([1023, 1024, 1025, 1500]) {
        for start in 0..3 {
            let end = (start + len).min(data.len());
            assert_eq!(
                crc32(&data[start..end]),
                bitwise(&data[start..end]),
                "len {len}"
            );
        }
    }
}

/// Writes a small data dir: two logged txns, a snapshot at zxid 2, one more txn.
fn write_sample_dir(dir: &Path) {
    let (mut s, _) = Storage::open(dir, false, [2; 32]).unwrap();
    s.append(&[txn(1), txn(2)]).unwrap();
    drop(s);
    let (mut s, r) = Storage::open(dir, false, [2; 32]).unwrap();
    let mut core =
        ServerCore::from_state(CoreConfig::with_tick(100), r.tree, r.sessions, r.zxid, 0);
    for t in &r.txns {
        core.apply_logged(t, 0);
    }
    s.snapshot(&core).unwrap();
    s.append(&[txn(3)]).unwrap();
}

/// A data dir written by the hand-written CRC-32 that `crc32fast` replaced (`golden/`, made
/// with `ZK_WRITE_GOLDEN=1` before the switch) recovers, and the same writes now produce the
/// same bytes: the on-disk format did not change.
#[test]
fn data_dirs_written_before_crc32fast_still_read() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage/golden");
    let dir = temp_dir("golden-write");
    write_sample_dir(&dir);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    if std::env::var_os("ZK_WRITE_GOLDEN").is_some() {
        fs::create_dir_all(&golden).unwrap();
        for name in &names {
            fs::copy(dir.join(name), golden.join(name)).unwrap();
        }
    }
    let mut golden_names: Vec<_> = fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    golden_names.sort();
    assert_eq!(names, golden_names);
    for name in &names {
        assert_eq!(
            fs::read(dir.join(name)).unwrap(),
            fs::read(golden.join(name)).unwrap(),
            "{name:?} differs from the golden copy"
        );
    }
    let copy = temp_dir("golden-read");
    fs::create_dir_all(&copy).unwrap();
    for name in &names {
        fs::copy(golden.join(name), copy.join(name)).unwrap();
    }
    let (_s, r) = Storage::open(&copy, false, [9; 32]).unwrap();
    assert_eq!(r.secret, [2; 32]);
    assert_eq!(r.zxid, 2);
    assert!(r.tree.get("/n1").is_some() && r.tree.get("/n2").is_some());
    assert_eq!(r.txns, vec![txn(3)]);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&copy);
}
