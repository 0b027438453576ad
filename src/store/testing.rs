//! A store on one temporary directory, for the store's own unit tests.

use std::time::Duration;

use prometheus::IntCounter;

use super::{ObjectStore, Quarantine, StoreConfig};
use crate::disk::{DiskHandle, EngineChoice, WorkerConfig};
use crate::fs::{Durability, GroupSync, IoCounters, Mountpath, Mountpaths};

fn counter() -> IntCounter {
    IntCounter::new("c", "c").expect("a valid counter")
}

pub fn store(dir: &std::path::Path) -> ObjectStore {
    store_with(dir, 1)
}

/// A store over `n` mountpaths, subdirectories `mp<i>` of `dir`.
pub fn store_with(dir: &std::path::Path, n: usize) -> ObjectStore {
    let mps = (0..n)
        .map(|i| {
            let worker = WorkerConfig {
                engine: EngineChoice::Psync,
                queue_depth: 8,
            };
            let disk = DiskHandle::start("store-test", worker).expect("disk worker");
            let counters = IoCounters {
                read: counter(),
                cache_read: counter(),
                write: counter(),
            };
            let path = if n == 1 {
                dir.to_path_buf()
            } else {
                let p = dir.join(format!("mp{i}"));
                std::fs::create_dir_all(&p).expect("mountpath dir");
                p
            };
            Mountpath::new(path, disk, counters, None, GroupSync::Filesystem)
        })
        .collect();
    let cfg = StoreConfig {
        durability: Durability::Group,
        validate_on_get: false,
        validate_cold_get: false,
        chunk_size: 64 << 10,
        max_object_size: 1 << 30,
        direct_io: false,
        inline_cache_hits: false,
        buffer_budget: 1 << 20,
        buffer_wait: Duration::from_secs(1),
        list_cache_bytes: 0,
        hot_content_bytes: 0,
    };
    ObjectStore::open(Mountpaths::new(mps), cfg, Quarantine::new(counter())).expect("store opens")
}
