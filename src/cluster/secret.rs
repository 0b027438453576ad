//! A cluster secret when the operator gave none: the proxy makes one and keeps it in its
//! state directory (targets are given that file). The proxy's start-up says so, loudly.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::ClusterKey;

/// File name of a generated secret in the proxy's state directory.
pub const SECRET_FILE: &str = "cluster.secret";

/// 32 random bytes, hex.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The secret kept in `dir`, made (readable by the owner only) if there is none yet.
/// Returns the key, the file and whether it was made now.
pub fn load_or_generate(dir: &Path) -> std::io::Result<(ClusterKey, PathBuf, bool)> {
    let file = dir.join(SECRET_FILE);
    if let Ok(text) = std::fs::read(&file) {
        if let Some(key) = ClusterKey::new(&text) {
            return Ok((key, file, false));
        }
    }
    let secret = random_secret();
    let tmp = dir.join(format!("{SECRET_FILE}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(secret.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &file)?;
    let key = ClusterKey::new(secret.as_bytes())
        .ok_or_else(|| std::io::Error::other("generated an empty secret"))?;
    Ok((key, file, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (_, file, made) = load_or_generate(dir.path()).unwrap();
        assert!(made);
        let first = std::fs::read(&file).unwrap();
        assert_eq!(first.len(), 64);
        let mode = std::fs::metadata(&file).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let (_, _, made) = load_or_generate(dir.path()).unwrap();
        assert!(!made);
        assert_eq!(std::fs::read(&file).unwrap(), first);
    }
}
