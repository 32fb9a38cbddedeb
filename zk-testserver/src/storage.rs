//! Persistence: a checksummed txn log and consistent snapshots in a data directory.
//!
//! Files:
//! - `secret`: the 32-byte secret session passwords derive from;
//! - `snapshot.<zxid as 16 hex digits>`: the whole state at exactly that zxid, written to a
//!   temp file, fsynced and renamed, with a CRC-32 over the content;
//! - `log.<first zxid>`: a header, then records `len:u32 crc32:u32 payload` where the payload is
//!   a [`LoggedTxn`]. A record that is cut short or fails its checksum marks the end of the log:
//!   recovery truncates it there, so a torn write is never replayed as garbage. Gaps in the
//!   zxid sequence are refused.
//!
//! The server appends a batch of txns and fsyncs (if enabled) *before* releasing any reply of
//! the batch. Every `snap_count` txns it snapshots and starts a new log, deleting older files.

pub(crate) mod codec;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use codec::{crc32, decode_logged, encode_logged};

use crate::core::ServerCore;
use crate::tree::DataTree;
use crate::txn::LoggedTxn;

pub(crate) const LOG_MAGIC: &[u8; 8] = b"ZKRSLOG1";
const SNAP_MAGIC: &[u8; 8] = b"ZKRSSNP1";

/// What recovery found.
#[derive(Debug)]
pub struct Recovered {
    /// The tree as of the snapshot (or the initial tree).
    pub tree: DataTree,
    /// Sessions as of the snapshot: `(id, timeout)`.
    pub sessions: Vec<(i64, i32)>,
    /// The snapshot's zxid.
    pub zxid: i64,
    /// Logged txns after the snapshot, in order, to replay.
    pub txns: Vec<LoggedTxn>,
    /// The session secret.
    pub secret: [u8; 32],
}

