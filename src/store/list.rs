//! List objects: a sorted, paged walk over the bucket's `%ob` tree on every mountpath.
//!
//! Each page walks the trees again from the continuation token (names are the token, so
//! no server-side cursor is kept) and keeps only the smallest `page_size + 1` names in a
//! heap: memory is bounded by the page, not the bucket. Subtrees that cannot hold a name
//! after the token or under the prefix are skipped. Directory walks run on the blocking
//! pool, one per mountpath, so they never stall a disk worker's data path.

use std::path::{Path, PathBuf};

use super::dir_cache::{read_sorted, DirCache};
use super::meta::{ObjectMeta, XATTR};
use super::{unix_ns, Error, ObjectStore, Result};
use crate::fs::layout;

/// Which properties to fill in for each entry (the name always is).
#[derive(Debug, Clone, Copy, Default)]
pub struct Props {
    /// Size in bytes.
    pub size: bool,
    /// Checksum value.
    pub checksum: bool,
    /// Access time.
    pub atime: bool,
    /// Version.
    pub version: bool,
    /// Mountpath location.
    pub location: bool,
    /// Entity tag and modification time (S3 listings).
    pub etag: bool,
}

/// One page request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Only names starting with this.
    pub prefix: String,
    /// Only names strictly after this (the previous page's last name).
    pub after: String,
    /// Entries per page (at least 1).
    pub page_size: usize,
    /// Properties wanted.
    pub props: Props,
    /// Only the level below the prefix's directory: objects there, and their
    /// subdirectories as entries ending in `/` (AIStore's `LsNoRecursion`).
    pub no_recursion: bool,
}

/// One listed object.
#[derive(Debug, Clone, Default)]
pub struct ListEntry {
    /// Object name.
    pub name: String,
    /// Size, if asked for.
    pub size: u64,
    /// Checksum value, if asked for.
    pub checksum: String,
    /// Access time, unix ns, if asked for.
    pub atime_ns: i64,
    /// Version, if asked for.
    pub version: String,
    /// Mountpath, if asked for.
    pub location: String,
    /// Entity tag without quotes, if asked for.
    pub etag: String,
    /// Modification time, unix ns, with any property.
    pub mtime_ns: i64,
    /// A virtual directory (non-recursive listing), not an object.
    pub is_dir: bool,
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Entries sorted by name.
    pub entries: Vec<ListEntry>,
    /// The last name of this page when more follow, else empty.
    pub next_after: String,
}

impl ObjectStore {
    /// Lists one page of `bucket`.
    pub async fn list(&self, bucket: &str, req: ListRequest) -> Result<ListPage> {
        self.require_bucket(bucket)?;
        // The prefix's directories become a path below the bucket: never from a bad one.
        crate::names::validate_prefix(&req.prefix)?;
        if req.no_recursion {
            return self.list_one_level(bucket, req).await;
        }
        let page = req.page_size.max(1);
        let keep = page + 1;
        // One snapshot of the mountpaths for the walk and the stats after it; leaving
        // ones are read too (their objects are still being moved off).
        let roots = self.readable_roots();
        let mut walks = Vec::new();
        for root in &roots {
            let root = layout::objects_dir(root, bucket);
            let (prefix, after) = (req.prefix.clone(), req.after.clone());
            let cache = self.dir_cache.clone();
            walks.push(tokio::task::spawn_blocking(move || {
                sorted_names(Some(&cache), &root, &prefix, &after, keep)
            }));
        }
        let mut names: Vec<(String, usize)> = Vec::new();
        // Names above the smallest last name of a walk that hit its limit are not known
        // completely: the page ends there at the latest.
        let mut cut: Option<String> = None;
        for (i, walk) in walks.into_iter().enumerate() {
            let found = walk
                .await
                .map_err(|e| Error::io(format!("{bucket}: list"), std::io::Error::other(e)))?
                .map_err(|e| Error::io(format!("{bucket}: list"), e))?;
            if found.len() >= keep {
                if let Some(last) = found.last() {
                    if cut.as_ref().is_none_or(|c| last < c) {
                        cut = Some(last.clone());
                    }
                }
            }
            names.extend(found.into_iter().map(|n| (n, i)));
        }
        names.sort_unstable();
        // A copy on two mountpaths (mid-resilver) is one object.
        names.dedup_by(|a, b| a.0 == b.0);
        if let Some(cut) = &cut {
            names.retain(|(n, _)| n <= cut);
        }
        let more = names.len() > page || cut.is_some();
        names.truncate(page);
        let next_after = if more {
            names.last().map(|(n, _)| n.clone()).unwrap_or_default()
        } else {
            String::new()
        };

        let named = names.into_iter().map(|(n, mp)| (n, false, mp)).collect();
        let entries = entries_of(bucket, named, roots, req.props).await?;
        Ok(ListPage {
            entries,
            next_after,
        })
    }
}

