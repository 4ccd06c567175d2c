//! Reading the input spreadsheet (CSV or an `.xlsx` workbook) into jobs, offline, before
//! anything is sent: dialect detection (BOM, `,`/`;`/tab, CRLF), header mapping with aliases
//! and column letters, passthrough columns, per-row validation with the row numbers the
//! spreadsheet shows, duplicate and conflict detection. Large files are validated with rayon.
//! A workbook's cells are turned into text and go through the same checks as CSV cells.
//!
//! # Layout
//! - `file_kind`: the files that are neither CSV nor `.xlsx` (`.ods`, `.xlsb`, `.xls`, HTML),
//!   named with how to save them.
//! - `char_name`: characters named by code point and name in messages.
//! - `dialect`: encoding (UTF-8, BOM, UTF-16), binary detection, `sep=` line, delimiter.
//! - `rows`: records with spreadsheet row numbers (the numbering rule is documented there).
//! - `workbook`: `.xlsx` files: the sheet, cells as the text Excel shows.
//! - `number_format`: the cells' number formats (`00000`, `dd/mm/yyyy`), applied.
//! - `header`: which row is the header; which column is the user, the action, the kept ones.
//! - `user_key`: the shape of a UPN or object id (public helpers for other modules).
//! - `validate`: one row → a job or a problem, by chunks, in parallel.
//! - `duplicates`: the same user on several rows (the rule is documented there).
//! - `cell_text`: cleaning cells and quoting them in one-line messages.
//! - `tenant_key`: a tenant cell (id or verified domain); `tenant_list`: the `--tenants`
//!   file of a selection over many tenants.

mod cell_text;
mod char_name;
mod dialect;
mod duplicates;
mod file_kind;
mod header;
mod hidden_rows;
mod number_format;
mod rows;
mod tenant_key;
mod tenant_list;
mod user_key;
mod validate;
mod workbook;

#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod workbook_tests;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::action::Action;
use crate::figures::{count, plural, row_list, thousands};

pub(crate) use cell_text::shown;
pub(crate) use header::UserKind;
pub use tenant_key::TENANT_COLUMN;
pub(crate) use tenant_key::check_tenant;
pub(crate) use tenant_list::load_tenants;
pub(crate) use user_key::{check_user, is_object_id, same_user, user_chars};

use header::Columns;
use rows::Rows;
use validate::{CHUNK_ROWS, Checked, Chunk, Context};
use workbook::{SheetCell, Value};

/// What the user asked for on the command line about the input (already validated flags).
#[derive(Clone, Debug, Default)]
pub struct InputOptions {
    /// `--action`: one action (or `+` combo) applied to every row; the action column is then
    /// not required (and ignored if present).
    pub action: Option<Vec<Action>>,
    /// `--user-column NAME`: header text or column letter (`C`, `AA`), case-insensitive, of
    /// the user column; a letter counts only when no header has that text.
    pub user_column: Option<String>,
    /// `--action-column NAME`: header text or column letter, as `user_column`.
    pub action_column: Option<String>,
    /// `--sheet NAME`: the worksheet of an `.xlsx` workbook to read (default: the first
    /// visible worksheet). An error for a CSV file.
    pub sheet: Option<String>,
    /// `--keep-columns "Employee ID,Ticket"`: columns (header text or letter, as
    /// `user_column`) whose cells every [`Job`] and [`RowProblem`] carries along, in this
    /// order, for the results file. Each must exist.
    pub keep_columns: Vec<String>,
    /// `--skip-invalid`: record bad rows as `invalid` instead of stopping.
    pub skip_invalid: bool,
    /// `--hidden-rows`: what to do with the data rows a workbook's sheet hides.
    pub hidden_rows: HiddenRows,
    /// `--no-header`: the file has no header row; every non-empty row is data and columns
    /// are named by letter (the user column is A unless `user_column` names another).
    pub no_header: bool,
    /// The file is a list of users (`--exclude FILE`): only the user column is read; an
    /// action column there is not looked for (its cells are not the run's actions).
    pub user_list: bool,
}

/// What to do with data rows a workbook's sheet hides (a filter left them out, or they were
/// hidden by hand). Whoever filtered the sheet may have meant "only these users", or not: the
/// tool does not guess, and by default refuses such a sheet until told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HiddenRows {
    /// Stop and name the hidden rows (exit 2).
    #[default]
    Refuse,
    /// Read them like the visible ones, as a CSV export of the sheet would.
    Include,
    /// Leave them out; a warning says how many.
    Skip,
}

