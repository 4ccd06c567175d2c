//! Matching an earlier run's records against the input for `--resume`: every finished row
//! must still name the same user ([`crate::input::same_user`]) and action, or the run is
//! refused (exit 2); what is left becomes the engine's work, and the invalid and repeated rows
//! not yet recorded are written before it starts.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::{ResultRecord, Status};
use crate::action::combo_string;
use crate::engine::{UserLookup, WorkItem};
use crate::error::Error;
use crate::figures::{count, thousands};
use crate::input::{self, LoadedInput, UserKind};

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
pub(crate) struct ResumePoint {
    rows: u64,
    done: u64,
    done_without_request: u64,
}

impl ResumePoint {
    /// `resuming: 2,350 of 20,000 rows done (12 invalid or repeated rows among them, recorded
    /// with nothing sent); 17,650 to do`.
    pub(crate) fn message(&self) -> String {
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
///
/// A (row, action) may have several records (a failed one, then its retry): the last one is
/// current. With `retry_failed` a (row, action) whose current record is `failed` is not
/// finished, so it is done again (its machine reads first), and so are its row's later
/// actions.
pub(crate) fn remaining_work(
    loaded: LoadedInput,
    done: &[ResultRecord],
    results: &Path,
    retry_failed: bool,
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
    // A record's tenant: the first of its extra cells after `resolved_user` (the results
    // file's columns follow the input's, so the positions agree).
    let tenant_at = usize::from(loaded.user_kind == UserKind::Mail);
    let tenant_of = |r: &ResultRecord| -> Option<String> { r.extra.get(tenant_at).cloned() };
    let mut current: HashMap<(u64, String), Status> = HashMap::new();
    for r in done {
        let matches = match jobs_by_row.get(&r.row) {
            Some(job) => {
                input::same_user(&job.user, &r.user)
                    && job.actions.iter().any(|a| a.as_str() == r.action)
                    && job
                        .tenant(&loaded)
                        .is_none_or(|t| tenant_of(r).as_deref() == Some(t))
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
        current.insert((r.row, r.action.clone()), r.status);
    }
    let finished: BTreeSet<(u64, String)> = current
        .into_iter()
        .filter(|(_, status)| !(retry_failed && *status == Status::Failed))
        .map(|(key, _)| key)
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;

    fn job(row: u64, user: &str, actions: &[Action]) -> input::Job {
        input::Job {
            row,
            user: user.into(),
            actions: actions.to_vec(),
            duplicate_of: None,
            keep: vec![],
        }
    }

    fn rec(row: u64, user: &str, action: Action, status: Status) -> ResultRecord {
        ResultRecord {
            row,
            user: user.into(),
            action: action.as_str().into(),
            status,
            ..ResultRecord::default()
        }
    }

    #[test]
    fn retry_failed_redoes_rows_whose_last_record_failed_and_their_skipped_later_actions() {
        let loaded = || LoadedInput {
            jobs: vec![
                job(2, "a@x.com", &[Action::Disable, Action::RevokeSessions]),
                job(3, "b@x.com", &[Action::Enforce]),
                job(4, "c@x.com", &[Action::Enforce]),
                job(5, "d@x.com", &[Action::Enforce]),
            ],
            ..LoadedInput::default()
        };
        let done = vec![
            rec(2, "a@x.com", Action::Disable, Status::Failed),
            rec(2, "a@x.com", Action::RevokeSessions, Status::Skipped),
            rec(3, "b@x.com", Action::Enforce, Status::NotFound),
            // Failed once, then done by an earlier retry: the later record is the current one.
            rec(4, "c@x.com", Action::Enforce, Status::Failed),
            rec(4, "c@x.com", Action::Enforce, Status::Applied),
            rec(5, "d@x.com", Action::Enforce, Status::Failed),
        ];
        let path = Path::new("r.csv");
        let (work, _, _) = remaining_work(loaded(), &done, path, true).unwrap();
        let redo: Vec<(u64, usize)> = work.iter().map(|w| (w.row, w.start_at)).collect();
        assert_eq!(
            redo,
            [(2, 0), (5, 0)],
            "row 2 from its failed first action on"
        );
        let (work, _, _) = remaining_work(loaded(), &done, path, false).unwrap();
        assert!(work.is_empty(), "without the flag a failed row is finished");
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
        let (work, upfront, _) = remaining_work(loaded, &done, Path::new("r.csv"), false).unwrap();
        assert!(work.is_empty() && upfront.is_empty(), "{work:?}");
    }

    #[test]
    fn resume_refuses_a_row_now_in_another_tenant() {
        let loaded = || LoadedInput {
            jobs: vec![input::Job {
                keep: vec!["fabrikam.com".into()],
                ..job(2, "a@x.com", &[Action::Enforce])
            }],
            tenant_column: Some("tenant".into()),
            keep_headers: vec!["tenant".into()],
            ..LoadedInput::default()
        };
        let mut done = rec(2, "a@x.com", Action::Enforce, Status::Applied);
        done.extra = vec!["fabrikam.com".into()];
        let path = Path::new("r.csv");
        let (work, _, _) = remaining_work(loaded(), &[done.clone()], path, false).unwrap();
        assert!(work.is_empty(), "the same row in the same tenant is done");
        done.extra = vec!["contoso.com".into()];
        let e = remaining_work(loaded(), &[done], path, false).unwrap_err();
        assert!(e.to_string().contains("row 2 changed"), "{e}");
    }
}
