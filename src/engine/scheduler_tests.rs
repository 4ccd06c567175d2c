//! Scheduler tests against an in-memory fake of the requirements endpoint.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::*;
use crate::engine::settings::{BatchSize, Pace};
use crate::graph::Method;

/// A fake tenant answering GET/PATCH `/users/{upn}/authentication/requirements`, with
/// scripted faults.
#[derive(Default)]
struct Fake {
    states: Mutex<HashMap<String, String>>,
    writes: Mutex<HashMap<String, u32>>,
    /// Answer this many items 429 (Retry-After 0.01 s) before answering normally.
    throttle_first: AtomicUsize,
    /// Answer this many writes 429 in the Application scope (the app's limit across all
    /// tenants), without applying them.
    throttle_writes_app_wide: AtomicUsize,
    /// Answer this many reads 429 in the Application/ReadWrite scope (the app's resource
    /// units across all tenants).
    throttle_reads_app_units: AtomicUsize,
    /// Drop the connection on this many batches that contain a write, after applying them.
    drop_after_write: AtomicUsize,
    /// Answer this many items with `status_first.1` before answering normally.
    status_first: (AtomicUsize, u16),
    /// Answer every item 403.
    forbid: bool,
    /// Answer every write 403 (reads pass).
    forbid_writes: bool,
    /// Answer every item 503 (nothing runs).
    unavailable: bool,
    /// Answer every call for these users 503 (nothing runs).
    unavailable_for: Vec<String>,
    /// Answer every call for these users 403, `slow_refusal` after it came in (the batch
    /// holding it waits that long), so the answers of users sent after them come back first.
    slow_refusals_for: Vec<String>,
    slow_refusal: Duration,
    /// Answer every write for these users 503 without applying it (their reads pass).
    writes_unavailable_for: Vec<String>,
    /// Apply every write for these users, then answer it 503 anyway.
    writes_landing_as_503_for: Vec<String>,
    /// Writes answered 503 (applied or not).
    writes_answered_503: AtomicUsize,
    /// Signalled when the first batch with a write is answered (to interrupt mid-change).
    on_first_write: Option<Arc<tokio::sync::Notify>>,
    batches: AtomicUsize,
    max_batch: AtomicUsize,
    /// Users in the order of their first read.
    first_reads: Mutex<Vec<String>>,
    /// Mail lookups: address → the (id, upn) of the users whose `mail` it is; `proxies` the
    /// same for `smtp:` proxy addresses.
    mails: HashMap<String, Vec<(String, String)>>,
    proxies: HashMap<String, Vec<(String, String)>>,
    lookups: AtomicUsize,
}

/// The quoted literal after `marker` in a decoded `$filter`, apostrophes undoubled.
fn literal_after(url: &str, marker: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(url).decode_utf8_lossy();
    let start = decoded.find(marker)? + marker.len();
    let rest = &decoded[start..];
    let end = rest.find("'&").or_else(|| rest.find("')&"))?;
    Some(rest[..end].replace("''", "'"))
}

impl Fake {
    /// Answers a `GET /users?$filter=` lookup.
    fn lookup(&self, url: &str) -> Value {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let found = if let Some(mail) = literal_after(url, "mail eq '") {
            self.mails.get(&mail)
        } else if let Some(mail) = literal_after(url, "p eq 'smtp:") {
            self.proxies.get(&mail)
        } else {
            panic!("unexpected lookup {url}")
        };
        let value: Vec<Value> = found
            .into_iter()
            .flatten()
            .map(|(id, upn)| json!({"id": id, "userPrincipalName": upn}))
            .collect();
        json!({ "value": value })
    }
}

