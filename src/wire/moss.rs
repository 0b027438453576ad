//! GetBatch (AIStore's `/v1/ml/moss`) on the wire: the request (`MossReq` with its `in`
//! entries), the per-item answer (`MossOut`) and the buffered answer's metadata
//! (`MossResp`), the output formats, the names items take in the archive, and the range
//! rules. Parsed and checked once here; the proxy and the designated target use the
//! result.

use serde::{Deserialize, Serialize};

use super::ApiError;

/// The path (with an optional `/<bucket>` after it).
pub const MOSS_PATH: &str = "/v1/ml/moss";
/// Where missing items go in the archive (with `coer`).
pub const MISSING_DIR: &str = "__404__";
/// The largest request body taken (about 200,000 entries).
pub const MAX_REQUEST_BODY: usize = 32 << 20;
/// The most entries in one request.
pub const MAX_ITEMS: usize = 1 << 20;
/// Names of the two parts of a buffered answer.
pub const META_PART: &str = "metadata";
pub const DATA_PART: &str = "archive";

/// One requested item, as sent.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct MossIn {
    pub objname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archpath: String,
    /// Base64 (Go's `[]byte`), passed back untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub length: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The request, as sent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MossReq {
    #[serde(default)]
    pub mime: String,
    #[serde(default, rename = "in")]
    pub items: Vec<MossIn>,
    #[serde(default)]
    pub coer: bool,
    #[serde(default)]
    pub onob: bool,
    #[serde(default)]
    pub strm: bool,
    #[serde(default)]
    pub coloc: u8,
}

/// One item's outcome (buffered answers list them all, in request order).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MossOut {
    pub objname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archpath: String,
    pub bucket: String,
    pub provider: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub err_msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque: Option<String>,
    pub size: u64,
}

/// The metadata part of a buffered answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MossResp {
    pub uuid: String,
    pub out: Vec<MossOut>,
}

/// The archive the items come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Tar,
    Tgz,
    Zip,
}

impl OutputFormat {
    pub fn parse(mime: &str) -> Result<OutputFormat, ApiError> {
        match mime.trim_start_matches('.').to_ascii_lowercase().as_str() {
            "" | "tar" => Ok(OutputFormat::Tar),
            "tgz" | "tar.gz" => Ok(OutputFormat::Tgz),
            "zip" => Ok(OutputFormat::Zip),
            _ => Err(ApiError::BadRequest(format!(
                "GetBatch: unsupported output format {mime:?} (expecting .tar, .tgz, .tar.gz or .zip)"
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Tar => "application/x-tar",
            OutputFormat::Tgz => "application/gzip",
            OutputFormat::Zip => "application/zip",
        }
    }
}

/// One item with its bucket decided and its range checked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub bucket: String,
    pub objname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archpath: String,
    /// Byte range as sent (see [`span`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub length: i64,
}

/// A request checked: every item with its bucket.
#[derive(Debug, Clone)]
pub struct Batch {
    pub format: OutputFormat,
    pub items: Vec<Item>,
    pub opaque: Vec<Option<String>>,
    pub coer: bool,
    pub onob: bool,
    pub strm: bool,
    pub coloc: u8,
}

/// Parses and checks a request body; `default_bucket` is the path's bucket, if any.
pub fn parse(body: &[u8], default_bucket: Option<&str>) -> Result<Batch, ApiError> {
    let req: MossReq = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("GetBatch: invalid request body: {e}")))?;
    if req.items.is_empty() {
        return Err(ApiError::BadRequest(
            "GetBatch: empty request (expecting at least one entry in \"in\")".into(),
        ));
    }
    if req.items.len() > MAX_ITEMS {
        return Err(ApiError::TooLarge(format!(
            "GetBatch: {} entries (at most {MAX_ITEMS} in one request)",
            req.items.len()
        )));
    }
    if req.coloc > 2 {
        return Err(ApiError::BadRequest(format!(
            "GetBatch: invalid coloc={} (expecting 0, 1, or 2)",
            req.coloc
        )));
    }
    let format = OutputFormat::parse(&req.mime)?;
    let mut items = Vec::with_capacity(req.items.len());
    let mut opaque = Vec::with_capacity(req.items.len());
    for e in req.items {
        items.push(check_item(&e, default_bucket)?);
        opaque.push(e.opaque);
    }
    Ok(Batch {
        format,
        items,
        opaque,
        coer: req.coer,
        onob: req.onob,
        strm: req.strm,
        coloc: req.coloc,
    })
}

