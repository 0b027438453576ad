//! Errors of the object store. Each says what happened in terms of buckets and objects
//! (`bucket/object`), never in any protocol's words: each front end renders them its way.

use std::io;

use thiserror::Error;

use crate::names::NameError;

/// An object-store failure.
#[derive(Debug, Error)]
pub enum Error {
    /// The bucket is not there.
    #[error("bucket {0:?} does not exist")]
    BucketNotFound(String),
    /// Creating a bucket that is already there.
    #[error("bucket {0:?} already exists")]
    BucketExists(String),
    /// The object is not there.
    #[error("object \"{bucket}/{object}\" does not exist")]
    ObjectNotFound {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
    },
    /// A bucket or object name was refused.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The client's checksum does not match the data received; nothing was stored.
    #[error("{bucket}/{object}: checksum mismatch: client sent {kind} {expected}, received data has {actual}; object not stored")]
    ChecksumMismatch {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Checksum type.
        kind: String,
        /// What the client sent.
        expected: String,
        /// What the data hashes to.
        actual: String,
    },
    /// The stored data no longer matches its stored checksum.
    #[error("{bucket}/{object}: stored {kind} checksum is {expected} but the data reads {actual}: object is corrupted")]
    Corrupted {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Checksum type.
        kind: String,
        /// Stored checksum.
        expected: String,
        /// Checksum of the data read back.
        actual: String,
    },
    /// A checksum type this store does not compute.
    #[error(
        "{bucket}/{object}: unsupported checksum type {kind:?} (supported: xxhash, md5, none)"
    )]
    UnsupportedChecksum {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// The type asked for.
        kind: String,
    },
    /// The body is larger than the configured maximum.
    #[error("{bucket}/{object}: object larger than the maximum of {max} bytes")]
    TooLarge {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// The configured maximum.
        max: u64,
    },
    /// The name collides with a directory of other objects, or passes through an object.
    #[error("{bucket}/{object}: name conflicts with an existing object path (one name is a directory prefix of the other)")]
    NameConflict {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
    },
    /// The client's body broke off, stalled, or was shorter than announced.
    #[error("{bucket}/{object}: request body: {reason}; object not stored")]
    Body {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// What went wrong.
        reason: String,
    },
    /// Stored metadata is missing or does not decode.
    #[error("{bucket}/{object}: object metadata is missing or corrupted: {reason}")]
    BadMeta {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Decoder's complaint.
        reason: String,
    },
    /// No such multipart upload (never started, completed or aborted).
    #[error("{bucket}/{object}: multipart upload {upload:?} does not exist (never started, completed or aborted)")]
    NoSuchUpload {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Upload ID.
        upload: String,
    },
    /// A part named in a completion is missing, has another ETag, or the list is empty.
    #[error("{bucket}/{object}: {reason}")]
    InvalidPart {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Which part and why.
        reason: String,
    },
    /// The parts of a completion are not in ascending order.
    #[error("{bucket}/{object}: parts must be listed in ascending order of part number")]
    InvalidPartOrder {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
    },
    /// A part other than the last is smaller than allowed.
    #[error("{bucket}/{object}: part {part} has {size} bytes; every part but the last needs at least {min}")]
    PartTooSmall {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Part number.
        part: u32,
        /// Its size.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// No I/O buffer came free in time: the target is saturated; retry later.
    #[error("{0}: too many requests hold I/O buffers, none came free within {1:?}")]
    Busy(String, std::time::Duration),
    /// User metadata larger than an object may carry.
    #[error("{bucket}/{object}: custom metadata of {size} bytes exceeds the limit of {max} bytes")]
    MetadataTooLarge {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// Encoded size asked for.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An object moved from another target is not newer than the version here.
    #[error("{bucket}/{object}: version {have} here is at least as new")]
    NotNewer {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// The version here.
        have: u64,
    },
    /// Every mountpath is disabled or detached: this target cannot store or serve objects.
    #[error("no mountpath is available on this target (all are disabled or detached)")]
    NoMountpaths,
    /// The object's place is a mountpath disabled with its objects still on it.
    #[error("{bucket}/{object}: its mountpath {mountpath} is disabled (a disk fault?) with its objects on it; retry once it is enabled again")]
    MountpathDown {
        /// Bucket name.
        bucket: String,
        /// Object name.
        object: String,
        /// The disabled mountpath.
        mountpath: String,
    },
    /// A change of the mountpaths was refused.
    #[error(transparent)]
    Mountpath(#[from] crate::fs::MpChangeError),
    /// The disk is full.
    #[error("{0}: out of space")]
    NoSpace(String),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Result of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with context; ENOSPC becomes [`Error::NoSpace`].
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        let context = context.into();
        if source.raw_os_error() == Some(libc::ENOSPC) {
            Error::NoSpace(context)
        } else {
            Error::Io { context, source }
        }
    }
}
