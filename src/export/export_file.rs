//! The export file: one row per user with its per-user MFA state and methods, in the columns
//! the issue names (`user,id,displayName,userType,accountEnabled,perUserMfaState,methods,
//! defaultMethod,action`), then `error` (empty when every read of the user succeeded). The
//! `user` column holds the UPN, so the file with `action` filled in (or `--action`) is an input
//! for `plan` and `apply`. Written as CSV (cells a spreadsheet would run as a formula
//! neutralised), or as an XLSX workbook (header frozen, filter on) when the name ends `.xlsx`.
//!
//! While the export runs, what each user's reads found is appended to the journal
//! `FILE.partial` (CSV: `id,perUserMfaState,methods,defaultMethod,error`; the listed
//! properties are in `FILE.users` already, so they are not held or written twice), flushed
//! every batch, so `--resume` knows which users are done. The final file is written at the
//! end, in listing order, as a stream: the users file gives the order and the listed
//! properties, an index of the journal (id → where that user's last row starts) the reads;
//! one row is held at a time, so memory does not grow with the tenant.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::journal::{ResultRecord, Status, neutralize, restore_cell};
use crate::selection::ListedUser;

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

/// The journal's columns: the reads' results, keyed by object id. A journal an earlier
/// version wrote with every export column ([`EXPORT_HEADER`]) reads back too.
const JOURNAL_HEADER: [&str; 5] = ["id", "perUserMfaState", "methods", "defaultMethod", "error"];

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

/// What one user's reads found: a row of the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadResult {
    pub(crate) id: String,
    pub(crate) state: String,
    pub(crate) methods: String,
    pub(crate) default_method: String,
    /// Empty when the user was read; why not otherwise.
    pub(crate) error: String,
}