fn user_of(url: &str) -> String {
    url.trim_start_matches("/users/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn item(id: &str, status: u16, body: Value) -> ItemResponse {
    ItemResponse {
        id: id.to_string(),
        status,
        retry_after: (status == 429).then(|| Duration::from_millis(10)),
        request_id: Some(format!("req-{id}")),
        client_request_id: None,
        throttle_percentage: None,
        scope: crate::graph::ThrottleScope::Tenant,
        body,
    }
}

impl Transport for Fake {
    async fn batch(
        &self,
        _version: ApiVersion,
        items: Vec<BatchItem>,
    ) -> Result<BatchReply, BatchError> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.max_batch.fetch_max(items.len(), Ordering::SeqCst);
        let mut answers = Vec::new();
        let mut wrote = false;
        for it in &items {
            if self
                .throttle_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                answers.push(item(&it.id, 429, json!({"error":{"code":"TooManyRequests","message":"Please retry again later."}})));
                continue;
            }
            if it.method.is_write()
                && self
                    .throttle_writes_app_wide
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                answers.push(ItemResponse {
                    scope: crate::graph::ThrottleScope::AppWrites,
                    ..item(&it.id, 429, json!({"error":{"code":"TooManyRequests","message":"Please retry again later."}}))
                });
                continue;
            }
            if !it.method.is_write()
                && self
                    .throttle_reads_app_units
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                answers.push(ItemResponse {
                    scope: crate::graph::ThrottleScope::AppUnits,
                    ..item(&it.id, 429, json!({"error":{"code":"TooManyRequests","message":"Please retry again later."}}))
                });
                continue;
            }
            if self
                .status_first
                .0
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let status = self.status_first.1;
                answers.push(item(
                    &it.id,
                    status,
                    json!({"error":{"code":"generalException","message":"failed"}}),
                ));
                continue;
            }
            if self.forbid {
                answers.push(item(&it.id, 403, json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}})));
                continue;
            }
            if it.url.starts_with("/users?") {
                answers.push(item(&it.id, 200, self.lookup(&it.url)));
                continue;
            }
            if self.unavailable {
                answers.push(item(&it.id, 503, json!({"error":{"code":"serviceNotAvailable","message":"The service is temporarily unavailable."}})));
                continue;
            }
            if self.forbid_writes && it.method.is_write() {
                answers.push(item(&it.id, 403, json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}})));
                continue;
            }
            let user = user_of(&it.url);
            if self.slow_refusals_for.contains(&user) {
                tokio::time::sleep(self.slow_refusal).await;
                answers.push(item(&it.id, 403, json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}})));
                continue;
            }
            if self.unavailable_for.contains(&user) {
                answers.push(item(&it.id, 503, json!({"error":{"code":"serviceNotAvailable","message":"The service is temporarily unavailable."}})));
                continue;
            }
            let mut states = self.states.lock().unwrap();
            let Some(state) = states.get_mut(&user) else {
                answers.push(item(&it.id, 404, json!({"error":{"code":"Request_ResourceNotFound","message":"Resource does not exist"}})));
                continue;
            };
            match it.method {
                Method::Get => {
                    let mut first = self.first_reads.lock().unwrap();
                    if !first.contains(&user) {
                        first.push(user.clone());
                    }
                    answers.push(item(&it.id, 200, json!({"perUserMfaState": state})));
                }
                _ if self.writes_unavailable_for.contains(&user) => {
                    self.writes_answered_503.fetch_add(1, Ordering::SeqCst);
                    answers.push(item(&it.id, 503, json!({"error":{"code":"serviceNotAvailable","message":"The service is temporarily unavailable."}})));
                }
                _ => {
                    let value = it
                        .body
                        .as_ref()
                        .and_then(|b| b["perUserMfaState"].as_str())
                        .unwrap_or_default();
                    *state = value.to_string();
                    *self.writes.lock().unwrap().entry(user.clone()).or_default() += 1;
                    wrote = true;
                    if self.writes_landing_as_503_for.contains(&user) {
                        self.writes_answered_503.fetch_add(1, Ordering::SeqCst);
                        answers.push(item(&it.id, 503, json!({"error":{"code":"serviceNotAvailable","message":"The service is temporarily unavailable."}})));
                    } else {
                        answers.push(item(&it.id, 204, Value::Null));
                    }
                }
            }
        }
        if wrote
            && self
                .drop_after_write
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(BatchError::Transport(
                "connection reset mid-response".into(),
            ));
        }
        if wrote && let Some(n) = &self.on_first_write {
            n.notify_one();
        }
        answers.reverse();
        Ok(BatchReply {
            items: answers,
            missing: vec![],
            unexpected: 0,
        })
    }
}

#[derive(Default)]
struct Collect {
    records: Vec<ResultRecord>,
    throttled: u64,
}

