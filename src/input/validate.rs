//! Per-row validation: the user cell's shape and the action cell's parse, turning each data
//! row into a [`Job`] or a [`RowProblem`]. Rows come in chunks (their two cells copied into
//! one arena, not one `String` per cell) so that chunks can be checked in parallel with rayon
//! while the reader goes on; each chunk's output is in row order.

use std::borrow::Cow;
use std::ops::Range;

use super::cell_text::{clean, one_line, shown};
use super::tenant_key::check_tenant;
use super::user_key::{check_mail, check_user, trim_invisible};
use super::{Job, RowProblem};
use crate::action::{Action, ActionParseError, combo_string};

/// Rows per chunk: big enough that rayon's per-task cost vanishes, small enough that both
/// cores get work early.
pub(crate) const CHUNK_ROWS: usize = 16 * 1024;

struct RawRow {
    row: u64,
    user: Range<usize>,
    action: Range<usize>,
    /// This row's passthrough cells: a range of `Chunk::keep`.
    keep: Range<usize>,
}

/// A run of data rows, their user, action and passthrough cells as bytes in one arena.
#[derive(Default)]
pub(crate) struct Chunk {
    rows: Vec<RawRow>,
    arena: Vec<u8>,
    /// Where each passthrough cell is in `arena` (empty without `--keep-columns`).
    keep: Vec<Range<usize>>,
}

impl Chunk {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Chunk {
            rows: Vec::with_capacity(rows),
            arena: Vec::with_capacity(rows * 40),
            keep: Vec::new(),
        }
    }

    pub(crate) fn push<'c>(
        &mut self,
        row: u64,
        user: &[u8],
        action: &[u8],
        keep: impl IntoIterator<Item = &'c [u8]>,
    ) {
        let u = self.arena.len();
        self.arena.extend_from_slice(user);
        let a = self.arena.len();
        self.arena.extend_from_slice(action);
        let end = self.arena.len();
        let k = self.keep.len();
        for cell in keep {
            let start = self.arena.len();
            self.arena.extend_from_slice(cell);
            self.keep.push(start..self.arena.len());
        }
        self.rows.push(RawRow {
            row,
            user: u..a,
            action: a..end,
            keep: k..self.keep.len(),
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    fn text(&self, range: &Range<usize>) -> Cow<'_, str> {
        let bytes = self.arena.get(range.clone()).unwrap_or_default();
        // The whole file was checked to be UTF-8 before rows are read; lossy only as a fallback.
        match String::from_utf8_lossy(bytes) {
            Cow::Borrowed(s) => Cow::Borrowed(clean(s)),
            Cow::Owned(s) => Cow::Owned(clean(&s).to_string()),
        }
    }

    /// A row's passthrough cells, trimmed (not unquoted: they are carried, not read).
    fn keep_cells(&self, raw: &RawRow) -> Vec<String> {
        self.keep
            .get(raw.keep.clone())
            .unwrap_or_default()
            .iter()
            .map(|range| {
                let bytes = self.arena.get(range.clone()).unwrap_or_default();
                String::from_utf8_lossy(bytes).trim().to_string()
            })
            .collect()
    }
}

/// What every row is checked against.
/// Marks a row problem as `--action` meeting the row's own action (`finish` in `mod.rs` turns
/// any such row into one refusal of the file).
pub(crate) const OVERRIDES_OWN_ACTION: &str = "would override the row's own action";

pub(crate) struct Context<'a> {
    /// How messages name the user column.
    pub(crate) user_column: String,
    /// The user column's header text (may be empty): a user cell equal to it is a repeated
    /// header row.
    pub(crate) user_header: String,
    /// The user column is a mail column: its cells must be mail addresses.
    pub(crate) mail: bool,
    /// `None` with `--action`.
    pub(crate) action_column: Option<String>,
    /// The `--action` actions for every row.
    pub(crate) fixed_actions: Option<&'a [Action]>,
    /// How messages name the tenant column, when the file has one (its cell is the row's
    /// first passthrough cell).
    pub(crate) tenant_column: Option<String>,
}

/// The outcome of one chunk, each list in row order.
#[derive(Default)]
pub(crate) struct Checked {
    pub(crate) jobs: Vec<Job>,
    pub(crate) problems: Vec<RowProblem>,
    /// Rows whose user cell had invisible characters at its start or end, removed: the row
    /// and the first character removed, for the warning.
    pub(crate) trimmed: Vec<(u64, char)>,
}

