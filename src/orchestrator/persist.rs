//! Heal history on disk: one JSON line per finished heal (`history.path`), read back at start.
//!
//! [`attach`] plugs the file into the [`History`]. [`open`] reads the newest `limit` records (a
//! corrupt line is skipped with a warning) and hands back a [`Writer`] whose
//! [`Writer::append`] never waits on the disk: a thread of its own writes the lines in order,
//! and rewrites the file down to the newest `limit` records whenever it has grown to twice
//! that. The file is readable by its owner only (it holds the workers' evidence). One
//! orchestrator process per file.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use super::history::{HealRecord, History};

/// Records queued for the writer thread beyond which [`Writer::append`] drops (and says so).
const QUEUE: usize = 4096;

/// A failure to read or prepare the history file (at start; later write errors are logged).
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The file exists but cannot be read, or cannot be opened for appending.
    #[error("failed to open the heal history file {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the writer thread is asked to do.
enum Msg {
    Line(String),
    Flush(oneshot::Sender<()>),
}

/// Appends records to the history file from a thread of its own. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
}

/// Reads the newest `limit` records of `path` (oldest first; none if the file does not exist)
/// and starts the [`Writer`] that appends to it.
///
/// # Errors
///
/// [`PersistError::Open`] when the file cannot be read or opened for appending. Lines that do
/// not parse as `T` are not errors: each is skipped with a `tracing` warning.
pub fn open<T: DeserializeOwned>(path: &Path, limit: usize) -> Result<(Vec<T>, Writer), PersistError> {
    let err = |source| PersistError::Open { path: path.to_path_buf(), source };
    let (records, lines) = match File::open(path) {
        Ok(file) => read_tail(path, file, limit).map_err(err)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), 0),
        Err(e) => return Err(err(e)),
    };
    if lines > compact_at(limit) {
        compact(path, limit).map_err(err)?;
    }
    let mut file = OpenOptions::new().create(true).read(true).append(true).mode(0o600).open(path).map_err(err)?;
    end_with_newline(&mut file).map_err(err)?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let written = if lines > compact_at(limit) { records.len() } else { lines };
    let state = WriterThread { path: path.to_path_buf(), file, limit, lines: written };
    std::thread::Builder::new().name("heal-history".into()).spawn(move || state.run(rx)).map_err(err)?;
    Ok((records, Writer { tx }))
}

/// Loads the file's heals into `history` and appends every heal that finishes from now on.
///
/// # Errors
///
/// As [`open`].
pub fn attach(history: &History, path: &Path, limit: usize) -> Result<Writer, PersistError> {
    let (records, writer) = open::<HealRecord>(path, limit)?;
    tracing::info!(file = %path.display(), heals = records.len(), "heal history read back");
    history.load(records);
    let sink = writer.clone();
    history.set_sink(Box::new(move |record| sink.append(record)));
    Ok(writer)
}

impl Writer {
    /// Queues one record as one line. Never waits: if the writer is far behind, the record
    /// is dropped with a warning (it stays in memory; only the file misses it).
    pub fn append<T: Serialize>(&self, record: &T) {
        let line = match serde_json::to_string(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, "heal history: a record could not be serialized; not saved");
                return;
            }
        };
        if let Err(e) = self.tx.try_send(Msg::Line(line)) {
            tracing::warn!(error = %e, "heal history: the writer is behind or gone; a heal was not saved to the file");
        }
    }

    /// Waits until every record appended before this call is written (e.g. before exiting).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Lines in the file past which it is rewritten to the newest `limit`.
fn compact_at(limit: usize) -> usize {
    limit.max(1).saturating_mul(2)
}

/// The newest `limit` records that parse, and the number of lines read (valid or not).
fn read_tail<T: DeserializeOwned>(path: &Path, file: File, limit: usize) -> std::io::Result<(Vec<T>, usize)> {
    let mut tail = VecDeque::with_capacity(limit.min(4096));
    let mut lines = 0;
    for_each_line(file, |n, bytes| {
        lines += 1;
        match serde_json::from_slice::<T>(bytes) {
            Ok(record) => {
                if tail.len() == limit {
                    tail.pop_front();
                }
                if limit > 0 {
                    tail.push_back(record);
                }
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), line = n, error = %e, "heal history: skipping a corrupt line");
            }
        }
    })?;
    Ok((tail.into(), lines))
}

/// Calls `f(line_number, bytes)` for every non-blank line, without its line end.
fn for_each_line(file: File, mut f: impl FnMut(usize, &[u8])) -> std::io::Result<()> {
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        n += 1;
        let line = buf.trim_ascii();
        if !line.is_empty() {
            f(n, line);
        }
    }
}

