//! `export --tenants FILE` (issue 20): the export of every tenant the file names, in one run
//! and one output file. Each tenant is signed in to and its selection listed on its own, all
//! at once, as `apply --tenants` does (rollout's `TenantLists`: `FILE.TENANT.users` and the
//! manifest `FILE.tenants`), then its users are read by its own engine (its own read budget,
//! pacer and breaker: Graph's quota is per app and tenant, docs/graph.md §6), the engines side
//! by side in one task, each journaling into its own `FILE.TENANT.partial`. The output holds
//! the finished tenants, tenant after tenant in the `--tenants` file's order, each in listing
//! order, with a `tenant` column after the fixed ones, so the file (its `action` filled in)
//! is a many-tenant input for `plan`/`apply`.
//!
//! A tenant that cannot be signed in to or listed, or whose engine stops (breaker, tokens
//! refused), is left out of the file and reported with its reason (exit 5) while the others
//! finish; its list and journal stay beside the file, as do the others', so `--resume` reads
//! only its users not read yet and writes the whole file again. A run in which every tenant
//! finished removes those files.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{
    ExportSink, ExportSummary, Final, Part, TenantOutcome, check_out, export_file::ExportJournal,
    to_read, write_in_listing_order,
};
use crate::action::Action;
use crate::config::{Connection, ExportSettings};
use crate::engine::{self, EngineReport, Stop, WorkItem};
use crate::error::{Completion, Error};
use crate::figures::{count, thousands};
use crate::progress::{Progress, ProgressMode};
use crate::rollout::{
    Task, TenantLists, given_tenants, join_all, manifest_path, resume_command, stop_reason,
};
use crate::shutdown_signal::{ShutdownSignal, StopSignal};

/// One tenant of the export.
struct Tenant {
    name: String,
    /// Its users not read yet (all of them in a new export).
    work: Vec<WorkItem>,
    /// Why it did not finish, once known.
    stop: Option<String>,
}

/// `FILE.TENANT.partial`: a tenant's journal.
fn journal_of(out: &Path, tenant: &str) -> PathBuf {
    crate::rollout::tenant_file(out, tenant, "partial")
}

