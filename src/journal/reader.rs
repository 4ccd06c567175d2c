//! Reading a results file back, tolerant of a torn last line: the part of a journal a crash
//! may have left half-written. Everything before it must parse; the torn tail is reported (not
//! removed) so the caller decides whether to truncate.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::codec::{decode_header, decode_record, header};
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
    let mut found = scan_file(file, path, |record, _, _| records.push(record))?;
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
    let found = scan_file(file, path, |record, start, end| {
        entries.push(Entry::new(record.row, &record.action, start, end));
    })?;
    Ok((found, entries))
}

/// Hands every good record of `file`, with its byte span, to `each`.
fn scan_file(
    file: &File,
    path: &Path,
    each: impl FnMut(ResultRecord, u64, u64),
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
    let (header, bad_start) = scan(BufReader::new(f.take(complete)), path, each)?;
    Ok(ResultsFile {
        header,
        records: Vec::new(),
        good_len: bad_start.unwrap_or(complete),
        file_len,
    })
}

/// Reads single records back from where an index says they are. One CSV reader serves every
/// read: it seeks only when the next record is not the one after the last, which in a journal
/// (appended nearly in input order) is the exception.
pub(crate) struct RecordsAt {
    rdr: csv::Reader<File>,
    width: usize,
    cells: csv::StringRecord,
}

impl RecordsAt {
    /// Reads from `file`, whose header has `width` cells.
    pub(crate) fn new(mut file: File, width: usize) -> io::Result<RecordsAt> {
        file.seek(SeekFrom::Start(0))?;
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(file);
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

/// Parses complete lines, handing each good record and its byte span (`start..end` in `r`)
/// to `each`, and returns the header. A last line that does not parse is left out, and its
/// start offset returned (a crash can leave anything there); a bad line followed by others is
/// [`JournalError::Corrupt`].
fn scan(
    r: impl Read,
    path: &Path,
    mut each: impl FnMut(ResultRecord, u64, u64),
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
                Some(h) => decode_record(&cells, h.len()).map(Some),
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