/// Rewrites the file with its newest `limit` well-formed lines (through a temporary file and a
/// rename, so a crash leaves either the old or the new file).
fn compact(path: &Path, limit: usize) -> std::io::Result<()> {
    let mut keep: VecDeque<Vec<u8>> = VecDeque::with_capacity(limit.min(4096));
    for_each_line(File::open(path)?, |_, bytes| {
        if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            if keep.len() == limit {
                keep.pop_front();
            }
            if limit > 0 {
                keep.push_back(bytes.to_vec());
            }
        }
    })?;
    let tmp = path.with_extension("compacting");
    {
        let mut out =
            std::io::BufWriter::new(OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?);
        for line in &keep {
            out.write_all(line)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    tracing::info!(file = %path.display(), kept = keep.len(), "heal history: file rewritten to its newest heals");
    Ok(())
}

/// A file cut in the middle of a line (a crash while writing) gets its line ended, so the next
/// record starts on a line of its own and only the cut one is lost.
fn end_with_newline(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut reader = file.try_clone()?;
    reader.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    reader.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// The writer thread's state: the open file and how many lines it holds.
struct WriterThread {
    path: PathBuf,
    file: File,
    limit: usize,
    lines: usize,
}

impl WriterThread {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Line(mut line) => {
                    line.push('\n');
                    if let Err(e) = self.file.write_all(line.as_bytes()) {
                        tracing::warn!(file = %self.path.display(), error = %e, "heal history: failed to append a heal");
                        continue;
                    }
                    self.lines += 1;
                    if self.lines > compact_at(self.limit) {
                        self.compact();
                    }
                }
                Msg::Flush(done) => {
                    let _ = self.file.flush();
                    let _ = done.send(());
                }
            }
        }
    }

    fn compact(&mut self) {
        let reopened = compact(&self.path, self.limit).and_then(|()| OpenOptions::new().append(true).open(&self.path));
        match reopened {
            Ok(file) => {
                self.file = file;
                self.lines = self.limit;
            }
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "heal history: failed to rewrite the file; it keeps growing");
                // Try again only after as many lines again.
                self.lines = self.limit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        id: String,
        n: u32,
    }

    fn rec(n: u32) -> Rec {
        Rec { id: format!("h{n}"), n }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
    }

    #[tokio::test]
    async fn appended_records_come_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (old, writer) = open::<Rec>(&path, 10).unwrap();
        assert!(old.is_empty());
        writer.append(&rec(1));
        writer.append(&rec(2));
        writer.flush().await;
        drop(writer);
        assert_eq!(lines(&path), [r#"{"id":"h1","n":1}"#, r#"{"id":"h2","n":2}"#]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (back, _w) = open::<Rec>(&path, 10).unwrap();
        assert_eq!(back, vec![rec(1), rec(2)]);
    }

    #[tokio::test]
    async fn corrupt_lines_are_skipped_and_a_cut_line_is_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        // A valid record, garbage, a record of another shape, invalid UTF-8, a blank line,
        // then a line cut mid-write (no newline).
        let mut bytes = b"{\"id\":\"h1\",\"n\":1}\nnot json\n{\"other\":true}\n\xff\xfe\n\n".to_vec();
        bytes.extend_from_slice(b"{\"id\":\"h2\",\"n\":");
        std::fs::write(&path, bytes).unwrap();
        let (back, writer) = open::<Rec>(&path, 10).unwrap();
        assert_eq!(back, vec![rec(1)]);
        writer.append(&rec(3));
        writer.flush().await;
        let (back, _w) = open::<Rec>(&path, 10).unwrap();
        assert_eq!(back, vec![rec(1), rec(3)], "the record after the cut line is intact");
    }

    #[tokio::test]
    async fn only_the_newest_limit_are_read_and_the_file_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (_, writer) = open::<Rec>(&path, 3).unwrap();
        for n in 1..=7 {
            writer.append(&rec(n));
        }
        writer.flush().await;
        // Past 2 × limit lines the writer rewrote the file to the newest 3, then appended.
        assert_eq!(lines(&path).len(), 3, "{:?}", lines(&path));
        drop(writer);
        let (back, _w) = open::<Rec>(&path, 3).unwrap();
        assert_eq!(back, vec![rec(5), rec(6), rec(7)]);
    }

    #[test]
    fn a_long_file_is_rewritten_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let text: String = (1..=9).map(|n| format!("{}\n", serde_json::to_string(&rec(n)).unwrap())).collect();
        std::fs::write(&path, text).unwrap();
        let (back, _w) = open::<Rec>(&path, 2).unwrap();
        assert_eq!(back, vec![rec(8), rec(9)]);
        assert_eq!(lines(&path).len(), 2);
    }

    #[test]
    fn an_unreadable_path_fails_at_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("history.jsonl");
        let err = open::<Rec>(&path, 10).unwrap_err();
        assert!(err.to_string().contains("missing-dir/history.jsonl"), "{err}");
    }
}
