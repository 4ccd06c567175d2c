//! `apply` and `plan` over an input with a tenant column (issue 20, docs/graph.md §14): the
//! managed service provider's rollout. Each tenant is its own world: its own sign-in (the one
//! multi-tenant app and its credential, against that tenant's token endpoint) and token
//! renewal, its own permission check, and its own engine, so its own read and write budgets,
//! adaptive pacer, circuit breaker, `--max-changes` and `--limit` (Graph's quota is per app
//! and tenant, docs/graph.md §6). The engines run concurrently on the one runtime and in one
//! task (`join_all`: no thread or task per tenant; a tenant's state is its engine's), all
//! feeding the one results journal.
//!
//! A tenant that refuses sign-in, has not consented, lacks a permission or stops (breaker,
//! Graph refusing its tokens, `--max-failures`, `--max-changes`) is reported with its reason
//! and its unfinished rows are left out of the results, so `--resume` does them; the other
//! tenants go on, and the run exits 5. Ctrl-C stops every tenant.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};

use super::{Opened, Prepared, go_on, html_title, protect, resume_command, stop_error};
use crate::action::Action;
use crate::config::{Connection, RolloutSettings, SignIn};
use crate::connect;
use crate::engine::Protected;
use crate::engine::pacer::SharedBudget;
use crate::engine::{self, EngineReport, Requests, Sink, Stop, WorkItem};
use crate::error::{Completion, Error};
use crate::exclusions::Exclusions;
use crate::figures::row_list;
use crate::input::LoadedInput;
use crate::journal::{Journal, JournalSink, ResultRecord, Status};
use crate::progress::{Progress, ProgressMode};
use crate::report::{HtmlReport, Remaining, RunStats, Tally, TenantLine};
use crate::shutdown_signal::{ShutdownSignal, StopSignal};

/// The tenant the sign-in settings name (`--tenant-id` / `AZURE_TENANT_ID`): the tenant of
/// the rows whose tenant cell is empty.
fn named_tenant(c: &Connection) -> Option<&str> {
    match &c.sign_in {
        SignIn::ClientSecret { tenant, .. }
        | SignIn::Certificate { tenant, .. }
        | SignIn::WorkloadIdentity { tenant, .. }
        | SignIn::AzureCli { tenant } => tenant.as_deref(),
        SignIn::DeviceCode { tenant, .. } => Some(tenant.as_str()),
        SignIn::Sandbox { .. } | SignIn::StaticToken(_) | SignIn::ManagedIdentity { .. } => None,
    }
}

/// Refuses (exit 2, before anything is sent) a sign-in that reaches one tenant only, for a
/// run over many (`what` says why it is one: a tenant column, `--tenants`).
pub(crate) fn check_mode(c: &Connection, what: &str) -> Result<(), Error> {
    let why = match &c.sign_in {
        SignIn::ClientSecret { .. }
        | SignIn::Certificate { .. }
        | SignIn::WorkloadIdentity { .. }
        | SignIn::AzureCli { .. } => return Ok(()),
        SignIn::Sandbox { .. } => {
            "--sandbox serves one tenant; rehearse a many-tenant run against `mfa-rollout emulator --tenant FILE` (a tenant file with a tenants list) with --graph-url and --authority-host"
        }
        SignIn::StaticToken(_) => "a static token (GRAPH_ACCESS_TOKEN) is for one tenant",
        SignIn::ManagedIdentity { .. } => "a managed identity signs in to its own tenant only",
        SignIn::DeviceCode { .. } => {
            "device code sign-in asks a person once per tenant; sign in as the app (secret, certificate or workload identity)"
        }
    };
    Err(Error::Usage(format!(
        "{what}, so each tenant is signed in to on its own, and {why}"
    )))
}

