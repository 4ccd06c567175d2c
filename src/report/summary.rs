//! `Summary`: what a run or a plan did, from its result records and run statistics. Counts per
//! action and status, per-user MFA state transitions (`disabled → enforced`), throughput and
//! throttling; rendered as short text for people or as JSON with stable keys for scripts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::action::{Action, MfaState};
use crate::error::Completion;
use crate::figures::{duration, plural, rate, thousands};
use crate::journal::{ResultRecord, Status};

use super::TenantLine;

/// What the engine measured during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct RunStats {
    pub elapsed: Duration,
    /// Graph items sent that read state (GET), retries included.
    pub reads: u64,
    /// Graph items sent that change state (PATCH, DELETE, POST), retries included.
    pub writes: u64,
    /// 429 answers: items inside batches plus whole-batch 429s.
    pub throttled: u64,
    pub retries: u64,
    /// The pacing rates the run ended with (items/s): after adaptive slow-down or growth,
    /// what the tenant's budget allowed. None when unpaced.
    pub final_write_rate: Option<f64>,
    pub final_read_rate: Option<f64>,
}

/// What an `apply` run left for the next one: the rows it did not reach (`--limit`), which
/// are not in the results file, and the command that continues.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Remaining {
    pub rows: u64,
    /// `--limit`, when given.
    pub limit: Option<u64>,
    /// The command that does the rows left (`--resume`), when there are some.
    pub continue_with: Option<String>,
}

/// How many users went from one per-user MFA state to another (or would, in a plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    pub from: String,
    pub to: String,
    pub count: u64,
}

/// How many users are in a state before and after the run (or now and as planned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateCount {
    pub state: String,
    pub before: u64,
    pub after: u64,
}

/// A run's or a plan's outcome. Build with [`Summary::from_records`].
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    rows: u64,
    records: u64,
    /// Per action, in action order: a count per status, indexed like [`Status::ALL`].
    counts: Vec<(String, [u64; 7])>,
    totals: [u64; 7],
    transitions: Vec<Transition>,
    states: Vec<StateCount>,
    stats: Option<RunStats>,
    results_path: Option<PathBuf>,
    dry_run: bool,
    /// Set for an `apply` run: what it left for the next one.
    remaining: Option<Remaining>,
    /// A many-tenant run's tenants, each with its counts and stop reason (shown before the
    /// total); empty for a one-tenant run.
    tenants: Vec<TenantLine>,
}

const STATE_ACTIONS: [Action; 4] = [
    Action::Enable,
    Action::SetEnabled,
    Action::Enforce,
    Action::Disable,
];
/// Shown when a record carries no `before` state.
const UNKNOWN_STATE: &str = "unknown";

fn status_index(status: Status) -> usize {
    Status::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or_default()
}

/// The MFA state a state action sets, by canonical name.
fn target_state(action: &str) -> Option<&'static str> {
    let action = STATE_ACTIONS.iter().find(|a| a.as_str() == action)?;
    match action.target_state()? {
        MfaState::Disabled => Some("disabled"),
        MfaState::Enabled => Some("enabled"),
        MfaState::Enforced => Some("enforced"),
        MfaState::Unknown(_) => None,
    }
}

/// Known states first in their natural order, then others alphabetically.
fn state_rank(state: &str) -> (usize, &str) {
    let rank = ["disabled", "enabled", "enforced"]
        .iter()
        .position(|s| *s == state)
        .unwrap_or(3);
    (rank, state)
}

/// Counts records one at a time, so a summary of a large run needs no list of its records.
/// [`Summary::from_records`] is this over a slice.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    per_action: HashMap<String, [u64; 7]>,
    totals: [u64; 7],
    transitions: HashMap<(String, String), u64>,
    states: HashMap<String, (u64, u64)>,
    rows: HashSet<u64>,
    records: u64,
}

impl Tally {
    #[must_use]
    pub(crate) fn new() -> Tally {
        Tally::default()
    }

