//! Scrub: reads every object of a bucket whole from the disk and compares it with its
//! stored checksum (and its metadata with the file), moving damaged ones aside, and
//! counts objects that are not on the mountpath HRW picks. Background work: it yields
//! to requests on a busy disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::list::sorted_page;
use super::quarantine::{file_id, Damaged};
use super::recover::damage_of;
use super::{ObjectStore, Result};
use crate::fs::layout;

/// Names read per directory walk step.
const WALK_PAGE: usize = 1000;

/// Live counters of a scrub.
#[derive(Debug, Default)]
pub struct ScrubCounters {
    /// Objects read and checked.
    pub checked: AtomicU64,
    /// Their bytes.
    pub bytes: AtomicU64,
    /// Damaged ones, moved aside.
    pub damaged: AtomicU64,
    /// Objects not on their HRW mountpath (the resilver moves them).
    pub misplaced: AtomicU64,
}

impl ObjectStore {
    /// Scrubs `bucket` on every readable mountpath, one walker each.
    pub async fn scrub(&self, bucket: &str, counters: &ScrubCounters) -> Result<()> {
        self.require_bucket(bucket)?;
        let set = self.mountpaths.current();
        let walks = set.readable().map(|mp| async move {
            let root = layout::objects_dir(&mp.path, bucket);
            let mut after = String::new();
            loop {
                let Ok(names) = sorted_page(&root, &after, WALK_PAGE).await else {
                    return;
                };
                for name in &names {
                    super::resilver::yield_to_foreground(mp).await;
                    if self
                        .place(bucket, name)
                        .is_ok_and(|(_, want)| want.path != mp.path)
                    {
                        counters.misplaced.fetch_add(1, Ordering::Relaxed);
                    }
                    let path: PathBuf = layout::object_path(&mp.path, bucket, name);
                    let check = mp
                        .disk
                        .call(move || {
                            let meta = std::fs::symlink_metadata(&path)?;
                            Ok((file_id(&meta), meta.len(), damage_of(&path)))
                        })
                        .await;
                    let Ok((id, size, damage)) = check else {
                        continue;
                    };
                    counters.checked.fetch_add(1, Ordering::Relaxed);
                    counters.bytes.fetch_add(size, Ordering::Relaxed);
                    if let Some(reason) = damage {
                        counters.damaged.fetch_add(1, Ordering::Relaxed);
                        let d = Damaged {
                            mountpath: mp.path.clone(),
                            bucket: bucket.into(),
                            object: name.clone(),
                            id,
                            reason,
                        };
                        self.quarantine.move_later(&mp.disk, d);
                    }
                }
                match names.last() {
                    Some(last) if names.len() == WALK_PAGE => after = last.clone(),
                    _ => return,
                }
            }
        });
        futures_util::future::join_all(walks).await;
        Ok(())
    }
}
