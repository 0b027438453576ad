//! The node-ID mark: xattr `user.ais.daemon_id` on every mountpath root, as AIStore does.
//! It keeps the ID across restarts and stops two targets from sharing a mountpath.

use std::path::PathBuf;

use rand::Rng;

use super::FsError;

const XATTR: &str = "user.ais.daemon_id";

/// Decides this target's ID: the mark already on the mountpaths, else `requested`, else
/// a new random ID; then marks every mountpath with it. Fails if the mountpaths carry
/// different marks or a mark differs from `requested`.
pub fn resolve_node_id(paths: &[PathBuf], requested: Option<&str>) -> Result<String, FsError> {
    let mut found: Option<(String, &PathBuf)> = None;
    for path in paths {
        let mark = xattr::get(path, XATTR).map_err(|e| FsError::Xattr(path.clone(), e))?;
        let Some(mark) = mark else { continue };
        let mark = String::from_utf8_lossy(&mark).into_owned();
        if let Some(want) = requested {
            if want != mark {
                return Err(FsError::ForeignNode {
                    path: path.clone(),
                    owner: mark,
                    ours: want.to_string(),
                });
            }
        }
        match &found {
            Some((other, other_path)) if *other != mark => {
                return Err(FsError::MixedMarks {
                    a: (*other_path).clone(),
                    a_id: other.clone(),
                    b: path.clone(),
                    b_id: mark,
                })
            }
            _ => found = Some((mark, path)),
        }
    }
    let id = match (found, requested) {
        (Some((id, _)), _) => id,
        (None, Some(id)) => id.to_string(),
        (None, None) => random_id(),
    };
    write_mark(paths, XATTR, &id)?;
    Ok(id)
}

const UUID_XATTR: &str = "user.ais.cluster_uuid";
const PRIMARY_XATTR: &str = "user.ais.primary";

/// The UUID of the cluster these mountpaths joined, if any (the first mark found).
pub fn read_cluster_uuid(paths: &[PathBuf]) -> Option<String> {
    read_mark(paths, UUID_XATTR)
}

/// Marks every mountpath as belonging to cluster `uuid`.
pub fn mark_cluster_uuid(paths: &[PathBuf], uuid: &str) -> Result<(), FsError> {
    write_mark(paths, UUID_XATTR, uuid)
}

/// The intra-cluster URL of the primary these mountpaths' target last followed.
pub fn read_primary_url(paths: &[PathBuf]) -> Option<String> {
    read_mark(paths, PRIMARY_XATTR)
}

/// Remembers the primary's intra-cluster URL on every mountpath (a restarted target
/// registers there first: the public port never moves a registered target).
pub fn mark_primary_url(paths: &[PathBuf], url: &str) -> Result<(), FsError> {
    write_mark(paths, PRIMARY_XATTR, url)
}

/// The first mountpath's value of extended attribute `name`, if any has it.
fn read_mark(paths: &[PathBuf], name: &str) -> Option<String> {
    paths.iter().find_map(|p| {
        xattr::get(p, name)
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    })
}

/// Sets extended attribute `name` on every mountpath.
fn write_mark(paths: &[PathBuf], name: &str, value: &str) -> Result<(), FsError> {
    for path in paths {
        xattr::set(path, name, value.as_bytes()).map_err(|e| FsError::Xattr(path.clone(), e))?;
    }
    Ok(())
}

/// Eight random letters and digits, the shape of AIStore's generated IDs.
fn random_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_persists_and_foreign_marks_are_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let paths = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        let id = resolve_node_id(&paths, None).unwrap();
        assert_eq!(id.len(), 8);
        assert_eq!(resolve_node_id(&paths, None).unwrap(), id);
        assert_eq!(resolve_node_id(&paths, Some(&id)).unwrap(), id);
        assert!(matches!(
            resolve_node_id(&paths, Some("other")),
            Err(FsError::ForeignNode { .. })
        ));
        let c = tempfile::tempdir().unwrap();
        resolve_node_id(&[c.path().to_path_buf()], Some("third")).unwrap();
        let mixed = vec![a.path().to_path_buf(), c.path().to_path_buf()];
        assert!(matches!(
            resolve_node_id(&mixed, None),
            Err(FsError::MixedMarks { .. })
        ));
    }
}
