//! `mfa-rollout export --out FILE`: every user of the tenant (or of a selection) with their
//! per-user MFA state, registered methods and default method, as a CSV or XLSX file that is
//! also an input for `plan`/`apply` once its `action` column is filled in.
//!
//! # Layout
//! - `crate::selection`: the users (every user, or the selection's) into `FILE.users`,
//!   written before any user is read.
//! - `export_file`: the columns, the `FILE.partial` journal (the reads' results) and its
//!   index, the final CSV or workbook.
//! - this file: the command: list, read every user through the engine (`Action::Export`, on
//!   the read budget, in `$batch`es), journal each, then write the file and its summary as
//!   a stream over the users file and the journal.
//! - `tenants`: `--tenants FILE`, every tenant listed and read by its own engine, side by
//!   side, into the one file with a `tenant` column.
//!
//! Resumable: `--resume` reads `FILE.users` (the same users, whatever the tenant did since;
//! other selection flags than it records are refused) and the journal, and reads only the
//! users without a good row. Nothing is written to the
//! tenant: the engine runs dry, and the only action it is given reads.

mod export_file;
mod tenants;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::action::Action;
use crate::config::{Connection, ExportSettings};
use crate::connect;
use crate::engine::{self, Sink, Stop, UserLookup, WorkItem};
use crate::error::{Completion, Error};
use crate::figures::{count, thousands};
use crate::journal::ResultRecord;
use crate::output_path::{self, NamedPath};
use crate::progress::{Progress, ProgressMode};
use crate::rollout::resume_command;
use crate::shutdown_signal::{ShutdownSignal, StopSignal};

use crate::selection::{self, for_each_user, users_path};
pub(crate) use export_file::{EXPORT_HEADER, ExportRow};
use export_file::{ExportJournal, FinalFile, JournalIndex, ReadResult, journal_path};

/// The engine's records, turned into export rows and appended to the journal every batch.
struct ExportSink {
    journal: ExportJournal,
    progress: Progress,
    buffer: Vec<ReadResult>,
    /// Whether the progress display shows this engine's request rates (not when several
    /// tenants' engines share it: their rates would mix, so it goes by users alone).
    rates: bool,
}

impl Sink for ExportSink {
    fn record(&mut self, record: ResultRecord) -> Result<(), String> {
        self.progress.record(record.status);
        self.buffer.push(ReadResult::from_record(&record));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let rows = std::mem::take(&mut self.buffer);
        self.journal
            .append(&rows)
            .map_err(|e| format!("cannot write {}: {e}", self.journal.path().display()))
    }

    fn throttled(&mut self, count: u64) {
        self.progress.throttled(count);
    }

    fn paced(&mut self, sent: engine::Requests) {
        if self.rates {
            self.progress.paced(sent);
        }
    }
}

/// What an export found: users per state, users without a method, users not read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ExportSummary {
    pub(crate) users: u64,
    pub(crate) by_state: BTreeMap<String, u64>,
    pub(crate) without_method: u64,
    pub(crate) guests: u64,
    pub(crate) not_read: u64,
}

impl ExportSummary {
    #[must_use]
    pub(crate) fn of<'a>(rows: impl Iterator<Item = &'a ExportRow>) -> ExportSummary {
        let mut s = ExportSummary::default();
        for r in rows {
            s.add(r);
        }
        s
    }

    /// Adds another's counts (a tenant's, into the total).
    pub(crate) fn merge(&mut self, other: &ExportSummary) {
        self.users += other.users;
        self.without_method += other.without_method;
        self.guests += other.guests;
        self.not_read += other.not_read;
        for (state, n) in &other.by_state {
            *self.by_state.entry(state.clone()).or_default() += n;
        }
    }

    /// Counts one more row.
    pub(crate) fn add(&mut self, r: &ExportRow) {
        self.users += 1;
        self.guests += u64::from(r.user_type.eq_ignore_ascii_case("Guest"));
        if !r.error.is_empty() {
            self.not_read += 1;
            return;
        }
        match self.by_state.get_mut(&r.state) {
            Some(n) => *n += 1,
            None => {
                self.by_state.insert(r.state.clone(), 1);
            }
        }
        self.without_method += u64::from(r.method_count() == 0);
    }

    #[must_use]
    pub(crate) fn render_text(&self, out: &Path) -> String {
        let mut t = format!(
            "export {}: {}",
            out.display(),
            count(self.users, "user", "users")
        );
        if self.not_read > 0 {
            t.push_str(&format!(
                "; {} could not be read (their rows say why)",
                thousands(self.not_read)
            ));
        }
        t.push('\n');
        for state in ["disabled", "enabled", "enforced"] {
            let n = self.by_state.get(state).copied().unwrap_or(0);
            t.push_str(&format!("  {state:<9} {}\n", thousands(n)));
        }
        for (state, n) in &self.by_state {
            if !["disabled", "enabled", "enforced"].contains(&state.as_str()) {
                t.push_str(&format!("  {state:<9} {}\n", thousands(*n)));
            }
        }
        t.push_str(&format!(
            "  no method registered: {}\n  guests: {}\n",
            thousands(self.without_method),
            thousands(self.guests)
        ));
        t
    }

    #[must_use]
    pub(crate) fn to_json(&self, out: &Path) -> serde_json::Value {
        serde_json::json!({
            "file": out.display().to_string(),
            "users": self.users,
            "per_user_mfa_state": self.by_state,
            "without_method": self.without_method,
            "guests": self.guests,
            "not_read": self.not_read,
        })
    }

    #[must_use]
    pub(crate) fn completion(&self) -> Completion {
        if self.not_read > 0 {
            Completion::SomeRowsFailed
        } else {
            Completion::AllGood
        }
    }
}

