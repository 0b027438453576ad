//! AIStore's shapes on the wire, shared by the proxy, the target and the loader: control
//! messages, specs of multi-object actions, listing pages, the `Ais-*` header names, the
//! error map (AIStore's JSON error body for every store and request error), job queries
//! and JSON answers. No handler: what a node does with a request lives above.

pub mod bucket_op;
pub mod cluster_config;
pub mod error;
pub mod headers;
pub mod jobs;
pub mod lso;
pub mod moss;
pub mod msg;
pub mod node_status;
pub mod object_op;
pub mod specs;
pub mod summary;

pub use error::ApiError;

/// The path of the proxy's lifeline to a target (intra-cluster port): a body that does
/// not end while the target runs.
pub const LIFELINE_PATH: &str = "/v1/lifeline";

/// The last bytes of a lifeline whose target is shutting down on purpose.
pub const LIFELINE_BYE: &[u8] = b"bye\n";
pub use msg::{json_response, ActMsg};
