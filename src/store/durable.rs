//! The flushes a write asks for under the `durability` setting, for the writes that do not
//! go through a commit (multipart uploads and their parts); a commit places its own.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::ObjectStore;
use crate::fs::{Durability, Mountpath};

impl ObjectStore {
    /// Whether acknowledged writes must be on stable storage.
    pub(super) fn durable(&self) -> bool {
        self.cfg.durability != Durability::None
    }

    /// Before a rename into place: `file`'s data on stable storage (when durable).
    pub(super) async fn flush_data(&self, mp: &Mountpath, file: &Arc<File>) -> io::Result<()> {
        if !self.durable() {
            return Ok(());
        }
        mp.sync.data(&mp.disk, file.clone()).await
    }

    /// After a commit's rename: `file`'s data, when given, and the entries of `dirs`, in
    /// one shared flush where the mountpath flushes its filesystem whole.
    pub(super) async fn flush_committed(
        &self,
        mp: &Mountpath,
        file: Option<&Arc<File>>,
        dirs: &[PathBuf],
    ) -> io::Result<()> {
        if !self.durable() {
            return Ok(());
        }
        mp.sync.committed(&mp.disk, file.cloned(), dirs).await
    }

    /// After renames or creations: the entries of `dirs` on stable storage (when durable).
    pub(super) async fn flush_entries(&self, mp: &Mountpath, dirs: &[PathBuf]) -> io::Result<()> {
        if !self.durable() {
            return Ok(());
        }
        mp.sync.entries(&mp.disk, dirs).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::commit::{Commit, CommitFail, CommitMode};
    use super::*;
    use crate::store::ObjectMeta;

    fn commit(dir: &std::path::Path, work: &str, flushed: bool) -> Commit {
        Commit {
            work: dir.join(work),
            objects_dir: dir.join("ob"),
            target: dir.join("ob").join("a"),
            durability: Durability::Group,
            data_flushed: flushed,
            mode: CommitMode::New,
            extra: None,
        }
    }

    /// A new name is renamed at once (its data flushed with its entry after); a name that
    /// holds a version is not replaced before the new data is flushed.
    #[test]
    fn a_taken_name_is_replaced_only_by_flushed_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ob")).unwrap();
        let meta = |size| ObjectMeta {
            size,
            ..Default::default()
        };
        std::fs::write(dir.path().join("w1"), b"one").unwrap();
        let f1 = File::open(dir.path().join("w1")).unwrap();
        let Ok(Ok((info, flush))) = commit(dir.path(), "w1", false).run(&f1, meta(3)) else {
            panic!("a new name commits at once");
        };
        assert_eq!(info.meta.version, 1);
        assert!(flush.data);
        assert_eq!(flush.dirs, vec![dir.path().join("ob")]);

        std::fs::write(dir.path().join("w2"), b"two!").unwrap();
        let f2 = File::open(dir.path().join("w2")).unwrap();
        let Ok(Err(CommitFail::FlushFirst(back))) =
            commit(dir.path(), "w2", false).run(&f2, meta(4))
        else {
            panic!("a taken name must ask for the data to be flushed first");
        };
        assert_eq!(std::fs::read(dir.path().join("ob/a")).unwrap(), b"one");
        let (mut again, m) = *back;
        again.data_flushed = true;
        let Ok(Ok((info, flush))) = again.run(&f2, m) else {
            panic!("flushed data replaces the version");
        };
        assert_eq!((info.meta.version, flush.data), (2, false));
        assert_eq!(std::fs::read(dir.path().join("ob/a")).unwrap(), b"two!");
    }
}
