//! Resilver: objects follow the mountpaths. After a mountpath is attached, enabled,
//! disabled or detached, every object that is not on the mountpath HRW picks now is
//! copied there with its metadata (a newer copy already there wins) and removed where it
//! was, if it is still the version copied. A mountpath being disabled or detached stays
//! readable until its objects have moved; meanwhile GETs find objects wherever they are.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;

use super::get::{open_blocking, OpenFail};
use super::list::sorted_page;
use super::{Error, ObjectStore, Result};
use crate::fs::{layout, Mountpath, MpChangeError};

/// Names read per directory walk step.
const WALK_PAGE: usize = 1000;

/// Live counters of a resilver, readable while it runs.
#[derive(Debug, Default)]
pub struct ResilverCounters {
    /// Objects moved to the mountpath HRW picks.
    pub objects: AtomicU64,
    /// Their bytes.
    pub bytes: AtomicU64,
    /// Objects that could not be moved.
    pub errors: AtomicU64,
}

impl ObjectStore {
    /// Creates the buckets' directories on a new mountpath and makes it available.
    pub async fn attach_mountpath(&self, mp: Mountpath) -> Result<()> {
        self.prepare_buckets(&mp).await?;
        self.mountpaths.attach(mp)?;
        Ok(())
    }

    /// Makes a disabled (or leaving) mountpath available again; false if it already was.
    pub async fn enable_mountpath(&self, path: &std::path::Path) -> Result<bool> {
        let set = self.mountpaths.current();
        let mp = set
            .every()
            .find(|m| m.path == path)
            .cloned()
            .ok_or_else(|| MpChangeError::Unknown(path.into()))?;
        // Buckets created while it was away.
        self.prepare_buckets(&mp).await?;
        Ok(self.mountpaths.enable(path)?)
    }

    async fn prepare_buckets(&self, mp: &Mountpath) -> Result<()> {
        let dirs: Vec<_> = self
            .list_buckets()
            .into_iter()
            .flat_map(|(b, _)| {
                [
                    layout::objects_dir(&mp.path, &b),
                    layout::work_dir(&mp.path, &b),
                ]
            })
            .collect();
        mp.disk
            .call(move || dirs.iter().try_for_each(std::fs::create_dir_all))
            .await
            .map_err(|e| {
                Error::io(
                    format!("{}: create bucket directories", mp.path.display()),
                    e,
                )
            })
    }

    /// One pass over every readable mountpath (one walker each), moving each object not
    /// on its HRW mountpath there. Returns how many moves failed.
    ///
    /// `ours` says how many mirror copies this target keeps of an object it owns (0: it
    /// does not own it): on mountpaths that stay, objects it does not own are left to the
    /// rebalance walk, which moves them to their owner (moving them here too could leave
    /// a copy behind that walk); a mirror copy where the ranking wants one stays, and the
    /// main copy's walker re-makes missing ones. A leaving mountpath is emptied whatever
    /// the owner.
    pub async fn resilver_pass(
        &self,
        counters: &ResilverCounters,
        ours: &(dyn Fn(&str, &str) -> usize + Sync),
    ) -> u64 {
        let set = self.mountpaths.current();
        let walks = set.readable().map(|mp| {
            let leaving = set.leaving.iter().any(|(m, _)| m.path == mp.path);
            self.walk_mountpath(mp.clone(), counters, ours, leaving)
        });
        futures_util::future::join_all(walks)
            .await
            .into_iter()
            .sum()
    }

