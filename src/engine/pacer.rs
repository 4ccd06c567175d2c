//! A rate budget: a token bucket whose rate adapts while the run goes on, and which the
//! scheduler can ask "how long until `n` tokens?" without taking them. That is why it is not a
//! `governor` limiter: a batch needs a read budget and a write budget to agree before either
//! is spent, and governor neither refunds nor changes a quota in place.
//!
//! The controller (docs/graph.md §6). Graph's budget is itself a token bucket that charges
//! throttled requests too, so a 429 means "stop until Retry-After", not just "slow down": the
//! budget holds every send until then and cuts its rate multiplicatively, once per round,
//! from the rate it actually sent at when that was lower (see "What was sent" below). A
//! told rate (`--write-rate`, `--read-rate`) is held exactly: it ignores
//! `x-ms-throttle-limit-percentage`, yields only to 429s and recovers to itself. An untold
//! rate starts at the documented quota and looks for what the tenant grants, in three phases:
//!
//! - **Probe**: until the first header or 429, the rate doubles every [`PROBE_DOUBLING`] of
//!   sending that waited on this budget, up to the ceiling (a multiple of the documented
//!   quota), so a bucket Graph grants full is spent as a burst in the first seconds instead
//!   of being left idle.
//! - **Land**: Graph sends the header once more than 80 % of its bucket is used, so the first
//!   one says the burst is nearly spent: the rate drops at once to [`LAND_SHARE`] of the
//!   documented quota (the steady rate Graph refills at), and no higher than
//!   [`SENT_HEADROOM`] times what was actually sent, before the rest costs 429s. A 429
//!   during the probe (a service that sends no header) lands the same way, no higher than a
//!   normal cut would.
//! - **Track**: from then on the rate follows the header's trend over half a second or more:
//!   rising means we drain Graph's bucket (send faster than it refills), so ease down, harder
//!   above [`BACK_OFF_ABOVE`]; falling means it refills, and steady may hide a rate under the
//!   refill (the header moves in coarse steps, and what the bucket still holds when the run
//!   ends is time lost), so both grow additively. Near the edge (above [`BACK_OFF_ABOVE`]) a
//!   steady header grows at [`EDGE_GROWTH`] of that speed (a full-speed creep overshoots the
//!   refill by half of it before the header rises) unless the header fell within
//!   [`FELL_RECENTLY`], and at the very edge (from [`HOLD_ABOVE`]) it holds; a falling one
//!   grows at full speed everywhere. Without the
//!   header (under 80 % in use) it grows additively too.
//!
//! **What was sent.** A budget allows a rate; the scheduler's window of batches in flight
//! (one at the start, growing by one per clean answer) or a lack of work may keep it from
//! sending that much, and Graph's bucket — and its header — only sees what was sent. A
//! tenant whose bucket is used up answers the first batches with the header or 429s while
//! the window is still small; a rate landed or cut from what it allowed stays far above what
//! Graph refills, and is spent once the window opens (bench scenario 2's resource units:
//! 7,410 reads/s allowed, 20 reads sent, cut to 4,446/s against a 2,667/s refill; a second
//! later about 230 reads, a window's worth, were answered 429: 1 % of the run's items). So
//! the budget keeps the rate it actually sent at lately (an average weighted by age over
//! [`SENT_MEMORY`] or ten batches), a cut is from the lower of the two (as TCP halves what is
//! in flight, not its window), and a landing is no higher than [`SENT_HEADROOM`] times it.
//!
//! The clock is the caller's: every method takes `now`, so the rules are unit-tested with
//! made-up instants, no sleeps.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::settings::{BatchSize, Pace};

/// Above this share of Graph's budget in use, a rising trend eases the rate down harder.
pub(crate) const BACK_OFF_ABOVE: f64 = 0.95;
/// The probe doubles the rate this often (counting only time spent waiting on the budget).
pub(crate) const PROBE_DOUBLING: Duration = Duration::from_millis(500);
/// Where the first throttle signal lands an untold rate, as a share of the start rate (the
/// documented quota): a little under it, so Graph's nearly empty bucket refills a cushion.
pub(crate) const LAND_SHARE: f64 = 0.95;
/// A steady or falling header grows the rate only below this share; at the very edge of
/// Graph's bucket the rate holds until a cushion is back.
pub(crate) const HOLD_ABOVE: f64 = 0.99;
/// The share of the additive growth a steady limit percentage allows above
/// [`BACK_OFF_ABOVE`]: the header moves in hundredths of Graph's bucket, so a creep at full
/// speed overshoots the refill by about `sqrt(3 * refill * growth)` before the header rises
/// (on a bucket that holds 150 s) — half as much again as the refill at a third of the
/// documented quota. A quarter of the speed halves that overshoot.
pub(crate) const EDGE_GROWTH: f64 = 0.25;
const FELL_RECENTLY: Duration = Duration::from_secs(2);
/// What a bucket holds beyond one batch, in time at its rate. A batch goes once it is
/// affordable, and the scheduler's timer wakes a millisecond or more late: a bucket that held
/// only one batch threw away what accrued meanwhile (a fifth of a 4,000 reads/s budget, whose
/// batch accrues every 5 ms). Time, not batches: at a write rate of tens a second the slack is
/// a fraction of an item. (With the slack a read budget spends its whole rate: bench
/// scenario 2's 429s rose from 0.4 % to 1.1-1.5 % of its items, nearly all reads in its first
/// two seconds, until cuts and landings counted what was sent rather than what was allowed.)
pub(crate) const WAKE_SLACK: Duration = Duration::from_millis(5);
/// The cut on a 429.
const DECREASE: f64 = 0.6;
/// How far back the rate a budget actually sent at looks: an average of its sends weighted
/// by `exp(-age / SENT_MEMORY)` (longer at a rate of a few batches a second, see
/// `Budget::sent_memory`).
const SENT_MEMORY: Duration = Duration::from_secs(1);
/// The first header lands the rate no higher than this many times what was sent lately: a
/// budget that is the constraint sends at about its rate (a batch at a time, so its measure
/// swings by a few percent), one the window held back far less.
const SENT_HEADROOM: f64 = 2.0;

