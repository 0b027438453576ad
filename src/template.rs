//! AIStore's object-name templates (`ObjectRange`, `ObjectTemplate` in the SDK): literal
//! text with brace ranges, `shard-{0000..0099}.tar` or `{0..100..10}`, expanded to
//! every name. Numbers keep the width of the range's start when it has leading zeros.

use thiserror::Error;

/// Most names one template may expand to.
pub const MAX_NAMES: usize = 1_000_000;

/// Why a template was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    /// A brace is not closed or holds no `a..b` range.
    #[error("malformed template {0:?}: expecting text with ranges like {{0000..0099}} or {{0..100..10}}")]
    Malformed(String),
    /// More than [`MAX_NAMES`] names.
    #[error("template {0:?} expands to more than {MAX_NAMES} names")]
    TooMany(String),
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
    let mut total: usize = 1;
    for p in &parts {
        if let Err(r) = p {
            let n = usize::try_from((r.end - r.start) / r.step + 1).unwrap_or(usize::MAX);
            total = total.saturating_mul(n);
        }
    }
    if total > MAX_NAMES {
        return Err(TemplateError::TooMany(template.to_string()));
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
    }
}
