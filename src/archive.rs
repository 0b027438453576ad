//! Reading inside archive objects (TAR, TAR.GZ/TGZ, ZIP shards, as WebDataset uses them):
//! list the members, take one by path, or gather those matching a pattern into a TAR.
//! Pure over a file; knows nothing of HTTP or the store. Whole members are held in
//! memory, so what one request takes out is capped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use thiserror::Error;

/// Most bytes one request takes out of an archive.
pub const MAX_EXTRACT: u64 = 256 << 20;

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// POSIX tar.
    Tar,
    /// Gzip-compressed tar.
    TarGz,
    /// Zip.
    Zip,
}

/// Why reading inside an archive failed.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// The object is not an archive of a known format.
    #[error("not an archive (expecting .tar, .tgz, .tar.gz or .zip content)")]
    NotArchive,
    /// The archive does not parse.
    #[error("malformed {0:?} archive: {1}")]
    Corrupt(Format, String),
    /// More than [`MAX_EXTRACT`] bytes would be taken out.
    #[error("the selected members exceed {MAX_EXTRACT} bytes; select fewer")]
    TooLarge,
    /// The match pattern is not a valid regular expression.
    #[error("archregx is not a valid regular expression: {0}")]
    BadRegex(String),
    /// Reading the file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How `archregx` selects members (`archmode`).
#[derive(Debug)]
pub enum Matcher {
    /// A regular expression anywhere in the name.
    Regexp(regex::Regex),
    /// Names starting with it.
    Prefix(String),
    /// Names ending with it.
    Suffix(String),
    /// Names containing it.
    Substr(String),
    /// Names whose WebDataset key (the name without its extensions) equals it.
    WdsKey(String),
}

impl Matcher {
    /// The matcher for `archmode` (default `regexp`) and `archregx`.
    pub fn new(mode: &str, pattern: &str) -> Result<Matcher, ArchiveError> {
        Ok(match mode {
            "" | "regexp" => Matcher::Regexp(
                regex::Regex::new(pattern).map_err(|e| ArchiveError::BadRegex(e.to_string()))?,
            ),
            "prefix" => Matcher::Prefix(pattern.into()),
            "suffix" => Matcher::Suffix(pattern.into()),
            "substr" => Matcher::Substr(pattern.into()),
            "wdskey" => Matcher::WdsKey(pattern.into()),
            other => {
                return Err(ArchiveError::BadRegex(format!(
                    "unknown archmode {other:?} (regexp, prefix, suffix, substr, wdskey)"
                )))
            }
        })
    }

    /// Whether member `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Regexp(r) => r.is_match(name),
            Matcher::Prefix(p) => name.starts_with(p.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
            Matcher::Substr(s) => name.contains(s.as_str()),
            Matcher::WdsKey(k) => wds_key(name) == k,
        }
    }
}

/// WebDataset's sample key: the name up to the first dot of its last component.
pub fn wds_key(name: &str) -> &str {
    let start = name.rfind('/').map_or(0, |i| i + 1);
    match name[start..].find('.') {
        Some(dot) => &name[..start + dot],
        None => name,
    }
}

