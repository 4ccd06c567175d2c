//! `rollback RESULTS --out FILE`: an input file that undoes a run's state changes: for every
//! `applied` enable/enforce/disable, the user and the state it had before. Method deletions
//! and session revocations cannot be undone; they are counted and explained, never emitted.
//! A run over a mail column names each user by the UPN its address was found to be
//! (`resolved_user`), so the undo file's user column holds keys that need no lookup. A
//! many-tenant run's undo file has a `tenant` column: each change is undone in its tenant.

use std::io::Write;
use std::path::Path;

use crate::action::{Action, MfaState};
use crate::config::RollbackSettings;
use crate::error::{Completion, Error};
use crate::figures::count;
use crate::input::TENANT_COLUMN;
use crate::journal::{RESOLVED_USER, Status, neutralize, read_results_with_extra_columns};

/// What a rollback found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rollback {
    /// (user, action that restores the previous state, results row it undoes).
    pub rows: Vec<(String, Action, u64)>,
    pub resets: u64,
    pub revocations: u64,
    /// Applied state changes whose `before` is not a state that can be written back.
    pub unknown_before: Vec<u64>,
    /// For a many-tenant run, the tenant of each of `rows` (same order), written to the undo
    /// file's `tenant` column so each change is undone in its own tenant; empty otherwise.
    pub tenants: Vec<String>,
}

fn restoring_action(before: &str) -> Option<Action> {
    match MfaState::parse(before) {
        MfaState::Disabled => Some(Action::Disable),
        MfaState::Enabled => Some(Action::SetEnabled),
        MfaState::Enforced => Some(Action::Enforce),
        MfaState::Unknown(_) => None,
    }
}

/// The undo plan of `records`; `resolved_at` is where `resolved_user` sits among their
/// extra cells, for a run over a mail column.
/// `tenant_at` is where the `tenant` column sits among them, for a many-tenant run.
pub(crate) fn build(
    records: &[crate::journal::ResultRecord],
    resolved_at: Option<usize>,
    tenant_at: Option<usize>,
) -> Rollback {
    let mut out = Rollback::default();
    let user = |r: &crate::journal::ResultRecord| {
        resolved_at
            .and_then(|i| r.extra.get(i))
            .filter(|upn| !upn.is_empty())
            .unwrap_or(&r.user)
            .clone()
    };
    for r in records.iter().filter(|r| r.status == Status::Applied) {
        match Action::parse_one(&r.action) {
            Ok(Action::Enable | Action::SetEnabled | Action::Enforce | Action::Disable) => {
                match restoring_action(&r.before) {
                    Some(a) => {
                        out.rows.push((user(r), a, r.row));
                        if let Some(i) = tenant_at {
                            out.tenants
                                .push(r.extra.get(i).cloned().unwrap_or_default());
                        }
                    }
                    None => out.unknown_before.push(r.row),
                }
            }
            Ok(Action::ResetMethods) => out.resets += 1,
            Ok(Action::RevokeSessions) => out.revocations += 1,
            // An export changes nothing, so there is nothing to undo.
            Ok(Action::Export) | Err(_) => {}
        }
    }
    out
}

/// Writes the undo file atomically ([`crate::atomic_file`]).
fn write_file(path: &Path, plan: &Rollback) -> std::io::Result<()> {
    crate::atomic_file::replace_with(path, |out| {
        let mut w = csv::Writer::from_writer(out);
        if plan.tenants.is_empty() {
            w.write_record(["user", "action", "undoes_row"])?;
        } else {
            w.write_record(["user", "action", TENANT_COLUMN, "undoes_row"])?;
        }
        for (i, (user, action, row)) in plan.rows.iter().enumerate() {
            let user = neutralize(user);
            let row = row.to_string();
            match plan.tenants.get(i) {
                Some(t) => {
                    w.write_record([user.as_ref(), action.as_str(), &neutralize(t), &row])?;
                }
                None => w.write_record([user.as_ref(), action.as_str(), &row])?,
            }
        }
        w.flush()
    })?;
    Ok(())
}

