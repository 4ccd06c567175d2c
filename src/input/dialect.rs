//! The file's dialect, before any record is read: its encoding (UTF-8 with or without a BOM,
//! UTF-16 LE/BE with a BOM as Excel's "Unicode text" writes it), whether it is text at all
//! (binary files, workbooks saved under a `.csv` name), an Excel `sep=;` first line, and the
//! delimiter (`,` `;` or tab) judged from the header line.

use super::InputOptions;
use super::header;
use super::rows::top_rows;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// How much of the start of the file the control-character share is measured on.
const SNIFF_BYTES: usize = 64 * 1024;

/// The file's text as UTF-8 bytes (not yet validated when it came as UTF-8), without its BOM.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) bytes: Vec<u8>,
    /// Where the text starts in `bytes` (after a UTF-8 BOM, which is not copied away).
    pub(crate) start: usize,
    /// Set for UTF-16 input with an unpaired surrogate: where (in the decoded text) it was
    /// replaced, so the caller can name the row.
    pub(crate) bad_utf16_at: Option<usize>,
}

impl Decoded {
    pub(crate) fn text(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }
}

/// Turns the raw file into UTF-8 bytes, or says in one line why it cannot be a CSV file.
pub(crate) fn decode(bytes: Vec<u8>) -> Result<Decoded, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.starts_with(b"\xFF\xFE\x00\x00") || bytes.starts_with(b"\x00\x00\xFE\xFF") {
        return Err(
            "the file is UTF-32 text, which is not supported; save it as \"CSV UTF-8\"".into(),
        );
    }
    let mut bytes = bytes;
    if let Some(end) = eof_marker_end(&bytes) {
        bytes.truncate(end);
    }
    let decoded = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        decode_utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        decode_utf16(rest, u16::from_be_bytes)?
    } else {
        // Some tools add a BOM to a file that already has one: skip them all.
        let mut start = 0;
        while bytes.get(start..).is_some_and(|b| b.starts_with(UTF8_BOM)) {
            start += UTF8_BOM.len();
        }
        if let Some(message) = binary_problem(bytes.get(start..).unwrap_or_default(), start) {
            return Err(message);
        }
        Decoded {
            bytes,
            start,
            bad_utf16_at: None,
        }
    };
    if decoded.text().iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty (nothing but blank lines or a byte-order mark)".into());
    }
    Ok(decoded)
}

/// Where the text ends when it finishes with a Ctrl-Z (0x1A, the end-of-file mark of old DOS
/// and Windows tools), possibly with line breaks around it: the length without that tail.
/// The mark is not data, and counting it as a row or as binary data would refuse the file.
fn eof_marker_end(bytes: &[u8]) -> Option<usize> {
    let tail = bytes
        .iter()
        .rev()
        .take_while(|b| matches!(b, 0x1A | b'\r' | b'\n'))
        .count();
    let end = bytes.len() - tail;
    let marked = bytes.get(end..).is_some_and(|t| t.contains(&0x1A));
    // Keep the line break that ended the last record.
    let keep = bytes
        .get(end..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    marked.then_some(end + keep)
}

/// Why `text` (starting at byte `base` of the file) is not CSV text, if it is not: a NUL byte
/// anywhere, or a large share of control characters near the start.
fn binary_problem(text: &[u8], base: usize) -> Option<String> {
    let head = text.get(..SNIFF_BYTES).unwrap_or(text);
    let controls = head.iter().filter(|b| is_binary_control(**b)).count();
    let at = if text.contains(&0) {
        text.iter().position(|b| *b == 0)
    } else if controls * 20 > head.len() {
        head.iter().position(|b| is_binary_control(*b))
    } else {
        None
    }?;
    let hint = if text.starts_with(b"PK\x03\x04") {
        ": it is a zip archive, such as an Excel workbook (.xlsx); in Excel use Save As > \"CSV UTF-8\""
    } else if text.starts_with(b"\xD0\xCF\x11\xE0") {
        ": it is an old Excel workbook (.xls); in Excel use Save As > \"CSV UTF-8\""
    } else if looks_like_utf16_without_bom(head) {
        ": it looks like UTF-16 text without a byte-order mark; save it as \"CSV UTF-8\""
    } else {
        ""
    };
    Some(format!(
        "this does not look like a CSV text file (binary data at byte {}){hint}",
        base + at
    ))
}

fn is_binary_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C)) || b == 0x7F
}

