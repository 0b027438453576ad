//! Object metadata kept in memory, so a GET of a hot object skips the xattr read (AIStore
//! keeps its LOM cache for the same reason).
//!
//! Entries are keyed by the object's name digest and valid only for the exact file they
//! were read from: device, inode, ctime and size must all match what `fstat` of the opened
//! file says. Every PUT renames a new inode into place and setting the xattr moves ctime,
//! so a replaced object can never match a stale entry; PUT and DELETE also drop the entry.
//! Memory is bounded: a full shard is emptied and refills with what is hot.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use super::meta::ObjectMeta;

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
}

/// A bounded map from object to the metadata of its current file.
#[derive(Debug)]
pub struct MetaCache {
    shards: Vec<Mutex<HashMap<u64, (FileStamp, ObjectMeta)>>>,
    per_shard: usize,
}

impl MetaCache {
    /// A cache holding at most about `capacity` objects (0 turns it off).
    pub fn new(capacity: usize) -> MetaCache {
        MetaCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity / SHARDS,
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, HashMap<u64, (FileStamp, ObjectMeta)>> {
        self.shards[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The metadata of object `key` if it was read from exactly this file.
    pub fn get(&self, key: u64, stamp: &FileStamp) -> Option<ObjectMeta> {
        if self.per_shard == 0 {
            return None;
        }
        match self.shard(key).get(&key) {
            Some((s, meta)) if s == stamp => Some(meta.clone()),
            _ => None,
        }
    }

    /// Remembers `meta` as read from the file with `stamp`.
    pub fn put(&self, key: u64, stamp: FileStamp, meta: &ObjectMeta) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(key);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, (stamp, meta.clone()));
    }

    /// Forgets object `key` (its file was replaced or removed).
    pub fn forget(&self, key: u64) {
        if self.per_shard > 0 {
            self.shard(key).remove(&key);
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
            custom: Default::default(),
        }
    }

    #[test]
    fn hits_only_the_same_file_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o");
        std::fs::write(&path, b"abc").unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(&path).unwrap());
        let cache = MetaCache::new(SHARDS * 2);
        assert!(cache.get(1, &stamp).is_none());
        cache.put(1, stamp, &meta(1));
        assert_eq!(cache.get(1, &stamp).unwrap().version, 1);
        // A new file renamed over the name is another inode: no hit.
        let tmp = dir.path().join("t");
        std::fs::write(&tmp, b"xyz").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let replaced = FileStamp::of(&std::fs::metadata(&path).unwrap());
        assert!(cache.get(1, &replaced).is_none());
        cache.forget(1);
        assert!(cache.get(1, &stamp).is_none());
        // Bounded: keys of one shard beyond its share empty the shard.
        for k in 0..100u64 {
            cache.put(k * SHARDS as u64, stamp, &meta(k));
        }
        assert!(cache.shard(0).len() <= 2);
    }
}
