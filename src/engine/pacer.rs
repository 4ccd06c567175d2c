//! A rate budget: a token bucket whose rate can change while the run goes on (adaptive
//! slow-down after a 429, gradual recovery), and which the scheduler can ask "how long until
//! `n` tokens?" without taking them. That is why it is not a `governor` limiter: a batch
//! needs a read budget and a write budget to agree before either is spent, and governor
//! neither refunds nor changes a quota in place.

use std::time::{Duration, Instant};

/// One budget (reads or writes), in items per second.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// The rate the run was told or defaulted to; recovery never goes above it.
    ceiling: f64,
    /// The lowest rate a slow-down may reach.
    floor: f64,
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Additive recovery per second of 429-free running, as a share of the ceiling.
    recovery_per_sec: f64,
    last_decrease: Option<Instant>,
    last_recovery: Instant,
    /// None = unlimited (pacing off for this budget).
    unlimited: bool,
}

impl Budget {
    /// A budget of `rate` items/s allowing bursts of `burst` items (at least one batch's worth,
    /// so a full batch can ever be sent).
    pub(crate) fn new(rate: Option<f64>, burst: f64, now: Instant) -> Budget {
        let unlimited = rate.is_none();
        let rate = rate.unwrap_or(f64::INFINITY);
        Budget {
            ceiling: rate,
            floor: (rate / 20.0).max(0.2),
            rate,
            burst: burst.max(1.0),
            // Start with an empty bucket: a run that starts at the quota must not open with a
            // burst on top of whatever an earlier run already spent.
            tokens: 0.0,
            last: now,
            recovery_per_sec: 0.02,
            last_decrease: None,
            last_recovery: now,
            unlimited,
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
        if self.unlimited || n <= 0.0 {
            return Duration::ZERO;
        }
        self.refill(now);
        let need = n.min(self.burst) - self.tokens;
        if need <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(need / self.rate)
        }
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

    /// A 429 was drawn by this budget: slow down multiplicatively, at most once per second so
    /// a burst of 429s from one batch counts as one signal.
    pub(crate) fn on_throttled(&mut self, now: Instant) {
        if self.unlimited {
            return;
        }
        if self
            .last_decrease
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.refill(now);
        self.rate = (self.rate * 0.7).max(self.floor);
        self.last_decrease = Some(now);
        self.last_recovery = now;
    }

    /// Called as the run goes on without 429s: recover additively towards the ceiling.
    pub(crate) fn on_quiet(&mut self, now: Instant) {
        if self.unlimited || self.rate >= self.ceiling {
            self.last_recovery = now;
            return;
        }
        let dt = now
            .saturating_duration_since(self.last_recovery)
            .as_secs_f64();
        if dt < 0.5 {
            return;
        }
        self.refill(now);
        self.rate = (self.rate + self.ceiling * self.recovery_per_sec * dt).min(self.ceiling);
        self.last_recovery = now;
    }

    pub(crate) fn rate(&self) -> Option<f64> {
        (!self.unlimited).then_some(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bucket_makes_a_full_batch_wait_batch_over_rate() {
        let t0 = Instant::now();
        let mut b = Budget::new(Some(20.0), 20.0, t0);
        assert_eq!(b.ready_in(20.0, t0), Duration::from_secs(1));
        assert_eq!(
            b.ready_in(20.0, t0 + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn spending_holds_the_long_run_rate() {
        let t0 = Instant::now();
        let mut b = Budget::new(Some(10.0), 20.0, t0);
        let mut now = t0;
        let mut sent = 0.0;
        while now < t0 + Duration::from_secs(100) {
            let wait = b.ready_in(20.0, now);
            now += wait;
            b.take(20.0, now);
            sent += 20.0;
        }
        let rate = sent / now.duration_since(t0).as_secs_f64();
        assert!((rate - 10.0).abs() < 0.3, "rate {rate}");
    }

    #[test]
    fn a_throttle_slows_down_once_per_second_and_recovery_returns_to_the_ceiling() {
        let t0 = Instant::now();
        let mut b = Budget::new(Some(100.0), 20.0, t0);
        b.on_throttled(t0);
        b.on_throttled(t0 + Duration::from_millis(10));
        assert_eq!(b.rate(), Some(70.0));
        b.on_quiet(t0 + Duration::from_secs(100));
        assert_eq!(b.rate(), Some(100.0));
    }

    #[test]
    fn unlimited_budget_never_waits() {
        let t0 = Instant::now();
        let mut b = Budget::new(None, 20.0, t0);
        assert_eq!(b.ready_in(1e9, t0), Duration::ZERO);
    }
}
