//! Parsing of a single `Range: bytes=` header (RFC 9110 §14.1.2).

/// The byte span to send: `(start, length)`.
pub type Span = (u64, u64);

/// A `Range` header that is malformed, multi-range or unsatisfiable (416).
#[derive(Debug, PartialEq, Eq)]
pub struct BadRange;

/// Parses `header` against an object of `size` bytes.
pub fn parse(header: &str, size: u64) -> Result<Span, BadRange> {
    let spec = header.trim().strip_prefix("bytes=").ok_or(BadRange)?.trim();
    if spec.contains(',') {
        return Err(BadRange);
    }
    let (a, b) = spec.split_once('-').ok_or(BadRange)?;
    let num = |s: &str| -> Result<u64, BadRange> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(BadRange);
        }
        s.parse().map_err(|_| BadRange)
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n = num(suffix)?;
            if n == 0 || size == 0 {
                return Err(BadRange);
            }
            let n = n.min(size);
            Ok((size - n, n))
        }
        (first, "") => {
            let start = num(first)?;
            if start >= size {
                return Err(BadRange);
            }
            Ok((start, size - start))
        }
        (first, last) => {
            let (start, end) = (num(first)?, num(last)?);
            if start > end || start >= size {
                return Err(BadRange);
            }
            let end = end.min(size - 1);
            Ok((start, end - start + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, BadRange};

    #[test]
    fn three_forms() {
        assert_eq!(parse("bytes=10-19", 100), Ok((10, 10)));
        assert_eq!(parse("bytes=90-200", 100), Ok((90, 10)));
        assert_eq!(parse("bytes=95-", 100), Ok((95, 5)));
        assert_eq!(parse("bytes=-5", 100), Ok((95, 5)));
        assert_eq!(parse("bytes=-500", 100), Ok((0, 100)));
    }

    #[test]
    fn bad_ranges() {
        for h in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=0-1,4-5",
            "bytes=-0",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=+1-2",
        ] {
            assert_eq!(parse(h, 100), Err(BadRange), "{h}");
        }
        assert_eq!(parse("bytes=0-0", 0), Err(BadRange));
        assert_eq!(parse("bytes=-1", 0), Err(BadRange));
    }
}
