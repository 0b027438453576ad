//! Reading inside archive objects (TAR, TAR.GZ/TGZ, ZIP shards, as WebDataset uses them):
//! list the members, take one by path, or gather those matching a pattern into a TAR.
//! Pure over a file; knows nothing of HTTP or the store. Members are streamed a piece at
//! a time to a sink that may say stop (the client left); a walk ends at its deadline.
//! Member names that climb out (`../`, absolute) are never taken: listings show them
//! sanitized, selections skip and count them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::time::Instant;

use thiserror::Error;

/// Bytes handed to the sink at a time.
pub const PIECE: usize = 64 << 10;
/// Largest compiled `archregx` program (regex crate limits), so a pattern cannot make
/// every member's match expensive.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a streamed read hands its sink.
pub enum Piece<'a> {
    /// The first selected member was found (its size, for a single member).
    Start(u64),
    /// Bytes of the output.
    Data(&'a [u8]),
    /// Asked between members that give no output: false stops the walk.
    Alive,
}

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
    /// The walk ran past its deadline.
    #[error(
        "reading the archive took longer than allowed; select fewer members or a simpler pattern"
    )]
    Deadline,
    /// The sink said stop (the client went away).
    #[error("stopped: the receiver went away")]
    Stopped,
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
                regex::RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| ArchiveError::BadRegex(e.to_string()))?,
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

/// A member name as it may be shown: leading `/`, `.` and `..` components and empty
/// ones dropped; `None` when the name was already clean.
pub fn sanitized(name: &str) -> Option<String> {
    if is_safe(name) {
        return None;
    }
    let kept: Vec<&str> = name
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && *c != "..")
        .collect();
    Some(kept.join("/"))
}

