//! The `apply` and `plan` commands: read the input, open the results journal (new or
//! resumed), sign in, run the engine with the journal and progress as its sink, then compact
//! the journal and print the summary. `plan` is `apply --dry-run` writing to its report file,
//! or, without `--report`, to an unnamed journal that leaves nothing behind.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::action::{Action, combo_string};
use crate::cli::{ApplyArgs, OutputArgs, PlanArgs};
use crate::config;
use crate::connect;
use crate::engine::{self, Sink, Stop, UserLookup, WorkItem};
use crate::error::{Completion, Error};
use crate::figures::{count, thousands};
use crate::input::{self, LoadedInput, UserKind};
use crate::journal::{Journal, RESOLVED_USER, ResultRecord, Status};
use crate::output_path::{self, NamedPath};
use crate::progress::{Progress, ProgressMode};
use crate::report::{RunStats, Tally};
use crate::shutdown_signal::{ShutdownSignal, StopSignal};

/// Everything `apply` and `plan` share, validated.
struct Rollout<'a> {
    input: &'a crate::cli::InputArgs,
    /// The results file; `None` for a `plan` without `--report` (an unnamed journal).
    results: Option<PathBuf>,
    /// The flag that names `results` (`--results`, or `--report` for `plan`).
    results_flag: &'static str,
    resume: bool,
    overwrite: bool,
    dry_run: bool,
    max_changes: Option<u64>,
    /// `--limit`: changes this run makes at most.
    limit: Option<u64>,
    /// `--max-failures`, as typed.
    max_failures: Option<&'a str>,
    run: &'a crate::cli::RunArgs,
    connection: &'a crate::cli::ConnectionArgs,
    pacing: &'a crate::cli::PacingArgs,
    output: &'a OutputArgs,
}

pub(crate) fn apply(args: &ApplyArgs, argv: &[OsString]) -> Result<Completion, Error> {
    run(
        Rollout {
            input: &args.input,
            results: Some(args.results.clone()),
            results_flag: "--results",
            resume: args.resume,
            overwrite: args.overwrite,
            dry_run: args.dry_run,
            max_changes: args.max_changes,
            limit: args.limit,
            max_failures: args.max_failures.as_deref(),
            run: &args.run,
            connection: &args.connection,
            pacing: &args.pacing,
            output: &args.output,
        },
        argv,
    )
}

pub(crate) fn plan(args: &PlanArgs, argv: &[OsString]) -> Result<Completion, Error> {
    run(
        Rollout {
            input: &args.input,
            results: args.report.clone(),
            results_flag: "--report",
            resume: false,
            overwrite: args.overwrite,
            dry_run: true,
            max_changes: None,
            limit: None,
            max_failures: None,
            run: &args.run,
            connection: &args.connection,
            pacing: &args.pacing,
            output: &args.output,
        },
        argv,
    )
}

/// The journal and the progress display, fed by the engine. The journal lives on its own
/// thread, fed batch by batch over a channel, so a slow write or fsync never holds up the
/// scheduler; a write error comes back on the next flush and stops the run.
struct JournalSink {
    tx: Option<std::sync::mpsc::Sender<Vec<ResultRecord>>>,
    writer: Option<std::thread::JoinHandle<Journal>>,
    error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    progress: Progress,
    buffer: Vec<ResultRecord>,
}

impl JournalSink {
    fn new(mut journal: Journal, progress: Progress) -> JournalSink {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<ResultRecord>>();
        let error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let failed = std::sync::Arc::clone(&error);
        let writer = std::thread::spawn(move || {
            for batch in rx {
                if let Err(e) = journal.append(&batch) {
                    if let Ok(mut slot) = failed.lock() {
                        *slot = Some(e.to_string());
                    }
                    break;
                }
            }
            journal
        });
        JournalSink {
            tx: Some(tx),
            writer: Some(writer),
            error,
            progress,
            buffer: Vec::new(),
        }
    }

    fn failure(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Waits for every record sent so far to be written, and returns the journal.
    fn close(mut self) -> Result<Journal, Error> {
        drop(self.tx.take());
        let journal = self
            .writer
            .take()
            .and_then(|w| w.join().ok())
            .ok_or_else(|| Error::Other("the results writer stopped unexpectedly".into()))?;
        match self.failure() {
            Some(e) => Err(Error::Other(e)),
            None => Ok(journal),
        }
    }
}

impl Sink for JournalSink {
    fn record(&mut self, record: ResultRecord) -> Result<(), String> {
        self.progress.record(record.status);
        self.buffer.push(record);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if let Some(e) = self.failure() {
            return Err(e);
        }
        let batch = std::mem::take(&mut self.buffer);
        match &self.tx {
            Some(tx) => tx
                .send(batch)
                .map_err(|_| "the results writer stopped".to_string()),
            None => Err("the results writer is closed".into()),
        }
    }