/// Reads an export file (CSV) back, for `report`. `None` when it is not one.
pub(crate) fn read_export(path: &Path) -> Option<Result<Vec<ExportRow>, String>> {
    let first = std::fs::read(path).ok()?;
    let head = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&first);
    let header = EXPORT_HEADER.join(",");
    if !head.starts_with(header.as_bytes()) {
        return None;
    }
    Some(export_file::read_finished(path))
}

/// `mfa-rollout export`.
pub(crate) fn run(
    s: &ExportSettings,
    connection: Connection,
    argv: &[OsString],
) -> Result<Completion, Error> {
    if let Some(tenants_file) = &s.tenants {
        return tenants::run(s, &connection, argv, tenants_file);
    }
    let out = s.out.as_path();
    let journal_file = journal_path(out);
    let users_file = users_path(out);
    check_out(s, &connection, &journal_file)?;
    let settings = &s.engine;
    let quiet = s.output.quiet || s.output.json;
    // A resumed export reads its users file back: other selection flags are refused before
    // anything is sent.
    if s.resume
        && users_file.exists()
        && let Some(warning) = selection::check_resumed(&users_file, &s.selection)?
        && !quiet
    {
        eprintln!("warning: {warning}");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let connected = runtime.block_on(async {
        let connected = connect::connect(connection, &[], false).await?;
        let needs: std::collections::BTreeSet<Action> = [Action::Export].into();
        connect::check_permissions(&connected.client, &needs, true, false).await?;
        connect::check_selection_permissions(&connected.client, &s.selection).await?;
        Ok::<_, Error>(connected)
    })?;

    // The list first, whole, before any user is read (a resumed export keeps its own).
    let listed_now = !(s.resume && users_file.exists());
    if listed_now {
        let listed = runtime.block_on(selection::resolve(
            &connected.client,
            &s.selection,
            settings.max_attempts.get(),
            &users_file,
        ))?;
        if !quiet {
            eprintln!("listed {}", count(listed, "user", "users"));
        }
    }
    // The users to read, streamed from the users file: the work items are the one copy of
    // the list held during the run, and they carry only the id (the listed properties are
    // joined back from the users file at the end).
    let (work, listed, journal) = to_read(&users_file, &journal_file, s.resume)?;
    if s.resume && !quiet {
        eprintln!(
            "resuming: {} of {} read; {} to do",
            thousands(listed - work.len() as u64),
            count(listed, "user", "users"),
            thousands(work.len() as u64)
        );
    }
    let progress = Progress::new(work.len() as u64, ProgressMode::detect(quiet));
    let mut sink = ExportSink {
        journal,
        progress: progress.clone(),
        buffer: Vec::new(),
        rates: true,
    };
    let stop_signal = ShutdownSignal::default();
    let (report, saved) = runtime.block_on(async {
        let transport = std::sync::Arc::new(connected.client.clone());
        let report = engine::run(transport, work, settings, &mut sink, stop_signal.wait()).await;
        (report, connected.save_sandbox_state())
    });
    progress.finish();
    drop(connected);
    let resume_hint = || format!("resume with: {}", resume_command(argv));
    match &report.stop {
        None => {}
        Some(Stop::Interrupted) => {
            let signal = stop_signal.received().unwrap_or(StopSignal::Interrupt);
            let message = format!(
                "{}; the users read so far are in {}. {}",
                signal.described(),
                journal_file.display(),
                resume_hint()
            );
            return Err(match signal {
                StopSignal::Interrupt => Error::Interrupted(message),
                StopSignal::Terminate => Error::Terminated(message),
            });
        }
        Some(Stop::SignIn(cause)) => {
            return Err(Error::Auth(format!("{cause}. {}", resume_hint())));
        }
        Some(Stop::Breaker(cause) | Stop::MaxFailures(cause) | Stop::MaxChanges(cause)) => {
            return Err(Error::Guard(format!(
                "the circuit breaker stopped the export: {cause}. {}",
                resume_hint()
            )));
        }
        Some(Stop::Sink(message)) => {
            return Err(Error::Other(format!("{message}. {}", resume_hint())));
        }
    }
    if report.writes > 0 {
        // The engine ran dry with a read-only action: a write here is a bug, said loudly.
        return Err(Error::Other(format!(
            "internal error: the export sent {} writes",
            report.writes
        )));
    }
    drop(sink);

    let part = Part {
        tenant: None,
        users_file: users_file.clone(),
        journal_file: journal_file.clone(),
    };
    let summary = write_in_listing_order(out, s.excel, &[part])
        .map_err(|e| e.into_error(out, &resume_hint()))?
        .pop()
        .unwrap_or_default();
    if let Some(html) = &s.html {
        write_html(html, &summary, out, &[])?;
    }
    let _ = std::fs::remove_file(&journal_file);
    let _ = std::fs::remove_file(&users_file);
    if s.output.json {
        println!("{}", summary.to_json(out));
    } else if s.output.quiet {
        if let Some(first) = summary.render_text(out).lines().next() {
            println!("{first}");
        }
    } else {
        let secs = report.elapsed.as_secs_f64();
        print!("{}", summary.render_text(out));
        if secs > 0.0 && listed_now {
            println!(
                "  {} reads in {secs:.1} s, {} answered 429",
                thousands(report.reads),
                thousands(report.throttled)
            );
        }
    }
    saved?;
    Ok(summary.completion())
}

/// The users of `users_file` not read yet (every one unless `resumed`: the journal then says
/// which are), as the engine's work, carrying only the id (the listed properties are joined
/// back from the users file at the end); how many it lists; and the journal, opened to
/// append (`resumed`) or made anew.
fn to_read(
    users_file: &Path,
    journal_file: &Path,
    resumed: bool,
) -> Result<(Vec<WorkItem>, u64, ExportJournal), Error> {
    let done = if resumed {
        Some(JournalIndex::read(journal_file).map_err(Error::Other)?)
    } else {
        None
    };
    let mut work: Vec<WorkItem> = Vec::new();
    let mut listed = 0u64;
    for_each_user(users_file, |u| {
        listed += 1;
        if done.as_ref().is_none_or(|d| !d.is_read(&u.id)) {
            work.push(WorkItem {
                row: listed + 1,
                user: u.id,
                actions: vec![Action::Export],
                start_at: 0,
                extra: Vec::new(),
                lookup: UserLookup::Key,
            });
        }
        Ok(())
    })
    .map_err(Error::Other)?;
    drop(done);
    let journal = if resumed {
        ExportJournal::open(journal_file)
    } else {
        ExportJournal::create(journal_file)
    }
    .map_err(|e| Error::File {
        path: journal_file.to_path_buf(),
        message: format!("cannot write the export journal: {e}"),
    })?;
    Ok((work, listed, journal))
}

/// Checks the output paths before anything is sent: distinct, not overwritten unless asked,
/// and for `--resume` an export under way (`under_way`: its journal, or a many-tenant
/// export's manifest).
fn check_out(s: &ExportSettings, connection: &Connection, under_way: &Path) -> Result<(), Error> {
    let out = s.out.as_path();
    let named = |flag, path| NamedPath { flag, path };
    output_path::check_distinct(
        &[],
        &[
            Some(named("--out", out)),
            s.html.as_deref().map(|p| named("--html", p)),
            connection
                .sandbox_state()
                .map(|p| named("--sandbox-state", p)),
        ],
    )?;
    if s.resume {
        if !under_way.exists() {
            return Err(Error::Usage(format!(
                "--resume: {} does not exist, so no export of {} is under way (start one without --resume)",
                under_way.display(),
                out.display()
            )));
        }
    } else if !s.overwrite {
        for p in [out, under_way] {
            if p.exists() {
                return Err(Error::Usage(format!(
                    "{} already exists: pass --overwrite to replace it, or --resume to finish an export under way",
                    p.display()
                )));
            }
        }
    }
    if let Some(html) = &s.html {
        output_path::check_overwrite("--html", html, s.overwrite || s.resume)?;
    }
    if s.excel && export_file::is_xlsx(out) {
        return Err(Error::Usage(
            "--excel marks a CSV for Excel; a .xlsx file is a workbook already".into(),
        ));
    }
    Ok(())
}

/// Why the final file could not be written.
enum Final {
    File(String),
    /// Users listed without a row in the journal (the first few UPNs).
    Missing(Vec<String>),
}

impl Final {
    fn into_error(self, out: &Path, resume_hint: &str) -> Error {
        match self {
            Final::File(message) => Error::File {
                path: out.to_path_buf(),
                message,
            },
            Final::Missing(missing) => Error::Other(format!(
                "internal error: users listed but not read ({}); {resume_hint}",
                missing.join(", "),
            )),
        }
    }
}

/// One tenant's share of the final file (a one-tenant export's is the whole of it): its
/// users file and its journal.
struct Part<'a> {
    /// The `tenant` cell of its rows; `None`: a one-tenant export, without that column.
    tenant: Option<&'a str>,
    users_file: PathBuf,
    journal_file: PathBuf,
}

