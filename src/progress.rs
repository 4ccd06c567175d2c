//! Progress on stderr: an indicatif bar on a terminal, a log line every ~10 s otherwise,
//! nothing with --quiet. Never blocks the engine: counting is atomics only, the bar redraws at
//! most 10 times a second, and log lines come from a background thread.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::engine::Requests;
use crate::figures::{duration, rate, thousands};
use crate::journal::Status;

/// How often a log line is printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How often the log thread wakes to notice `finish` or a dropped `Progress`.
const LOG_POLL: Duration = Duration::from_millis(250);
/// The bar's line: `███▌    1,234/10,000 · 18.2/s · eta 7m · applied 1,200 · …`.
const BAR_TEMPLATE: &str =
    "{bar:30.cyan/blue} {human_pos}/{human_len} · {rate} · eta {eta} · {counts}";
/// The same line in ASCII, for a locale that is not UTF-8 (`LANG=C`).
const BAR_TEMPLATE_ASCII: &str =
    "[{bar:30}] {human_pos}/{human_len} - {rate} - eta {eta} - {counts} {msg}";
/// Bar redraws per second, at most.
const BAR_HZ: u8 = 10;

/// Where progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// A live bar on stderr (a terminal).
    Bar,
    /// A plain line every ~10 s on stderr (CI logs, redirected output).
    Log,
    /// Nothing (`-q`).
    Quiet,
}

impl ProgressMode {
    /// `Quiet` with `-q`; otherwise `Bar` when stderr is a terminal, `Log` when it is not.
    #[must_use]
    pub(crate) fn detect(quiet: bool) -> ProgressMode {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Log
        }
    }
}

/// Finished (row, action) pairs by outcome, plus 429s.
#[derive(Debug, Default)]
struct Counts {
    done: AtomicU64,
    applied: AtomicU64,
    planned: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
    /// Users the tenant does not have: an outcome of the input, not a failure of the run
    /// (common when offboarding from an HR export).
    not_found: AtomicU64,
    invalid: AtomicU64,
    skipped: AtomicU64,
    throttled: AtomicU64,
    /// What the engine last reported sending, and its budgets' rates (f64 bits; 0: none).
    reads_sent: AtomicU64,
    writes_sent: AtomicU64,
    read_rate: AtomicU64,
    write_rate: AtomicU64,
}

impl Counts {
    fn sent(&self) -> Requests {
        let rate =
            |c: &AtomicU64| Some(f64::from_bits(c.load(Ordering::Relaxed))).filter(|r| *r > 0.0);
        Requests {
            reads: self.reads_sent.load(Ordering::Relaxed),
            writes: self.writes_sent.load(Ordering::Relaxed),
            read_rate: rate(&self.read_rate),
            write_rate: rate(&self.write_rate),
        }
    }

    /// The time left, from the budget that binds (see [`eta`]).
    fn eta(&self, total: u64, elapsed: Duration) -> Option<Duration> {
        eta(
            total,
            self.done.load(Ordering::Relaxed),
            self.sent(),
            elapsed,
        )
    }

    /// `applied 1,000 · unchanged 200 · failed 3 · 429s 5`; rare outcomes only when they occur.
    fn describe(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let planned = get(&self.planned);
        if planned > 0 {
            let _ = write!(out, "planned {}", thousands(planned));
            if get(&self.applied) > 0 {
                let _ = write!(out, " · applied {}", thousands(get(&self.applied)));
            }
        } else {
            let _ = write!(out, "applied {}", thousands(get(&self.applied)));
        }
        let _ = write!(out, " · unchanged {}", thousands(get(&self.unchanged)));
        let _ = write!(out, " · failed {}", thousands(get(&self.failed)));
        for (label, n) in [
            ("not found", get(&self.not_found)),
            ("invalid", get(&self.invalid)),
            ("skipped", get(&self.skipped)),
            ("429s", get(&self.throttled)),
        ] {
            if n > 0 {
                let _ = write!(out, " · {label} {}", thousands(n));
            }
        }
        out
    }
}

struct Inner {
    total: u64,
    mode: ProgressMode,
    start: Instant,
    counts: Arc<Counts>,
    bar: Option<ProgressBar>,
    finished: AtomicBool,
}