    fn throttled(&mut self, count: u64) {
        self.progress.throttled(count);
    }

    fn paced(&mut self, sent: engine::Requests) {
        self.progress.paced(sent);
    }
}

/// The results file's extra columns: `resolved_user` first for a mail column (so it sits at
/// the same place whatever `--keep-columns` adds), then the kept columns in their order.
fn extra_columns(loaded: &LoadedInput) -> Result<Vec<String>, Error> {
    if loaded.user_kind != UserKind::Mail {
        return Ok(loaded.keep_headers.clone());
    }
    if let Some(clash) = loaded
        .keep_headers
        .iter()
        .find(|h| h.eq_ignore_ascii_case(RESOLVED_USER))
    {
        return Err(Error::Usage(format!(
            "--keep-columns: '{clash}' is the name of the column the results file adds for a mail column ({RESOLVED_USER}); rename that column in the input"
        )));
    }
    Ok(std::iter::once(RESOLVED_USER.to_string())
        .chain(loaded.keep_headers.iter().cloned())
        .collect())
}

/// A record's extra cells: an empty `resolved_user` (nothing was looked up) before the kept
/// cells, for a mail column.
fn upfront_extra(loaded: &LoadedInput, keep: &[String]) -> Vec<String> {
    match loaded.user_kind {
        UserKind::Mail => std::iter::once(String::new())
            .chain(keep.iter().cloned())
            .collect(),
        UserKind::Upn | UserKind::ObjectId => keep.to_vec(),
    }
}

/// Records written before the engine starts: rows refused by validation (`--skip-invalid`)
/// and repeated rows.
fn upfront_records(loaded: &LoadedInput) -> Vec<ResultRecord> {
    let now = crate::journal::timestamp_now();
    let mut out = Vec::new();
    for p in &loaded.invalid {
        out.push(ResultRecord {
            row: p.row,
            user: p.user.clone(),
            action: p.action.clone(),
            status: Status::Invalid,
            message: p.to_string(),
            finished_at: now.clone(),
            extra: upfront_extra(loaded, &p.keep),
            ..ResultRecord::default()
        });
    }
    for job in &loaded.jobs {
        if let Some(first) = job.duplicate_of {
            for action in &job.actions {
                out.push(ResultRecord {
                    row: job.row,
                    user: job.user.clone(),
                    action: action.as_str().to_string(),
                    status: Status::Skipped,
                    message: format!("same user and actions as row {first}; done once there"),
                    finished_at: now.clone(),
                    extra: upfront_extra(loaded, &job.keep),
                    ..ResultRecord::default()
                });
            }
        }
    }
    out
}

/// Where a resumed run picks up, in input rows: a row is done when every one of its actions
/// has a result. Invalid and repeated rows get theirs without a request, so the message says
/// how many of the done rows they are rather than passing them off as work done.
#[derive(Debug, Default, PartialEq, Eq)]
struct ResumePoint {
    rows: u64,
    done: u64,
    done_without_request: u64,
}

impl ResumePoint {
    /// `resuming: 2,350 of 20,000 rows done (12 invalid or repeated rows among them, recorded
    /// with nothing sent); 17,650 to do`.
    fn message(&self) -> String {
        let mut line = format!(
            "resuming: {} of {} done",
            thousands(self.done),
            count(self.rows, "row", "rows")
        );
        if self.done_without_request > 0 {
            line.push_str(&format!(
                " ({} among them, recorded with nothing sent)",
                count(
                    self.done_without_request,
                    "invalid or repeated row",
                    "invalid or repeated rows"
                )
            ));
        }
        line.push_str(&format!("; {} to do", thousands(self.rows - self.done)));
        line
    }
}

/// Matches the records of an earlier run against the input (exit 2 when a row changed) and
/// returns the work still to do, the upfront records not yet written, and where that leaves
/// the run.
fn remaining_work(
    loaded: LoadedInput,
    done: &[ResultRecord],
    results: &Path,
) -> Result<(Vec<WorkItem>, Vec<ResultRecord>, ResumePoint), Error> {
    let jobs_by_row: HashMap<u64, &input::Job> = if done.is_empty() {
        HashMap::new()
    } else {
        loaded.jobs.iter().map(|job| (job.row, job)).collect()
    };
    let invalid_rows: BTreeSet<u64> = loaded.invalid.iter().map(|p| p.row).collect();
    let lookup = match loaded.user_kind {
        UserKind::Mail => UserLookup::Mail,
        UserKind::Upn | UserKind::ObjectId => UserLookup::Key,
    };
    let mut finished: BTreeSet<(u64, String)> = BTreeSet::new();
    for r in done {
        let matches = match jobs_by_row.get(&r.row) {
            Some(job) => {
                input::same_user(&job.user, &r.user)
                    && job.actions.iter().any(|a| a.as_str() == r.action)
            }
            None => r.status == Status::Invalid && invalid_rows.contains(&r.row),
        };
        if !matches {
            let now = jobs_by_row.get(&r.row).map_or_else(
                || "no such valid row".to_string(),
                |j| format!("'{}' '{}'", j.user, combo_string(&j.actions)),
            );
            return Err(Error::Usage(format!(
                "{}: row {} changed since the results were written (results: '{}' '{}'; input now: {now}); resume with the same input, or start over with --overwrite",
                results.display(),
                r.row,
                r.user,
                r.action
            )));
        }
        finished.insert((r.row, r.action.clone()));
    }
    let upfront = upfront_records(&loaded)
        .into_iter()
        .filter(|r| !finished.contains(&(r.row, r.action.clone())))
        .collect();
    let mut point = ResumePoint {
        rows: (loaded.jobs.len() + loaded.invalid.len()) as u64,
        ..ResumePoint::default()
    };
    for p in &loaded.invalid {
        if finished.contains(&(p.row, p.action.clone())) {
            point.done += 1;
            point.done_without_request += 1;
        }
    }
    let mut work = Vec::with_capacity(loaded.jobs.len());
    for job in loaded.jobs {
        let all_done = job
            .actions
            .iter()
            .all(|a| finished.contains(&(job.row, a.as_str().to_string())));
        point.done += u64::from(all_done);
        if job.duplicate_of.is_some() {
            point.done_without_request += u64::from(all_done);
            continue;
        }
        let start_at = job
            .actions
            .iter()
            .take_while(|a| finished.contains(&(job.row, a.as_str().to_string())))
            .count();
        if start_at < job.actions.len() {
            work.push(WorkItem {
                row: job.row,
                user: job.user,
                actions: job.actions,
                start_at,
                extra: job.keep,
                lookup,
            });
        }
    }
    Ok((work, upfront, point))
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command that resumes this run: the same arguments, `--resume` instead of `--overwrite`.
fn resume_command(argv: &[OsString]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut has_resume = false;
    for (i, a) in argv.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--overwrite" {
            continue;
        }
        has_resume |= a == "--resume";
        parts.push(if i == 0 {
            "mfa-rollout".to_string()
        } else {
            shell_quote(&a)
        });
    }
    if !has_resume {
        parts.push("--resume".into());
    }
    parts.join(" ")
}