impl Sink for Collect {
    fn record(&mut self, record: ResultRecord) -> Result<(), String> {
        self.records.push(record);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn throttled(&mut self, count: u64) {
        self.throttled += count;
    }
}

fn tenant(n: usize, state: &str) -> Fake {
    let fake = Fake::default();
    {
        let mut s = fake.states.lock().unwrap();
        for i in 0..n {
            s.insert(format!("u{i}@x.com"), state.to_string());
        }
    }
    fake
}

fn work(n: usize, action: Action) -> Vec<WorkItem> {
    (0..n)
        .map(|i| WorkItem {
            row: i as u64 + 2,
            user: format!("u{i}@x.com"),
            actions: vec![action],
            start_at: 0,
            extra: vec![],
            lookup: UserLookup::Key,
        })
        .collect()
}

fn fast() -> EngineSettings {
    EngineSettings {
        writes: None,
        reads: None,
        backoff_base: Duration::from_millis(1),
        ..EngineSettings::default()
    }
}

async fn go(
    fake: Arc<Fake>,
    work: Vec<WorkItem>,
    settings: EngineSettings,
) -> (EngineReport, Collect) {
    let mut sink = Collect::default();
    let report = run(fake, work, &settings, &mut sink, std::future::pending()).await;
    (report, sink)
}

fn count(sink: &Collect, status: Status) -> usize {
    sink.records.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn every_row_gets_exactly_one_outcome_and_batches_hold_at_most_20() {
    let fake = Arc::new(tenant(100, "disabled"));
    fake.states
        .lock()
        .unwrap()
        .insert("u0@x.com".into(), "enforced".into());
    let mut w = work(100, Action::Enforce);
    w.push(WorkItem {
        row: 200,
        user: "ghost@x.com".into(),
        actions: vec![Action::Enforce],
        start_at: 0,
        extra: vec![],
        lookup: UserLookup::Key,
    });
    let (report, sink) = go(fake.clone(), w, fast()).await;
    assert_eq!(report.stop, None);
    assert_eq!(sink.records.len(), 101);
    assert_eq!(count(&sink, Status::Applied), 99);
    assert_eq!(count(&sink, Status::Unchanged), 1);
    assert_eq!(count(&sink, Status::NotFound), 1);
    assert!(fake.max_batch.load(Ordering::SeqCst) <= 20);
    assert!(
        fake.states
            .lock()
            .unwrap()
            .values()
            .all(|s| s == "enforced")
    );
}

#[tokio::test]
async fn throttled_items_are_resent_alone_and_end_applied() {
    let fake = Arc::new(tenant(40, "disabled"));
    fake.throttle_first.store(15, Ordering::SeqCst);
    let (report, sink) = go(fake.clone(), work(40, Action::Enforce), fast()).await;
    assert_eq!(count(&sink, Status::Applied), 40);
    assert_eq!(report.throttled, 15);
    assert_eq!(sink.throttled, 15);
    assert!(fake.writes.lock().unwrap().values().all(|&n| n == 1));
}

#[test]
fn engines_side_by_side_split_the_running_limit_each_keeping_a_full_window() {
    let one = EngineSettings {
        concurrency: NonZeroUsize::new(16).unwrap(),
        ..EngineSettings::default()
    };
    assert_eq!(running_limit(&one), 2560);
    let split = |n: usize| {
        running_limit(&EngineSettings {
            engines: NonZeroUsize::new(n).unwrap(),
            ..one.clone()
        })
    };
    assert_eq!(split(2), 1280);
    // Ten tenants: a tenth would be 256, less than the 16 batches of 20 in flight.
    assert_eq!(split(10), 320);
    assert_eq!(split(50), 320);
}

#[tokio::test]
async fn an_application_scope_429_slows_the_shared_write_budget_not_the_tenants_own() {
    let fake = Arc::new(tenant(40, "disabled"));
    fake.throttle_writes_app_wide.store(5, Ordering::SeqCst);
    let rate = Pace::held(1000.0).unwrap();
    let shared = SharedBudget::new(rate, BatchSize::MAX, Instant::now());
    let settings = EngineSettings {
        writes: Some(rate),
        shared_writes: Some(shared.clone()),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(40, Action::Enforce), settings).await;
    assert_eq!(count(&sink, Status::Applied), 40);
    assert_eq!(report.throttled, 5);
    assert!(fake.writes.lock().unwrap().values().all(|&n| n == 1));
    // The budget every tenant shares was cut; this tenant's own was not.
    let cut = shared.with(|b| b.rate()).unwrap();
    assert!(cut < 1000.0 * 0.7, "{cut}");
    assert_eq!(report.final_write_rate, Some(1000.0));
}

#[tokio::test]
async fn an_application_resource_unit_429_on_reads_slows_the_shared_unit_budget_not_the_reads() {
    let fake = Arc::new(tenant(40, "enforced"));
    fake.throttle_reads_app_units.store(5, Ordering::SeqCst);
    let rate = Pace::held(1000.0).unwrap();
    let units = SharedBudget::new(rate, BatchSize::MAX, Instant::now());
    let settings = EngineSettings {
        reads: Some(rate),
        shared_units: Some(units.clone()),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(40, Action::Enforce), settings).await;
    assert_eq!(count(&sink, Status::Unchanged), 40);
    assert_eq!(report.throttled, 5);
    let cut = units.with(|b| b.rate()).unwrap();
    assert!(cut < 1000.0 * 0.7, "{cut}");
    assert_eq!(report.final_read_rate, Some(1000.0));
}

#[tokio::test]
async fn items_answered_500_or_424_are_retried_like_503_and_end_applied() {
    for status in [500, 424, 502, 503, 504] {
        let fake = Arc::new(Fake {
            status_first: (AtomicUsize::new(15), status),
            ..tenant(40, "disabled")
        });
        let (report, sink) = go(fake.clone(), work(40, Action::Enforce), fast()).await;
        assert_eq!(report.stop, None, "{status}");
        assert_eq!(count(&sink, Status::Applied), 40, "{status}");
        assert_eq!(report.throttled, 0, "{status}");
        assert!(
            fake.writes.lock().unwrap().values().all(|&n| n == 1),
            "{status}: a write applied once"
        );
    }
}

#[tokio::test]
async fn a_dropped_connection_after_a_write_is_verified_not_written_twice() {
    let fake = Arc::new(tenant(20, "enabled"));
    fake.drop_after_write.store(1, Ordering::SeqCst);
    let (_, sink) = go(fake.clone(), work(20, Action::Disable), fast()).await;
    assert_eq!(count(&sink, Status::Applied), 20);
    assert!(
        sink.records
            .iter()
            .all(|r| r.before == "enabled" && r.after == "disabled")
    );
    let writes = fake.writes.lock().unwrap();
    assert_eq!(writes.len(), 20);
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
}

#[tokio::test]
async fn dry_run_plans_and_never_writes() {
    let fake = Arc::new(tenant(30, "disabled"));
    let settings = EngineSettings {
        dry_run: true,
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(30, Action::Enable), settings).await;
    assert_eq!(count(&sink, Status::Planned), 30);
    assert_eq!(report.writes, 0);
    assert!(fake.writes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn max_changes_stops_before_the_first_write_when_the_plan_needs_more() {
    let fake = Arc::new(tenant(30, "disabled"));
    let settings = EngineSettings {
        max_changes: Some(10),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(30, Action::Enforce), settings).await;
    assert!(
        matches!(report.stop, Some(Stop::MaxChanges(_))),
        "{:?}",
        report.stop
    );
    assert!(fake.writes.lock().unwrap().is_empty());
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn max_changes_lets_a_plan_that_fits_run() {
    let fake = Arc::new(tenant(30, "disabled"));
    for i in 0..25 {
        fake.states
            .lock()
            .unwrap()
            .insert(format!("u{i}@x.com"), "enforced".into());
    }
    let settings = EngineSettings {
        max_changes: Some(5),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(30, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(count(&sink, Status::Applied), 5);
    assert_eq!(count(&sink, Status::Unchanged), 25);
}

#[tokio::test]
async fn limit_makes_exactly_n_changes_with_many_in_flight_and_leaves_the_rest_unrecorded() {
    // Every fifth user needs no change: unchanged rows do not count against the limit.
    let fake = Arc::new(tenant(2_000, "disabled"));
    for i in (0..2_000).step_by(5) {
        fake.states
            .lock()
            .unwrap()
            .insert(format!("u{i}@x.com"), "enforced".into());
    }
    let settings = EngineSettings {
        limit: Some(50),
        concurrency: NonZeroUsize::new(16).unwrap(),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(2_000, Action::Enforce), settings).await;
    assert_eq!(report.stop, None, "a clean stop, not an error");
    assert!(report.limit_reached);
    assert_eq!(count(&sink, Status::Applied), 50);
    let writes = fake.writes.lock().unwrap();
    assert_eq!(writes.len(), 50, "exactly 50 users written");
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    assert_eq!(report.writes, 50, "no write sent beyond the limit");
    assert!(
        sink.records
            .iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged)),
        "nothing recorded for the rows left: {:?}",
        sink.records.iter().find(|r| !r.status.is_good())
    );
    assert!(sink.records.len() < 2_000, "the run stopped");
    assert_eq!(report.rows_ended, sink.records.len() as u64);
}

#[tokio::test]
async fn limit_with_max_changes_reserves_only_the_limit_when_the_gate_opens() {
    let fake = Arc::new(tenant(30, "disabled"));
    let settings = EngineSettings {
        limit: Some(4),
        max_changes: Some(10),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(30, Action::Enforce), settings).await;
    assert_eq!(
        report.stop, None,
        "30 needed, but this run makes only 4: within 10"
    );
    assert!(report.limit_reached);
    assert_eq!(count(&sink, Status::Applied), 4);
    assert_eq!(sink.records.len(), 4);
    assert_eq!(fake.writes.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn limit_not_reached_ends_the_run_normally() {
    let fake = Arc::new(tenant(30, "disabled"));
    let settings = EngineSettings {
        limit: Some(30),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(30, Action::Enforce), settings).await;
    assert!(
        !report.limit_reached,
        "exactly the limit: nothing left over"
    );
    assert_eq!(count(&sink, Status::Applied), 30);
}

#[test]
fn jobs_start_in_input_order_up_to_the_running_limit() {
    let settings = EngineSettings {
        concurrency: NonZeroUsize::new(1).unwrap(),
        ..fast()
    };
    let limit = running_limit(&settings);
    let mut s = Scheduler::new(work(2_000, Action::Enforce), settings);
    s.start_jobs();
    assert_eq!((s.running, s.next_start), (limit, limit));
    let queued: Vec<usize> = s.ready_reads.iter().map(|p| p.job).collect();
    assert_eq!(
        queued,
        (0..limit).collect::<Vec<_>>(),
        "one read per started job"
    );
    assert!(s.jobs[limit..].iter().all(|j| j.current.is_none()));
    // A job that finishes makes room for exactly one more.
    let first = s.ready_reads.pop_front().unwrap();
    s.finish_action(first.job, Outcome::default());
    s.start_jobs();
    assert_eq!((s.running, s.next_start), (limit, limit + 1));
}

#[test]
fn a_call_whose_action_already_ended_is_never_sent() {
    let mut s = Scheduler::new(work(3, Action::Enforce), fast());
    s.start_jobs();
    let first = s.ready_reads.pop_front().unwrap();
    let second = s.ready_reads.pop_front().unwrap();
    assert_eq!((first.job, second.job), (0, 1));
    // Both actions end (say, another of their calls gave up) while these calls wait: one as
    // a write in the ready queue, one in the delay queue.
    s.finish_action(0, Outcome::default());
    s.finish_action(1, Outcome::default());
    let mut write = first;
    write.call.method = Method::Patch;
    s.enqueue(write);
    s.delay(second, Duration::ZERO);
    s.release_due(Instant::now() + Duration::from_millis(1));
    let Composed::Batch(_, items) = s.compose(Instant::now()) else {
        panic!("job 2's read is still to send");
    };
    let jobs: Vec<usize> = items.iter().map(|p| p.job).collect();
    assert_eq!(jobs, vec![2], "only the live job's call goes out");
    assert!(s.ready_is_empty() && s.delayed.is_empty());
}

#[tokio::test]
async fn a_run_longer_than_the_running_limit_reads_users_in_input_order_and_finishes_all() {
    let n = 2_000;
    let settings = EngineSettings {
        concurrency: NonZeroUsize::new(1).unwrap(),
        ..fast()
    };
    assert!(
        running_limit(&settings) < n,
        "the test needs more rows than the limit"
    );
    let fake = Arc::new(tenant(n, "disabled"));
    let (report, sink) = go(fake.clone(), work(n, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(count(&sink, Status::Applied), n);
    let first = fake.first_reads.lock().unwrap().clone();
    let want: Vec<String> = (0..n).map(|i| format!("u{i}@x.com")).collect();
    assert_eq!(first, want, "users are first read in input order");
}

#[tokio::test]
async fn max_changes_reads_every_row_first_even_beyond_the_running_limit() {
    let n = 1_500;
    let settings = EngineSettings {
        max_changes: Some(1_000),
        concurrency: NonZeroUsize::new(1).unwrap(),
        ..fast()
    };
    assert!(running_limit(&settings) < n);
    let fake = Arc::new(tenant(n, "disabled"));
    let (report, sink) = go(fake.clone(), work(n, Action::Enforce), settings.clone()).await;
    assert!(
        matches!(&report.stop, Some(Stop::MaxChanges(m)) if m.contains("needs up to 1,500 changes, more than --max-changes 1000")),
        "{:?}",
        report.stop
    );
    assert!(fake.writes.lock().unwrap().is_empty());
    assert!(sink.records.is_empty());
    assert_eq!(
        fake.first_reads.lock().unwrap().len(),
        n,
        "every row was read"
    );

    // The same size of run whose plan fits: it goes on to make exactly its changes.
    let fake = Arc::new(tenant(n, "enforced"));
    for i in [3, 700, 1_499] {
        fake.states
            .lock()
            .unwrap()
            .insert(format!("u{i}@x.com"), "disabled".into());
    }
    let settings = EngineSettings {
        max_changes: Some(3),
        ..settings
    };
    let (report, sink) = go(fake.clone(), work(n, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(count(&sink, Status::Applied), 3);
    assert_eq!(count(&sink, Status::Unchanged), n - 3);
}

/// Refuses every batch whole, as Graph does a malformed one (400).
struct RefuseAll;

impl Transport for RefuseAll {
    async fn batch(
        &self,
        _version: ApiVersion,
        _items: Vec<BatchItem>,
    ) -> Result<BatchReply, BatchError> {
        Err(BatchError::Rejected {
            status: 400,
            error: crate::graph::GraphError {
                code: "BadRequest".into(),
                message: "Invalid batch payload.".into(),
                request_id: None,
                client_request_id: None,
            },
        })
    }
}

#[tokio::test]
async fn a_refused_batch_fails_each_action_once_even_with_several_of_its_calls_in_it() {
    // reset-methods starts with two reads (methods and sign-in preferences), which share a
    // batch: the refusal must end the action once, not once per call.
    let mut w = work(3, Action::ResetMethods);
    w[1].actions.push(Action::RevokeSessions);
    let mut sink = Collect::default();
    let report = run(
        Arc::new(RefuseAll),
        w,
        &fast(),
        &mut sink,
        std::future::pending(),
    )
    .await;
    assert_eq!(report.stop, None);
    let mut got: Vec<(u64, &str, Status)> = sink
        .records
        .iter()
        .map(|r| (r.row, r.action.as_str(), r.status))
        .collect();
    got.sort_by_key(|(row, action, _)| (*row, *action));
    assert_eq!(
        got,
        vec![
            (2, "reset-methods", Status::Failed),
            (3, "reset-methods", Status::Failed),
            (3, "revoke-sessions", Status::Skipped),
            (4, "reset-methods", Status::Failed),
        ]
    );
    assert!(
        sink.records
            .iter()
            .filter(|r| r.status == Status::Failed)
            .all(|r| r.message.contains("Invalid batch payload.")),
        "{:?}",
        sink.records
    );
}

#[tokio::test]
async fn consecutive_permission_failures_trip_the_breaker_and_record_nothing() {
    let mut fake = tenant(100, "disabled");
    fake.forbid = true;
    let settings = EngineSettings {
        breaker_threshold: NonZeroUsize::new(10).unwrap(),
        concurrency: NonZeroUsize::new(1).unwrap(),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(100, Action::Enforce), settings).await;
    match report.stop {
        Some(Stop::Breaker(m)) => assert!(m.contains("Policy.Read.All"), "{m}"),
        other => panic!("expected the breaker, got {other:?}"),
    }
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn mail_rows_are_looked_up_first_and_acted_on_by_the_id_found() {
    let pair = |id: &str, upn: &str| (id.to_string(), upn.to_string());
    let mut fake = tenant(0, "disabled");
    for id in ["id-1", "id-2", "id-3", "id-4"] {
        fake.states
            .lock()
            .unwrap()
            .insert(id.into(), "disabled".into());
    }
    fake.mails.insert(
        "ann.lee@x.com".into(),
        vec![pair("id-1", "annl@x.onmicrosoft.com")],
    );
    fake.proxies.insert(
        "alias@x.com".into(),
        vec![pair("id-2", "bob@x.onmicrosoft.com")],
    );
    fake.mails.insert(
        "twice@x.com".into(),
        vec![
            pair("id-3", "c@x.onmicrosoft.com"),
            pair("id-4", "d@x.onmicrosoft.com"),
        ],
    );
    let fake = Arc::new(fake);
    let rows = ["ann.lee@x.com", "alias@x.com", "twice@x.com", "gone@x.com"];
    let w = rows
        .iter()
        .enumerate()
        .map(|(i, mail)| WorkItem {
            row: i as u64 + 2,
            user: (*mail).to_string(),
            actions: vec![Action::Enforce],
            start_at: 0,
            extra: vec![format!("T-{i}")],
            lookup: UserLookup::Mail,
        })
        .collect();
    let (report, mut sink) = go(fake.clone(), w, fast()).await;
    assert_eq!(report.stop, None);
    sink.records.sort_by_key(|r| r.row);
    let summary: Vec<(&str, Status, Vec<String>)> = sink
        .records
        .iter()
        .map(|r| (r.user.as_str(), r.status, r.extra.clone()))
        .collect();
    let cells = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
    assert_eq!(
        summary,
        [
            (
                "ann.lee@x.com",
                Status::Applied,
                cells("annl@x.onmicrosoft.com", "T-0")
            ),
            (
                "alias@x.com",
                Status::Applied,
                cells("bob@x.onmicrosoft.com", "T-1")
            ),
            ("twice@x.com", Status::Failed, cells("", "T-2")),
            ("gone@x.com", Status::NotFound, cells("", "T-3")),
        ]
    );
    assert!(
        sink.records[2]
            .message
            .contains("c@x.onmicrosoft.com, d@x.onmicrosoft.com"),
        "{}",
        sink.records[2].message
    );
    assert!(sink.records[3].message.contains("matched no user"));
    // The lookup counts among the action's attempts (lookup, read, write, read-back).
    assert_eq!(sink.records[0].attempts, 4);
    let states = fake.states.lock().unwrap();
    assert_eq!(
        (states["id-1"].as_str(), states["id-2"].as_str()),
        ("enforced", "enforced")
    );
    assert_eq!(
        (states["id-3"].as_str(), states["id-4"].as_str()),
        ("disabled", "disabled")
    );
    // ann: mail; alias: mail then proxy; twice: mail; gone: mail then proxy.
    assert_eq!(fake.lookups.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn a_mail_row_is_looked_up_once_for_all_its_actions() {
    let mut fake = tenant(0, "disabled");
    fake.states
        .lock()
        .unwrap()
        .insert("id-1".into(), "enforced".into());
    fake.mails.insert(
        "ann.lee@x.com".into(),
        vec![("id-1".to_string(), "annl@x.onmicrosoft.com".to_string())],
    );
    let fake = Arc::new(fake);
    // Two state actions in one row cannot be written in a cell, but a work item may hold
    // several actions: the second must reuse the first's lookup.
    let w = vec![WorkItem {
        row: 2,
        user: "ann.lee@x.com".into(),
        actions: vec![Action::Disable, Action::Enforce],
        start_at: 0,
        extra: vec![],
        lookup: UserLookup::Mail,
    }];
    let (_, sink) = go(fake.clone(), w, fast()).await;
    assert_eq!(sink.records.len(), 2);
    for r in &sink.records {
        assert_eq!(
            (r.status, r.extra.as_slice()),
            (Status::Applied, &["annl@x.onmicrosoft.com".to_string()][..])
        );
    }
    assert_eq!(fake.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn writes_refused_403_for_every_user_trip_the_breaker_though_their_reads_pass() {
    // Fails on the old code: each user's passing read reset its streak of 401/403s.
    let mut fake = tenant(100, "disabled");
    fake.forbid_writes = true;
    let settings = EngineSettings {
        breaker_threshold: NonZeroUsize::new(10).unwrap(),
        concurrency: NonZeroUsize::new(1).unwrap(),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(100, Action::Enforce), settings).await;
    match report.stop {
        Some(Stop::Breaker(m)) => {
            assert!(
                m.contains("PATCH /users/{id}/authentication/requirements"),
                "{m}"
            );
            assert!(m.contains("403"), "{m}");
        }
        other => panic!("expected the breaker, got {other:?}"),
    }
    assert!(
        sink.records.iter().all(|r| r.status != Status::Failed),
        "{:?}",
        sink.records
    );
}

#[tokio::test]
async fn every_call_unavailable_trips_the_breaker_recording_nothing_failed() {
    let mut fake = tenant(200, "disabled");
    fake.unavailable = true;
    let settings = EngineSettings {
        breaker_threshold: NonZeroUsize::new(10).unwrap(),
        max_attempts: NonZeroU32::new(2).unwrap(),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(200, Action::Enforce), settings).await;
    match report.stop {
        Some(Stop::Breaker(m)) => assert!(m.contains("transient"), "{m}"),
        other => panic!("expected the breaker, got {other:?}"),
    }
    assert!(sink.records.is_empty(), "{:?}", sink.records);
    assert_eq!(report.rows_ended, 0);
}

#[tokio::test]
async fn per_user_refusals_answered_after_later_users_do_not_trip_the_breaker() {
    // Fails on the old code: the streak counted failures in the order they were decided, so
    // refusals answered late lined up behind the successes of the users sent after them and
    // tripped the breaker, though no two users refused in a row were sent in a row.
    let mut fake = tenant(60, "disabled");
    fake.slow_refusals_for = (1..60).step_by(2).map(|i| format!("u{i}@x.com")).collect();
    fake.slow_refusal = Duration::from_millis(300);
    let settings = EngineSettings {
        breaker_threshold: NonZeroUsize::new(5).unwrap(),
        batch_size: BatchSize::new(1).unwrap(),
        concurrency: NonZeroUsize::new(64).unwrap(),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(60, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(sink.records.len(), 60);
    let failed: Vec<u64> = sink
        .records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.row)
        .collect();
    assert_eq!(
        failed.len(),
        30,
        "each refused user recorded: {:?}",
        sink.records
    );
    assert!(failed.iter().all(|row| row % 2 == 1), "{failed:?}");
    assert_eq!(count(&sink, Status::Applied), 30);
}

#[tokio::test]
async fn transient_failures_of_a_few_users_are_recorded_and_do_not_trip_the_breaker() {
    let mut fake = tenant(60, "disabled");
    // Nine users in a row fail; the tenth works and ends the streak.
    fake.unavailable_for = (0..9).map(|i| format!("u{i}@x.com")).collect();
    let settings = EngineSettings {
        breaker_threshold: NonZeroUsize::new(10).unwrap(),
        max_attempts: NonZeroU32::new(2).unwrap(),
        concurrency: NonZeroUsize::new(1).unwrap(),
        batch_size: BatchSize::new(1).unwrap(),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(60, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(sink.records.len(), 60);
    let failed: Vec<u64> = sink
        .records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.row)
        .collect();
    assert_eq!(failed.len(), 9, "{:?}", sink.records);
}

#[tokio::test]
async fn writes_failing_transiently_while_reads_pass_fail_the_action_after_max_attempts_writes() {
    let mut fake = tenant(2, "disabled");
    fake.writes_unavailable_for = vec!["u0@x.com".into()];
    let fake = Arc::new(fake);
    let settings = EngineSettings {
        max_attempts: NonZeroU32::new(2).unwrap(),
        ..fast()
    };
    // Bounded: a run that resends the write forever must fail here, not hang the suite.
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        go(fake.clone(), work(2, Action::Enforce), settings),
    )
    .await;
    let writes = fake.writes_answered_503.load(Ordering::SeqCst);
    let Ok((report, sink)) = ended else {
        panic!(
            "the run did not end in 10 s: {} batches, {writes} writes of u0 answered 503",
            fake.batches.load(Ordering::SeqCst)
        );
    };
    assert_eq!(report.stop, None);
    assert_eq!(
        writes, 2,
        "u0 was written {writes} times, max_attempts is 2"
    );
    assert_eq!(sink.records.len(), 2, "{:?}", sink.records);
    let r0 = sink.records.iter().find(|r| r.row == 2).unwrap();
    assert_eq!(r0.status, Status::Failed, "{r0:?}");
    assert_eq!(r0.http_status, Some(503), "{r0:?}");
    assert_eq!(r0.error_code, "serviceNotAvailable", "{r0:?}");
    assert_eq!(r0.before, "disabled", "{r0:?}");
    assert!(r0.message.contains("did not land"), "{r0:?}");
    let r1 = sink.records.iter().find(|r| r.row == 3).unwrap();
    assert_eq!(r1.status, Status::Applied, "{r1:?}");
    assert_eq!(fake.states.lock().unwrap()["u0@x.com"], "disabled");
}

#[tokio::test]
async fn a_write_that_landed_but_was_answered_503_on_its_last_attempt_is_verified_applied() {
    let mut fake = tenant(1, "disabled");
    fake.writes_landing_as_503_for = vec!["u0@x.com".into()];
    let fake = Arc::new(fake);
    let settings = EngineSettings {
        max_attempts: NonZeroU32::new(1).unwrap(),
        ..fast()
    };
    let (report, sink) = go(fake.clone(), work(1, Action::Enforce), settings).await;
    assert_eq!(report.stop, None);
    assert_eq!(fake.writes_answered_503.load(Ordering::SeqCst), 1);
    assert_eq!(sink.records.len(), 1);
    let r = &sink.records[0];
    assert_eq!(r.status, Status::Applied, "{r:?}");
    assert_eq!(
        (r.before.as_str(), r.after.as_str()),
        ("disabled", "enforced")
    );
}

#[tokio::test]
async fn max_failures_stops_at_the_bound_and_leaves_later_failures_unrecorded() {
    let mut fake = tenant(100, "disabled");
    fake.unavailable_for = (0..100).step_by(2).map(|i| format!("u{i}@x.com")).collect();
    let settings = EngineSettings {
        max_attempts: NonZeroU32::new(1).unwrap(),
        max_failures: Some(5),
        ..fast()
    };
    let (report, sink) = go(Arc::new(fake), work(100, Action::Enforce), settings).await;
    assert!(
        matches!(report.stop, Some(Stop::MaxFailures(_))),
        "{:?}",
        report.stop
    );
    let failed = sink
        .records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    assert_eq!(failed, 5);
    assert_eq!(report.failed, 5);
}

#[tokio::test]
async fn later_actions_of_a_user_are_skipped_after_a_failure() {
    let fake = Arc::new(tenant(1, "disabled"));
    let w = vec![WorkItem {
        row: 2,
        user: "ghost@x.com".into(),
        actions: vec![Action::Disable, Action::RevokeSessions],
        start_at: 0,
        extra: vec![],
        lookup: UserLookup::Key,
    }];
    let (_, sink) = go(fake, w, fast()).await;
    assert_eq!(sink.records.len(), 2);
    assert_eq!(sink.records[0].status, Status::NotFound);
    assert_eq!(sink.records[1].status, Status::Skipped);
    assert!(sink.records[1].message.contains("disable"));
}

#[tokio::test]
async fn interrupting_leaves_unfinished_rows_unrecorded() {
    let fake = Arc::new(tenant(200, "disabled"));
    let settings = EngineSettings {
        writes: Pace::held(20.0),
        reads: Pace::held(20.0),
        ..fast()
    };
    let mut sink = Collect::default();
    let report = run(
        fake,
        work(200, Action::Enforce),
        &settings,
        &mut sink,
        tokio::time::sleep(Duration::from_millis(300)),
    )
    .await;
    assert_eq!(report.stop, Some(Stop::Interrupted));
    assert!(sink.records.len() < 200);
    assert!(sink.records.iter().all(|r| r.status == Status::Applied));
}

#[tokio::test]
async fn told_write_rate_is_not_exceeded() {
    let fake = Arc::new(tenant(60, "disabled"));
    let settings = EngineSettings {
        writes: Pace::held(100.0),
        reads: None,
        ..fast()
    };
    let (report, _) = go(fake, work(60, Action::Enforce), settings).await;
    // 60 writes at 100/s, starting from an empty bucket: at least 0.6 s (minus scheduling slack).
    assert!(
        report.elapsed >= Duration::from_millis(550),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test]
async fn interrupting_mid_change_still_records_every_change_already_made() {
    let notify = Arc::new(tokio::sync::Notify::new());
    let mut fake = tenant(300, "disabled");
    fake.on_first_write = Some(notify.clone());
    let fake = Arc::new(fake);
    let settings = EngineSettings {
        batch_size: BatchSize::new(7).unwrap(),
        concurrency: NonZeroUsize::new(3).unwrap(),
        ..fast()
    };
    let mut sink = Collect::default();
    let n = notify.clone();
    let report = run(
        fake.clone(),
        work(300, Action::Enforce),
        &settings,
        &mut sink,
        async move { n.notified().await },
    )
    .await;
    assert_eq!(
        report.stop,
        Some(Stop::Interrupted),
        "{} records, {} writes",
        sink.records.len(),
        fake.writes.lock().unwrap().len()
    );
    let written: Vec<String> = fake.writes.lock().unwrap().keys().cloned().collect();
    assert!(!written.is_empty(), "the interrupt came after a write");
    assert!(sink.records.len() < 300, "the run stopped early");
    for user in &written {
        let rec = sink.records.iter().find(|r| &r.user == user);
        assert!(
            rec.is_some_and(|r| r.status == Status::Applied),
            "{user} was changed but not recorded applied"
        );
    }
}
