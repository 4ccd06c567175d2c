//! Several rows for one user ([`same_user`]: keys equal ignoring case).
//!
//! # The rule
//! - Same user, same actions: the later row is marked `duplicate_of` the first and a warning
//!   says it is done once.
//! - Same user, and both rows set a per-user MFA state but different ones (`enable` vs
//!   `disable`, `enforce` vs `disable+revoke-sessions`): the final state would depend on which
//!   row runs last, so the later row is a problem naming the earlier one.
//! - Anything else (`enforce` and `revoke-sessions`, `enable` and `enable+reset-methods`) is
//!   allowed as separate jobs: a state is only written when it differs, and resets and
//!   revocations are safe to repeat, so no order makes them contradict each other.
//!
//! A user written once as a UPN and once as an object id cannot be matched offline.

use std::collections::HashMap;

use super::cell_text::shown;
use super::user_key::{same_user, user_chars};
use super::{Job, RowProblem};
use crate::action::{Action, MfaState, combo_string};

enum Verdict {
    Keep,
    /// The row of the first job with the same user and actions.
    DuplicateOf(u64),
    /// The row and actions of the earlier job whose state differs (boxed: rare, and the
    /// verdicts of a million rows should stay small).
    ConflictsWith(Box<(u64, String)>),
}

/// No earlier job for the same user.
const NONE: usize = usize::MAX;

/// Marks duplicates (with a warning each) and takes conflicting rows out of `jobs` (with a
/// problem each, appended to `problems`; the caller sorts). `jobs` must be in row order.
/// With `by_tenant` (the input has a tenant column, carried as each job's first kept cell)
/// the same user in two tenants is two users.
pub(crate) fn resolve(
    mut jobs: Vec<Job>,
    action_column: Option<&str>,
    by_tenant: bool,
    problems: &mut Vec<RowProblem>,
    warnings: &mut Vec<String>,
) -> Vec<Job> {
    let mut verdicts = judge(&jobs, by_tenant).into_iter();
    // `retain_mut` visits every job once, in order, so the verdicts line up.
    jobs.retain_mut(|job| match verdicts.next() {
        None | Some(Verdict::Keep) => true,
        Some(Verdict::DuplicateOf(first_row)) => {
            warnings.push(format!(
                "row {}: same user and actions as row {first_row}; done once",
                job.row
            ));
            job.duplicate_of = Some(first_row);
            true
        }
        Some(Verdict::ConflictsWith(earlier)) => {
            let (earlier_row, earlier_combo) = *earlier;
            let combo = combo_string(&job.actions);
            problems.push(RowProblem {
                row: job.row,
                column: action_column.map(str::to_string),
                message: format!(
                    "conflicting actions for user {}: row {earlier_row} says {earlier_combo}, row {} says {combo}",
                    shown(&job.user),
                    job.row
                ),
                action: combo,
                user: std::mem::take(&mut job.user),
                keep: std::mem::take(&mut job.keep),
            });
            false
        }
    });
    jobs
}

fn state_of(actions: &[Action]) -> Option<MfaState> {
    actions.iter().find_map(|a| a.target_state())
}

/// One pass with a map from a 64-bit hash of the user (lowercased on the fly, nothing
/// allocated per row) to the last *kept, distinct* job for it; kept jobs with the same hash are
/// chained backwards through `previous`, and every comparison checks the user itself, so a
/// hash collision only lengthens a chain. A chain holds at most one job per distinct action
/// set that agrees on the state, so it stays short.
fn judge(jobs: &[Job], by_tenant: bool) -> Vec<Verdict> {
    let same_tenant = |a: &Job, b: &Job| !by_tenant || a.keep.first() == b.keep.first();
    let mut last: HashMap<u64, usize> = HashMap::with_capacity(jobs.len());
    let mut previous = vec![NONE; jobs.len()];
    let mut verdicts = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let head = last.entry(user_hash(&job.user)).or_insert(NONE);
        let state = state_of(&job.actions);
        let mut same = None;
        let mut conflict = None;
        let mut j = *head;
        while let Some(earlier) = jobs.get(j) {
            if !same_user(&earlier.user, &job.user) || !same_tenant(earlier, job) {
                // A hash collision, or the same key in another tenant: another user's job.
            } else if earlier.actions == job.actions {
                same = Some(earlier);
            } else if let (Some(a), Some(b)) = (state_of(&earlier.actions), &state)
                && a != *b
            {
                // Walking backwards: the last one found is the earliest row.
                conflict = Some(earlier);
            }
            j = previous.get(j).copied().unwrap_or(NONE);
        }
        verdicts.push(match (same, conflict) {
            (Some(first), _) => Verdict::DuplicateOf(first.row),
            (None, Some(earlier)) => {
                Verdict::ConflictsWith(Box::new((earlier.row, combo_string(&earlier.actions))))
            }
            (None, None) => {
                if let Some(p) = previous.get_mut(i) {
                    *p = *head;
                }
                *head = i;
                Verdict::Keep
            }
        });
    }
    verdicts
}

