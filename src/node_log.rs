//! A node's own log files, as AIStore keeps them: `aisnode.INFO` (every record at the
//! configured level) and `aisnode.ERROR` (warnings and errors) in the log directory, each
//! rotated at [`ROTATE_AT`] with [`KEEP`] older files (`.1` newest). Written beside
//! stderr (which containers collect), read back through the API: `GET /v1/daemon?what=log`
//! (`severity=info|warning|error`, `offset`), and `&all=true` for a .tar.gz of the current
//! and rotated files of that severity (what the SDK's `get_node_log_archive` fetches).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// A file is rotated once it would grow past this.
pub const ROTATE_AT: u64 = 8 << 20;
/// Rotated files kept per severity.
pub const KEEP: usize = 3;
/// The file of every record.
pub const INFO_FILE: &str = "aisnode.INFO";
/// The file of warnings and errors.
pub const ERROR_FILE: &str = "aisnode.ERROR";

/// Where this process keeps its log files (set once, by [`open`]).
static LOG_DIR: OnceLock<PathBuf> = OnceLock::new();

/// One log file that rotates itself; `&RotatingFile` is what tracing writes to.
pub struct RotatingFile {
    path: PathBuf,
    state: Mutex<Option<(File, u64)>>,
}

impl RotatingFile {
    fn open(path: PathBuf) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            state: Mutex::new(Some((file, size))),
        })
    }

    /// `path.K` becomes `path.K+1` (the oldest is dropped), `path` becomes `path.1`.
    fn rotate(&self) -> io::Result<(File, u64)> {
        for k in (1..KEEP).rev() {
            let _ = std::fs::rename(rotated(&self.path, k), rotated(&self.path, k + 1));
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        Ok((file, 0))
    }
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, size)) = state.as_ref() {
            if *size > 0 && size + buf.len() as u64 > ROTATE_AT {
                // A failed rotation (disk gone) leaves the node logging to stderr only.
                *state = self.rotate().ok();
            }
        }
        match state.as_mut() {
            Some((file, size)) => {
                file.write_all(buf)?;
                *size += buf.len() as u64;
                Ok(buf.len())
            }
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn rotated(path: &Path, k: usize) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{k}"));
    PathBuf::from(p)
}

/// Opens (creating) the two log files in `dir` and remembers `dir` for the API.
pub fn open(dir: &Path) -> io::Result<(RotatingFile, RotatingFile)> {
    std::fs::create_dir_all(dir)?;
    let info = RotatingFile::open(dir.join(INFO_FILE))?;
    let error = RotatingFile::open(dir.join(ERROR_FILE))?;
    let _ = LOG_DIR.set(dir.to_path_buf());
    Ok((info, error))
}

/// Why a log cannot be read.
#[derive(Debug)]
pub enum LogError {
    /// The node keeps no log files.
    NoLogDir,
    /// Not info, warning or error.
    BadSeverity(String),
    /// Past the end of the current file.
    BadOffset(String),
    /// Reading failed: what, and why.
    Io(String, io::Error),
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogError::NoLogDir => {
                write!(f, "this node keeps no log files (start it with --log-dir)")
            }
            LogError::BadSeverity(s) => write!(
                f,
                "unknown log severity {s:?}: expecting info, warning or error"
            ),
            LogError::BadOffset(s) => write!(f, "log offset {s}"),
            LogError::Io(s, e) => write!(f, "{s}: {e}"),
        }
    }
}

/// The file of a severity: `info` (or empty) the INFO file, `warning` and `error` the
/// ERROR file (AIStore matches on the first letter).
pub fn file_of(severity: &str) -> Result<&'static str, LogError> {
    match severity.to_ascii_lowercase().chars().next() {
        None | Some('i') => Ok(INFO_FILE),
        Some('w') | Some('e') => Ok(ERROR_FILE),
        _ => Err(LogError::BadSeverity(severity.to_string())),
    }
}

fn dir() -> Result<&'static Path, LogError> {
    LOG_DIR
        .get()
        .map(PathBuf::as_path)
        .ok_or(LogError::NoLogDir)
}

/// The current file of `severity` from byte `offset` (at most [`ROTATE_AT`] bytes).
pub fn read_current(severity: &str, offset: Option<u64>) -> Result<Vec<u8>, LogError> {
    read_from(&dir()?.join(file_of(severity)?), offset)
}

fn read_from(path: &Path, offset: Option<u64>) -> Result<Vec<u8>, LogError> {
    let io = |e: io::Error| LogError::Io(format!("read {}", path.display()), e);
    let mut f = File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let off = offset.unwrap_or(0);
    if off > size {
        return Err(LogError::BadOffset(format!(
            "{off} is past the end ({size} bytes): the log was likely rotated"
        )));
    }
    f.seek(io::SeekFrom::Start(off)).map_err(io)?;
    let mut out = Vec::new();
    f.take(ROTATE_AT).read_to_end(&mut out).map_err(io)?;
    Ok(out)
}

/// A .tar.gz of the current and rotated files of `severity`, oldest first.
pub fn archive(severity: &str) -> Result<Vec<u8>, LogError> {
    let dir = dir()?;
    let name = file_of(severity)?;
    let io = |e: io::Error| LogError::Io(format!("archive logs of {}", dir.display()), e);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let current = dir.join(name);
    let mut files: Vec<PathBuf> = (1..=KEEP).rev().map(|k| rotated(&current, k)).collect();
    files.push(current);
    for path in files.iter().filter(|p| p.exists()) {
        let data = read_from(path, None)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime_secs(path));
        let member = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tar.append_data(&mut header, member, data.as_slice())
            .map_err(io)?;
    }
    tar.into_inner().and_then(|gz| gz.finish()).map_err(io)
}

fn mtime_secs(path: &Path) -> u64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_name_their_file() {
        assert_eq!(file_of("").unwrap(), INFO_FILE);
        assert_eq!(file_of("info").unwrap(), INFO_FILE);
        assert_eq!(file_of("WARNING").unwrap(), ERROR_FILE);
        assert_eq!(file_of("error").unwrap(), ERROR_FILE);
        assert!(matches!(file_of("debug"), Err(LogError::BadSeverity(_))));
    }

    #[test]
    fn a_file_rotates_keeping_the_newest_and_at_most_keep_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = RotatingFile::open(dir.path().join(INFO_FILE)).unwrap();
        let line = vec![b'x'; (ROTATE_AT / 2) as usize];
        for i in 0..(2 * KEEP + 3) {
            let mut w = &f;
            w.write_all(&line).unwrap();
            w.write_all(format!("{i}\n").as_bytes()).unwrap();
        }
        let cur = dir.path().join(INFO_FILE);
        assert!(std::fs::metadata(&cur).unwrap().len() <= ROTATE_AT);
        for k in 1..=KEEP {
            assert!(rotated(&cur, k).exists(), "rotation {k}");
        }
        assert!(!rotated(&cur, KEEP + 1).exists());
        let last = read_from(&cur, None).unwrap();
        assert!(last.ends_with(format!("{}\n", 2 * KEEP + 2).as_bytes()));
        let size = std::fs::metadata(&cur).unwrap().len();
        assert_eq!(read_from(&cur, Some(size)).unwrap(), b"");
        assert!(matches!(
            read_from(&cur, Some(size + 1)),
            Err(LogError::BadOffset(_))
        ));
    }
}
