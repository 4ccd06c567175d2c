//! The export file: one row per user with its per-user MFA state and methods, in the columns
//! the issue names (`user,id,displayName,userType,accountEnabled,perUserMfaState,methods,
//! defaultMethod,action`), then `error` (empty when every read of the user succeeded). The
//! `user` column holds the UPN, so the file with `action` filled in (or `--action`) is an input
//! for `plan` and `apply`. Written as CSV (cells a spreadsheet would run as a formula
//! neutralised), or as an XLSX workbook (header frozen, filter on) when the name ends `.xlsx`.
//! While the export runs, rows are appended to the journal `FILE.partial` (CSV, same columns),
//! flushed every batch, so `--resume` knows which users are done; the final file is written
//! at the end, in listing order, atomically.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::journal::{ResultRecord, Status, neutralize};

/// The columns, in order. Users and scripts read these names: extend, never rename.
pub(crate) const EXPORT_HEADER: [&str; 10] = [
    "user",
    "id",
    "displayName",
    "userType",
    "accountEnabled",
    "perUserMfaState",
    "methods",
    "defaultMethod",
    "action",
    "error",
];

/// One row of the export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExportRow {
    pub(crate) user: String,
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) user_type: String,
    pub(crate) account_enabled: String,
    pub(crate) state: String,
    /// Method labels joined by `;` (the password not counted).
    pub(crate) methods: String,
    pub(crate) default_method: String,
    /// Empty when the user was read; why not otherwise.
    pub(crate) error: String,
}

impl ExportRow {
    /// The row of an engine record for `export` (`Action::Export`): `user` is the object id,
    /// the listed properties come first in `extra`, then the methods and the default method.
    pub(crate) fn from_record(r: &ResultRecord) -> ExportRow {
        let cell = |i: usize| r.extra.get(i).cloned().unwrap_or_default();
        let error = match r.status {
            Status::Unchanged => String::new(),
            Status::NotFound => format!("not found (deleted since it was listed?): {}", r.message),
            _ => match r.http_status {
                Some(s) => format!("{s} {}: {}", r.error_code, r.message),
                None => r.message.clone(),
            },
        };
        let read = r.status == Status::Unchanged;
        ExportRow {
            user: cell(0),
            id: r.user.clone(),
            display_name: cell(1),
            user_type: cell(2),
            account_enabled: cell(3),
            state: if read {
                r.before.clone()
            } else {
                String::new()
            },
            methods: if read { cell(4) } else { String::new() },
            default_method: if read { cell(5) } else { String::new() },
            error,
        }
    }

    fn cells(&self) -> [&str; 10] {
        [
            &self.user,
            &self.id,
            &self.display_name,
            &self.user_type,
            &self.account_enabled,
            &self.state,
            &self.methods,
            &self.default_method,
            "",
            &self.error,
        ]
    }

    fn from_cells(cells: &csv::StringRecord) -> Option<ExportRow> {
        let c = |i: usize| {
            cells
                .get(i)
                .map(|s| crate::journal::restore_cell(s).to_string())
        };
        Some(ExportRow {
            user: c(0)?,
            id: c(1)?,
            display_name: c(2)?,
            user_type: c(3)?,
            account_enabled: c(4)?,
            state: c(5)?,
            methods: c(6)?,
            default_method: c(7)?,
            error: c(9)?,
        })
    }

    /// How many methods the user has (0: none registered).
    #[must_use]
    pub(crate) fn method_count(&self) -> usize {
        self.methods.split(';').filter(|m| !m.is_empty()).count()
    }
}

/// The journal beside `out`: `out.partial`.
pub(crate) fn journal_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

fn csv_line(cells: &[&str]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(cells.iter().map(|c| neutralize(c).into_owned()))?;
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The append-only journal of a running export.
pub(crate) struct ExportJournal {
    path: PathBuf,
    out: BufWriter<File>,
    last_sync: std::time::Instant,
}

impl ExportJournal {
    /// A new journal (header only), replacing any.
    pub(crate) fn create(path: &Path) -> std::io::Result<ExportJournal> {
        let mut f = File::create(path)?;
        f.write_all(&csv_line(&EXPORT_HEADER)?)?;
        f.sync_all()?;
        Self::open(path)
    }

    /// Appends to an existing journal.
    pub(crate) fn open(path: &Path) -> std::io::Result<ExportJournal> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(ExportJournal {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            last_sync: std::time::Instant::now(),
        })
    }

    pub(crate) fn append(&mut self, rows: &[ExportRow]) -> std::io::Result<()> {
        for row in rows {
            self.out.write_all(&csv_line(&row.cells())?)?;
        }
        self.out.flush()?;
        // Flushed every batch (a crash of the tool loses nothing); fsynced every second (a
        // crash of the machine loses at most that), as the results journal is.
        if self.last_sync.elapsed() >= std::time::Duration::from_secs(1) {
            self.out.get_ref().sync_data()?;
            self.last_sync = std::time::Instant::now();
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a journal (or a finished CSV export) back: id → row, the last row of an id winning.
/// A line cut off by a crash (the last, without its newline) is dropped: that user is read
/// again.
pub(crate) fn read_rows(path: &Path) -> Result<HashMap<String, ExportRow>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(end) => &text[..=end],
        None => &text[..0],
    };
    let body = complete.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(complete);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| format!("{}: unreadable header: {e}", path.display()))?
        .clone();
    if header.iter().collect::<Vec<_>>() != EXPORT_HEADER {
        return Err(format!(
            "{} is not an export journal (its header is not {})",
            path.display(),
            EXPORT_HEADER.join(",")
        ));
    }
    let mut rows = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 2))?;
        let row = ExportRow::from_cells(&record)
            .ok_or_else(|| format!("{}: line {} has too few columns", path.display(), n + 2))?;
        rows.insert(row.id.clone(), row);
    }
    Ok(rows)
}

