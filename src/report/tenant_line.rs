//! One tenant's line in the summary of a many-tenant run (issue 20): its counts, its rate and
//! why it stopped, if it did. The summary lists these first, then the total.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::figures::{count, duration, rate, thousands};
use crate::journal::Status;

/// What one tenant of the run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TenantLine {
    /// The tenant as the input names it (a lowercased id or domain).
    pub tenant: String,
    /// Records per status of this tenant's rows, indexed like [`Status::ALL`].
    pub totals: [u64; 7],
    /// Input rows of this tenant in the results.
    pub rows: u64,
    /// Its engine's run (zero when it never signed in).
    pub elapsed: Duration,
    pub writes: u64,
    pub throttled: u64,
    /// Why it did not finish (sign-in refused, no consent, missing permission, breaker,
    /// `--max-failures`): its unfinished rows are not in the results, so `--resume` does them.
    pub stop: Option<String>,
}

impl TenantLine {
    fn total(&self, status: Status) -> u64 {
        Status::ALL
            .iter()
            .position(|s| *s == status)
            .map_or(0, |i| self.totals[i])
    }

    pub(crate) fn changes(&self) -> u64 {
        self.total(Status::Applied) + self.total(Status::Planned)
    }

    /// Records failed or not found.
    pub(crate) fn bad(&self) -> u64 {
        self.total(Status::Failed) + self.total(Status::NotFound)
    }

    pub(crate) fn writes_per_second(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.0).then(|| self.writes as f64 / secs)
    }

    /// `  fabrikam.com  40 rows  23 changes  2 failed  19.8 writes/s  1 throttled  done`
    pub(crate) fn render(lines: &[TenantLine], out: &mut String) {
        let width = lines
            .iter()
            .map(|l| l.tenant.chars().count())
            .max()
            .unwrap_or(0);
        let _ = writeln!(out, "tenants:");
        for l in lines {
            let mut parts = vec![
                count(l.rows, "row", "rows"),
                count(l.changes(), "change", "changes"),
            ];
            let bad = l.bad();
            if bad > 0 {
                parts.push(format!("{} failed or not found", thousands(bad)));
            }
            if let Some(r) = l.writes_per_second() {
                parts.push(format!("{} writes/s over {}", rate(r), duration(l.elapsed)));
            }
            if l.throttled > 0 {
                parts.push(format!("{} throttled", thousands(l.throttled)));
            }
            parts.push(match &l.stop {
                Some(why) => format!("STOPPED: {why}"),
                None => "done".to_string(),
            });
            let _ = writeln!(out, "  {:<width$}  {}", l.tenant, parts.join(" · "));
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let totals: serde_json::Map<String, Value> = Status::ALL
            .iter()
            .zip(&self.totals)
            .map(|(s, n)| (s.as_str().to_string(), json!(n)))
            .collect();
        json!({
            "tenant": self.tenant,
            "rows": self.rows,
            "changes": self.changes(),
            "totals": totals,
            "elapsed_seconds": (self.elapsed.as_secs_f64() * 100.0).round() / 100.0,
            "writes": self.writes,
            "writes_per_second": self.writes_per_second().map(|r| (r * 100.0).round() / 100.0),
            "throttled": self.throttled,
            "finished": self.stop.is_none(),
            "stop_reason": self.stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenant_reads_as_its_counts_rate_and_stop_reason() {
        let done = TenantLine {
            tenant: "contoso.com".into(),
            totals: [3, 1, 0, 1, 0, 0, 0],
            rows: 5,
            elapsed: Duration::from_secs(2),
            writes: 40,
            throttled: 0,
            stop: None,
        };
        let stopped = TenantLine {
            tenant: "fabrikam.onmicrosoft.com".into(),
            stop: Some("sign-in refused: AADSTS7000229".into()),
            ..TenantLine::default()
        };
        let mut out = String::new();
        TenantLine::render(&[done.clone(), stopped.clone()], &mut out);
        assert_eq!(
            out,
            "tenants:\n  contoso.com               5 rows · 3 changes · 1 failed or not found · 20.0 writes/s over 2.0s · done\n  fabrikam.onmicrosoft.com  0 rows · 0 changes · STOPPED: sign-in refused: AADSTS7000229\n"
        );
        let j = stopped.to_json();
        assert_eq!(j["finished"], false);
        assert_eq!(j["stop_reason"], "sign-in refused: AADSTS7000229");
        assert_eq!(done.to_json()["writes_per_second"], 20.0);
        assert_eq!(done.to_json()["totals"]["applied"], 3);
    }
}
