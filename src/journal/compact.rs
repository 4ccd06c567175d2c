//! Compaction: the journal's many lines per (row, action) (retries, resumed sessions) become
//! one, the last written, in input order. Pure; the file handling is the caller's.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::ResultRecord;
use crate::action::Action;

/// One record per (row, action), the last one in `records` winning, sorted by row and then by
/// action in [`Action`] order (unknown action names after the known ones, alphabetically).
pub(crate) fn compact(records: Vec<ResultRecord>) -> Vec<ResultRecord> {
    let mut slot: HashMap<(u64, String), usize> = HashMap::with_capacity(records.len());
    let mut out: Vec<ResultRecord> = Vec::with_capacity(records.len());
    for record in records {
        match slot.get(&(record.row, record.action.clone())) {
            Some(&i) => out[i] = record,
            None => {
                slot.insert((record.row, record.action.clone()), out.len());
                out.push(record);
            }
        }
    }
    out.sort_by(order);
    out
}

/// Input order: row, then action order.
pub(crate) fn order(a: &ResultRecord, b: &ResultRecord) -> Ordering {
    a.row
        .cmp(&b.row)
        .then_with(|| action_rank(&a.action).cmp(&action_rank(&b.action)))
        .then_with(|| a.action.cmp(&b.action))
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
    use crate::journal::Status;

    fn rec(row: u64, action: &str, status: Status) -> ResultRecord {
        ResultRecord {
            row,
            action: action.into(),
            status,
            ..ResultRecord::default()
        }
    }

    #[test]
    fn last_record_per_row_and_action_wins() {
        let got = compact(vec![
            rec(2, "enforce", Status::Failed),
            rec(3, "enforce", Status::Applied),
            rec(2, "enforce", Status::Applied),
        ]);
        assert_eq!(
            got,
            vec![
                rec(2, "enforce", Status::Applied),
                rec(3, "enforce", Status::Applied)
            ]
        );
    }

    #[test]
    fn rows_sort_by_number_then_action_order_then_unknown_names_alphabetically() {
        let got: Vec<(u64, String)> = compact(vec![
            rec(10, "revoke-sessions", Status::Applied),
            rec(9, "zeta", Status::Applied),
            rec(9, "alpha", Status::Applied),
            rec(9, "revoke-sessions", Status::Applied),
            rec(9, "reset-methods", Status::Applied),
            rec(9, "disable", Status::Applied),
            rec(2, "enable", Status::Applied),
        ])
        .into_iter()
        .map(|r| (r.row, r.action))
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
        assert_eq!(got, want.map(|(r, a)| (r, a.to_string())).to_vec());
    }
}
