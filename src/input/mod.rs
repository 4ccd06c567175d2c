//! Reading the input spreadsheet (CSV now, XLSX later) into jobs, offline, before anything is
//! sent: dialect detection (BOM, `,`/`;`/tab, CRLF), header mapping with aliases, per-row
//! validation with spreadsheet row numbers (header = row 1), duplicate and conflict detection.
//! Large files are validated with rayon.
//!
//! # Layout
//! - `dialect`: encoding (UTF-8, BOM, UTF-16), binary detection, `sep=` line, delimiter.
//! - `rows`: records with spreadsheet row numbers (the numbering rule is documented there).
//! - `header`: which column is the user, which the action.
//! - `user_key`: the shape of a UPN or object id (public helpers for other modules).
//! - `validate`: one row → a job or a problem, by chunks, in parallel.
//! - `duplicates`: the same user on several rows (the rule is documented there).
//! - `cell_text`: cleaning cells and quoting them in one-line messages.

mod cell_text;
mod dialect;
mod duplicates;
mod header;
mod rows;
mod user_key;
mod validate;

#[cfg(test)]
mod load_tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::action::Action;

pub use user_key::{is_object_id, normalized_user};

use header::Columns;
use rows::Rows;
use validate::{CHUNK_ROWS, Checked, Chunk, Context};

/// What the user asked for on the command line about the input (already validated flags).
#[derive(Clone, Debug, Default)]
pub struct InputOptions {
    /// `--action`: one action (or `+` combo) applied to every row; the action column is then
    /// not required (and ignored if present).
    pub action: Option<Vec<Action>>,
    /// `--user-column NAME`: header text (case-insensitive) of the user column.
    pub user_column: Option<String>,
    /// `--action-column NAME`.
    pub action_column: Option<String>,
    /// `--skip-invalid`: record bad rows as `invalid` instead of stopping.
    pub skip_invalid: bool,
}

/// One valid input row: a user and the actions to run for it, in execution order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Spreadsheet row number (header = 1, first data row = 2), as Excel shows it: a
    /// multi-line quoted cell is one row, a blank line is a row (see `rows.rs`).
    pub row: u64,
    /// The user key as written (trimmed): a UPN or an object id (GUID).
    pub user: String,
    pub actions: Vec<Action>,
    /// Set when an earlier row names the same user with the same actions: this row is not run
    /// again and is recorded `skipped` with "same as row N".
    pub duplicate_of: Option<u64>,
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
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column '{}': {}", self.row, c, self.message),
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
pub const MAX_PRINTED_PROBLEMS: usize = 50;

