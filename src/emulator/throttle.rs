//! Throttling as docs/graph.md §6 describes the identity limits: token buckets per
//! application + tenant (resource units per 10 s, writes per 150 s), per tenant (writes per
//! 5 min), and per application across all its tenants (resource units per 20 s, writes per
//! 5 min: [`AppWide`], one for every tenant behind the base URL). Continuous refill = quota / window, so the steady rate is exactly quota / window;
//! capacity = quota (the documented limit read as a bucket that holds one window), except that
//! the app's write bucket may be configured smaller (`quotas.write_burst_secs`: a tenant that
//! grants a shorter burst). Every request is charged, throttled or not ("Graph continues to
//! log resource usage while a client is being throttled"), down to a floor of one bucket's
//! debt. `x-ms-throttle-limit-percentage` is the share of the most-used bucket a passing
//! request was charged to among its tenant's (the app-wide buckets show only in their 429s),
//! once above 0.8 (docs/tenant-format.md says where the docs are silent and which reading the
//! emulator takes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::config::{AppQuotas, Quotas, WRITE_WINDOW_SECS};

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    capacity: f64,
    per_second: f64,
    level: f64,
    last: Instant,
}

impl Bucket {
    #[cfg(test)]
    pub(crate) fn new(quota: f64, window_secs: f64, now: Instant) -> Self {
        Self::filled(quota, window_secs, 1.0, now)
    }

    /// A bucket holding one window's quota that starts `fill` full (0..=1).
    pub(crate) fn filled(quota: f64, window_secs: f64, fill: f64, now: Instant) -> Self {
        Self::holding(quota / window_secs, quota, fill, now)
    }

    /// A bucket refilling `per_second` that holds `capacity` (at least one request's cost)
    /// and starts `fill` full (0..=1).
    pub(crate) fn holding(per_second: f64, capacity: f64, fill: f64, now: Instant) -> Self {
        let capacity = capacity.max(1.0);
        Bucket {
            capacity,
            per_second,
            level: capacity * fill.clamp(0.0, 1.0),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + dt * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// Charges `cost`; returns the seconds until a request of the same cost would pass when
    /// this one is over budget.
    pub(crate) fn charge(&mut self, cost: f64, now: Instant) -> Option<f64> {
        self.refill(now);
        let over = self.level < cost;
        self.level = (self.level - cost).max(-self.capacity);
        over.then(|| (cost - self.level) / self.per_second)
    }

    /// Share of the budget in use (0 = idle, 1 = empty, above 1 = in debt).
    pub(crate) fn used(&self) -> f64 {
        (self.capacity - self.level) / self.capacity
    }
}

/// The result of charging one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Passes; `limit_percentage` is set when more than 80 % of a budget is in use.
    Pass { limit_percentage: Option<f64> },
    Throttled {
        retry_after: f64,
        scope: String,
        information: &'static str,
    },
}

struct AppBuckets {
    resource_units: Bucket,
    writes: Bucket,
}

/// The budgets of each application across all the tenants served (docs/graph.md §6: one
/// application, all tenants together), shared by every tenant's [`Throttle`].
pub(crate) struct AppWide {
    quotas: AppQuotas,
    apps: HashMap<String, AppBuckets>,
}

impl AppWide {
    /// The app-wide buckets for `quotas` multiplied by `scale`, each app's made full to
    /// `quotas.initial_fill` when it first sends.
    pub(crate) fn new(quotas: &AppQuotas, scale: f64) -> Arc<Mutex<AppWide>> {
        Arc::new(Mutex::new(AppWide {
            quotas: AppQuotas {
                resource_units_per_20s: quotas.resource_units_per_20s * scale,
                writes_per_5min: quotas.writes_per_5min * scale,
                initial_fill: quotas.initial_fill,
            },
            apps: HashMap::new(),
        }))
    }

