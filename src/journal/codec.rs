//! One results line ⇄ one `ResultRecord`: field order (HEADER, then extra columns), number
//! formats, and formula neutralization on every text cell. Pure: bytes in, bytes out.

use std::borrow::Cow;
use std::io;

use super::neutralize::{neutralize, restore};
use super::{HEADER, ResultRecord, Status};

/// The header cells for a file with `extra_columns` after the fixed ones.
pub(crate) fn header(extra_columns: &[String]) -> Vec<String> {
    HEADER
        .iter()
        .map(|h| (*h).to_string())
        .chain(extra_columns.iter().cloned())
        .collect()
}

/// Appends the header line to `buf`.
pub(crate) fn encode_header(extra_columns: &[String], buf: &mut Vec<u8>) -> io::Result<()> {
    let cells = HEADER
        .iter()
        .map(|h| Cow::Borrowed(*h))
        .chain(extra_columns.iter().map(|c| neutralize(c)));
    write_line(buf, cells)
}

/// Appends one record as one CSV line (with its `\n`) to `buf`. The record is written with
/// exactly `extra_len` extra cells, padded with empty ones, so every line matches the header.
pub(crate) fn encode_record(
    record: &ResultRecord,
    extra_len: usize,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    if record.extra.len() > extra_len {
        tracing::warn!(
            row = record.row,
            "record has {} extra cells but the results file has {extra_len} extra columns; the rest are not written",
            record.extra.len()
        );
    }
    let fixed = [
        Cow::Owned(record.row.to_string()),
        neutralize(&record.user),
        neutralize(&record.action),
        Cow::Borrowed(record.status.as_str()),
        neutralize(&record.before),
        neutralize(&record.after),
        Cow::Owned(
            record
                .http_status
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ),
        neutralize(&record.error_code),
        neutralize(&record.message),
        Cow::Owned(record.attempts.to_string()),
        neutralize(&record.request_id),
        neutralize(&record.client_request_id),
        neutralize(&record.finished_at),
    ];
    let extra = (0..extra_len).map(|i| {
        record
            .extra
            .get(i)
            .map_or(Cow::Borrowed(""), |c| neutralize(c))
    });
    write_line(buf, fixed.into_iter().chain(extra))
}

fn write_line<'a>(
    buf: &mut Vec<u8>,
    cells: impl IntoIterator<Item = Cow<'a, str>>,
) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(512)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(buf);
    let cells: Vec<Cow<'a, str>> = cells.into_iter().collect();
    w.write_record(cells.iter().map(|c| c.as_bytes()))
        .map_err(io::Error::other)?;
    w.flush()
}

/// The header cells as read, with neutralization undone.
pub(crate) fn decode_header(cells: &csv::StringRecord) -> Vec<String> {
    cells.iter().map(|c| restore(c).to_string()).collect()
}

/// Reads one record line; `width` is the header's cell count. The error is a one-line reason.
pub(crate) fn decode_record(
    cells: &csv::StringRecord,
    width: usize,
) -> Result<ResultRecord, String> {
    let fixed = decode_fixed(cells, width)?;
    let text = |i: usize| restore(&cells[i]).to_string();
    Ok(ResultRecord {
        row: fixed.row,
        user: text(1),
        action: text(2),
        status: fixed.status,
        before: text(4),
        after: text(5),
        http_status: fixed.http_status,
        error_code: text(7),
        message: text(8),
        attempts: fixed.attempts,
        request_id: text(10),
        client_request_id: text(11),
        finished_at: text(12),
        extra: (HEADER.len()..width).map(text).collect(),
    })
}

/// What places a record line in input order (its row and action), checked exactly as
/// [`decode_record`] checks it (a line one refuses the other refuses too) but without
/// copying its cells: the compaction's index reads every line of the journal for these two.
pub(crate) fn decode_key(cells: &csv::StringRecord, width: usize) -> Result<(u64, &str), String> {
    let fixed = decode_fixed(cells, width)?;
    Ok((fixed.row, restore(&cells[2])))
}