    async fn walk_mountpath(
        &self,
        mp: Arc<Mountpath>,
        counters: &ResilverCounters,
        ours: &(dyn Fn(&str, &str) -> usize + Sync),
        leaving: bool,
    ) -> u64 {
        let mut failed = 0;
        for (bucket, _) in self.list_buckets() {
            let root = layout::objects_dir(&mp.path, &bucket);
            let mut after = String::new();
            loop {
                let names = match sorted_page(&root, &after, WALK_PAGE).await {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) => {
                        tracing::warn!(mountpath = %mp.path.display(), %bucket, error = %e, "resilver: cannot walk");
                        failed += 1;
                        break;
                    }
                };
                for name in &names {
                    let copies = ours(&bucket, name);
                    if !leaving && copies == 0 {
                        continue;
                    }
                    match self.place(&bucket, name) {
                        Ok((_, want)) if want.path == mp.path => {
                            if copies > 1 {
                                failed += self.remirror(&bucket, name, copies, counters).await;
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(_) => return failed + 1, // nothing available: nowhere to move
                    }
                    let wanted = copies > 1
                        && !leaving
                        && self
                            .copy_mountpaths(&bucket, name, copies)
                            .iter()
                            .any(|m| m.path == mp.path);
                    if wanted {
                        continue; // a mirror copy where it belongs
                    }
                    yield_to_foreground(&mp).await;
                    match self.move_local(&bucket, name, &mp).await {
                        Ok(Some(size)) => {
                            counters.objects.fetch_add(1, Ordering::Relaxed);
                            counters.bytes.fetch_add(size, Ordering::Relaxed);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(mountpath = %mp.path.display(), %bucket, object = %name, error = %e, "resilver: could not move object");
                            counters.errors.fetch_add(1, Ordering::Relaxed);
                            failed += 1;
                        }
                    }
                }
                match names.last() {
                    Some(last) if names.len() == WALK_PAGE => after = last.clone(),
                    _ => break,
                }
            }
        }
        failed
    }

    /// Re-makes the mirror copies of `bucket/object` (its main copy is on the walked
    /// mountpath); 1 if that failed.
    async fn remirror(
        &self,
        bucket: &str,
        object: &str,
        copies: usize,
        counters: &ResilverCounters,
    ) -> u64 {
        match self.mirror(bucket, object, copies).await {
            Ok(_) | Err(Error::ObjectNotFound { .. }) => 0,
            Err(e) => {
                tracing::warn!(%bucket, %object, error = %e, "resilver: could not re-make mirror copies");
                counters.errors.fetch_add(1, Ordering::Relaxed);
                1
            }
        }
    }

    /// Moves `bucket/object` from `src` to the mountpath HRW picks; its size, or `None`
    /// when it was gone already.
    async fn move_local(
        &self,
        bucket: &str,
        object: &str,
        src: &Arc<Mountpath>,
    ) -> Result<Option<u64>> {
        let path = layout::object_path(&src.path, bucket, object);
        let direct = self.cfg.direct_io;
        let opened = src
            .disk
            .call(move || open_blocking(&path, direct, false, None))
            .await
            .map_err(|e| Error::io(format!("{bucket}/{object}: open"), e))?;
        let o = match opened {
            Ok(o) => o,
            Err(OpenFail::Missing) => return Ok(None),
            Err(OpenFail::BadMeta(id, reason)) => {
                self.damaged(src, bucket, object, id, reason);
                return Ok(None);
            }
        };
        let (meta, mtime) = (o.meta.clone(), o.mtime_ns);
        let (size, version) = (meta.size, meta.version);
        let reader = self.reader(o, src, false, direct, bucket, object);
        let body = Box::pin(reader.stream(0, size).map_err(|e| e.to_string()));
        match self.put_replica(bucket, object, body, meta, mtime).await {
            Ok(_) | Err(Error::NotNewer { .. }) => {}
            Err(e) => return Err(e),
        }
        self.remove_at(src, bucket, object, version).await?;
        Ok(Some(size))
    }
}

impl ObjectStore {
    /// Background work (rebalance, resilver) calls this before touching an object: it
    /// waits a little (at most 100 ms) while the object's disk is busy with requests.
    pub async fn yield_to_foreground(&self, bucket: &str, object: &str) {
        let found = self
            .mountpaths
            .current()
            .readable()
            .find(|m| {
                std::fs::symlink_metadata(layout::object_path(&m.path, bucket, object)).is_ok()
            })
            .cloned();
        if let Some(mp) = found {
            yield_to_foreground(&mp).await;
        }
    }
}

/// Lets foreground requests go first: waits (a little, at most 100 ms) while the disk
/// has more than a couple of operations queued.
pub(super) async fn yield_to_foreground(mp: &Mountpath) {
    for _ in 0..20 {
        if mp.disk.queued() <= 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
