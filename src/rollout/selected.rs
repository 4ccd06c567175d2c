//! `apply`/`plan` on a selection (`--all-users`, `--filter`, `--group`) instead of an input
//! file: the results file is locked (or resumed) first, then, signed in, the selection is
//! resolved into the users file beside it (`RESULTS.users`) before the first user is read or
//! written, and its users become the rows (row 2 onwards, in listing order), each with
//! `--action`. A resumed run reads the users file back instead of resolving again, so it
//! works on the same users even if the tenant changed meanwhile; given other selection flags
//! than the file records, it is refused before anything is sent. The rows' `user` is the
//! object id (stable across renames); `userPrincipalName` and `displayName` follow as extra
//! columns, so the plan shows exactly who.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::action::Action;
use crate::config::{Connection, RolloutSettings};
use crate::connect::{self, Connected};
use crate::error::Error;
use crate::figures::count;
use crate::input::{Job, LoadedInput, UserKind};
use crate::selection::{self, Selection, for_each_user, users_path};

use super::{Prepared, match_work, open_results};

/// The extra columns of a selection's results, after the fixed ones.
pub(crate) const SELECTED_COLUMNS: [&str; 2] = ["userPrincipalName", "displayName"];

/// Locks or resumes the results, signs in, resolves the selection (or reads back the one a
/// resumed run resolved) and matches the journal against its users.
pub(super) fn prepare(
    r: &RolloutSettings,
    connection: Connection,
    runtime: &tokio::runtime::Runtime,
    selection: &Selection,
    actions: &[Action],
) -> Result<(Prepared, Option<Connected>), Error> {
    let extra: Vec<String> = SELECTED_COLUMNS.iter().map(|c| (*c).to_string()).collect();
    let (opened, done) = open_results(r, &extra)?;
    // A plan without --report keeps its list in a temporary directory, gone at the end.
    let scratch;
    let users_file: PathBuf = match &r.results {
        Some(results) => users_path(results),
        None => {
            scratch = tempfile::tempdir().map_err(|e| {
                Error::Other(format!(
                    "cannot create a temporary directory for the selected users: {e}"
                ))
            })?;
            scratch.path().join("selected.users")
        }
    };
    let reuse = r.resume && r.results.is_some();
    if reuse && !users_file.exists() {
        return Err(Error::Usage(format!(
            "--resume: {} (the users the first run selected) does not exist, so that run did not select users with {}; resume it with the arguments it was started with, or start over with --overwrite",
            users_file.display(),
            selection.describe()
        )));
    }
    if reuse
        && let Some(warning) = selection::check_resumed(&users_file, selection)?
        && !r.output.quiet
    {
        eprintln!("warning: {warning}");
    }
    let connected = runtime.block_on(async {
        let connected = connect::connect(connection, &[], false).await?;
        if !r.output.quiet && connected.sandbox.is_none() {
            eprintln!("signed in with {}", connected.signed_in_with);
        }
        if !reuse {
            connect::check_selection_permissions(&connected.client, selection).await?;
            let listed = selection::resolve(
                &connected.client,
                selection,
                r.engine.max_attempts.get(),
                &users_file,
            )
            .await?;
            if !r.output.quiet {
                eprintln!(
                    "{} selected ({}){}",
                    count(listed, "user", "users"),
                    selection.describe(),
                    match &r.results {
                        Some(_) => format!("; the list is in {}", users_file.display()),
                        None => String::new(),
                    }
                );
            }
        }
        Ok::<_, Error>(connected)
    })?;
    let loaded = load(&users_file, actions)?;
    let prepared = match_work(r, false, loaded, extra, opened, &done)?;
    if prepared.work.items.is_empty() {
        return Ok((prepared, None));
    }
    let needs: BTreeSet<Action> = prepared
        .work
        .items
        .iter()
        .flat_map(|w| w.actions[w.start_at..].iter().copied())
        .collect();
    runtime.block_on(connect::check_permissions(
        &connected.client,
        &needs,
        r.dry_run,
        false,
    ))?;
    Ok((prepared, Some(connected)))
}

/// The users file as rows: row 2 onwards in listing order, the object id as the user, the
/// UPN and display name kept. Read as a stream: the list is held once, as the rows.
fn load(users_file: &Path, actions: &[Action]) -> Result<LoadedInput, Error> {
    let mut jobs = Vec::new();
    push_jobs(users_file, actions, None, &mut jobs)?;
    Ok(LoadedInput {
        jobs,
        user_column: "id".into(),
        user_kind: UserKind::ObjectId,
        keep_headers: SELECTED_COLUMNS.iter().map(|c| (*c).to_string()).collect(),
        ..LoadedInput::default()
    })
}

/// Appends a users file's users to `jobs` as rows numbered on from the last one (row 2 for
/// the first), the object id as the user; kept: the tenant when given, then the UPN and
/// display name.
pub(super) fn push_jobs(
    users_file: &Path,
    actions: &[Action],
    tenant: Option<&str>,
    jobs: &mut Vec<Job>,
) -> Result<(), Error> {
    let mut row = jobs.last().map_or(1, |j| j.row);
    for_each_user(users_file, |u| {
        row += 1;
        let mut keep = Vec::with_capacity(3);
        keep.extend(tenant.map(str::to_string));
        keep.extend([u.upn, u.display_name]);
        jobs.push(Job {
            row,
            user: u.id,
            actions: actions.to_vec(),
            duplicate_of: None,
            keep,
        });
        Ok(())
    })
    .map_err(Error::Other)
}
