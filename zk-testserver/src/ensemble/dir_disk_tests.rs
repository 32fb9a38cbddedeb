//! [`DirDisk`]: persist and reload, truncate, replace (and an interrupted replace), torn tails,
//! segment rolling.

use std::fs;
use std::path::PathBuf;

use bytes::Bytes;
use zk_proto::Acl;

use super::*;
use crate::replication::make_zxid;
use crate::txn::Txn;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("zk-dirdisk-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn txn(epoch: u32, counter: u32) -> LoggedTxn {
    let zxid = make_zxid(epoch, counter);
    LoggedTxn {
        zxid,
        time: 1000 + zxid,
        session_id: 7,
        // Not kept on disk (only a live member needs it).
        cxid: 0,
        txn: Txn::Create {
            path: format!("/n{epoch}-{counter}"),
            data: Some(Bytes::from(vec![counter as u8; 100])),
            acl: Acl::open_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: counter as i32,
        },
    }
}

fn txns(epoch: u32, counters: std::ops::RangeInclusive<u32>) -> Vec<LoggedTxn> {
    counters.map(|c| txn(epoch, c)).collect()
}

/// A snapshot of an empty state at `zxid`.
fn snap(zxid: i64) -> Snapshot {
    Snapshot {
        zxid,
        data: crate::storage::encode_snapshot_file(zxid, &crate::tree::DataTree::new(), &[]),
    }
}

fn reload(dir: &TempDir) -> DurableState {
    DirDisk::new(&dir.0).load().expect("load")
}

/// What a [`MemoryDisk`](super::super::MemoryDisk) would hold after the same ops.
fn expected(ops: &[PersistOp]) -> DurableState {
    let mut d = DurableState::default();
    for op in ops {
        d.apply(op);
    }
    d
}

#[test]
fn persists_epochs_and_appends_and_reloads_them() {
    let dir = TempDir::new("append");
    let mut disk = DirDisk::new(&dir.0);
    assert_eq!(disk.load().unwrap(), DurableState::default());
    let ops = vec![
        PersistOp::Epochs {
            accepted: 1,
            current: 0,
        },
        PersistOp::Epochs {
            accepted: 1,
            current: 1,
        },
        PersistOp::Append(txns(1, 1..=3)),
    ];
    disk.persist(&ops[..2]).unwrap();
    disk.persist(&ops[2..]).unwrap();
    let more = PersistOp::Append(txns(1, 4..=5));
    disk.persist(std::slice::from_ref(&more)).unwrap();
    let mut all = ops.clone();
    all.push(more);
    assert_eq!(reload(&dir), expected(&all));
    let files = fs::read_dir(disk.dir()).unwrap().count();
    assert_eq!(
        fs::read_to_string(disk.dir().join("currentEpoch")).unwrap(),
        "1"
    );
    // Two epoch files and one log segment, no temp files left behind.
    assert_eq!(files, 3);
    // A reloaded disk appends where the log ended.
    let mut again = DirDisk::new(&dir.0);
    again.load().unwrap();
    let next = PersistOp::Append(txns(2, 1..=2));
    again.persist(std::slice::from_ref(&next)).unwrap();
    all.push(next);
    assert_eq!(reload(&dir), expected(&all));
}