/// `export --tenants FILE`: list in every tenant → read every tenant's users side by side →
/// the one file of the tenants that finished → the summary with a line per tenant.
pub(super) fn run(
    s: &ExportSettings,
    connection: &Connection,
    argv: &[OsString],
    tenants_file: &Path,
) -> Result<Completion, Error> {
    let out = s.out.as_path();
    let given = given_tenants(tenants_file, connection)?;
    check_out(s, connection, &manifest_path(out))?;
    let quiet = s.output.quiet || s.output.json;
    let mut lists = TenantLists::open(out, given, tenants_file, s.resume, &s.selection, quiet)?;
    let listed_before: Vec<String> = lists.listed.clone();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let needs: BTreeSet<Action> = [Action::Export].into();
    let mut earlier = lists.sign_in_and_list(
        connection,
        &s.selection,
        Some((&needs, true)),
        s.engine.max_attempts.get(),
        &runtime,
        quiet,
    )?;

    // Each listed tenant's users not read yet, from its list and its journal.
    let mut tenants: Vec<Tenant> = Vec::with_capacity(lists.given.len());
    let mut journals: Vec<Option<ExportJournal>> = Vec::with_capacity(lists.given.len());
    for name in &lists.given {
        let mut tenant = Tenant {
            name: name.clone(),
            work: Vec::new(),
            stop: None,
        };
        if !lists.listed.contains(name) {
            tenant.stop = Some(match earlier.get(name) {
                Some(Err(e)) => e.clone(),
                _ => "not listed".to_string(),
            });
            tenants.push(tenant);
            journals.push(None);
            continue;
        }
        let journal_file = journal_of(out, name);
        // A list made by the run being resumed has its journal (made just after it).
        let resumed = listed_before.contains(name) && journal_file.exists();
        let (work, n, journal) = to_read(&lists.users_file(name), &journal_file, resumed)?;
        tenant.work = work;
        // A tenant with users to read needs its sign-in; one read through does not.
        if !tenant.work.is_empty()
            && let Some(Err(e)) = earlier.get(name)
        {
            tenant.stop = Some(e.clone());
        }
        if resumed && !quiet {
            eprintln!(
                "tenant {name}: resuming: {} of {} read; {} to do",
                thousands(n - tenant.work.len() as u64),
                count(n, "user", "users"),
                thousands(tenant.work.len() as u64)
            );
        }
        tenants.push(tenant);
        journals.push(Some(journal));
    }
    for t in &tenants {
        if let Some(e) = &t.stop {
            // Said even with --quiet: the run will not finish this tenant.
            eprintln!("tenant {}: {e}", t.name);
        }
    }
    if tenants.iter().all(|t| t.stop.is_some()) {
        // No tenant to export: like a one-tenant export whose sign-in fails, nothing is made.
        let reasons: Vec<String> = tenants
            .iter()
            .filter_map(|t| t.stop.as_ref().map(|e| format!("{}: {e}", t.name)))
            .collect();
        if lists.listed.is_empty() && !s.resume {
            // Nothing listed: no export is under way, and none is left to resume.
            let _ = std::fs::remove_file(lists.manifest());
        }
        let resume = if lists.listed.is_empty() {
            String::new()
        } else {
            format!(
                "; the lists made are kept: resume with: {}",
                resume_command(argv)
            )
        };
        return Err(Error::Auth(format!(
            "no tenant could be exported; {}{resume}",
            reasons.join("; ")
        )));
    }

    // Every tenant's engine, side by side in this one task, each with its own journal.
    let total: u64 = tenants
        .iter()
        .filter(|t| t.stop.is_none())
        .map(|t| t.work.len() as u64)
        .sum();
    let progress = Progress::new(total, ProgressMode::detect(quiet));
    let stop_signal = ShutdownSignal::default();
    // The engines split one engine's running jobs among them (engine::scheduler).
    let mut settings = s.engine.clone();
    // Graph limits one app's resource units across all its tenants too (docs/graph.md §6):
    // every tenant's reads also draw from one budget, and an Application-scope 429 slows it.
    settings.shared_units = settings.app_units.map(|pace| {
        crate::engine::pacer::SharedBudget::new(
            pace,
            settings.batch_size,
            std::time::Instant::now(),
        )
    });
    settings.engines = std::num::NonZeroUsize::new(
        tenants
            .iter()
            .filter(|t| t.stop.is_none() && !t.work.is_empty())
            .count(),
    )
    .unwrap_or(std::num::NonZeroUsize::MIN);
    let settings = &settings;
    let mut running: Vec<usize> = Vec::new();
    let mut engines: Vec<Task<'_, EngineReport>> = Vec::new();
    for (i, (tenant, journal)) in tenants.iter_mut().zip(journals).enumerate() {
        let (Some(journal), None) = (journal, &tenant.stop) else {
            continue;
        };
        let Some(Ok(connected)) = earlier.remove(&tenant.name) else {
            // Read through already, and not signed in to now: nothing to send.
            continue;
        };
        let work = std::mem::take(&mut tenant.work);
        let mut sink = ExportSink {
            journal,
            progress: progress.clone(),
            buffer: Vec::new(),
            rates: false,
        };
        let shutdown = stop_signal.wait();
        running.push(i);
        engines.push(Box::pin(async move {
            let transport = std::sync::Arc::new(connected.client.clone());
            let report = engine::run(transport, work, settings, &mut sink, shutdown).await;
            drop(connected);
            report
        }));
    }
    drop(earlier);
    let reports = runtime.block_on(join_all(engines));
    progress.finish();
    let resume_hint = || format!("resume with: {}", resume_command(argv));
    // A stop of the whole run (Ctrl-C, a journal that cannot be written) ends it as a
    // one-tenant export's does.
    if let Some(stop) = reports
        .iter()
        .filter_map(|r| r.stop.as_ref())
        .find(|s| matches!(s, Stop::Interrupted | Stop::Sink(_)))
    {
        return Err(match stop {
            Stop::Sink(message) => Error::Other(format!("{message}. {}", resume_hint())),
            _ => {
                let signal = stop_signal.received().unwrap_or(StopSignal::Interrupt);
                let message = format!(
                    "{}; the users read so far are in the tenants' journals ({}). {}",
                    signal.described(),
                    journal_of(out, "TENANT").display(),
                    resume_hint()
                );
                match signal {
                    StopSignal::Interrupt => Error::Interrupted(message),
                    StopSignal::Terminate => Error::Terminated(message),
                }
            }
        });
    }
    let writes: u64 = reports.iter().map(|r| r.writes).sum();
    if writes > 0 {
        // The engines ran dry with a read-only action: a write here is a bug, said loudly.
        return Err(Error::Other(format!(
            "internal error: the export sent {writes} writes"
        )));
    }
    for (&i, report) in running.iter().zip(&reports) {
        if let Some(why) = report.stop.as_ref().and_then(stop_reason) {
            eprintln!("tenant {}: stopped: {why}", tenants[i].name);
            tenants[i].stop = Some(why);
        }
    }

    // The finished tenants, in the --tenants file's order, into the one file.
    let parts: Vec<Part<'_>> = tenants
        .iter()
        .filter(|t| t.stop.is_none())
        .map(|t| Part {
            tenant: Some(t.name.as_str()),
            users_file: lists.users_file(&t.name),
            journal_file: journal_of(out, &t.name),
        })
        .collect();
    let summaries = write_in_listing_order(out, s.excel, &parts)
        .map_err(|e: Final| e.into_error(out, &resume_hint()))?;
    let mut total = ExportSummary::default();
    for summary in &summaries {
        total.merge(summary);
    }
    // Each tenant's counts beside it (a stopped tenant has none).
    let mut finished = summaries.into_iter();
    let lines: Vec<(&Tenant, Option<ExportSummary>)> = tenants
        .iter()
        .map(|t| (t, t.stop.is_none().then(|| finished.next()).flatten()))
        .collect();
    if let Some(html) = &s.html {
        let outcomes: Vec<TenantOutcome<'_>> = lines
            .iter()
            .map(|(t, summary)| TenantOutcome {
                tenant: &t.name,
                summary: summary.as_ref(),
                stop: t.stop.as_deref(),
            })
            .collect();
        super::write_html(html, &total, out, &outcomes)?;
    }
    let all_finished = tenants.iter().all(|t| t.stop.is_none());
    if all_finished {
        for t in &tenants {
            let _ = std::fs::remove_file(journal_of(out, &t.name));
            let _ = std::fs::remove_file(lists.users_file(&t.name));
        }
        let _ = std::fs::remove_file(lists.manifest());
    }
    if s.output.json {
        let mut json = total.to_json(out);
        json["tenants"] = lines
            .iter()
            .map(|(t, summary)| {
                serde_json::json!({
                    "tenant": t.name,
                    "users": summary.as_ref().map_or(0, |s| s.users),
                    "not_read": summary.as_ref().map_or(0, |s| s.not_read),
                    "finished": t.stop.is_none(),
                    "stop_reason": t.stop,
                })
            })
            .collect();
        println!("{json}");
    } else if s.output.quiet {
        if let Some(first) = total.render_text(out).lines().next() {
            println!("{first}");
        }
    } else {
        print!("{}", total.render_text(out));
        println!("tenants:");
        let width = tenants.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for (t, summary) in &lines {
            let what = match (&t.stop, summary) {
                (Some(why), _) => format!("STOPPED: {why}"),
                (None, Some(s)) if s.not_read > 0 => format!(
                    "{} · {} not read",
                    count(s.users, "user", "users"),
                    thousands(s.not_read)
                ),
                (None, Some(s)) => format!("{} · done", count(s.users, "user", "users")),
                (None, None) => "done".to_string(),
            };
            println!("  {:<width$}  {what}", t.name);
        }
        let reads: u64 = reports.iter().map(|r| r.reads).sum();
        let throttled: u64 = reports.iter().map(|r| r.throttled).sum();
        let secs = reports
            .iter()
            .map(|r| r.elapsed)
            .max()
            .unwrap_or_default()
            .as_secs_f64();
        if secs > 0.0 {
            println!(
                "  {} reads in {secs:.1} s, {} answered 429",
                thousands(reads),
                thousands(throttled)
            );
        }
    }
    if !all_finished {
        if !quiet {
            eprintln!(
                "the stopped tenants' users are exported by: {}",
                resume_command(argv)
            );
        }
        return Ok(Completion::SomeTenantsStopped);
    }
    Ok(total.completion())
}
