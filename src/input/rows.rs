//! Records with the row numbers a spreadsheet shows, read with the csv crate.
//!
//! # Row numbering
//! A spreadsheet row is a CSV *record*, not a physical line: a quoted cell with line breaks
//! inside is one row. A blank line is an empty row in Excel, so it is counted too (the csv
//! crate skips blank lines silently; the blank lines before each record are counted back from
//! the bytes it consumed). So a record's row number is its position among all records, blank
//! ones included, with the first record (normally the header) at row 1 — exactly the number
//! Excel shows beside it. Blank lines before the header push the header down the same way. An
//! Excel `sep=;` first line is not shown by Excel and is not counted.

use std::ops::Range;

use csv::ByteRecord;

/// Reads records one at a time, keeping their row numbers and where they are in the text.
pub(crate) struct Rows<'a> {
    data: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    record: ByteRecord,
    /// Row number of the record last read.
    row: u64,
    /// Row number the next physical row gets.
    next_row: u64,
    /// Bytes of the record last read, from its first byte (after any blank lines) to the end
    /// of what the reader consumed for it.
    span: Range<usize>,
}

impl<'a> Rows<'a> {
    /// A reader over `data` (UTF-8 or not: records are bytes) whose first record is
    /// `first_row`.
    pub(crate) fn new(data: &'a [u8], delimiter: u8, first_row: u64) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(64 * 1024)
            .from_reader(data);
        Rows {
            data,
            reader,
            record: ByteRecord::new(),
            row: 0,
            next_row: first_row,
            span: 0..0,
        }
    }

    /// Reads the next record and returns its row number, or `None` at the end.
    pub(crate) fn advance(&mut self) -> Result<Option<u64>, String> {
        let before = self.offset();
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| format!("row {}: cannot read the CSV: {e}", self.next_row))?;
        if !more {
            return Ok(None);
        }
        let after = self.offset();
        let (blank_lines, start) = blank_lines(self.data, before, after);
        self.row = self.next_row.saturating_add(blank_lines);
        self.next_row = self.row.saturating_add(1);
        self.span = start..after;
        Ok(Some(self.row))
    }

    fn offset(&self) -> usize {
        usize::try_from(self.reader.position().byte()).unwrap_or(usize::MAX)
    }

    /// Row number of the record last read.
    pub(crate) fn row(&self) -> u64 {
        self.row
    }

    /// Where the record last read is in the text (its terminator included).
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The cell at `index`, or empty when the row is shorter.
    pub(crate) fn cell(&self, index: usize) -> &[u8] {
        self.record.get(index).unwrap_or_default()
    }

    /// True when every cell is empty or whitespace (`,,,` or `   ` is an empty row).
    pub(crate) fn is_blank(&self) -> bool {
        self.record.iter().all(is_blank_cell)
    }

    /// The cells as text (invalid UTF-8 replaced), trimmed of a stray pair of quotes.
    pub(crate) fn cells_lossy(&self) -> Vec<String> {
        self.record
            .iter()
            .map(|c| super::cell_text::clean(&String::from_utf8_lossy(c)).to_string())
            .collect()
    }
}