impl Rollout<'_> {
    /// `plan`, which takes no `--resume` (unlike `apply --dry-run`).
    fn is_plan(&self) -> bool {
        self.results_flag == "--report"
    }
}

/// Where a stopped run's records are: `the results so far are in r.csv`.
fn records_so_far(r: &Rollout<'_>) -> String {
    match (&r.results, r.is_plan()) {
        (Some(results), false) => format!("the results so far are in {}", results.display()),
        (Some(report), true) => format!("the plan so far is in {}", report.display()),
        (None, _) => "nothing was written".to_string(),
    }
}

/// How to go on after a stop: `--resume` for `apply`; `plan` takes none, so it is run again
/// (over its partial report with `--overwrite`).
fn go_on(r: &Rollout<'_>, argv: &[OsString]) -> String {
    if !r.is_plan() {
        return format!("resume with: {}", resume_command(argv));
    }
    let mut parts: Vec<String> = argv
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "mfa-rollout".to_string()
            } else {
                shell_quote(&a.to_string_lossy())
            }
        })
        .collect();
    if r.results.is_some() && !parts.iter().any(|a| a == "--overwrite") {
        parts.push("--overwrite".into());
    }
    format!("run the plan again with: {}", parts.join(" "))
}

/// The results file before the run: resumed (open), new (locked, not yet made), or none (a
/// `plan` without `--report`, whose unnamed journal is made once signed in, like a file).
enum Opened {
    Resumed(Journal),
    Reserved(crate::journal::Reserved),
    Unnamed,
}

