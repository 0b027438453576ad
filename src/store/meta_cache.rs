//! Hot objects kept open, with their metadata in memory, so a GET of a hot object costs one
//! `fstat` of the kept descriptor instead of open + fstat + xattr read + close (AIStore
//! keeps its LOM cache, and nginx its open-file cache, for the same reasons).
//!
//! Entries are keyed by the object's name digest and valid only while the kept file still
//! has links and its device, inode, ctime and size are what they were: every PUT renames a
//! new inode into place (the old one loses its last link), DELETE unlinks, setting the
//! xattr moves ctime; PUT, DELETE and quarantine also drop the entry, and a change of the
//! mountpath set drops them all.
//! Memory and descriptors are bounded: a full shard is emptied and refills with what is hot.
//!
//! The content of small hot objects may be kept with the entry too, in a byte budget, so a
//! hit costs no read at all. An object file is never written in place once it is published
//! (every change renames a new inode over it, or moves its ctime or size), so the kept
//! bytes are exactly what the kept descriptor would read.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::meta::ObjectMeta;
use crate::disk::Budget;

const SHARDS: usize = 16;

/// Identity of one version of an object file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    ctime_ns: i64,
    size: u64,
}

impl FileStamp {
    /// The stamp of an open file's `fstat`.
    pub fn of(stat: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: stat.dev(),
            ino: stat.ino(),
            ctime_ns: stat.ctime() * 1_000_000_000 + stat.ctime_nsec(),
            size: stat.len(),
        }
    }

    /// The file's identity (device, inode).
    pub fn file_id(&self) -> (u64, u64) {
        (self.dev, self.ino)
    }
}

/// What is kept of one object.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file the metadata was read from.
    pub stamp: FileStamp,
    /// Its metadata.
    pub meta: ObjectMeta,
    /// The file, still open.
    pub file: Arc<File>,
    /// When the file was last proved current, and its times then (shared by every copy
    /// of the entry).
    pub checked: Arc<Checked>,
    /// The whole content, once read (shared by every copy of the entry).
    pub content: Arc<KeptContent>,
}

/// The content of a small object, once it has been read and the budget allowed it.
#[derive(Debug)]
pub struct KeptContent {
    bytes: std::sync::OnceLock<bytes::Bytes>,
    budget: Arc<Budget>,
}

impl KeptContent {
    /// An empty slot charged to `budget` when filled.
    pub fn new(budget: &Arc<Budget>) -> Arc<KeptContent> {
        Arc::new(KeptContent {
            bytes: std::sync::OnceLock::new(),
            budget: budget.clone(),
        })
    }

    /// The kept content, if any.
    pub fn get(&self) -> Option<bytes::Bytes> {
        self.bytes.get().cloned()
    }

    /// Keeps `bytes` if the budget has room (a slot is filled at most once).
    pub fn offer(&self, bytes: &bytes::Bytes) {
        if self.bytes.get().is_none() && self.budget.try_lend(bytes.len()) {
            if let Err(lost) = self.bytes.set(bytes.clone()) {
                self.budget.release(lost.len()); // another request filled it first
            }
        }
    }
}

impl Drop for KeptContent {
    fn drop(&mut self) {
        if let Some(b) = self.bytes.get() {
            self.budget.release(b.len());
        }
    }
}

/// The last check of a kept file.
#[derive(Debug, Default)]
pub struct Checked {
    /// Unix milliseconds of the check.
    pub at_ms: AtomicU64,
    pub atime_ns: AtomicI64,
    pub mtime_ns: AtomicI64,
}

impl Checked {
    /// A check done now that found these times.
    pub fn now(atime_ns: i64, mtime_ns: i64) -> Arc<Checked> {
        let c = Checked::default();
        c.record(atime_ns, mtime_ns);
        Arc::new(c)
    }

    pub fn record(&self, atime_ns: i64, mtime_ns: i64) {
        self.atime_ns.store(atime_ns, Ordering::Relaxed);
        self.mtime_ns.store(mtime_ns, Ordering::Relaxed);
        self.at_ms.store(now_ms(), Ordering::Release);
    }

    /// Whether the last check is older than `max_ms`.
    pub fn stale(&self, max_ms: u64) -> bool {
        now_ms().saturating_sub(self.at_ms.load(Ordering::Acquire)) >= max_ms
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<u64, Entry>,
    /// Bumped by every forget and clear: an entry read before the bump is not inserted.
    generation: u64,
}

/// A bounded map from object to its open file and metadata.
#[derive(Debug)]
pub struct MetaCache {
    shards: Vec<Mutex<Shard>>,
    /// What kept content may hold.
    pub content_budget: Arc<Budget>,
    per_shard: usize,
    /// The mountpath set the entries were found under.
    set_generation: std::sync::atomic::AtomicU64,
}

impl MetaCache {
    /// A cache holding at most about `capacity` objects (0 turns it off), each with one
    /// open file descriptor.
    /// `content_bytes` bounds the small objects' content kept with their entries.
    pub fn new(capacity: usize, content_bytes: usize) -> MetaCache {
        MetaCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            content_budget: Budget::new(content_bytes),
            per_shard: capacity / SHARDS,
            set_generation: Default::default(),
        }
    }

