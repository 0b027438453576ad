//! Bucket properties in AIStore's shape (`Ais-Bucket-Props`, `set-bprops`,
//! `reset-bprops`): defaults, a deep merge of a partial update, and validation. Kept in
//! the bucket list (BMD) the proxy pushes; stored and echoed even where the behaviour
//! they name (mirroring, EC, LRU) is not built.

use serde_json::{json, Value};

/// The properties of a new bucket.
pub fn defaults() -> Value {
    json!({
        "provider": "ais",
        "versioning": {"enabled": true, "validate_warm_get": false, "synchronize": false},
        "checksum": {
            "type": "xxhash",
            "validate_cold_get": true,
            "validate_warm_get": false,
            "validate_obj_move": false,
            "enable_read_range": false
        },
        "lru": {"dont_evict_time": "2h0m", "capacity_upd_time": "10m", "enabled": false},
        "mirror": {"copies": 1, "burst_buffer": 128, "enabled": false},
        "ec": {
            "objsize_limit": 262144,
            "compression": "never",
            "bundle_multiplier": 2,
            "data_slices": 2,
            "parity_slices": 2,
            "enabled": false,
            "disk_only": false
        },
        "access": "0",
        "write_policy": {"data": "", "md": ""}
    })
}

/// Checksum types AIStore names.
const CHECKSUM_TYPES: &[&str] = &[
    "none", "xxhash", "xxhash2", "md5", "crc32c", "sha256", "sha512",
];

/// Properties no update may set.
const READ_ONLY: &[&str] = &["provider", "bid", "created", "namespace", "name"];

/// `base` with `update` merged in (objects field by field, anything else replaced),
/// validated; the error says which field is wrong.
pub fn apply(base: &Value, update: &Value) -> Result<Value, String> {
    let Value::Object(fields) = update else {
        return Err("bucket properties must be a JSON object".into());
    };
    let defaults = defaults();
    for (k, v) in fields {
        if READ_ONLY.contains(&k.as_str()) {
            if k == "provider" && v == "ais" {
                continue;
            }
            return Err(format!("bucket property {k:?} is read-only"));
        }
        let Some(known) = defaults.get(k) else {
            return Err(format!("unknown bucket property {k:?}"));
        };
        if let (Value::Object(known), Value::Object(given)) = (known, v) {
            if let Some(bad) = given.keys().find(|f| !known.contains_key(*f)) {
                return Err(format!("unknown bucket property \"{k}.{bad}\""));
            }
        }
    }
    let mut out = base.clone();
    merge(&mut out, update);
    validate(&out)?;
    Ok(out)
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if k == "provider" {
                    continue;
                }
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn validate(p: &Value) -> Result<(), String> {
    let get = |path: &str| path.split('.').try_fold(p, |v, k| v.get(k));
    let boolean = |path: &str| match get(path) {
        Some(Value::Bool(_)) => Ok(()),
        other => Err(format!("{path} must be true or false, not {}", show(other))),
    };
    for path in [
        "versioning.enabled",
        "versioning.validate_warm_get",
        "checksum.validate_cold_get",
        "checksum.validate_warm_get",
        "checksum.validate_obj_move",
        "checksum.enable_read_range",
        "mirror.enabled",
        "ec.enabled",
        "lru.enabled",
    ] {
        boolean(path)?;
    }
    match get("checksum.type") {
        Some(Value::String(t)) if CHECKSUM_TYPES.contains(&t.as_str()) => {}
        other => {
            return Err(format!(
                "checksum.type must be one of {CHECKSUM_TYPES:?}, not {}",
                show(other)
            ))
        }
    }
    let int_in = |path: &str, lo: i64, hi: i64| match get(path).and_then(Value::as_i64) {
        Some(n) if (lo..=hi).contains(&n) => Ok(()),
        _ => Err(format!(
            "{path} must be an integer from {lo} to {hi}, not {}",
            show(get(path))
        )),
    };
    int_in("mirror.copies", 1, 32)?;
    int_in("ec.data_slices", 1, 32)?;
    int_in("ec.parity_slices", 1, 32)?;
    int_in("ec.objsize_limit", 0, i64::MAX)?;
    match get("access") {
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(()),
        Some(Value::Number(n)) if n.is_u64() => Ok(()),
        other => Err(format!(
            "access must be a number (access bits), not {}",
            show(other)
        )),
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or("nothing".into(), Value::to_string)
}

/// The props after a `set-bprops` (merged into `current`) or `reset-bprops` action.
pub fn after_action(current: &Value, action: &str, value: &Value) -> Result<Value, String> {
    match action {
        "set-bprops" => apply(current, value),
        "reset-bprops" => Ok(defaults()),
        other => Err(format!(
            "expecting action \"set-bprops\" or \"reset-bprops\", got {other:?}"
        )),
    }
}

/// The props as a bucket HEAD shows them: stored ones (or the defaults) plus `created`.
pub fn for_head(stored: Option<&Value>, created_ns: i64) -> Value {
    let mut p = stored.cloned().unwrap_or_else(defaults);
    if let Value::Object(m) = &mut p {
        m.insert("created".into(), Value::String(created_ns.to_string()));
        m.insert("provider".into(), Value::String("ais".into()));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_partial_updates_and_refuses_bad_ones() {
        let d = defaults();
        let p = apply(
            &d,
            &json!({"checksum": {"type": "md5"}, "mirror": {"enabled": true, "copies": 2}}),
        )
        .unwrap();
        assert_eq!(p["checksum"]["type"], "md5");
        assert_eq!(
            p["checksum"]["validate_cold_get"], true,
            "untouched fields stay"
        );
        assert_eq!(p["mirror"]["copies"], 2);
        assert_eq!(p["versioning"]["enabled"], true);
        let p = apply(&p, &json!({"versioning": {"enabled": false}})).unwrap();
        assert_eq!(p["checksum"]["type"], "md5", "earlier changes stay");
        assert_eq!(p["versioning"]["enabled"], false);
        for (bad, why) in [
            (json!({"checksum": {"type": "crc64"}}), "checksum.type"),
            (json!({"mirror": {"copies": 0}}), "mirror.copies"),
            (
                json!({"versioning": {"enabled": "yes"}}),
                "versioning.enabled",
            ),
            (json!({"colour": 1}), "unknown bucket property \"colour\""),
            (json!({"checksum": {"kind": "md5"}}), "checksum.kind"),
            (json!({"created": "1"}), "read-only"),
            (json!({"access": "all"}), "access"),
            (json!([1]), "JSON object"),
        ] {
            let e = apply(&d, &bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(apply(&d, &json!({"provider": "ais", "access": 255})).is_ok());
        let head = for_head(None, 42);
        assert_eq!(head["created"], "42");
        assert_eq!(head["checksum"]["type"], "xxhash");
    }
}