/// `plan` takes no `--resume`: its "file exists" error says only `--overwrite`.
fn exists_for(r: &Rollout<'_>, e: crate::journal::JournalError) -> Error {
    match e {
        crate::journal::JournalError::Exists { path } if r.results_flag == "--report" => {
            Error::Usage(format!(
                "{} already exists and is not empty: pass --overwrite to replace it",
                path.display()
            ))
        }
        e => Error::Journal(e),
    }
}

/// Refuses outputs that are the input or each other, and an existing HTML report without
/// `--overwrite` (a resumed run's report replaces the one its earlier part may have left).
fn check_output_paths(r: &Rollout<'_>) -> Result<(), Error> {
    let named = |flag, path| NamedPath { flag, path };
    output_path::check_distinct(
        &[named("INPUT", r.input.input.as_path())],
        &[
            r.results.as_deref().map(|p| named(r.results_flag, p)),
            r.run.html.as_deref().map(|p| named("--html", p)),
            r.connection
                .sandbox_state
                .as_deref()
                .map(|p| named("--sandbox-state", p)),
        ],
    )?;
    if let Some(html) = &r.run.html {
        output_path::check_overwrite("--html", html, r.overwrite || r.resume)?;
    }
    if r.results.is_none() && r.run.excel {
        return Err(Error::Usage(format!(
            "--excel marks the report CSV for Excel, and there is none: give {} FILE too",
            r.results_flag
        )));
    }
    Ok(())
}