    /// Counts one record (one per (row, action), as the finished results file holds them).
    pub(crate) fn add(&mut self, r: &ResultRecord) {
        self.records += 1;
        self.rows.insert(r.row);
        let i = status_index(r.status);
        entry_mut(&mut self.per_action, &r.action)[i] += 1;
        self.totals[i] += 1;
        let Some(target) = target_state(&r.action) else {
            return;
        };
        let changed = matches!(r.status, Status::Applied | Status::Planned);
        if !changed && r.status != Status::Unchanged {
            return;
        }
        let before = match (r.before.as_str(), r.status) {
            ("", Status::Unchanged) => target,
            ("", _) => UNKNOWN_STATE,
            (b, _) => b,
        };
        let after = match (r.after.as_str(), changed) {
            ("", true) => target,
            ("", false) => before,
            (a, _) => a,
        };
        entry_mut(&mut self.states, before).0 += 1;
        entry_mut(&mut self.states, after).1 += 1;
        if changed {
            *self
                .transitions
                .entry((before.to_string(), after.to_string()))
                .or_default() += 1;
        }
    }

    /// The summary of everything added. `dry_run` marks a plan: changes are `planned`, not
    /// applied.
    #[must_use]
    pub(crate) fn summary(
        self,
        stats: Option<RunStats>,
        results_path: Option<&Path>,
        dry_run: bool,
    ) -> Summary {
        let Tally {
            per_action,
            totals,
            transitions,
            states,
            rows,
            records,
        } = self;
        let mut counts: Vec<(String, [u64; 7])> = per_action.into_iter().collect();
        counts.sort_by(|(a, _), (b, _)| {
            crate::journal::action_rank(a)
                .cmp(&crate::journal::action_rank(b))
                .then_with(|| a.cmp(b))
        });
        let mut transitions: Vec<Transition> = transitions
            .into_iter()
            .map(|((from, to), count)| Transition { from, to, count })
            .collect();
        transitions.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| state_rank(&a.from).cmp(&state_rank(&b.from)))
                .then_with(|| state_rank(&a.to).cmp(&state_rank(&b.to)))
        });
        let mut states: Vec<StateCount> = states
            .into_iter()
            .map(|(state, (before, after))| StateCount {
                state,
                before,
                after,
            })
            .collect();
        states.sort_by(|a, b| state_rank(&a.state).cmp(&state_rank(&b.state)));
        Summary {
            rows: rows.len() as u64,
            records,
            counts,
            totals,
            transitions,
            states,
            stats,
            results_path: results_path.map(Path::to_path_buf),
            dry_run,
            remaining: None,
            tenants: Vec::new(),
        }
    }
}

