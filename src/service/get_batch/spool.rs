//! Where a buffered GetBatch keeps its archive until every item's outcome is known (the
//! metadata part goes first): in memory up to [`IN_MEMORY`], then in a work file on a
//! mountpath, removed when the answer is sent or dropped.

use std::io;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Archive bytes kept in memory before the rest goes to a file.
pub const IN_MEMORY: usize = 32 << 20;
const READ_CHUNK: usize = 256 << 10;

/// Removes the spool file when the answer is done with it.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub struct Spool {
    mem: Vec<Bytes>,
    mem_len: usize,
    dir: PathBuf,
    file: Option<(tokio::fs::File, Remove)>,
    pub len: u64,
}

impl Spool {
    /// A spool whose overflow goes to a file in `dir`.
    pub fn new(dir: PathBuf) -> Spool {
        Spool {
            mem: Vec::new(),
            mem_len: 0,
            dir,
            file: None,
            len: 0,
        }
    }

    pub async fn push(&mut self, b: Bytes) -> io::Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        self.len += b.len() as u64;
        if self.file.is_none() && self.mem_len + b.len() <= IN_MEMORY {
            self.mem_len += b.len();
            self.mem.push(b);
            return Ok(());
        }
        if self.file.is_none() {
            tokio::fs::create_dir_all(&self.dir).await?;
            let path = self
                .dir
                .join(format!("get-batch-{:016x}", rand::random::<u64>()));
            let f = tokio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .await?;
            self.file = Some((f, Remove(path)));
        }
        let Some((f, _)) = self.file.as_mut() else {
            return Ok(());
        };
        for m in self.mem.drain(..) {
            f.write_all(&m).await?;
        }
        f.write_all(&b).await
    }

    /// Everything pushed, in order.
    pub async fn into_stream(self) -> io::Result<BoxStream<'static, io::Result<Bytes>>> {
        let mem = stream::iter(self.mem.into_iter().map(Ok));
        let Some((mut f, guard)) = self.file else {
            return Ok(mem.boxed());
        };
        f.flush().await?;
        f.seek(io::SeekFrom::Start(0)).await?;
        let from_file = stream::unfold(Some((f, guard)), |state| async move {
            let (mut f, guard) = state?;
            let mut buf = vec![0u8; READ_CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some((f, guard))))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(mem.chain(from_file).boxed())
    }
}
