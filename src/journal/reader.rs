//! Reading a results file back, tolerant of a torn last line: the part of a journal a crash
//! may have left half-written. Everything before it must parse; the torn tail is reported (not
//! removed) so the caller decides whether to truncate.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::codec::{decode_header, decode_key, decode_record, header};
use super::compact::Entry;
use super::{HEADER, JournalError, ResultRecord};

/// What a results file holds.
#[derive(Debug, Default)]
pub(crate) struct ResultsFile {
    /// The header cells, or `None` for a file without one complete line.
    pub(crate) header: Option<Vec<String>>,
    pub(crate) records: Vec<ResultRecord>,
    /// Length of the good prefix: complete, parseable lines. Bytes after it are a torn tail.
    pub(crate) good_len: u64,
    /// Length of the file as read.
    pub(crate) file_len: u64,
}

impl ResultsFile {
    /// Errors unless the header is exactly the one a run with `extra_columns` writes.
    pub(crate) fn expect_header(
        &self,
        path: &Path,
        extra_columns: &[String],
    ) -> Result<(), JournalError> {
        let expected = header(extra_columns);
        match &self.header {
            Some(found) if *found != expected => Err(JournalError::Header {
                path: path.to_path_buf(),
                found: found.join(","),
                expected: expected.join(","),
            }),
            _ => Ok(()),
        }
    }
}

/// Reads the whole of `file` from its start.
pub(crate) fn read_file(file: &File, path: &Path) -> Result<ResultsFile, JournalError> {
    let mut records = Vec::new();
    let mut found = scan_file(file, path, decode_record, |record, _, _| {
        records.push(record)
    })?;
    found.records = records;
    Ok(found)
}

/// Reads the whole of `file` from its start into an index of where each record sits (for
/// compaction), without keeping the records. The returned `ResultsFile` has no records.
pub(crate) fn index_file(
    file: &File,
    path: &Path,
) -> Result<(ResultsFile, Vec<Entry>), JournalError> {
    let mut entries = Vec::new();
    let key = |cells: &csv::StringRecord, width| {
        decode_key(cells, width).map(|(row, action)| Entry::new(row, action, 0, 0))
    };
    let found = scan_file(file, path, key, |mut entry, start, end| {
        entry.start = start;
        entry.end = end;
        entries.push(entry);
    })?;
    Ok((found, entries))
}

/// Hands every good record of `file`, as `decode` reads it, with its byte span, to `each`.
fn scan_file<T>(
    file: &File,
    path: &Path,
    decode: impl Fn(&csv::StringRecord, usize) -> Result<T, String>,
    each: impl FnMut(T, u64, u64),
) -> Result<ResultsFile, JournalError> {
    let what = "cannot read results file";
    let mut f = file;
    let file_len = f
        .seek(SeekFrom::End(0))
        .map_err(JournalError::io_with(path, what))?;
    f.seek(SeekFrom::Start(0))
        .map_err(JournalError::io_with(path, what))?;
    let complete = complete_len(BufReader::new(f)).map_err(JournalError::io_with(path, what))?;
    f.seek(SeekFrom::Start(0))
        .map_err(JournalError::io_with(path, what))?;
    let (header, bad_start) = scan(BufReader::new(f.take(complete)), path, decode, each)?;
    Ok(ResultsFile {
        header,
        records: Vec::new(),
        good_len: bad_start.unwrap_or(complete),
        file_len,
    })
}

/// Reads single records back from where an index says they are. One CSV reader serves every
/// read: it seeks only when the next record is not the one after the last, and its seeks land
/// in a [`Window`] of the file held in memory, so a hop costs no system call.
pub(crate) struct RecordsAt {
    rdr: csv::Reader<Window>,
    width: usize,
    cells: csv::StringRecord,
}

