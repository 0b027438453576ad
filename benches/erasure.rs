//! Encode and decode speed of the Reed-Solomon crates considered for EC, one core, on
//! 8 MiB objects cut as `src/erasure.rs` cuts them (64 KiB shards): the crate we use
//! (`reed-solomon-simd`, through our stripe coder) against `reed-solomon-erasure`, in the
//! same run. Decoding rebuilds the object with its first P data slices lost (the worst
//! case: every stripe decoded).
//!
//!     cargo bench --bench erasure      # 2 s per case (SHARD_KIB=N: other shard sizes)
//!     cargo test --bench erasure       # one pass over 1 MiB per case: checks it runs

use std::time::{Duration, Instant};

use aisnode::erasure::{Decoder, Encoder, Layout};

/// Runs `f` until `budget` is spent (at least once); GiB/s of `bytes` per run.
fn rate(budget: Duration, bytes: usize, mut f: impl FnMut()) -> f64 {
    let t0 = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || t0.elapsed() < budget {
        f();
        runs += 1;
    }
    (bytes as f64 * runs as f64) / t0.elapsed().as_secs_f64() / (1u64 << 30) as f64
}

fn main() {
    let quick = std::env::args().all(|a| a != "--bench");
    let budget = if quick {
        Duration::ZERO
    } else {
        Duration::from_secs(2)
    };
    // Under `cargo test` (a debug build), one small object: it only checks the bench runs.
    let object_size: usize = if quick { 1 << 20 } else { 8 << 20 };
    let object: Vec<u8> = (0..object_size).map(|i| (i * 7 % 253) as u8).collect();
    println!("scheme,crate,encode_gib_s,decode_gib_s,encode_x_erasure,decode_x_erasure");
    let shard_kib: usize = std::env::var("SHARD_KIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for (d, p) in [(1, 1), (2, 1), (4, 2), (8, 4)] {
        let mut l = Layout::new(d, p, object_size as u64);
        if shard_kib > 0 {
            l.shard = shard_kib << 10;
        }
        // Ours: stripe by stripe.
        let mut enc = Encoder::new(l).expect("encoder");
        let mut stripes = Vec::new();
        let simd_enc = rate(budget, object_size, || {
            stripes = (0..l.stripes())
                .map(|k| {
                    let from = k as usize * l.stripe_bytes();
                    enc.encode(&object[from..from + l.bytes_in_stripe(k)])
                        .expect("encode")
                })
                .collect();
        });
        let mut dec = Decoder::new(l).expect("decoder");
        let simd_dec = rate(budget, object_size, || {
            let mut out = Vec::with_capacity(object_size);
            for (k, shards) in stripes.iter().enumerate() {
                let have: Vec<(usize, &[u8])> = shards
                    .iter()
                    .enumerate()
                    .skip(p)
                    .map(|(i, s)| (i, &s[..]))
                    .collect();
                out.extend(dec.decode(k as u64, &have).expect("decode"));
            }
            assert!(out == object);
        });
        // reed-solomon-erasure, the same stripes.
        let rs = reed_solomon_erasure::galois_8::ReedSolomon::new(d, p).expect("rs");
        let mut theirs: Vec<Vec<Vec<u8>>> = Vec::new();
        let er_enc = rate(budget, object_size, || {
            theirs = (0..l.stripes())
                .map(|k| {
                    let from = k as usize * l.stripe_bytes();
                    let stripe = &object[from..from + l.bytes_in_stripe(k)];
                    let mut shards: Vec<Vec<u8>> = (0..d + p)
                        .map(|i| {
                            let mut s = vec![0u8; l.shard];
                            let a = (i * l.shard).min(stripe.len());
                            let b = ((i + 1) * l.shard).min(stripe.len());
                            if i < d {
                                s[..b - a].copy_from_slice(&stripe[a..b]);
                            }
                            s
                        })
                        .collect();
                    rs.encode(&mut shards).expect("encode");
                    shards
                })
                .collect();
        });
        let er_dec = rate(budget, object_size, || {
            let mut out = Vec::with_capacity(object_size);
            for (k, shards) in theirs.iter().enumerate() {
                let mut opt: Vec<Option<Vec<u8>>> = shards
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (i >= p).then(|| s.clone()))
                    .collect();
                rs.reconstruct_data(&mut opt).expect("reconstruct");
                for s in opt.iter().take(d).flatten() {
                    out.extend_from_slice(s);
                }
                out.truncate(k * l.stripe_bytes() + l.bytes_in_stripe(k as u64));
            }
            assert!(out == object);
        });
        println!(
            "{d}+{p},reed-solomon-simd,{simd_enc:.2},{simd_dec:.2},{:.2},{:.2}",
            simd_enc / er_enc,
            simd_dec / er_dec
        );
        println!("{d}+{p},reed-solomon-erasure,{er_enc:.2},{er_dec:.2},1.00,1.00");
    }
}
