//! The engine's validated settings (built by `config` from flags and defaults).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use super::pacer::SharedBudget;

/// Documented identity quota for one app in one large tenant (docs/graph.md §6): 3,000 writes
/// per 150 s and 8,000 resource units per 10 s, where reads and writes each cost one unit.
pub(crate) const QUOTA_WRITES_PER_SEC: f64 = 3000.0 / 150.0;
pub(crate) const QUOTA_RU_PER_SEC: f64 = 8000.0 / 10.0;

/// Graph's write limit for one app across all its tenants (docs/graph.md §6): 70,000 per
/// 5 minutes.
pub(crate) const QUOTA_APP_WRITES_PER_SEC: f64 = 70000.0 / 300.0;
/// Graph's resource units for one app across all its tenants (docs/graph.md §6): 150,000 per
/// 20 seconds.
pub(crate) const QUOTA_APP_UNITS_PER_SEC: f64 = 150_000.0 / 20.0;

/// Default pacing: just under the quota, so the steady state draws no 429s.
pub(crate) const DEFAULT_WRITE_RATE: f64 = QUOTA_WRITES_PER_SEC * 0.97;
pub(crate) const DEFAULT_READ_RATE: f64 = (QUOTA_RU_PER_SEC - QUOTA_WRITES_PER_SEC) * 0.95;
/// A many-tenant run's writes across all its tenants, held (Graph sends no percentage for
/// this limit, docs/tenant-format.md: only its 429s tell).
pub(crate) const DEFAULT_APP_WRITE_RATE: f64 = QUOTA_APP_WRITES_PER_SEC * 0.97;
/// A many-tenant run's requests (one resource unit each) across all its tenants, held alike.
pub(crate) const DEFAULT_APP_UNIT_RATE: f64 = QUOTA_APP_UNITS_PER_SEC * 0.97;

/// How many in a row of one systemic failure trip the circuit breaker. Per-user failures are
/// rarely consecutive: at the fault campaign's rates (2% of batches 503, 2% of items 5xx, 3%
/// dropped, 10 attempts) a call gives up fewer than once in 10^11, so 25 in a row is not
/// chance; and an outage trips it within the first 25 users to give up.
const DEFAULT_BREAKER_THRESHOLD: NonZeroUsize = nonzero_usize(25);

/// `--max-failures N` or `N%` (of the rows this run does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FailureBound {
    Rows(u64),
    Percent(f64),
}

impl FailureBound {
    /// Parses the flag's value; the error says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<FailureBound, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "--max-failures must be a number of rows or a percentage (10 or 2%), got '{}'",
                t.escape_default()
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "--max-failures {t}: the percentage must be above 0 and at most 100"
                ));
            }
            return Ok(FailureBound::Percent(p));
        }
        match t.parse::<u64>() {
            Ok(0) => Err("--max-failures must be at least 1".into()),
            Ok(n) => Ok(FailureBound::Rows(n)),
            Err(_) => Err(bad()),
        }
    }

    /// The number of failed rows that stops a run of `rows` rows (at least one).
    #[must_use]
    pub(crate) fn rows(self, rows: u64) -> u64 {
        match self {
            FailureBound::Rows(n) => n,
            FailureBound::Percent(p) => ((rows as f64 * p / 100.0).ceil() as u64).max(1),
        }
    }
}

/// Items per `$batch`: 1 to 20, Microsoft Graph's limit (docs/graph.md §5). Made only by
/// [`BatchSize::new`], so the engine never re-checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchSize(usize);

impl BatchSize {
    /// The most Graph takes in one `$batch`.
    pub(crate) const MAX: BatchSize = BatchSize(20);

    /// `None` outside 1..=20.
    #[must_use]
    pub(crate) fn new(items: usize) -> Option<BatchSize> {
        (1..=Self::MAX.0)
            .contains(&items)
            .then_some(BatchSize(items))
    }

    #[must_use]
    pub(crate) fn get(self) -> usize {
        self.0
    }
}