/// One budget (reads or writes), in items per second.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// The rate growth never goes above.
    ceiling: f64,
    /// The lowest rate a slow-down may reach.
    floor: f64,
    /// The rate it started at: the told rate, or the documented quota when untold.
    start: f64,
    rate: f64,
    /// Additive growth per second while the service has room, in items/s.
    growth: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// No send before this (a 429's Retry-After).
    hold_until: Option<Instant>,
    last_decrease: Option<Instant>,
    last_adjust: Instant,
    unlimited: bool,
    /// Whether sends waited on this budget since the last adjustment: growth only makes sense
    /// for a budget that is the constraint (a budget with nothing to send learns nothing).
    limited: bool,
    /// The throttle percentage seen at an earlier point, to read its trend: rising means
    /// Graph's bucket drains (we send faster than it refills), falling means it fills.
    trend_from: Option<(Instant, f64)>,
    /// Whether the rate may move on the throttle-percentage signal. A told rate is held (it
    /// only yields to 429s, and recovers to itself); an untold one looks for the limit.
    adaptive: bool,
    /// Untold and no throttle signal yet: the rate grows multiplicatively.
    probing: bool,
    /// When the header last fell (Graph's bucket refilled), unless it rose since.
    fell_at: Option<Instant>,
    /// What was sent lately, to cut and land from: tokens taken, each weighted by
    /// `exp(-age / memory)` as of `sent_decayed`; the last send; when the budget began.
    sent_weighted: f64,
    sent_decayed: Instant,
    last_take: Option<Instant>,
    born: Instant,
}

impl Budget {
    /// A budget paced by `pace` (`None`: unlimited), allowing bursts of one batch's worth (so
    /// a full batch can always be sent) plus [`WAKE_SLACK`] of its rate.
    pub(crate) fn new(pace: Option<Pace>, burst: BatchSize, now: Instant) -> Budget {
        let unlimited = pace.is_none();
        let rate = pace.map_or(f64::INFINITY, Pace::rate);
        let ceiling = pace.map_or(f64::INFINITY, Pace::ceiling);
        let adaptive = ceiling > rate;
        Budget {
            adaptive,
            probing: adaptive,
            ceiling,
            floor: (rate / 50.0).max(0.2),
            start: rate,
            rate,
            growth: rate * 0.05,
            burst: burst.get() as f64,
            // Start empty: a run must not open with a burst on top of what an earlier run
            // already spent (the probe finds out whether Graph grants one).
            tokens: 0.0,
            last: now,
            hold_until: None,
            last_decrease: None,
            last_adjust: now,
            unlimited,
            limited: false,
            trend_from: None,
            fell_at: None,
            sent_weighted: 0.0,
            sent_decayed: now,
            last_take: None,
            born: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if self.unlimited {
            return;
        }
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        let cap = self.burst + self.rate * WAKE_SLACK.as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(cap);
        self.last = now;
    }

    /// How long until `n` tokens are available (zero when they are now).
    pub(crate) fn ready_in(&mut self, n: f64, now: Instant) -> Duration {
        if n <= 0.0 {
            return Duration::ZERO;
        }
        let held = self
            .hold_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        if self.unlimited {
            return held;
        }
        self.refill(now);
        let need = n.min(self.burst) - self.tokens;
        let wait = if need <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(need / self.rate)
        };
        wait.max(held)
    }

    /// Tokens that may be spent now (0 while a Retry-After holds the budget).
    pub(crate) fn available(&mut self, now: Instant) -> f64 {
        if self.hold_until.is_some_and(|t| t > now) {
            return 0.0;
        }
        if self.unlimited {
            return f64::INFINITY;
        }
        self.refill(now);
        self.tokens
    }

    /// Spends `n` tokens (the caller checked `ready_in` first; the bucket may go negative for
    /// a batch larger than the burst, which then delays the next one).
    pub(crate) fn take(&mut self, n: f64, now: Instant) {
        if self.unlimited {
            return;
        }
        self.refill(now);
        self.tokens -= n;
        if n > 0.0 {
            self.decay_sent(now);
            self.sent_weighted += n;
            self.last_take = Some(now);
        }
    }

    /// The sent rate's memory: [`SENT_MEMORY`], or ten batches at the rate when longer, so
    /// that sends a batch at a time read within a few percent of their rate.
    fn sent_memory(&self) -> f64 {
        SENT_MEMORY.as_secs_f64().max(10.0 * self.burst / self.rate)
    }