/// One valid input row: a user and the actions to run for it, in execution order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Spreadsheet row number, as Excel shows it (header normally 1, first data row 2; lower
    /// when title rows sit above the header): in a CSV a multi-line quoted cell is one row and
    /// a blank line is a row (see `rows.rs`); in a workbook it is the sheet's row number.
    pub row: u64,
    /// The user key as written (trimmed): a UPN or an object id (GUID).
    pub user: String,
    pub actions: Vec<Action>,
    /// Set when an earlier row names the same user with the same actions: this row is not run
    /// again and is recorded `skipped` with "same as row N".
    pub duplicate_of: Option<u64>,
    /// The `--keep-columns` cells of this row (trimmed), in the order the columns were given;
    /// empty without that flag.
    pub keep: Vec<String>,
}

/// One problem found in the input, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub row: u64,
    /// The header text of the column at fault, when there is one.
    pub column: Option<String>,
    /// The user cell as written (may be empty), so `--skip-invalid` can record it.
    pub user: String,
    /// The action cell as written (may be empty).
    pub action: String,
    pub message: String,
    /// The `--keep-columns` cells of this row, as [`Job::keep`].
    pub keep: Vec<String>,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(
                f,
                "row {}, column '{}': {}",
                self.row,
                cell_text::shown(c),
                self.message
            ),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// The whole input, validated.
#[derive(Clone, Debug, Default)]
pub struct LoadedInput {
    /// Valid rows in input order (duplicates included, marked).
    pub jobs: Vec<Job>,
    /// Rows refused; non-empty only with `skip_invalid` (otherwise `load` fails).
    pub invalid: Vec<RowProblem>,
    /// Non-fatal remarks (e.g. a duplicate row), one line each, with row numbers.
    pub warnings: Vec<String>,
    /// The header cells as found, for messages.
    pub headers: Vec<String>,
    /// How messages name the user column (its header text, or its letter).
    pub user_column: String,
    /// What the user column holds: keys sent as they are, or mail addresses to look up.
    pub user_kind: UserKind,
    /// The `--keep-columns` headers as written in the file (trimmed; a column letter where
    /// the header cell is empty), in the order given: the extra columns of the results file.
    /// With a tenant column, `tenant` comes first (see `tenant_column`).
    pub keep_headers: Vec<String>,
    /// How messages name the tenant column, when the file has one (`tenant`, `tenant id`,
    /// `tenant domain`, …). Each row's tenant (normalized, empty where the cell was) is then
    /// the first of its passthrough cells ([`Job::tenant`]).
    pub tenant_column: Option<String>,
}

impl Job {
    /// The row's tenant key (a lowercased GUID or domain; empty: the run's `--tenant-id`),
    /// when the input has a tenant column.
    #[must_use]
    pub fn tenant<'a>(&'a self, input: &LoadedInput) -> Option<&'a str> {
        input
            .tenant_column
            .as_ref()
            .and_then(|_| self.keep.first().map(String::as_str))
    }
}

/// Why the input could not be used. Every variant's message is one line (except `Problems`,
/// whose `Display` is one line per problem, capped) and names the file, row or column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}", format_problems(.0))]
    Problems(Vec<RowProblem>),
}

/// At most this many problems are printed; the count of the rest follows.
pub(crate) const MAX_PRINTED_PROBLEMS: usize = 50;

fn format_problems(problems: &[RowProblem]) -> String {
    let mut out = String::new();
    for p in problems.iter().take(MAX_PRINTED_PROBLEMS) {
        out.push_str(&p.to_string());
        out.push('\n');
    }
    if problems.len() > MAX_PRINTED_PROBLEMS {
        let more = (problems.len() - MAX_PRINTED_PROBLEMS) as u64;
        out.push_str(&format!(
            "... and {} more {}\n",
            thousands(more),
            plural(more, "problem", "problems")
        ));
    }
    out.push_str(&format!(
        "{}; nothing was sent (fix them, or pass --skip-invalid to record them as 'invalid' and go on)",
        count(problems.len() as u64, "invalid row", "invalid rows")
    ));
    out
}