pub(crate) fn check_chunk(chunk: &Chunk, ctx: &Context<'_>) -> Checked {
    let mut out = Checked {
        jobs: Vec::with_capacity(chunk.len()),
        problems: Vec::new(),
        trimmed: Vec::new(),
    };
    for raw in &chunk.rows {
        match check_row(raw, chunk, ctx, &mut out.trimmed) {
            Ok(job) => out.jobs.push(job),
            Err(problem) => out.problems.push(*problem),
        }
    }
    out
}

/// A problem is boxed: rare, and the result of every row should stay small.
fn check_row(
    raw: &RawRow,
    chunk: &Chunk,
    ctx: &Context<'_>,
    trimmed: &mut Vec<(u64, char)>,
) -> Result<Job, Box<RowProblem>> {
    let written = chunk.text(&raw.user);
    // Invisible characters at the ends (a U+FEFF left by joining files, a U+200B pasted from a
    // chat) would make Graph answer not_found; they go, and the caller warns.
    let (user, removed) = trim_invisible(&written);
    if let Some(c) = removed {
        trimmed.push((raw.row, c));
    }
    let user = user.to_string();
    let user_check = if user.is_empty() {
        Err("missing user".to_string())
    } else if !ctx.user_header.is_empty() && user.eq_ignore_ascii_case(&ctx.user_header) {
        Err(format!(
            "'{}' is the user column's header again: a repeated header row (two files joined?); remove the row",
            shown(&user)
        ))
    } else if ctx.mail {
        check_mail(&user)
    } else {
        check_user(&user)
    };
    let (action_text, actions) = match ctx.fixed_actions {
        // The file's action column, if it has one, must be empty on this row: `--action`
        // never overrides a row's own action.
        Some(fixed) => match ctx.action_column.as_ref().map(|_| chunk.text(&raw.action)) {
            Some(own) if !own.trim().is_empty() => {
                let message = format!(
                    "--action {} {OVERRIDES_OWN_ACTION} '{}' in the file's action column '{}': drop --action to use the column, or empty the column to give every row {}",
                    combo_string(fixed),
                    shown(own.trim()),
                    shown(ctx.action_column.as_deref().unwrap_or("")),
                    combo_string(fixed)
                );
                (own, Err(message))
            }
            // The text is only needed for a problem; spelled out then.
            _ => (Cow::Borrowed(""), Ok(fixed.to_vec())),
        },
        None => {
            let text = chunk.text(&raw.action);
            let parsed = if text.is_empty() {
                Err("missing action".to_string())
            } else {
                Action::parse_combo(&text).map_err(|e| match e {
                    // The cell may be long or span lines: quote it cut and escaped.
                    ActionParseError::Unknown(t) => {
                        ActionParseError::Unknown(shown(&t)).to_string()
                    }
                    other => one_line(&other.to_string()),
                })
            };
            (text, parsed)
        }
    };
    let mut keep = chunk.keep_cells(raw);
    // The tenant cell, normalized; an empty one is the run's --tenant-id, filled in later.
    let tenant_check = match (&ctx.tenant_column, keep.first_mut()) {
        (Some(column), Some(cell)) if !cell.is_empty() => match check_tenant(cell) {
            Ok(key) => {
                *cell = key;
                Ok(())
            }
            Err(e) => Err((column.clone(), e)),
        },
        _ => Ok(()),
    };
    if let (Ok(()), Ok(_), Err((column, message))) = (&user_check, &actions, &tenant_check) {
        return Err(Box::new(RowProblem {
            row: raw.row,
            column: Some(column.clone()),
            user,
            action: match ctx.fixed_actions {
                Some(fixed) => combo_string(fixed),
                None => action_text.into_owned(),
            },
            message: message.clone(),
            keep,
        }));
    }
    let (column, message) = match (user_check, actions) {
        (Ok(()), Ok(actions)) => {
            return Ok(Job {
                row: raw.row,
                user,
                actions,
                duplicate_of: None,
                keep,
            });
        }
        (Err(u), Ok(_)) => (Some(ctx.user_column.clone()), u),
        (Ok(()), Err(a)) => (ctx.action_column.clone(), a),
        (Err(u), Err(a)) => {
            let action_part = match &ctx.action_column {
                Some(c) => format!("column '{}': {a}", shown(c)),
                None => a,
            };
            (Some(ctx.user_column.clone()), format!("{u}; {action_part}"))
        }
    };
    Err(Box::new(RowProblem {
        row: raw.row,
        column,
        user,
        action: match ctx.fixed_actions {
            Some(fixed) => combo_string(fixed),
            None => action_text.into_owned(),
        },
        message,
        keep,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            user_column: "upn".into(),
            user_header: "upn".into(),
            mail: false,
            action_column: Some("action".into()),
            fixed_actions: None,
            tenant_column: None,
        }
    }

    fn check(user: &str, action: &str, ctx: &Context<'_>) -> Result<Job, Box<RowProblem>> {
        let mut chunk = Chunk::default();
        chunk.push(5, user.as_bytes(), action.as_bytes(), [&b" E1 "[..], b"T"]);
        let mut out = check_chunk(&chunk, ctx);
        match (out.jobs.pop(), out.problems.pop()) {
            (Some(job), None) => Ok(job),
            (None, Some(p)) => Err(Box::new(p)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_valid_row_becomes_a_job_with_trimmed_user_and_sorted_actions() {
        let job = check("  Alice@X.com ", " revoke-sessions+Disable ", &ctx()).unwrap();
        assert_eq!(job.row, 5);
        assert_eq!(job.user, "Alice@X.com");
        assert_eq!(job.actions, [Action::Disable, Action::RevokeSessions]);
        assert_eq!(job.duplicate_of, None);
        assert_eq!(job.keep, ["E1", "T"]);
    }

    #[test]
    fn unknown_action_names_row_and_column() {
        let p = check("a@x.com", "enabel", &ctx()).unwrap_err();
        assert!(
            p.to_string()
                .starts_with("row 5, column 'action': unknown action 'enabel'"),
            "{p}"
        );
        assert_eq!(p.user, "a@x.com");
        assert_eq!(p.action, "enabel");
        assert_eq!(p.keep, ["E1", "T"]);
    }

    #[test]
    fn app_passwords_get_the_explanation() {
        let p = check("a@x.com", "delete-app-passwords", &ctx()).unwrap_err();
        assert!(p.message.contains("no API exists for app passwords"), "{p}");
    }

    #[test]
    fn missing_user_and_missing_action() {
        let p = check("", "enable", &ctx()).unwrap_err();
        assert_eq!(p.to_string(), "row 5, column 'upn': missing user");
        let p = check("a@x.com", " ", &ctx()).unwrap_err();
        assert_eq!(p.to_string(), "row 5, column 'action': missing action");
        let p = check("", "", &ctx()).unwrap_err();
        assert_eq!(
            p.to_string(),
            "row 5, column 'upn': missing user; column 'action': missing action"
        );
    }

    #[test]
    fn a_repeated_header_row_is_named_as_such() {
        let p = check("UPN", "action", &ctx()).unwrap_err();
        assert!(p.message.contains("repeated header row"), "{p}");
    }

    #[test]
    fn invisible_characters_at_the_ends_of_the_user_are_removed_and_noted() {
        let mut chunk = Chunk::default();
        chunk.push(3, "\u{feff}a@x.com\u{200b}".as_bytes(), b"enable", []);
        chunk.push(4, "b\u{200b}@x.com".as_bytes(), b"enable", []);
        let out = check_chunk(&chunk, &ctx());
        assert_eq!(out.jobs.len(), 1);
        assert_eq!(out.jobs[0].user, "a@x.com");
        assert_eq!(out.trimmed, [(3, '\u{feff}')]);
        assert_eq!(out.problems[0].row, 4);
        assert!(
            out.problems[0].message.contains("U+200B ZERO WIDTH SPACE"),
            "{}",
            out.problems[0]
        );
    }

    #[test]
    fn fixed_action_ignores_the_action_cell() {
        let fixed = [Action::Enforce];
        let c = Context {
            user_column: "upn".into(),
            user_header: "upn".into(),
            mail: false,
            action_column: None,
            fixed_actions: Some(&fixed),
            tenant_column: None,
        };
        let job = check("a@x.com", "garbage", &c).unwrap();
        assert_eq!(job.actions, [Action::Enforce]);
        let p = check("bad", "", &c).unwrap_err();
        assert_eq!(p.action, "enforce");
    }

    #[test]
    fn multi_line_action_cells_give_one_line_messages() {
        let p = check("a@x.com", "enable\nb@x.com,disable", &ctx()).unwrap_err();
        assert!(!p.to_string().contains('\n'), "{p}");
        let p = check("a@x.com", &"x".repeat(10_000), &ctx()).unwrap_err();
        assert!(p.message.len() < 300, "{p}");
    }
}