/// Checks that this sign-in can reach many tenants and gives every row its tenant: an empty
/// tenant cell is `--tenant-id`'s (normalized as the cells are). Before anything is sent.
pub(super) fn prepare_input(loaded: &mut LoadedInput, c: &Connection) -> Result<(), Error> {
    let Some(column) = loaded.tenant_column.clone() else {
        // One tenant: the sign-in must name it.
        return c.sign_in.missing_tenant().map_or(Ok(()), Err);
    };
    check_mode(c, &format!("the input has a tenant column ('{column}')"))?;
    let default = match named_tenant(c) {
        Some(t) => match crate::input::check_tenant(t) {
            Ok(key) => Some(key),
            Err(e) => return Err(Error::Usage(format!("--tenant-id: {e}"))),
        },
        None => None,
    };
    let mut empty = Vec::new();
    let cells = loaded
        .jobs
        .iter_mut()
        .map(|j| (j.row, &mut j.keep))
        .chain(loaded.invalid.iter_mut().map(|p| (p.row, &mut p.keep)));
    for (row, keep) in cells {
        if let Some(cell) = keep.first_mut().filter(|c| c.is_empty()) {
            match &default {
                Some(t) => t.clone_into(cell),
                None => empty.push(row),
            }
        }
    }
    if !empty.is_empty() {
        return Err(Error::Usage(format!(
            "{}: column '{column}' is empty and no --tenant-id (AZURE_TENANT_ID) names a tenant for such rows",
            row_list(&empty)
        )));
    }
    Ok(())
}

/// The same sign-in, against `tenant`'s token endpoint (the one app, the one credential).
pub(crate) fn for_tenant(c: &Connection, tenant: &str) -> Result<Connection, String> {
    let copy = |s: &SecretString| SecretString::from(s.expose_secret().to_owned());
    let named = tenant.to_string();
    let tenant = Some(named.clone());
    let sign_in = match &c.sign_in {
        SignIn::ClientSecret {
            client_id, secret, ..
        } => SignIn::ClientSecret {
            tenant,
            client_id: client_id.clone(),
            secret: copy(secret),
        },
        SignIn::Certificate {
            client_id,
            path,
            password,
            algorithm,
            ..
        } => SignIn::Certificate {
            tenant,
            client_id: client_id.clone(),
            path: path.clone(),
            password: password.as_ref().map(copy),
            algorithm: *algorithm,
        },
        SignIn::WorkloadIdentity {
            client_id,
            token_file,
            ..
        } => SignIn::WorkloadIdentity {
            tenant,
            client_id: client_id.clone(),
            token_file: token_file.clone(),
        },
        SignIn::DeviceCode { client_id, .. } => SignIn::DeviceCode {
            tenant: named,
            client_id: client_id.clone(),
        },
        SignIn::AzureCli { .. } => SignIn::AzureCli { tenant },
        // Refused by `prepare_input` before anything is sent.
        SignIn::Sandbox { .. } | SignIn::StaticToken(_) | SignIn::ManagedIdentity { .. } => {
            return Err("this sign-in reaches one tenant only".to_string());
        }
    };
    Ok(Connection {
        sign_in,
        chosen: c.chosen.clone(),
        cloud: c.cloud,
        graph_url: c.graph_url.clone(),
        authority: c.authority.clone(),
        scope: c.scope.clone(),
    })
}

/// A tenant's share of a step, as one future among the others.
pub(crate) type Task<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Polls every future in this one task until all are done; their outputs in order.
pub(crate) async fn join_all<T>(futures: Vec<Task<'_, T>>) -> Vec<T> {
    let mut futures: Vec<Option<Task<'_, T>>> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (slot, done) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *done = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(out.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

/// One tenant's engine's sink: the run's one journal sink, borrowed for each call (the
/// engines run in one task, so no two calls overlap).
struct TenantSink<'a> {
    journal: &'a RefCell<JournalSink>,
}

