//! Reed-Solomon coding of an object into D data and P parity slices, stripe by stripe, so
//! memory stays at (D+P) shards however large the object is (pure; the crate is
//! `reed-solomon-simd`, chosen on `benches/erasure.rs`: it encodes 3-6x faster than
//! `reed-solomon-erasure`; its decoding has a fixed cost per call, hence shards of up to
//! 256 KiB rather than 64).
//!
//! An object is cut into stripes of D shards of `shard` bytes (the last stripe padded
//! with zeros); each stripe gets P parity shards. Slice `i` is shard `i` of every stripe,
//! in stripe order, so any D slices rebuild the object stripe by stripe.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// Bytes of one shard in a stripe, at most (a slice is read and written in these).
pub const MAX_SHARD: usize = 256 << 10;

/// How an object of a given size is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Data slices.
    pub data: usize,
    /// Parity slices.
    pub parity: usize,
    /// Bytes per shard (even, as the coder needs).
    pub shard: usize,
    /// The object's size.
    pub size: u64,
}

impl Layout {
    /// The layout of an object of `size` bytes: shards of [`MAX_SHARD`], or smaller for
    /// an object that fills less than one stripe of them (little padding).
    pub fn new(data: usize, parity: usize, size: u64) -> Layout {
        let per_slice = size.div_ceil(data.max(1) as u64);
        let shard = (per_slice.min(MAX_SHARD as u64) as usize).max(2);
        Layout {
            data: data.max(1),
            parity: parity.max(1),
            shard: shard + shard % 2,
            size,
        }
    }

    /// Object bytes in one stripe.
    pub fn stripe_bytes(&self) -> usize {
        self.data * self.shard
    }

    /// Stripes of the object.
    pub fn stripes(&self) -> u64 {
        self.size.div_ceil(self.stripe_bytes() as u64)
    }

    /// Bytes of each slice.
    pub fn slice_size(&self) -> u64 {
        self.stripes() * self.shard as u64
    }

    /// Object bytes in stripe `k` (the last one may be short).
    pub fn bytes_in_stripe(&self, k: u64) -> usize {
        let start = k * self.stripe_bytes() as u64;
        (self.size.saturating_sub(start)).min(self.stripe_bytes() as u64) as usize
    }
}

/// The coder failed (bad layout or too few shards).
#[derive(Debug, thiserror::Error)]
#[error("erasure coding: {0}")]
pub struct CodingError(String);

fn coding(e: impl std::fmt::Display) -> CodingError {
    CodingError(e.to_string())
}

/// Encodes stripes of one layout (the coder's tables are built once).
pub struct Encoder {
    layout: Layout,
    rs: ReedSolomonEncoder,
}

impl Encoder {
    pub fn new(layout: Layout) -> Result<Encoder, CodingError> {
        let rs =
            ReedSolomonEncoder::new(layout.data, layout.parity, layout.shard).map_err(coding)?;
        Ok(Encoder { layout, rs })
    }

    /// The D+P shards of one stripe: `stripe` holds its object bytes (at most one
    /// stripe's worth), zero-padded here.
    pub fn encode(&mut self, stripe: &[u8]) -> Result<Vec<Vec<u8>>, CodingError> {
        let l = self.layout;
        if stripe.len() > l.stripe_bytes() {
            return Err(CodingError(format!(
                "{} bytes do not fit a stripe of {}",
                stripe.len(),
                l.stripe_bytes()
            )));
        }
        let mut shards: Vec<Vec<u8>> = (0..l.data)
            .map(|i| {
                let from = (i * l.shard).min(stripe.len());
                let to = ((i + 1) * l.shard).min(stripe.len());
                let mut s = Vec::with_capacity(l.shard);
                s.extend_from_slice(&stripe[from..to]);
                s.resize(l.shard, 0);
                s
            })
            .collect();
        for s in &shards {
            self.rs.add_original_shard(s).map_err(coding)?;
        }
        let result = self.rs.encode().map_err(coding)?;
        shards.extend(result.recovery_iter().map(<[u8]>::to_vec));
        Ok(shards)
    }
}

/// Rebuilds stripes of one layout from any D of their shards.
pub struct Decoder {
    layout: Layout,
    rs: ReedSolomonDecoder,
}

impl Decoder {
    pub fn new(layout: Layout) -> Result<Decoder, CodingError> {
        let rs =
            ReedSolomonDecoder::new(layout.data, layout.parity, layout.shard).map_err(coding)?;
        Ok(Decoder { layout, rs })
    }