/// Fills in the wanted properties of one entry; a file gone meanwhile keeps zeros.
fn describe(mountpath: &Path, bucket: &str, name: String, props: Props) -> ListEntry {
    let path = layout::object_path(mountpath, bucket, &name);
    let mut e = ListEntry {
        name,
        ..Default::default()
    };
    if let Ok(stat) = std::fs::metadata(&path) {
        e.size = stat.len();
        e.atime_ns = unix_ns(stat.accessed());
        e.mtime_ns = unix_ns(stat.modified());
    }
    if props.checksum || props.version || props.etag {
        if let Some(meta) = xattr::get(&path, XATTR)
            .ok()
            .flatten()
            .and_then(|r| ObjectMeta::decode(&r).ok())
        {
            e.etag = meta.entity_tag().to_string();
            e.checksum = meta.cksum_value;
            e.version = meta.version.to_string();
        }
    }
    if props.location {
        e.location = mountpath.display().to_string();
    }
    e
}

impl ObjectStore {
    /// The mountpaths a listing reads, in one snapshot: leaving ones too (their objects
    /// are still being moved off).
    fn readable_roots(&self) -> Vec<PathBuf> {
        let mountpaths = self.mountpaths.current();
        mountpaths.readable().map(|m| m.path.clone()).collect()
    }