    fn decay_sent(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.sent_decayed)
            .as_secs_f64();
        self.sent_weighted *= (-dt / self.sent_memory()).exp();
        self.sent_decayed = now;
    }

    /// The rate this budget actually sent at lately (items/s; `None` before its first
    /// send), which may be well under its rate: the scheduler's window of batches in flight,
    /// or too little work, held it back. The weighted sum over the weights' integral since
    /// the budget began, so a young budget is measured over its short life.
    fn sent_rate(&mut self, now: Instant) -> Option<f64> {
        self.last_take?;
        self.decay_sent(now);
        let memory = self.sent_memory();
        let age = now.saturating_duration_since(self.born).as_secs_f64();
        let span = memory * (1.0 - (-age / memory).exp());
        (span > 0.0).then(|| self.sent_weighted / span)
    }

    /// A 429 was drawn by this budget by a batch sent at `sent_at`: hold every send until
    /// its Retry-After, and cut the rate — once per round: a batch sent before the last cut
    /// was paced at the old rate and says nothing new (as TCP cuts once per window). The cut
    /// is from the rate actually sent lately when that was lower (as TCP halves the data in
    /// flight, not its window): while the window of batches in flight opens, a budget
    /// allows far more than it sends, and a cut of what it allows would leave it above what
    /// Graph refills, to be spent once the window is open. A budget that sent nothing lately
    /// (a whole batch refused for the other kind's sake) cuts its rate as is.
    /// A 429 ends a probe: the rate lands no higher than the documented quota.
    pub(crate) fn on_throttled(
        &mut self,
        retry_after: Option<Duration>,
        sent_at: Instant,
        now: Instant,
    ) {
        if let Some(wait) = retry_after {
            let until = now + wait;
            self.hold_until = Some(self.hold_until.map_or(until, |t| t.max(until)));
        }
        if self.unlimited || self.last_decrease.is_some_and(|t| sent_at <= t) {
            return;
        }
        self.refill(now);
        let mut rate = self.rate;
        // Sent lately: no longer ago, before the batch went, than its round trip took.
        let round_trip = now.saturating_duration_since(sent_at);
        if self.last_take.is_some_and(|t| t + round_trip >= sent_at)
            && let Some(sent) = self.sent_rate(now)
        {
            rate = rate.min(sent);
        }
        rate *= DECREASE;
        if std::mem::take(&mut self.probing) {
            rate = rate.min(self.start * LAND_SHARE);
        }
        self.rate = rate.max(self.floor);
        self.tokens = self.tokens.min(0.0);
        self.last_decrease = Some(now);
        self.last_adjust = now;
    }

    /// Sends of this kind are waiting on this budget.
    pub(crate) fn mark_limited(&mut self) {
        self.limited = true;
    }

    /// Answers passed; `percentage` is the highest `x-ms-throttle-limit-percentage` among
    /// them (None when Graph sent none: under 80 % in use). The phases are in the module
    /// comment; a told rate ignores the header and only recovers towards itself after a cut.
    pub(crate) fn on_passed(&mut self, percentage: Option<f64>, now: Instant) {
        if self.unlimited {
            return;
        }
        let dt = now
            .saturating_duration_since(self.last_adjust)
            .as_secs_f64();
        match percentage.filter(|_| self.adaptive) {
            None if self.probing => self.grow(now, |rate| {
                rate * 2f64.powf(dt / PROBE_DOUBLING.as_secs_f64())
            }),
            None => {
                self.trend_from = None;
                if dt >= 0.25 {
                    let step = self.growth * dt;
                    self.grow(now, |rate| rate + step);
                }
            }
            Some(p) if self.probing => {
                // More than 80 % of Graph's bucket is spent: stop draining it before the
                // rest costs 429s.
                self.probing = false;
                self.refill(now);
                self.rate = self.rate.min(self.start * LAND_SHARE);
                if let Some(sent) = self.sent_rate(now) {
                    self.rate = self.rate.min(SENT_HEADROOM * sent).max(self.floor);
                }
                self.tokens = self.tokens.min(0.0);
                self.limited = false;
                self.last_adjust = now;
                self.trend_from = Some((now, p));
            }
            Some(p) => {
                let (t0, p0) = *self.trend_from.get_or_insert((now, p));
                let span = now.saturating_duration_since(t0).as_secs_f64();
                if span < 0.5 {
                    return;
                }
                let slope = (p - p0) / span;
                if slope > 1e-5 || (p >= 0.995 && slope >= 0.0) {
                    self.refill(now);
                    let factor = if p >= BACK_OFF_ABOVE { 0.9 } else { 0.97 };
                    self.rate = (self.rate * factor).max(self.floor);
                    self.limited = false;
                    self.last_adjust = now;
                    self.fell_at = None;
                } else if p < HOLD_ABOVE || slope < -1e-5 {
                    // Falling: Graph's bucket refills, even at the very edge. Steady: the
                    // header moves in coarse steps, so it may hide a rate under the refill,
                    // and what the bucket still holds when the run ends is time lost. Either
                    // way, creep up; near the edge, steady creeps slower (EDGE_GROWTH).
                    if slope < -1e-5 {
                        self.fell_at = Some(now);
                    }
                    let fell = self
                        .fell_at
                        .is_some_and(|t| now.saturating_duration_since(t) <= FELL_RECENTLY);
                    let share = if fell || p < BACK_OFF_ABOVE {
                        1.0
                    } else {
                        EDGE_GROWTH
                    };
                    let step = self.growth * dt * share;
                    self.grow(now, |rate| rate + step);
                } else {
                    self.last_adjust = now;
                }
                self.trend_from = Some((now, p));
            }
        }
    }

    /// Raises the rate by `to` (towards the ceiling) when sends waited on this budget since
    /// the last adjustment; either way that span is accounted for.
    fn grow(&mut self, now: Instant, to: impl FnOnce(f64) -> f64) {
        if self.limited && self.rate < self.ceiling {
            self.refill(now);
            self.rate = to(self.rate).min(self.ceiling);
        }
        self.limited = false;
        self.last_adjust = now;
    }

    pub(crate) fn rate(&self) -> Option<f64> {
        (!self.unlimited).then_some(self.rate)
    }
}

/// A budget several engines draw from: a many-tenant run's writes across all its tenants
/// (Graph's limit for one app, docs/graph.md §6), which every tenant's batches take from
/// besides their own budget. The engines run in one task, so the lock is never contended; a
/// lock rather than a `RefCell` keeps the settings `Send`.
#[derive(Clone, Debug)]
pub(crate) struct SharedBudget(Arc<Mutex<Budget>>);

impl SharedBudget {
    pub(crate) fn new(pace: Pace, burst: BatchSize, now: Instant) -> SharedBudget {
        SharedBudget(Arc::new(Mutex::new(Budget::new(Some(pace), burst, now))))
    }

