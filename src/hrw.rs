//! Highest-random-weight (rendezvous) hashing, bit-compatible with AIStore.
//!
//! The same function places an object on a target (over node-ID digests) and on a
//! mountpath inside the target (over mountpath-path digests): every node computes the
//! same answer from the same inputs, with no shared state.

use xxhash_rust::xxh64::xxh64;

/// AIStore's `cos.MLCG32`, the seed of every HRW digest.
pub const SEED: u64 = 1_103_515_245;

/// XXH64 with the HRW seed: the digest of an object's uname, a node ID or a mountpath.
pub fn digest(bytes: &[u8]) -> u64 {
    xxh64(bytes, SEED)
}

/// The object's unique name in the global namespace of an `ais://` bucket.
pub fn uname(bucket: &str, object: &str) -> String {
    format!("ais/@#/{bucket}/{object}")
}

/// The digest of `ais://bucket/object`'s uname: its placement key (and our cache key).
pub fn object_digest(bucket: &str, object: &str) -> u64 {
    // Every request computes this: names that fit are laid out on the stack, not
    // formatted into a new String.
    const PREFIX: &[u8] = b"ais/@#/";
    let len = PREFIX.len() + bucket.len() + 1 + object.len();
    let mut buf = [0u8; 512];
    if len > buf.len() {
        return digest(uname(bucket, object).as_bytes());
    }
    let (b, o) = (PREFIX.len(), PREFIX.len() + bucket.len() + 1);
    buf[..b].copy_from_slice(PREFIX);
    buf[b..o - 1].copy_from_slice(bucket.as_bytes());
    buf[o - 1] = b'/';
    buf[o..len].copy_from_slice(object.as_bytes());
    digest(&buf[..len])
}

/// AIStore's xoshiro256-derived finaliser applied to `digest ^ node_digest`.
pub fn mix(x: u64) -> u64 {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    const M1: u64 = 0xbf58_476d_1ce4_e5b9;
    const M2: u64 = 0x94d0_49bb_1331_11eb;
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(M1);
    z = (z ^ (z >> 27)).wrapping_mul(M2);
    z = (z ^ (z >> 31)).wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(M1);
    z = (z ^ (z >> 27)).wrapping_mul(M2);
    z = (z ^ (z >> 31)).wrapping_mul(5);
    z.rotate_left(7).wrapping_mul(9)
}

/// Index of the candidate with the highest weight for `name_digest`, or `None` when
/// there is no candidate. Ties go to the later candidate, as in AIStore (`>=`).
pub fn select(name_digest: u64, candidates: impl IntoIterator<Item = u64>) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for (i, node_digest) in candidates.into_iter().enumerate() {
        let w = mix(node_digest ^ name_digest);
        if best.is_none_or(|(_, max)| w >= max) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_digest_is_the_digest_of_the_uname_for_short_and_long_names() {
        for (b, o) in [
            ("b", "o"),
            ("abc", "dir/x.jpg"),
            ("bk", &"n".repeat(504)),
            ("bk", &"n".repeat(505)),
            ("bk", &"n".repeat(2000)),
        ] {
            assert_eq!(
                object_digest(b, o),
                digest(uname(b, o).as_bytes()),
                "{b}/{}",
                o.len()
            );
        }
    }

    #[test]
    fn uname_matches_aistore_layout() {
        assert_eq!(uname("abc", "dir/x.jpg"), "ais/@#/abc/dir/x.jpg");
    }

    // Vectors computed independently with the AIStore Python SDK 2.0.0
    // (`aistore.sdk.utils.get_digest` and `xoshiro256_hash`), not with this code.
    #[test]
    fn matches_python_sdk_vectors() {
        assert_eq!(digest(b"ais/@#/abc/dir/x.jpg"), 0x6f90_dce9_b262_1b3d);
        assert_eq!(mix(0), 0x1a70_a846_bd9c_c2a9);
        assert_eq!(mix(0x0123_4567_89ab_cdef), 0x8206_5669_c6ab_7f2d);
        let mps: Vec<u64> = ["/ais/mp1", "/ais/mp2", "/ais/mp3", "/ais/mp4"]
            .iter()
            .map(|p| digest(p.as_bytes()))
            .collect();
        let long = "z".repeat(200);
        for (name, want) in [
            ("a", 1),
            ("dir/x.jpg", 3),
            ("obj-000001", 2),
            ("images/dog.jpeg", 0),
            ("ünïcode/名前", 3),
            (long.as_str(), 0),
        ] {
            let h = digest(uname("bench", name).as_bytes());
            assert_eq!(
                select(h, mps.iter().copied()),
                Some(want),
                "mountpath for {name}"
            );
        }
        let targets: Vec<u64> = ["t1abcd", "XyZ12345", "target-2"]
            .iter()
            .map(|t| digest(t.as_bytes()))
            .collect();
        for (name, want) in [("a", 0), ("dir/x.jpg", 1), ("obj-000001", 0)] {
            let h = digest(uname("bench", name).as_bytes());
            assert_eq!(
                select(h, targets.iter().copied()),
                Some(want),
                "target for {name}"
            );
        }
    }

    #[test]
    fn select_is_none_without_candidates() {
        assert_eq!(select(1, []), None);
    }

    #[test]
    fn spread_over_four_mountpaths_is_even() {
        let mps: Vec<u64> = (1..=4)
            .map(|i| digest(format!("/ais/mp{i}").as_bytes()))
            .collect();
        let mut counts = [0u32; 4];
        for n in 0..100_000 {
            let h = digest(uname("bench", &format!("obj-{n:06}")).as_bytes());
            counts[select(h, mps.iter().copied()).unwrap()] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(
            f64::from(*max) / f64::from(*min) <= 1.10,
            "uneven spread {counts:?}"
        );
    }
}