    /// A non-recursive page: one directory read per mountpath, whatever the bucket's size.
    async fn list_one_level(&self, bucket: &str, req: ListRequest) -> Result<ListPage> {
        let page = req.page_size.max(1);
        let dir = match req.prefix.rfind('/') {
            Some(i) => req.prefix[..=i].to_string(),
            None => String::new(),
        };
        let roots = self.readable_roots();
        let (b, r) = (bucket.to_string(), req.clone());
        let cache = self.dir_cache.clone();
        let found = tokio::task::spawn_blocking(move || {
            let mut names: Vec<(String, bool, usize)> = Vec::new();
            for (i, root) in roots.iter().enumerate() {
                let here = layout::objects_dir(root, &b).join(&dir);
                let Ok(Some(sorted)) = cache.get(&here) else {
                    continue;
                };
                let start = sorted
                    .partition_point(|k| wholly_before(&format!("{dir}{k}"), &r.prefix, &r.after));
                let mut taken = 0;
                for k in (start..sorted.len()).map(|j| sorted.key(j)) {
                    let (name, is_dir) = (format!("{dir}{k}"), k.ends_with('/'));
                    if name.as_str() > r.prefix.as_str() && !name.starts_with(&r.prefix) {
                        break;
                    }
                    if !name.starts_with(&r.prefix) || name <= r.after {
                        continue;
                    }
                    names.push((name, is_dir, i));
                    taken += 1;
                    if taken > page {
                        break;
                    }
                }
            }
            names.sort_unstable();
            names.dedup_by(|a, b| a.0 == b.0);
            (names, roots)
        })
        .await
        .map_err(|e| Error::io(format!("{bucket}: list"), std::io::Error::other(e)))?;
        let (mut names, roots) = found;
        let more = names.len() > page;
        names.truncate(page);
        let next_after = if more {
            names.last().map(|(n, _, _)| n.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let entries = entries_of(bucket, names, roots, req.props).await?;
        Ok(ListPage {
            entries,
            next_after,
        })
    }
}

/// Listing entries for `(name, is_dir, mountpath index into roots)`, with the wanted
/// properties read from each object (on the blocking pool).
async fn entries_of(
    bucket: &str,
    names: Vec<(String, bool, usize)>,
    roots: Vec<PathBuf>,
    props: Props,
) -> Result<Vec<ListEntry>> {
    let wants_stat = props.size
        || props.checksum
        || props.atime
        || props.version
        || props.location
        || props.etag;
    let bucket_name = bucket.to_string();
    tokio::task::spawn_blocking(move || {
        names
            .into_iter()
            .map(|(name, is_dir, mp)| {
                if is_dir || !wants_stat {
                    ListEntry {
                        name,
                        is_dir,
                        ..Default::default()
                    }
                } else {
                    describe(&roots[mp], &bucket_name, name, props)
                }
            })
            .collect()
    })
    .await
    .map_err(|e| Error::io(format!("{bucket}: list"), std::io::Error::other(e)))
}

/// The next `n` names under `root` after `after`, sorted, walked on the blocking pool
/// (background walks: resilver, scrub).
pub(super) async fn sorted_page(
    root: &Path,
    after: &str,
    n: usize,
) -> std::io::Result<Vec<String>> {
    let (root, after) = (root.to_path_buf(), after.to_string());
    tokio::task::spawn_blocking(move || sorted_names(None, &root, "", &after, n))
        .await
        .map_err(std::io::Error::other)?
}

/// The first `n` object names under `root`, in order, that start with `prefix` and sort
/// after `after`: a depth-first walk over sorted directories that skips, at each level,
/// every entry wholly before `after` or the prefix and stops once it has `n`. With a
/// cache, a page costs one `stat` per directory on its way plus the page itself.
pub(super) fn sorted_names(
    cache: Option<&DirCache>,
    root: &Path,
    prefix: &str,
    after: &str,
    n: usize,
) -> std::io::Result<Vec<String>> {
    let mut out = Vec::with_capacity(n.min(4096));
    if n > 0 {
        visit(cache, root, "", prefix, after, n, &mut out)?;
    }
    Ok(out)
}

fn visit(
    cache: Option<&DirCache>,
    dir: &Path,
    rel: &str,
    prefix: &str,
    after: &str,
    n: usize,
    out: &mut Vec<String>,
) -> std::io::Result<()> {
    let sorted = match cache {
        Some(c) => c.get(dir)?,
        None => read_sorted(dir)?,
    };
    let Some(sorted) = sorted else {
        return Ok(());
    };
    let start = sorted.partition_point(|k| wholly_before(&format!("{rel}{k}"), prefix, after));
    for i in start..sorted.len() {
        let key = sorted.key(i);
        let full = format!("{rel}{key}");
        if full.as_str() > prefix && !full.starts_with(prefix) {
            break;
        }
        match key.strip_suffix('/') {
            Some(sub) => visit(cache, &dir.join(sub), &full, prefix, after, n, out)?,
            None if full.as_str() > after && full.starts_with(prefix) => out.push(full),
            None => {}
        }
        if out.len() >= n {
            break;
        }
    }
    Ok(())
}

/// Whether every name a key stands for (the name itself, or for a directory key ending in
/// `/` every name it starts) sorts at or before `after`, or before the prefix's names.
fn wholly_before(key: &str, prefix: &str, after: &str) -> bool {
    let is_dir = key.ends_with('/');
    let before_after = key <= after && !(is_dir && after.starts_with(key));
    let before_prefix = key < prefix && !(is_dir && prefix.starts_with(key));
    before_after || before_prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wholly_before_prunes_correctly() {
        // (key, prefix, after, wholly before)
        for (key, prefix, after, want) in [
            ("a/", "a/b", "", false),
            ("a/b/", "a/", "", false),
            ("a/", "b/", "", true),
            ("a/", "", "b", true),
            ("b/", "", "b", false),
            ("b/", "", "b/x", false),
            ("c/", "", "b/x", false),
            ("b", "", "b", true),
            ("b0", "", "b", false),
            ("a.txt", "a/", "", true),
            ("ab", "abc", "", true),
        ] {
            assert_eq!(
                wholly_before(key, prefix, after),
                want,
                "{key} {prefix} {after}"
            );
        }
    }

    #[test]
    fn sorted_names_pages_through_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        for d in ["", "x/", "x/y/", "z/"] {
            for i in 0..5 {
                let name = format!("{d}n{i}");
                let p = dir.path().join(&name);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, b"").unwrap();
                all.push(name);
            }
        }
        all.sort();
        let cache = DirCache::new(1 << 20);
        for cached in [None, Some(&cache)] {
            for size in [1, 3, 7, 100] {
                let mut after = String::new();
                let mut seen = Vec::new();
                loop {
                    let page = sorted_names(cached, dir.path(), "", &after, size).unwrap();
                    if page.is_empty() {
                        break;
                    }
                    assert!(page.len() <= size);
                    after = page.last().unwrap().clone();
                    seen.extend(page);
                }
                assert_eq!(seen, all, "page size {size}");
            }
            let xs = sorted_names(cached, dir.path(), "x/y/", "", 100).unwrap();
            assert_eq!(xs, (0..5).map(|i| format!("x/y/n{i}")).collect::<Vec<_>>());
            let xs = sorted_names(cached, dir.path(), "x/", "x/n4", 100).unwrap();
            assert_eq!(xs, (0..5).map(|i| format!("x/y/n{i}")).collect::<Vec<_>>());
            let xs = sorted_names(cached, dir.path(), "n", "n1", 2).unwrap();
            assert_eq!(xs, ["n2", "n3"]);
        }
    }
}
