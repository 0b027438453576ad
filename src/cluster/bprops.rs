//! Bucket properties in AIStore's shape (`Ais-Bucket-Props`, `set-bprops`,
//! `reset-bprops`): defaults, a deep merge of a partial update, and validation. Kept in
//! the bucket list (BMD) the proxy pushes; stored and echoed even where the behaviour
//! they name is not built (LRU). [`Redundancy`] is the typed view of mirroring and EC.

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
/// `make-n-copies` (value: the number of copies) sets `mirror`; `ec-encode` (value:
/// `data_slices` and `parity_slices`, or AIStore CLI's `data-slices`/`parity-slices`)
/// enables `ec`. Each then runs on every target as the job of that kind.
pub fn after_action(current: &Value, action: &str, value: &Value) -> Result<Value, String> {
    match action {
        "set-bprops" => apply(current, value),
        "reset-bprops" => Ok(defaults()),
        "make-n-copies" => {
            let n = value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| format!("make-n-copies: the number of copies, not {value}"))?;
            apply(current, &json!({"mirror": {"enabled": n > 1, "copies": n}}))
        }
        "ec-encode" => {
            let field = |a: &str, b: &str| value.get(a).or_else(|| value.get(b)).cloned();
            let mut ec = json!({"enabled": true});
            for (ours, cli) in [("data_slices", "data-slices"), ("parity_slices", "parity-slices")] {
                if let Some(v) = field(ours, cli) {
                    ec[ours] = v;
                }
            }
            apply(current, &json!({ "ec": ec }))
        }
        other => Err(format!(
            "expecting action \"set-bprops\", \"reset-bprops\", \"make-n-copies\" or \"ec-encode\", got {other:?}"
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

/// An erasure-coding scheme: D data and P parity slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcScheme {
    /// Data slices.
    pub data: usize,
    /// Parity slices: how many pieces may be lost.
    pub parity: usize,
    /// Objects below this size are replicated on P+1 targets instead of sliced.
    pub objsize_limit: u64,
}

/// What a bucket's properties ask for the safety of its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Redundancy {
    /// Copies on distinct mountpaths of the owner (`mirror.copies` when enabled, else 1).
    pub mirror_copies: usize,
    /// Erasure coding, when enabled.
    pub ec: Option<EcScheme>,
}

impl Redundancy {
    /// Reads the props (`None`: the defaults, no redundancy).
    pub fn of(props: Option<&Value>) -> Redundancy {
        let Some(p) = props else {
            return Redundancy {
                mirror_copies: 1,
                ec: None,
            };
        };
        let n = |path: &str| {
            path.split('.')
                .try_fold(p, |v, k| v.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let on = |path: &str| {
            path.split('.')
                .try_fold(p, |v, k| v.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        Redundancy {
            mirror_copies: if on("mirror.enabled") {
                n("mirror.copies").max(1) as usize
            } else {
                1
            },
            ec: on("ec.enabled").then(|| EcScheme {
                data: n("ec.data_slices").max(1) as usize,
                parity: n("ec.parity_slices").max(1) as usize,
                objsize_limit: n("ec.objsize_limit"),
            }),
        }
    }

    /// Whole copies of an object kept below `objsize_limit` on distinct targets (the
    /// owner's included): P+1 with EC, else 1.
    pub fn target_copies(&self) -> usize {
        self.ec.map_or(1, |e| e.parity + 1)
    }

    /// Targets that may hold a piece of an object: the owner and D+P slice holders with
    /// EC (a replicated object uses the first P+1 of them), else 1.
    pub fn holders(&self) -> usize {
        self.ec.map_or(1, |e| e.data + e.parity + 1)
    }

    /// The scheme an object of `size` bytes is sliced by: EC on and the object at or
    /// above `objsize_limit` (an empty object is replicated).
    pub fn slices_for(&self, size: u64) -> Option<EcScheme> {
        self.ec.filter(|e| size > 0 && size >= e.objsize_limit)
    }
}

/// AIStore's rules for changing a bucket's redundancy in a cluster of `targets` active
/// targets: EC needs D+P+1 of them (one spare, so a lost piece has somewhere to be
/// rebuilt), D and P cannot change while EC is on, and `objsize_limit` changes only
/// with `force`.
pub fn check_redundancy_change(
    current: &Value,
    next: &Value,
    targets: usize,
    force: bool,
) -> Result<(), String> {
    let (was, now) = (Redundancy::of(Some(current)), Redundancy::of(Some(next)));
    let Some(ec) = now.ec else {
        return Ok(());
    };
    let need = ec.data + ec.parity + 1;
    if targets < need {
        return Err(format!(
            "EC with {} data and {} parity slices needs at least {need} targets; the cluster has {targets}",
            ec.data, ec.parity
        ));
    }
    if let Some(old) = was.ec {
        if (old.data, old.parity) != (ec.data, ec.parity) {
            return Err(format!(
                "ec.data_slices and ec.parity_slices cannot change while EC is enabled (now {}+{}); disable EC first",
                old.data, old.parity
            ));
        }
        if old.objsize_limit != ec.objsize_limit && !force {
            return Err("changing ec.objsize_limit of an EC bucket needs force".into());
        }
    }
    Ok(())
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
        let m = after_action(&d, "make-n-copies", &json!(3)).unwrap();
        assert_eq!(
            (
                m["mirror"]["enabled"].clone(),
                m["mirror"]["copies"].clone()
            ),
            (json!(true), json!(3))
        );
        let m = after_action(&m, "make-n-copies", &json!(1)).unwrap();
        assert_eq!(m["mirror"]["enabled"], false);
        assert!(after_action(&d, "make-n-copies", &json!("x")).is_err());
        let e = after_action(
            &d,
            "ec-encode",
            &json!({"data-slices": 4, "parity-slices": 2}),
        )
        .unwrap();
        assert_eq!(
            (e["ec"]["enabled"].clone(), e["ec"]["data_slices"].clone()),
            (json!(true), json!(4))
        );
        let head = for_head(None, 42);
        assert_eq!(head["created"], "42");
        assert_eq!(head["checksum"]["type"], "xxhash");
    }

    #[test]
    fn redundancy_rules() {
        let on = |d: u64, p: u64, limit: u64| {
            apply(
                &defaults(),
                &json!({"ec": {"enabled": true, "data_slices": d, "parity_slices": p, "objsize_limit": limit}}),
            )
            .unwrap()
        };
        assert_eq!(Redundancy::of(None).target_copies(), 1);
        assert_eq!(Redundancy::of(Some(&defaults())).ec, None);
        assert_eq!(Redundancy::of(Some(&on(2, 1, 0))).target_copies(), 2);
        let r = Redundancy::of(Some(&on(4, 2, 1000)));
        assert_eq!((r.target_copies(), r.holders()), (3, 7));
        assert_eq!(r.slices_for(999), None);
        assert_eq!(r.slices_for(1000).map(|e| e.data), Some(4));
        assert_eq!(Redundancy::of(Some(&on(1, 1, 0))).slices_for(0), None);
        let off = defaults();
        let cases: Vec<(Value, Value, usize, bool, Option<&str>)> = vec![
            (off.clone(), on(1, 1, 0), 3, false, None),
            (
                off.clone(),
                on(1, 1, 0),
                2,
                false,
                Some("needs at least 3 targets"),
            ),
            (
                off.clone(),
                on(4, 2, 0),
                6,
                false,
                Some("needs at least 7 targets"),
            ),
            (on(1, 1, 0), on(2, 1, 0), 9, false, Some("cannot change")),
            (on(1, 1, 0), on(1, 1, 5), 9, false, Some("needs force")),
            (on(1, 1, 0), on(1, 1, 5), 9, true, None),
            (on(1, 1, 0), off.clone(), 1, false, None),
        ];
        for (cur, next, targets, force, want) in cases {
            let got = check_redundancy_change(&cur, &next, targets, force);
            match want {
                None => assert!(got.is_ok(), "{got:?}"),
                Some(w) => assert!(got.as_ref().unwrap_err().contains(w), "{got:?} vs {w}"),
            }
        }
    }
}
