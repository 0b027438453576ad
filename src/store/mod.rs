//! The object store: the only storage API the protocol front ends call.
//!
//! Speaks buckets, objects, byte streams and [`ObjectMeta`]; never HTTP. Every object
//! lives on the mountpath HRW picks for its name; every disk operation goes through that
//! mountpath's worker.

mod append;
mod body_hashes;
mod bucket;
pub mod checksum;
mod chunks;
mod commit;
mod custom;
mod delete;
mod dir_cache;
mod durable;
mod error;
mod get;
mod list;
pub mod md5_batch;
pub mod meta;
mod meta_cache;
mod mirror;
mod multipart;
mod put;
mod quarantine;
mod reader;
mod recover;
mod replica;
mod resilver;
mod scrub;
mod slices;
#[cfg(test)]
mod testing;
mod tombstone;
mod usage;
mod work_file;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use chunks::{auto_buffer_budget, memory_limit};
pub use error::{Error, Result};
pub use list::{ListEntry, ListPage, ListRequest, Props};
pub use meta::{ObjectInfo, ObjectMeta};
pub use multipart::{Completion, PartInfo, UploadInfo, UploadSpec, MAX_PART_NUMBER, MIN_PART_SIZE};
pub use put::{BodyResult, LateChecksums, PutOptions};
pub use quarantine::{quarantined_files, Quarantine};
pub use reader::ObjectReader;
pub use recover::{CrashCheck, TOUCH_EVERY};
pub use resilver::ResilverCounters;
pub use scrub::ScrubCounters;
pub use slices::{SliceInfo, EC_XATTR};
pub use usage::BucketUsage;

use crate::fs::{Mountpath, Mountpaths};
use chunks::ChunkPools;
use meta_cache::MetaCache;

/// Store behaviour that the config controls.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// When a PUT is acknowledged (see [`Durability`]).
    pub durability: crate::fs::Durability,
    /// Recompute and compare the checksum before serving a GET.
    pub validate_on_get: bool,
    /// Check objects read whole from the disk against their checksum as they stream.
    pub validate_cold_get: bool,
    /// Size of each disk read and write, bytes.
    pub chunk_size: usize,
    /// Largest object a PUT may store, bytes.
    pub max_object_size: u64,
    /// Open object files with O_DIRECT: reads and writes bypass the page cache.
    pub direct_io: bool,
    /// Serve opens and reads the kernel's caches can answer on the request's thread, and
    /// keep hot objects' metadata in memory.
    pub inline_cache_hits: bool,
    /// Bytes of chunk buffers lent at once; requests beyond it wait for a buffer.
    pub buffer_budget: usize,
    /// How long a request waits for a buffer before it is refused as busy.
    pub buffer_wait: std::time::Duration,
    /// Bytes of sorted directory listings kept for list requests.
    pub list_cache_bytes: usize,
    /// Bytes of small hot objects' content kept in memory (0: none).
    pub hot_content_bytes: usize,
}

/// Facts about a bucket.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BucketInfo {
    /// Creation time, unix nanoseconds.
    pub created_ns: i64,
}

/// Objects and buckets over a target's mountpaths.
#[derive(Debug)]
pub struct ObjectStore {
    mountpaths: Mountpaths,
    cfg: StoreConfig,
    buckets: RwLock<BTreeMap<String, BucketInfo>>,
    pools: ChunkPools,
    meta_cache: Arc<MetaCache>,
    md5: md5_batch::Md5Batcher,
    quarantine: Quarantine,
    dir_cache: Arc<dir_cache::DirCache>,
    /// Held by whatever changes the set of buckets on disk (create, destroy, rename): a
    /// repeated rename arriving while the first still moves trees must see it done.
    bucket_changes: tokio::sync::Mutex<()>,
}

/// Most objects kept open with their metadata (about 300 bytes and one descriptor each).
const META_CACHE_OBJECTS: usize = 64 * 1024;

/// The open-file cache's size: at most a quarter of the descriptors we may open.
fn meta_cache_capacity() -> usize {
    use nix::sys::resource::{getrlimit, Resource};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft / 4)
        .unwrap_or(usize::MAX)
        .min(META_CACHE_OBJECTS)
}

impl ObjectStore {
    /// Opens the store: removes stale work files and trash left by an earlier run and
    /// loads the bucket list from the mountpaths.
    pub fn open(
        mountpaths: Mountpaths,
        cfg: StoreConfig,
        quarantine: Quarantine,
    ) -> Result<ObjectStore> {
        let buckets = bucket::recover(&mountpaths)?;
        let pools = ChunkPools::new(cfg.chunk_size, cfg.buffer_budget, cfg.direct_io);
        let dir_cache = Arc::new(dir_cache::DirCache::new(cfg.list_cache_bytes));
        let meta_cache = Arc::new(MetaCache::new(meta_cache_capacity(), cfg.hot_content_bytes));
        let mut quarantine = quarantine;
        quarantine.cache = Some(meta_cache.clone());
        Ok(ObjectStore {
            mountpaths,
            cfg,
            buckets: RwLock::new(buckets),
            pools,
            meta_cache,
            md5: md5_batch::Md5Batcher::start()
                .map_err(|e| Error::io("start the MD5 thread", e))?,
            quarantine,
            dir_cache,
            bucket_changes: tokio::sync::Mutex::new(()),
        })
    }

    /// Resizes the budget of chunk buffers (the mountpaths changed).
    pub fn set_buffer_budget(&self, bytes: usize) {
        self.pools.set_budget(bytes);
    }

    /// The budget of chunk buffers now, bytes.
    pub fn buffer_budget(&self) -> usize {
        self.pools.budget()
    }

    /// The mountpaths this store spreads objects over.
    pub fn mountpaths(&self) -> &Mountpaths {
        &self.mountpaths
    }

    /// The object's digest and the mountpath HRW picks for it among the available ones.
    pub(crate) fn place(&self, bucket: &str, object: &str) -> Result<(u64, Arc<Mountpath>)> {
        self.mountpaths
            .for_object(bucket, object)
            .ok_or(Error::NoMountpaths)
    }

    /// Checks the bucket exists and the name is valid, then places the object.
    pub(crate) fn place_checked(
        &self,
        bucket: &str,
        object: &str,
    ) -> Result<(u64, Arc<Mountpath>)> {
        self.require_bucket(bucket)?;
        crate::names::validate_object(object)?;
        self.place(bucket, object)
    }

    /// The store's settings.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Fails with [`Error::BucketNotFound`] unless the bucket exists.
    pub fn require_bucket(&self, bucket: &str) -> Result<()> {
        crate::names::validate_bucket(bucket)?;
        if self.read_buckets().contains_key(bucket) {
            Ok(())
        } else {
            Err(Error::BucketNotFound(bucket.to_string()))
        }
    }

    fn read_buckets(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, BucketInfo>> {
        self.buckets.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_buckets(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, BucketInfo>> {
        self.buckets.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unix nanoseconds now.
pub fn unix_now_ns() -> i64 {
    unix_ns(Ok(std::time::SystemTime::now()))
}

/// Unix nanoseconds of a file time.
pub(crate) fn unix_ns(t: std::io::Result<std::time::SystemTime>) -> i64 {
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}
