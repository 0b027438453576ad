//! Where each member of a plain TAR shard sits, learned once per shard version, so that
//! reading a member (`archpath`, GetBatch items) is one ranged read of the object instead
//! of a walk through the headers before it. Held in memory for at most [`MAX_MEMBERS`]
//! members in all (past that, every index is dropped and relearned on demand); an index
//! is used only while the object's size, version and checksum are what they were.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::OnceCell;

use crate::archive;
use crate::store::ObjectMeta;

/// Members held in all indexes.
pub const MAX_MEMBERS: usize = 256 * 1024;

/// One shard's members: name -> (offset, size).
pub struct ShardIndex {
    stamp: Stamp,
    members: HashMap<String, (u64, u64)>,
}

impl ShardIndex {
    /// Where member `name` sits, if the shard has it.
    pub fn get(&self, name: &str) -> Option<(u64, u64)> {
        self.members.get(name).copied()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    size: u64,
    version: u64,
    cksum: String,
}

impl Stamp {
    fn of(meta: &ObjectMeta) -> Stamp {
        Stamp {
            size: meta.size,
            version: meta.version,
            cksum: meta.cksum_value.clone(),
        }
    }
}

/// `None` inside: the object is not a plain TAR (read it the slow way).
type Slot = Arc<OnceCell<Option<Arc<ShardIndex>>>>;

/// Every shard's index on this target.
#[derive(Default)]
pub struct ShardIndexes {
    slots: Mutex<HashMap<(String, String), (Stamp, Slot)>>,
    held: Mutex<usize>,
}

impl ShardIndexes {
    /// The index of `bucket/object` at `meta`'s version, learned with `learn` (which reads
    /// the shard's headers) by the first caller; concurrent callers wait for it.
    pub async fn get<F, Fut>(
        &self,
        bucket: &str,
        object: &str,
        meta: &ObjectMeta,
        learn: F,
    ) -> Option<Arc<ShardIndex>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<Vec<(String, u64, u64)>>>,
    {
        let stamp = Stamp::of(meta);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let key = (bucket.to_string(), object.to_string());
            match slots.get(&key) {
                Some((s, slot)) if *s == stamp => slot.clone(),
                _ => {
                    let slot = Slot::default();
                    slots.insert(key, (stamp.clone(), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| async {
            let members = learn().await?;
            self.make_room(members.len());
            let mut by_name = HashMap::with_capacity(members.len());
            for (name, off, size) in members {
                // A name met twice: the first one, as a walk through the archive finds it.
                by_name.entry(name).or_insert((off, size));
            }
            Some(Arc::new(ShardIndex {
                stamp,
                members: by_name,
            }))
        })
        .await
        .clone()
        .filter(|i| i.stamp == Stamp::of(meta))
    }

    /// Drops every index when `n` more members would pass [`MAX_MEMBERS`].
    fn make_room(&self, n: usize) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if *held + n > MAX_MEMBERS {
            self.slots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, (_, slot)| !slot.initialized());
            *held = 0;
        }
        *held += n;
    }
}

/// Reads the member table of `file` when it is a plain TAR (None otherwise, or when it
/// cannot be read before `deadline`).
pub async fn learn(
    file: std::fs::File,
    name: String,
    deadline: Instant,
) -> Option<Vec<(String, u64, u64)>> {
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        match archive::detect(&mut file, &name) {
            Ok(Some(archive::Format::Tar)) => archive::tar_index(file, deadline).ok(),
            _ => None,
        }
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, version: u64) -> ObjectMeta {
        ObjectMeta {
            size,
            version,
            ..ObjectMeta::default()
        }
    }

    #[tokio::test]
    async fn learned_once_per_version_and_bounded() {
        let idx = ShardIndexes::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let learn = |n: usize| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                Some(
                    (0..n)
                        .map(|i| (format!("m{i}"), i as u64 * 1024, 10))
                        .collect(),
                )
            }
        };
        let a = idx
            .get("b", "s.tar", &meta(100, 1), || learn(3))
            .await
            .unwrap();
        assert_eq!(a.get("m2"), Some((2048, 10)));
        assert_eq!(a.get("nope"), None);
        idx.get("b", "s.tar", &meta(100, 1), || learn(3))
            .await
            .unwrap();
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "learned once"
        );
        // A new version of the shard is learned again.
        idx.get("b", "s.tar", &meta(100, 2), || learn(4))
            .await
            .unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Not a TAR: nothing held, asked again next time.
        assert!(idx
            .get("b", "x.zip", &meta(5, 1), || async { None })
            .await
            .is_none());
        // Past the bound every index goes and is relearned.
        idx.get("b", "big.tar", &meta(1, 1), || learn(MAX_MEMBERS))
            .await
            .unwrap();
        idx.get("b", "s.tar", &meta(100, 2), || learn(4))
            .await
            .unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 4);
    }
}
