//! The commit of a written object: its version decided, its metadata set and the rename
//! into place, in one step on the mountpath's disk thread; with the flushes the
//! `durability` mode does there (`object`) or leaves to the caller (`group`).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::meta::{ObjectInfo, ObjectMeta, XATTR};
use super::unix_ns;
use crate::fs::Durability;

/// The last step of a PUT, run on the disk worker so that PUTs of one name (which HRW
/// sends to one mountpath) are ordered: the version read and the rename cannot interleave.
pub(super) struct Commit {
    pub(super) work: PathBuf,
    /// The content directory (`%ob`, `%ec`) the target lies under.
    pub(super) objects_dir: PathBuf,
    pub(super) target: PathBuf,
    pub(super) durability: Durability,
    /// With group durability: this file's data is already on stable storage.
    pub(super) data_flushed: bool,
    pub(super) mode: CommitMode,
    /// A second xattr to set (name, value): an EC slice's description.
    pub(super) extra: Option<(&'static str, Vec<u8>)>,
}

/// Which version a commit writes, and when it refuses.
#[derive(Clone, Copy)]
pub(super) enum CommitMode {
    /// A new version: one past the one here.
    New,
    /// Keep the carried version and set this modification time (an object moved here);
    /// refused when the copy here was written later.
    Replica(std::time::SystemTime),
    /// As `Replica`, but an equal one is replaced (the same version's slice under another
    /// index).
    Slice(std::time::SystemTime),
}

pub(super) enum CommitFail {
    Conflict,
    BucketGone,
    /// A replica met a version here at least as new (carried).
    NotNewer(u64),
    /// Group durability met a version here: flush the new data, then commit again.
    FlushFirst(Box<(Commit, ObjectMeta)>),
}

/// What a group-durability commit leaves to flush (shared with other requests).
pub(super) struct ToFlush {
    /// The file's data (not flushed before the rename).
    pub(super) data: bool,
    /// Directories whose entries changed.
    pub(super) dirs: Vec<PathBuf>,
}

impl Commit {
    /// Commits; with group durability also returns what the caller must flush (shared
    /// with other requests), or asks it to flush the data first when the name is taken.
    pub(super) fn run(
        self,
        file: &File,
        mut meta: ObjectMeta,
    ) -> io::Result<Result<(ObjectInfo, ToFlush), CommitFail>> {
        let fsync = self.durability == Durability::Object;
        let group = self.durability == Durability::Group;
        use xattr::FileExt as _;
        let raw = xattr::get(&self.target, XATTR);
        let taken = !matches!(&raw, Err(e) if e.kind() == io::ErrorKind::NotFound);
        if group && taken && !self.data_flushed {
            return Ok(Err(CommitFail::FlushFirst(Box::new((self, meta)))));
        }
        let previous = raw
            .ok()
            .flatten()
            .and_then(|raw| ObjectMeta::decode(&raw).ok());
        let carried = match self.mode {
            CommitMode::New => None,
            CommitMode::Replica(t) => Some((t, false)),
            CommitMode::Slice(t) => Some((t, true)),
        };
        match (carried, previous) {
            // The last write wins: versions count per target, so the copy written later
            // (by modification time; the version breaks a tie) is the newer one.
            (Some((incoming, equal_ok)), Some(p)) => {
                let here = std::fs::metadata(&self.target)?.modified()?;
                let same = here == incoming && p.version == meta.version;
                if here > incoming
                    || (here == incoming && p.version > meta.version)
                    || (same && !equal_ok)
                {
                    return Ok(Err(CommitFail::NotNewer(p.version)));
                }
            }
            (Some(_), None) => {}
            (None, p) => meta.version = p.map_or(1, |p| p.version + 1),
        }
        // Drops the padding of an O_DIRECT tail (a no-op otherwise); before the carried
        // time is set, which a truncate would overwrite.
        if file.metadata()?.len() != meta.size {
            file.set_len(meta.size)?;
        }
        if let Some((mtime, _)) = carried {
            file.set_modified(mtime)?;
        }
        if let Some((name, value)) = &self.extra {
            file.set_xattr(name, value)?;
        }
        file.set_xattr(XATTR, &meta.encode())?;
        if fsync {
            file.sync_all()?;
        }
        if !self.objects_dir.is_dir() {
            return Ok(Err(CommitFail::BucketGone));
        }
        let parent = self.target.parent().unwrap_or(&self.objects_dir);
        // A concurrent DELETE may prune a directory we just made (it was empty): then
        // the rename finds no parent, and we make it again.
        let mut attempts = 0;
        let mut changed = Vec::new();
        loop {
            attempts += 1;
            let created = match make_parents(&self.objects_dir, parent, fsync) {
                Ok(made) => {
                    changed.extend(
                        made.iter()
                            .filter_map(|d| d.parent().map(Path::to_path_buf)),
                    );
                    !made.is_empty()
                }
                Err(e) if is_conflict(&e) => return Ok(Err(CommitFail::Conflict)),
                Err(e) => return Err(e),
            };
            match std::fs::rename(&self.work, &self.target) {
                Ok(()) => break,
                Err(e) if is_conflict(&e) => {
                    if created {
                        prune_empty_dirs(parent, &self.objects_dir);
                    }
                    return Ok(Err(CommitFail::Conflict));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && attempts < 3 => continue,
                Err(e) => return Err(e),
            }
        }
        if fsync {
            // The rename is durable only once its directory is.
            File::open(parent)?.sync_all()?;
        }
        if group {
            changed.push(parent.to_path_buf());
            changed.sort();
            changed.dedup();
        } else {
            changed.clear();
        }
        let stat = file.metadata()?;
        let info = ObjectInfo {
            meta,
            atime_ns: unix_ns(stat.accessed()),
            mtime_ns: unix_ns(stat.modified()),
            mountpath: PathBuf::new(),
        };
        let flush = ToFlush {
            data: group && !self.data_flushed,
            dirs: changed,
        };
        Ok(Ok((info, flush)))
    }
}

/// Makes the directories between `objects_dir` and `dir`; returns those that were new.
/// With `fsync`, each new directory's entry is made durable (its parent is fsynced).
fn make_parents(objects_dir: &Path, dir: &Path, fsync: bool) -> io::Result<Vec<PathBuf>> {
    if dir == objects_dir || dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    let mut cur = dir;
    while cur != objects_dir && !cur.is_dir() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    std::fs::create_dir_all(dir)?;
    if fsync {
        for d in &missing {
            if let Some(p) = d.parent() {
                File::open(p)?.sync_all()?;
            }
        }
    }
    Ok(missing)
}

/// Removes `dir` and its parents up to (not including) `stop` while they are empty, so
/// a name freed by a DELETE or a failed PUT can be used as an object name again.
pub(super) fn prune_empty_dirs(dir: &Path, stop: &Path) {
    let mut cur = dir;
    while cur != stop && cur.starts_with(stop) {
        if std::fs::remove_dir(cur).is_err() {
            break;
        }
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
}

/// A path component is a file where a directory is needed, or the other way round.
fn is_conflict(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTDIR) | Some(libc::EISDIR) | Some(libc::EEXIST) | Some(libc::ENOTEMPTY)
    )
}
