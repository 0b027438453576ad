//! The archive a GetBatch answers with, written one item at a time as its data comes:
//! TAR (data passed through untouched), TAR through gzip, or ZIP (deflated, streamed
//! with data descriptors, so nothing is held back but the compressor's window).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::ZipWriter;

use crate::tar_writer::{self, Sink};
use crate::wire::moss::OutputFormat;

/// Where the ZIP writer's bytes wait until handed out.
#[derive(Clone, Default)]
struct Drain(Arc<Mutex<Vec<u8>>>);

impl Write for Drain {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(buf);
                Ok(buf.len())
            }
            Err(_) => Err(io::Error::other("zip output poisoned")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drain {
    fn take(&self) -> Bytes {
        self.0
            .lock()
            .map(|mut v| Bytes::from(std::mem::take(&mut *v)))
            .unwrap_or_default()
    }
}

enum Writer {
    Tar,
    Tgz(Sink),
    Zip(Box<ZipWriter<StreamWriter<Drain>>>, Drain),
}

/// The output archive; each call returns the bytes to send next (maybe none).
pub struct ArchiveOut {
    w: Writer,
    mtime: u64,
}

impl ArchiveOut {
    pub fn new(fmt: OutputFormat) -> ArchiveOut {
        let w = match fmt {
            OutputFormat::Tar => Writer::Tar,
            OutputFormat::Tgz => Writer::Tgz(Sink::new(true)),
            OutputFormat::Zip => {
                let d = Drain::default();
                Writer::Zip(Box::new(ZipWriter::new_stream(d.clone())), d)
            }
        };
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        ArchiveOut { w, mtime }
    }

    /// Starts member `name` of `size` bytes.
    pub fn begin(&mut self, name: &str, size: u64) -> io::Result<Bytes> {
        match &mut self.w {
            Writer::Tar => Ok(tar_writer::member_header(name, size, self.mtime).into()),
            Writer::Tgz(s) => s
                .push(&tar_writer::member_header(name, size, self.mtime))
                .map(Bytes::from),
            Writer::Zip(z, d) => {
                let opts = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .compression_level(Some(1))
                    .large_file(size >= u32::MAX as u64);
                z.start_file(name, opts).map_err(io::Error::other)?;
                Ok(d.take())
            }
        }
    }

    /// A piece of the current member's data.
    pub fn data(&mut self, piece: Bytes) -> io::Result<Bytes> {
        match &mut self.w {
            Writer::Tar => Ok(piece),
            Writer::Tgz(s) => s.push(&piece).map(Bytes::from),
            Writer::Zip(z, d) => {
                z.write_all(&piece)?;
                Ok(d.take())
            }
        }
    }

    /// Ends the current member of `size` bytes.
    pub fn end(&mut self, size: u64) -> io::Result<Bytes> {
        match &mut self.w {
            Writer::Tar => Ok(tar_writer::padding(size).into()),
            Writer::Tgz(s) => s.push(&tar_writer::padding(size)).map(Bytes::from),
            Writer::Zip(..) => Ok(Bytes::new()),
        }
    }

    /// The end of the archive.
    pub fn finish(self) -> io::Result<Bytes> {
        match self.w {
            Writer::Tar => Ok(tar_writer::trailer().into()),
            Writer::Tgz(mut s) => {
                let mut out = s.push(&tar_writer::trailer())?;
                out.extend(s.finish()?);
                Ok(out.into())
            }
            Writer::Zip(z, d) => {
                z.finish().map_err(io::Error::other)?;
                Ok(d.take())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn write(fmt: OutputFormat, members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut a = ArchiveOut::new(fmt);
        let mut out = Vec::new();
        for (name, data) in members {
            out.extend_from_slice(&a.begin(name, data.len() as u64).unwrap());
            for piece in data.chunks(1000) {
                out.extend_from_slice(&a.data(Bytes::copy_from_slice(piece)).unwrap());
            }
            out.extend_from_slice(&a.end(data.len() as u64).unwrap());
        }
        out.extend_from_slice(&a.finish().unwrap());
        out
    }

    #[test]
    fn every_format_reads_back_in_order() {
        let members = vec![
            ("b/one", b"first".to_vec()),
            ("__404__/b/missing", Vec::new()),
            ("b/big", (0..5000u32).map(|i| (i % 251) as u8).collect()),
        ];
        for fmt in [OutputFormat::Tar, OutputFormat::Tgz] {
            let bytes = write(fmt, &members);
            let input: Box<dyn Read> = match fmt {
                OutputFormat::Tgz => Box::new(flate2::read::GzDecoder::new(&bytes[..])),
                _ => Box::new(&bytes[..]),
            };
            let mut ar = tar::Archive::new(input);
            let got: Vec<(String, Vec<u8>)> = ar
                .entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let name = e.path().unwrap().to_string_lossy().into_owned();
                    let mut d = Vec::new();
                    e.read_to_end(&mut d).unwrap();
                    (name, d)
                })
                .collect();
            let want: Vec<(String, Vec<u8>)> = members
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect();
            assert_eq!(got, want, "{fmt:?}");
        }
        let bytes = write(OutputFormat::Zip, &members);
        let mut z = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        for (i, (name, data)) in members.iter().enumerate() {
            let mut f = z.by_index(i).unwrap();
            assert_eq!(f.name().unwrap(), *name);
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            assert_eq!(&d, data);
        }
    }
}
