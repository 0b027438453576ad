//! Names of the `Ais-*` headers, parsed once at compile time instead of on every response.

use http::HeaderName;

/// Checksum algorithm of an object (`xxhash`, `md5`, `none`).
pub const AIS_CHECKSUM_TYPE: HeaderName = HeaderName::from_static("ais-checksum-type");
/// Checksum value, lowercase hex.
pub const AIS_CHECKSUM_VALUE: HeaderName = HeaderName::from_static("ais-checksum-value");
/// Last access, unix nanoseconds.
pub const AIS_ATIME: HeaderName = HeaderName::from_static("ais-atime");
/// Object version.
pub const AIS_VERSION: HeaderName = HeaderName::from_static("ais-version");
/// Object name (HEAD).
pub const AIS_NAME: HeaderName = HeaderName::from_static("ais-name");
/// Bucket name (HEAD).
pub const AIS_BUCKET_NAME: HeaderName = HeaderName::from_static("ais-bucket-name");
/// Bucket provider (HEAD).
pub const AIS_BUCKET_PROVIDER: HeaderName = HeaderName::from_static("ais-bucket-provider");
/// Whether the object is present on this cluster.
pub const AIS_PRESENT: HeaderName = HeaderName::from_static("ais-present");
/// Number of copies (HEAD).
pub const AIS_MIRROR_COPIES: HeaderName = HeaderName::from_static("ais-mirror-copies");
/// The mountpaths holding the object's copies.
pub const AIS_MIRROR_PATHS: HeaderName = HeaderName::from_static("ais-mirror-paths");
/// Data slices of the bucket's EC scheme (HEAD, EC buckets).
pub const AIS_EC_DATA: HeaderName = HeaderName::from_static("ais-ec-data");
/// Parity slices of the bucket's EC scheme (HEAD, EC buckets).
pub const AIS_EC_PARITY: HeaderName = HeaderName::from_static("ais-ec-parity");
/// Whether the object is kept as whole copies (below `ec.objsize_limit`) rather than
/// sliced (HEAD, EC buckets).
pub const AIS_EC_REPLICATED: HeaderName = HeaderName::from_static("ais-ec-replicated");
/// `t[<target id>]:<mountpath>` (HEAD).
pub const AIS_LOCATION: HeaderName = HeaderName::from_static("ais-location");
/// User metadata, `k=v`.
pub const AIS_CUSTOM_MD: HeaderName = HeaderName::from_static("ais-custom-md");
/// Parts a multipart-uploaded object was joined from (HEAD).
pub const AIS_CHUNKS_COUNT: HeaderName = HeaderName::from_static("ais-chunks-count");
/// The largest of those parts, bytes (HEAD).
pub const AIS_CHUNKS_MAX_CHUNK_SIZE: HeaderName =
    HeaderName::from_static("ais-chunks-max-chunk-size");
/// Handle of an append in progress (object append).
pub const AIS_APPEND_HANDLE: HeaderName = HeaderName::from_static("ais-append-handle");
/// Bucket properties, JSON (bucket HEAD).
pub const AIS_BUCKET_PROPS: HeaderName = HeaderName::from_static("ais-bucket-props");
/// Bucket summary, JSON `BsummResult` (bucket HEAD with a finished summary job).
pub const AIS_BUCKET_SUMM: HeaderName = HeaderName::from_static("ais-bucket-summ");
/// ID of the job a request started (bucket HEAD with `presence`).
pub const AIS_XACTION_ID: HeaderName = HeaderName::from_static("ais-xaction-id");
/// Seconds since the node started (daemon and cluster health).
pub const AIS_NODE_UPTIME: HeaderName = HeaderName::from_static("ais-node-uptime");
/// The proxy's intra-cluster URL, named on a refused public join.
pub const AIS_INTRA_URL: HeaderName = HeaderName::from_static("ais-intra-url");