/// The first `limit` non-blank records of `data`: their row numbers and cells (as
/// [`Rows::cells_lossy`]). Reading stops early at the end or at a read error.
pub(crate) fn top_rows(data: &[u8], delimiter: u8, limit: usize) -> Vec<(u64, Vec<String>)> {
    let mut rows = Rows::new(data, delimiter, 1);
    let mut out = Vec::new();
    while out.len() < limit {
        match rows.advance() {
            Ok(Some(_)) if rows.is_blank() => {}
            Ok(Some(row)) => out.push((row, rows.cells_lossy())),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

fn is_blank_cell(cell: &[u8]) -> bool {
    if cell.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    !cell.is_ascii() && std::str::from_utf8(cell).is_ok_and(|s| s.trim().is_empty())
}

/// How many blank lines the reader skipped between `before` and the record that follows, and
/// where that record starts. The skipped bytes are all CR/LF; a lone `\n` right after a `\r`
/// is the end of the previous record's CRLF (the reader stops after the `\r`), not a line.
fn blank_lines(data: &[u8], before: usize, after: usize) -> (u64, usize) {
    let mut i = before;
    if i > 0 && data.get(i - 1) == Some(&b'\r') && data.get(i) == Some(&b'\n') {
        i += 1;
    }
    let mut count = 0u64;
    while i < after {
        match data.get(i) {
            Some(b'\r') => {
                i += if data.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            Some(b'\n') => i += 1,
            _ => break,
        }
        count += 1;
    }
    (count, i.min(after))
}

/// The row number of the record holding byte `offset` of `data` (for errors found on the raw
/// bytes: invalid UTF-8, a stray BOM).
pub(crate) fn row_at(data: &[u8], delimiter: u8, first_row: u64, offset: usize) -> u64 {
    let mut rows = Rows::new(data, delimiter, first_row);
    let mut last = first_row;
    while let Ok(Some(row)) = rows.advance() {
        last = row;
        if rows.span().end > offset {
            return row;
        }
    }
    last
}

/// When the record `raw` ends inside a quoted cell (a quote opened and never closed, so the
/// csv reader took everything to the end of the file as one cell), the index of that cell.
/// Mirrors the csv crate's rules: a quote opens a quoted cell only as the cell's first byte,
/// `""` inside it is a literal quote.
pub(crate) fn unclosed_quote_cell(raw: &[u8], delimiter: u8) -> Option<usize> {
    #[derive(PartialEq)]
    enum State {
        Start,
        Plain,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::Start;
    let mut cell = 0usize;
    for &b in raw {
        state = match state {
            State::Start if b == b'"' => State::Quoted,
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            State::Start | State::Plain | State::QuoteInQuoted if b == delimiter => {
                cell += 1;
                State::Start
            }
            State::Start | State::Plain | State::QuoteInQuoted => State::Plain,
        };
    }
    (state == State::Quoted).then_some(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(text: &str) -> Vec<(u64, Vec<String>)> {
        let mut rows = Rows::new(text.as_bytes(), b',', 1);
        let mut out = Vec::new();
        while let Some(row) = rows.advance().unwrap() {
            out.push((row, rows.cells_lossy()));
        }
        out
    }

    fn numbers(text: &str) -> Vec<u64> {
        rows_of(text).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn rows_are_records_with_lf_crlf_and_cr() {
        assert_eq!(numbers("h\na\nb\n"), [1, 2, 3]);
        assert_eq!(numbers("h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(numbers("h\ra\rb"), [1, 2, 3]);
    }

    #[test]
    fn blank_lines_count_as_rows() {
        assert_eq!(numbers("h\n\na\n\n\nb\n"), [1, 3, 6]);
        assert_eq!(numbers("h\r\n\r\na\r\n\r\n\r\nb"), [1, 3, 6]);
        assert_eq!(numbers("h\r\r\na\n\r\nb"), [1, 3, 5]);
        assert_eq!(numbers("\n\nh\na"), [3, 4]);
    }

    #[test]
    fn a_quoted_cell_with_line_breaks_is_one_row() {
        let got = rows_of("h,n\na,\"x\ny\r\nz\"\n\nb,c\n");
        assert_eq!(got[1], (2, vec!["a".to_string(), "x\ny\r\nz".to_string()]));
        assert_eq!(got[2].0, 4);
    }

    #[test]
    fn row_at_names_the_record_holding_a_byte() {
        let text = b"h,n\na,\"x\ny\"\n\nb,c\n";
        assert_eq!(row_at(text, b',', 1, 0), 1);
        assert_eq!(row_at(text, b',', 1, 9), 2);
        assert_eq!(row_at(text, b',', 1, 15), 4);
    }

    #[test]
    fn an_unclosed_quote_is_found_with_its_cell() {
        assert_eq!(unclosed_quote_cell(b"a,\"b\nc,d\n", b','), Some(1));
        assert_eq!(unclosed_quote_cell(b"a,\"b\"\"\",c\n", b','), None);
        assert_eq!(unclosed_quote_cell(b"a,b\"c,\"d\"\n", b','), None);
        assert_eq!(unclosed_quote_cell(b"\"a\"x,\"", b','), Some(1));
    }
}
