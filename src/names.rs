//! Validation of bucket and object names, shared by every protocol front end.
//!
//! A name that fails here never reaches the filesystem.

use thiserror::Error;

/// Longest object name accepted, in bytes (as AIStore and S3).
pub const MAX_OBJECT_NAME: usize = 1024;
/// Longest single path component, in bytes (Linux NAME_MAX).
pub const MAX_COMPONENT: usize = 255;
/// Longest bucket name accepted, in bytes.
pub const MAX_BUCKET_NAME: usize = 64;

/// Why a name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    /// The bucket name is empty, too long, or has a character outside `[A-Za-z0-9._-]`.
    #[error("invalid bucket name {0:?}: expecting 1 to 64 characters of [A-Za-z0-9._-], not \".\" or \"..\"")]
    Bucket(String),
    /// The object name breaks one of the rules in [`validate_object`].
    #[error("invalid object name {name:?}: {why}")]
    Object {
        /// The refused name.
        name: String,
        /// The rule it broke.
        why: &'static str,
    },
    /// A listing prefix that could not start an object name (see [`validate_prefix`]).
    #[error("invalid prefix {prefix:?}: {why}")]
    Prefix {
        /// The refused prefix.
        prefix: String,
        /// The rule it broke.
        why: &'static str,
    },
}

/// Checks a bucket name.
pub fn validate_bucket(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_BUCKET_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(NameError::Bucket(name.to_string()))
    }
}

/// Checks an object name: relative, no `.`/`..`/empty components, no NUL, no
/// trailing `/`, at most [`MAX_OBJECT_NAME`] bytes and [`MAX_COMPONENT`] per component.
pub fn validate_object(name: &str) -> Result<(), NameError> {
    let fail = |why| {
        Err(NameError::Object {
            name: name.chars().take(128).collect(),
            why,
        })
    };
    if name.is_empty() {
        return fail("empty");
    }
    if let Some(why) = path_rule(name) {
        return fail(why);
    }
    if name.ends_with('/') {
        return fail("ends with '/'");
    }
    match name.split('/').find_map(component_rule) {
        Some(why) => fail(why),
        None => Ok(()),
    }
}

/// The rule a whole name or prefix breaks: length, NUL, absolute.
fn path_rule(s: &str) -> Option<&'static str> {
    if s.len() > MAX_OBJECT_NAME {
        Some("longer than 1024 bytes")
    } else if s.contains('\0') {
        Some("contains NUL")
    } else if s.starts_with('/') {
        Some("absolute path")
    } else {
        None
    }
}

/// The rule a path component breaks: empty, `.`/`..`, too long.
fn component_rule(c: &str) -> Option<&'static str> {
    match c {
        "" => Some("empty path component ('//')"),
        "." | ".." => Some("'.' or '..' path component"),
        c if c.len() > MAX_COMPONENT => Some("path component longer than 255 bytes"),
        _ => None,
    }
}

/// Checks a listing prefix: empty, or the start of a valid object name. Every component
/// before the last `/` must be one an object name may have (it names a directory under
/// the bucket); the last, partial one may be anything without `/` or NUL.
pub fn validate_prefix(prefix: &str) -> Result<(), NameError> {
    let fail = |why| {
        Err(NameError::Prefix {
            prefix: prefix.chars().take(128).collect(),
            why,
        })
    };
    if let Some(why) = path_rule(prefix) {
        return fail(why);
    }
    // Only the components before the last `/` name directories.
    let dirs = prefix.rfind('/').map(|i| &prefix[..i]);
    if let Some(why) = dirs.and_then(|d| d.split('/').find_map(component_rule)) {
        return fail(why);
    }
    Ok(())
}

/// A Kubernetes node name: a DNS subdomain (1 to 253 of `[A-Za-z0-9._-]`).
pub fn valid_node_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for n in [
            "a",
            "dir/x.jpg",
            "a..b",
            ".hidden",
            "x/.y/z",
            "%2e%2e",
            "ünï/cödé",
        ] {
            assert_eq!(validate_object(n), Ok(()), "{n}");
        }
        for b in ["abc", "A-b_c.1"] {
            assert_eq!(validate_bucket(b), Ok(()), "{b}");
        }
    }

    #[test]
    fn bad_object_names_fail() {
        let long = "x".repeat(1025);
        let long_component = format!("a/{}", "y".repeat(256));
        for n in [
            "",
            "/abs",
            "a/",
            "..",
            ".",
            "a/../b",
            "a/./b",
            "a//b",
            "a\0b",
            &long,
            &long_component,
        ] {
            assert!(validate_object(n).is_err(), "{n:?} accepted");
        }
    }

    #[test]
    fn prefixes() {
        let long = "p".repeat(1025);
        for (p, ok) in [
            ("", true),
            ("a", true),
            ("dir/", true),
            ("dir/su", true),
            ("a/b/..", true), // a partial last component is only a filter
            ("..x/", true),
            ("/etc/", false),
            ("/", false),
            ("../../..", false),
            ("../", false),
            ("a/../b/", false),
            ("./", false),
            ("a//b", false),
            ("a\0/", false),
            (long.as_str(), false),
        ] {
            assert_eq!(validate_prefix(p).is_ok(), ok, "{p:?}");
        }
    }

    #[test]
    fn bad_bucket_names_fail() {
        let long = "b".repeat(65);
        for b in ["", ".", "..", "a/b", "a b", "ä", &long] {
            assert!(validate_bucket(b).is_err(), "{b:?} accepted");
        }
    }
}
