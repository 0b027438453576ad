//! Criterion micro-benchmarks of the hot pieces: HRW placement, checksums, list-page
//! encoding and name validation. `cargo bench --bench micro`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use md5::Digest as _;

use aisnode::cluster::{Smap, Snode};
use aisnode::hrw;
use aisnode::wire::lso::{page_response, LsoEntry, LsoPage};

fn hrw_mountpaths(c: &mut Criterion) {
    let mut g = c.benchmark_group("hrw_mountpath");
    for n in [4usize, 16, 64] {
        let digests: Vec<u64> = (0..n)
            .map(|i| hrw::digest(format!("/ais/mp{i}").as_bytes()))
            .collect();
        g.bench_with_input(BenchmarkId::from_parameter(n), &digests, |b, d| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let h = hrw::digest(hrw::uname("bench", &format!("obj-{i}")).as_bytes());
                black_box(hrw::select(h, d.iter().copied()))
            })
        });
    }
    g.finish();
}

fn hrw_targets(c: &mut Criterion) {
    let mut g = c.benchmark_group("hrw_target");
    for n in [3usize, 100] {
        let mut smap = Smap::new(
            Snode::new("p", "proxy", "http://h:1"),
            "u".into(),
            "t".into(),
        );
        for i in 0..n {
            let id = format!("t{i:04}");
            smap.tmap
                .insert(id.clone(), Snode::new(&id, "target", "http://h:2"));
        }
        g.bench_with_input(BenchmarkId::from_parameter(n), &smap, |b, s| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                black_box(s.owner("bench", &format!("obj-{i}")).map(|t| t.id_digest))
            })
        });
    }
    g.finish();
}

fn checksums(c: &mut Criterion) {
    let data = vec![0xa5u8; 1 << 20];
    let mut g = c.benchmark_group("checksum_1MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("xxh64", |b| {
        b.iter(|| black_box(xxhash_rust::xxh64::xxh64(black_box(&data), 0)))
    });
    g.bench_function("md5", |b| {
        b.iter(|| black_box(md5::Md5::digest(black_box(&data))))
    });
    g.finish();
}

fn list_page(c: &mut Criterion) {
    let page = LsoPage {
        uuid: "abcdefghij".into(),
        continuation_token: "obj-000999".into(),
        entries: (0..1000)
            .map(|i| LsoEntry {
                name: format!("dir/obj-{i:06}"),
                checksum: "0123456789abcdef".into(),
                atime: "Wed, 25 Nov 2026 18:00:00 GMT".into(),
                size: (1 << 20).to_string(),
                flags: 64,
                ..Default::default()
            })
            .collect(),
        flags: 0,
    };
    let mut g = c.benchmark_group("list_page_1000");
    g.bench_function("msgpack", |b| {
        b.iter(|| black_box(page_response(black_box(&page), true).is_ok()))
    });
    g.bench_function("json", |b| {
        b.iter(|| black_box(page_response(black_box(&page), false).is_ok()))
    });
    g.finish();
}

fn names(c: &mut Criterion) {
    let good = "images/2026/11/25/camera-07/frame-000123.jpg";
    c.bench_function("validate_object_name", |b| {
        b.iter(|| black_box(aisnode::names::validate_object(black_box(good)).is_ok()))
    });
}

/// MD5 of 32 concurrent 1 MiB uploads arriving in 16-48 KiB frames: one stream at a time
/// (md-5) against the shared multi-lane thread.
fn md5_uploads(c: &mut Criterion) {
    let data = bytes::Bytes::from(vec![5u8; 1 << 20]);
    let mut g = c.benchmark_group("md5_32_uploads_of_1MiB");
    g.throughput(Throughput::Bytes(32 << 20));
    g.sample_size(10);
    g.bench_function("md-5, one stream each", |b| {
        b.iter(|| {
            for _ in 0..32 {
                black_box(md5::Md5::digest(&data));
            }
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let batcher = aisnode::store::md5_batch::Md5Batcher::start().unwrap();
    g.bench_function("batched lanes", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..32)
                    .map(|i| {
                        let (b, data) = (batcher.clone(), data.clone());
                        tokio::spawn(async move {
                            let mut s = b.stream();
                            let frame = 16384 + 1024 * (i % 32);
                            let mut off = 0;
                            while off < data.len() {
                                let end = (off + frame).min(data.len());
                                s.update(data.slice(off..end)).await;
                                off = end;
                            }
                            s.finish().await
                        })
                    })
                    .collect();
                for t in tasks {
                    black_box(t.await.unwrap());
                }
            })
        })
    });
    g.finish();
}

/// The cluster MAC on a 2 KiB control message (sign at the sender, verify headers and
/// body at the receiver), and the HS256 check of a client token.
fn request_auth(c: &mut Criterion) {
    use aisnode::auth::{Claims, TokenKey};
    use aisnode::cluster::ClusterKey;
    let key = ClusterKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let body = vec![b'x'; 2048];
    let method = http::Method::PUT;
    c.bench_function("intra_auth_sign_verify_2KiB", |b| {
        b.iter(|| {
            let mut h = http::HeaderMap::new();
            let v = key.sign(&method, "/v1/metasync", "p1", Some(&body), 1000);
            h.insert(aisnode::cluster::intra_auth::AUTH_HEADER, v);
            let s = key.verify(&method, "/v1/metasync", &h, 1000).unwrap();
            s.check_body(black_box(&body)).unwrap();
        })
    });
    let tk = TokenKey::new(b"authn-key").unwrap();
    let token = tk.issue(&Claims {
        username: "alice".into(),
        exp: Some(u64::MAX / 2),
        admin: true,
        ..Claims::default()
    });
    c.bench_function("jwt_hs256_verify", |b| {
        b.iter(|| tk.verify(black_box(&token), 1000).unwrap())
    });
}

criterion_group!(
    micro,
    md5_uploads,
    hrw_mountpaths,
    hrw_targets,
    checksums,
    list_page,
    names,
    request_auth
);
criterion_main!(micro);