/// Writes the final file: every listed user of each part exactly once, part after part, each
/// in listing order, the listed properties from the users file and the reads' from the
/// journal, one row held at a time; counts each part's as it goes. Nothing is put in place
/// when a user has no row.
fn write_in_listing_order(
    out: &Path,
    excel: bool,
    parts: &[Part<'_>],
) -> Result<Vec<ExportSummary>, Final> {
    let extra: &[&str] = if parts.iter().any(|p| p.tenant.is_some()) {
        &[crate::input::TENANT_COLUMN]
    } else {
        &[]
    };
    let mut file = FinalFile::create(out, excel, extra).map_err(Final::File)?;
    let mut summaries = Vec::with_capacity(parts.len());
    let mut missing = Vec::new();
    for part in parts {
        let index = JournalIndex::read(&part.journal_file).map_err(Final::File)?;
        let mut rows = index.rows().map_err(Final::File)?;
        let mut summary = ExportSummary::default();
        let cells: Vec<&str> = part.tenant.into_iter().collect();
        for_each_user(&part.users_file, |u| {
            match rows.of(&u.id)? {
                Some(read) => {
                    let row = ExportRow::new(u, read);
                    summary.add(&row);
                    file.push(&row, &cells)?;
                }
                None if missing.len() < 5 => missing.push(u.upn),
                None => {}
            }
            Ok(())
        })
        .map_err(Final::File)?;
        summaries.push(summary);
    }
    if !missing.is_empty() {
        return Err(Final::Missing(missing));
    }
    file.finish().map_err(Final::File)?;
    Ok(summaries)
}

/// One tenant of a many-tenant export, as its summary page shows it: its counts once it
/// finished, or why it stopped.
pub(crate) struct TenantOutcome<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) summary: Option<&'a ExportSummary>,
    pub(crate) stop: Option<&'a str>,
}