/// A handle on the run's progress display. Cheap to clone; share it with every task.
#[derive(Clone)]
pub(crate) struct Progress {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.inner.mode)
            .field("total", &self.inner.total)
            .field("done", &self.done())
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Starts showing progress towards `total` (row, action) pairs.
    #[must_use]
    pub(crate) fn new(total: u64, mode: ProgressMode) -> Progress {
        let counts = Arc::new(Counts::default());
        let bar = (mode == ProgressMode::Bar).then(|| new_bar(total, &counts));
        let inner = Arc::new(Inner {
            total,
            mode,
            start: Instant::now(),
            counts,
            bar,
            finished: AtomicBool::new(false),
        });
        if mode == ProgressMode::Log {
            spawn_logger(Arc::downgrade(&inner));
        }
        Progress { inner }
    }

    /// One (row, action) finished with `status`.
    pub(crate) fn record(&self, status: Status) {
        let c = &self.inner.counts;
        let counter = match status {
            Status::Applied => &c.applied,
            Status::Planned => &c.planned,
            Status::Unchanged => &c.unchanged,
            Status::Failed => &c.failed,
            Status::NotFound => &c.not_found,
            Status::Invalid => &c.invalid,
            Status::Skipped => &c.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        c.done.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = &self.inner.bar {
            // Rate-limited by the draw target: at most BAR_HZ redraws a second.
            bar.inc(1);
        }
    }

    /// `n` requests were answered 429 (items in a batch, or a whole batch).
    pub(crate) fn throttled(&self, n: u64) {
        self.inner.counts.throttled.fetch_add(n, Ordering::Relaxed);
    }

    /// The engine's requests so far and its budgets' current rates.
    pub(crate) fn paced(&self, sent: Requests) {
        let c = &self.inner.counts;
        c.reads_sent.store(sent.reads, Ordering::Relaxed);
        c.writes_sent.store(sent.writes, Ordering::Relaxed);
        c.read_rate
            .store(sent.read_rate.unwrap_or(0.0).to_bits(), Ordering::Relaxed);
        c.write_rate
            .store(sent.write_rate.unwrap_or(0.0).to_bits(), Ordering::Relaxed);
    }

    /// Ends the display: clears the bar (the summary follows) or prints a final log line.
    /// Later calls do nothing.
    pub(crate) fn finish(&self) {
        if self.inner.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        match self.inner.mode {
            ProgressMode::Bar => {
                if let Some(bar) = &self.inner.bar {
                    bar.finish_and_clear();
                }
            }
            ProgressMode::Log => eprintln!("{}", for_terminal(&self.inner.log_line(true))),
            ProgressMode::Quiet => {}
        }
    }

    /// (row, action) pairs finished so far.
    #[must_use]
    pub(crate) fn done(&self) -> u64 {
        self.inner.counts.done.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// `progress: 1,234/10,000 (12%) · 18.2/s · eta 7m 40s · applied …`.
    fn log_line(&self, last: bool) -> String {
        let done = self.counts.done.load(Ordering::Relaxed);
        let elapsed = self.start.elapsed();
        let mut line = if last {
            format!(
                "progress: finished {}/{} in {}",
                thousands(done),
                thousands(self.total),
                duration(elapsed)
            )
        } else {
            let pct = (done.saturating_mul(100))
                .checked_div(self.total)
                .unwrap_or(100);
            format!(
                "progress: {}/{} ({pct}%)",
                thousands(done),
                thousands(self.total)
            )
        };
        let secs = elapsed.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let per_sec = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let _ = write!(line, " · {}/s", rate(per_sec));
        if !last {
            if let Some(eta) = self.counts.eta(self.total, elapsed) {
                let _ = write!(line, " · eta {}", duration(eta));
            }
        }
        let _ = write!(line, " · {}", self.counts.describe());
        line
    }
}

/// The time left when `done` of `total` (row, action) pairs are finished after `elapsed`.
///
/// A rollout's pace is set by its budgets, not by its rows: reads run ahead of writes (users
/// are read up to a few hundred ahead of their change) and unchanged rows cost no write, so
/// rows per second early in a run says little about the end. The requests still to send are
/// projected from what the finished pairs took (reads and writes per pair so far), and each
/// kind takes its count over its budget's current rate (where a budget is not limited, the
/// rate seen so far); the slower of the two is the estimate. `None` until a pair is done.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn eta(total: u64, done: u64, sent: Requests, elapsed: Duration) -> Option<Duration> {
    if done == 0 || done >= total {
        return (done >= total && total > 0).then_some(Duration::ZERO);
    }
    let left = (total - done) as f64;
    let secs = elapsed.as_secs_f64();
    let time_for = |sent_so_far: u64, budget: Option<f64>| -> f64 {
        let still = left * sent_so_far as f64 / done as f64;
        let seen = if secs > 0.0 {
            sent_so_far as f64 / secs
        } else {
            0.0
        };
        match budget.filter(|r| *r > 0.0).or((seen > 0.0).then_some(seen)) {
            Some(rate) => still / rate,
            None => 0.0,
        }
    };
    let by_budget =
        time_for(sent.writes, sent.write_rate).max(time_for(sent.reads, sent.read_rate));
    // Nothing sent yet (all rows skipped or refused so far): the pairs' own pace.
    let by_pairs = if secs > 0.0 {
        left / (done as f64 / secs)
    } else {
        0.0
    };
    let estimate = if sent.reads + sent.writes > 0 {
        by_budget
    } else {
        by_pairs
    };
    estimate
        .is_finite()
        .then(|| Duration::from_secs_f64(estimate.round().clamp(0.0, 1e9)))
}