/// Reads and validates the input file (rows validated in parallel).
pub fn load(path: &Path, options: &InputOptions) -> Result<LoadedInput, InputError> {
    load_with(path, options, true)
}

/// [`load`], choosing whether rows are validated in parallel with rayon (`false`: all on the
/// calling thread, for comparison in benchmarks).
pub fn load_with(
    path: &Path,
    options: &InputOptions,
    parallel: bool,
) -> Result<LoadedInput, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    load_bytes(path, bytes, options, parallel)
}

/// [`load_with`] on the file's content already in memory; `path` only names it in messages.
pub(crate) fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    options: &InputOptions,
    parallel: bool,
) -> Result<LoadedInput, InputError> {
    read(path, bytes, options, parallel).map_err(|failure| match failure {
        Failure::Format(message) => InputError::Format {
            path: path.to_path_buf(),
            message,
        },
        Failure::Problems(problems) => InputError::Problems(problems),
    })
}

enum Failure {
    Format(String),
    Problems(Vec<RowProblem>),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Format(message)
    }
}

fn read(
    path: &Path,
    bytes: Vec<u8>,
    options: &InputOptions,
    parallel: bool,
) -> Result<LoadedInput, Failure> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if let Some(message) = file_kind::unreadable_kind(&bytes) {
        return Err(Failure::Format(message));
    }
    if workbook::is_zip(&bytes) || matches!(extension.as_str(), "xlsx" | "xlsm") {
        let parsed = parse_workbook(bytes, options, parallel)?;
        return finish(parsed, options);
    }
    if workbook::is_ole2(&bytes) || extension == "xls" {
        return Err(Failure::Format(workbook::OLD_WORKBOOK.into()));
    }
    if options.sheet.is_some() {
        return Err(Failure::Format(
            "--sheet applies to .xlsx workbooks only, and this file is CSV text".into(),
        ));
    }
    let decoded = dialect::decode(bytes)?;
    let parsed = parse(&decoded, options, parallel)?;
    // The file's bytes are not needed past this point; give the memory back before the
    // duplicate pass builds its map.
    drop(decoded);
    finish(parsed, options)
}

/// The rows checked one by one, before duplicates are looked for.
struct Parsed {
    headers: Vec<String>,
    user_column: String,
    user_kind: UserKind,
    /// Remarks made while reading (title rows skipped), before the duplicate pass's.
    warnings: Vec<String>,
    keep_headers: Vec<String>,
    action_column: Option<String>,
    tenant_column: Option<String>,
    jobs: Vec<Job>,
    problems: Vec<RowProblem>,
}

fn parse(
    decoded: &dialect::Decoded,
    options: &InputOptions,
    parallel: bool,
) -> Result<Parsed, Failure> {
    let whole = decoded.text();
    let (skipped, delimiter) = match dialect::sep_line(whole) {
        Some((delimiter, len)) => (len, delimiter),
        None => (0, dialect::sniff_delimiter(whole, options)),
    };
    let text = whole.get(skipped..).unwrap_or_default();
    let row_at = |offset: usize| rows::row_at(text, delimiter, 1, offset);

    if let Some(at) = decoded.bad_utf16_at {
        return Err(Failure::Format(format!(
            "row {}: the UTF-16 text has an invalid character (an unpaired surrogate); save the file as \"CSV UTF-8\"",
            row_at(at.saturating_sub(skipped))
        )));
    }
    std::str::from_utf8(text).map_err(|e| {
        let at = e.valid_up_to();
        let byte = text.get(at).copied().unwrap_or_default();
        format!(
            "row {}: the text is not valid UTF-8 (byte 0x{byte:02X} at byte {}); the file is probably in a legacy encoding such as Windows-1252 (Excel's plain \"CSV\"): save it as \"CSV UTF-8\"",
            row_at(at),
            decoded.start + skipped + at
        )
    })?;
    // A U+FEFF past the start (two files joined, a cell pasted from elsewhere) is not the
    // whole file's fault: the cell holding it is checked like any other (see user_key).
    read_records(text, delimiter, options, parallel)
}

