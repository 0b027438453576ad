//! aisnode: an AIStore-compatible object store.
//!
//! Module map (dependencies point down):
//! - `bin/aisnode` parses flags and calls [`target_node::run`], [`proxy::run`] or [`local_cluster::run`];
//!   `bin/aisloader` calls [`loader::run`].
//! - [`target_node`] (the target daemon; not `target/`, cargo's build folder) wires config → [`fs`]
//!   mountpaths → [`disk`] workers → [`store`] → [`native_api`] → [`http`],
//!   and keeps the target registered with the proxy ([`target_node::membership`]).
//! - [`proxy`] owns the cluster map and bucket list ([`cluster`]) and redirects object requests by [`hrw`].
//! - [`native_api`] speaks AIStore's REST API and maps [`store::Error`] to HTTP in one place; [`target_node`]
//!   holds the context and per-request work (owner check, body streams) both front ends share.
//! - [`s3`] is the S3 front end beside it (typed operations, S3 XML errors, SigV4, forwarding to the owner).
//! - [`store`] is the protocol-free object store: PUT/GET/HEAD/DELETE/list over mountpaths.
//! - [`fs`] owns mountpaths (checks, node-ID mark, on-disk layout); [`disk`] owns, per mountpath, a data
//!   thread with its io_uring ring and a metadata thread.
//! - [`hrw`] and [`names`] are pure helpers shared by all; [`metrics`] holds the Prometheus series.
//!
//! GET: `native_api` parses the request → the store picks the mountpath by HRW and opens the file and reads its
//! metadata on that disk's metadata thread (small objects whole) → the body streams chunks read by the ring,
//! one read ahead. PUT: the store creates a work file under `%wk` on the HRW mountpath → body chunks are hashed
//! on the tokio task and written by the ring (one write in flight) → commit on the metadata thread: xattr
//! metadata, rename into `%ob`.

pub mod archive;
pub mod auth;
pub mod client_auth;
pub mod cluster;
pub mod config;
pub mod dates;
pub mod disk;
pub mod fs;
pub mod hrw;
pub mod http;
pub mod intra_api;
pub mod jobs;
pub mod loader;
pub mod local_cluster;
pub mod metrics;
pub mod names;
pub mod native_api;
pub mod proxy;
pub mod range;
pub mod s3;
pub mod s3_api;
pub mod service;
pub mod store;
pub mod tar_writer;
pub mod target_node;
pub mod template;
pub mod wire;