/// An open data directory.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    fsync: bool,
    log: File,
    log_path: PathBuf,
    since_snapshot: u64,
    /// Reused between appends, so a write allocates nothing here.
    scratch: BytesMut,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn files_with_prefix(dir: &Path, prefix: &str) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(hex) = name.strip_prefix(prefix) else {
            continue;
        };
        if let Ok(z) = u64::from_str_radix(hex, 16) {
            out.push((z as i64, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Storage {
    /// Bytes of the files in the data directory (snapshots and logs live together, so this
    /// is both `datadir_size` and `logdir_size` of `dirs`, as ZooKeeper reports a shared
    /// `dataDir`).
    pub fn dir_size(&self) -> io::Result<u64> {
        let mut total = 0;
        for entry in fs::read_dir(&self.dir)? {
            let meta = entry?.metadata()?;
            if meta.is_file() {
                total += meta.len();
            }
        }
        Ok(total)
    }

    /// Opens (creating if needed) `dir` and recovers its state. `secret` is stored if the
    /// directory has none yet.
    pub fn open(dir: &Path, fsync: bool, secret: [u8; 32]) -> io::Result<(Storage, Recovered)> {
        fs::create_dir_all(dir)?;
        let secret = load_or_store_secret(dir, secret)?;
        let (tree, sessions, snap_zxid) = load_latest_snapshot(dir)?;
        let mut txns = Vec::new();
        let mut last = snap_zxid;
        let logs = files_with_prefix(dir, "log.")?;
        let mut reuse: Option<PathBuf> = None;
        for (start, path) in &logs {
            let records = read_log(path)?;
            if records.is_empty() && *start == last + 1 {
                reuse = Some(path.clone());
            }
            for txn in records {
                if txn.zxid <= last {
                    continue;
                }
                if txn.zxid != last + 1 {
                    return Err(invalid(format!(
                        "gap in the txn log: expected zxid {:#x}, found {:#x} in {}",
                        last + 1,
                        txn.zxid,
                        path.display()
                    )));
                }
                last = txn.zxid;
                txns.push(txn);
            }
        }
        let log_path = match reuse {
            Some(p) => p,
            None => dir.join(format!("log.{:016x}", last + 1)),
        };
        let log = open_log(&log_path, fsync)?;
        if fsync {
            sync_dir(dir)?;
        }
        let storage = Storage {
            dir: dir.to_path_buf(),
            fsync,
            log,
            log_path,
            since_snapshot: txns.len() as u64,
            scratch: BytesMut::new(),
        };
        Ok((
            storage,
            Recovered {
                tree,
                sessions,
                zxid: snap_zxid,
                txns,
                secret,
            },
        ))
    }

    /// Appends txns and (if enabled) fsyncs them.
    pub fn append(&mut self, txns: &[LoggedTxn]) -> io::Result<()> {
        let buf = &mut self.scratch;
        buf.clear();
        encode_records(txns, buf)?;
        self.log.write_all(buf)?;
        if buf.capacity() > 4 << 20 {
            // One huge batch should not pin its buffer for the server's lifetime.
            *buf = BytesMut::new();
        }
        if self.fsync {
            self.log.sync_data()?;
        }
        self.since_snapshot += txns.len() as u64;
        Ok(())
    }

    /// Txns logged since the last snapshot.
    pub fn txns_since_snapshot(&self) -> u64 {
        self.since_snapshot
    }

    /// Writes a snapshot of `core` at its current zxid, starts a new log, and deletes the
    /// files the snapshot makes obsolete.
    pub fn snapshot(&mut self, core: &ServerCore) -> io::Result<()> {
        let zxid = core.last_zxid();
        let sessions: Vec<(i64, i32)> = core
            .sessions()
            .iter()
            .filter(|(_, s)| !s.closing)
            .map(|(id, s)| (id, s.timeout_ms))
            .collect();
        let body = encode_snapshot_file(zxid, core.tree(), &sessions);
        let tmp = self.dir.join("snapshot.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        let final_path = self.dir.join(format!("snapshot.{zxid:016x}"));
        fs::rename(&tmp, &final_path)?;
        let new_log = self.dir.join(format!("log.{:016x}", zxid + 1));
        if new_log != self.log_path {
            self.log = open_log(&new_log, true)?;
            self.log_path = new_log;
        }
        sync_dir(&self.dir)?;
        for (z, path) in files_with_prefix(&self.dir, "snapshot.")? {
            if z < zxid {
                let _ = fs::remove_file(path);
            }
        }
        for (start, path) in files_with_prefix(&self.dir, "log.")? {
            if start <= zxid {
                let _ = fs::remove_file(path);
            }
        }
        self.since_snapshot = 0;
        tracing::debug!(zxid = format_args!("{zxid:#x}"), "snapshot written");
        Ok(())
    }

    /// The log file currently appended to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

fn load_or_store_secret(dir: &Path, secret: [u8; 32]) -> io::Result<[u8; 32]> {
    let path = dir.join("secret");
    match fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut out = [0u8; 32];
            out.copy_from_slice(&bytes);
            Ok(out)
        }
        _ => {
            let tmp = dir.join("secret.tmp");
            {
                let mut f = File::create(&tmp)?;
                f.write_all(&secret)?;
                f.sync_all()?;
            }
            fs::rename(&tmp, &path)?;
            sync_dir(dir)?;
            Ok(secret)
        }
    }
}

fn open_log(path: &Path, fsync: bool) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .append(true)
        .open(path)?;
    if f.metadata()?.len() == 0 {
        f.write_all(LOG_MAGIC)?;
        if fsync {
            f.sync_all()?;
        }
    }
    Ok(f)
}

/// Appends the log records of `txns` to `buf`: `len:u32 crc32:u32 payload` each.
pub(crate) fn encode_records(txns: &[LoggedTxn], buf: &mut BytesMut) -> io::Result<()> {
    for txn in txns {
        // Room for len and crc, then the payload in place; the header is filled after.
        let start = buf.len();
        buf.put_u64(0);
        encode_logged(txn, buf);
        let payload = &buf[start + 8..];
        let len = u32::try_from(payload.len()).map_err(|_| invalid("txn too large"))?;
        let crc = crc32(payload);
        buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
        buf[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

/// Reads every intact record of a log file; truncates the file after the last intact one.
fn read_log(path: &Path) -> io::Result<Vec<LoggedTxn>> {
    Ok(read_log_records(path)?
        .into_iter()
        .map(|(txn, _)| txn)
        .collect())
}

/// Reads every intact record of a log file with the file offset just past it; truncates the
/// file after the last intact one (a torn or corrupt tail).
pub(crate) fn read_log_records(path: &Path) -> io::Result<Vec<(LoggedTxn, u64)>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    if bytes.len() < LOG_MAGIC.len() || &bytes[..LOG_MAGIC.len()] != LOG_MAGIC {
        tracing::warn!(path = %path.display(), "log without a complete header; starting it over");
        f.set_len(0)?;
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut pos = LOG_MAGIC.len();
    loop {
        let rest = &bytes[pos..];
        if rest.len() < 8 {
            break;
        }
        let mut head = &rest[..8];
        let len = head.get_u32() as usize;
        let crc = head.get_u32();
        if len == 0 || rest.len() < 8 + len {
            break;
        }
        let payload = &rest[8..8 + len];
        if crc32(payload) != crc {
            break;
        }
        match decode_logged(payload) {
            Ok(txn) => out.push((txn, (pos + 8 + len) as u64)),
            Err(_) => break,
        }
        pos += 8 + len;
    }
    if pos < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            valid = pos,
            dropped = bytes.len() - pos,
            "torn or corrupt log tail; truncating"
        );
        f.set_len(pos as u64)?;
        f.seek(SeekFrom::End(0))?;
        f.sync_all()?;
    }
    Ok(out)
}

/// A decoded snapshot: the tree, the sessions (`(id, timeout)`) and the zxid.
pub type SnapshotState = (DataTree, Vec<(i64, i32)>, i64);

fn load_latest_snapshot(dir: &Path) -> io::Result<SnapshotState> {
    let snaps = files_with_prefix(dir, "snapshot.")?;
    for (zxid, path) in snaps.into_iter().rev() {
        match read_snapshot(&path) {
            Ok(state) if state.2 == zxid => return Ok(state),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "snapshot zxid does not match its name")
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "unreadable snapshot"),
        }
    }
    Ok((DataTree::new(), Vec::new(), 0))
}

fn read_snapshot(path: &Path) -> io::Result<SnapshotState> {
    decode_snapshot_file(&fs::read(path)?)
}

/// A snapshot file's bytes: a magic, `zxid`, the sessions (`(id, timeout)`) and the tree in
/// pre-order, then a CRC-32 of everything before it. The standalone server writes these, and
/// ensemble members take and send their snapshots in this format.
pub fn encode_snapshot_file(zxid: i64, tree: &DataTree, sessions: &[(i64, i32)]) -> Bytes {
    let mut body = BytesMut::new();
    body.extend_from_slice(SNAP_MAGIC);
    body.put_i64(zxid);
    codec::encode_snapshot(tree, sessions, &mut body);
    let crc = crc32(&body);
    body.put_u32(crc);
    body.freeze()
}

/// Checks a snapshot file's magic and checksum; returns the rest after the magic.
fn sealed_snapshot(bytes: &[u8]) -> io::Result<&[u8]> {
    if bytes.len() < SNAP_MAGIC.len() + 12 || &bytes[..SNAP_MAGIC.len()] != SNAP_MAGIC {
        return Err(invalid("not a snapshot"));
    }
    let (body, mut trailer) = bytes.split_at(bytes.len() - 4);
    if crc32(body) != trailer.get_u32() {
        return Err(invalid("snapshot checksum mismatch"));
    }
    Ok(&body[SNAP_MAGIC.len()..])
}

/// Decodes what [`encode_snapshot_file`] wrote: the tree, the sessions and the zxid.
pub fn decode_snapshot_file(bytes: &[u8]) -> io::Result<SnapshotState> {
    let mut rest = sealed_snapshot(bytes)?;
    let zxid = rest.get_i64();
    let (tree, sessions) = codec::decode_snapshot(rest).map_err(|e| invalid(e.to_string()))?;
    Ok((tree, sessions, zxid))
}

/// The zxid and the sessions of a snapshot file, checked against its checksum, without
/// building its tree.
pub fn snapshot_file_sessions(bytes: &[u8]) -> io::Result<(i64, Vec<(i64, i32)>)> {
    let mut rest = sealed_snapshot(bytes)?;
    let zxid = rest.get_i64();
    let sessions =
        codec::decode_snapshot_sessions(&mut rest).map_err(|e| invalid(e.to_string()))?;
    Ok((zxid, sessions))
}

#[cfg(test)]
mod tests;