    /// The object bytes of stripe `k` from `shards` (slice index, shard): at least D
    /// distinct ones. Data shards are used as they are; missing ones are rebuilt.
    pub fn decode(&mut self, k: u64, shards: &[(usize, &[u8])]) -> Result<Vec<u8>, CodingError> {
        let l = self.layout;
        let mut data: Vec<Option<&[u8]>> = vec![None; l.data];
        let mut have = 0;
        for &(i, s) in shards {
            if s.len() != l.shard || i >= l.data + l.parity {
                return Err(CodingError(format!("shard {i} of {} bytes", s.len())));
            }
            if i < l.data && data[i].is_none() {
                data[i] = Some(s);
            }
            have += 1;
        }
        if have < l.data {
            return Err(CodingError(format!(
                "{have} shards of stripe {k}; {} are needed",
                l.data
            )));
        }
        let mut out = Vec::with_capacity(l.stripe_bytes());
        if data.iter().all(Option::is_some) {
            data.iter().flatten().for_each(|s| out.extend_from_slice(s));
        } else {
            for &(i, s) in shards {
                if i < l.data {
                    self.rs.add_original_shard(i, s).map_err(coding)?;
                } else {
                    self.rs.add_recovery_shard(i - l.data, s).map_err(coding)?;
                }
            }
            let result = self.rs.decode().map_err(coding)?;
            let restored: std::collections::HashMap<usize, &[u8]> =
                result.restored_original_iter().collect();
            for (i, s) in data.iter().enumerate() {
                let shard = s.or_else(|| restored.get(&i).copied()).ok_or_else(|| {
                    CodingError(format!("stripe {k}: data shard {i} not rebuilt"))
                })?;
                out.extend_from_slice(shard);
            }
        }
        out.truncate(l.bytes_in_stripe(k));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Every object size class, every way of losing up to P slices: byte-exact.
    #[test]
    fn any_d_slices_rebuild_the_object() {
        let cases = [
            (1, 1, 1u64),
            (1, 1, 1000),
            (2, 1, 3),
            (2, 1, 300_001),
            (4, 2, 262_144),
            (4, 2, 1_000_003),
            (3, 3, (MAX_SHARD * 3 + 5) as u64),
        ];
        for (d, p, size) in cases {
            let l = Layout::new(d, p, size);
            assert_eq!(l.shard % 2, 0);
            assert!(l.slice_size() * d as u64 >= size, "{l:?}");
            assert!(l.shard <= MAX_SHARD);
            let data = object(size as usize);
            let mut enc = Encoder::new(l).unwrap();
            let stripes: Vec<Vec<Vec<u8>>> = (0..l.stripes())
                .map(|k| {
                    let from = (k as usize) * l.stripe_bytes();
                    enc.encode(&data[from..from + l.bytes_in_stripe(k)])
                        .unwrap()
                })
                .collect();
            // Every set of D+P-lost slices: losing up to P of them.
            for lost_mask in 0u32..(1 << (d + p)) {
                if lost_mask.count_ones() as usize > p {
                    continue;
                }
                let mut dec = Decoder::new(l).unwrap();
                let mut rebuilt = Vec::new();
                for (k, shards) in stripes.iter().enumerate() {
                    let have: Vec<(usize, &[u8])> = shards
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| lost_mask & (1 << i) == 0)
                        .map(|(i, s)| (i, s.as_slice()))
                        .collect();
                    rebuilt.extend(dec.decode(k as u64, &have).unwrap());
                }
                assert!(rebuilt == data, "{d}+{p} size {size} lost {lost_mask:b}");
            }
            // One slice too few: an error, not wrong bytes.
            let mut dec = Decoder::new(l).unwrap();
            let few: Vec<(usize, &[u8])> = stripes[0]
                .iter()
                .enumerate()
                .skip(p + 1)
                .map(|(i, s)| (i, s.as_slice()))
                .collect();
            assert!(dec.decode(0, &few).is_err(), "{d}+{p}");
        }
    }

    #[test]
    fn layouts() {
        // (D, P, size) -> (shard, stripes, slice size)
        for ((d, p, size), want) in [
            ((2, 1, 10u64), (6, 1, 6)),
            ((2, 1, 0), (2, 0, 0)),
            ((4, 2, 262_144), (65_536, 1, 65_536)),
            ((2, 1, 8 << 20), (262_144, 16, 4 << 20)),
            ((1, 1, 100_001), (100_002, 1, 100_002)),
            ((1, 1, 300_001), (262_144, 2, 524_288)),
        ] {
            let l = Layout::new(d, p, size);
            assert_eq!(
                (l.shard, l.stripes(), l.slice_size()),
                want,
                "{d} {p} {size}"
            );
        }
        assert_eq!(Layout::new(2, 1, 8 << 20).bytes_in_stripe(15), 524_288);
        assert_eq!(Layout::new(2, 1, 100).bytes_in_stripe(0), 100);
    }
}