impl Sink for TenantSink<'_> {
    fn record(&mut self, record: ResultRecord) -> Result<(), String> {
        self.journal.borrow_mut().record(record)
    }

    fn flush(&mut self) -> Result<(), String> {
        self.journal.borrow_mut().flush()
    }

    fn throttled(&mut self, count: u64) {
        self.journal.borrow_mut().throttled(count);
    }

    // Each engine's request counts are its own: the progress display's rates would mix
    // them, so it goes by rows alone.
    fn paced(&mut self, _sent: Requests) {}
}

/// One tenant's share of the run.
struct TenantWork {
    tenant: String,
    items: Vec<WorkItem>,
}

/// Sign-ins made before the run (a selection over `--tenants` signs in to resolve it): each
/// tenant's connection, or why it has none (its stop reason). Tenants without rows get a line
/// in the summary all the same.
pub(crate) type Earlier = HashMap<String, Result<connect::Connected, String>>;

/// Why a tenant's engine stopped, as its summary line says it; `None` when it finished (or
/// stopped at `--limit`, which is planned).
pub(crate) fn stop_reason(stop: &Stop) -> Option<String> {
    match stop {
        Stop::SignIn(cause) => Some(format!("Graph refused its tokens: {cause}")),
        Stop::Breaker(cause) => Some(format!("the circuit breaker stopped it: {cause}")),
        Stop::MaxFailures(cause) => Some(format!("--max-failures stopped it: {cause}")),
        Stop::MaxChanges(message) => Some(message.clone()),
        Stop::Interrupted | Stop::Sink(_) => None,
    }
}