/// FNV-1a over the characters [`same_user`] compares, as UTF-8 (the map's own hasher then
/// spreads the `u64`), so the same user always hashes alike.
fn user_hash(user: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mix = |h: u64, b: u8| (h ^ u64::from(b)).wrapping_mul(PRIME);
    if user.is_ascii() {
        // The same bytes `user_chars` yields for ASCII, without the per-char decoding.
        user.bytes()
            .fold(OFFSET, |h, b| mix(h, b.to_ascii_lowercase()))
    } else {
        let mut buf = [0u8; 4];
        user_chars(user).fold(OFFSET, |h, c| c.encode_utf8(&mut buf).bytes().fold(h, mix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(row: u64, user: &str, actions: &str) -> Job {
        Job {
            row,
            user: user.into(),
            actions: Action::parse_combo(actions).unwrap(),
            duplicate_of: None,
            keep: Vec::new(),
        }
    }

    fn run(jobs: Vec<Job>) -> (Vec<Job>, Vec<RowProblem>, Vec<String>) {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let kept = resolve(jobs, Some("action"), false, &mut problems, &mut warnings);
        (kept, problems, warnings)
    }

    #[test]
    fn same_user_same_actions_is_a_warning_and_duplicate_of() {
        let (kept, problems, warnings) = run(vec![
            job(3, "Alice@X.com", "enable"),
            job(5, "bob@x.com", "enable"),
            job(7, "alice@x.com", "enable"),
            job(9, "ALICE@x.com", "Enable"),
        ]);
        assert!(problems.is_empty());
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[2].duplicate_of, Some(3));
        assert_eq!(kept[3].duplicate_of, Some(3));
        assert_eq!(
            warnings,
            [
                "row 7: same user and actions as row 3; done once",
                "row 9: same user and actions as row 3; done once"
            ]
        );
    }

    #[test]
    fn conflicting_states_are_a_problem_naming_both_rows() {
        let (kept, problems, _) = run(vec![
            job(3, "alice@x.com", "enable"),
            job(7, "Alice@x.com", "disable"),
        ]);
        assert_eq!(kept.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "row 7, column 'action': conflicting actions for user Alice@x.com: row 3 says enable, row 7 says disable"
        );
    }

    #[test]
    fn different_non_conflicting_actions_are_separate_jobs() {
        let (kept, problems, warnings) = run(vec![
            job(3, "alice@x.com", "enforce"),
            job(4, "alice@x.com", "revoke-sessions"),
            job(5, "alice@x.com", "enforce+reset-methods"),
            job(6, "alice@x.com", "revoke-sessions"),
            job(7, "alice@x.com", "disable"),
        ]);
        assert_eq!(kept.len(), 4);
        assert!(kept.iter().take(3).all(|j| j.duplicate_of.is_none()));
        assert_eq!(kept[3].duplicate_of, Some(4));
        assert_eq!(warnings.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .contains("row 3 says enforce, row 7 says disable"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn non_ascii_users_compare_case_insensitively() {
        let (kept, _, _) = run(vec![
            job(2, "Ärger@bücher.de", "enable"),
            job(3, "ärger@BÜCHER.de", "enable"),
            job(4, "arger@bucher.de", "enable"),
        ]);
        assert_eq!(kept[1].duplicate_of, Some(2));
        assert_eq!(kept[2].duplicate_of, None);
        assert_eq!(user_hash("ÄB@x.de"), user_hash("äb@X.DE"));
    }

    #[test]
    fn object_ids_compare_case_insensitively() {
        let (kept, _, _) = run(vec![
            job(2, "8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b", "enable"),
            job(3, "8C6E4F1A-2B3D-4E5F-9A0B-1C2D3E4F5A6B", "enable"),
        ]);
        assert_eq!(kept[1].duplicate_of, Some(2));
    }
}