fn check_item(e: &MossIn, default_bucket: Option<&str>) -> Result<Item, ApiError> {
    crate::names::validate_object(&e.objname)?;
    let (bucket, provider) = match (&e.uname, e.bucket.as_str()) {
        (u, _) if !u.is_empty() => uname_bucket(u, &e.objname)?,
        (_, "") => (
            default_bucket.map(str::to_string).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "GetBatch: entry {:?} names no bucket and the request has none (GET {MOSS_PATH}/<bucket>)",
                    e.objname
                ))
            })?,
            e.provider.clone(),
        ),
        (_, b) => (b.to_string(), e.provider.clone()),
    };
    crate::names::validate_bucket(&bucket)?;
    if !matches!(provider.as_str(), "" | "ais") {
        return Err(ApiError::BadRequest(format!(
            "GetBatch: entry {:?}: provider {provider:?} is not supported (only ais buckets here)",
            e.objname
        )));
    }
    if !e.archpath.is_empty() && !crate::archive::is_safe(&e.archpath) {
        return Err(ApiError::BadRequest(format!(
            "GetBatch: invalid archpath {:?} (oname: {:?})",
            e.archpath, e.objname
        )));
    }
    if e.start < 0 || e.length < -1 || (e.start != 0 && e.length == 0) {
        return Err(ApiError::BadRequest(format!(
            "GetBatch: invalid range start={},length={} (oname: {:?}): start >= 0, and length > 0 or -1 (to the end)",
            e.start, e.length, e.objname
        )));
    }
    Ok(Item {
        bucket,
        objname: e.objname.clone(),
        archpath: e.archpath.clone(),
        start: e.start,
        length: e.length,
    })
}

/// `uname`: `ais://bucket/object` or `bucket/object` (AIStore's unique name, provider
/// first when present).
fn uname_bucket(uname: &str, objname: &str) -> Result<(String, String), ApiError> {
    let (provider, rest) = match uname.split_once("://") {
        Some((p, rest)) => (p.to_string(), rest),
        None => (String::new(), uname),
    };
    let bucket = rest.split('/').next().unwrap_or_default();
    if bucket.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "GetBatch: invalid uname {uname:?} (oname: {objname:?})"
        )));
    }
    Ok((bucket.to_string(), provider))
}

/// The offset and length to read from something of `size` bytes; `None` when the range
/// is not satisfiable (AIStore's forms: (0,0) whole, (N,L>0) exactly L bytes, (N,-1) to
/// the end).
pub fn span(item: &Item, size: u64) -> Option<(u64, u64)> {
    let (off, len) = (item.start, item.length);
    if off == 0 && len == 0 {
        return Some((0, size));
    }
    let size_i = size as i64;
    if len == -1 {
        return (off < size_i || (off == 0 && size == 0))
            .then(|| (off as u64, (size_i - off) as u64));
    }
    (off < size_i && len <= size_i - off).then_some((off as u64, len as u64))
}

