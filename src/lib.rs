//! aisnode: an AIStore-compatible object store.
//!
//! Module map (dependencies point down):
//! - `bin/aisnode` parses flags and calls [`target::run`].
//! - [`target`] wires config → [`fs`] mountpaths → [`disk`] workers → [`store`] → [`native_api`] → [`http`].
//! - [`native_api`] speaks AIStore's REST API and maps [`store::Error`] to HTTP in one place.
//! - [`store`] is the protocol-free object store: PUT/GET/HEAD/DELETE/list over mountpaths.
//! - [`fs`] owns mountpaths (checks, node ID mark, on-disk layout); [`disk`] owns one worker thread per mountpath.
//! - [`hrw`] and [`names`] are pure helpers shared by all.
//!
//! GET: `native_api` parses the request → `store::get` picks the mountpath by HRW, opens the file and
//! reads its metadata on that disk's worker → the body streams 1 MiB chunks read by the worker (one read ahead).
//! PUT: `store::put` creates a work file under `%wk` on the HRW mountpath → body chunks are hashed on the tokio
//! task and written by the worker (one write in flight) → commit on the worker: xattr metadata, rename into `%ob`.

pub mod cluster;
pub mod config;
pub mod disk;
pub mod fs;
pub mod hrw;
pub mod http;
pub mod loader;
pub mod local_cluster;
pub mod metrics;
pub mod names;
pub mod native_api;
pub mod proxy;
pub mod store;
pub mod target;