#[test]
fn truncates_within_and_across_segments() {
    let dir = TempDir::new("truncate");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let mut ops = vec![PersistOp::Append(txns(1, 1..=4))];
    disk.persist(&ops).unwrap();
    // Force a second and a third segment.
    for (epoch, range) in [(2, 1..=3), (3, 1..=2)] {
        disk.segments
            .last_mut()
            .unwrap()
            .records
            .last_mut()
            .unwrap()
            .1 += SEGMENT_BYTES;
        let op = PersistOp::Append(txns(epoch, range));
        disk.persist(std::slice::from_ref(&op)).unwrap();
        // Undo the fake size so offsets stay right.
        let n = disk.segments.len();
        disk.segments[n - 2].records.last_mut().unwrap().1 -= SEGMENT_BYTES;
        ops.push(op);
    }
    assert_eq!(disk.segments.len(), 3);
    // Into the middle segment: the last one goes, the middle one is cut.
    let cut = PersistOp::Truncate {
        after: make_zxid(2, 2),
    };
    disk.persist(std::slice::from_ref(&cut)).unwrap();
    ops.push(cut);
    assert_eq!(disk.segments.len(), 2);
    let after = PersistOp::Append(txns(4, 1..=2));
    disk.persist(std::slice::from_ref(&after)).unwrap();
    ops.push(after);
    assert_eq!(reload(&dir), expected(&ops));
    // Within the first segment, and to nothing at all.
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    for after in [make_zxid(1, 2), 0] {
        let cut = PersistOp::Truncate { after };
        disk.persist(std::slice::from_ref(&cut)).unwrap();
        ops.push(cut);
        assert_eq!(reload(&dir), expected(&ops));
    }
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let fresh = PersistOp::Append(txns(5, 1..=1));
    disk.persist(std::slice::from_ref(&fresh)).unwrap();
    ops.push(fresh);
    assert_eq!(reload(&dir), expected(&ops));
}

#[test]
fn installs_a_snapshot_and_log_and_finishes_an_interrupted_install() {
    let dir = TempDir::new("replace");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let mut ops = vec![
        PersistOp::Append(txns(1, 1..=5)),
        PersistOp::Install {
            snapshot: snap(make_zxid(1, 4)),
            entries: txns(2, 1..=3),
        },
        PersistOp::Append(txns(2, 4..=4)),
    ];
    disk.persist(&ops).unwrap();
    assert_eq!(reload(&dir), expected(&ops));
    // A crash after `log.replace` was complete but before the old segments went: the load
    // installs it.
    let other = TempDir::new("replace-src");
    let mut src = DirDisk::new(&other.0);
    src.load().unwrap();
    src.persist(&[PersistOp::Append(txns(3, 1..=2))]).unwrap();
    let segment = &src.segments[0].path;
    fs::copy(segment, disk.dir().join("log.replace")).unwrap();
    ops.push(PersistOp::Install {
        snapshot: snap(make_zxid(1, 4)),
        entries: txns(3, 1..=2),
    });
    assert_eq!(reload(&dir), expected(&ops));
    // A crash while `log.replace.tmp` was written: the old log stays.
    fs::write(disk.dir().join("log.replace.tmp"), b"ZKRSLOG1\0\0").unwrap();
    assert_eq!(reload(&dir), expected(&ops));
    assert!(!disk.dir().join("log.replace.tmp").exists());
    // Replacing with nothing empties the log.
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let empty = PersistOp::Install {
        snapshot: snap(make_zxid(3, 2)),
        entries: Vec::new(),
    };
    disk.persist(std::slice::from_ref(&empty)).unwrap();
    ops.push(empty);
    assert_eq!(reload(&dir), expected(&ops));
}

#[test]
fn a_torn_tail_is_dropped_and_appends_continue_after_the_intact_prefix() {
    let dir = TempDir::new("torn");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let mut ops = vec![PersistOp::Append(txns(1, 1..=3))];
    disk.persist(&ops).unwrap();
    let path = disk.segments[0].path.clone();
    let intact = disk.segments[0].records[1].1;
    let full = fs::metadata(&path).unwrap().len();
    // The third record cut in the middle, as a kill -9 during the write leaves it.
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(full - 7).unwrap();
    drop(f);
    let loaded = reload(&dir);
    assert_eq!(loaded.log, txns(1, 1..=2));
    assert_eq!(fs::metadata(&path).unwrap().len(), intact);
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let next = PersistOp::Append(txns(1, 3..=4));
    disk.persist(std::slice::from_ref(&next)).unwrap();
    ops = vec![PersistOp::Append(txns(1, 1..=2)), next];
    assert_eq!(reload(&dir), expected(&ops));
    // Garbage after the last record (a checksum that does not match) is dropped too.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0, 0, 0, 4, 1, 2, 3, 4, 9, 9, 9, 9]).unwrap();
    drop(f);
    assert_eq!(reload(&dir), expected(&ops));
}