/// A self-contained HTML summary of an export: the totals, then (a many-tenant export) a
/// line per tenant with its users, those not read and its outcome.
pub(crate) fn write_html(
    path: &Path,
    summary: &ExportSummary,
    source: &Path,
    tenants: &[TenantOutcome<'_>],
) -> Result<(), Error> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut rows = String::new();
    for (state, n) in &summary.by_state {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(state),
            thousands(*n)
        ));
    }
    let mut per_tenant = String::new();
    if !tenants.is_empty() {
        per_tenant.push_str(
            "<h2>Per tenant</h2><table class=\"tenants\"><thead><tr><th>tenant</th><th>users</th>\
<th>not read</th><th>outcome</th></tr></thead><tbody>",
        );
        for t in tenants {
            let (users, not_read) = t.summary.map_or((String::new(), String::new()), |s| {
                (thousands(s.users), thousands(s.not_read))
            });
            let outcome = match (t.stop, t.summary) {
                (Some(why), _) => format!("STOPPED: {}", esc(why)),
                (None, Some(s)) if s.not_read > 0 => "not every user read".to_string(),
                (None, _) => "done".to_string(),
            };
            per_tenant.push_str(&format!(
                "<tr><td>{}</td><td>{users}</td><td>{not_read}</td><td>{outcome}</td></tr>",
                esc(t.tenant)
            ));
        }
        per_tenant.push_str("</tbody></table>");
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MFA export — {src}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}td,th{{padding:.2rem .8rem;text-align:left}}</style></head>\
<body><h1>MFA export — {src}</h1><p>{users}; {without} with no method registered; {guests}; {not_read} not read.</p>\
<table><thead><tr><th>per-user MFA state</th><th>users</th></tr></thead><tbody>{rows}</tbody></table>{per_tenant}</body></html>\n",
        src = esc(&source.display().to_string()),
        users = count(summary.users, "user", "users"),
        without = thousands(summary.without_method),
        guests = count(summary.guests, "guest", "guests"),
        not_read = thousands(summary.not_read),
    );
    std::fs::write(path, page).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: format!("cannot write the HTML report: {e}"),
    })
}