/// The entry for `key`, made on first use (without allocating a key when it exists).
fn entry_mut<'a, V: Default>(map: &'a mut HashMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl Summary {
    /// Summarises `records` (one per (row, action), as the finished results file holds them).
    /// `dry_run` marks a plan: changes are `planned`, not applied.
    #[must_use]
    pub(crate) fn from_records(
        records: &[ResultRecord],
        stats: Option<RunStats>,
        results_path: Option<&Path>,
        dry_run: bool,
    ) -> Summary {
        let mut tally = Tally::new();
        for r in records {
            tally.add(r);
        }
        tally.summary(stats, results_path, dry_run)
    }

    /// The summary of an `apply` run that left `remaining` for the next one.
    #[must_use]
    pub(crate) fn with_remaining(mut self, remaining: Remaining) -> Summary {
        self.remaining = Some(remaining);
        self
    }

    /// The summary of a many-tenant run, with each tenant's line.
    #[must_use]
    pub(crate) fn with_tenants(mut self, tenants: Vec<TenantLine>) -> Summary {
        self.tenants = tenants;
        self
    }

    /// A many-tenant run's tenants (empty otherwise).
    #[must_use]
    pub(crate) fn tenants(&self) -> &[TenantLine] {
        &self.tenants
    }

    /// How many records ended with `status`.
    #[must_use]
    pub(crate) fn total(&self, status: Status) -> u64 {
        self.totals[status_index(status)]
    }

    /// How many records of `action` (canonical name) ended with `status`.
    #[must_use]
    pub(crate) fn count(&self, action: &str, status: Status) -> u64 {
        self.counts
            .iter()
            .find(|(a, _)| a == action)
            .map_or(0, |(_, c)| c[status_index(status)])
    }

    /// State transitions of applied (or, in a plan, planned) state actions, most frequent first.
    #[must_use]
    pub(crate) fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// Changes made (or, in a plan, that would be made): applied plus planned records.
    #[must_use]
    pub(crate) fn changes(&self) -> u64 {
        self.total(Status::Applied) + self.total(Status::Planned)
    }

    /// Records that failed or whose user was not found.
    #[must_use]
    pub(crate) fn problems(&self) -> u64 {
        self.total(Status::Failed) + self.total(Status::NotFound) + self.total(Status::Invalid)
    }

    /// Distinct input rows among the records.
    #[must_use]
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether this summarises a plan (changes `planned`) rather than an applied run.
    #[must_use]
    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The results (or plan report) file the records were written to, when known.
    #[must_use]
    pub(crate) fn results_path(&self) -> Option<&Path> {
        self.results_path.as_deref()
    }

    /// What the engine measured, for a run that sent requests.
    #[must_use]
    pub(crate) fn stats(&self) -> Option<RunStats> {
        self.stats
    }

    /// Users per per-user MFA state before and after (or now and as planned), known states
    /// first.
    #[must_use]
    pub(crate) fn states(&self) -> &[StateCount] {
        &self.states
    }

    /// Counts per action (canonical name, in action order), indexed like [`Status::ALL`].
    pub(crate) fn counts(&self) -> &[(String, [u64; 7])] {
        &self.counts
    }

    /// `n` items over the run's elapsed time, when stats are present and time has passed.
    pub(crate) fn per_second(&self, n: u64) -> Option<f64> {
        let secs = self.stats?.elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        (secs > 0.0).then(|| n as f64 / secs)
    }

    /// Exit status of a run that reached its end (DESIGN.md): `1` when some rows failed,
    /// were not found or were invalid. `skipped` rows (a repeated row, a guest's sessions)
    /// ended as they should and do not count.
    #[must_use]
    pub(crate) fn completion(&self) -> Completion {
        if self.tenants.iter().any(|t| t.stop.is_some()) {
            return Completion::SomeTenantsStopped;
        }
        let bad: u64 = [Status::Failed, Status::NotFound, Status::Invalid]
            .iter()
            .map(|s| self.total(*s))
            .sum();
        if bad == 0 {
            Completion::AllGood
        } else {
            Completion::SomeRowsFailed
        }
    }

    /// The summary for people: a few lines, aligned, ready for stdout or stderr.
    #[must_use]
    pub(crate) fn render_text(&self) -> String {
        let mut out = String::new();
        if !self.tenants.is_empty() {
            TenantLine::render(&self.tenants, &mut out);
            out.push('\n');
        }
        if self.dry_run {
            let _ = writeln!(
                out,
                "plan: {} {} would be made (nothing was changed)",
                thousands(self.changes()),
                plural(self.changes(), "change", "changes")
            );
        } else if let Some(left) = self.remaining.as_ref().filter(|r| r.rows > 0) {
            let why = left.limit.map_or_else(
                || "stopped".to_string(),
                |n| format!("stopped at --limit {n}"),
            );
            let _ = writeln!(
                out,
                "{why}: {} {}, {} {} made; {} {}",
                thousands(self.rows),
                plural(self.rows, "row", "rows"),
                thousands(self.changes()),
                plural(self.changes(), "change", "changes"),
                thousands(left.rows),
                plural(left.rows, "row remains", "rows remain"),
            );
        } else {
            let _ = writeln!(
                out,
                "done: {} {}, {} {} made",
                thousands(self.rows),
                plural(self.rows, "row", "rows"),
                thousands(self.changes()),
                plural(self.changes(), "change", "changes")
            );
        }
        if self.records > 0 {
            out.push('\n');
            self.render_counts(&mut out);
        }
        if self.dry_run && !self.states.is_empty() {
            out.push('\n');
            self.render_states(&mut out);
        }
        if !self.transitions.is_empty() {
            out.push('\n');
            out.push_str(if self.dry_run {
                "planned changes:\n"
            } else {
                "changes:\n"
            });
            let width = self
                .transitions
                .iter()
                .map(|t| t.from.chars().count() + t.to.chars().count() + 3)
                .max()
                .unwrap_or(0);
            let nwidth = self
                .transitions
                .iter()
                .map(|t| thousands(t.count).len())
                .max()
                .unwrap_or(0);
            for t in &self.transitions {
                let arrow = format!("{} → {}", t.from, t.to);
                let _ = writeln!(out, "  {arrow:<width$}  {:>nwidth$}", thousands(t.count));
            }
        }
        let mut footer: Vec<String> = self.stats_line().into_iter().collect();
        if let Some(path) = &self.results_path {
            footer.push(format!("results: {}", path.display()));
        }
        let problems = self.problems();
        if problems > 0 {
            let rows = format!(
                "{} {}",
                thousands(problems),
                plural(problems, "row", "rows")
            );
            footer.push(match &self.results_path {
                Some(p) => format!(
                    "{rows} failed or not found: see the status, error_code and message columns in {}",
                    p.display()
                ),
                // A plan without --report: no file lists them.
                None if self.dry_run => format!(
                    "{rows} failed or not found: plan with --report FILE (or --html FILE) to see which and why"
                ),
                None => format!(
                    "{rows} failed or not found: see the status, error_code and message columns of the results"
                ),
            });
        }
        if let Some(command) = self
            .remaining
            .as_ref()
            .and_then(|r| r.continue_with.as_ref())
        {
            footer.push(format!("continue with: {command}"));
        }
        if !footer.is_empty() {
            out.push('\n');
            for line in footer {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }

    /// The table of counts: one line per action, one column per status that occurs.
    fn render_counts(&self, out: &mut String) {
        let columns: Vec<usize> = (0..Status::ALL.len())
            .filter(|&i| self.totals[i] > 0)
            .collect();
        let mut lines: Vec<(&str, &[u64; 7])> =
            self.counts.iter().map(|(a, c)| (a.as_str(), c)).collect();
        if self.counts.len() > 1 {
            lines.push(("total", &self.totals));
        }
        let name_width = lines
            .iter()
            .map(|(a, _)| a.chars().count())
            .max()
            .unwrap_or(0)
            .max("action".len());
        let widths: Vec<usize> = columns
            .iter()
            .map(|&i| {
                lines
                    .iter()
                    .map(|(_, c)| thousands(c[i]).len())
                    .chain([Status::ALL[i].as_str().len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = format!("  {:<name_width$}", "action");
        for (&i, w) in columns.iter().zip(&widths) {
            let _ = write!(line, "  {:>w$}", Status::ALL[i].as_str());
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for (name, c) in lines {
            let mut line = format!("  {name:<name_width$}");
            for (&i, w) in columns.iter().zip(&widths) {
                let _ = write!(line, "  {:>w$}", thousands(c[i]));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }

    /// Current vs planned per-user MFA state (dry runs).
    fn render_states(&self, out: &mut String) {
        let title = "per-user MFA state";
        let name_width = self
            .states
            .iter()
            .map(|s| s.state.chars().count() + 2)
            .chain([title.len()])
            .max()
            .unwrap_or(0);
        let w1 = self
            .states
            .iter()
            .map(|s| thousands(s.before).len())
            .chain(["current".len()])
            .max()
            .unwrap_or(0);
        let w2 = self
            .states
            .iter()
            .map(|s| thousands(s.after).len())
            .chain(["planned".len()])
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "  {title:<name_width$}  {:>w1$}  {:>w2$}",
            "current", "planned"
        );
        for s in &self.states {
            let name = format!("  {}", s.state);
            let _ = writeln!(
                out,
                "  {name:<name_width$}  {:>w1$}  {:>w2$}",
                thousands(s.before),
                thousands(s.after)
            );
        }
    }

    fn stats_line(&self) -> Option<String> {
        let s = self.stats?;
        let mut parts = vec![format!("time {}", duration(s.elapsed))];
        if let (Some(w), Some(r)) = (self.per_second(s.writes), self.per_second(s.reads)) {
            parts.push(format!("{} writes/s", rate(w)));
            parts.push(format!("{} reads/s", rate(r)));
        }
        parts.push(format!("{} throttled (429)", thousands(s.throttled)));
        if s.throttled > 0
            && let Some(w) = s.final_write_rate
        {
            parts.push(format!("paced down to {} writes/s", rate(w)));
        }
        if s.retries > 0 {
            parts.push(format!(
                "{} {}",
                thousands(s.retries),
                plural(s.retries, "retry", "retries")
            ));
        }
        Some(parts.join(" · "))
    }

    /// The summary for scripts (`--json`). Keys are stable; new keys may be added.
    #[must_use]
    pub(crate) fn to_json(&self) -> Value {
        let by_status = |c: &[u64; 7]| -> Value {
            Status::ALL
                .iter()
                .zip(c)
                .map(|(s, n)| (s.as_str().to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let counts: BTreeMap<&str, Value> = self
            .counts
            .iter()
            .map(|(a, c)| (a.as_str(), by_status(c)))
            .collect();
        let per_second = |n: u64| self.per_second(n).map(round2);
        json!({
            "dry_run": self.dry_run,
            "rows": self.rows,
            "records": self.records,
            "changes": self.changes(),
            "counts": counts,
            "totals": by_status(&self.totals),
            "transitions": self.transitions.iter().map(|t| json!({
                "from": t.from, "to": t.to, "count": t.count,
            })).collect::<Vec<_>>(),
            "states": self.states.iter().map(|s| json!({
                "state": s.state, "before": s.before, "after": s.after,
            })).collect::<Vec<_>>(),
            "elapsed_seconds": self.stats.map(|s| round2(s.elapsed.as_secs_f64())),
            "reads": self.stats.map(|s| s.reads),
            "writes": self.stats.map(|s| s.writes),
            "reads_per_second": self.stats.and_then(|s| per_second(s.reads)),
            "writes_per_second": self.stats.and_then(|s| per_second(s.writes)),
            "throttled": self.stats.map(|s| s.throttled),
            "final_write_rate": self.stats.and_then(|s| s.final_write_rate).map(round2),
            "final_read_rate": self.stats.and_then(|s| s.final_read_rate).map(round2),
            "retries": self.stats.map(|s| s.retries),
            "results": self.results_path.as_ref().map(|p| p.display().to_string()),
            "remaining_rows": self.remaining.as_ref().map(|r| r.rows),
            "limit": self.remaining.as_ref().and_then(|r| r.limit),
            "continue_with": self.remaining.as_ref().and_then(|r| r.continue_with.clone()),
            "tenants": (!self.tenants.is_empty())
                .then(|| self.tenants.iter().map(TenantLine::to_json).collect::<Vec<_>>()),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(row: u64, action: &str, status: Status, before: &str, after: &str) -> ResultRecord {
        ResultRecord {
            row,
            user: format!("u{row}@contoso.com"),
            action: action.into(),
            status,
            before: before.into(),
            after: after.into(),
            ..ResultRecord::default()
        }
    }

    /// 8,012 disabled → enforced, 198 enabled → enforced, 5 already enforced, 2 failed,
    /// 1 not found; every user also had sessions revoked.
    fn known_run(planned: bool) -> Vec<ResultRecord> {
        let done = if planned {
            Status::Planned
        } else {
            Status::Applied
        };
        let mut out = Vec::new();
        let mut row = 1;
        let mut push =
            |n: u64, status: Status, before: &str, after: &str, out: &mut Vec<ResultRecord>| {
                for _ in 0..n {
                    row += 1;
                    out.push(rec(row, "enforce", status, before, after));
                    out.push(rec(row, "revoke-sessions", done, "", ""));
                }
            };
        push(8_012, done, "disabled", "enforced", &mut out);
        push(198, done, "enabled", "enforced", &mut out);
        push(5, Status::Unchanged, "enforced", "enforced", &mut out);
        push(2, Status::Failed, "disabled", "", &mut out);
        push(1, Status::NotFound, "", "", &mut out);
        out
    }

    fn stats() -> RunStats {
        RunStats {
            elapsed: Duration::from_secs(552),
            reads: 8_218,
            writes: 16_420,
            throttled: 12,
            final_write_rate: None,
            final_read_rate: None,
            retries: 14,
        }
    }

    #[test]
    fn counts_and_totals_per_action_and_status() {
        let s = Summary::from_records(&known_run(false), Some(stats()), None, false);
        assert_eq!(s.count("enforce", Status::Applied), 8_210);
        assert_eq!(s.count("enforce", Status::Unchanged), 5);
        assert_eq!(s.count("enforce", Status::Failed), 2);
        assert_eq!(s.count("enforce", Status::NotFound), 1);
        assert_eq!(s.count("revoke-sessions", Status::Applied), 8_218);
        assert_eq!(s.total(Status::Applied), 16_428);
        assert_eq!(s.problems(), 3);
        assert_eq!(s.completion(), Completion::SomeRowsFailed);
    }

    #[test]
    fn transitions_count_applied_state_changes_most_frequent_first() {
        let s = Summary::from_records(&known_run(false), None, None, false);
        let t = |from: &str, to: &str, count| Transition {
            from: from.into(),
            to: to.into(),
            count,
        };
        assert_eq!(
            s.transitions(),
            [
                t("disabled", "enforced", 8_012),
                t("enabled", "enforced", 198)
            ]
        );
    }

    #[test]
    fn text_summary_of_a_run_has_table_transitions_rates_and_the_failure_hint() {
        let path = Path::new("out/results.csv");
        let text = Summary::from_records(&known_run(false), Some(stats()), Some(path), false)
            .render_text();
        let expected = [
            "done: 8,218 rows, 16,428 changes made",
            "",
            "  action           applied  unchanged  not_found  failed",
            "  enforce            8,210          5          1       2",
            "  revoke-sessions    8,218          0          0       0",
            "  total             16,428          5          1       2",
            "",
            "changes:",
            "  disabled → enforced  8,012",
            "  enabled → enforced     198",
            "",
            "time 9m 12s · 29.7 writes/s · 14.9 reads/s · 12 throttled (429) · 14 retries",
            "results: out/results.csv",
            "3 rows failed or not found: see the status, error_code and message columns in out/results.csv",
            "",
        ]
        .join("\n");
        assert_eq!(
            text,
            expected.replace("out/results.csv", &path.display().to_string())
        );
    }

    #[test]
    fn text_summary_of_a_plan_says_what_would_change_and_diffs_states() {
        let text = Summary::from_records(&known_run(true), None, None, true).render_text();
        assert!(
            text.starts_with("plan: 16,428 changes would be made (nothing was changed)\n"),
            "{text}"
        );
        for line in [
            "  per-user MFA state  current  planned",
            "    disabled            8,012        0",
            "    enabled               198        0",
            "    enforced                5    8,215",
            "planned changes:",
            "  disabled → enforced  8,012",
            "3 rows failed or not found: plan with --report FILE (or --html FILE) to see which and why",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn json_has_the_stable_keys_and_values() {
        let path = Path::new("results.csv");
        let v =
            Summary::from_records(&known_run(false), Some(stats()), Some(path), false).to_json();
        for key in [
            "counts",
            "totals",
            "transitions",
            "elapsed_seconds",
            "writes_per_second",
            "reads_per_second",
            "throttled",
            "results",
        ] {
            assert!(v.get(key).is_some(), "missing key {key}");
        }
        assert_eq!(v["counts"]["enforce"]["applied"], 8_210);
        assert_eq!(
            v["counts"]["enforce"]["invalid"], 0,
            "every status is present"
        );
        assert_eq!(v["totals"]["failed"], 2);
        assert_eq!(
            v["transitions"][0],
            json!({"from": "disabled", "to": "enforced", "count": 8_012})
        );
        assert_eq!(v["elapsed_seconds"], 552.0);
        assert_eq!(v["writes_per_second"], 29.75);
        assert_eq!(v["throttled"], 12);
        assert_eq!(v["results"], "results.csv");
    }

    #[test]
    fn json_rates_are_rounded_to_hundredths() {
        let paced = RunStats {
            final_write_rate: Some(19.400_000_000_000_002),
            final_read_rate: Some(740.740_740_7),
            ..stats()
        };
        let v = Summary::from_records(&known_run(false), Some(paced), None, false).to_json();
        assert_eq!(v["final_write_rate"], 19.4);
        assert_eq!(v["final_read_rate"], 740.74);
        assert_eq!(v["reads_per_second"], 14.89);
    }

    #[test]
    fn json_without_run_stats_has_null_rates() {
        let v = Summary::from_records(&[], None, None, true).to_json();
        assert_eq!(v["elapsed_seconds"], Value::Null);
        assert_eq!(v["writes_per_second"], Value::Null);
        assert_eq!(v["totals"]["planned"], 0);
        assert_eq!(v["dry_run"], true);
    }

    #[test]
    fn an_all_good_run_says_so_without_a_failure_hint() {
        let records = [rec(2, "enforce", Status::Applied, "disabled", "enforced")];
        let s = Summary::from_records(&records, None, None, false);
        assert_eq!(s.completion(), Completion::AllGood);
        let text = s.render_text();
        assert!(text.starts_with("done: 1 row, 1 change made\n"), "{text}");
        assert!(!text.contains("failed"), "{text}");
        assert!(
            !text.contains("  total"),
            "one action: no total line\n{text}"
        );
    }
}