/// How one budget (reads or writes) is paced: a start rate in items per second and the
/// ceiling adaptive pacing may grow it to (equal to the rate: held exactly). Made only by
/// [`Pace::held`] and [`Pace::growing`], so a rate is always positive and finite and the
/// ceiling never below it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Pace {
    rate: f64,
    ceiling: f64,
}

impl Pace {
    /// A told rate (`--write-rate`, `--read-rate`): its own ceiling. `None` unless positive
    /// and finite.
    #[must_use]
    pub(crate) fn held(rate: f64) -> Option<Pace> {
        Pace::growing(rate, rate)
    }

    /// An untold rate, which may grow up to `ceiling` while Graph has room. `None` unless
    /// both are positive and finite and `ceiling` is at least `rate`.
    #[must_use]
    pub(crate) fn growing(rate: f64, ceiling: f64) -> Option<Pace> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        (positive(rate) && positive(ceiling) && ceiling >= rate).then_some(Pace { rate, ceiling })
    }

    #[must_use]
    pub(crate) fn rate(self) -> f64 {
        self.rate
    }

    #[must_use]
    pub(crate) fn ceiling(self) -> f64 {
        self.ceiling
    }
}

/// Everything the engine is told, validated when `config` builds it: the types make the
/// values the engine cannot work with (an empty batch, no batch in flight, no attempt, a
/// breaker that trips on nothing, a rate of zero) unrepresentable, so nothing re-clamps them.
#[derive(Clone, Debug)]
pub(crate) struct EngineSettings {
    pub batch_size: BatchSize,
    /// Batches in flight at once.
    pub concurrency: NonZeroUsize,
    /// Writes; `None` = unpaced.
    pub writes: Option<Pace>,
    /// Reads; `None` = unpaced.
    pub reads: Option<Pace>,
    /// A many-tenant run's writes across all its tenants (`--app-write-rate`); `None` =
    /// unpaced. The run makes one [`SharedBudget`] of it for every tenant's engine.
    pub app_writes: Option<Pace>,
    /// A many-tenant run's requests across all its tenants, one resource unit each
    /// (`--app-unit-rate`); `None` = unpaced.
    pub app_units: Option<Pace>,
    /// The budget every tenant's writes also draw from, besides their own (a many-tenant
    /// run's; `None` in a one-tenant run).
    pub shared_writes: Option<SharedBudget>,
    /// The budget every tenant's items (reads and writes) also draw from: the app's resource
    /// units across all tenants (a many-tenant run's).
    pub shared_units: Option<SharedBudget>,
    /// How many engines run side by side in the process (a many-tenant run's tenants): each
    /// starts its share of the jobs one engine may run at once, so the run's memory does not
    /// grow with its tenants (1: the whole).
    pub engines: NonZeroUsize,
    /// Attempts per call for transient failures (5xx, timeouts, dropped connections).
    pub max_attempts: NonZeroU32,
    /// Attempts per call when throttled (429s are always waited out, but not forever).
    pub max_throttled_attempts: NonZeroU32,
    /// Read and report; change nothing.
    pub dry_run: bool,
    /// `--reset-scope all`.
    pub reset_all: bool,
    /// Signed in to the global cloud (hardware OATH unassigning is documented only there).
    pub global_cloud: bool,
    /// Never make more than this many changes.
    pub max_changes: Option<u64>,
    /// `--limit N`: make at most N changes in this run, then stop cleanly, leaving the rows
    /// not reached unrecorded for `--resume`. A change is one (row, action) that sends a
    /// write; it is counted when the write is reserved, before it is sent, so what is in
    /// flight when N is reached cannot go past N.
    pub limit: Option<u64>,
    /// Users no action may touch, and the signed-in admin kept out of self-locking actions:
    /// their actions are recorded `skipped` and nothing is sent for them.
    pub protected: std::sync::Arc<super::Protected>,
    /// Stop the run once this many actions have failed (`--max-failures`, resolved).
    pub max_failures: Option<u64>,
    /// The circuit breaker: this many in a row of one systemic failure stop the run (users
    /// failing their transient retries, items refused the token after a renewal, calls of
    /// one route answered 403, or 400).
    pub breaker_threshold: NonZeroUsize,
    /// First backoff step for transient failures (doubles each attempt, with jitter).
    pub backoff_base: Duration,
    /// Upper bound of one wait (Retry-After or backoff).
    pub max_wait: Duration,
    /// How long Ctrl-C waits for in-flight batches.
    pub shutdown_grace: Duration,
}