fn run(r: Rollout<'_>, argv: &[OsString]) -> Result<Completion, Error> {
    check_output_paths(&r)?;
    let options = config::input_options(r.input)?;
    let mut settings =
        config::engine_settings(r.pacing, &r.run.reset_scope, r.dry_run, r.max_changes)?;
    let failure_bound = r
        .max_failures
        .map(engine::settings::FailureBound::parse)
        .transpose()
        .map_err(Error::Usage)?;
    if r.limit == Some(0) {
        return Err(Error::Usage(
            "--limit must be at least 1 (the number of changes this run may make)".into(),
        ));
    }
    settings.limit = r.limit;
    let connection = config::connection(r.connection, &|k| std::env::var(k).ok())?;
    settings.global_cloud = connection.cloud == crate::graph::Cloud::Global;
    let loaded = input::load(&r.input.input, &options)?;
    let extra = extra_columns(&loaded)?;
    for w in &loaded.warnings {
        if !r.output.quiet {
            eprintln!("warning: {w}");
        }
    }

    // A new run's results file is locked and checked before sign-in (so nothing is asked of
    // the tenant for a run that would be refused) but made only once signed in, so a failed
    // sign-in leaves no file behind.
    let (opened, done) = match &r.results {
        None => (Opened::Unnamed, Vec::new()),
        Some(results) if r.resume => {
            let (j, done) = Journal::resume(results, &extra)?;
            (Opened::Resumed(j), done)
        }
        Some(results) => {
            let reserved = Journal::reserve(results, r.overwrite).map_err(|e| exists_for(&r, e))?;
            (Opened::Reserved(reserved), Vec::new())
        }
    };
    // Only an in-process sandbox without a tenant file needs the input's users (it makes them).
    let sandbox_users: Vec<String> = match &connection.sign_in {
        config::SignIn::Sandbox { tenant: None, .. } => {
            loaded.jobs.iter().map(|j| j.user.clone()).collect()
        }
        _ => Vec::new(),
    };
    let by_mail = loaded.user_kind == UserKind::Mail;
    let (work, upfront, point) =
        remaining_work(loaded, &done, r.results.as_deref().unwrap_or(Path::new("")))?;
    if r.resume && !r.output.quiet {
        eprintln!("{}", point.message());
    }
    // A percentage is of the rows this run does (a resumed run: the rows left).
    settings.max_failures = failure_bound.map(|b| b.rows(work.len() as u64));

    let actions: BTreeSet<Action> = work
        .iter()
        .flat_map(|w| w.actions[w.start_at..].iter().copied())
        .collect();
    let total: u64 = work
        .iter()
        .map(|w| (w.actions.len() - w.start_at) as u64)
        .sum();
    let rows_to_do = work.len() as u64;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let connected = if work.is_empty() {
        None
    } else {
        Some(runtime.block_on(async {
            let connected = connect::connect(connection, &sandbox_users, by_mail).await?;
            if !r.output.quiet && connected.sandbox.is_none() {
                eprintln!("signed in with {}", connected.signed_in_with);
            }
            connect::check_permissions(&connected.client, &actions, r.dry_run, by_mail).await?;
            Ok::<_, Error>(connected)
        })?)
    };
    let mut journal = match opened {
        Opened::Resumed(j) => j,
        Opened::Reserved(reserved) => reserved.create(&extra)?,
        Opened::Unnamed => Journal::unnamed(&extra)?,
    };
    journal.append(&upfront)?;

    let progress = Progress::new(total, ProgressMode::detect(r.output.quiet || r.output.json));
    let mut sink = JournalSink::new(journal, progress.clone());
    let stop_signal = ShutdownSignal::default();
    let report = runtime.block_on(async {
        let Some(connected) = connected else {
            return (engine::EngineReport::default(), Ok(()));
        };
        let transport = std::sync::Arc::new(connected.client.clone());
        let shutdown = stop_signal.wait();
        let report = engine::run(transport, work, &settings, &mut sink, shutdown).await;
        // Whatever stopped the run, the sandbox tenant keeps what it was changed to.
        let saved = connected.save_sandbox_state();
        drop(connected);
        (report, saved)
    });
    let (report, saved) = report;
    if let (Err(e), Some(_)) = (&saved, &report.stop) {
        // The run stops with its own error below; this one must not go unsaid.
        eprintln!("error: {e}");
    }
    progress.finish();

    let sink_failure = sink.failure();
    let mut journal = match sink.close() {
        Ok(j) => j,
        Err(e) => {
            return Err(Error::Other(format!(
                "{e}; nothing more was sent. {}",
                go_on(&r, argv)
            )));
        }
    };
    let _ = sink_failure;
    let resume_hint = || go_on(&r, argv);
    match &report.stop {
        None => {}
        Some(Stop::Interrupted) => {
            let _ = journal.sync();
            let signal = stop_signal.received().unwrap_or(StopSignal::Interrupt);
            let message = format!(
                "{}; {}. {}",
                signal.described(),
                records_so_far(&r),
                resume_hint()
            );
            return Err(match signal {
                StopSignal::Interrupt => Error::Interrupted(message),
                StopSignal::Terminate => Error::Terminated(message),
            });
        }
        Some(Stop::SignIn(cause) | Stop::Breaker(cause) | Stop::MaxFailures(cause)) => {
            let _ = journal.sync();
            let why = match &report.stop {
                Some(Stop::MaxFailures(_)) => "--max-failures stopped the run",
                _ => "the circuit breaker stopped the run",
            };
            let ended = count(report.rows_ended, "row", "rows");
            let message = match (&r.results, r.is_plan()) {
                (Some(results), false) => format!(
                    "{why}: {cause}. {ended} ended before the stop (in {}); the rows not \
                     finished are not recorded, so --resume does them. {}",
                    results.display(),
                    resume_hint()
                ),
                _ => format!(
                    "{why}: {cause}. {ended} ended before the stop; {}. {}",
                    records_so_far(&r),
                    resume_hint()
                ),
            };
            return Err(match &report.stop {
                Some(Stop::SignIn(_)) => Error::Auth(message),
                _ => Error::Guard(message),
            });
        }
        Some(Stop::MaxChanges(message)) => {
            let _ = journal.sync();
            return Err(Error::Guard(message.clone()));
        }
        Some(Stop::Sink(message)) => {
            return Err(Error::Other(format!(
                "{message}; nothing more was sent. {}",
                resume_hint()
            )));
        }
    }
    // The summary counts records as the compaction writes them; only an HTML report, which
    // lists them, keeps them.
    let mut tally = Tally::new();
    let mut listed = Vec::new();
    journal.finish(|record| {
        tally.add(record);
        if r.run.html.is_some() {
            listed.push(record.clone());
        }
    })?;
    if let (true, Some(results)) = (r.run.excel, &r.results) {
        crate::journal::add_excel_bom(results)?;
    }
    let stats = RunStats {
        elapsed: report.elapsed,
        reads: report.reads,
        writes: report.writes,
        throttled: report.throttled,
        retries: report.retries,
        final_write_rate: report.final_write_rate,
        final_read_rate: report.final_read_rate,
    };
    // Rows this run did not reach (--limit): not in the results file, left for --resume.
    let left = rows_to_do.saturating_sub(report.rows_ended);
    let summary = tally
        .summary(Some(stats), r.results.as_deref(), r.dry_run)
        .with_remaining(crate::report::Remaining {
            rows: left,
            limit: r.limit,
            continue_with: (left > 0).then(|| resume_command(argv)),
        });
    if let Some(html) = &r.run.html {
        let title = format!(
            "MFA {} — {}",
            if r.dry_run { "plan" } else { "rollout" },
            r.input.input.display()
        );
        crate::report::write_html(html, &listed, &summary, &title).map_err(|e| Error::File {
            path: html.to_path_buf(),
            message: format!("cannot write the HTML report: {e}"),
        })?;
    }
    print_summary(&summary, config::output(r.output));
    saved?;
    Ok(summary.completion())
}