fn format_problems(problems: &[RowProblem]) -> String {
    let mut out = String::new();
    for p in problems.iter().take(MAX_PRINTED_PROBLEMS) {
        out.push_str(&p.to_string());
        out.push('\n');
    }
    if problems.len() > MAX_PRINTED_PROBLEMS {
        out.push_str(&format!(
            "... and {} more problems\n",
            problems.len() - MAX_PRINTED_PROBLEMS
        ));
    }
    out.push_str(&format!(
        "{} invalid row(s); nothing was sent (fix them, or pass --skip-invalid to record them as 'invalid' and go on)",
        problems.len()
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
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    options: &InputOptions,
    parallel: bool,
) -> Result<LoadedInput, InputError> {
    read(bytes, options, parallel).map_err(|failure| match failure {
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

fn read(bytes: Vec<u8>, options: &InputOptions, parallel: bool) -> Result<LoadedInput, Failure> {
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
    action_column: Option<String>,
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
    let checked = std::str::from_utf8(text).map_err(|e| {
        let at = e.valid_up_to();
        let byte = text.get(at).copied().unwrap_or_default();
        format!(
            "row {}: the text is not valid UTF-8 (byte 0x{byte:02X} at byte {}); the file is probably in a legacy encoding such as Windows-1252 (Excel's plain \"CSV\"): save it as \"CSV UTF-8\"",
            row_at(at),
            decoded.start + skipped + at
        )
    })?;
    if let Some(at) = checked.find('\u{feff}') {
        return Err(Failure::Format(format!(
            "row {}: a byte-order mark (U+FEFF) in the middle of the file, usually left by joining two CSV files; remove it (and any repeated header row)",
            row_at(at)
        )));
    }
    read_records(text, delimiter, options, parallel)
}

/// Where reading the data rows ended.
struct ReadEnd {
    data_rows: u64,
}

fn read_records(
    text: &[u8],
    delimiter: u8,
    options: &InputOptions,
    parallel: bool,
) -> Result<Parsed, Failure> {
    let mut rows = Rows::new(text, delimiter, 1);
    let headers = loop {
        match rows.advance()? {
            None => {
                return Err(Failure::Format(
                    "the file has no header row: every line is blank".into(),
                ));
            }
            Some(_) if rows.is_blank() => {}
            Some(_) => break rows.cells_lossy(),
        }
    };
    let columns = match header::resolve(&headers, options) {
        Ok(c) => c,
        Err(message) => {
            // A stray quote in the header swallows the file; say that rather than "no column".
            unclosed_quote(text, &rows, delimiter, &headers)?;
            return Err(Failure::Format(message));
        }
    };
    let ctx = Context {
        user_column: columns.user_name.clone(),
        action_column: columns.action.as_ref().map(|(_, name)| name.clone()),
        fixed_actions: options.action.as_deref(),
    };

    let results: Mutex<Vec<(usize, Checked)>> = Mutex::new(Vec::new());
    let store = |index: usize, checked: Checked| {
        results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, checked));
    };
    let end = if parallel {
        // Chunks waiting for a thread hold a copy of their cells; when the reader is ahead by
        // more than two chunks a thread, it checks the chunk itself instead of queueing it.
        let in_flight = AtomicUsize::new(0);
        let limit = 2 * rayon::current_num_threads();
        rayon::scope(|scope| {
            read_chunks(&mut rows, &columns, |index, chunk| {
                if in_flight.load(Ordering::Acquire) >= limit {
                    store(index, validate::check_chunk(&chunk, &ctx));
                    return;
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let (ctx, store, in_flight) = (&ctx, &store, &in_flight);
                scope.spawn(move |_| {
                    store(index, validate::check_chunk(&chunk, ctx));
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            })
        })
    } else {
        read_chunks(&mut rows, &columns, |index, chunk| {
            store(index, validate::check_chunk(&chunk, &ctx));
        })
    }?;
    unclosed_quote(text, &rows, delimiter, &headers)?;
    if end.data_rows == 0 {
        return Err(Failure::Format(
            "no data rows: nothing below the header but blank lines".into(),
        ));
    }

    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(index, _)| *index);
    let mut jobs = Vec::with_capacity(usize::try_from(end.data_rows).unwrap_or_default());
    let mut problems = Vec::new();
    for (_, checked) in results {
        jobs.extend(checked.jobs);
        problems.extend(checked.problems);
    }
    Ok(Parsed {
        headers,
        action_column: ctx.action_column,
        jobs,
        problems,
    })
}

fn finish(parsed: Parsed, options: &InputOptions) -> Result<LoadedInput, Failure> {
    let Parsed {
        headers,
        action_column,
        jobs,
        mut problems,
    } = parsed;
    let mut warnings = Vec::new();
    let jobs = duplicates::resolve(jobs, action_column.as_deref(), &mut problems, &mut warnings);
    problems.sort_by_key(|p| p.row);
    if !problems.is_empty() && !options.skip_invalid {
        return Err(Failure::Problems(problems));
    }
    Ok(LoadedInput {
        jobs,
        invalid: problems,
        warnings,
        headers,
    })
}

/// Reads the data rows into chunks, handing each full chunk (and the last) to `sink` with its
/// index. Blank rows are skipped (their row numbers stay used).
fn read_chunks(
    rows: &mut Rows<'_>,
    columns: &Columns,
    mut sink: impl FnMut(usize, Chunk),
) -> Result<ReadEnd, String> {
    let mut chunk = Chunk::with_capacity(CHUNK_ROWS);
    let mut index = 0;
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
        chunk.push(row, rows.cell(columns.user), action);
        if chunk.len() >= CHUNK_ROWS {
            sink(
                index,
                std::mem::replace(&mut chunk, Chunk::with_capacity(CHUNK_ROWS)),
            );
            index += 1;
        }
    }
    if chunk.len() > 0 {
        sink(index, chunk);
    }
    Ok(ReadEnd { data_rows })
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
