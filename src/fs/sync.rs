//! How a mountpath makes a committed object durable (the `durability` setting).
//!
//! The order that keeps every acknowledged version readable after a power cut: where the
//! name holds a version, the new file's data reaches stable storage before the rename that
//! replaces it (else a crash could leave the name on a file whose data never arrived, the
//! acknowledged version gone), and the directory after the rename (else the rename itself
//! may be lost). A new name is renamed at once and its data and entry flushed together
//! after it (one flush, not two): a crash before that flush can only leave an object
//! nobody was told of, which start-up finds damaged and moves aside. The metadata xattr
//! and the rename are journalled in order, so the directory's flush covers both.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::disk::{DirFlushes, DiskHandle, GroupFlush};

/// When a PUT is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Once the object, its metadata and its name are on stable storage; flushes are
    /// shared by the requests that wait at the same time (group commit).
    #[default]
    Group,
    /// As `group`, but each object is flushed by itself on the disk's thread, one after
    /// another (the former `--fsync`).
    Object,
    /// Once the object is in the page cache: the last seconds of writes are lost on a
    /// power cut or a kernel crash (never on a killed process).
    None,
}

/// What a group flush flushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupSync {
    /// One `syncfs` of the mountpath's filesystem shared by every waiting request: the
    /// fewest device flushes (measured faster than `files` on XFS in 8 of 9 cases, see
    /// benches/durability.py; on ext4 the two varied from run to run).
    #[default]
    Filesystem,
    /// `fdatasync` of each object and `fsync` of each directory, run concurrently, the
    /// fsyncs of one directory shared: for a mountpath on a filesystem that other programs
    /// fill with data of their own, which a `syncfs` would flush too.
    Files,
}

/// A mountpath's flushes.
#[derive(Debug)]
pub struct MountpathSync {
    root: PathBuf,
    whole_fs: bool,
    fs: GroupFlush,
    dirs: DirFlushes,
}

impl MountpathSync {
    /// The flushes of the mountpath at `root`, by `method`.
    pub fn new(root: &Path, method: GroupSync) -> Self {
        MountpathSync {
            root: root.to_path_buf(),
            whole_fs: method == GroupSync::Filesystem,
            fs: GroupFlush::default(),
            dirs: DirFlushes::default(),
        }
    }

    /// Before the rename: `file`'s data (and size) on stable storage.
    pub async fn data(&self, disk: &DiskHandle, file: Arc<File>) -> io::Result<()> {
        if self.whole_fs {
            return self.filesystem(disk).await;
        }
        disk.flush_concurrently(move || file.sync_data()).await
    }

    /// After the rename: the entries of `dirs` (the object's directory, and the parents of
    /// directories the commit made) on stable storage.
    pub async fn entries(&self, disk: &DiskHandle, dirs: &[PathBuf]) -> io::Result<()> {
        if self.whole_fs {
            return self.filesystem(disk).await;
        }
        let res = futures_util::future::try_join_all(dirs.iter().map(|d| self.dirs.sync(d)))
            .await
            .map(drop);
        note(disk, res)
    }

    /// After a rename: `file`'s data, when not flushed before, and the entries of `dirs`;
    /// one `syncfs` covers both.
    pub async fn committed(
        &self,
        disk: &DiskHandle,
        file: Option<Arc<File>>,
        dirs: &[PathBuf],
    ) -> io::Result<()> {
        if self.whole_fs {
            return self.filesystem(disk).await;
        }
        let data = async {
            match file {
                Some(f) => self.data(disk, f).await,
                None => Ok(()),
            }
        };
        futures_util::try_join!(data, self.entries(disk, dirs)).map(drop)
    }

    async fn filesystem(&self, disk: &DiskHandle) -> io::Result<()> {
        let root = self.root.clone();
        let res = self
            .fs
            .flush(move || {
                let dir = File::open(&root)?;
                nix::unistd::syncfs(dir.as_raw_fd()).map_err(io::Error::from)
            })
            .await;
        note(disk, res)
    }
}

fn note(disk: &DiskHandle, res: io::Result<()>) -> io::Result<()> {
    if let Err(e) = &res {
        disk.faults().note(e);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_names() {
        for (s, d) in [
            ("\"group\"", Durability::Group),
            ("\"object\"", Durability::Object),
            ("\"none\"", Durability::None),
        ] {
            assert_eq!(serde_json::from_str::<Durability>(s).unwrap(), d);
        }
        assert!(serde_json::from_str::<Durability>("\"fsync\"").is_err());
        assert_eq!(Durability::default(), Durability::Group);
    }
}