    fn buckets(&mut self, app_id: &str, now: Instant) -> &mut AppBuckets {
        let q = &self.quotas;
        self.apps
            .entry(app_id.to_string())
            .or_insert_with(|| AppBuckets {
                resource_units: Bucket::filled(q.resource_units_per_20s, 20.0, q.initial_fill, now),
                writes: Bucket::filled(q.writes_per_5min, 300.0, q.initial_fill, now),
            })
    }
}

/// All budgets of the one tenant, and its share of the app-wide ones.
pub(crate) struct Throttle {
    enabled: bool,
    tenant_id: String,
    quotas: Quotas,
    apps: HashMap<String, AppBuckets>,
    tenant_writes: Bucket,
    app_wide: Arc<Mutex<AppWide>>,
}

impl Throttle {
    pub(crate) fn new(
        enabled: bool,
        tenant_id: &str,
        quotas: &Quotas,
        scale: f64,
        app_wide: Arc<Mutex<AppWide>>,
        now: Instant,
    ) -> Self {
        let quotas = Quotas {
            resource_units_per_10s: quotas.resource_units_per_10s * scale,
            writes_per_150s: quotas.writes_per_150s * scale,
            tenant_writes_per_5min: quotas.tenant_writes_per_5min * scale,
            initial_fill: quotas.initial_fill,
            write_burst_secs: quotas.write_burst_secs,
        };
        Throttle {
            enabled,
            tenant_id: tenant_id.to_string(),
            tenant_writes: Bucket::filled(
                quotas.tenant_writes_per_5min,
                300.0,
                quotas.initial_fill,
                now,
            ),
            quotas,
            apps: HashMap::new(),
            app_wide,
        }
    }