impl RecordsAt {
    /// Reads from `file`, whose header has `width` cells.
    pub(crate) fn new(file: File, width: usize) -> io::Result<RecordsAt> {
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Window::new(file));
        Ok(RecordsAt {
            rdr,
            width,
            cells: csv::StringRecord::new(),
        })
    }

    /// The record at `entry` (one that [`index_file`] found good).
    pub(crate) fn read(&mut self, entry: &Entry) -> io::Result<ResultRecord> {
        let mut at = csv::Position::new();
        at.set_byte(entry.start);
        self.rdr.seek(at).map_err(io::Error::other)?;
        let found = self
            .rdr
            .read_record(&mut self.cells)
            .map_err(io::Error::other)?;
        if !found || self.rdr.position().byte() != entry.end {
            return Err(io::Error::other(format!(
                "the record at byte {} changed while the file was compacted",
                entry.start
            )));
        }
        decode_record(&self.cells, self.width).map_err(io::Error::other)
    }
}

/// How much of the file a [`Window`] holds: more than the distance the compaction's reads hop
/// back and forth (the journal is written in the order answers come, about as far out of
/// input order as the jobs under way at once, a few hundred kilobytes), little next to the run.
const WINDOW: u64 = 1 << 20;

/// A file read through a window of it held in memory. A seek inside the window only moves the
/// position; a read outside it refills the window from a little before the position, since
/// the compaction's next read may as well go back as forward. The file must not change
/// while it is read (the run lock holds it).
pub(crate) struct Window {
    file: File,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    start: u64,
    /// The file offset the next read starts at.
    pos: u64,
}

impl Window {
    pub(crate) fn new(file: File) -> Window {
        Window {
            file,
            buf: Vec::new(),
            start: 0,
            pos: 0,
        }
    }

    fn holds(&self, pos: u64) -> bool {
        pos >= self.start && pos < self.start + self.buf.len() as u64
    }

    fn fill(&mut self) -> io::Result<()> {
        let from = self.pos.saturating_sub(WINDOW / 4);
        self.buf.clear();
        self.start = from;
        self.file.seek(SeekFrom::Start(from))?;
        (&mut self.file).take(WINDOW).read_to_end(&mut self.buf)?;
        Ok(())
    }
}

impl Read for Window {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.holds(self.pos) {
            self.fill()?;
            if !self.holds(self.pos) {
                // At or past the end of the file.
                return Ok(0);
            }
        }
        let at = usize::try_from(self.pos - self.start).map_err(io::Error::other)?;
        let n = out.len().min(self.buf.len() - at);
        out[..n].copy_from_slice(&self.buf[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.file.metadata()?.len().checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }
}

/// The length of the prefix made of complete lines: up to and including the last `\n` that is
/// outside a quoted cell. Quote parity is exact here because the writer quotes every cell that
/// holds a `"` (doubling it), so a `"` only ever opens or closes a quoted cell, or comes in a
/// pair inside one. A `\n` inside quotes belongs to a cell, not the end of a record.
pub(crate) fn complete_len(mut r: impl BufRead) -> io::Result<u64> {
    let (mut pos, mut end, mut quoted) = (0u64, 0u64, false);
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(end);
        }
        for (i, b) in chunk.iter().enumerate() {
            match b {
                b'"' => quoted = !quoted,
                b'\n' if !quoted => end = pos + i as u64 + 1,
                _ => {}
            }
        }
        let n = chunk.len();
        pos += n as u64;
        r.consume(n);
    }
}

