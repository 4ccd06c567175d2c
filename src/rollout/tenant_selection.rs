//! `apply`/`plan` on a selection (`--all-users`, `--filter`, `--group`) in every tenant of
//! `--tenants FILE` (issue 20, docs/graph.md §14): each tenant is signed in to and its
//! selection resolved on its own, all at once, each into its own users file beside the
//! results (`RESULTS.TENANT.users`, the format of `RESULTS.users`), before its first user is
//! read or written. `RESULTS.tenants` lists the tenants whose list is made, in the order
//! their users are numbered (row 2 onwards, tenant after tenant), so a resumed run numbers
//! them the same: it reads those lists back and resolves only the tenants the first run did
//! not list (their sign-in or resolution failed), and refuses other selection flags than
//! those lists record, before anything is sent. The rows then run as a many-tenant input's
//! do (rollout/tenants.rs), with the sign-ins already made; a tenant that could not be
//! signed in to or resolved is stopped and reported alone (exit 5).

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::tenants::{self, Earlier, Task, for_tenant, join_all};
use super::{match_work, open_results};
use crate::action::Action;
use crate::config::{Connection, RolloutSettings};
use crate::connect::{self, Connected};
use crate::error::{Completion, Error};
use crate::exclusions::Exclusions;
use crate::figures::count;
use crate::input::{LoadedInput, TENANT_COLUMN, UserKind};
use crate::selection::{self, Selection};

use super::selected::{SELECTED_COLUMNS, push_jobs};

/// A tenant signed in to, with how many users its selection listed (`None`: listed by the
/// run being resumed).
type Selected = (Connected, Option<u64>);

/// `base.TENANT.SUFFIX`: a file of one tenant's beside `base` (`users`: its list; an export's
/// `partial`: its journal).
pub(crate) fn tenant_file(base: &Path, tenant: &str, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_os_string();
    name.push(format!(".{tenant}.{suffix}"));
    PathBuf::from(name)
}

/// `base.tenants`: the tenants whose lists are made, in numbering order.
pub(crate) fn manifest_path(base: &Path) -> PathBuf {
    let mut name = base.as_os_str().to_os_string();
    name.push(".tenants");
    PathBuf::from(name)
}

fn read_manifest(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn write_manifest(path: &Path, tenants: &[String]) -> Result<(), Error> {
    crate::atomic_file::replace_with(path, |out| {
        for t in tenants {
            writeln!(out, "{t}")?;
        }
        Ok(())
    })
    .map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: std::io::Error::from(e).to_string(),
    })
}

/// The tenants of `--tenants FILE`, for a sign-in that can reach them; before anything is
/// sent.
pub(crate) fn given_tenants(
    tenants_file: &Path,
    connection: &Connection,
) -> Result<Vec<String>, Error> {
    let given = crate::input::load_tenants(tenants_file)
        .map_err(|e| Error::Usage(format!("--tenants: {e}")))?;
    tenants::check_mode(connection, "--tenants names many tenants")?;
    Ok(given)
}

/// The selection's lists, one per tenant, beside `base` (`base.TENANT.users`), and the
/// manifest of those made (`base.tenants`): what `apply --tenants` and `export --tenants`
/// resolve before the first user is read, and read back on `--resume`.
pub(crate) struct TenantLists {
    base: PathBuf,
    manifest: PathBuf,
    /// The tenants of the `--tenants` file, in its order.
    pub(crate) given: Vec<String>,
    /// The tenants whose list is made, in numbering order.
    pub(crate) listed: Vec<String>,
}

impl TenantLists {
    /// The lists of a new run (an earlier run's manifest emptied), or, resumed, those the
    /// first run made: each a tenant of `given`, made with `selection`'s flags (other flags
    /// are refused, exit 2, as a one-tenant resume's are). Before anything is sent.
    pub(crate) fn open(
        base: &Path,
        given: Vec<String>,
        tenants_file: &Path,
        resumed: bool,
        selection: &Selection,
        quiet: bool,
    ) -> Result<TenantLists, Error> {
        let manifest = manifest_path(base);
        let listed: Vec<String> = if resumed {
            if !manifest.exists() {
                return Err(Error::Usage(format!(
                    "--resume: {} (the tenants the first run selected users in) does not exist, so that run did not select users with --tenants; resume it with the arguments it was started with, or start over with --overwrite",
                    manifest.display()
                )));
            }
            read_manifest(&manifest)?
        } else {
            Vec::new()
        };
        if let Some(gone) = listed.iter().find(|t| !given.contains(t)) {
            return Err(Error::Usage(format!(
                "--resume: tenant {gone} had users selected by the first run and is not in {}; resume with the --tenants file it was started with",
                tenants_file.display()
            )));
        }
        let lists = TenantLists {
            base: base.to_path_buf(),
            manifest,
            given,
            listed,
        };
        // Each list made records the selection flags that made it.
        for tenant in &lists.listed {
            let file = lists.users_file(tenant);
            if file.exists()
                && let Some(warning) = selection::check_resumed(&file, selection)?
                && !quiet
            {
                eprintln!("warning: tenant {tenant}: {warning}");
            }
        }
        if !resumed {
            // The lists of an earlier run over this base are not this run's.
            write_manifest(&lists.manifest, &lists.listed)?;
        }
        Ok(lists)
    }

    /// Tenant `tenant`'s list.
    pub(crate) fn users_file(&self, tenant: &str) -> PathBuf {
        tenant_file(&self.base, tenant, "users")
    }