/// A record line's cells that are not text, checked.
struct Fixed {
    row: u64,
    status: Status,
    http_status: Option<u16>,
    attempts: u32,
}

/// Checks a record line's width and reads its cells that are not text: the only ways a line
/// can be unreadable (every text cell is valid as it is).
fn decode_fixed(cells: &csv::StringRecord, width: usize) -> Result<Fixed, String> {
    if cells.len() != width {
        return Err(format!("expected {width} cells, found {}", cells.len()));
    }
    let row = cells[0]
        .parse::<u64>()
        .map_err(|_| format!("row '{}' is not a row number", &cells[0]))?;
    let status =
        Status::parse(&cells[3]).ok_or_else(|| format!("unknown status '{}'", &cells[3]))?;
    let http_status = match &cells[6] {
        "" => None,
        s => Some(
            s.parse::<u16>()
                .map_err(|_| format!("http_status '{s}' is not an HTTP status"))?,
        ),
    };
    let attempts = match &cells[9] {
        "" => 0,
        s => s
            .parse::<u32>()
            .map_err(|_| format!("attempts '{s}' is not a number"))?,
    };
    Ok(Fixed {
        row,
        status,
        http_status,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_is_exactly_the_contract() {
        let mut buf = Vec::new();
        encode_header(&[], &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "row,user,action,status,before,after,http_status,error_code,message,attempts,request_id,client_request_id,finished_at\n"
        );
    }

    #[test]
    fn extra_columns_follow_the_fixed_header() {
        let mut buf = Vec::new();
        encode_header(&["department".into(), "=cmd".into()], &mut buf).unwrap();
        assert!(
            String::from_utf8(buf)
                .unwrap()
                .ends_with(",finished_at,department,'=cmd\n")
        );
    }

    #[test]
    fn record_line_has_empty_http_status_when_none_and_numeric_attempts() {
        let rec = ResultRecord {
            row: 7,
            user: "a@b.c".into(),
            action: "enforce".into(),
            status: Status::Unchanged,
            attempts: 2,
            ..ResultRecord::default()
        };
        let mut buf = Vec::new();
        encode_record(&rec, 0, &mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "7,a@b.c,enforce,unchanged,,,,,,2,,,\n"
        );
    }

    #[test]
    fn the_index_key_refuses_exactly_the_lines_a_full_read_refuses() {
        let good = "7,a@b.c,'=enforce,unchanged,,,200,,,2,,,";
        let lines = [
            good,
            "7,a@b.c,enforce,unchanged,,,,,,,,,",
            "x,a@b.c,enforce,unchanged,,,,,,2,,,",
            "7,a@b.c,enforce,fine,,,,,,2,,,",
            "7,a@b.c,enforce,unchanged,,,99999,,,2,,,",
            "7,a@b.c,enforce,unchanged,,,,,,-1,,,",
            "7,a@b.c,enforce,unchanged,,,,,,2,,",
        ];
        for line in lines {
            let cells = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .unwrap()
                .unwrap();
            let full = decode_record(&cells, HEADER.len());
            let key = decode_key(&cells, HEADER.len());
            assert_eq!(full.is_ok(), key.is_ok(), "{line}");
            if let (Ok(full), Ok((row, action))) = (full, key) {
                assert_eq!((full.row, full.action.as_str()), (row, action), "{line}");
            }
        }
        let cells = csv::StringRecord::from(good.split(',').collect::<Vec<_>>());
        assert_eq!(decode_key(&cells, HEADER.len()), Ok((7, "=enforce")));
    }

    #[test]
    fn missing_extra_cells_are_written_empty() {
        let rec = ResultRecord {
            row: 2,
            extra: vec!["x".into()],
            ..ResultRecord::default()
        };
        let mut buf = Vec::new();
        encode_record(&rec, 3, &mut buf).unwrap();
        assert!(String::from_utf8(buf).unwrap().ends_with(",x,,\n"));
    }
}