fn read_records(
    text: &[u8],
    delimiter: u8,
    options: &InputOptions,
    parallel: bool,
) -> Result<Parsed, Failure> {
    // The header is looked for among the first non-blank records, under any title rows.
    let mut rows = Rows::new(text, delimiter, 1);
    let mut candidates = Vec::new();
    while candidates.len() < header::HEADER_SEARCH_ROWS {
        match rows.advance()? {
            None => break,
            Some(_) if rows.is_blank() => {}
            Some(row) => candidates.push((row, rows.cells_lossy())),
        }
    }
    if candidates.is_empty() {
        return Err(Failure::Format(
            "the file has no header row: every line is blank".into(),
        ));
    }
    let cells: Vec<Vec<String>> = candidates.iter().map(|(_, c)| c.clone()).collect();
    let (at, columns) = match header::locate(&cells, options) {
        Ok(found) => found,
        Err((at, message)) => {
            // A stray quote in the header swallows the file; say that rather than "no column".
            if let Some((_, last)) = candidates.last() {
                unclosed_quote(text, &rows, delimiter, last)?;
            }
            let row = candidates.get(at).map_or(1, |(row, _)| *row);
            return Err(Failure::Format(format!("row {row}: {message}")));
        }
    };
    let row_numbers: Vec<u64> = candidates.iter().map(|(row, _)| *row).collect();
    let (headers, data_from, titles) = header_and_data(cells, &row_numbers, at, &columns, options);
    if data_from != candidates.len() {
        // The search read past the header (or the first data row): read again up to it.
        rows = Rows::new(text, delimiter, 1);
        let mut seen = 0;
        while seen < data_from {
            match rows.advance()? {
                None => break,
                Some(_) if rows.is_blank() => {}
                Some(_) => seen += 1,
            }
        }
    }
    let ctx = context(&columns, options);
    let (data_rows, checked) = check_chunks(&ctx, parallel, |sink| {
        read_chunks(&mut rows, &columns, sink)
    })?;
    let mut warnings = titles;
    warnings.extend(trimmed_warning(&checked.trimmed));
    unclosed_quote(text, &rows, delimiter, &headers)?;
    if data_rows == 0 {
        return Err(Failure::Format(
            "no data rows: nothing below the header but blank lines".into(),
        ));
    }
    Ok(Parsed {
        headers,
        user_column: columns.user_name,
        user_kind: columns.user_kind,
        warnings,
        keep_headers: columns.keep_headers,
        action_column: ctx.action_column,
        tenant_column: ctx.tenant_column,
        jobs: checked.jobs,
        problems: checked.problems,
    })
}

/// From the located header (`at`, in the first non-empty rows `cells`, whose row numbers are
/// `rows`): the header cells (column letters when there is no header row), where the data
/// starts among those rows, and the remarks to make (titles skipped; a header row that was
/// data).
fn header_and_data(
    cells: Vec<Vec<String>>,
    rows: &[u64],
    at: usize,
    columns: &Columns,
    options: &InputOptions,
) -> (Vec<String>, usize, Vec<String>) {
    if !columns.headerless {
        let titles = titles_skipped(rows.iter().copied(), at);
        return (
            cells.into_iter().nth(at).unwrap_or_default(),
            at + 1,
            titles,
        );
    }
    let width = cells.iter().map(Vec::len).max().unwrap_or(0);
    let letters = (0..width).map(header::column_letter).collect();
    let mut remarks = Vec::new();
    let first = rows.get(at).copied().unwrap_or(1);
    if at > 0 {
        let above: Vec<u64> = rows.iter().take(at).copied().collect();
        let s = if above.len() == 1 { "" } else { "s" };
        remarks.push(format!(
            "{}: above the first data row (row {first}), read as title{s} and skipped",
            row_list(&above)
        ));
    }
    if !options.no_header {
        let user = cells
            .get(at)
            .and_then(|c| c.get(columns.user))
            .map_or("", |c| c.trim());
        remarks.push(format!(
            "row {first}: column {} holds '{}', a user, not a header: the file is read as having no header row, this row included (pass --no-header to say so)",
            header::column_letter(columns.user),
            cell_text::shown(user)
        ));
    }
    (letters, at, remarks)
}