    /// Charges one request: `resource_units` (its cost, `request_cost.rs`), plus 1 write for
    /// POST/PATCH/PUT/DELETE.
    pub(crate) fn charge(
        &mut self,
        app_id: &str,
        is_write: bool,
        resource_units: f64,
        now: Instant,
    ) -> Verdict {
        if !self.enabled {
            return Verdict::Pass {
                limit_percentage: None,
            };
        }
        let quotas = &self.quotas;
        let app = self
            .apps
            .entry(app_id.to_string())
            .or_insert_with(|| AppBuckets {
                resource_units: Bucket::filled(
                    quotas.resource_units_per_10s,
                    10.0,
                    quotas.initial_fill,
                    now,
                ),
                writes: {
                    let per_second = quotas.writes_per_150s / WRITE_WINDOW_SECS;
                    let secs = quotas.write_burst_secs.unwrap_or(WRITE_WINDOW_SECS);
                    Bucket::holding(per_second, per_second * secs, quotas.initial_fill, now)
                },
            });
        let mut worst: Option<(f64, &'static str, &'static str)> = None;
        let mut note = |wait: Option<f64>, scope: &'static str, info: &'static str| {
            if let Some(w) = wait
                && worst.is_none_or(|(x, _, _)| w > x)
            {
                worst = Some((w, scope, info));
            }
        };
        note(
            app.resource_units.charge(resource_units, now),
            "Tenant_Application/ReadWrite",
            "ResourceUnitLimitExceeded",
        );
        let mut used = app.resource_units.used();
        if is_write {
            note(
                app.writes.charge(1.0, now),
                "Tenant_Application/Write",
                "WriteLimitExceeded",
            );
            note(
                self.tenant_writes.charge(1.0, now),
                "Tenant/Write",
                "WriteLimitExceeded",
            );
            used = used.max(app.writes.used()).max(self.tenant_writes.used());
        }
        // The app's buckets across all tenants: charged as the others are, but not in the
        // percentage (docs/tenant-format.md: a client learns of them from their 429s only).
        let mut wide = self.app_wide.lock().unwrap_or_else(|e| e.into_inner());
        let wide = wide.buckets(app_id, now);
        note(
            wide.resource_units.charge(resource_units, now),
            "Application/ReadWrite",
            "ResourceUnitLimitExceeded",
        );
        if is_write {
            note(
                wide.writes.charge(1.0, now),
                "Application/Write",
                "WriteLimitExceeded",
            );
        }
        match worst {
            Some((wait, scope, information)) => Verdict::Throttled {
                retry_after: wait,
                scope: format!("{scope}/{app_id}/{}", self.tenant_id),
                information,
            },
            None => Verdict::Pass {
                limit_percentage: (used > 0.8).then_some(used.min(1.8)),
            },
        }
    }
}

/// Seconds for `Retry-After`: rounded up to hundredths, at least 0.01, without trailing zeros
/// (`0.35`, `2.13`, `10`).
pub(crate) fn format_retry_after(seconds: f64) -> String {
    let hundredths = (seconds * 100.0).ceil().max(1.0) as u64;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn quotas(ru: f64, writes: f64, tenant: f64) -> Quotas {
        Quotas {
            resource_units_per_10s: ru,
            writes_per_150s: writes,
            tenant_writes_per_5min: tenant,
            initial_fill: 1.0,
            write_burst_secs: None,
        }
    }

    /// The documented app-wide limits (large enough not to bind in these tests).
    fn wide() -> Arc<Mutex<AppWide>> {
        AppWide::new(&AppQuotas::default(), 1000.0)
    }

    #[test]
    fn the_app_wide_write_bucket_is_shared_by_every_tenant_and_names_its_scope() {
        let t0 = Instant::now();
        let app = AppQuotas {
            resource_units_per_20s: 1e9,
            writes_per_5min: 6.0,
            initial_fill: 1.0,
        };
        let wide = AppWide::new(&app, 1.0);
        let roomy = quotas(1e6, 1e6, 1e6);
        let mut a = Throttle::new(true, "tid-a", &roomy, 1.0, wide.clone(), t0);
        let mut b = Throttle::new(true, "tid-b", &roomy, 1.0, wide, t0);
        for _ in 0..3 {
            assert!(matches!(
                a.charge("app", true, 1.0, t0),
                Verdict::Pass {
                    limit_percentage: None
                }
            ));
            assert!(matches!(
                b.charge("app", true, 1.0, t0),
                Verdict::Pass {
                    limit_percentage: None
                }
            ));
        }
        // Six writes across both tenants spent the app's bucket: the seventh, in either
        // tenant, is refused with the Application scope, though each tenant's own has room.
        match b.charge("app", true, 1.0, t0) {
            Verdict::Throttled {
                retry_after,
                scope,
                information,
            } => {
                assert_eq!(scope, "Application/Write/app/tid-b");
                assert_eq!(information, "WriteLimitExceeded");
                // Level -1 at 6 per 300 s: two writes' refill.
                assert!((retry_after - 100.0).abs() < 1e-6, "{retry_after}");
            }
            v => panic!("{v:?}"),
        }
        // Another app has its own app-wide bucket; reads still pass.
        assert!(matches!(
            a.charge("other", true, 1.0, t0),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            a.charge("app", false, 1.0, t0),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn bucket_passes_its_capacity_then_refills_at_quota_per_window() {
        let t0 = Instant::now();
        let mut b = Bucket::new(100.0, 10.0, t0);
        for _ in 0..100 {
            assert_eq!(b.charge(1.0, t0), None);
        }
        let wait = b.charge(1.0, t0).unwrap();
        // Level is now -1: two units must refill at 10/s before the next passes.
        assert!((wait - 0.2).abs() < 1e-9, "{wait}");
        assert!(b.charge(1.0, t0 + Duration::from_millis(300)).is_none());
    }

    #[test]
    fn throttled_requests_still_consume() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 10.0, t0);
        for _ in 0..10 {
            b.charge(1.0, t0);
        }
        let first = b.charge(1.0, t0).unwrap();
        let second = b.charge(1.0, t0).unwrap();
        assert!(second > first);
        // Debt is floored at one window.
        for _ in 0..1000 {
            b.charge(1.0, t0);
        }
        assert!(b.charge(1.0, t0).unwrap() <= 11.0 + 1e-9);
    }

    #[test]
    fn writes_hit_the_write_budget_with_its_scope() {
        let t0 = Instant::now();
        let mut t = Throttle::new(true, "tid", &quotas(1000.0, 3.0, 100.0), 1.0, wide(), t0);
        for _ in 0..3 {
            assert!(matches!(
                t.charge("app", true, 1.0, t0),
                Verdict::Pass { .. }
            ));
        }
        match t.charge("app", true, 1.0, t0) {
            Verdict::Throttled {
                retry_after,
                scope,
                information,
            } => {
                assert_eq!(information, "WriteLimitExceeded");
                assert_eq!(scope, "Tenant_Application/Write/app/tid");
                assert!((retry_after - 100.0).abs() < 1e-6, "{retry_after}");
            }
            v => panic!("{v:?}"),
        }
        // Reads still pass while writes are throttled.
        assert!(matches!(
            t.charge("app", false, 1.0, t0),
            Verdict::Pass { .. }
        ));
    }

    #[test]
    fn limit_percentage_appears_above_eighty_percent() {
        let t0 = Instant::now();
        let mut t = Throttle::new(true, "tid", &quotas(10.0, 10.0, 10.0), 1.0, wide(), t0);
        for _ in 0..8 {
            assert_eq!(
                t.charge("app", false, 1.0, t0),
                Verdict::Pass {
                    limit_percentage: None
                }
            );
        }
        assert!(matches!(
            t.charge("app", false, 1.0, t0),
            Verdict::Pass {
                limit_percentage: Some(p)
            } if (p - 0.9).abs() < 1e-9
        ));
    }

    #[test]
    fn a_request_costing_five_units_uses_five_of_the_budget() {
        let t0 = Instant::now();
        let mut t = Throttle::new(true, "tid", &quotas(10.0, 10.0, 10.0), 1.0, wide(), t0);
        assert!(matches!(
            t.charge("app", false, 5.0, t0),
            Verdict::Pass { .. }
        ));
        assert!(matches!(
            t.charge("app", false, 5.0, t0),
            Verdict::Pass { .. }
        ));
        match t.charge("app", false, 1.0, t0) {
            Verdict::Throttled { information, .. } => {
                assert_eq!(information, "ResourceUnitLimitExceeded");
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn scale_multiplies_quotas() {
        let t0 = Instant::now();
        let mut t = Throttle::new(true, "tid", &quotas(10.0, 10.0, 10.0), 3.0, wide(), t0);
        for _ in 0..30 {
            assert!(matches!(
                t.charge("app", false, 1.0, t0),
                Verdict::Pass { .. }
            ));
        }
        assert!(matches!(
            t.charge("app", false, 1.0, t0),
            Verdict::Throttled { .. }
        ));
    }

    #[test]
    fn a_two_second_write_bucket_passes_its_burst_then_refills_at_the_scaled_quota_rate() {
        let t0 = Instant::now();
        let mut q = quotas(1e6, 3000.0, 1e6);
        q.write_burst_secs = Some(2.0);
        // ×10: 200 writes/s refill, so the bucket holds 400.
        let mut t = Throttle::new(true, "tid", &q, 10.0, wide(), t0);
        let mut seen = Vec::new();
        for _ in 0..400 {
            match t.charge("app", true, 1.0, t0) {
                Verdict::Pass { limit_percentage } => seen.push(limit_percentage),
                v => panic!("{v:?}"),
            }
        }
        // The header appears once more than 80 % is used: from the 321st write on.
        assert!(seen[..320].iter().all(Option::is_none));
        assert!((seen[320].unwrap() - 321.0 / 400.0).abs() < 1e-9);
        assert_eq!(seen[399], Some(1.0));
        match t.charge("app", true, 1.0, t0) {
            Verdict::Throttled { retry_after, .. } => {
                // Level -1: two writes must refill at 200/s.
                assert!((retry_after - 0.01).abs() < 1e-9, "{retry_after}");
            }
            v => panic!("{v:?}"),
        }
        // Half a second later 100 writes have refilled (less the one throttled).
        let t1 = t0 + Duration::from_millis(500);
        for _ in 0..99 {
            assert!(matches!(
                t.charge("app", true, 1.0, t1),
                Verdict::Pass { .. }
            ));
        }
        assert!(matches!(
            t.charge("app", true, 1.0, t1),
            Verdict::Throttled { .. }
        ));
    }

    #[test]
    fn the_default_write_bucket_holds_the_whole_documented_window() {
        let t0 = Instant::now();
        let mut t = Throttle::new(true, "tid", &quotas(1e6, 3000.0, 1e6), 1.0, wide(), t0);
        for _ in 0..3000 {
            assert!(matches!(
                t.charge("app", true, 1.0, t0),
                Verdict::Pass { .. }
            ));
        }
        assert!(matches!(
            t.charge("app", true, 1.0, t0),
            Verdict::Throttled { .. }
        ));
    }

    #[test]
    fn retry_after_is_fractional_and_never_zero() {
        assert_eq!(format_retry_after(0.349), "0.35");
        assert_eq!(format_retry_after(0.0), "0.01");
        assert_eq!(format_retry_after(10.0), "10");
        assert_eq!(format_retry_after(2.5), "2.5");
    }
}