    /// Forgets everything when the mountpath set changed since the entries were found (an
    /// object's mountpath may have changed with it).
    pub fn follow_set(&self, generation: u64) {
        if self.set_generation.load(Ordering::Acquire) != generation {
            self.clear();
            self.set_generation.store(generation, Ordering::Release);
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// What is kept of object `key`; the caller checks the stamp against the path.
    pub fn get(&self, key: u64) -> Option<Entry> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(key).map.get(&key).cloned()
    }

    /// The generation of `key`'s shard, to pass to [`MetaCache::put`].
    pub fn generation(&self, key: u64) -> u64 {
        self.shard(key).generation
    }

    /// The metadata of object `key` if it was read from exactly this file.
    pub fn meta_for(&self, key: u64, stamp: &FileStamp) -> Option<ObjectMeta> {
        if self.per_shard == 0 {
            return None;
        }
        let shard = self.shard(key);
        let entry = shard.map.get(&key).filter(|e| e.stamp == *stamp)?;
        Some(entry.meta.clone())
    }

    /// Remembers `file` and its `meta`, unless the object was forgotten (deleted,
    /// replaced, its bucket destroyed) since `generation` was read.
    pub fn put(&self, key: u64, generation: u64, entry: Entry) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(key);
        if shard.generation != generation {
            return;
        }
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            shard.map.clear();
        }
        shard.map.insert(key, entry);
    }

    /// Forgets everything (a bucket went away).
    pub fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.map.clear();
            shard.generation += 1;
        }
    }

    /// Forgets object `key` (its file was replaced or removed).
    pub fn forget(&self, key: u64) {
        if self.per_shard > 0 {
            let mut shard = self.shard(key);
            shard.map.remove(&key);
            shard.generation += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(v: u64) -> ObjectMeta {
        ObjectMeta {
            size: 3,
            cksum_type: "xxhash".into(),
            cksum_value: "00".into(),
            version: v,
            ..Default::default()
        }
    }

    #[test]
    fn hits_only_the_same_file_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o");
        std::fs::write(&path, b"abc").unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(&path).unwrap());
        let file = Arc::new(File::open(&path).unwrap());
        let entry = |v| Entry {
            stamp,
            meta: meta(v),
            file: file.clone(),
            checked: Checked::now(0, 0),
            content: KeptContent::new(&Budget::new(0)),
        };
        let cache = MetaCache::new(SHARDS * 2, 0);
        assert!(cache.meta_for(1, &stamp).is_none());
        let g = cache.generation(1);
        cache.put(1, g, entry(1));
        assert_eq!(cache.meta_for(1, &stamp).unwrap().version, 1);
        // A new file renamed over the name is another inode: no hit.
        let tmp = dir.path().join("t");
        std::fs::write(&tmp, b"xyz").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let replaced = FileStamp::of(&std::fs::metadata(&path).unwrap());
        assert!(cache.meta_for(1, &replaced).is_none());
        cache.forget(1);
        assert!(cache.meta_for(1, &stamp).is_none());
        // An open that started before the forget (a GET racing a DELETE) is not kept.
        cache.put(1, g, entry(2));
        assert!(cache.meta_for(1, &stamp).is_none());
        let g = cache.generation(1);
        cache.clear();
        cache.put(1, g, entry(3));
        assert!(
            cache.meta_for(1, &stamp).is_none(),
            "nor one racing a destroy"
        );
        // Bounded: keys of one shard beyond its share empty the shard.
        let g0 = cache.generation(0);
        for k in 0..100u64 {
            cache.put(k * SHARDS as u64, g0, entry(k));
        }
        assert!(cache.shard(0).map.len() <= 2);
    }

    #[test]
    fn kept_content_stays_in_its_budget_and_returns_it_when_dropped() {
        let budget = Budget::new(10);
        let (a, b) = (KeptContent::new(&budget), KeptContent::new(&budget));
        a.offer(&bytes::Bytes::from_static(b"123456"));
        assert_eq!(a.get().as_deref(), Some(&b"123456"[..]));
        a.offer(&bytes::Bytes::from_static(b"zz"));
        assert_eq!(a.get().as_deref(), Some(&b"123456"[..]), "filled once");
        b.offer(&bytes::Bytes::from_static(b"12345"));
        assert_eq!(b.get(), None, "6 + 5 > 10: not kept");
        assert_eq!(budget.lent(), 6);
        drop(a);
        assert_eq!(budget.lent(), 0);
        b.offer(&bytes::Bytes::from_static(b"12345"));
        assert_eq!(budget.lent(), 5);
    }
}