/// The summary on stdout: JSON with `--json`, its text otherwise, and with `-q` only its
/// first line (the outcome), so a quiet run still says how it ended.
pub(crate) fn print_summary(summary: &crate::report::Summary, output: config::Output) {
    if output.json {
        println!("{}", summary.to_json());
        return;
    }
    let text = summary.render_text();
    let utf8 = crate::locale_text::utf8_locale();
    if output.quiet {
        if let Some(first) = text.lines().next() {
            println!("{}", crate::locale_text::for_locale(first, utf8));
        }
    } else {
        print!("{}", crate::locale_text::for_locale(&text, utf8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_column_puts_resolved_user_before_the_kept_columns_and_refuses_a_clash() {
        let mut loaded = LoadedInput {
            user_kind: UserKind::Mail,
            keep_headers: vec!["Ticket".into()],
            ..LoadedInput::default()
        };
        assert_eq!(extra_columns(&loaded).unwrap(), ["resolved_user", "Ticket"]);
        loaded.keep_headers.push("Resolved_User".into());
        let err = extra_columns(&loaded).unwrap_err().to_string();
        assert!(err.contains("--keep-columns: 'Resolved_User'"), "{err}");
        loaded.user_kind = UserKind::Upn;
        assert_eq!(extra_columns(&loaded).unwrap(), ["Ticket", "Resolved_User"]);
    }

    #[test]
    fn the_resume_point_reads_as_words_and_names_rows_done_without_a_request() {
        let point = |rows, done, done_without_request| {
            ResumePoint {
                rows,
                done,
                done_without_request,
            }
            .message()
        };
        assert_eq!(point(1, 0, 0), "resuming: 0 of 1 row done; 1 to do");
        assert_eq!(
            point(20_000, 2_350, 0),
            "resuming: 2,350 of 20,000 rows done; 17,650 to do"
        );
        assert_eq!(
            point(20_000, 2_350, 1),
            "resuming: 2,350 of 20,000 rows done (1 invalid or repeated row among them, recorded with nothing sent); 17,650 to do"
        );
    }

    #[test]
    fn resume_matches_a_row_whose_user_differs_only_in_case_as_duplicate_detection_does() {
        let job = |row, user: &str| input::Job {
            row,
            user: user.into(),
            actions: vec![Action::Enforce],
            duplicate_of: None,
            keep: Vec::new(),
        };
        let loaded = LoadedInput {
            user_kind: UserKind::Mail,
            jobs: vec![job(2, "Ann@Contoso.com"), job(3, "ZOË@contoso.com")],
            ..LoadedInput::default()
        };
        let done: Vec<ResultRecord> = [(2, "ann@contoso.com"), (3, "zoë@contoso.com")]
            .into_iter()
            .map(|(row, user)| ResultRecord {
                row,
                user: user.into(),
                action: "enforce".into(),
                status: Status::Applied,
                ..ResultRecord::default()
            })
            .collect();
        let (work, upfront, _) = remaining_work(loaded, &done, Path::new("r.csv")).unwrap();
        assert!(work.is_empty() && upfront.is_empty(), "{work:?}");
    }

    #[test]
    fn resume_command_swaps_overwrite_for_resume_and_quotes() {
        let argv: Vec<OsString> = [
            "/bin/mfa-rollout",
            "apply",
            "my users.csv",
            "--results",
            "r.csv",
            "--overwrite",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            resume_command(&argv),
            "mfa-rollout apply 'my users.csv' --results r.csv --resume"
        );
    }
}
