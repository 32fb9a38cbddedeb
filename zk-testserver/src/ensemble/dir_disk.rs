//! [`DirDisk`]: a member's [`DurableStore`] on its data directory, surviving the process.
//!
//! Files under `<dataDir>/version-2/` (the directory ZooKeeper uses):
//!
//! - `acceptedEpoch` and `currentEpoch`: the epochs in decimal, as ZooKeeper writes them; each
//!   written to a temp file, fsynced, renamed over the old one, and the directory fsynced.
//!   `acceptedEpoch` goes first, so a crash between the two never leaves `current > accepted`.
//! - `log.<first zxid as 16 hex digits>`: segments of the replicated log in the txn log format
//!   of [`crate::storage`] (a header, then `len crc32 payload` records), in zxid order. Appends
//!   go to the last segment (a new one past 64 MiB) and are fsynced before
//!   [`DurableStore::persist`] returns. A record cut short or failing its checksum ends the log:
//!   loading truncates there (a torn write of a killed process was never acknowledged).
//! - `snapshot.<zxid as 16 hex digits>`: the member's snapshots, in [`crate::storage`]'s
//!   snapshot format (sessions and tree, sealed with a CRC-32), each written to a temp file,
//!   fsynced, renamed and the directory fsynced. Loading leaves out a snapshot whose seal or
//!   name does not check (the core then starts from the one before). The log rolls to a new
//!   segment after each snapshot, so a purge deletes whole segments: the snapshots older than
//!   the one it names, and the segments holding only txns at or below it.
//! - `log.replace`: the log a SNAP sync installs after the leader's snapshot. The snapshot is
//!   written first; the log is written as `log.replace.tmp`, fsynced and renamed, so it exists
//!   only complete; then the old segments and snapshots are deleted and it is renamed to a
//!   segment. Loading finishes an install a crash interrupted, so a member holds either its
//!   old log or the new one, never a mix (a crash between the snapshot and the log leaves the
//!   old log behind a newer snapshot, which the core cuts where it stops following it).
//!
//! A truncation deletes whole segments from the newest and cuts the segment holding the last
//! kept txn at a record boundary, fsyncing before it returns.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::BytesMut;

use super::DurableStore;
use crate::replication::{DurableState, PersistOp, Snapshot};
use crate::storage::{encode_records, read_log_records, snapshot_file_sessions, LOG_MAGIC};
use crate::txn::LoggedTxn;

/// A segment grows to about this size before appends start a new one.
const SEGMENT_BYTES: u64 = 64 << 20;

const ACCEPTED_EPOCH: &str = "acceptedEpoch";
const CURRENT_EPOCH: &str = "currentEpoch";
/// The active membership, as ZooKeeper writes its dynamic config file.
const DYNAMIC_CONFIG: &str = "zoo.cfg.dynamic";
const REPLACE: &str = "log.replace";
const REPLACE_TMP: &str = "log.replace.tmp";

fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{zxid:016x}")
}

/// One log file: its first zxid and, for each record, its zxid and the offset just past it.
#[derive(Debug)]
struct Segment {
    first: i64,
    path: PathBuf,
    records: Vec<(i64, u64)>,
}

impl Segment {
    fn len(&self) -> u64 {
        self.records
            .last()
            .map_or(LOG_MAGIC.len() as u64, |&(_, end)| end)
    }
}

/// A [`DurableStore`] on a data directory (see the module docs for the files).
#[derive(Debug)]
pub struct DirDisk {
    dir: PathBuf,
    fsync: bool,
    segments: Vec<Segment>,
    /// The last segment, open for appending.
    current: Option<File>,
    accepted: u32,
    current_epoch: u32,
    /// The next append starts a new segment (a snapshot was just written).
    roll: bool,
    /// Reused between appends.
    scratch: BytesMut,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn segment_name(first: i64) -> String {
    format!("log.{first:016x}")
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).open(path)
}