/// The format of `file` by its first bytes, else by the object's name.
pub fn detect(file: &mut File, name: &str) -> Result<Option<Format>, ArchiveError> {
    let mut head = [0u8; 512];
    file.seek(SeekFrom::Start(0))?;
    let n = read_full(file, &mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let head = &head[..n];
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some(Format::Tar)
    } else {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar") {
            Some(Format::Tar)
        } else {
            None
        }
    })
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Whether `name` looks like an archive (for listing shards' contents).
pub fn looks_like_archive(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    [".tar", ".tgz", ".tar.gz", ".zip"]
        .iter()
        .any(|e| l.ends_with(e))
}

/// One member: its path and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the archive.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// Calls `f` with each regular-file member (name, size, reader), in archive order, until
/// it returns false.
fn each(
    file: File,
    fmt: Format,
    mut f: impl FnMut(&str, u64, &mut dyn Read) -> Result<bool, ArchiveError>,
) -> Result<(), ArchiveError> {
    let corrupt = |e: &dyn std::fmt::Display| ArchiveError::Corrupt(fmt, e.to_string());
    match fmt {
        Format::Tar | Format::TarGz => {
            let reader: Box<dyn Read> = match fmt {
                Format::TarGz => Box::new(flate2::read::GzDecoder::new(file)),
                _ => Box::new(file),
            };
            let mut ar = tar::Archive::new(reader);
            for entry in ar.entries().map_err(|e| corrupt(&e))? {
                let mut entry = entry.map_err(|e| corrupt(&e))?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry
                    .path()
                    .map_err(|e| corrupt(&e))?
                    .to_string_lossy()
                    .into_owned();
                let size = entry.size();
                if !f(&name, size, &mut entry)? {
                    break;
                }
            }
        }
        Format::Zip => {
            let mut ar = zip::ZipArchive::new(file).map_err(|e| corrupt(&e))?;
            for i in 0..ar.len() {
                let mut member = ar.by_index(i).map_err(|e| corrupt(&e))?;
                if !member.is_file() {
                    continue;
                }
                let name = member.name().map_err(|e| corrupt(&e))?.to_string();
                let size = member.size();
                if !f(&name, size, &mut member)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Every regular-file member.
pub fn list(file: File, fmt: Format) -> Result<Vec<Member>, ArchiveError> {
    let mut out = Vec::new();
    each(file, fmt, |name, size, _| {
        out.push(Member {
            name: name.to_string(),
            size,
        });
        Ok(true)
    })?;
    Ok(out)
}

fn read_capped(r: &mut dyn Read, size: u64, budget: &mut u64) -> Result<Vec<u8>, ArchiveError> {
    if size > *budget {
        return Err(ArchiveError::TooLarge);
    }
    *budget -= size;
    let mut data = Vec::with_capacity(size as usize);
    r.take(size).read_to_end(&mut data)?;
    Ok(data)
}

/// The content of member `path`, or `None` if there is none.
pub fn extract(file: File, fmt: Format, path: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
    let mut found = None;
    let mut budget = MAX_EXTRACT;
    each(file, fmt, |name, size, r| {
        if name == path {
            found = Some(read_capped(r, size, &mut budget)?);
            return Ok(false);
        }
        Ok(true)
    })?;
    Ok(found)
}

/// A TAR of the members `m` selects (names kept), and how many there were.
pub fn select_as_tar(
    file: File,
    fmt: Format,
    m: &Matcher,
) -> Result<(Vec<u8>, usize), ArchiveError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut budget = MAX_EXTRACT;
    let mut count = 0;
    each(file, fmt, |name, size, r| {
        if m.matches(name) {
            let data = read_capped(r, size, &mut budget)?;
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, data.as_slice())?;
            count += 1;
        }
        Ok(true)
    })?;
    Ok((builder.into_inner()?, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn file_of(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    #[test]
    fn reads_tar_tgz_and_zip() {
        let members: &[(&str, &[u8])] = &[
            ("s1/a.jpg", b"JPEG1"),
            ("s1/a.cls", b"3"),
            ("s2/b.jpg", b"JPEG2"),
        ];
        let tar = tar_of(members);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        let mut zipped = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in members {
            zipped
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zipped.write_all(data).unwrap();
        }
        let zip_bytes = zipped.finish().unwrap().into_inner();
        for (bytes, want) in [
            (tar, Format::Tar),
            (tgz, Format::TarGz),
            (zip_bytes, Format::Zip),
        ] {
            let mut f = file_of(&bytes);
            let fmt = detect(&mut f, "shard").unwrap().unwrap();
            assert_eq!(fmt, want);
            let names: Vec<_> = list(f.try_clone().unwrap(), fmt)
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect();
            assert_eq!(names, ["s1/a.jpg", "s1/a.cls", "s2/b.jpg"]);
            assert_eq!(
                extract(file_of(&bytes), fmt, "s2/b.jpg").unwrap().unwrap(),
                b"JPEG2"
            );
            assert!(extract(file_of(&bytes), fmt, "nope").unwrap().is_none());
            for (mode, pat, n) in [
                ("suffix", ".jpg", 2),
                ("prefix", "s1/", 2),
                ("wdskey", "s1/a", 2),
                ("regexp", "b\\.jpg$", 1),
                ("substr", "cls", 1),
            ] {
                let (out, count) =
                    select_as_tar(file_of(&bytes), fmt, &Matcher::new(mode, pat).unwrap()).unwrap();
                assert_eq!(count, n, "{mode} {pat}");
                assert_eq!(list(file_of(&out), Format::Tar).unwrap().len(), n);
            }
        }
        let mut text = file_of(b"just text");
        assert!(detect(&mut text, "notes.txt").unwrap().is_none());
        assert!(Matcher::new("regexp", "(").is_err());
        assert!(Matcher::new("glob", "*").is_err());
        assert_eq!(wds_key("dir/sample.001.jpg"), "dir/sample");
    }
}
