//! S3 listings over any sorted source of names (one target's disks, or the proxy's merge
//! of every target): prefix, delimiter with common prefixes, max-keys, and a resumable
//! position. Keys come in UTF-8 byte order, as S3 lists them.

use super::error::S3Error;

/// One object as a listing shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub mtime_ns: i64,
    /// Without quotes.
    pub etag: String,
}

/// Which names a page holds: those under `prefix` after `after`, at most `n`.
#[derive(Debug, Clone, Copy)]
pub struct PageAsk<'a> {
    pub prefix: &'a str,
    pub after: &'a str,
    pub n: usize,
}

/// A page of entries, and whether more follow.
pub type PageResult = Result<(Vec<Entry>, bool), S3Error>;

/// Sorted pages of names: the next `n` names after `after` that start with `prefix`, and
/// whether more follow.
#[allow(async_fn_in_trait)]
pub trait PageSource {
    /// One page.
    async fn page(&self, ask: PageAsk<'_>) -> PageResult;
}

/// One page of a listing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub contents: Vec<Entry>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page resumes.
    pub last: Option<String>,
}

/// The largest code point: `x + MAX_CHAR` sorts after every name starting with `x` that
/// a client can store.
const MAX_CHAR: char = '\u{10FFFF}';

/// Where to resume after `token` (a key or common prefix a previous page ended with).
pub fn resume_after(token: &str, prefix: &str, delimiter: &str) -> String {
    if !delimiter.is_empty() && token.ends_with(delimiter) && token.len() > prefix.len() {
        // A common prefix: skip everything under it.
        format!("{token}{MAX_CHAR}")
    } else {
        token.to_string()
    }
}

/// Lists up to `max_keys` keys and common prefixes after `after`.
pub async fn list(
    src: &impl PageSource,
    prefix: &str,
    delimiter: &str,
    after: &str,
    max_keys: usize,
) -> Result<Listing, S3Error> {
    let mut out = Listing::default();
    if max_keys == 0 {
        return Ok(out);
    }
    let mut cursor = resume_after(after, prefix, delimiter);
    let batch = (max_keys + 1).min(1000);
    loop {
        let (page, more) = src
            .page(PageAsk {
                prefix,
                after: &cursor,
                n: batch,
            })
            .await?;
        let Some(last_seen) = page.last().map(|e| e.key.clone()) else {
            return Ok(out);
        };
        for e in page {
            let group = (!delimiter.is_empty())
                .then(|| {
                    e.key[prefix.len().min(e.key.len())..]
                        .find(delimiter)
                        .map(|i| e.key[..prefix.len() + i + delimiter.len()].to_string())
                })
                .flatten();
            if let Some(cp) = &group {
                if out.prefixes.last() == Some(cp) {
                    continue;
                }
            }
            if out.contents.len() + out.prefixes.len() == max_keys {
                out.truncated = true;
                return Ok(out);
            }
            match group {
                Some(cp) => {
                    out.last = Some(cp.clone());
                    out.prefixes.push(cp);
                }
                None => {
                    out.last = Some(e.key.clone());
                    out.contents.push(e);
                }
            }
        }
        if !more {
            return Ok(out);
        }
        // Resume after the last name seen, or past the whole common prefix it was in.
        cursor = match out.prefixes.last() {
            Some(cp) if last_seen.starts_with(cp.as_str()) => format!("{cp}{MAX_CHAR}"),
            _ => last_seen,
        };
    }
}

/// S3's `encoding-type=url`: everything but unreserved characters and `/` escaped.
pub fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names(Vec<String>);

    impl PageSource for Names {
        async fn page(&self, ask: PageAsk<'_>) -> PageResult {
            let PageAsk { prefix, after, n } = ask;
            let all: Vec<&String> = self
                .0
                .iter()
                .filter(|k| k.starts_with(prefix) && k.as_str() > after)
                .collect();
            let page = all
                .iter()
                .take(n)
                .map(|k| Entry {
                    key: k.to_string(),
                    ..Default::default()
                })
                .collect();
            Ok((page, all.len() > n))
        }
    }

    fn names() -> Names {
        let mut v: Vec<String> = [
            "a", "b/1", "b/2", "b/c/3", "c", "d/", "d/x", "e/1", "é", "z/z/z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend((0..2500).map(|i| format!("many/{i:05}")));
        v.sort();
        Names(v)
    }

    /// Pages through everything, returning keys and prefixes in order.
    async fn walk(prefix: &str, delim: &str, max: usize) -> (Vec<String>, usize) {
        let src = names();
        let mut seen = Vec::new();
        let mut after = String::new();
        let mut pages = 0;
        loop {
            let l = list(&src, prefix, delim, &after, max).await.unwrap();
            pages += 1;
            let mut items: Vec<String> = l.contents.iter().map(|e| e.key.clone()).collect();
            items.extend(l.prefixes.iter().cloned());
            items.sort();
            seen.extend(items);
            if !l.truncated {
                return (seen, pages);
            }
            after = l.last.unwrap();
        }
    }

    #[tokio::test]
    async fn delimiter_groups_and_pages() {
        let (all, _) = walk("", "/", 1000).await;
        assert_eq!(all, vec!["a", "b/", "c", "d/", "e/", "many/", "z/", "é"]);
        let (all, pages) = walk("", "/", 2).await;
        assert_eq!(all, vec!["a", "b/", "c", "d/", "e/", "many/", "z/", "é"]);
        assert_eq!(pages, 4);
        let (b, _) = walk("b/", "/", 1).await;
        assert_eq!(b, vec!["b/1", "b/2", "b/c/"]);
        let (d, _) = walk("d/", "/", 5).await;
        assert_eq!(d, vec!["d/", "d/x"]);
    }

    #[tokio::test]
    async fn flat_paging_over_2500_keys() {
        let (many, pages) = walk("many/", "", 1000).await;
        assert_eq!(many.len(), 2500);
        assert_eq!(pages, 3);
        let (all, _) = walk("", "", 7).await;
        assert_eq!(all.len(), 2510);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn url_encoding() {
        assert_eq!(url_encode("a b+c/é"), "a%20b%2Bc/%C3%A9");
    }
}