/// The item's name in the output archive (under `__404__/` when missing).
pub fn name_in_archive(item: &Item, onob: bool, missing: bool) -> String {
    let mut name = String::new();
    if missing {
        name.push_str(MISSING_DIR);
        name.push('/');
    }
    if !onob {
        name.push_str(&item.bucket);
        name.push('/');
    }
    name.push_str(&item.objname);
    if !item.archpath.is_empty() {
        name.push('/');
        name.push_str(&item.archpath);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start: i64, length: i64) -> Item {
        Item {
            bucket: "b".into(),
            objname: "o".into(),
            archpath: String::new(),
            start,
            length,
        }
    }

    #[test]
    fn spans_follow_aistore_forms() {
        type Case = (i64, i64, u64, Option<(u64, u64)>);
        let cases: &[Case] = &[
            (0, 0, 100, Some((0, 100))),
            (0, 0, 0, Some((0, 0))),
            (10, 20, 100, Some((10, 20))),
            (90, 10, 100, Some((90, 10))),
            (90, 11, 100, None),
            (100, 1, 100, None),
            (40, -1, 100, Some((40, 60))),
            (100, -1, 100, None),
            (0, -1, 100, Some((0, 100))),
            (0, 5, 100, Some((0, 5))),
        ];
        for &(s, l, size, want) in cases {
            assert_eq!(
                span(&item(s, l), size),
                want,
                "start={s} length={l} size={size}"
            );
        }
    }

    #[test]
    fn requests_are_checked_once() {
        let ok = br#"{"in":[{"objname":"a"},{"objname":"b","bucket":"other","opaque":"eA=="},{"objname":"s.tar","archpath":"x/y","start":4,"length":-1}],"mime":".tgz","coer":true,"strm":true}"#;
        let b = parse(ok, Some("def")).unwrap();
        assert_eq!(b.format, OutputFormat::Tgz);
        assert_eq!(
            b.items
                .iter()
                .map(|i| i.bucket.as_str())
                .collect::<Vec<_>>(),
            ["def", "other", "def"]
        );
        assert_eq!(b.opaque[1].as_deref(), Some("eA=="));
        assert!(b.coer && b.strm && !b.onob);
        let bad: &[(&[u8], Option<&str>, &str)] = &[
            (br#"{"in":[]}"#, Some("b"), "empty request"),
            (br#"{"in":[{"objname":"a"}]}"#, None, "names no bucket"),
            (
                br#"{"in":[{"objname":"a","start":5}]}"#,
                Some("b"),
                "invalid range",
            ),
            (
                br#"{"in":[{"objname":"a","length":-2}]}"#,
                Some("b"),
                "invalid range",
            ),
            (
                br#"{"in":[{"objname":"a"}],"mime":".rar"}"#,
                Some("b"),
                "unsupported output format",
            ),
            (
                br#"{"in":[{"objname":"a","archpath":"../etc"}]}"#,
                Some("b"),
                "invalid archpath",
            ),
            (
                br#"{"in":[{"objname":"a","provider":"s3"}]}"#,
                Some("b"),
                "not supported",
            ),
            (
                br#"{"in":[{"objname":"a"}],"coloc":3}"#,
                Some("b"),
                "invalid coloc",
            ),
            (br#"{"in":[{"objname":""}]}"#, Some("b"), "object name"),
            (b"not json", Some("b"), "invalid request body"),
        ];
        for (body, def, want) in bad {
            let e = parse(body, *def).unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
        let u = parse(br#"{"in":[{"objname":"o","uname":"ais://ub/o"}]}"#, None).unwrap();
        assert_eq!(u.items[0].bucket, "ub");
    }

    #[test]
    fn names_in_the_archive() {
        let mut i = item(0, 0);
        assert_eq!(name_in_archive(&i, false, false), "b/o");
        assert_eq!(name_in_archive(&i, true, false), "o");
        assert_eq!(name_in_archive(&i, false, true), "__404__/b/o");
        i.archpath = "in/x.jpg".into();
        assert_eq!(name_in_archive(&i, true, false), "o/in/x.jpg");
        assert_eq!(name_in_archive(&i, false, false), "b/o/in/x.jpg");
    }
}