/// ASCII text in UTF-16 has a NUL in every other byte.
fn looks_like_utf16_without_bom(head: &[u8]) -> bool {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let odd_nuls = head
        .chunks_exact(2)
        .filter(|p| p.get(1) == Some(&0))
        .count();
    let even_nuls = head
        .chunks_exact(2)
        .filter(|p| p.first() == Some(&0))
        .count();
    odd_nuls * 10 >= pairs * 9 || even_nuls * 10 >= pairs * 9
}

/// Decodes UTF-16 (after its BOM) into UTF-8. Unpaired surrogates become U+FFFD and the first
/// one is remembered so the caller can name its row.
fn decode_utf16(body: &[u8], unit: fn([u8; 2]) -> u16) -> Result<Decoded, String> {
    if body.len() % 2 != 0 {
        return Err(
            "the file is UTF-16 text but ends in the middle of a character (an odd number of bytes); save it again as \"CSV UTF-8\"".into(),
        );
    }
    let units = body.chunks_exact(2).map(|p| match p {
        [a, b] => unit([*a, *b]),
        _ => 0xFFFD,
    });
    let head_units = SNIFF_BYTES / 2;
    let mut controls = 0usize;
    let mut counted = 0usize;
    for (i, u) in units.clone().enumerate() {
        if u == 0 {
            return Err(format!(
                "this does not look like a CSV text file (binary data at byte {})",
                2 + 2 * i
            ));
        }
        if i < head_units {
            counted += 1;
            controls += usize::from(u < 0x80 && is_binary_control(u as u8));
        }
    }
    if controls * 20 > counted {
        let at = units
            .clone()
            .position(|u| u < 0x80 && is_binary_control(u as u8))
            .unwrap_or(0);
        return Err(format!(
            "this does not look like a CSV text file (binary data at byte {})",
            2 + 2 * at
        ));
    }
    let mut text = String::with_capacity(body.len() + body.len() / 2);
    let mut bad_utf16_at = None;
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => text.push(c),
            Err(_) => {
                bad_utf16_at.get_or_insert(text.len());
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    // A second, redundant BOM (some tools add one to a file that has one).
    let start = text.len() - text.trim_start_matches('\u{feff}').len();
    Ok(Decoded {
        bytes: text.into_bytes(),
        start,
        bad_utf16_at: bad_utf16_at.map(|a: usize| a.saturating_sub(start)),
    })
}

/// An Excel `sep=X` first line (Excel honours it and does not show it as a row): the delimiter
/// and how many bytes the line takes, terminator included.
pub(crate) fn sep_line(text: &[u8]) -> Option<(u8, usize)> {
    let prefix = text.get(..4)?;
    if !prefix.eq_ignore_ascii_case(b"sep=") {
        return None;
    }
    let delimiter = *text.get(4)?;
    if !delimiter.is_ascii() || matches!(delimiter, b'"' | b'\r' | b'\n') {
        return None;
    }
    let rest = text.get(5..).unwrap_or_default();
    let term = match rest {
        [b'\r', b'\n', ..] => 2,
        [b'\r' | b'\n', ..] => 1,
        [] => 0,
        _ => return None,
    };
    Some((delimiter, 5 + term))
}

/// The delimiter, judged from the first non-blank lines: every candidate that splits one of
/// them into more than one cell, ordered by how many cells it makes of the first line, most
/// first (ties: tab, `;`, `,` — a `;` or tab file often has commas inside names, the reverse
/// is rare); the first one under which the header row can be found (below any title rows)
/// wins, so `Name, First;upn;action` is read as `;`. With no candidate splitting a line (a
/// single-column file) it is `,`.
pub(crate) fn sniff_delimiter(text: &[u8], options: &InputOptions) -> u8 {
    let mut candidates: Vec<(usize, u8, Vec<Vec<String>>)> = [b'\t', b';', b',']
        .into_iter()
        .filter_map(|d| {
            let top: Vec<Vec<String>> = top_rows(text, d, header::HEADER_SEARCH_ROWS)
                .into_iter()
                .map(|(_, cells)| cells)
                .collect();
            let first = top.first()?.len();
            top.iter()
                .any(|cells| cells.len() > 1)
                .then_some((first, d, top))
        })
        .collect();
    // Stable sort: equal counts keep the tab, `;`, `,` order.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, d, top) in &candidates {
        if header::locate(top, options).is_ok() {
            return *d;
        }
    }
    candidates.first().map_or(b',', |(_, d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_is_skipped_without_copying() {
        let d = decode(b"\xEF\xBB\xBFupn\nx@y.com\n".to_vec()).unwrap();
        assert_eq!(d.text(), b"upn\nx@y.com\n");
    }

    #[test]
    fn a_doubled_utf8_bom_is_skipped_too() {
        let d = decode(b"\xEF\xBB\xBF\xEF\xBB\xBFupn\n".to_vec()).unwrap();
        assert_eq!(d.text(), b"upn\n");
    }

    #[test]
    fn utf16_le_and_be_with_bom_are_decoded() {
        let text = "upn\taction\r\nälice@x.com\tenable\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            le.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
        }
        assert_eq!(decode(le).unwrap().text(), text.as_bytes());
        assert_eq!(decode(be).unwrap().text(), text.as_bytes());
    }

    #[test]
    fn utf16_unpaired_surrogate_is_remembered() {
        let mut le = vec![0xFF, 0xFE];
        for u in [u16::from(b'a'), 0xD800, u16::from(b'b')] {
            le.extend(u.to_le_bytes());
        }
        let d = decode(le).unwrap();
        assert_eq!(d.bad_utf16_at, Some(1));
    }

    #[test]
    fn binary_data_is_refused_with_its_offset() {
        let err = decode(b"upn,action\nab\0cd".to_vec()).unwrap_err();
        assert_eq!(
            err,
            "this does not look like a CSV text file (binary data at byte 13)"
        );
        let err = decode(b"\x01\x02\x03\x04abc".to_vec()).unwrap_err();
        assert!(err.contains("binary data at byte 0"), "{err}");
    }

    #[test]
    fn workbooks_and_bomless_utf16_get_a_hint() {
        let err = decode(b"PK\x03\x04\x14\x00\x06\x00".to_vec()).unwrap_err();
        assert!(err.contains(".xlsx"), "{err}");
        let err = decode(b"u\0p\0n\0\n\0".to_vec()).unwrap_err();
        assert!(err.contains("UTF-16"), "{err}");
    }

    #[test]
    fn a_ctrl_z_at_the_end_is_not_data() {
        let d = decode(b"upn\r\na@x.com\r\n\x1a".to_vec()).unwrap();
        assert_eq!(d.text(), b"upn\r\na@x.com\r\n");
        let d = decode(b"upn\na@x.com\x1a".to_vec()).unwrap();
        assert_eq!(d.text(), b"upn\na@x.com");
        // Anywhere else it stays, to be judged like any other control character.
        let text = b"userPrincipalName,action\nann\x1a@contoso.com,enable\n";
        assert_eq!(decode(text.to_vec()).unwrap().text(), text);
    }

    #[test]
    fn empty_and_blank_files_are_refused() {
        assert_eq!(decode(Vec::new()).unwrap_err(), "the file is empty");
        assert!(
            decode(b"\xEF\xBB\xBF\r\n\r\n".to_vec())
                .unwrap_err()
                .starts_with("the file is empty")
        );
    }

    #[test]
    fn excel_sep_line_is_recognised() {
        assert_eq!(sep_line(b"sep=;\r\nupn;action"), Some((b';', 7)));
        assert_eq!(sep_line(b"SEP=\t\nupn"), Some((b'\t', 6)));
        assert_eq!(sep_line(b"sep=;x\n"), None);
        assert_eq!(sep_line(b"upn,action"), None);
    }

    #[test]
    fn delimiter_is_judged_from_the_header_line_outside_quotes() {
        let o = InputOptions::default();
        assert_eq!(sniff_delimiter(b"upn,action\na;b,c\n", &o), b',');
        assert_eq!(sniff_delimiter(b"upn;action\n", &o), b';');
        assert_eq!(sniff_delimiter(b"upn\taction\n", &o), b'\t');
        assert_eq!(sniff_delimiter(b"\"a;b\",upn,action\n", &o), b',');
        assert_eq!(sniff_delimiter(b"Name, First;upn;action\n", &o), b';');
        assert_eq!(sniff_delimiter(b"upn\n", &o), b',');
    }
}