impl ReadResult {
    /// The result of an engine record for `export` (`Action::Export`): `user` is the object
    /// id, and the record's extra cells are the methods and the default method (the work
    /// items carry none of their own).
    pub(crate) fn from_record(r: &ResultRecord) -> ReadResult {
        let read = r.status == Status::Unchanged;
        let cell = |i: usize| {
            if read {
                r.extra.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let error = match r.status {
            Status::Unchanged => String::new(),
            Status::NotFound => format!("not found (deleted since it was listed?): {}", r.message),
            _ => match r.http_status {
                Some(s) => format!("{s} {}: {}", r.error_code, r.message),
                None => r.message.clone(),
            },
        };
        ReadResult {
            id: r.user.clone(),
            state: if read {
                r.before.clone()
            } else {
                String::new()
            },
            methods: cell(0),
            default_method: cell(1),
            error,
        }
    }

    fn cells(&self) -> [&str; 5] {
        [
            &self.id,
            &self.state,
            &self.methods,
            &self.default_method,
            &self.error,
        ]
    }
}

impl ExportRow {
    /// A user as listed, with what its reads found.
    pub(crate) fn new(listed: ListedUser, read: ReadResult) -> ExportRow {
        ExportRow {
            user: listed.upn,
            id: listed.id,
            display_name: listed.display_name,
            user_type: listed.user_type,
            account_enabled: listed.account_enabled,
            state: read.state,
            methods: read.methods,
            default_method: read.default_method,
            error: read.error,
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
        let c = |i: usize| cells.get(i).map(|s| restore_cell(s).to_string());
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

/// Writes one CSV record, each cell neutralised.
fn write_cells<W: Write>(w: &mut csv::Writer<W>, cells: &[&str]) -> csv::Result<()> {
    w.write_record(cells.iter().map(|c| neutralize(c)).map(|c| c.into_owned()))
}

/// The append-only journal of a running export.
pub(crate) struct ExportJournal {
    path: PathBuf,
    out: csv::Writer<File>,
    last_sync: std::time::Instant,
}

impl ExportJournal {
    /// A new journal (header only), replacing any.
    pub(crate) fn create(path: &Path) -> std::io::Result<ExportJournal> {
        let mut j = Self::writer(path, File::create(path)?);
        write_cells(&mut j.out, &JOURNAL_HEADER)?;
        j.out.flush()?;
        j.out.get_ref().sync_all()?;
        Ok(j)
    }

    /// Appends to an existing journal.
    pub(crate) fn open(path: &Path) -> std::io::Result<ExportJournal> {
        Ok(Self::writer(
            path,
            OpenOptions::new().append(true).open(path)?,
        ))
    }

    fn writer(path: &Path, file: File) -> ExportJournal {
        ExportJournal {
            path: path.to_path_buf(),
            out: csv::Writer::from_writer(file),
            last_sync: std::time::Instant::now(),
        }
    }

    pub(crate) fn append(&mut self, rows: &[ReadResult]) -> std::io::Result<()> {
        for row in rows {
            write_cells(&mut self.out, &row.cells())?;
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

/// Where the journal's cells are (its header says: this version's or an earlier one's).
#[derive(Clone, Copy, Debug)]
struct Columns {
    id: usize,
    state: usize,
    methods: usize,
    default_method: usize,
    error: usize,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Option<Columns> {
        let names: Vec<&str> = header.iter().collect();
        if names != JOURNAL_HEADER && names != EXPORT_HEADER {
            return None;
        }
        let at = |name: &str| names.iter().position(|n| *n == name);
        Some(Columns {
            id: at("id")?,
            state: at("perUserMfaState")?,
            methods: at("methods")?,
            default_method: at("defaultMethod")?,
            error: at("error")?,
        })
    }

    fn read(self, record: &csv::StringRecord) -> Option<ReadResult> {
        let c = |i: usize| record.get(i).map(|s| restore_cell(s).to_string());
        Some(ReadResult {
            id: c(self.id)?,
            state: c(self.state)?,
            methods: c(self.methods)?,
            default_method: c(self.default_method)?,
            error: c(self.error)?,
        })
    }
}

/// Where one user's last journal row starts, and whether that row says it was read.
#[derive(Clone, Debug)]
struct Entry {
    at: csv::Position,
    read: bool,
}

/// The journal's index: each user's last row (a user read again after a failure has a later
/// row, which wins). Holds positions, not rows.
pub(crate) struct JournalIndex {
    path: PathBuf,
    columns: Columns,
    entries: HashMap<String, Entry>,
}

/// The length of the journal's complete lines: a line cut off by a crash (the last, without
/// its newline) is not part of it, so that user is read again.
fn complete_len(file: &mut File) -> std::io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = file.seek(SeekFrom::End(0))?;
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        file.seek(SeekFrom::Start(start))?;
        chunk.clear();
        Read::take(&mut *file, end - start).read_to_end(&mut chunk)?;
        if let Some(at) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl JournalIndex {
    /// Reads the journal at `path` (or a finished CSV export) through once.
    pub(crate) fn read(path: &Path) -> Result<JournalIndex, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", path.display());
        let mut file = File::open(path).map_err(|e| cannot(&e))?;
        let len = complete_len(&mut file).map_err(|e| cannot(&e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| cannot(&e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(file.take(len));
        let header = reader
            .headers()
            .map_err(|e| format!("{}: unreadable header: {e}", path.display()))?;
        let columns = Columns::of(header).ok_or_else(|| {
            format!(
                "{} is not an export journal (its header is not {})",
                path.display(),
                JOURNAL_HEADER.join(",")
            )
        })?;
        let mut entries = HashMap::new();
        let mut record = csv::StringRecord::new();
        loop {
            let at = reader.position().clone();
            let line = at.line();
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(format!("{}: line {line}: {e}", path.display())),
            }
            let row = columns
                .read(&record)
                .ok_or_else(|| format!("{}: line {line} has too few columns", path.display()))?;
            let read = row.error.is_empty();
            entries.insert(row.id, Entry { at, read });
        }
        Ok(JournalIndex {
            path: path.to_path_buf(),
            columns,
            entries,
        })
    }

    /// Whether the user's last row says it was read (a failed read is done again).
    #[must_use]
    pub(crate) fn is_read(&self, id: &str) -> bool {
        self.entries.get(id).is_some_and(|e| e.read)
    }

    /// A reader of the rows this index points at.
    pub(crate) fn rows(&self) -> Result<JournalRows<'_>, String> {
        let file = File::open(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            // A small buffer: a seek drops what the buffer held.
            .buffer_capacity(4096)
            .from_reader(file);
        reader
            .headers()
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        Ok(JournalRows {
            index: self,
            reader,
            record: csv::StringRecord::new(),
        })
    }
}

/// Reads rows by user from the journal: in place when the next one wanted is the next in the
/// file (the journal is nearly in listing order: users start in that order), by a seek
/// otherwise.
pub(crate) struct JournalRows<'a> {
    index: &'a JournalIndex,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
}

impl JournalRows<'_> {
    /// The user's last row; `None` when the journal has none.
    pub(crate) fn of(&mut self, id: &str) -> Result<Option<ReadResult>, String> {
        let Some(entry) = self.index.entries.get(id) else {
            return Ok(None);
        };
        let path = &self.index.path;
        let line = entry.at.line();
        let err = |e: csv::Error| format!("{}: line {line}: {e}", path.display());
        self.reader.seek(entry.at.clone()).map_err(err)?;
        if !self.reader.read_record(&mut self.record).map_err(err)? {
            return Err(format!("{}: line {line} is gone", path.display()));
        }
        match self.index.columns.read(&self.record) {
            Some(row) if row.id == id => Ok(Some(row)),
            _ => Err(format!(
                "{}: line {line} changed while the export ran",
                path.display()
            )),
        }
    }
}

/// Reads a finished CSV export back, in file order.
pub(crate) fn read_finished(path: &Path) -> Result<Vec<ExportRow>, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = std::io::BufReader::new(File::open(path).map_err(cannot)?);
    // `--excel` wrote a byte-order mark before the header.
    let mut bom = [0u8; 3];
    let n = file.read(&mut bom).map_err(cannot)?;
    if bom[..n] != *b"\xEF\xBB\xBF" {
        file.seek(SeekFrom::Start(0)).map_err(cannot)?;
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file);
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 2))?;
        rows.push(
            ExportRow::from_cells(&record)
                .ok_or_else(|| format!("{}: line {} has too few columns", path.display(), n + 2))?,
        );
    }
    Ok(rows)
}

/// Whether `path` names a workbook (`.xlsx`, any case).
pub(crate) fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// The finished export being written, a row at a time, to a temp file beside `out` that
/// [`FinalFile::finish`] renames over it (dropped unfinished, it leaves nothing): CSV (with a
/// UTF-8 byte-order mark when `excel`), or a workbook for `.xlsx`, its sheet in constant
/// memory mode (each row goes to disk as the next starts).
pub(crate) struct FinalFile {
    out: PathBuf,
    tmp: tempfile::NamedTempFile,
    sheet: Sheet,
    rows: u32,
    /// The fixed columns and the extra ones.
    columns: usize,
}

enum Sheet {
    Csv(Box<csv::Writer<File>>),
    Xlsx(Box<rust_xlsxwriter::Workbook>),
}

impl FinalFile {
    /// A file of [`EXPORT_HEADER`]'s columns, then `extra`'s (a many-tenant export's
    /// `tenant`), each row's given to [`FinalFile::push`].
    pub(crate) fn create(out: &Path, excel: bool, extra: &[&str]) -> Result<FinalFile, String> {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| format!("cannot write a temporary file in {}: {e}", dir.display()))?;
        let cannot = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", out.display());
        let sheet = if is_xlsx(out) {
            use rust_xlsxwriter::{Format, Workbook};
            let mut book = Workbook::new();
            // The sheet's rows wait beside the output, not in a temp directory that may be
            // memory.
            book.set_tempdir(dir).map_err(|e| cannot(&e))?;
            let sheet = book.add_worksheet_with_constant_memory();
            sheet.set_name("users").map_err(|e| cannot(&e))?;
            sheet.set_freeze_panes(1, 0).map_err(|e| cannot(&e))?;
            let bold = Format::new().set_bold();
            for (c, name) in EXPORT_HEADER.iter().chain(extra).enumerate() {
                sheet
                    .write_string_with_format(0, c as u16, *name, &bold)
                    .map_err(|e| cannot(&e))?;
            }
            Sheet::Xlsx(Box::new(book))
        } else {
            let mut file = tmp.as_file().try_clone().map_err(|e| cannot(&e))?;
            if excel {
                file.write_all(b"\xEF\xBB\xBF").map_err(|e| cannot(&e))?;
            }
            let mut w = csv::WriterBuilder::new()
                .buffer_capacity(1 << 16)
                .from_writer(file);
            let header: Vec<&str> = EXPORT_HEADER.iter().chain(extra).copied().collect();
            write_cells(&mut w, &header).map_err(|e| cannot(&e))?;
            Sheet::Csv(Box::new(w))
        };
        Ok(FinalFile {
            out: out.to_path_buf(),
            tmp,
            sheet,
            rows: 0,
            columns: EXPORT_HEADER.len() + extra.len(),
        })
    }

    /// Writes `row`, then its `extra` cells (as many as the extra columns).
    pub(crate) fn push(&mut self, row: &ExportRow, extra: &[&str]) -> Result<(), String> {
        let out = &self.out;
        let cannot = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", out.display());
        self.rows += 1;
        let fixed = row.cells();
        let mut cells: Vec<&str> = Vec::with_capacity(self.columns);
        cells.extend(fixed);
        cells.extend(extra);
        match &mut self.sheet {
            Sheet::Csv(w) => write_cells(w, &cells).map_err(|e| cannot(&e)),
            Sheet::Xlsx(book) => {
                let sheet = book.worksheet_from_index(0).map_err(|e| cannot(&e))?;
                for (c, cell) in cells.iter().enumerate() {
                    // Strings, never formulas or numbers: a cell reads back exactly as
                    // exported.
                    if !cell.is_empty() {
                        sheet
                            .write_string(self.rows, c as u16, *cell)
                            .map_err(|e| cannot(&e))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Makes the file durable and puts it in place.
    pub(crate) fn finish(self) -> Result<(), String> {
        let out = &self.out;
        let cannot = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", out.display());
        match self.sheet {
            Sheet::Csv(w) => {
                let file = w.into_inner().map_err(|e| cannot(e.error()))?;
                file.sync_all().map_err(|e| cannot(&e))?;
            }
            Sheet::Xlsx(mut book) => {
                let sheet = book.worksheet_from_index(0).map_err(|e| cannot(&e))?;
                sheet
                    .autofilter(0, 0, self.rows, self.columns as u16 - 1)
                    .map_err(|e| cannot(&e))?;
                book.save(self.tmp.path()).map_err(|e| cannot(&e))?;
                self.tmp.as_file().sync_all().map_err(|e| cannot(&e))?;
            }
        }
        self.tmp
            .persist(out)
            .map_err(|e| format!("cannot replace {}: {}", out.display(), e.error))?;
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn read(id: &str, state: &str) -> ReadResult {
        ReadResult {
            id: id.into(),
            state: state.into(),
            methods: "mobilePhone;fido2".into(),
            default_method: "=sms".into(),
            error: String::new(),
        }
    }

    fn row(id: &str, state: &str) -> ExportRow {
        ExportRow::new(
            ListedUser {
                id: id.into(),
                upn: format!("{id}@contoso.com"),
                display_name: "=HYPERLINK(\"x\")".into(),
                user_type: "Member".into(),
                account_enabled: "true".into(),
            },
            read(id, state),
        )
    }

    #[test]
    fn a_journal_reads_back_each_users_last_row_and_drops_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv.partial");
        let mut j = ExportJournal::create(&path).unwrap();
        let failed = ReadResult {
            error: "503 ServiceUnavailable: try later".into(),
            ..read("a", "")
        };
        j.append(&[failed, read("b", "enforced")]).unwrap();
        j.append(&[read("a", "enabled")]).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"c,disabled,hal").unwrap();
        drop(f);
        let index = JournalIndex::read(&path).unwrap();
        assert!(index.is_read("a") && index.is_read("b") && !index.is_read("c"));
        let mut rows = index.rows().unwrap();
        // Out of file order (a seek back), then in it.
        assert_eq!(rows.of("b").unwrap().unwrap(), read("b", "enforced"));
        assert_eq!(rows.of("a").unwrap().unwrap(), read("a", "enabled"));
        assert_eq!(rows.of("c").unwrap(), None);
        // A formula-looking cell is neutralised in the file and restored on reading.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("id,perUserMfaState,methods,defaultMethod,error\n"));
        assert!(text.contains(",'=sms,"), "{text}");
    }

    #[test]
    fn a_journal_an_earlier_version_wrote_with_every_column_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.csv.partial");
        std::fs::write(
            &path,
            "user,id,displayName,userType,accountEnabled,perUserMfaState,methods,defaultMethod,action,error\n\
             a@contoso.com,a,A,Member,true,enforced,fido2,,,\n\
             b@contoso.com,b,B,Member,true,,,,,403 Authorization_RequestDenied: no\n",
        )
        .unwrap();
        let index = JournalIndex::read(&path).unwrap();
        assert!(index.is_read("a") && !index.is_read("b"));
        let a = index.rows().unwrap().of("a").unwrap().unwrap();
        assert_eq!(
            (a.state.as_str(), a.methods.as_str()),
            ("enforced", "fido2")
        );
        std::fs::write(&path, "id,state\na,enforced\n").unwrap();
        let err = JournalIndex::read(&path).err().unwrap();
        assert!(err.contains("is not an export journal"), "{err}");
    }

    #[test]
    fn the_final_file_is_csv_or_a_workbook_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [row("a", "disabled"), row("b", "enforced")];
        let csv_path = dir.path().join("users.csv");
        let mut f = FinalFile::create(&csv_path, true, &[]).unwrap();
        for r in &rows {
            f.push(r, &[]).unwrap();
        }
        assert!(!csv_path.exists(), "only the temp file until finished");
        f.finish().unwrap();
        let bytes = std::fs::read(&csv_path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFuser,id,displayName,userType,accountEnabled,perUserMfaState,methods,defaultMethod,action,error\n"));
        assert_eq!(read_finished(&csv_path).unwrap(), rows);
        let xlsx = dir.path().join("users.XLSX");
        let mut f = FinalFile::create(&xlsx, false, &[]).unwrap();
        for r in &rows {
            f.push(r, &[]).unwrap();
        }
        f.finish().unwrap();
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

    #[test]
    fn a_final_file_dropped_unfinished_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("users.csv");
        let mut f = FinalFile::create(&out, false, &[]).unwrap();
        f.push(&row("a", "disabled"), &[]).unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