#[test]
fn a_corrupt_epoch_file_is_an_error_not_a_zero() {
    let dir = TempDir::new("epoch");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    fs::write(disk.dir().join("acceptedEpoch"), "x1").unwrap();
    let err = DirDisk::new(&dir.0).load().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn keeps_the_dynamic_config_a_reconfig_persisted() {
    let dir = TempDir::new("config");
    assert_eq!(reload(&dir).config, None);
    let ops = [
        PersistOp::Append(txns(1, 1..=2)),
        PersistOp::Config("server.1=127.0.0.1:1:2:participant;0.0.0.0:3\nversion=1".into()),
        PersistOp::Config("server.2=127.0.0.1:4:5:participant;0.0.0.0:6\nversion=2".into()),
    ];
    DirDisk::new(&dir.0).persist(&ops).expect("persist");
    assert_eq!(reload(&dir), expected(&ops));
    let disk = DirDisk::new(&dir.0);
    let text = fs::read_to_string(disk.dir().join("zoo.cfg.dynamic")).expect("the file");
    assert!(text.ends_with("version=2"), "{text}");
}

fn files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn snapshots_roll_the_log_and_purges_delete_what_the_older_snapshot_covers() {
    let dir = TempDir::new("snapshots");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let mut ops = vec![
        PersistOp::Append(txns(1, 1..=5)),
        PersistOp::Snapshot(snap(make_zxid(1, 5))),
        PersistOp::Append(txns(1, 6..=9)),
        PersistOp::Snapshot(snap(make_zxid(1, 9))),
        PersistOp::Purge {
            before: make_zxid(1, 5),
        },
        PersistOp::Append(txns(1, 10..=12)),
    ];
    disk.persist(&ops).unwrap();
    let v2 = disk.dir().to_path_buf();
    assert_eq!(
        files(&v2, "snapshot."),
        ["snapshot.0000000100000005", "snapshot.0000000100000009"]
    );
    // A segment per snapshot interval; the one holding only txns up to 1:5 is gone.
    assert_eq!(
        files(&v2, "log."),
        ["log.0000000100000006", "log.000000010000000a"]
    );
    assert_eq!(reload(&dir), expected(&ops));
    // The next snapshot's purge drops the snapshot at 1:5 and the segment up to 1:9.
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let more = [
        PersistOp::Snapshot(snap(make_zxid(1, 12))),
        PersistOp::Purge {
            before: make_zxid(1, 9),
        },
    ];
    disk.persist(&more).unwrap();
    ops.extend(more);
    assert_eq!(
        files(&v2, "snapshot."),
        ["snapshot.0000000100000009", "snapshot.000000010000000c"]
    );
    assert_eq!(files(&v2, "log."), ["log.000000010000000a"]);
    assert_eq!(reload(&dir), expected(&ops));
}

#[test]
fn a_damaged_or_misnamed_snapshot_is_left_out_of_the_load() {
    let dir = TempDir::new("bad-snapshot");
    let mut disk = DirDisk::new(&dir.0);
    disk.load().unwrap();
    let ops = vec![
        PersistOp::Append(txns(1, 1..=4)),
        PersistOp::Snapshot(snap(make_zxid(1, 2))),
        PersistOp::Snapshot(snap(make_zxid(1, 4))),
    ];
    disk.persist(&ops).unwrap();
    let v2 = disk.dir().to_path_buf();
    let newest = v2.join("snapshot.0000000100000004");
    let mut bytes = fs::read(&newest).unwrap();
    let n = bytes.len();
    bytes[n - 6] ^= 1;
    fs::write(&newest, &bytes).unwrap();
    // A copy under another zxid's name, and a temp file a crash left.
    fs::copy(
        v2.join("snapshot.0000000100000002"),
        v2.join("snapshot.0000000100000003"),
    )
    .unwrap();
    fs::write(v2.join("snapshot.0000000100000005.tmp"), b"partial").unwrap();
    let loaded = reload(&dir);
    assert_eq!(loaded.snapshots, vec![snap(make_zxid(1, 2))]);
    assert_eq!(loaded.log, txns(1, 1..=4));
    assert!(!v2.join("snapshot.0000000100000005.tmp").exists());
}