    /// The manifest, `base.tenants`.
    pub(crate) fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// Signs in to every tenant and resolves the selection in those not listed yet, all at
    /// once (one HTTP client; the tokens are per request, docs/graph.md §14); `needs`, when
    /// given, is checked against each token first (what the run will do with the users).
    /// Records the tenants listed now after the others. Each tenant's connection, or why it
    /// has none.
    pub(crate) fn sign_in_and_list(
        &mut self,
        connection: &Connection,
        selection: &Selection,
        needs: Option<(&BTreeSet<Action>, bool)>,
        max_attempts: u32,
        runtime: &tokio::runtime::Runtime,
        quiet: bool,
    ) -> Result<Earlier, Error> {
        let http = crate::graph::GraphClient::http_client();
        let work: Vec<Task<'_, Result<Selected, String>>> = self
            .given
            .iter()
            .map(|tenant| {
                let c = for_tenant(connection, tenant);
                let resolve = !self.listed.contains(tenant);
                let file = self.users_file(tenant);
                let http = http.clone();
                Box::pin(async move {
                    let connected = connect::connect_over(c?, &[], false, http)
                        .await
                        .map_err(|e| format!("not signed in: {e}"))?;
                    if let Some((actions, dry_run)) = needs {
                        connect::check_permissions(&connected.client, actions, dry_run, false)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    if !resolve {
                        return Ok((connected, None));
                    }
                    connect::check_selection_permissions(&connected.client, selection)
                        .await
                        .map_err(|e| e.to_string())?;
                    let n = selection::resolve(&connected.client, selection, max_attempts, &file)
                        .await
                        .map_err(|e| format!("its users could not be selected: {e}"))?;
                    Ok((connected, Some(n)))
                }) as Task<'_, _>
            })
            .collect();
        let found = runtime.block_on(join_all(work));
        let mut earlier: Earlier = HashMap::new();
        for (tenant, f) in self.given.iter().zip(found) {
            match f {
                Ok((connected, resolved)) => {
                    if let Some(n) = resolved {
                        self.listed.push(tenant.clone());
                        if !quiet {
                            eprintln!(
                                "tenant {tenant}: {} selected ({}); the list is in {}",
                                count(n, "user", "users"),
                                selection.describe(),
                                self.users_file(tenant).display()
                            );
                        }
                    }
                    earlier.insert(tenant.clone(), Ok(connected));
                }
                Err(e) => {
                    earlier.insert(tenant.clone(), Err(e));
                }
            }
        }
        write_manifest(&self.manifest, &self.listed)?;
        Ok(earlier)
    }
}

/// Resolves the selection in every tenant of `tenants_file` (those not resolved by the run
/// being resumed) and runs their users.
#[allow(clippy::too_many_arguments)] // the steps' inputs, each used once
pub(super) fn run(
    r: &RolloutSettings,
    connection: &Connection,
    exclusions: &Exclusions,
    runtime: &tokio::runtime::Runtime,
    argv: &[OsString],
    selection: &Selection,
    actions: &[Action],
    tenants_file: &Path,
) -> Result<Completion, Error> {
    let given = given_tenants(tenants_file, connection)?;
    let extra: Vec<String> = std::iter::once(TENANT_COLUMN)
        .chain(SELECTED_COLUMNS)
        .map(str::to_string)
        .collect();
    let (opened, done) = open_results(r, &extra)?;
    // A plan without --report keeps its lists in a temporary directory, gone at the end.
    let scratch;
    let base: PathBuf = match &r.results {
        Some(results) => results.clone(),
        None => {
            scratch = tempfile::tempdir().map_err(|e| {
                Error::Other(format!(
                    "cannot create a temporary directory for the selected users: {e}"
                ))
            })?;
            scratch.path().join("selected")
        }
    };
    let resumed = r.resume && r.results.is_some();
    let mut lists = TenantLists::open(
        &base,
        given,
        tenants_file,
        resumed,
        selection,
        r.output.quiet,
    )?;
    // Each tenant's permissions are checked against its rows' actions once they are known.
    let earlier = lists.sign_in_and_list(
        connection,
        selection,
        None,
        r.engine.max_attempts.get(),
        runtime,
        r.output.quiet,
    )?;
    let loaded = load(&lists, actions)?;
    let prepared = match_work(r, false, loaded, extra, opened, &done)?;
    tenants::run(r, connection, exclusions, prepared, runtime, argv, earlier)
}

/// The listed tenants' users as rows: row 2 onwards, tenant after tenant in `listed`'s
/// order, each tenant's in listing order; the tenant, UPN and display name kept.
fn load(lists: &TenantLists, actions: &[Action]) -> Result<LoadedInput, Error> {
    let mut jobs = Vec::new();
    for tenant in &lists.listed {
        let file = lists.users_file(tenant);
        if !file.exists() {
            return Err(Error::Usage(format!(
                "--resume: {} (the users the first run selected in tenant {tenant}) does not exist; start over with --overwrite",
                file.display()
            )));
        }
        push_jobs(&file, actions, Some(tenant), &mut jobs)?;
    }
    Ok(LoadedInput {
        jobs,
        user_column: "id".into(),
        user_kind: UserKind::ObjectId,
        keep_headers: std::iter::once(TENANT_COLUMN)
            .chain(SELECTED_COLUMNS)
            .map(str::to_string)
            .collect(),
        tenant_column: Some(TENANT_COLUMN.to_string()),
        ..LoadedInput::default()
    })
}
