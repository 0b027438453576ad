//! HTTP plumbing shared by every front end: the accept loop with graceful shutdown, and
//! the response body type. Knows hyper; knows nothing of objects.

mod advertise;
mod body;
pub mod client;
pub mod coalesce;
pub mod forward;
pub mod plane;
pub mod request;
mod serve;

pub use advertise::advertised_url;
pub use body::{empty, full, stream, Body};
pub use client::{ClientError, ControlClient, Reply};
pub use forward::DataClient;
pub use plane::Plane;
pub use serve::{bind, caller, serve, serve_node, Listeners, PeerAddr, ServeConfig};