/// Parses complete lines, handing each good record (as `decode` reads it) and its byte span
/// (`start..end` in `r`) to `each`, and returns the header. A last line that does not parse is left out, and its
/// start offset returned (a crash can leave anything there); a bad line followed by others is
/// [`JournalError::Corrupt`].
fn scan<T>(
    r: impl Read,
    path: &Path,
    decode: impl Fn(&csv::StringRecord, usize) -> Result<T, String>,
    mut each: impl FnMut(T, u64, u64),
) -> Result<(Option<Vec<String>>, Option<u64>), JournalError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(r);
    let mut header: Option<Vec<String>> = None;
    let mut cells = csv::StringRecord::new();
    // A bad line waits here until we know whether it is the last one.
    let mut bad: Option<(u64, u64, String)> = None;
    loop {
        let start = rdr.position().clone();
        let result = rdr.read_record(&mut cells);
        if let Ok(false) = result {
            break;
        }
        if let Some((_, line, message)) = bad.take() {
            return Err(JournalError::Corrupt {
                path: path.to_path_buf(),
                line,
                message,
            });
        }
        let line = match &result {
            Err(e) => e.position().map_or(start.line(), csv::Position::line),
            Ok(_) => cells.position().map_or(start.line(), csv::Position::line),
        };
        let decoded = match result {
            Err(e) => Err(e.to_string()),
            Ok(_) => match &header {
                None => {
                    header = Some(decode_header(&cells));
                    Ok(None)
                }
                Some(h) => decode(&cells, h.len()).map(Some),
            },
        };
        match decoded {
            Ok(Some(record)) => each(record, start.byte(), rdr.position().byte()),
            Ok(None) => {}
            Err(message) => bad = Some((start.byte(), line, message)),
        }
    }
    if let Some(h) = &header {
        if h.get(..HEADER.len()).is_none_or(|fixed| fixed != HEADER) {
            return Err(JournalError::Header {
                path: path.to_path_buf(),
                found: h.join(","),
                expected: HEADER.join(","),
            });
        }
    }
    Ok((header, bad.map(|(start, _, _)| start)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file of `len` bytes, each its offset's low byte, and the bytes themselves.
    fn numbered_file(len: usize) -> (File, Vec<u8>) {
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        (file, bytes)
    }

    fn read_at(w: &mut Window, at: u64, n: usize) -> Vec<u8> {
        w.seek(SeekFrom::Start(at)).unwrap();
        let mut out = Vec::new();
        w.take(n as u64).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_window_reads_what_the_file_holds_wherever_the_reads_hop() {
        let len = 3 * WINDOW as usize + 777;
        let (file, bytes) = numbered_file(len);
        let mut w = Window::new(file);
        // Forward, back within the window, back past it, across its end, far ahead, the end.
        for (at, n) in [
            (0, 100),
            (5_000, 20_000),
            (1_000, 10),
            (WINDOW + 17, 300),
            (3, 4),
            (WINDOW - 10, 5_000),
            (2 * WINDOW + 1, 2 * WINDOW as usize),
            (len as u64 - 5, 100),
            (len as u64, 10),
            (len as u64 + 1_000, 10),
        ] {
            let start = (at as usize).min(len);
            let end = (start + n).min(len);
            assert_eq!(
                read_at(&mut w, at, n),
                &bytes[start..end],
                "{n} bytes at {at}"
            );
        }
    }

    #[test]
    fn a_window_seeks_relative_to_where_it_is_and_to_the_end() {
        let (file, bytes) = numbered_file(1_000);
        let mut w = Window::new(file);
        assert_eq!(w.seek(SeekFrom::Start(100)).unwrap(), 100);
        assert_eq!(w.seek(SeekFrom::Current(-40)).unwrap(), 60);
        let mut two = [0u8; 2];
        w.read_exact(&mut two).unwrap();
        assert_eq!(two, [bytes[60], bytes[61]]);
        assert_eq!(w.seek(SeekFrom::End(-1)).unwrap(), 999);
        assert!(w.seek(SeekFrom::Current(-5_000)).is_err());
    }

    #[test]
    fn records_read_back_out_of_file_order_are_the_ones_indexed() {
        let mut file = tempfile::tempfile().unwrap();
        let mut buf = Vec::new();
        super::super::codec::encode_header(&[], &mut buf).unwrap();
        let records: Vec<ResultRecord> = (0..20_000u64)
            .map(|i| ResultRecord {
                row: (i * 7_919) % 20_000 + 2,
                user: format!("user{i}@contoso.com"),
                action: "enforce".into(),
                message: "=not a formula".into(),
                ..ResultRecord::default()
            })
            .collect();
        for r in &records {
            super::super::codec::encode_record(r, 0, &mut buf).unwrap();
        }
        file.write_all(&buf).unwrap();
        let (found, index) = index_file(&file, Path::new("r.csv")).unwrap();
        assert_eq!(index.len(), records.len());
        assert_eq!(found.good_len, buf.len() as u64);
        let mut at = RecordsAt::new(file, HEADER.len()).unwrap();
        let mut by_row: Vec<&ResultRecord> = records.iter().collect();
        by_row.sort_by_key(|r| r.row);
        let compacted = super::super::compact::compact(index);
        assert_eq!(compacted.len(), by_row.len());
        for (entry, want) in compacted.iter().zip(by_row) {
            assert_eq!(&at.read(entry).unwrap(), want);
        }
    }
}