/// `n`, checked above zero at compile time (the defaults are constants).
const fn nonzero_u32(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(v) => v,
        None => panic!("zero"),
    }
}

const fn nonzero_usize(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(v) => v,
        None => panic!("zero"),
    }
}

/// The defaults (the flags' defaults say the same).
const DEFAULT_CONCURRENCY: NonZeroUsize = nonzero_usize(8);
const DEFAULT_MAX_ATTEMPTS: NonZeroU32 = nonzero_u32(6);
const DEFAULT_MAX_THROTTLED_ATTEMPTS: NonZeroU32 = nonzero_u32(50);

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            batch_size: BatchSize::MAX,
            concurrency: DEFAULT_CONCURRENCY,
            writes: Some(Pace {
                rate: DEFAULT_WRITE_RATE,
                ceiling: DEFAULT_WRITE_RATE,
            }),
            reads: Some(Pace {
                rate: DEFAULT_READ_RATE,
                ceiling: DEFAULT_READ_RATE,
            }),
            app_writes: Some(Pace {
                rate: DEFAULT_APP_WRITE_RATE,
                ceiling: DEFAULT_APP_WRITE_RATE,
            }),
            app_units: Some(Pace {
                rate: DEFAULT_APP_UNIT_RATE,
                ceiling: DEFAULT_APP_UNIT_RATE,
            }),
            shared_writes: None,
            shared_units: None,
            engines: NonZeroUsize::MIN,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_throttled_attempts: DEFAULT_MAX_THROTTLED_ATTEMPTS,
            dry_run: false,
            reset_all: false,
            global_cloud: true,
            max_changes: None,
            limit: None,
            protected: std::sync::Arc::default(),
            max_failures: None,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            backoff_base: Duration::from_millis(500),
            max_wait: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BatchSize, FailureBound, Pace};

    #[test]
    fn a_batch_holds_1_to_20_items_and_nothing_else_is_a_batch_size() {
        assert_eq!(BatchSize::new(0), None);
        assert_eq!(BatchSize::new(1).map(BatchSize::get), Some(1));
        assert_eq!(BatchSize::new(20), Some(BatchSize::MAX));
        assert_eq!(BatchSize::new(21), None);
    }

    #[test]
    fn a_pace_is_positive_and_finite_with_its_ceiling_not_below_its_rate() {
        assert_eq!(
            Pace::held(19.4).map(|p| (p.rate(), p.ceiling())),
            Some((19.4, 19.4))
        );
        assert_eq!(Pace::growing(19.4, 77.6).map(Pace::ceiling), Some(77.6));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Pace::held(bad), None, "{bad}");
            assert_eq!(Pace::growing(10.0, bad), None, "{bad}");
        }
        assert_eq!(Pace::growing(20.0, 10.0), None);
    }

    #[test]
    fn max_failures_takes_rows_or_a_percentage_of_the_run() {
        assert_eq!(FailureBound::parse("10"), Ok(FailureBound::Rows(10)));
        assert_eq!(
            FailureBound::parse(" 2.5% "),
            Ok(FailureBound::Percent(2.5))
        );
        assert_eq!(FailureBound::parse("10").unwrap().rows(5000), 10);
        assert_eq!(FailureBound::parse("2%").unwrap().rows(5000), 100);
        assert_eq!(FailureBound::parse("1%").unwrap().rows(30), 1);
        assert_eq!(FailureBound::parse("50%").unwrap().rows(0), 1);
    }

    #[test]
    fn max_failures_refuses_zero_negative_and_text_naming_the_flag() {
        for bad in ["0", "-3", "0%", "101%", "ten", "%", "5x", "\u{1b}[2J"] {
            let e = FailureBound::parse(bad).unwrap_err();
            assert!(e.starts_with("--max-failures"), "{bad}: {e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
    }
}