pub(crate) fn run(args: &RollbackSettings) -> Result<Completion, Error> {
    crate::output_path::check_distinct(
        &[crate::output_path::NamedPath {
            flag: "RESULTS",
            path: &args.results,
        }],
        &[Some(crate::output_path::NamedPath {
            flag: "--out",
            path: &args.out,
        })],
    )?;
    let (extra, records) = read_results_with_extra_columns(&args.results)?;
    let resolved_at = extra.iter().position(|c| c == RESOLVED_USER);
    let tenant_at = extra.iter().position(|c| c == TENANT_COLUMN);
    if !args.overwrite && std::fs::metadata(&args.out).is_ok_and(|m| m.len() > 0) {
        return Err(Error::File {
            path: args.out.clone(),
            message: "already exists; pass --overwrite to replace it".into(),
        });
    }
    let plan = build(&records, resolved_at, tenant_at);
    write_file(&args.out, &plan).map_err(|e| Error::File {
        path: args.out.clone(),
        message: format!("cannot write: {e}"),
    })?;
    if !args.output.quiet {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{}: {} to undo; apply it with: mfa-rollout apply {} --results <new results file>",
            args.out.display(),
            count(plan.rows.len() as u64, "state change", "state changes"),
            args.out.display()
        );
        if plan.resets > 0 {
            let _ = writeln!(
                err,
                "not undoable: {}: deleted authentication methods cannot be restored; those users register again at their next sign-in",
                count(plan.resets, "method reset", "method resets")
            );
        }
        if plan.revocations > 0 {
            let _ = writeln!(
                err,
                "not undoable: {}: revoked sessions and refresh tokens cannot be restored; users sign in again",
                count(
                    plan.revocations,
                    "session revocation",
                    "session revocations"
                )
            );
        }
        if !plan.unknown_before.is_empty() {
            let _ = writeln!(
                err,
                "not undoable: {} whose previous state is unknown ({})",
                count(
                    plan.unknown_before.len() as u64,
                    "state change",
                    "state changes"
                ),
                crate::figures::row_list(&plan.unknown_before)
            );
        }
    }
    Ok(Completion::AllGood)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::ResultRecord;

    fn rec(row: u64, action: &str, status: Status, before: &str) -> ResultRecord {
        ResultRecord {
            row,
            user: format!("u{row}@x.com"),
            action: action.into(),
            status,
            before: before.into(),
            ..ResultRecord::default()
        }
    }

    #[test]
    fn only_applied_state_changes_are_undone_with_their_previous_state() {
        let records = vec![
            rec(2, "enforce", Status::Applied, "disabled"),
            rec(3, "disable", Status::Applied, "enabled"),
            rec(4, "enforce", Status::Unchanged, "enforced"),
            rec(5, "enforce", Status::Failed, "disabled"),
            rec(6, "reset-methods", Status::Applied, "mobilePhone"),
            rec(7, "revoke-sessions", Status::Applied, ""),
            rec(8, "enable", Status::Applied, "unknownFutureValue"),
        ];
        let r = build(&records, None, None);
        assert_eq!(
            r.rows,
            vec![
                ("u2@x.com".to_string(), Action::Disable, 2),
                ("u3@x.com".to_string(), Action::SetEnabled, 3)
            ]
        );
        assert_eq!((r.resets, r.revocations), (1, 1));
        assert_eq!(r.unknown_before, vec![8]);
    }

    #[test]
    fn a_mail_run_is_undone_by_the_upn_each_address_was_found_to_be() {
        let mut found = rec(2, "enforce", Status::Applied, "disabled");
        found.user = "ann.lee@contoso.com".into();
        found.extra = vec!["T-1".into(), "annl@contoso.onmicrosoft.com".into()];
        let r = build(&[found], Some(1), None);
        assert_eq!(
            r.rows,
            vec![(
                "annl@contoso.onmicrosoft.com".to_string(),
                Action::Disable,
                2
            )]
        );
    }

    #[test]
    fn a_rollback_file_that_cannot_be_written_leaves_no_temp_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the rename over it fails.
        let out = dir.path().join("undo.csv");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("inside"), "x").unwrap();
        let plan = Rollback {
            rows: vec![("u2@x.com".to_string(), Action::Disable, 2)],
            ..Rollback::default()
        };
        assert!(write_file(&out, &plan).is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("undo.csv")]);
    }
}
