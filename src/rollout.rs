//! The `apply` and `plan` commands, as the steps they are: prepare (read the input, open the
//! results journal, new or resumed, and match it against the input) → sign in → execute (the
//! engine with the journal and progress as its sink; what a stop means) → finish (compact the
//! journal) → emit (HTML report and summary). `plan` is `apply --dry-run` writing to its
//! report file, or, without `--report`, to an unnamed journal that leaves nothing behind.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

use crate::action::Action;
use crate::config::{self, Connection, RolloutSettings, Users};
use crate::connect;
use crate::engine::{self, EngineSettings, Protected, Stop, WorkItem};
use crate::error::{Completion, Error};
use crate::exclusions::Exclusions;
use crate::figures::count;
use crate::input::{self, LoadedInput, UserKind};
use crate::journal::{Journal, JournalSink, RESOLVED_USER, ResultRecord, remaining_work};
use crate::output_path::{self, NamedPath};
use crate::progress::{Progress, ProgressMode};
use crate::report::{HtmlReport, RunStats, Tally};
use crate::shutdown_signal::{ShutdownSignal, StopSignal};

mod selected;
mod tenant_check;
mod tenant_selection;
mod tenants;

pub(crate) use tenant_check::check as check_tenants;
pub(crate) use tenant_selection::{TenantLists, given_tenants, manifest_path, tenant_file};
pub(crate) use tenants::{Task, join_all, stop_reason};

/// Runs `apply` or `plan`: prepare → sign in → execute → finish → emit.
pub(crate) fn run(
    r: &RolloutSettings,
    connection: Connection,
    argv: &[OsString],
) -> Result<Completion, Error> {
    check_output_paths(r, &connection)?;
    // Bad exclusions stop the command before anything is read from the tenant.
    let exclusions = Exclusions {
        keys: crate::exclusions::load(r.exclude_file.as_deref(), &r.exclude_users)?,
        include_self: r.include_self,
    };
    let device_code = matches!(connection.sign_in, config::SignIn::DeviceCode { .. });
    // One thread: the engine is one task that owns its state, and the HTTP exchanges it spawns
    // spend their time waiting on the network. Two worker threads handed every answer from one
    // thread to the other (wake-ups, futex calls, a second allocator arena) and cost a tenth
    // more CPU for no gain in pace: the quota, not the CPU, bounds a real run. The journal
    // keeps its own thread (journal/sink.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let (prepared, connected) = match &r.users {
        Users::Input(path) => {
            let mut loaded = input::load(path, &r.input_options)?;
            tenants::prepare_input(&mut loaded, &connection)?;
            if loaded.tenant_column.is_some() {
                // A tenant column: each tenant signs in and runs on its own.
                let prepared = prepare(r, &connection, loaded)?;
                let earlier = tenants::Earlier::new();
                return tenants::run(
                    r,
                    &connection,
                    &exclusions,
                    prepared,
                    &runtime,
                    argv,
                    earlier,
                );
            }
            let prepared = prepare(r, &connection, loaded)?;
            let connected = sign_in(r, connection, &prepared, &runtime)?;
            (prepared, connected)
        }
        // The selection is resolved once signed in, before the first user is read.
        Users::Selection {
            selection,
            actions,
            tenants: Some(file),
        } => {
            return tenant_selection::run(
                r,
                &connection,
                &exclusions,
                &runtime,
                argv,
                selection,
                actions,
                file,
            );
        }
        Users::Selection {
            selection,
            actions,
            tenants: None,
        } => selected::prepare(r, connection, &runtime, selection, actions)?,
    };
    let Prepared {
        opened,
        extra,
        upfront,
        mut work,
        by_mail,
        ..
    } = prepared;
    if let Some(connected) = &connected {
        work.settings.protected = runtime.block_on(protect(
            r,
            connected,
            &exclusions,
            device_code,
            by_mail,
            &work.items,
        ))?;
    }
    // The results file is made only once signed in, so a failed sign-in leaves none behind.
    let mut journal = match opened {
        Opened::Resumed(j) => j,
        Opened::Reserved(reserved) => reserved.create(&extra)?,
        Opened::Unnamed => Journal::unnamed(&extra)?,
    };
    journal.append(&upfront)?;
    let rows_to_do = work.items.len() as u64;
    let executed = execute(r, argv, &runtime, connected, journal, work)?;
    let (tally, listed) = finish(r, executed.journal)?;
    let report = &executed.report;
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
    let html = r.html.as_deref().map(|path| HtmlReport {
        path,
        title: html_title(r),
    });
    crate::report::emit(&summary, &listed, html, r.output)?;
    executed.saved?;
    Ok(summary.completion())
}