/// Whether a member name stays below the archive (relative, no `.`/`..`/empty parts).
pub fn is_safe(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('\0')
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Calls `f` with each regular-file member (name, size, reader), in archive order, until
/// it returns false or `deadline` passes.
fn each(
    file: File,
    fmt: Format,
    deadline: Instant,
    mut f: impl FnMut(&str, u64, &mut dyn Read) -> Result<bool, ArchiveError>,
) -> Result<(), ArchiveError> {
    let mut f = move |name: &str, size: u64, r: &mut dyn Read| {
        if Instant::now() > deadline {
            return Err(ArchiveError::Deadline);
        }
        f(name, size, r)
    };
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
                let Some(name) = file_name(&entry).map_err(|e| corrupt(&e))? else {
                    continue;
                };
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

/// A TAR entry's name when it is a regular file (None for directories, links and the like).
fn file_name<R: Read>(entry: &tar::Entry<'_, R>) -> io::Result<Option<String>> {
    if !entry.header().entry_type().is_file() {
        return Ok(None);
    }
    Ok(Some(entry.path()?.to_string_lossy().into_owned()))
}

/// Where the data of each regular-file member of a plain (uncompressed) TAR sits: name,
/// offset, size, in archive order; members whose names climb out of the archive are left
/// out. Reads the headers only (the data is skipped by seeking).
pub fn tar_index(file: File, deadline: Instant) -> Result<Vec<(String, u64, u64)>, ArchiveError> {
    let corrupt = |e: &dyn std::fmt::Display| ArchiveError::Corrupt(Format::Tar, e.to_string());
    let mut ar = tar::Archive::new(file);
    let mut out = Vec::new();
    for entry in ar.entries_with_seek().map_err(|e| corrupt(&e))? {
        if Instant::now() > deadline {
            return Err(ArchiveError::Deadline);
        }
        let entry = entry.map_err(|e| corrupt(&e))?;
        let Some(name) = file_name(&entry).map_err(|e| corrupt(&e))? else {
            continue;
        };
        if is_safe(&name) {
            out.push((name, entry.raw_file_position(), entry.size()));
        }
    }
    Ok(out)
}

/// Regular-file members after the first `skip`, at most `limit` of them, names sanitized.
pub fn list(
    file: File,
    fmt: Format,
    skip: usize,
    limit: usize,
    deadline: Instant,
) -> Result<Vec<Member>, ArchiveError> {
    let mut out = Vec::new();
    let mut seen = 0;
    each(file, fmt, deadline, |name, size, _| {
        seen += 1;
        if seen > skip {
            out.push(Member {
                name: sanitized(name).unwrap_or_else(|| name.to_string()),
                size,
            });
        }
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// Copies `size` bytes of `r` to `sink` a piece at a time; a short member is corrupt.
fn pour(
    r: &mut dyn Read,
    size: u64,
    fmt: Format,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<(), ArchiveError> {
    let mut buf = vec![0u8; PIECE];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left.min(PIECE as u64)).unwrap_or(PIECE);
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(ArchiveError::Corrupt(
                fmt,
                "a member is shorter than its header says".into(),
            ));
        }
        if !sink(Piece::Data(&buf[..n])) {
            return Err(ArchiveError::Stopped);
        }
        left -= n as u64;
    }
    Ok(())
}

/// Streams member `path` to `sink` (`Start(size)` first); false if there is none.
pub fn stream_member(
    file: File,
    fmt: Format,
    path: &str,
    deadline: Instant,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<bool, ArchiveError> {
    let mut found = false;
    each(file, fmt, deadline, |name, size, r| {
        if name != path || !is_safe(name) {
            return Ok(true);
        }
        found = true;
        if !sink(Piece::Start(size)) {
            return Err(ArchiveError::Stopped);
        }
        pour(r, size, fmt, sink)?;
        Ok(false)
    })?;
    Ok(found)
}

/// What a selection took.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// Members streamed.
    pub members: usize,
    /// Matching members skipped for names that climb out of the archive.
    pub unsafe_names: usize,
}

/// Streams a TAR of the members `m` selects (names kept) to `sink`; `Start(0)` comes
/// before the first one, nothing at all when none matches.
pub fn stream_selected_tar(
    file: File,
    fmt: Format,
    m: &Matcher,
    deadline: Instant,
    sink: &mut dyn FnMut(Piece<'_>) -> bool,
) -> Result<Selected, ArchiveError> {
    use crate::tar_writer::{member_header, padding, trailer};
    let mut out = Selected::default();
    each(file, fmt, deadline, |name, size, r| {
        if !m.matches(name) {
            return if sink(Piece::Alive) {
                Ok(true)
            } else {
                Err(ArchiveError::Stopped)
            };
        }
        if !is_safe(name) {
            out.unsafe_names += 1;
            return Ok(true);
        }
        if out.members == 0 && !sink(Piece::Start(0)) {
            return Err(ArchiveError::Stopped);
        }
        out.members += 1;
        if !sink(Piece::Data(&member_header(name, size, 0))) {
            return Err(ArchiveError::Stopped);
        }
        pour(r, size, fmt, sink)?;
        if !sink(Piece::Data(&padding(size))) {
            return Err(ArchiveError::Stopped);
        }
        Ok(true)
    })?;
    if out.members > 0 && !sink(Piece::Data(&trailer())) {
        return Err(ArchiveError::Stopped);
    }
    Ok(out)
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

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    /// A sink keeping every data piece in `out`.
    fn into(out: &mut Vec<u8>) -> impl FnMut(Piece<'_>) -> bool + '_ {
        |p| {
            if let Piece::Data(d) = p {
                out.extend_from_slice(d);
            }
            true
        }
    }

    fn member(bytes: &[u8], fmt: Format, path: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let found = stream_member(file_of(bytes), fmt, path, far(), &mut into(&mut out)).unwrap();
        found.then_some(out)
    }

    #[test]
    fn tar_index_points_at_each_members_bytes() {
        let long = format!("{}/deep.bin", "d".repeat(120));
        let members: Vec<(&str, &[u8])> = vec![
            ("a.txt", b"alpha"),
            ("empty", b""),
            (long.as_str(), b"long name's data"),
            ("z/last", &[9u8; 1500]),
        ];
        let bytes = tar_of(&members);
        let index = tar_index(file_of(&bytes), far()).unwrap();
        let names: Vec<&str> = index.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["a.txt", "empty", long.as_str(), "z/last"]);
        for (name, off, size) in &index {
            let want = members.iter().find(|(n, _)| n == name).unwrap().1;
            assert_eq!(
                &bytes[*off as usize..(*off + *size) as usize],
                want,
                "{name}"
            );
        }
        assert!(tar_index(file_of(b"not a tar at all, just text"), far()).is_err());
    }

    fn selected(bytes: &[u8], fmt: Format, m: &Matcher) -> (Vec<u8>, Selected) {
        let mut out = Vec::new();
        let sel = stream_selected_tar(file_of(bytes), fmt, m, far(), &mut into(&mut out)).unwrap();
        (out, sel)
    }

    #[test]
    fn climbing_names_are_sanitized_in_listings_and_skipped_in_selections() {
        // Raw headers: the tar crate refuses to write such names itself.
        let mut raw = Vec::new();
        for (name, data) in [
            ("../../etc/evil", &b"x"[..]),
            ("/abs/path", b"y"),
            ("ok/z", b"z"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            raw.extend_from_slice(h.as_bytes());
            raw.extend_from_slice(data);
            raw.extend_from_slice(&crate::tar_writer::padding(data.len() as u64));
        }
        raw.extend_from_slice(&crate::tar_writer::trailer());
        let names: Vec<_> = list(file_of(&raw), Format::Tar, 0, 100, far())
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["etc/evil", "abs/path", "ok/z"]);
        let (_, sel) = selected(&raw, Format::Tar, &Matcher::new("regexp", ".").unwrap());
        assert_eq!(
            sel,
            Selected {
                members: 1,
                unsafe_names: 2
            }
        );
        assert!(member(&raw, Format::Tar, "../../etc/evil").is_none());
    }

    #[test]
    fn deadline_and_stop_end_a_walk() {
        let tar = tar_of(&[("a", b"1"), ("b", b"2")]);
        let past = Instant::now() - std::time::Duration::from_secs(1);
        let m = Matcher::new("regexp", ".").unwrap();
        let r = stream_selected_tar(file_of(&tar), Format::Tar, &m, past, &mut |_| true);
        assert!(matches!(r, Err(ArchiveError::Deadline)));
        let r = stream_selected_tar(file_of(&tar), Format::Tar, &m, far(), &mut |_| false);
        assert!(matches!(r, Err(ArchiveError::Stopped)));
        // A pattern whose program is too big is refused up front.
        assert!(Matcher::new("regexp", "(((.*){50}){50})x").is_err());
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
            let names: Vec<_> = list(f.try_clone().unwrap(), fmt, 0, 100, far())
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect();
            assert_eq!(names, ["s1/a.jpg", "s1/a.cls", "s2/b.jpg"]);
            let page: Vec<_> = list(file_of(&bytes), fmt, 1, 1, far()).unwrap();
            assert_eq!(page[0].name, "s1/a.cls");
            assert_eq!(member(&bytes, fmt, "s2/b.jpg").unwrap(), b"JPEG2");
            assert!(member(&bytes, fmt, "nope").is_none());
            for (mode, pat, n) in [
                ("suffix", ".jpg", 2),
                ("prefix", "s1/", 2),
                ("wdskey", "s1/a", 2),
                ("regexp", "b\\.jpg$", 1),
                ("substr", "cls", 1),
            ] {
                let (out, sel) = selected(&bytes, fmt, &Matcher::new(mode, pat).unwrap());
                assert_eq!(sel.members, n, "{mode} {pat}");
                assert_eq!(
                    list(file_of(&out), Format::Tar, 0, 100, far())
                        .unwrap()
                        .len(),
                    n
                );
            }
        }
        let mut text = file_of(b"just text");
        assert!(detect(&mut text, "notes.txt").unwrap().is_none());
        assert!(Matcher::new("regexp", "(").is_err());
        assert!(Matcher::new("glob", "*").is_err());
        assert_eq!(wds_key("dir/sample.001.jpg"), "dir/sample");
    }
}
