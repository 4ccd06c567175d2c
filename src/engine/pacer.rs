//! A rate budget: a token bucket whose rate adapts while the run goes on, and which the
//! scheduler can ask "how long until `n` tokens?" without taking them. That is why it is not a
//! `governor` limiter: a batch needs a read budget and a write budget to agree before either
//! is spent, and governor neither refunds nor changes a quota in place.
//!
//! The controller (docs/graph.md §6): Graph's budget is itself a token bucket that charges
//! throttled requests too, so a 429 means "stop until Retry-After", not just "slow down" —
//! the budget holds every send until then and cuts its rate multiplicatively. While answers
//! pass, `x-ms-throttle-limit-percentage` (sent above 80 % use) says how close the service's
//! bucket is to empty: above [`BACK_OFF_ABOVE`] the rate eases down before a 429 can happen,
//! between that and [`GROW_BELOW`] it holds, and below (or without the header) it grows
//! additively, up to the ceiling: the told rate, or a multiple of the documented quota when
//! nothing was told, so a burst the service allows is used rather than left idle.

use std::time::{Duration, Instant};

/// Above this share of Graph's budget in use, ease the rate down.
pub(crate) const BACK_OFF_ABOVE: f64 = 0.95;
/// Below this share (or without the header), grow the rate.
pub(crate) const GROW_BELOW: f64 = 0.88;
/// The cut on a 429.
const DECREASE: f64 = 0.6;

/// One budget (reads or writes), in items per second.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// The rate growth never goes above.
    ceiling: f64,
    /// The lowest rate a slow-down may reach.
    floor: f64,
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
}

impl Budget {
    /// A budget starting at `rate` items/s, growing up to `ceiling`, allowing bursts of
    /// `burst` items (at least one batch's worth, so a full batch can ever be sent).
    pub(crate) fn new(rate: Option<f64>, ceiling: Option<f64>, burst: f64, now: Instant) -> Budget {
        let unlimited = rate.is_none();
        let rate = rate.unwrap_or(f64::INFINITY);
        let ceiling = ceiling.unwrap_or(rate).max(rate);
        Budget {
            adaptive: ceiling > rate,
            ceiling,
            floor: (rate / 50.0).max(0.2),
            rate,
            growth: rate * 0.05,
            burst: burst.max(1.0),
            // Start empty: a run must not open with a burst on top of what an earlier run
            // already spent.
            tokens: 0.0,
            last: now,
            hold_until: None,
            last_decrease: None,
            last_adjust: now,
            unlimited,
            limited: false,
            trend_from: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if self.unlimited {
            return;
        }
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
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
    }

    /// A 429 was drawn by this budget by a batch sent at `sent_at`: hold every send until
    /// its Retry-After, and cut the rate — once per round: a batch sent before the last cut
    /// was paced at the old rate and says nothing new (as TCP cuts once per window).
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
        self.rate = (self.rate * DECREASE).max(self.floor);
        self.tokens = self.tokens.min(0.0);
        self.last_decrease = Some(now);
        self.last_adjust = now;
    }

    /// Sends of this kind are waiting on this budget.
    pub(crate) fn mark_limited(&mut self) {
        self.limited = true;
    }

    /// Answers passed; `percentage` is the highest `x-ms-throttle-limit-percentage` among
    /// them (None when Graph sent none: under 80 % in use).
    ///
    /// Without the header Graph has room: grow (while this budget is the constraint). With
    /// it, follow its trend over half a second or more: rising means we drain Graph's bucket
    /// (send faster than it refills) — ease down, harder when little is left; falling means
    /// it refills — grow; steady means we run at its rate — hold. A told rate ignores the
    /// header and only recovers towards itself after a 429 cut.
    pub(crate) fn on_passed(&mut self, percentage: Option<f64>, now: Instant) {
        if self.unlimited {
            return;
        }
        let dt = now
            .saturating_duration_since(self.last_adjust)
            .as_secs_f64();
        let grow = |b: &mut Budget| {
            if b.limited && b.rate < b.ceiling {
                b.refill(now);
                b.rate = (b.rate + b.growth * dt).min(b.ceiling);
            }
            b.limited = false;
            b.last_adjust = now;
        };
        match percentage.filter(|_| self.adaptive) {
            None => {
                self.trend_from = None;
                if dt >= 0.25 {
                    grow(self);
                }
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
                } else if slope < -1e-5 && p < BACK_OFF_ABOVE.max(GROW_BELOW) + 0.04 {
                    grow(self);
                } else {
                    self.last_adjust = now;
                }
                self.trend_from = Some((now, p));
            }
        }
    }

    pub(crate) fn rate(&self) -> Option<f64> {
        (!self.unlimited).then_some(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(rate: f64, ceiling: f64, t0: Instant) -> Budget {
        Budget::new(Some(rate), Some(ceiling), 20.0, t0)
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

    #[test]
    fn a_rising_limit_percentage_eases_down_a_steady_one_holds_a_falling_one_grows() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut b = budget(100.0, 200.0, t0);
        b.on_passed(Some(0.96), ms(100));
        b.on_passed(Some(0.97), ms(700));
        assert_eq!(b.rate(), Some(90.0), "draining Graph's bucket");
        b.on_passed(Some(0.97), ms(1300));
        assert_eq!(b.rate(), Some(90.0), "steady");
        b.mark_limited();
        b.on_passed(Some(0.90), ms(1900));
        assert!(b.rate().unwrap() > 90.0, "refilling: {:?}", b.rate());
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
}
