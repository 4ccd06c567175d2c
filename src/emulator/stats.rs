//! Counters behind `GET /_emulator/stats`: lock-free atomics on the hot path; per-user write
//! figures are read from the tenant when the stats are asked for.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde_json::{Map, Value, json};

/// Statuses are counted in a fixed array indexed by status code.
const STATUS_SLOTS: usize = 600;

pub(crate) struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) items: AtomicU64,
    pub(crate) plain_requests: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) largest_batch: AtomicU64,
    pub(crate) writes: AtomicU64,
    /// Resource units charged to requests that passed the throttle (what the read budget
    /// spent; benchmarks divide it by the quota).
    pub(crate) resource_units: AtomicU64,
    pub(crate) token_grants: AtomicU64,
    pub(crate) token_failures: AtomicU64,
    /// Federated assertions accepted that differ from the one accepted before (the first
    /// counts): how often a client sent a newly rotated token.
    pub(crate) federated_tokens: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    /// Graph requests whose bearer token passed (what `refuse_tokens_after` counts).
    pub(crate) token_checks_passed: AtomicU64,
    /// Graph requests served with a valid token of this tenant (its `tid`): with several
    /// tenants, how many requests each tenant's tokens carried.
    pub(crate) authorized: AtomicU64,
    pub(crate) faults_batch_429: AtomicU64,
    pub(crate) faults_batch_503: AtomicU64,
    pub(crate) faults_item_5xx: AtomicU64,
    /// Items that ran and were answered 503/504 all the same.
    pub(crate) faults_item_5xx_after_execute: AtomicU64,
    pub(crate) faults_dropped: AtomicU64,
    /// Items in the batches answered a whole-batch 429 or 503 (none of them ran).
    pub(crate) faults_batch_items: AtomicU64,
    by_status: Vec<AtomicU64>,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            requests: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            items: AtomicU64::new(0),
            plain_requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            resource_units: AtomicU64::new(0),
            token_grants: AtomicU64::new(0),
            token_failures: AtomicU64::new(0),
            federated_tokens: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            token_checks_passed: AtomicU64::new(0),
            authorized: AtomicU64::new(0),
            faults_batch_429: AtomicU64::new(0),
            faults_batch_503: AtomicU64::new(0),
            faults_item_5xx: AtomicU64::new(0),
            faults_item_5xx_after_execute: AtomicU64::new(0),
            faults_dropped: AtomicU64::new(0),
            faults_batch_items: AtomicU64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Counts one batch item (or one plain Graph request) by its status.
    pub(crate) fn item(&self, status: u16) {
        if let Some(slot) = self.by_status.get(usize::from(status)) {
            slot.fetch_add(1, Relaxed);
        }
        if status == 429 {
            self.throttled.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn batch(&self, size: usize) {
        self.batches.fetch_add(1, Relaxed);
        self.largest_batch.fetch_max(size as u64, Relaxed);
    }

    /// The stats JSON; `tenant_figures` comes from `Tenant::write_figures`.
    pub(crate) fn to_json(&self, tenant_figures: Value) -> Value {
        let mut by_status = Map::new();
        for (code, n) in self.by_status.iter().enumerate() {
            let n = n.load(Relaxed);
            if n > 0 {
                by_status.insert(code.to_string(), json!(n));
            }
        }
        let mut v = json!({
            "requests": self.requests.load(Relaxed),
            "batches": self.batches.load(Relaxed),
            "items": self.items.load(Relaxed),
            "plain_requests": self.plain_requests.load(Relaxed),
            "items_by_status": by_status,
            "throttled": self.throttled.load(Relaxed),
            "largest_batch": self.largest_batch.load(Relaxed),
            "writes": self.writes.load(Relaxed),
            "resource_units": self.resource_units.load(Relaxed),
            "token_grants": self.token_grants.load(Relaxed),
            "token_failures": self.token_failures.load(Relaxed),
            "federated_tokens": self.federated_tokens.load(Relaxed),
            "unauthorized": self.unauthorized.load(Relaxed),
            "authorized_requests": self.authorized.load(Relaxed),
            "faults": {
                "batch_429": self.faults_batch_429.load(Relaxed),
                "batch_503": self.faults_batch_503.load(Relaxed),
                "item_5xx": self.faults_item_5xx.load(Relaxed),
                "item_5xx_after_execute": self.faults_item_5xx_after_execute.load(Relaxed),
                "dropped": self.faults_dropped.load(Relaxed),
                "batch_items": self.faults_batch_items.load(Relaxed),
            },
        });
        if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), tenant_figures) {
            obj.extend(extra);
        }
        v
    }
}