/// `apply`/`plan` with a tenant column: sign in to every tenant → run their engines side by
/// side → finish the journal → the summary with a line per tenant, then the total.
pub(super) fn run(
    r: &RolloutSettings,
    connection: &Connection,
    exclusions: &Exclusions,
    prepared: Prepared,
    runtime: &tokio::runtime::Runtime,
    argv: &[OsString],
    mut earlier: Earlier,
) -> Result<Completion, Error> {
    let Prepared {
        opened,
        extra,
        upfront,
        work,
        by_mail,
        ..
    } = prepared;
    // The tenant is the first passthrough cell of every row (`input::Job::tenant`); in the
    // records it follows `resolved_user` for a mail column.
    let tenant_at = usize::from(by_mail);
    let mut order: Vec<String> = Vec::new();
    let mut shares: Vec<TenantWork> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in work.items {
        let tenant = item.extra.first().cloned().unwrap_or_default();
        let i = *index.entry(tenant.clone()).or_insert_with(|| {
            shares.push(TenantWork {
                tenant: tenant.clone(),
                items: Vec::new(),
            });
            order.push(tenant.clone());
            shares.len() - 1
        });
        shares[i].items.push(item);
    }

    // Sign in to each tenant and check its permissions, all at once.
    // Each tenant's protected accounts (`--exclude`, `--exclude-user`) are found there.
    type SignedIn = (connect::Connected, Arc<Protected>);
    // One HTTP client for every tenant: its connections are shared, the tokens are per
    // request (docs/graph.md §14).
    let http = crate::graph::GraphClient::http_client();
    let sign_ins: Vec<Task<'_, Result<SignedIn, String>>> = shares
        .iter()
        .map(|share| {
            let c = for_tenant(connection, &share.tenant);
            let before = earlier.remove(&share.tenant);
            let http = http.clone();
            let actions: BTreeSet<Action> = share
                .items
                .iter()
                .flat_map(|w| w.actions[w.start_at..].iter().copied())
                .collect();
            Box::pin(async move {
                let connected = match before {
                    Some(done) => done?,
                    None => connect::connect_over(c?, &[], by_mail, http)
                        .await
                        .map_err(|e| format!("not signed in: {e}"))?,
                };
                connect::check_permissions(&connected.client, &actions, r.dry_run, by_mail)
                    .await
                    .map_err(|e| e.to_string())?;
                let protected = protect(r, &connected, exclusions, false, by_mail, &share.items)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((connected, protected))
            }) as Task<'_, _>
        })
        .collect();
    let signed = runtime.block_on(join_all(sign_ins));
    let mut stops: HashMap<String, String> = HashMap::new();
    for (share, s) in shares.iter().zip(&signed) {
        match s {
            Ok((c, _)) if !r.output.quiet => {
                eprintln!(
                    "tenant {}: signed in with {}",
                    share.tenant, c.signed_in_with
                );
            }
            Ok(_) => {}
            Err(e) => {
                // Said even with --quiet: the run will not finish this tenant.
                eprintln!("tenant {}: {e}", share.tenant);
                stops.insert(share.tenant.clone(), e.clone());
            }
        }
    }
    // Tenants signed in to before, without rows here: a line each (those that failed, why).
    let mut rowless: Vec<String> = earlier.keys().cloned().collect();
    rowless.sort();
    for tenant in &rowless {
        if let Some(Err(e)) = earlier.get(tenant) {
            eprintln!("tenant {tenant}: {e}");
            stops.insert(tenant.clone(), e.clone());
        }
    }
    drop(earlier);
    order.extend(rowless.iter().cloned());
    let tenants = shares.len() + rowless.len();
    if tenants > 0 && stops.len() == tenants {
        // No tenant to work in: like a one-tenant run whose sign-in fails, nothing is made.
        let reasons: Vec<String> = order
            .iter()
            .filter_map(|t| stops.get(t).map(|e| format!("{t}: {e}")))
            .collect();
        return Err(Error::Auth(format!(
            "no tenant could be signed in to; {}",
            reasons.join("; ")
        )));
    }

    // Rows of tenants that did not sign in remain too.
    let rows_to_do: u64 = shares.iter().map(|s| s.items.len() as u64).sum();
    let mut journal = match opened {
        Opened::Resumed(j) => j,
        Opened::Reserved(reserved) => reserved.create(&extra)?,
        Opened::Unnamed => Journal::unnamed(&extra)?,
    };
    journal.append(&upfront)?;
    let runs: Vec<(TenantWork, SignedIn)> = shares
        .into_iter()
        .zip(signed)
        .filter_map(|(share, s)| s.ok().map(|c| (share, c)))
        .collect();
    let total = runs
        .iter()
        .flat_map(|(share, _)| &share.items)
        .map(|w| (w.actions.len() - w.start_at) as u64)
        .sum();
    let progress = Progress::new(total, ProgressMode::detect(r.output.quiet || r.output.json));
    let sink = RefCell::new(JournalSink::new(journal, progress.clone()));
    let stop_signal = ShutdownSignal::default();
    let tenants_run: Vec<String> = runs.iter().map(|(s, _)| s.tenant.clone()).collect();
    // Graph limits one app's writes across all its tenants too (docs/graph.md §6): every
    // tenant's writes draw from one budget besides their own, and an Application-scope 429
    // slows it for all of them.
    let shared = |pace: Option<_>| {
        pace.map(|pace| SharedBudget::new(pace, work.settings.batch_size, Instant::now()))
    };
    let (app_writes, app_units) = (
        shared(work.settings.app_writes),
        shared(work.settings.app_units),
    );
    // The engines split one engine's running jobs among them (engine::scheduler).
    let engines = std::num::NonZeroUsize::new(runs.len()).unwrap_or(std::num::NonZeroUsize::MIN);
    let engines: Vec<Task<'_, EngineReport>> = runs
        .into_iter()
        .map(|(share, (connected, protected))| {
            let mut settings = work.settings.clone();
            settings.protected = protected;
            settings.shared_writes.clone_from(&app_writes);
            settings.shared_units.clone_from(&app_units);
            settings.engines = engines;
            // A percentage is of this tenant's rows, as --max-changes and --limit are its.
            settings.max_failures = r.failure_bound.map(|b| b.rows(share.items.len() as u64));
            let sink = &sink;
            let shutdown = stop_signal.wait();
            Box::pin(async move {
                let transport = Arc::new(connected.client.clone());
                let mut tenant_sink = TenantSink { journal: sink };
                let report = engine::run(
                    transport,
                    share.items,
                    &settings,
                    &mut tenant_sink,
                    shutdown,
                )
                .await;
                drop(connected);
                report
            }) as Task<'_, _>
        })
        .collect();
    let reports = runtime.block_on(join_all(engines));
    progress.finish();
    let mut journal = sink
        .into_inner()
        .close()
        .map_err(|e| Error::Other(format!("{e}; nothing more was sent. {}", go_on(r, argv))))?;
    let rows_ended: u64 = reports.iter().map(|rep| rep.rows_ended).sum();
    // A stop of the whole run (Ctrl-C, the results file) ends it as a one-tenant run's does.
    if let Some(stop) = reports
        .iter()
        .filter_map(|rep| rep.stop.as_ref())
        .find(|s| matches!(s, Stop::Interrupted | Stop::Sink(_)))
    {
        if !matches!(stop, Stop::Sink(_)) {
            let _ = journal.sync();
        }
        let signal = stop_signal.received().unwrap_or(StopSignal::Interrupt);
        return Err(stop_error(r, argv, stop, rows_ended, signal));
    }
    for (tenant, rep) in tenants_run.iter().zip(&reports) {
        if let Some(why) = rep.stop.as_ref().and_then(stop_reason) {
            eprintln!("tenant {tenant}: stopped: {why}");
            stops.insert(tenant.clone(), why);
        }
    }

    // Compaction, counting each tenant's records apart.
    let mut tally = Tally::new();
    let mut per_tenant: HashMap<String, Tally> = HashMap::new();
    let mut listed = Vec::new();
    journal.finish(|record| {
        tally.add(record);
        let tenant = record.extra.get(tenant_at).cloned().unwrap_or_default();
        if !per_tenant.contains_key(&tenant) {
            order.push(tenant.clone());
        }
        per_tenant.entry(tenant).or_default().add(record);
        if r.html.is_some() {
            listed.push(record.clone());
        }
    })?;
    if let (true, Some(results)) = (r.excel, &r.results) {
        crate::journal::add_excel_bom(results)?;
    }
    let mut seen = BTreeSet::new();
    order.retain(|t| seen.insert(t.clone()));
    let lines: Vec<TenantLine> = order
        .iter()
        .map(|tenant| {
            let counted = per_tenant
                .remove(tenant)
                .unwrap_or_default()
                .summary(None, None, r.dry_run);
            let rep = tenants_run
                .iter()
                .position(|t| t == tenant)
                .and_then(|i| reports.get(i));
            let mut totals = [0; 7];
            for (n, s) in totals.iter_mut().zip(Status::ALL) {
                *n = counted.total(s);
            }
            TenantLine {
                tenant: tenant.clone(),
                totals,
                rows: counted.rows(),
                elapsed: rep.map(|r| r.elapsed).unwrap_or_default(),
                writes: rep.map_or(0, |r| r.writes),
                throttled: rep.map_or(0, |r| r.throttled),
                stop: stops.get(tenant).cloned(),
            }
        })
        .collect();
    let stats = RunStats {
        elapsed: reports.iter().map(|r| r.elapsed).max().unwrap_or_default(),
        reads: reports.iter().map(|r| r.reads).sum(),
        writes: reports.iter().map(|r| r.writes).sum(),
        throttled: reports.iter().map(|r| r.throttled).sum(),
        retries: reports.iter().map(|r| r.retries).sum(),
        final_write_rate: None,
        final_read_rate: None,
    };
    let left = rows_to_do.saturating_sub(rows_ended);
    let summary = tally
        .summary(Some(stats), r.results.as_deref(), r.dry_run)
        .with_remaining(Remaining {
            rows: left,
            limit: r.limit,
            continue_with: (left > 0).then(|| resume_command(argv)),
        })
        .with_tenants(lines);
    let html = r.html.as_deref().map(|path| HtmlReport {
        path,
        title: html_title(r),
    });
    crate::report::emit(&summary, &listed, html, r.output)?;
    Ok(summary.completion())
}
