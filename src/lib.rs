//! aisnode: an AIStore-compatible object store.
//!
//! Layers, from the top (a module imports only from layers below; `tests/layers.rs` checks it):
//! - `bin/aisnode` and `bin/aisloader`: flags, then [`target_node::run`], [`proxy::run`],
//!   [`local_cluster::run`] or [`loader::run`].
//! - Node wiring: [`target_node`] (disks → store → listeners → router, background tasks; not
//!   `target/`, cargo's build folder) and [`local_cluster`].
//! - Front ends: [`native_api`] (AIStore's REST API on a target), [`s3_api`] (S3 on a target),
//!   [`intra_api`] (the target's side of the intra-cluster protocol, intra listener only),
//!   [`proxy`] (the gateway: cluster map, redirects, fan-out) and [`loader`].
//! - [`service`]: what both of a target's front ends use (context, locate and delete
//!   everywhere, copies, archives, promotion, mountpaths, rebalance, resilver, scrub, FSHC).
//! - [`wire`]: AIStore's dialect (messages, specs, typed bucket requests, list pages, the
//!   error map to AIStore's JSON and to S3's codes); [`config`] and [`client_auth`].
//! - [`s3`]: S3's dialect (typed operations, SigV4, XML, the bucket operations proxy and lone
//!   target share); [`auth`] (tokens); [`http`] (serving, clients, forwarding, planes).
//! - [`store`] (the protocol-free object store over mountpaths) and [`cluster`] (maps).
//! - [`fs`] (mountpaths and their layout), [`disk`] (a data thread with its io_uring ring and
//!   a metadata thread per mountpath), and pure helpers: [`hrw`], [`names`], [`range`],
//!   [`dates`], [`template`], [`archive`], [`tar_writer`], [`jobs`], [`metrics`], [`node_log`].
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
pub mod erasure;
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
pub mod node_log;
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