/// The warning that the non-empty rows above the header (the first `at` of `rows`) were
/// skipped as titles, if there were any.
fn titles_skipped(rows: impl Iterator<Item = u64>, at: usize) -> Vec<String> {
    let mut rows = rows.take(at + 1).collect::<Vec<_>>();
    let Some(header) = rows.pop() else {
        return Vec::new();
    };
    if rows.is_empty() {
        return Vec::new();
    }
    let list = rows
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let s = if rows.len() == 1 { "" } else { "s" };
    vec![format!(
        "row{s} {list}: above the header (row {header}), read as title{s} and skipped"
    )]
}

fn context<'a>(columns: &Columns, options: &'a InputOptions) -> Context<'a> {
    Context {
        user_column: columns.user_name.clone(),
        user_header: columns.user_header.clone(),
        mail: columns.user_kind == UserKind::Mail,
        action_column: columns.action.as_ref().map(|(_, name)| name.clone()),
        fixed_actions: options.action.as_deref(),
        tenant_column: columns.tenant.clone(),
    }
}

/// Checks the chunks that `feed` hands to its sink, in order: in parallel with rayon (the
/// feed going on meanwhile), or all on this thread. Returns what `feed` returned and the
/// outcome (jobs, problems, trimmed rows), each in row order.
fn check_chunks<T: Send>(
    ctx: &Context<'_>,
    parallel: bool,
    feed: impl FnOnce(&mut dyn FnMut(Chunk)) -> Result<T, String> + Send,
) -> Result<(T, Checked), String> {
    let results: Mutex<Vec<(usize, Checked)>> = Mutex::new(Vec::new());
    let store = |index: usize, checked: Checked| {
        results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, checked));
    };
    let mut next_index = 0usize;
    let fed = if parallel {
        // Chunks waiting for a thread hold a copy of their cells; when the reader is ahead by
        // more than two chunks a thread, it checks the chunk itself instead of queueing it.
        let in_flight = AtomicUsize::new(0);
        let limit = 2 * rayon::current_num_threads();
        rayon::scope(|scope| {
            feed(&mut |chunk| {
                let index = next_index;
                next_index += 1;
                if in_flight.load(Ordering::Acquire) >= limit {
                    store(index, validate::check_chunk(&chunk, ctx));
                    return;
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let (store, in_flight) = (&store, &in_flight);
                scope.spawn(move |_| {
                    store(index, validate::check_chunk(&chunk, ctx));
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            })
        })
    } else {
        feed(&mut |chunk| {
            store(next_index, validate::check_chunk(&chunk, ctx));
            next_index += 1;
        })
    }?;
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(index, _)| *index);
    let rows: usize = results.iter().map(|(_, c)| c.jobs.len()).sum();
    let mut all = Checked {
        jobs: Vec::with_capacity(rows),
        ..Checked::default()
    };
    for (_, checked) in results {
        all.jobs.extend(checked.jobs);
        all.problems.extend(checked.problems);
        all.trimmed.extend(checked.trimmed);
    }
    Ok((fed, all))
}

/// The warning that user cells lost invisible characters at their ends, naming the rows.
fn trimmed_warning(trimmed: &[(u64, char)]) -> Option<String> {
    let (_, first) = trimmed.first()?;
    let rows: Vec<u64> = trimmed.iter().map(|(row, _)| *row).collect();
    Some(format!(
        "{}: invisible characters (such as {}) at the start or end of the user cell were removed",
        row_list(&rows),
        char_name::describe(*first)
    ))
}

fn finish(parsed: Parsed, options: &InputOptions) -> Result<LoadedInput, Failure> {
    let Parsed {
        headers,
        user_column,
        user_kind,
        warnings: remarks,
        keep_headers,
        action_column,
        tenant_column,
        jobs,
        mut problems,
    } = parsed;
    let mut warnings = remarks;
    // `--action` over a file whose action column names actions: the whole file is refused
    // (not just its rows, and whatever --skip-invalid says), since every row would otherwise
    // silently get the flag's action. An empty column (an export's) takes --action.
    if let (Some(fixed), Some(column)) = (&options.action, &action_column) {
        let rows: Vec<u64> = problems
            .iter()
            .filter(|p| p.message.contains(validate::OVERRIDES_OWN_ACTION))
            .map(|p| p.row)
            .collect();
        if !rows.is_empty() {
            let letter = headers
                .iter()
                .position(|h| h.trim() == column.as_str())
                .map(|i| format!(" (column {})", header::column_letter(i)))
                .unwrap_or_default();
            let combo = crate::action::combo_string(fixed);
            return Err(Failure::Format(format!(
                "--action {combo} would override the file's own action column '{column}'{letter}: drop --action to use the column, or empty the column (it holds actions on {}) to give every row {combo}",
                crate::figures::row_list(&rows)
            )));
        }
    }
    let jobs = duplicates::resolve(
        jobs,
        action_column.as_deref(),
        tenant_column.is_some(),
        &mut problems,
        &mut warnings,
    );
    problems.sort_by_key(|p| p.row);
    if !problems.is_empty() && !options.skip_invalid {
        return Err(Failure::Problems(problems));
    }
    Ok(LoadedInput {
        jobs,
        invalid: problems,
        warnings,
        headers,
        user_column,
        user_kind,
        keep_headers,
        tenant_column,
    })
}

/// Reads the data rows into chunks, handing each full chunk (and the last) to `sink`, and
/// returns how many data rows there were. Blank rows are skipped (their row numbers stay
/// used).
fn read_chunks(
    rows: &mut Rows<'_>,
    columns: &Columns,
    sink: &mut dyn FnMut(Chunk),
) -> Result<u64, String> {
    let mut chunk = Chunk::with_capacity(CHUNK_ROWS);
    let mut data_rows = 0u64;
    while let Some(row) = rows.advance()? {
        if rows.is_blank() {
            continue;
        }
        data_rows += 1;
        let action = columns
            .action
            .as_ref()
            .map_or(&b""[..], |(i, _)| rows.cell(*i));
        let keep = columns.keep.iter().map(|i| rows.cell(*i));
        chunk.push(row, rows.cell(columns.user), action, keep);
        if chunk.len() >= CHUNK_ROWS {
            sink(std::mem::replace(
                &mut chunk,
                Chunk::with_capacity(CHUNK_ROWS),
            ));
        }
    }
    if chunk.len() > 0 {
        sink(chunk);
    }
    Ok(data_rows)
}

/// Fails when the record last read ends inside a quoted cell: the quote was never closed and
/// the rest of the file became that one cell.
fn unclosed_quote(
    text: &[u8],
    rows: &Rows<'_>,
    delimiter: u8,
    headers: &[String],
) -> Result<(), String> {
    let raw = text.get(rows.span()).unwrap_or_default();
    match rows::unclosed_quote_cell(raw, delimiter) {
        None => Ok(()),
        Some(cell) => {
            let column = headers
                .get(cell)
                .map(|h| format!(", column '{}'", cell_text::shown(h)))
                .unwrap_or_default();
            Err(format!(
                "row {}{column}: a quote opened in this cell is never closed, so the rest of the file was read as one cell; close the quote or remove it",
                rows.row()
            ))
        }
    }
}

/// Reads a workbook's sheet: the header row found under any title rows, then its data rows
/// through the same checks as CSV rows. Row numbers are the sheet's.
fn parse_workbook(
    bytes: Vec<u8>,
    options: &InputOptions,
    parallel: bool,
) -> Result<Parsed, Failure> {
    let sheet = workbook::read(&bytes, options.sheet.as_deref())?;
    let in_sheet =
        |message: String| format!("sheet '{}': {message}", cell_text::shown(&sheet.name));
    let rows = sheet_rows(&sheet.cells);
    let candidates = sheet_candidates(&sheet.cells, &rows);
    let located = if candidates.is_empty() {
        Err((0, "the sheet is empty".to_string()))
    } else {
        header::locate(&candidates, options)
    };
    let (at, columns) = located.map_err(|(at, message)| {
        let place = match rows.get(at) {
            Some((row, _)) => format!("sheet '{}', row {row}", cell_text::shown(&sheet.name)),
            None => format!("sheet '{}'", cell_text::shown(&sheet.name)),
        };
        // A cover or instructions sheet first: say which sheets have a user column.
        let others = match options.sheet {
            None => other_sheets(&bytes, &sheet.name, options),
            Some(_) => String::new(),
        };
        format!("{place}: {message}{others}")
    })?;
    // The workbook's bytes are not needed past this point.
    drop(bytes);
    let row_numbers: Vec<u64> = rows.iter().map(|(row, _)| *row).collect();
    let (headers, data_from, mut warnings) =
        header_and_data(candidates, &row_numbers, at, &columns, options);
    let mut data = rows.get(data_from..).unwrap_or_default().to_vec();
    if let Some(warning) = hidden_data_rows(&sheet, &mut data, options.hidden_rows)? {
        warnings.push(warning);
    }
    if data.is_empty() {
        let header_row = rows.get(at).map_or(0, |(row, _)| *row);
        return Err(Failure::Format(in_sheet(format!(
            "no data rows: nothing below the header (row {header_row}) but empty rows"
        ))));
    }
    let ctx = context(&columns, options);
    let (error_cells, checked) = check_chunks(&ctx, parallel, |sink| {
        Ok(sheet_chunks(&sheet.cells, &data, &columns, &ctx, sink))
    })?;
    warnings.extend(trimmed_warning(&checked.trimmed));
    let mut problems = checked.problems;
    problems.extend(error_cells);
    Ok(Parsed {
        headers,
        user_column: columns.user_name,
        user_kind: columns.user_kind,
        warnings,
        keep_headers: columns.keep_headers,
        action_column: ctx.action_column,
        tenant_column: ctx.tenant_column,
        jobs: checked.jobs,
        problems,
    })
}

/// The first non-empty rows of a sheet as text, where its header is looked for.
fn sheet_candidates(cells: &[SheetCell], rows: &[(u64, Range<usize>)]) -> Vec<Vec<String>> {
    rows.iter()
        .take(header::HEADER_SEARCH_ROWS)
        .map(|(_, range)| row_texts(cells.get(range.clone()).unwrap_or_default()))
        .collect()
}

/// For a default sheet with no usable header: the workbook's other worksheets, each said to
/// have a user column (naming it) or not, and the `--sheet` to pass when one has. Empty when
/// the workbook has only that sheet.
fn other_sheets(bytes: &[u8], chosen: &str, options: &InputOptions) -> String {
    let sheets = workbook::worksheets(bytes);
    if sheets.len() < 2 {
        return String::new();
    }
    let mut usable = Vec::new();
    let listed: Vec<String> = sheets
        .iter()
        .map(|(name, visible)| {
            let shown = cell_text::shown(name);
            let hidden = if *visible { "" } else { ", hidden" };
            if name == chosen {
                return format!("'{shown}' (this one{hidden})");
            }
            let found = workbook::read(bytes, Some(name)).ok().and_then(|sheet| {
                let rows = sheet_rows(&sheet.cells);
                let candidates = sheet_candidates(&sheet.cells, &rows);
                header::locate(&candidates, options).ok()
            });
            match found {
                Some((_, columns)) => {
                    usable.push(name.clone());
                    format!(
                        "'{shown}' (user column '{}'{hidden})",
                        cell_text::shown(&columns.user_name)
                    )
                }
                None => format!("'{shown}' (no user column{hidden})"),
            }
        })
        .collect();
    let advice = match usable.as_slice() {
        [] => "; no sheet has a user column".to_string(),
        [one] => format!("; pass --sheet {}", sheet_argument(one)),
        several => format!(
            "; pass --sheet with one of {}",
            several
                .iter()
                .map(|n| sheet_argument(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("; the workbook's sheets: {}{advice}", listed.join(", "))
}

/// A sheet name as typed on a command line: quoted when it has a space or a quote.
fn sheet_argument(name: &str) -> String {
    let shown = cell_text::shown(name);
    if shown
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '&' | '|' | ';'))
    {
        format!("\"{}\"", shown.replace('"', "\\\""))
    } else {
        shown
    }
}

/// Applies `--hidden-rows` to the data rows (`data`, by 1-based row number): refuses hidden
/// ones, keeps them, or drops them (returning a warning that says so).
fn hidden_data_rows(
    sheet: &workbook::SheetCells,
    data: &mut Vec<(u64, Range<usize>)>,
    what: HiddenRows,
) -> Result<Option<String>, Failure> {
    let hidden: Vec<u64> = data
        .iter()
        .map(|(row, _)| *row)
        .filter(|row| {
            u32::try_from(row - 1).is_ok_and(|r| sheet.hidden_rows.binary_search(&r).is_ok())
        })
        .collect();
    if hidden.is_empty() || what == HiddenRows::Include {
        return Ok(None);
    }
    let name = cell_text::shown(&sheet.name);
    let count = count(
        hidden.len() as u64,
        "data row is hidden",
        "data rows are hidden",
    );
    let listed = row_list(&hidden);
    if what == HiddenRows::Refuse {
        return Err(Failure::Format(format!(
            "sheet '{name}': {count} ({listed}), by a filter or by hand; say whether they count: --hidden-rows include reads them like the others (as a CSV export would), --hidden-rows skip leaves them out"
        )));
    }
    data.retain(|(row, _)| hidden.binary_search(row).is_err());
    Ok(Some(format!(
        "sheet '{name}': {count} and left out (--hidden-rows skip): {listed}"
    )))
}

/// The sheet's non-blank rows: their row number (1-based, as Excel shows it) and where their
/// cells are in `cells` (sorted by row and column).
fn sheet_rows(cells: &[SheetCell]) -> Vec<(u64, Range<usize>)> {
    let mut rows = Vec::new();
    let mut start = 0;
    while let Some(first) = cells.get(start) {
        let len = cells
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.row == first.row)
            .count();
        let range = start..start + len;
        let blank = cells
            .get(range.clone())
            .unwrap_or_default()
            .iter()
            .all(|c| c.value.text().trim().is_empty());
        if !blank {
            rows.push((u64::from(first.row) + 1, range));
        }
        start += len.max(1);
    }
    rows
}

/// A row's cells as text from column A to its last non-empty cell (errors as `#N/A`),
/// cleaned as CSV header cells are.
fn row_texts(cells: &[SheetCell]) -> Vec<String> {
    let width = cells.last().map_or(0, |c| c.col as usize + 1);
    let mut out = vec![String::new(); width];
    for c in cells {
        if let Some(slot) = out.get_mut(c.col as usize) {
            *slot = cell_text::clean(c.value.text()).to_string();
        }
    }
    out
}

/// The cell of `row` (its cells, sorted by column) at column `col`.
fn value_at(row: &[SheetCell], col: usize) -> Option<&Value> {
    let col = u32::try_from(col).ok()?;
    let i = row.binary_search_by_key(&col, |c| c.col).ok()?;
    row.get(i).map(|c| &c.value)
}

/// Feeds a sheet's data rows to `sink` in chunks. A row where a column in use shows an error
/// value (`#N/A`) is not checked further: it becomes a problem, returned.
fn sheet_chunks(
    cells: &[SheetCell],
    data: &[(u64, Range<usize>)],
    columns: &Columns,
    ctx: &Context<'_>,
    sink: &mut dyn FnMut(Chunk),
) -> Vec<RowProblem> {
    let mut problems = Vec::new();
    let mut chunk = Chunk::with_capacity(CHUNK_ROWS.min(data.len()));
    for (row, range) in data {
        let cells = cells.get(range.clone()).unwrap_or_default();
        let text = |col: usize| value_at(cells, col).map_or("", Value::text);
        let action_col = columns.action.as_ref().map(|(i, _)| *i);
        let used = std::iter::once((columns.user, &ctx.user_column))
            .chain(columns.action.as_ref().map(|(i, name)| (*i, name)))
            .chain(columns.keep.iter().copied().zip(&columns.keep_headers));
        let error = used
            .filter_map(|(col, name)| match value_at(cells, col) {
                Some(Value::Error(e)) => Some((name, e)),
                _ => None,
            })
            .next();
        if let Some((name, e)) = error {
            problems.push(RowProblem {
                row: *row,
                column: Some(name.clone()),
                user: cell_text::clean(text(columns.user)).to_string(),
                action: match ctx.fixed_actions {
                    Some(fixed) => crate::action::combo_string(fixed),
                    None => action_col.map_or("", text).trim().to_string(),
                },
                message: format!("cell shows an error ({e})"),
                keep: columns
                    .keep
                    .iter()
                    .map(|i| text(*i).trim().to_string())
                    .collect(),
            });
            continue;
        }
        let keep = columns.keep.iter().map(|i| text(*i).as_bytes());
        chunk.push(
            *row,
            text(columns.user).as_bytes(),
            action_col.map_or("", text).as_bytes(),
            keep,
        );
        if chunk.len() >= CHUNK_ROWS {
            sink(std::mem::replace(
                &mut chunk,
                Chunk::with_capacity(CHUNK_ROWS),
            ));
        }
    }
    if chunk.len() > 0 {
        sink(chunk);
    }
    problems
}
