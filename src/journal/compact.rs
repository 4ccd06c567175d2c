//! Compaction: the journal's many lines per (row, action) (retries, resumed sessions) become
//! one, the last written, in input order. Works on an index of where each record sits in the
//! file, so compacting a large journal never holds its records. Pure; the file handling is
//! the caller's.

use std::cmp::Ordering;

use crate::action::Action;

/// Where one record sits in the journal (bytes `start..end`), and what orders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) row: u64,
    /// [`action_rank`] of the action.
    rank: usize,
    /// The action's name when it is not a known one (unknown names sort alphabetically).
    unknown: Option<Box<str>>,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Entry {
    pub(crate) fn new(row: u64, action: &str, start: u64, end: u64) -> Entry {
        let rank = action_rank(action);
        Entry {
            row,
            rank,
            unknown: (rank == Action::ALL.len()).then(|| action.into()),
            start,
            end,
        }
    }

    /// Input order: row, then action order.
    fn order(&self, other: &Entry) -> Ordering {
        self.row
            .cmp(&other.row)
            .then_with(|| self.rank.cmp(&other.rank))
            .then_with(|| self.unknown.cmp(&other.unknown))
    }
}

/// One entry per (row, action), the one written last (furthest into the file) winning, sorted
/// by row and then by action in [`Action`] order (unknown action names after the known ones,
/// alphabetically).
pub(crate) fn compact(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_unstable_by(|a, b| a.order(b).then_with(|| b.start.cmp(&a.start)));
    // Of each run of equal keys the first, written last, stays.
    entries.dedup_by(|later, kept| later.order(kept) == Ordering::Equal);
    entries
}

/// The position of a canonical action name in [`Action::ALL`]; unknown names rank after all.
pub(crate) fn action_rank(name: &str) -> usize {
    Action::ALL
        .iter()
        .position(|a| a.as_str() == name)
        .unwrap_or(Action::ALL.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries for (row, action) in file order, each line 10 bytes long.
    fn journal(lines: &[(u64, &str)]) -> Vec<Entry> {
        lines
            .iter()
            .enumerate()
            .map(|(i, (row, action))| Entry::new(*row, action, i as u64 * 10, i as u64 * 10 + 10))
            .collect()
    }

    #[test]
    fn last_record_per_row_and_action_wins() {
        let got: Vec<(u64, u64)> = compact(journal(&[
            (2, "enforce"),
            (3, "enforce"),
            (2, "enforce"),
            (2, "enforce"),
        ]))
        .into_iter()
        .map(|e| (e.row, e.start))
        .collect();
        assert_eq!(got, vec![(2, 30), (3, 10)]);
    }

    #[test]
    fn rows_sort_by_number_then_action_order_then_unknown_names_alphabetically() {
        let lines = [
            (10, "revoke-sessions"),
            (9, "zeta"),
            (9, "alpha"),
            (9, "revoke-sessions"),
            (9, "reset-methods"),
            (9, "disable"),
            (2, "enable"),
        ];
        let got: Vec<(u64, &str)> = compact(journal(&lines))
            .into_iter()
            .map(|e| lines[(e.start / 10) as usize])
            .collect();
        let want = [
            (2, "enable"),
            (9, "disable"),
            (9, "reset-methods"),
            (9, "revoke-sessions"),
            (9, "alpha"),
            (9, "zeta"),
            (10, "revoke-sessions"),
        ];
        assert_eq!(got, want.to_vec());
    }

    #[test]
    fn an_unknown_action_is_its_own_key() {
        let got = compact(journal(&[(4, "alpha"), (4, "zeta"), (4, "alpha")]));
        let starts: Vec<u64> = got.iter().map(|e| e.start).collect();
        assert_eq!(starts, vec![20, 10]);
    }
}