/// The HTML report's title.
fn html_title(r: &RolloutSettings) -> String {
    format!(
        "MFA {} — {}",
        if r.dry_run { "plan" } else { "rollout" },
        r.source()
    )
}

/// The engine's work and how to do it.
struct Work {
    items: Vec<WorkItem>,
    settings: EngineSettings,
    /// (row, action) pairs to do, for the progress display.
    total: u64,
}

/// What `prepare` found, before anything is asked of the tenant.
struct Prepared {
    opened: Opened,
    /// The results file's extra columns.
    extra: Vec<String>,
    /// Records written before the engine starts (invalid and repeated rows not yet recorded).
    upfront: Vec<ResultRecord>,
    work: Work,
    /// The users an in-process sandbox without a tenant file is made of.
    sandbox_users: Vec<String>,
    by_mail: bool,
}

/// Reads the input, opens the results journal (new or resumed) and matches it against the
/// input. A new run's results file is locked and checked here, before sign-in, so nothing is
/// asked of the tenant for a run that would be refused.
fn prepare(
    r: &RolloutSettings,
    connection: &Connection,
    loaded: LoadedInput,
) -> Result<Prepared, Error> {
    let extra = extra_columns(&loaded)?;
    for w in &loaded.warnings {
        if !r.output.quiet {
            eprintln!("warning: {w}");
        }
    }
    let (opened, done) = open_results(r, &extra)?;
    // Only an in-process sandbox without a tenant file needs the input's users (it makes them).
    let make_sandbox = matches!(
        &connection.sign_in,
        config::SignIn::Sandbox { tenant: None, .. }
    );
    match_work(r, make_sandbox, loaded, extra, opened, &done)
}

/// Opens the results journal: resumed (with the records it holds), reserved (locked, made
/// once signed in) or unnamed (a `plan` without `--report`).
fn open_results(
    r: &RolloutSettings,
    extra: &[String],
) -> Result<(Opened, Vec<ResultRecord>), Error> {
    Ok(match &r.results {
        None => (Opened::Unnamed, Vec::new()),
        Some(results) if r.resume => {
            let (j, done) = Journal::resume(results, extra)?;
            (Opened::Resumed(j), done)
        }
        Some(results) => {
            let reserved = Journal::reserve(results, r.overwrite).map_err(|e| exists_for(r, e))?;
            (Opened::Reserved(reserved), Vec::new())
        }
    })
}

/// The work left once the journal's records are matched against the rows.
fn match_work(
    r: &RolloutSettings,
    make_sandbox: bool,
    loaded: LoadedInput,
    extra: Vec<String>,
    opened: Opened,
    done: &[ResultRecord],
) -> Result<Prepared, Error> {
    let sandbox_users: Vec<String> = if make_sandbox {
        loaded.jobs.iter().map(|j| j.user.clone()).collect()
    } else {
        Vec::new()
    };
    let by_mail = loaded.user_kind == UserKind::Mail;
    let (items, upfront, point) = remaining_work(
        loaded,
        done,
        r.results.as_deref().unwrap_or(Path::new("")),
        r.retry_failed,
    )?;
    if r.resume && !r.output.quiet {
        eprintln!("{}", point.message());
    }
    let mut settings = r.engine.clone();
    // A percentage is of the rows this run does (a resumed run: the rows left).
    settings.max_failures = r.failure_bound.map(|b| b.rows(items.len() as u64));
    let total = items
        .iter()
        .map(|w| (w.actions.len() - w.start_at) as u64)
        .sum();
    Ok(Prepared {
        opened,
        extra,
        upfront,
        work: Work {
            items,
            settings,
            total,
        },
        sandbox_users,
        by_mail,
    })
}