/// Whether `path` names a workbook (`.xlsx`, any case).
pub(crate) fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Writes the finished export to `out`, atomically (a temp file beside it, renamed over it):
/// CSV (with a UTF-8 byte-order mark when `excel`), or a workbook for `.xlsx`.
pub(crate) fn write_final<'a>(
    out: &Path,
    rows: impl Iterator<Item = &'a ExportRow>,
    excel: bool,
) -> Result<(), String> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write a temporary file in {}: {e}", dir.display()))?;
    let written = if is_xlsx(out) {
        write_xlsx(tmp.path(), rows)
    } else {
        write_csv(tmp.as_file(), rows, excel).map_err(|e| e.to_string())
    };
    written.map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    tmp.persist(out)
        .map_err(|e| format!("cannot replace {}: {}", out.display(), e.error))?;
    Ok(())
}

fn write_csv<'a>(
    file: &File,
    rows: impl Iterator<Item = &'a ExportRow>,
    excel: bool,
) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    if excel {
        out.write_all(b"\xEF\xBB\xBF")?;
    }
    out.write_all(&csv_line(&EXPORT_HEADER)?)?;
    for row in rows {
        out.write_all(&csv_line(&row.cells())?)?;
    }
    out.flush()?;
    file.sync_all()
}

fn write_xlsx<'a>(path: &Path, rows: impl Iterator<Item = &'a ExportRow>) -> Result<(), String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    sheet.set_name("users").map_err(err)?;
    let bold = Format::new().set_bold();
    for (c, name) in EXPORT_HEADER.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *name, &bold)
            .map_err(err)?;
    }
    let mut last = 0u32;
    for (n, row) in rows.enumerate() {
        let r = n as u32 + 1;
        for (c, cell) in row.cells().iter().enumerate() {
            // Strings, never formulas or numbers: a cell reads back exactly as exported.
            if !cell.is_empty() {
                sheet.write_string(r, c as u16, *cell).map_err(err)?;
            }
        }
        last = r;
    }
    sheet.set_freeze_panes(1, 0).map_err(err)?;
    sheet
        .autofilter(0, 0, last, EXPORT_HEADER.len() as u16 - 1)
        .map_err(err)?;
    book.save(path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, state: &str) -> ExportRow {
        ExportRow {
            user: format!("{id}@contoso.com"),
            id: id.into(),
            display_name: "=HYPERLINK(\"x\")".into(),
            user_type: "Member".into(),
            account_enabled: "true".into(),
            state: state.into(),
            methods: "mobilePhone;fido2".into(),
            default_method: "sms".into(),
            error: String::new(),
        }
    }

    #[test]
    fn a_journal_reads_back_its_rows_the_last_per_user_winning_and_a_cut_line_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv.partial");
        let mut j = ExportJournal::create(&path).unwrap();
        j.append(&[row("a", "disabled"), row("b", "enforced")])
            .unwrap();
        j.append(&[row("a", "enabled")]).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"c@contoso.com,c,half").unwrap();
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows["a"].state, "enabled");
        // A formula-looking name is neutralised in the file and restored on reading.
        assert_eq!(rows["b"].display_name, "=HYPERLINK(\"x\")");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert_eq!(rows["b"].method_count(), 2);
    }

    #[test]
    fn the_final_file_is_csv_or_a_workbook_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [row("a", "disabled"), row("b", "enforced")];
        let csv_path = dir.path().join("users.csv");
        write_final(&csv_path, rows.iter(), true).unwrap();
        let bytes = std::fs::read(&csv_path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFuser,id,displayName,userType,accountEnabled,perUserMfaState,methods,defaultMethod,action,error\n"));
        assert_eq!(read_rows(&csv_path).unwrap().len(), 2);
        let xlsx = dir.path().join("users.XLSX");
        write_final(&xlsx, rows.iter(), false).unwrap();
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
        let range = book.worksheet_range("users").unwrap();
        assert_eq!(range.get_size(), (3, 10));
        assert_eq!(range.get_value((2, 5)).unwrap().to_string(), "enforced");
        assert_eq!(
            range.get_value((1, 2)).unwrap().to_string(),
            "=HYPERLINK(\"x\")"
        );
        let sheet_xml = {
            let f = File::open(&xlsx).unwrap();
            let mut zip = zip::ZipArchive::new(f).unwrap();
            let mut s = String::new();
            std::io::Read::read_to_string(
                &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
                &mut s,
            )
            .unwrap();
            s
        };
        assert!(
            sheet_xml.contains("<autoFilter ref=\"A1:J3\""),
            "{sheet_xml}"
        );
        assert!(sheet_xml.contains("state=\"frozen\""), "{sheet_xml}");
    }
}
