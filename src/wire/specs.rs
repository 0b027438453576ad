//! Specifications of multi-object actions as AIStore sends them (copies, archives,
//! promotion results, scrubs, lists and templates of names): parsed and checked once,
//! by the proxy that fans them out and by the target that runs them.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::msg::str_field;
use super::ApiError;

/// Where the copies go and how.
#[derive(Debug, Clone)]
pub struct CopySpec {
    pub to: String,
    pub prepend: String,
    /// Extension renames: `x.old` becomes `x.new`.
    pub ext: HashMap<String, String>,
    pub dry_run: bool,
    /// Continue on error (`coer`): a failed object is counted, not fatal.
    pub continue_on_error: bool,
}

impl CopySpec {
    /// From the request: the destination is `?bck_to=` (`copy-bck`, as the SDK sends it)
    /// or `value.tobck.name` (`copy-listrange`).
    pub fn parse(
        bucket: &str,
        q: &HashMap<String, String>,
        value: &Value,
    ) -> Result<CopySpec, ApiError> {
        let to = match value
            .get("tobck")
            .and_then(|b| b.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) if !q.contains_key("bck_to") => {
                if let Some(p) = value["tobck"]["provider"]
                    .as_str()
                    .filter(|p| !p.is_empty() && *p != "ais")
                {
                    return Err(ApiError::BadRequest(format!(
                        "copy to provider {p:?}: only ais:// buckets are served"
                    )));
                }
                crate::names::validate_bucket(name)?;
                name.to_string()
            }
            _ => move_destination(q, value)?,
        };
        // `ext`: {"old": "new"} renames the last extension (AIStore's `TCBMsg.Ext`).
        let ext = match value.get("ext") {
            None | Some(Value::Null) => HashMap::new(),
            Some(v) => {
                serde_json::from_value::<HashMap<String, String>>(v.clone()).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "copy: ext must map old extensions to new ones ({{\"txt\": \"md\"}}): {e}"
                    ))
                })?
            }
        };
        let s = |k: &str| str_field(value, k);
        let b = |k: &str| value.get(k).and_then(Value::as_bool).unwrap_or(false);
        let spec = CopySpec {
            to,
            prepend: s("prepend"),
            ext,
            dry_run: b("dry_run"),
            continue_on_error: b("coer"),
        };
        if spec.to == bucket && spec.prepend.is_empty() && spec.ext.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "ais://{bucket}: cannot copy a bucket onto itself (give another bucket or a prepend)"
            )));
        }
        Ok(spec)
    }

    /// The name `name` gets at the destination.
    pub fn dst_name(&self, name: &str) -> Result<String, ApiError> {
        let renamed = name
            .rsplit_once('.')
            .and_then(|(stem, ext)| Some((stem, self.ext.get(ext)?)))
            .map(|(stem, new)| format!("{stem}.{}", new.trim_start_matches('.')));
        let n = format!("{}{}", self.prepend, renamed.as_deref().unwrap_or(name));
        crate::names::validate_object(&n)?;
        Ok(n)
    }
}

/// What the objects of one copy job are.
pub enum Selection {
    Names(Vec<String>),
    Prefix(String),
}

/// The `value` of an `archive` action (AIStore's `ArchiveBckMsg`).
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveMsg {
    #[serde(rename = "archname")]
    pub name: String,
    #[serde(default)]
    pub mime: String,
    #[serde(default, rename = "tobck")]
    pub to_bucket: Option<Value>,
    /// Member names start with the source bucket's.
    #[serde(default, rename = "isbn")]
    pub include_bucket_name: bool,
    /// Append to an existing shard.
    #[serde(default, rename = "aate")]
    pub append: bool,
    #[serde(default, rename = "coer")]
    pub continue_on_error: bool,
}

/// A checked archive request.
#[derive(Debug, Clone)]
pub struct ArchiveSpec {
    pub msg: ArchiveMsg,
    pub to: String,
    pub gzip: bool,
}

impl ArchiveSpec {
    pub fn parse(src: &str, value: &Value) -> Result<ArchiveSpec, ApiError> {
        let msg: ArchiveMsg = serde_json::from_value(value.clone())
            .map_err(|e| ApiError::BadRequest(format!("archive: malformed value: {e}")))?;
        crate::names::validate_object(&msg.name)?;
        let to = msg
            .to_bucket
            .as_ref()
            .and_then(|b| b.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or(src)
            .to_string();
        crate::names::validate_bucket(&to)?;
        let lower = msg.name.to_ascii_lowercase();
        let kind = if msg.mime.is_empty() {
            [".tar.gz", ".tgz", ".tar"]
                .into_iter()
                .find(|e| lower.ends_with(e))
                .unwrap_or("")
        } else {
            msg.mime.trim_start_matches('.')
        };
        let gzip = match kind {
            ".tar" | "tar" | "x-tar" => false,
            ".tgz" | ".tar.gz" | "tgz" | "tar.gz" => true,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "archive {:?}: format {other:?} is not written here (expecting .tar, .tgz or .tar.gz)",
                    msg.name
                )))
            }
        };
        if msg.append {
            return Err(ApiError::BadRequest(
                "archive: appending to an existing shard (aate) is not supported".into(),
            ));
        }
        Ok(ArchiveSpec { msg, to, gzip })
    }
}

