//! AIStore's object-name templates (`ObjectRange`, `ObjectTemplate` in the SDK): literal
//! text with brace ranges, `shard-{0000..0099}.tar` or `{0..100..10}`, expanded to
//! every name. Numbers keep the width of the range's start when it has leading zeros.

use thiserror::Error;

/// Most names one template may expand to.
pub const MAX_NAMES: usize = 1_000_000;
/// Most memory the expanded names may take, each counted with its `String` (checked
/// before anything is expanded).
pub const MAX_BYTES: usize = 64 << 20;
/// What a `String` in a `Vec` costs beyond its bytes (its header and allocation).
const PER_NAME: usize = 40;

/// Why a template was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    /// A brace is not closed or holds no `a..b` range.
    #[error("malformed template {0:?}: expecting text with ranges like {{0000..0099}} or {{0..100..10}}")]
    Malformed(String),
    /// More than [`MAX_NAMES`] names, or more than [`MAX_BYTES`] of them.
    #[error("template {0:?} expands to more than {MAX_NAMES} names or {MAX_BYTES} bytes of names")]
    TooMany(String),
    /// Its names would be longer than any object name may be.
    #[error("template {0:?} makes names longer than {max} bytes", max = crate::names::MAX_OBJECT_NAME)]
    TooLong(String),
}

struct Range {
    start: u64,
    end: u64,
    step: u64,
    width: usize,
}

/// Every name `template` stands for, in order.
pub fn expand(template: &str) -> Result<Vec<String>, TemplateError> {
    let bad = || TemplateError::Malformed(template.to_string());
    let mut parts: Vec<Result<String, Range>> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        parts.push(Ok(rest[..open].to_string()));
        let close = rest[open..].find('}').ok_or_else(bad)? + open;
        let inner = &rest[open + 1..close];
        let nums: Vec<&str> = inner.split("..").collect();
        if !(2..=3).contains(&nums.len())
            || nums
                .iter()
                .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let parse = |s: &str| s.parse::<u64>().map_err(|_| bad());
        let (start, end) = (parse(nums[0])?, parse(nums[1])?);
        let step = if nums.len() == 3 { parse(nums[2])? } else { 1 };
        if step == 0 || end < start {
            return Err(bad());
        }
        let width = if nums[0].len() > 1 && nums[0].starts_with('0') {
            nums[0].len()
        } else {
            0
        };
        parts.push(Err(Range {
            start,
            end,
            step,
            width,
        }));
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(bad());
    }
    parts.push(Ok(rest.to_string()));
    // Counted before expanding: a short template must not cost gigabytes.
    let mut total: usize = 1;
    let mut longest: usize = 0;
    for p in &parts {
        match p {
            Ok(text) => longest += text.len(),
            Err(r) => {
                let n = usize::try_from((r.end - r.start) / r.step + 1).unwrap_or(usize::MAX);
                total = total.saturating_mul(n);
                longest += r.width.max(r.end.to_string().len());
            }
        }
    }
    let clip = |t: &str| t.chars().take(128).collect::<String>();
    if longest > crate::names::MAX_OBJECT_NAME {
        return Err(TemplateError::TooLong(clip(template)));
    }
    if total > MAX_NAMES || total.saturating_mul(longest + PER_NAME) > MAX_BYTES {
        return Err(TemplateError::TooMany(clip(template)));
    }
    let mut out = vec![String::new()];
    for p in parts {
        out = match p {
            Ok(text) => out.into_iter().map(|s| s + &text).collect(),
            Err(r) => out
                .iter()
                .flat_map(|s| {
                    (r.start..=r.end)
                        .step_by(r.step as usize)
                        .map(move |i| format!("{s}{i:0w$}", w = r.width))
                })
                .collect(),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ranges() {
        assert_eq!(
            expand("a{0..2}.tar").unwrap(),
            ["a0.tar", "a1.tar", "a2.tar"]
        );
        assert_eq!(expand("s-{008..010}").unwrap(), ["s-008", "s-009", "s-010"]);
        assert_eq!(expand("{0..10..5}").unwrap(), ["0", "5", "10"]);
        assert_eq!(
            expand("d{1..2}/f{1..2}").unwrap(),
            ["d1/f1", "d1/f2", "d2/f1", "d2/f2"]
        );
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        for bad in ["a{1..", "a{x..2}", "a{3..1}", "a{1..2..0}", "a}", "{1}"] {
            assert!(
                matches!(expand(bad), Err(TemplateError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            expand("{0..999999}{0..9}"),
            Err(TemplateError::TooMany(_))
        ));
        assert_eq!(expand("{000000..999999}").unwrap().len(), 1_000_000);
        // 1 KB of template, a million long names: refused before anything is expanded.
        let bomb = format!("{}{{000000..999999}}", "A".repeat(1000));
        assert!(matches!(expand(&bomb), Err(TemplateError::TooMany(_))));
        let long = format!("{}{{0..9}}", "A".repeat(1024));
        assert!(matches!(expand(&long), Err(TemplateError::TooLong(_))));
    }
}