/// Signs in and checks the token's permissions for the actions left, unless nothing is left
/// to do.
fn sign_in(
    r: &RolloutSettings,
    connection: Connection,
    p: &Prepared,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<connect::Connected>, Error> {
    if p.work.items.is_empty() {
        return Ok(None);
    }
    let actions: BTreeSet<Action> = p
        .work
        .items
        .iter()
        .flat_map(|w| w.actions[w.start_at..].iter().copied())
        .collect();
    runtime.block_on(async {
        let connected = connect::connect(connection, &p.sandbox_users, p.by_mail).await?;
        if !r.output.quiet && connected.sandbox.is_none() {
            eprintln!("signed in with {}", connected.signed_in_with);
        }
        connect::check_permissions(&connected.client, &actions, r.dry_run, p.by_mail).await?;
        Ok(Some(connected))
    })
}

/// The accounts the run protects (`--exclude`, `--exclude-user`, the signed-in admin), found
/// once signed in and before the first user is read: the excluded users are read first when
/// the rows name users differently (object ids against UPNs).
async fn protect(
    r: &RolloutSettings,
    connected: &connect::Connected,
    exclusions: &Exclusions,
    device_code: bool,
    by_mail: bool,
    items: &[WorkItem],
) -> Result<std::sync::Arc<Protected>, Error> {
    let lookup = crate::exclusions::needs_lookup(
        &exclusions.keys,
        by_mail,
        items.iter().map(|w| w.user.as_str()),
    );
    let actions: BTreeSet<Action> = items
        .iter()
        .flat_map(|w| w.actions[w.start_at..].iter().copied())
        .collect();
    let protected = crate::exclusions::protected(
        &connected.client,
        exclusions,
        lookup,
        device_code,
        &actions,
        r.output.quiet,
    )
    .await?;
    Ok(std::sync::Arc::new(protected))
}

/// A run the engine finished: the journal with every record written, what the engine
/// reports, and whether the sandbox state was saved.
struct Executed {
    journal: Journal,
    report: engine::EngineReport,
    saved: Result<(), Error>,
}

/// Runs the engine with the journal and progress as its sink until the work is done or
/// something stops it; a stop is the run's error (after the journal is synced).
fn execute(
    r: &RolloutSettings,
    argv: &[OsString],
    runtime: &tokio::runtime::Runtime,
    connected: Option<connect::Connected>,
    journal: Journal,
    work: Work,
) -> Result<Executed, Error> {
    let progress = Progress::new(
        work.total,
        ProgressMode::detect(r.output.quiet || r.output.json),
    );
    let mut sink = JournalSink::new(journal, progress.clone());
    let stop_signal = ShutdownSignal::default();
    let (report, saved) = runtime.block_on(async {
        let Some(connected) = connected else {
            return (engine::EngineReport::default(), Ok(()));
        };
        let transport = std::sync::Arc::new(connected.client.clone());
        let shutdown = stop_signal.wait();
        let report = engine::run(transport, work.items, &work.settings, &mut sink, shutdown).await;
        // Whatever stopped the run, the sandbox tenant keeps what it was changed to.
        let saved = connected.save_sandbox_state();
        drop(connected);
        (report, saved)
    });
    if let (Err(e), Some(_)) = (&saved, &report.stop) {
        // The run stops with its own error below; this one must not go unsaid.
        eprintln!("error: {e}");
    }
    progress.finish();
    let mut journal = sink
        .close()
        .map_err(|e| Error::Other(format!("{e}; nothing more was sent. {}", go_on(r, argv))))?;
    if let Some(stop) = &report.stop {
        if !matches!(stop, Stop::Sink(_)) {
            let _ = journal.sync();
        }
        let signal = stop_signal.received().unwrap_or(StopSignal::Interrupt);
        return Err(stop_error(r, argv, stop, report.rows_ended, signal));
    }
    Ok(Executed {
        journal,
        report,
        saved,
    })
}

/// The error a stopped run ends with: why it stopped, where its records are and how to go on.
fn stop_error(
    r: &RolloutSettings,
    argv: &[OsString],
    stop: &Stop,
    rows_ended: u64,
    signal: StopSignal,
) -> Error {
    match stop {
        Stop::Interrupted => {
            let message = format!(
                "{}; {}. {}",
                signal.described(),
                records_so_far(r),
                go_on(r, argv)
            );
            match signal {
                StopSignal::Interrupt => Error::Interrupted(message),
                StopSignal::Terminate => Error::Terminated(message),
            }
        }
        Stop::SignIn(cause) | Stop::Breaker(cause) | Stop::MaxFailures(cause) => {
            let why = match stop {
                Stop::MaxFailures(_) => "--max-failures stopped the run",
                _ => "the circuit breaker stopped the run",
            };
            let ended = count(rows_ended, "row", "rows");
            let message = match (&r.results, r.is_plan()) {
                (Some(results), false) => format!(
                    "{why}: {cause}. {ended} ended before the stop (in {}); the rows not \
                     finished are not recorded, so --resume does them. {}",
                    results.display(),
                    go_on(r, argv)
                ),
                _ => format!(
                    "{why}: {cause}. {ended} ended before the stop; {}. {}",
                    records_so_far(r),
                    go_on(r, argv)
                ),
            };
            match stop {
                Stop::SignIn(_) => Error::Auth(message),
                _ => Error::Guard(message),
            }
        }
        Stop::MaxChanges(message) => Error::Guard(message.clone()),
        Stop::Sink(message) => Error::Other(format!(
            "{message}; nothing more was sent. {}",
            go_on(r, argv)
        )),
    }
}

/// Compacts the journal into the results file (input order, one row per (row, action)) and
/// marks it for Excel when asked. The summary counts records as the compaction writes them;
/// only an HTML report, which lists them, keeps them.
fn finish(r: &RolloutSettings, journal: Journal) -> Result<(Tally, Vec<ResultRecord>), Error> {
    let mut tally = Tally::new();
    let mut listed = Vec::new();
    journal.finish(|record| {
        tally.add(record);
        if r.html.is_some() {
            listed.push(record.clone());
        }
    })?;
    if let (true, Some(results)) = (r.excel, &r.results) {
        crate::journal::add_excel_bom(results)?;
    }
    Ok((tally, listed))
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

/// The command that resumes this run (`apply` or `export`): the same arguments, `--resume`
/// instead of `--overwrite`.
pub(crate) fn resume_command(argv: &[OsString]) -> String {
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

impl RolloutSettings {
    /// Whose rows, for titles: the input file, or the selection's flags.
    fn source(&self) -> String {
        match &self.users {
            Users::Input(path) => path.display().to_string(),
            Users::Selection { selection, .. } => selection.describe(),
        }
    }

    /// `plan`, which takes no `--resume` (unlike `apply --dry-run`).
    fn is_plan(&self) -> bool {
        self.results_flag == "--report"
    }
}

/// Where a stopped run's records are: `the results so far are in r.csv`.
fn records_so_far(r: &RolloutSettings) -> String {
    match (&r.results, r.is_plan()) {
        (Some(results), false) => format!("the results so far are in {}", results.display()),
        (Some(report), true) => format!("the plan so far is in {}", report.display()),
        (None, _) => "nothing was written".to_string(),
    }
}

/// How to go on after a stop: `--resume` for `apply`; `plan` takes none, so it is run again
/// (over its partial report with `--overwrite`).
fn go_on(r: &RolloutSettings, argv: &[OsString]) -> String {
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
fn exists_for(r: &RolloutSettings, e: crate::journal::JournalError) -> Error {
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
fn check_output_paths(r: &RolloutSettings, connection: &Connection) -> Result<(), Error> {
    let named = |flag, path| NamedPath { flag, path };
    let mut inputs = match &r.users {
        Users::Input(path) => vec![named("INPUT", path.as_path())],
        Users::Selection { .. } => Vec::new(),
    };
    if let Some(exclude) = &r.exclude_file {
        inputs.push(named("--exclude", exclude.as_path()));
    }
    output_path::check_distinct(
        &inputs,
        &[
            r.results.as_deref().map(|p| named(r.results_flag, p)),
            r.html.as_deref().map(|p| named("--html", p)),
            connection
                .sandbox_state()
                .map(|p| named("--sandbox-state", p)),
        ],
    )?;
    if let Some(html) = &r.html {
        output_path::check_overwrite("--html", html, r.overwrite || r.resume)?;
    }
    if r.results.is_none() && r.excel {
        return Err(Error::Usage(format!(
            "--excel marks the report CSV for Excel, and there is none: give {} FILE too",
            r.results_flag
        )));
    }
    Ok(())
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