    /// Runs `f` on the budget (a poisoned lock still yields it: the budget is plain numbers).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Budget) -> R) -> R {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn budget(rate: f64, ceiling: f64, t0: Instant) -> Budget {
        let pace = Pace::growing(rate, ceiling).expect("a valid pace");
        Budget::new(Some(pace), BatchSize::MAX, t0)
    }

    #[test]
    fn an_empty_bucket_makes_a_full_batch_wait_batch_over_rate() {
        let t0 = Instant::now();
        let mut b = budget(20.0, 20.0, t0);
        assert_eq!(b.ready_in(20.0, t0), Duration::from_secs(1));
        assert_eq!(
            b.ready_in(20.0, t0 + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_late_wake_up_keeps_what_accrued_meanwhile() {
        // 4,000 reads/s: a batch of 20 every 5 ms; the timer wakes 1 ms late each time.
        let t0 = Instant::now();
        let mut b = budget(4000.0, 4000.0, t0);
        let mut now = t0;
        let mut sent = 0.0;
        while now < t0 + Duration::from_secs(10) {
            now += b.ready_in(20.0, now) + Duration::from_millis(1);
            b.take(20.0, now);
            sent += 20.0;
        }
        let rate = sent / now.duration_since(t0).as_secs_f64();
        assert!(rate >= 0.99 * 4000.0, "rate {rate}");
    }

    #[test]
    fn at_a_write_rate_the_bucket_holds_barely_more_than_a_batch() {
        let t0 = Instant::now();
        let mut b = budget(200.0 / 3.0, 200.0 / 3.0, t0);
        let idle = t0 + Duration::from_secs(10);
        assert!(b.available(idle) <= 20.0 + 0.34, "{}", b.available(idle));
    }

    #[test]
    fn spending_holds_the_long_run_rate() {
        let t0 = Instant::now();
        let mut b = budget(10.0, 10.0, t0);
        let mut now = t0;
        let mut sent = 0.0;
        while now < t0 + Duration::from_secs(100) {
            now += b.ready_in(20.0, now);
            b.take(20.0, now);
            sent += 20.0;
        }
        let rate = sent / now.duration_since(t0).as_secs_f64();
        assert!((rate - 10.0).abs() < 0.3, "rate {rate}");
    }

    #[test]
    fn a_throttle_holds_until_retry_after_and_cuts_the_rate_once_per_round() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 100.0, t0);
        b.on_throttled(Some(Duration::from_secs(3)), t0, t0);
        // A batch sent before that cut: it holds, but cuts nothing more.
        b.on_throttled(
            Some(Duration::from_secs(1)),
            t0,
            t0 + Duration::from_millis(10),
        );
        assert_eq!(b.rate(), Some(60.0));
        // One sent after it: the rate was still too high.
        let t = t0 + Duration::from_millis(20);
        b.on_throttled(None, t, t + Duration::from_millis(5));
        assert_eq!(b.rate(), Some(36.0));
        let t1 = t0 + Duration::from_secs(2);
        assert!(b.ready_in(1.0, t1) >= Duration::from_millis(990));
    }

    #[test]
    fn growth_stops_at_the_told_ceiling() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 100.0, t0);
        b.on_throttled(None, t0, t0);
        let mut now = t0;
        for _ in 0..400 {
            now += Duration::from_millis(250);
            b.mark_limited();
            b.on_passed(None, now);
        }
        assert_eq!(b.rate(), Some(100.0));
    }

    #[test]
    fn untold_pacing_grows_past_the_start_while_graph_has_room() {
        let t0 = Instant::now();
        let mut b = budget(20.0, 80.0, t0);
        let mut now = t0;
        for _ in 0..40 {
            now += Duration::from_millis(250);
            b.mark_limited();
            b.on_passed(None, now);
        }
        assert!(b.rate().unwrap() > 25.0, "{:?}", b.rate());
    }

    #[test]
    fn a_budget_with_nothing_waiting_does_not_grow() {
        let t0 = Instant::now();
        let mut b = budget(20.0, 80.0, t0);
        let mut now = t0;
        for _ in 0..40 {
            now += Duration::from_millis(250);
            b.on_passed(None, now);
        }
        assert_eq!(b.rate(), Some(20.0));
    }

    #[test]
    fn a_told_rate_ignores_the_limit_percentage() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 100.0, t0);
        b.on_passed(Some(1.0), t0 + Duration::from_millis(300));
        assert_eq!(b.rate(), Some(100.0));
    }

    /// An untold budget that has left its probe: the documented quota is `start`, the first
    /// header landed it at `start × LAND_SHARE`.
    fn tracking(start: f64, t0: Instant) -> Budget {
        let mut b = budget(start, 4.0 * start, t0);
        b.on_passed(Some(0.85), t0);
        assert_eq!(b.rate(), Some(start * LAND_SHARE));
        b
    }

    #[test]
    fn a_rising_limit_percentage_eases_down_a_steady_one_at_the_edge_holds_a_falling_one_grows() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = tracking(100.0, t0);
        b.on_passed(Some(0.96), ms(100));
        b.on_passed(Some(0.99), ms(700));
        assert_eq!(
            b.rate(),
            Some(95.0 * 0.9),
            "draining Graph's bucket, little left"
        );
        b.mark_limited();
        b.on_passed(Some(0.99), ms(1300));
        assert_eq!(b.rate(), Some(95.0 * 0.9), "steady at the edge: hold");
        b.mark_limited();
        b.on_passed(Some(0.90), ms(1900));
        assert!(b.rate().unwrap() > 95.0 * 0.9, "refilling: {:?}", b.rate());
        let before = b.rate().unwrap();
        b.on_passed(Some(0.92), ms(2500));
        assert_eq!(b.rate(), Some(before * 0.97), "draining, a cushion left");
    }

    #[test]
    fn a_steady_limit_percentage_with_a_cushion_left_creeps_up() {
        // The header moves in hundredths of Graph's bucket: steady can hide a rate under the
        // refill, and what the bucket keeps at the end of a run is time lost.
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = tracking(100.0, t0);
        b.on_passed(Some(0.85), ms(100));
        b.mark_limited();
        b.on_passed(Some(0.85), ms(700));
        // Additive: 5 % of the documented quota per second, over the 0.7 s since landing.
        assert!(
            (b.rate().unwrap() - (95.0 + 5.0 * 0.7)).abs() < 1e-9,
            "{:?}",
            b.rate()
        );
    }

    #[test]
    fn near_the_edge_a_steady_percentage_creeps_at_a_quarter_and_a_falling_one_grows_even_at_it() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = tracking(100.0, t0);
        b.on_passed(Some(0.97), ms(600));
        let start = 95.0 * 0.9;
        assert_eq!(b.rate(), Some(start), "rising: eased");
        b.mark_limited();
        b.on_passed(Some(0.97), ms(1300));
        let creep = start + 5.0 * 0.7 * EDGE_GROWTH;
        assert!((b.rate().unwrap() - creep).abs() < 1e-9, "{:?}", b.rate());
        // At the very edge (where steady holds), a falling header still says Graph refills.
        b.on_passed(Some(1.0), ms(1900));
        let eased = creep * 0.9;
        assert!((b.rate().unwrap() - eased).abs() < 1e-9, "{:?}", b.rate());
        b.mark_limited();
        b.on_passed(Some(0.99), ms(2500));
        let grown = eased + 5.0 * 0.6;
        assert!((b.rate().unwrap() - grown).abs() < 1e-9, "{:?}", b.rate());
    }

    #[test]
    fn a_steady_percentage_soon_after_a_fall_still_grows_at_full_speed_then_slows() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = tracking(100.0, t0);
        b.on_passed(Some(0.97), ms(600));
        let mut rate = 95.0 * 0.9;
        b.mark_limited();
        b.on_passed(Some(0.96), ms(1200));
        rate += 5.0 * 0.6;
        assert!(
            (b.rate().unwrap() - rate).abs() < 1e-9,
            "fell: {:?}",
            b.rate()
        );
        b.mark_limited();
        b.on_passed(Some(0.96), ms(1800));
        rate += 5.0 * 0.6;
        assert!(
            (b.rate().unwrap() - rate).abs() < 1e-9,
            "soon after: {:?}",
            b.rate()
        );
        b.mark_limited();
        b.on_passed(Some(0.96), ms(4800));
        rate += 5.0 * 3.0 * EDGE_GROWTH;
        assert!(
            (b.rate().unwrap() - rate).abs() < 1e-9,
            "long after: {:?}",
            b.rate()
        );
    }

    #[test]
    fn an_untold_rate_doubles_every_probe_interval_while_it_is_the_constraint() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 1000.0, t0);
        let mut now = t0;
        for _ in 0..4 {
            now += PROBE_DOUBLING / 2;
            b.mark_limited();
            b.on_passed(None, now);
        }
        // Two doubling intervals.
        assert!((b.rate().unwrap() - 400.0).abs() < 1e-6, "{:?}", b.rate());
        // Time in which nothing waited on the budget does not count.
        now += PROBE_DOUBLING * 4;
        b.on_passed(None, now);
        assert!((b.rate().unwrap() - 400.0).abs() < 1e-6, "{:?}", b.rate());
        for _ in 0..20 {
            now += PROBE_DOUBLING;
            b.mark_limited();
            b.on_passed(None, now);
        }
        assert_eq!(b.rate(), Some(1000.0), "the ceiling holds the probe");
    }

    #[test]
    fn the_first_limit_percentage_lands_a_probe_under_the_documented_quota_at_once() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 1000.0, t0);
        let mut now = t0;
        for _ in 0..4 {
            now += PROBE_DOUBLING / 2;
            b.mark_limited();
            b.on_passed(None, now);
        }
        assert!(b.rate().unwrap() > 390.0);
        // Graph's bucket is past 80 % used: the burst is nearly spent.
        b.on_passed(Some(0.81), now);
        assert_eq!(b.rate(), Some(100.0 * LAND_SHARE));
        // What the probe had saved up is not spent on top.
        assert!(b.ready_in(1.0, now) > Duration::ZERO);
        // The probe is over: growth without the header is additive now.
        now += Duration::from_millis(500);
        b.mark_limited();
        b.on_passed(None, now);
        assert!(
            (b.rate().unwrap() - (95.0 + 5.0 * 0.5)).abs() < 1e-9,
            "{:?}",
            b.rate()
        );
    }

    #[test]
    fn a_429_during_the_probe_lands_no_higher_than_the_documented_quota() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 1000.0, t0);
        let mut now = t0;
        for _ in 0..4 {
            now += PROBE_DOUBLING / 2;
            b.mark_limited();
            b.on_passed(None, now);
        }
        // A service that sends no header: the first sign is a 429 at four times the quota.
        b.on_throttled(Some(Duration::from_millis(50)), now, now);
        assert_eq!(b.rate(), Some(100.0 * LAND_SHARE));
        // Early in a probe the normal cut is the lower one.
        let mut early = budget(100.0, 1000.0, t0);
        early.on_throttled(None, t0, t0);
        assert_eq!(early.rate(), Some(60.0));
        // Either way the probe is over.
        let t = t0 + Duration::from_millis(500);
        early.mark_limited();
        early.on_passed(None, t);
        assert!(
            (early.rate().unwrap() - 62.5).abs() < 1e-9,
            "{:?}",
            early.rate()
        );
    }

    /// An untold read budget probing from 7,410/s that has sent one batch, 3 ms in (the
    /// scheduler's window starts at one batch in flight).
    fn probe_that_sent_one_batch(t0: Instant) -> Budget {
        let mut b = budget(7410.0, 4.0 * 7410.0, t0);
        b.take(20.0, t0 + Duration::from_millis(3));
        b
    }

    #[test]
    fn a_429_cuts_from_what_was_sent_when_that_was_less_than_the_rate() {
        // Graph's bucket is empty, and what the rate allows beyond what was sent says
        // nothing about what Graph refills.
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = probe_that_sent_one_batch(t0);
        b.on_throttled(Some(Duration::from_millis(10)), ms(3), ms(50));
        // 20 reads in 50 ms: 400/s, cut by DECREASE.
        let rate = b.rate().unwrap();
        assert!((0.6 * 380.0..=0.6 * 400.0).contains(&rate), "{rate}");
        // A budget that sends at its rate is cut from its rate.
        let mut busy = budget(100.0, 400.0, t0);
        let mut now = t0;
        while now < t0 + Duration::from_secs(5) {
            now += busy.ready_in(20.0, now);
            busy.take(20.0, now);
        }
        let before = busy.rate().unwrap();
        busy.on_throttled(None, now, now + Duration::from_millis(50));
        let cut = busy.rate().unwrap() / before;
        assert!((0.55..=0.6).contains(&cut), "cut to {cut} of the rate");
    }

    #[test]
    fn a_budget_that_sent_nothing_lately_cuts_its_rate_as_is() {
        // A whole batch of reads refused: the write budget, which sent its last write 10 s
        // earlier, has no recent sends to measure.
        let t0 = Instant::now();
        let mut b = budget(100.0, 100.0, t0);
        b.take(20.0, t0);
        let t = t0 + Duration::from_secs(10);
        b.on_throttled(None, t, t + Duration::from_millis(50));
        assert_eq!(b.rate(), Some(60.0));
    }

    #[test]
    fn the_first_limit_percentage_lands_no_higher_than_twice_what_was_sent() {
        // Graph's bucket is nearly empty at the first answer, and the probe allowed 7,410/s
        // but sent one batch: what Graph saw is 20 reads in 40 ms.
        let t0 = Instant::now();
        let mut b = probe_that_sent_one_batch(t0);
        b.on_passed(Some(0.99), t0 + Duration::from_millis(40));
        let rate = b.rate().unwrap();
        // (A little under: the oldest send weighs a little less.)
        assert!((950.0..=1000.0).contains(&rate), "{rate}");
    }

    #[test]
    fn a_told_rate_never_probes() {
        let t0 = Instant::now();
        let mut b = budget(100.0, 100.0, t0);
        let mut now = t0;
        for _ in 0..10 {
            now += PROBE_DOUBLING;
            b.mark_limited();
            b.on_passed(None, now);
            b.mark_limited();
            b.on_passed(Some(0.85), now);
        }
        assert_eq!(b.rate(), Some(100.0));
    }

    #[test]
    fn converges_near_an_unknown_bucket_limit_without_many_throttles() {
        // Simulate Graph's bucket: capacity C, refill R (the real limit), charged even when
        // throttled; the budget starts at 3R and is told nothing.
        let real = 20.0;
        let capacity = real * 150.0 / 10.0; // a tenth of a 150 s window's bucket
        let t0 = Instant::now();
        let mut b = budget(3.0 * real, 12.0 * real, t0);
        let (mut level, mut now, mut sent, mut throttled) = (0.0f64, t0, 0u64, 0u64);
        let mut last = t0;
        let end = t0 + Duration::from_secs(600);
        while now < end {
            now += b.ready_in(20.0, now);
            b.take(20.0, now);
            level = (level + now.duration_since(last).as_secs_f64() * real).min(capacity);
            last = now;
            let mut percentage = None;
            let mut retry = None;
            for _ in 0..20 {
                sent += 1;
                let over = level < 1.0;
                level = (level - 1.0).max(-capacity);
                if over {
                    throttled += 1;
                    retry = Some(Duration::from_secs_f64((1.0 - level) / real));
                } else {
                    let used = (capacity - level) / capacity;
                    if used > 0.8 {
                        percentage = Some(used.max(percentage.unwrap_or(0.0)));
                    }
                }
            }
            b.mark_limited();
            if retry.is_some() {
                b.on_throttled(retry, now, now);
            } else {
                b.on_passed(percentage, now);
            }
        }
        let achieved = sent as f64 / 600.0;
        assert!(achieved > 0.9 * real, "achieved {achieved}");
        assert!(
            (throttled as f64) < 0.01 * sent as f64,
            "{throttled} of {sent} throttled"
        );
    }

    /// One of Graph's buckets as the emulator models it (docs/tenant-format.md): refills
    /// `rate`/s, holds `held`, charges every item (throttled too, down to one bucket of
    /// debt).
    struct GraphBucket {
        held: f64,
        rate: f64,
        level: f64,
        /// When it last refilled; `None` until the first request.
        at: Option<f64>,
    }

    impl GraphBucket {
        fn new(held: f64, rate: f64, fill: f64) -> GraphBucket {
            GraphBucket {
                held,
                rate,
                level: held * fill,
                at: Some(0.0),
            }
        }

        /// The same bucket made at the app's first request, as the emulator makes an app's
        /// buckets (throttle.rs): one used up then has nothing for that request.
        fn made_at_first_request(self) -> GraphBucket {
            GraphBucket { at: None, ..self }
        }

        /// Charges one unit at `t`: the seconds until one more would pass when this one is
        /// over budget, and the share of the bucket in use after it.
        fn charge(&mut self, t: f64) -> (Option<f64>, f64) {
            let since = t - self.at.unwrap_or(t);
            self.level = (self.level + since * self.rate).min(self.held);
            self.at = Some(t);
            let over = self.level < 1.0;
            self.level = (self.level - 1.0).max(-self.held);
            let wait = over.then(|| (1.0 - self.level) / self.rate);
            (wait, (self.held - self.level) / self.held)
        }
    }

    /// The tenant's buckets for one app: writes, and (when the rollout reads) resource units,
    /// which reads and writes each cost one of.
    struct Tenant {
        writes: GraphBucket,
        units: Option<GraphBucket>,
    }

    impl Tenant {
        fn writes(writes: GraphBucket) -> Tenant {
            Tenant {
                writes,
                units: None,
            }
        }

        /// One item, answered as the emulator answers it: `Ok(limit percentage)` for a pass
        /// (the share of the most-used bucket it was charged to, in hundredths, once above
        /// 80 %), `Err(Retry-After seconds)` for a 429 (rounded up to hundredths).
        fn charge(&mut self, write: bool, t: f64) -> Result<Option<f64>, f64> {
            let mut charged = Vec::with_capacity(2);
            if let Some(units) = &mut self.units {
                charged.push(units.charge(t));
            }
            if write {
                charged.push(self.writes.charge(t));
            }
            let used = charged.iter().map(|c| c.1).fold(0.0, f64::max);
            match charged.iter().filter_map(|c| c.0).reduce(f64::max) {
                Some(wait) => Err((wait * 100.0).ceil().max(1.0) / 100.0),
                None => Ok((used > 0.8).then(|| (used.min(1.8) * 100.0).round() / 100.0)),
            }
        }
    }

    /// What the simulation sends. With `reads`, each job reads the user's state first, and
    /// three in five then write it and read it back (state_change.rs); without, a job is one
    /// write. At most `concurrency` × 20 × 8 jobs run at once (scheduler.rs's running limit).
    struct Rollout {
        /// The documented write quota the tool assumes (items/s), and resource units.
        documented_writes: f64,
        documented_units: f64,
        users: u64,
        reads: bool,
        concurrency: usize,
        seed: u64,
    }

    impl Rollout {
        fn writes(documented_writes: f64, writes: u64, concurrency: usize, seed: u64) -> Rollout {
            Rollout {
                documented_writes,
                documented_units: f64::INFINITY,
                users: writes,
                reads: false,
                concurrency,
                seed,
            }
        }
    }

    struct Simulated {
        seconds: f64,
        throttled: u64,
        /// Reads among `throttled`.
        throttled_reads: u64,
        sent: u64,
        writes: u64,
        /// The write budget's rate after each answer: (seconds since the start, items/s).
        rates: Vec<(f64, f64)>,
    }

    /// A call waiting to be sent or answered: its job, and whether it is the write.
    #[derive(Clone, Copy)]
    struct SimCall {
        job: usize,
        write: bool,
    }

    /// Runs `rollout` against `tenant` as the scheduler does: batches of up to 20 composed
    /// from what each budget affords (writes first, then reads; a full batch or everything
    /// queued), at most a window of batches in flight (growing by one per clean answer,
    /// halving on a 429, up to `concurrency`), each answered 30-70 ms later (the bench's
    /// 50 ± 20 ms), where Graph charges it; a throttled item is queued again after its
    /// Retry-After; a job that wrote goes first. The scheduler's timer wakes on the
    /// millisecond (a quiet machine's). Deterministic: the latencies come from `seed`.
    fn simulate(rollout: &Rollout, mut graph: Tenant) -> Simulated {
        let t0 = Instant::now();
        let mut writes = untold(rollout.documented_writes, t0);
        let mut reads = if rollout.reads {
            let start = (rollout.documented_units - rollout.documented_writes) * 0.95;
            let pace = Pace::growing(start, start * 4.0).expect("a valid pace");
            Budget::new(Some(pace), BatchSize::MAX, t0)
        } else {
            Budget::new(None, BatchSize::MAX, t0)
        };
        let at = |t: f64| t0 + Duration::from_secs_f64(t);
        let mut rng = rollout.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut jitter = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let users = rollout.users as usize;
        let changes = |job: usize| !rollout.reads || job % 5 >= 2;
        // A job's next step: 0 read, 1 write, 2 read-back, 3 done.
        let mut step = vec![0u8; users];
        let first = if rollout.reads { 0 } else { 1 };
        let running_limit = (rollout.concurrency * 20 * 8).max(512);
        let (mut started, mut running, mut done) = (0usize, 0usize, 0usize);
        let mut ready_reads: VecDeque<SimCall> = VecDeque::new();
        let mut ready_writes: VecDeque<SimCall> = VecDeque::new();
        let enqueue =
            |c: SimCall, step: &[u8], r: &mut VecDeque<SimCall>, w: &mut VecDeque<SimCall>| {
                let queue = if c.write { w } else { r };
                if step[c.job] >= 2 {
                    queue.push_front(c);
                } else {
                    queue.push_back(c);
                }
            };
        let (mut throttled, mut throttled_reads, mut sent, mut written) = (0u64, 0u64, 0u64, 0u64);
        // (answered at, sent at, calls) and (ready at, call).
        let mut flights: Vec<(f64, f64, Vec<SimCall>)> = Vec::new();
        let mut delayed: Vec<(f64, SimCall)> = Vec::new();
        let (mut window, mut now, mut finished) = (1usize, 0.0f64, 0.0f64);
        let mut rates = Vec::new();
        while done < users {
            while running < running_limit && started < users {
                let job = started;
                started += 1;
                running += 1;
                step[job] = first;
                let c = SimCall {
                    job,
                    write: step[job] == 1,
                };
                enqueue(c, &step, &mut ready_reads, &mut ready_writes);
            }
            let mut i = 0;
            while i < delayed.len() {
                if delayed[i].0 <= now {
                    let (_, c) = delayed.swap_remove(i);
                    enqueue(c, &step, &mut ready_reads, &mut ready_writes);
                } else {
                    i += 1;
                }
            }
            while let Some(i) = (0..flights.len()).find(|&i| flights[i].0 <= now) {
                let (t, sent_at, calls) = flights.swap_remove(i);
                // Per budget (reads, writes): answered, the longest Retry-After, the highest
                // percentage.
                let mut signal = [(0usize, None::<f64>, None::<f64>); 2];
                for c in calls {
                    let s = &mut signal[usize::from(c.write)];
                    s.0 += 1;
                    match graph.charge(c.write, t) {
                        Ok(p) => {
                            if let Some(p) = p {
                                s.2 = Some(s.2.map_or(p, |q| q.max(p)));
                            }
                            written += u64::from(c.write);
                            step[c.job] = match step[c.job] {
                                0 if changes(c.job) => 1,
                                1 if rollout.reads => 2,
                                _ => 3,
                            };
                            if step[c.job] == 3 {
                                running -= 1;
                                done += 1;
                            } else {
                                let next = SimCall {
                                    job: c.job,
                                    write: step[c.job] == 1,
                                };
                                enqueue(next, &step, &mut ready_reads, &mut ready_writes);
                            }
                        }
                        Err(wait) => {
                            throttled += 1;
                            throttled_reads += u64::from(!c.write);
                            s.1 = Some(s.1.map_or(wait, |r| r.max(wait)));
                            delayed.push((t + wait, c));
                        }
                    }
                }
                finished = t;
                if signal.iter().any(|s| s.1.is_some()) {
                    window = (window / 2).max(1);
                } else {
                    window = (window + 1).min(rollout.concurrency);
                }
                for (b, s) in [&mut reads, &mut writes].into_iter().zip(signal) {
                    match s {
                        (0, _, _) => {}
                        (_, Some(wait), _) => {
                            b.on_throttled(Some(Duration::from_secs_f64(wait)), at(sent_at), at(t));
                        }
                        (_, None, p) => b.on_passed(p, at(t)),
                    }
                }
                rates.push((t, writes.rate().expect("a paced budget")));
            }
            if done >= users {
                break;
            }
            let mut next = f64::INFINITY;
            let queued = ready_reads.len() + ready_writes.len();
            if flights.len() < window && queued > 0 {
                let target = queued.min(20);
                let afford =
                    |b: &mut Budget| b.available(at(now)).floor().clamp(0.0, 20.0) as usize;
                let nw = afford(&mut writes).min(ready_writes.len());
                let nr = afford(&mut reads).min(ready_reads.len()).min(20 - nw);
                if ready_writes.len() > nw {
                    writes.mark_limited();
                }
                if ready_reads.len() > nr && nw + nr < 20 {
                    reads.mark_limited();
                }
                if nw + nr >= target {
                    writes.take(nw as f64, at(now));
                    reads.take(nr as f64, at(now));
                    let mut calls: Vec<SimCall> = ready_writes.drain(..nw).collect();
                    calls.extend(ready_reads.drain(..nr));
                    sent += calls.len() as u64;
                    flights.push((now + 0.030 + 0.040 * jitter(), now, calls));
                    continue;
                }
                let need = target - nw - nr;
                let mut wait = Duration::MAX;
                if ready_writes.len() > nw {
                    let more = need.min(ready_writes.len() - nw).min(20 - nw);
                    wait = wait.min(writes.ready_in((nw + more) as f64, at(now)));
                }
                if ready_reads.len() > nr {
                    let more = need.min(ready_reads.len() - nr);
                    wait = wait.min(reads.ready_in((nr + more) as f64, at(now)));
                }
                if wait == Duration::MAX || wait.is_zero() {
                    wait = Duration::from_millis(1);
                }
                // The timer wakes on the next millisecond at or after the instant asked.
                next = ((now + wait.as_secs_f64()) * 1000.0).ceil() / 1000.0;
            }
            for t in flights
                .iter()
                .map(|f| f.0)
                .chain(delayed.iter().map(|d| d.0))
            {
                next = next.min(t);
            }
            now = next.max(now + 1e-4);
        }
        Simulated {
            seconds: finished,
            throttled,
            throttled_reads,
            sent,
            writes: written,
            rates,
        }
    }

    /// The tool's untold start (config.rs): just under the documented quota, growing up to
    /// four times that.
    fn untold(documented: f64, t0: Instant) -> Budget {
        let pace = Pace::growing(documented * 0.97, documented * 0.97 * 4.0);
        Budget::new(Some(pace.expect("a valid pace")), BatchSize::MAX, t0)
    }

    #[test]
    fn a_granted_burst_is_spent_at_once_then_the_refill_rate_is_held_without_429s() {
        // Issue 18's scenario: refill 200/s, 400 held and full at the start, 3,000 writes.
        // The ideal is the burst at once, then the refill: 13.0 s. Starting at the steady
        // rate and growing slowly took 0.93 of it here.
        for seed in 1..=3 {
            let graph = Tenant::writes(GraphBucket::new(400.0, 200.0, 1.0));
            let r = simulate(&Rollout::writes(200.0, 3000, 8, seed), graph);
            let efficiency = 13.0 / r.seconds;
            assert!(efficiency >= 0.95, "seed {seed}: {:.2} s", r.seconds);
            assert!(
                r.throttled * 100 <= r.sent,
                "seed {seed}: {} 429s",
                r.throttled
            );
        }
    }

    #[test]
    fn a_smaller_budget_already_used_up_is_found_with_few_429s() {
        // The tenant allows a third of the documented quota and other apps spent its bucket.
        let real = 200.0 / 3.0;
        for seed in 1..=2 {
            let graph = Tenant::writes(GraphBucket::new(real * 150.0, real, 0.0));
            let r = simulate(&Rollout::writes(200.0, 13_000, 16, seed), graph);
            let efficiency = 13_000.0 / real / r.seconds;
            assert!(efficiency >= 0.95, "seed {seed}: {:.1} s", r.seconds);
            assert!(
                r.throttled * 100 <= r.sent,
                "seed {seed}: {} 429s",
                r.throttled
            );
        }
    }

    /// Bench scenario 2 (benches/rollout.rs) as the scheduler sends it: 10,000 users read,
    /// three in five written and read back, 16 batches in flight; the tool assumes the
    /// documented quota ×10 (200 writes/s, 8,000 resource units/s), the tenant allows a third
    /// of both and other apps used up both buckets.
    fn used_up_rollout(seed: u64) -> Simulated {
        let (writes, units) = (200.0 / 3.0, 8000.0 / 3.0);
        let tenant = Tenant {
            writes: GraphBucket::new(writes * 150.0, writes, 0.0).made_at_first_request(),
            units: Some(GraphBucket::new(units * 10.0, units, 0.0).made_at_first_request()),
        };
        let rollout = Rollout {
            documented_writes: 200.0,
            documented_units: 8000.0,
            users: 10_000,
            reads: true,
            concurrency: 16,
            seed,
        };
        simulate(&rollout, tenant)
    }

    #[test]
    fn a_used_up_tenant_read_and_written_as_the_bench_does_is_found_with_few_429s() {
        // The window of batches in flight opens over the first second: a read budget whose
        // rate stayed far above the smaller resource-unit refill (its first 429 cut 7,410/s
        // to 4,446/s though it had sent 20 reads) spent the used-up bucket once the window
        // was open: 0.7-1.2 % of the items answered 429 here, 1.1-1.5 % in the bench.
        for seed in 1..=4 {
            let r = used_up_rollout(seed);
            let efficiency = r.writes as f64 / r.seconds / (200.0 / 3.0);
            assert!(efficiency >= 0.95, "seed {seed}: {:.1} s", r.seconds);
            assert!(
                r.throttled * 200 <= r.sent,
                "seed {seed}: {} of {} items 429 ({} reads)",
                r.throttled,
                r.sent,
                r.throttled_reads
            );
        }
    }

    #[test]
    fn a_smaller_budget_already_used_up_is_tracked_without_swinging_far_above_it() {
        // The integration test's tenant (tests/it/pacing.rs): a third of the documented
        // quota, its bucket used up. Once found (after the first seconds), the rate may spend
        // what the bucket refilled meanwhile, but must stay near the refill rather than swing
        // far above it, at whatever moment the run ends (a creep at full speed near the edge
        // swung to 1.49-1.61 times the refill here).
        let real = 200.0 / 3.0;
        let mut swings = Vec::new();
        for (writes, seed) in [(1000, 1), (1000, 2), (1000, 3), (3000, 3), (13_000, 1)] {
            let graph = Tenant::writes(GraphBucket::new(real * 150.0, real, 0.0));
            let r = simulate(&Rollout::writes(200.0, writes, 16, seed), graph);
            let (at, highest) =
                r.rates
                    .iter()
                    .filter(|(t, _)| *t >= 5.0)
                    .fold(
                        (0.0, 0.0),
                        |m, &(t, rate)| if rate > m.1 { (t, rate) } else { m },
                    );
            if highest > 1.4 * real {
                swings.push(format!(
                    "{writes} writes, seed {seed}: {highest:.1}/s at {at:.1} s"
                ));
            }
        }
        assert!(
            swings.is_empty(),
            "real {real:.1}/s, rate swung to {swings:?}"
        );
    }

    #[test]
    fn at_the_real_quota_a_full_bucket_is_used_and_an_empty_one_costs_no_429s() {
        // 3,000 writes per 150 s; 10,000 writes. Granted: (10,000 - 3,000) / 20 = 350 s.
        for (fill, ideal) in [(1.0, 350.0), (0.0, 500.0)] {
            let graph = Tenant::writes(GraphBucket::new(3000.0, 20.0, fill));
            let r = simulate(&Rollout::writes(20.0, 10_000, 8, 1), graph);
            assert!(ideal / r.seconds >= 0.95, "fill {fill}: {:.0} s", r.seconds);
            assert_eq!(r.throttled, 0, "fill {fill}");
        }
    }
}