/// Query parameter naming the destination as a uname (`ais/@#/<bucket>/<object>`).
pub const OBJECT_TO: &str = "object_to";

/// Splits `ais/@#/<bucket>/<object>` (provider and global namespace; `ais://` and a
/// bare `<bucket>/<object>` are taken too).
pub fn parse_destination(uname: &str) -> Result<(String, String), ApiError> {
    let rest = uname
        .strip_prefix("ais://")
        .or_else(|| uname.strip_prefix("ais/@#/"))
        .or_else(|| uname.strip_prefix("ais/"))
        .unwrap_or(uname);
    if rest.starts_with('@') || rest.starts_with('#') {
        return Err(ApiError::BadRequest(format!(
            "{OBJECT_TO}={uname:?}: only ais:// buckets of the global namespace are supported"
        )));
    }
    let (bucket, object) = rest.split_once('/').unwrap_or((rest, ""));
    crate::names::validate_bucket(bucket)?;
    crate::names::validate_object(object)?;
    Ok((bucket.to_string(), object.to_string()))
}

/// What one target did.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
pub struct Promoted {
    /// Files stored as objects (here or sent to their owner).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files skipped: the object exists and `ovw` is off.
    pub skipped: u64,
    /// The source does not exist here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
}

/// The bucket a scrub is for: `{"kind":"scrub","bucket":"B"}`.
pub fn scrub_bucket(value: &serde_json::Value) -> Result<String, ApiError> {
    value
        .get("bucket")
        .and_then(|b| b.as_str())
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "scrub: the value must name the bucket: {\"kind\":\"scrub\",\"bucket\":\"B\"}"
                    .into(),
            )
        })
}

/// The names a multi-object action lists: `{"objnames": [...]}` or `{"template":
/// "shard-{000..099}.tar"}`.
pub fn listed_names(value: &serde_json::Value) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = if let Some(list) = value.get("objnames").and_then(|v| v.as_array()) {
        list.iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::BadRequest("objnames must be a list of object names".into())
                })
            })
            .collect::<Result<_, _>>()?
    } else if let Some(t) = value.get("template").and_then(|v| v.as_str()) {
        crate::template::expand(t).map_err(|e| ApiError::BadRequest(e.to_string()))?
    } else {
        return Err(ApiError::BadRequest(
            "expecting the objects as {\"objnames\": [...]} or {\"template\": \"prefix{0..9}\"}"
                .into(),
        ));
    };
    for n in &names {
        crate::names::validate_object(n)?;
    }
    Ok(names)
}

/// The new name of a `move-bck`: `?bck_to=ais/@#/NEW` (as the SDK sends it) or
/// `{"to": "NEW"}` (as the proxy forwards it).
pub fn move_destination(
    q: &HashMap<String, String>,
    value: &serde_json::Value,
) -> Result<String, ApiError> {
    let raw = q
        .get("bck_to")
        .cloned()
        .or_else(|| value.get("to").and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_default();
    let name = raw
        .strip_prefix("ais://")
        .or_else(|| raw.strip_prefix("ais/@#/"))
        .unwrap_or(&raw)
        .trim_end_matches('/')
        .to_string();
    crate::names::validate_bucket(&name).map_err(ApiError::from)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_get_the_prepend_and_renamed_extensions() {
        let q = HashMap::from([("bck_to".to_string(), "ais/@#/dst/".to_string())]);
        let value = serde_json::json!({"prepend": "new-", "ext": {"old": ".new", "a": "b"}});
        let spec = CopySpec::parse("src", &q, &value).unwrap();
        for (name, want) in [
            ("x.old", "new-x.new"),
            ("dir.old/x.a", "new-dir.old/x.b"),
            ("x.old.keep", "new-x.old.keep"),
            ("noext", "new-noext"),
            ("x.OLD", "new-x.OLD"),
        ] {
            assert_eq!(spec.dst_name(name).unwrap(), want, "{name}");
        }
        let bad = serde_json::json!({"ext": ["old"]});
        assert!(CopySpec::parse("src", &q, &bad).is_err());
        // Onto itself only with a rename.
        let same = HashMap::from([("bck_to".to_string(), "ais/@#/src/".to_string())]);
        assert!(CopySpec::parse("src", &same, &serde_json::json!({})).is_err());
        assert!(CopySpec::parse("src", &same, &serde_json::json!({"ext": {"a": "b"}})).is_ok());
    }
}