impl DirDisk {
    /// A disk on `data_dir` (its files live in `data_dir/version-2`), fsyncing every persist.
    /// Nothing is read or created until [`DurableStore::load`].
    pub fn new(data_dir: impl Into<PathBuf>) -> DirDisk {
        DirDisk {
            dir: data_dir.into().join("version-2"),
            fsync: true,
            segments: Vec::new(),
            current: None,
            accepted: 0,
            current_epoch: 0,
            roll: false,
            scratch: BytesMut::new(),
        }
    }

    /// Whether to fsync (`forceSync` in `zoo.cfg`; on by default). Without it a kill -9 still
    /// loses nothing written, but a machine crash may.
    pub fn fsync(mut self, fsync: bool) -> DirDisk {
        self.fsync = fsync;
        self
    }

    /// The directory holding the files (`<dataDir>/version-2`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sync_dir(&self) -> io::Result<()> {
        if self.fsync {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    fn sync_file(&self, f: &File) -> io::Result<()> {
        if self.fsync {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Writes `name` atomically: temp file, fsync, rename, directory fsync.
    fn write_atomic(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(contents)?;
            self.sync_file(&f)?;
        }
        fs::rename(&tmp, self.dir.join(name))?;
        self.sync_dir()
    }

    fn read_epoch(&self, name: &str) -> io::Result<u32> {
        match fs::read_to_string(self.dir.join(name)) {
            Ok(text) => text.trim().parse().map_err(|_| {
                invalid(format!(
                    "{}: not an epoch: {text:?}",
                    self.dir.join(name).display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The `log.<hex>` segment files, by first zxid.
    fn segment_files(&self) -> io::Result<Vec<(i64, PathBuf)>> {
        self.numbered_files("log.")
    }

    /// The `<prefix><16 hex digits>` files, by number.
    fn numbered_files(&self, prefix: &str) -> io::Result<Vec<(i64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
                continue;
            };
            if hex.len() == 16 {
                if let Ok(z) = u64::from_str_radix(hex, 16) {
                    out.push((z as i64, entry.path()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Finishes a SNAP install a crash interrupted: `log.replace` is complete once it exists.
    fn finish_replace(&mut self) -> io::Result<()> {
        let replace = self.dir.join(REPLACE);
        if !replace.exists() {
            let _ = fs::remove_file(self.dir.join(REPLACE_TMP));
            return Ok(());
        }
        for (_, path) in self.segment_files()? {
            fs::remove_file(path)?;
        }
        let records = read_log_records(&replace)?;
        match records.first() {
            Some((txn, _)) => fs::rename(&replace, self.dir.join(segment_name(txn.zxid)))?,
            None => fs::remove_file(&replace)?,
        }
        self.sync_dir()
    }

    fn open_current(&mut self) -> io::Result<()> {
        self.current = match self.segments.last() {
            Some(s) => Some(open_append(&s.path)?),
            None => None,
        };
        Ok(())
    }

    /// Writes a new segment file holding `txns` (a header first) and fsyncs it.
    fn write_segment(&mut self, path: &Path, txns: &[LoggedTxn]) -> io::Result<Vec<(i64, u64)>> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(LOG_MAGIC);
        encode_records(txns, &mut buf)?;
        let records = record_ends(txns, &buf, LOG_MAGIC.len(), 0);
        let result = (|| {
            let mut f = File::create(path)?;
            f.write_all(&buf)?;
            self.sync_file(&f)
        })();
        self.scratch = buf;
        result.map(|()| records)
    }

    fn append(&mut self, txns: &[LoggedTxn]) -> io::Result<()> {
        let Some(first) = txns.first() else {
            return Ok(());
        };
        let roll = self.roll
            || self
                .segments
                .last()
                .map_or(true, |s| s.len() >= SEGMENT_BYTES);
        if roll {
            self.roll = false;
            if let Some(f) = &self.current {
                self.sync_file(f)?;
            }
            let path = self.dir.join(segment_name(first.zxid));
            let records = self.write_segment(&path, txns)?;
            self.sync_dir()?;
            self.segments.push(Segment {
                first: first.zxid,
                path: path.clone(),
                records,
            });
            self.current = Some(open_append(&path)?);
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let result = self.append_records(txns, &mut buf);
        if buf.capacity() > 4 << 20 {
            // One huge batch should not pin its buffer for the member's lifetime.
            buf = BytesMut::new();
        }
        self.scratch = buf;
        result
    }

    fn append_records(&mut self, txns: &[LoggedTxn], buf: &mut BytesMut) -> io::Result<()> {
        encode_records(txns, buf)?;
        let (Some(segment), Some(f)) = (self.segments.last_mut(), self.current.as_mut()) else {
            return Err(io::Error::other("no open log segment"));
        };
        f.write_all(buf)?;
        let records = record_ends(txns, buf, 0, segment.len());
        segment.records.extend(records);
        Ok(())
    }

    fn truncate(&mut self, after: i64) -> io::Result<()> {
        let mut removed = false;
        while self.segments.last().is_some_and(|s| s.first > after) {
            let s = self.segments.pop().expect("a segment");
            self.current = None;
            fs::remove_file(&s.path)?;
            removed = true;
        }
        if let Some(s) = self.segments.last_mut() {
            let keep = s.records.partition_point(|&(z, _)| z <= after);
            if keep < s.records.len() {
                s.records.truncate(keep);
                let len = s.len();
                let f = OpenOptions::new().write(true).open(&s.path)?;
                f.set_len(len)?;
                if self.fsync {
                    f.sync_all()?;
                }
            }
        }
        if removed {
            self.sync_dir()?;
            self.open_current()?;
        }
        Ok(())
    }

    fn replace(&mut self, txns: &[LoggedTxn]) -> io::Result<()> {
        let tmp = self.dir.join(REPLACE_TMP);
        self.write_segment(&tmp, txns)?;
        fs::rename(&tmp, self.dir.join(REPLACE))?;
        self.sync_dir()?;
        self.current = None;
        self.segments.clear();
        self.finish_replace()?;
        self.load_segments()?;
        self.open_current()
    }

    fn write_snapshot(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.write_atomic(&snapshot_name(snapshot.zxid), &snapshot.data)?;
        self.roll = true;
        Ok(())
    }

    /// Deletes the snapshots older than `before` and the segments holding only txns at or
    /// below it.
    fn purge(&mut self, before: i64) -> io::Result<()> {
        for (zxid, path) in self.numbered_files("snapshot.")? {
            if zxid < before {
                fs::remove_file(path)?;
            }
        }
        let mut removed = 0;
        while self.segments.len() > removed
            && self.segments[removed]
                .records
                .last()
                .map_or(true, |&(z, _)| z <= before)
        {
            fs::remove_file(&self.segments[removed].path)?;
            removed += 1;
        }
        if removed > 0 {
            let last_removed = removed == self.segments.len();
            self.segments.drain(..removed);
            if last_removed {
                self.current = None;
            }
        }
        self.sync_dir()
    }

    /// A SNAP sync: the leader's snapshot, then its log after it replaces everything.
    fn install(&mut self, snapshot: &Snapshot, txns: &[LoggedTxn]) -> io::Result<()> {
        self.write_snapshot(snapshot)?;
        self.replace(txns)?;
        for (zxid, path) in self.numbered_files("snapshot.")? {
            if zxid != snapshot.zxid {
                fs::remove_file(path)?;
            }
        }
        self.roll = true;
        self.sync_dir()
    }

    /// The snapshots whose seal and name check, oldest first.
    fn load_snapshots(&self) -> io::Result<Vec<Snapshot>> {
        let mut out = Vec::new();
        for (zxid, path) in self.numbered_files("snapshot.")? {
            let data = fs::read(&path)?;
            match snapshot_file_sessions(&data) {
                Ok((z, _)) if z == zxid => out.push(Snapshot {
                    zxid,
                    data: data.into(),
                }),
                Ok((z, _)) => tracing::warn!(
                    path = %path.display(),
                    inside = format_args!("{z:#x}"),
                    "a snapshot names another zxid: skipped"
                ),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "damaged snapshot: skipped")
                }
            }
        }
        Ok(out)
    }

    fn load_segments(&mut self) -> io::Result<Vec<LoggedTxn>> {
        self.segments.clear();
        let mut log: Vec<LoggedTxn> = Vec::new();
        for (first, path) in self.segment_files()? {
            let records = read_log_records(&path)?;
            if records.is_empty() {
                // A segment cut before its first record (or one a truncation emptied).
                fs::remove_file(&path)?;
                continue;
            }
            let mut ends = Vec::with_capacity(records.len());
            for (txn, end) in records {
                if let Some(last) = log.last() {
                    if txn.zxid <= last.zxid {
                        return Err(invalid(format!(
                            "{}: zxid {:#x} after {:#x}: the log is out of order",
                            path.display(),
                            txn.zxid,
                            last.zxid
                        )));
                    }
                }
                ends.push((txn.zxid, end));
                log.push(txn);
            }
            self.segments.push(Segment {
                first,
                path,
                records: ends,
            });
        }
        Ok(log)
    }
}

/// The `(zxid, end offset in the file)` of each record of `txns`, encoded by
/// `encode_records` into `buf` from `pos` on, `buf` starting at file offset `buf_offset`.
fn record_ends(txns: &[LoggedTxn], buf: &[u8], mut pos: usize, buf_offset: u64) -> Vec<(i64, u64)> {
    let mut out = Vec::with_capacity(txns.len());
    for txn in txns {
        let len = u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
        pos += 8 + len as usize;
        out.push((txn.zxid, buf_offset + pos as u64));
    }
    out
}

impl DurableStore for DirDisk {
    fn load(&mut self) -> io::Result<DurableState> {
        fs::create_dir_all(&self.dir)?;
        self.finish_replace()?;
        let log = self.load_segments()?;
        self.open_current()?;
        let snapshots = self.load_snapshots()?;
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snapshot.") && name.ends_with(".tmp") {
                // Left by a crash while writing one.
                let _ = fs::remove_file(self.dir.join(&*name));
            }
        }
        self.accepted = self.read_epoch(ACCEPTED_EPOCH)?;
        self.current_epoch = self.read_epoch(CURRENT_EPOCH)?;
        tracing::debug!(
            dir = %self.dir.display(),
            txns = log.len(),
            snapshots = snapshots.len(),
            accepted = self.accepted,
            current = self.current_epoch,
            "data directory loaded"
        );
        let config = match fs::read_to_string(self.dir.join(DYNAMIC_CONFIG)) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(DurableState {
            accepted_epoch: self.accepted,
            current_epoch: self.current_epoch,
            snapshots,
            log,
            config,
        })
    }

    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()> {
        let mut appended = false;
        for op in ops {
            match op {
                PersistOp::Append(txns) => {
                    self.append(txns)?;
                    appended = true;
                }
                PersistOp::Truncate { after } => self.truncate(*after)?,
                PersistOp::Snapshot(s) => {
                    if let Some(f) = &self.current {
                        // The txns the snapshot covers are durable before it is.
                        self.sync_file(f)?;
                    }
                    self.write_snapshot(s)?;
                }
                PersistOp::Purge { before } => self.purge(*before)?,
                PersistOp::Install { snapshot, entries } => self.install(snapshot, entries)?,
                PersistOp::Config(text) => self.write_atomic(DYNAMIC_CONFIG, text.as_bytes())?,
                PersistOp::Epochs { accepted, current } => {
                    if *accepted != self.accepted {
                        self.write_atomic(ACCEPTED_EPOCH, accepted.to_string().as_bytes())?;
                        self.accepted = *accepted;
                    }
                    if *current != self.current_epoch {
                        self.write_atomic(CURRENT_EPOCH, current.to_string().as_bytes())?;
                        self.current_epoch = *current;
                    }
                }
            }
        }
        if appended {
            if let Some(f) = &self.current {
                self.sync_file(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "dir_disk_tests.rs"]
mod tests;