/// A log line as the locale can show it.
fn for_terminal(line: &str) -> String {
    crate::locale_text::for_locale(line, crate::locale_text::utf8_locale()).into_owned()
}

fn new_bar(total: u64, counts: &Arc<Counts>) -> ProgressBar {
    let counts = Arc::clone(counts);
    let utf8 = crate::locale_text::utf8_locale();
    let (template, chars) = if utf8 {
        (BAR_TEMPLATE, "█▉▊▋▌▍▎▏ ")
    } else {
        (BAR_TEMPLATE_ASCII, "#>-")
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars(chars)
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", rate(state.per_sec()));
            },
        )
        .with_key("eta", {
            let counts = Arc::clone(&counts);
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let total = state.len().unwrap_or(0);
                let _ = match counts.eta(total, state.elapsed()) {
                    Some(eta) => w.write_str(&duration(eta)),
                    None => w.write_str("?"),
                };
            }
        })
        .with_key(
            "counts",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&crate::locale_text::for_locale(&counts.describe(), utf8));
            },
        );
    let bar =
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(BAR_HZ))
            .with_style(style);
    // Keeps elapsed time and ETA moving while the run waits on throttling.
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// Prints a log line every LOG_EVERY until `finish` or until every `Progress` is dropped.
fn spawn_logger(inner: Weak<Inner>) {
    let spawned = thread::Builder::new()
        .name("progress-log".into())
        .spawn(move || {
            let mut last = Instant::now();
            loop {
                thread::sleep(LOG_POLL);
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                if inner.finished.load(Ordering::Acquire) {
                    return;
                }
                if last.elapsed() >= LOG_EVERY {
                    last = Instant::now();
                    eprintln!("{}", for_terminal(&inner.log_line(false)));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the progress log thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_template_is_valid() {
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }

    #[test]
    fn quiet_flag_always_means_quiet() {
        assert_eq!(ProgressMode::detect(true), ProgressMode::Quiet);
    }

    #[test]
    fn progress_is_cheap_to_share_across_threads() {
        fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
        assert_send_sync_clone::<Progress>();
    }

    #[test]
    fn records_from_many_threads_are_all_counted() {
        for mode in [ProgressMode::Quiet, ProgressMode::Bar, ProgressMode::Log] {
            let p = Progress::new(4_000, mode);
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let p = p.clone();
                    thread::spawn(move || {
                        for i in 0..1_000 {
                            p.record(if i % 10 == 0 {
                                Status::Failed
                            } else {
                                Status::Applied
                            });
                        }
                        p.throttled(2);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(p.done(), 4_000);
            let c = &p.inner.counts;
            assert_eq!(c.failed.load(Ordering::Relaxed), 400);
            assert_eq!(c.throttled.load(Ordering::Relaxed), 8);
            p.finish();
            p.finish();
        }
    }

    #[test]
    fn counts_read_as_words_with_separators_and_rare_ones_only_when_present() {
        let c = Counts::default();
        c.applied.store(1_234, Ordering::Relaxed);
        c.unchanged.store(56, Ordering::Relaxed);
        assert_eq!(c.describe(), "applied 1,234 · unchanged 56 · failed 0");
        c.throttled.store(7, Ordering::Relaxed);
        c.skipped.store(1, Ordering::Relaxed);
        assert_eq!(
            c.describe(),
            "applied 1,234 · unchanged 56 · failed 0 · skipped 1 · 429s 7"
        );
        c.not_found.store(3, Ordering::Relaxed);
        c.invalid.store(2, Ordering::Relaxed);
        assert_eq!(
            c.describe(),
            "applied 1,234 · unchanged 56 · failed 0 · not found 3 · invalid 2 · skipped 1 · 429s 7"
        );
        c.planned.store(10, Ordering::Relaxed);
        assert!(c.describe().starts_with("planned 10 · applied 1,234"));
    }

    #[test]
    fn log_line_shows_done_total_percent_rate_and_counts() {
        let p = Progress::new(10_000, ProgressMode::Quiet);
        for _ in 0..1_234 {
            p.record(Status::Applied);
        }
        let line = p.inner.log_line(false);
        assert!(
            line.starts_with("progress: 1,234/10,000 (12%) · "),
            "{line}"
        );
        assert!(line.contains("/s · eta "), "{line}");
        assert!(
            line.ends_with("applied 1,234 · unchanged 0 · failed 0"),
            "{line}"
        );
        let last = p.inner.log_line(true);
        assert!(
            last.starts_with("progress: finished 1,234/10,000 in "),
            "{last}"
        );
    }

    #[test]
    fn eta_follows_the_write_budget_not_the_early_row_rate() {
        // The run: 842 of 20,000 pairs in 2.66 s (316.8/s), most of them unchanged
        // reads; 421 writes so far at ~20/s. Rows per second said 60 s; the writes say more
        // than 7 minutes.
        let sent = Requests {
            reads: 1_700,
            writes: 421,
            read_rate: Some(741.0),
            write_rate: Some(19.4),
        };
        let eta = eta(20_000, 842, sent, Duration::from_secs_f64(2.66)).unwrap();
        // 19,158 pairs left × 421/842 writes a pair = 9,579 writes at 19.4/s ≈ 494 s.
        assert_eq!(eta.as_secs(), 494);
    }

    #[test]
    fn eta_follows_the_read_budget_when_reads_bind() {
        // A plan: reads only, 100 of 1,000 users read at 50 reads/s.
        let sent = Requests {
            reads: 100,
            writes: 0,
            read_rate: Some(50.0),
            write_rate: Some(19.4),
        };
        assert_eq!(
            eta(1_000, 100, sent, Duration::from_secs(2)),
            Some(Duration::from_secs(18))
        );
    }

    #[test]
    fn eta_without_budgets_uses_the_rates_seen_and_is_unknown_before_the_first_pair() {
        let sent = Requests {
            reads: 200,
            writes: 100,
            read_rate: None,
            write_rate: None,
        };
        // 100 writes in 10 s: 10/s; 900 pairs left × 1 write = 90 s (reads: 1,800 at 20/s).
        assert_eq!(
            eta(1_000, 100, sent, Duration::from_secs(10)),
            Some(Duration::from_secs(90))
        );
        assert_eq!(eta(1_000, 0, sent, Duration::from_secs(10)), None);
        assert_eq!(
            eta(1_000, 1_000, sent, Duration::from_secs(10)),
            Some(Duration::ZERO)
        );
        // Nothing sent (skipped rows only): the pairs' own pace.
        assert_eq!(
            eta(100, 50, Requests::default(), Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn zero_total_does_not_divide_by_zero() {
        let p = Progress::new(0, ProgressMode::Quiet);
        assert!(p.inner.log_line(false).starts_with("progress: 0/0 (100%)"));
    }
}
