//! The hashes a PUT computes as its body passes.

use bytes::Bytes;

use super::checksum::{Checksummer, DEFAULT_TYPE};
use super::{Error, ObjectStore, Result};

/// The hashes a PUT computes as the body passes: XXH64 always (it is stored), MD5 when
/// asked for or expected (on the MD5 thread), and the client's own checksum type when it
/// sent one to compare.
pub(super) struct BodyHashes {
    xxhash: Checksummer,
    expected: Option<Checksummer>,
    md5: Option<super::md5_batch::Md5Stream>,
}

impl BodyHashes {
    pub(super) fn new(
        store: &ObjectStore,
        bucket: &str,
        object: &str,
        md5: bool,
        expected: Option<&(String, String)>,
    ) -> Result<Self> {
        let wants_md5 = md5 || expected.is_some_and(|(k, _)| k == "md5");
        let expected = match expected {
            Some((kind, _)) if kind == DEFAULT_TYPE || kind == "md5" => None,
            Some((kind, _)) => {
                Some(
                    Checksummer::new(kind).ok_or_else(|| Error::UnsupportedChecksum {
                        bucket: bucket.into(),
                        object: object.into(),
                        kind: kind.clone(),
                    })?,
                )
            }
            None => None,
        };
        Ok(BodyHashes {
            xxhash: Checksummer::new(DEFAULT_TYPE).unwrap_or(Checksummer::None),
            expected,
            md5: wants_md5.then(|| store.md5.stream()),
        })
    }

    pub(super) async fn update(&mut self, data: &Bytes) {
        self.xxhash.update(data);
        if let Some(c) = self.expected.as_mut() {
            c.update(data);
        }
        if let Some(m) = self.md5.as_mut() {
            // Hashed on the MD5 thread while this chunk is copied and written.
            m.update(data.clone()).await;
        }
    }

    /// The XXH64 and MD5 values, once the client's expected checksum (if any) matched.
    pub(super) async fn finish(
        self,
        bucket: &str,
        object: &str,
        expected: Option<&(String, String)>,
    ) -> Result<(String, Option<String>)> {
        let value = self.xxhash.finish();
        let md5 = match self.md5 {
            Some(m) => Some(m.finish().await),
            None => None,
        };
        if let Some((kind, expected)) = expected {
            let actual = match (self.expected, kind.as_str()) {
                (Some(c), _) => c.finish(),
                (None, "md5") => md5.clone().unwrap_or_default(),
                (None, _) => value.clone(),
            };
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(Error::ChecksumMismatch {
                    bucket: bucket.into(),
                    object: object.into(),
                    kind: kind.clone(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok((value, md5))
    }
}
