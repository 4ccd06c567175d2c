//! The async scheduler: turns the machines' calls into `$batch` requests of up to
//! `batch_size` items, keeps at most `concurrency` in flight, paces reads and writes on their
//! own budgets, waits out throttling per item (`Retry-After`), backs off on transient
//! failures, and hands every finished (row, action) to the sink. One task owns all state; the
//! sends run as spawned tasks that report back over a channel. Rows start in input order, a
//! bounded number at a time (`running_limit`), so memory does not grow with what is under
//! way.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::action::Action;
use crate::figures::count;
use crate::graph::{
    ApiVersion, BatchError, BatchItem, BatchReply, ItemResponse, RetryClass, ThrottleScope,
};
use crate::journal::{ResultRecord, Status, timestamp_now};

use super::breaker::{Breaker, CallRoute, Suspicion, route_of};
use super::change_gate::{Admission, ChangeGate};
use super::machine::{Call, Machine, MachineOptions, Next, Outcome, Resolved};
use super::pacer::{Budget, SharedBudget};
use super::settings::EngineSettings;
use super::transport::Transport;

/// One input row's work: a user and its actions, starting at `start_at` (resume skips the
/// actions already finished).
#[derive(Clone, Debug)]
pub(crate) struct WorkItem {
    pub row: u64,
    pub user: String,
    pub actions: Vec<Action>,
    pub start_at: usize,
    pub extra: Vec<String>,
    /// How `user` finds its user in Graph.
    pub lookup: UserLookup,
}

/// How a work item's user is found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum UserLookup {
    /// `user` is an object id or a UPN: the key of `/users/{key}` as it is.
    #[default]
    Key,
    /// `user` is a mail address: looked up first (`resolve_mail.rs`); the actions use the id
    /// found, and every record carries the UPN found as its first extra cell (`resolved_user`).
    Mail,
}

/// Where finished outcomes go (the journal and the progress display).
pub(crate) trait Sink {
    /// One (row, action) finished.
    fn record(&mut self, record: ResultRecord) -> Result<(), String>;
    /// A batch's outcomes have all been recorded: make them durable.
    fn flush(&mut self) -> Result<(), String>;
    /// Items (or whole batches) answered 429.
    fn throttled(&mut self, _count: u64) {}
    /// Requests sent so far and the budgets' current rates, after each batch (for the ETA).
    fn paced(&mut self, _sent: Requests) {}
}

/// Requests sent so far and the rates the budgets allow now (`None`: not limited).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Requests {
    pub reads: u64,
    pub writes: u64,
    pub read_rate: Option<f64>,
    pub write_rate: Option<f64>,
}

/// Why a run stopped before finishing every row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Interrupted,
    /// Graph kept refusing the access token, even after renewing it (exit 3).
    SignIn(String),
    /// The circuit breaker: failures are systemic, not per user (exit 4). The message names
    /// the cause.
    Breaker(String),
    /// --max-failures rows failed (exit 4).
    MaxFailures(String),
    /// --max-changes would be exceeded.
    MaxChanges(String),
    /// The results file could not be written.
    Sink(String),
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub(crate) struct EngineReport {
    pub reads: u64,
    pub writes: u64,
    pub throttled: u64,
    pub retries: u64,
    pub changes: u64,
    pub elapsed: Duration,
    pub stop: Option<Stop>,
    /// Rows whose every action ended (and was recorded) in this run.
    pub rows_ended: u64,
    /// Actions recorded `failed` in this run.
    pub failed: u64,
    /// `--limit` was reached: some action wanted a change beyond it and was left unrecorded,
    /// with the rows not started, for `--resume`.
    pub limit_reached: bool,
    /// The pacing rates at the end (after any adaptive slow-down).
    pub final_read_rate: Option<f64>,
    pub final_write_rate: Option<f64>,
}

/// One input row. Small on purpose: a run holds one per row for its whole length, while the
/// state of an action under way (`Current`) exists only for the jobs started and not finished.
struct JobState {
    item: WorkItem,
    next_action: usize,
    /// Set when an action failed: the later actions of this user are skipped.
    blocked_by: Option<String>,
    /// The action under way; `None` before the job starts, between actions and after the last.
    current: Option<Box<Current>>,
    /// The user a mail address was found to be (mail lookups only, once found): later actions
    /// of the row use it without looking again.
    resolved: Option<Box<Resolved>>,
}

/// The action a job is running.
struct Current {
    machine: Machine,
    attempts: u32,
    change_reserved: bool,
    /// A write of this action was sent: it may have changed the tenant.
    write_sent: bool,
    /// Its first write waits behind `--max-changes` (it does not count as running meanwhile).
    parked: bool,
    /// It ended failed and its outcome is held back for the breaker: no answer or retry for
    /// it matters any more.
    suspected: bool,
    request_id: String,
    client_request_id: String,
    /// Writes this action replaced by a verifying read after transient failures: the write
    /// the machine sends again once that read shows the change missing keeps their count, so
    /// a write answered 503 while reads pass still ends after `max_attempts`.
    replaced_writes: Vec<ReplacedWrite>,
}

/// A write swapped for a verifying read after a transient failure (docs/graph.md §8).
struct ReplacedWrite {
    tag: u32,
    url: String,
    /// Its transient failures so far.
    transient: u32,
    /// Set once it used up `max_attempts`: the last error (status, code, message). The
    /// verifying read still runs, since the write may have landed; if it did not, the
    /// action fails with this error instead of writing again.
    exhausted: Option<(Option<u16>, String, String)>,
}

#[derive(Debug)]
struct Pending {
    job: usize,
    /// Which of the job's actions this call belongs to: an answer that arrives after its
    /// action finished is stale and dropped.
    action: usize,
    call: Call,
    transient: u32,
    throttled: u32,
    auth_retries: u32,
    /// The number of the send this call was last part of (1, 2, … in send order), which
    /// orders its answer for the breaker; before it is sent, that of the answer it follows.
    seq: u64,
}

/// Whether a call for (job, action) still matters: that action is the job's one under way.
/// A call whose action ended (its outcome recorded) is never sent: a write sent then would
/// change the tenant without a record of it.
fn still_current(jobs: &[JobState], j: usize, action: usize) -> bool {
    jobs.get(j).is_some_and(|job| {
        job.next_action == action && job.current.as_ref().is_some_and(|c| !c.suspected)
    })
}

struct Delayed {
    at: Instant,
    seq: u64,
    pending: Pending,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Takes the answer whose id is `id` (case-insensitively, as Graph treats ids), looking
/// from `next` onward first; `next` moves past it.
fn take_answer(
    answers: &mut [Option<ItemResponse>],
    next: &mut usize,
    id: &str,
) -> Option<ItemResponse> {
    let n = answers.len();
    let at = (0..n).map(|k| (*next + k) % n).find(|&i| {
        answers[i]
            .as_ref()
            .is_some_and(|a| a.id.eq_ignore_ascii_case(id))
    })?;
    *next = at + 1;
    answers[at].take()
}

struct Sent {
    pending: Pending,
    id: String,
}

/// What the run's loop does when nothing may be in flight.
enum Idle {
    /// The run is over.
    Finished,
    /// Something changed (a job started, the gate decided): go round again.
    Again,
    /// Wait for what is under way.
    Busy,
}

/// What `compose` found.
enum Composed {
    Batch(ApiVersion, Vec<Pending>),
    /// Something is queued, but the budgets afford it only after this long.
    Wait(Duration),
    Nothing,
}

/// What one batch told a budget.
#[derive(Default, Clone, Copy)]
struct BudgetSignal {
    /// Items of this kind answered in the batch; none means the batch says nothing about it.
    answered: usize,
    throttled: bool,
    retry_after: Option<Duration>,
    percentage: Option<f64>,
}

struct BatchDone {
    sent_at: Instant,
    sent: Vec<Sent>,
    result: Result<BatchReply, BatchError>,
}

/// Runs every work item to an outcome (or until stopped) and returns what happened.
pub(crate) async fn run<T, F>(
    transport: Arc<T>,
    work: Vec<WorkItem>,
    settings: &EngineSettings,
    sink: &mut dyn Sink,
    shutdown: F,
) -> EngineReport
where
    T: Transport,
    F: Future<Output = ()>,
{
    let mut s = Scheduler::new(work, settings.clone());
    s.run(transport, sink, shutdown).await
}

/// How many jobs run at once (started and not finished, not counting those parked behind
/// `--max-changes`): enough to keep every batch in flight full and the budgets' queues deep
/// while the pacing holds writes back, and few enough that a run's memory does not grow with
/// its number of rows. Jobs start in input order as others finish. Engines side by side (a
/// many-tenant run's) split that among them, each keeping at least a full window of batches
/// (`--concurrency` × `--batch-size`): every tenant running all its rows at once made a run
/// of 10 tenants × 2,000 rows hold each row's calls and state at once (heaptrack: 34 MB of
/// heap at the peak, against 7.5 MB for one tenant's 20,000 rows).
fn running_limit(settings: &EngineSettings) -> usize {
    let window = settings.concurrency.get() * settings.batch_size.get();
    let whole = (window * 8).max(512);
    (whole / settings.engines.get()).max(window)
}

struct Scheduler {
    settings: EngineSettings,
    jobs: Vec<JobState>,
    /// The next job to start: the ones before it have started.
    next_start: usize,
    /// Jobs with an action under way, less those parked behind `--max-changes`.
    running: usize,
    running_limit: usize,
    ready_reads: VecDeque<Pending>,
    ready_writes: VecDeque<Pending>,
    delayed: BinaryHeap<Reverse<Delayed>>,
    /// `--max-changes` and `--limit`, with the first writes parked behind the former.
    gate: ChangeGate<Pending>,
    seq: u64,
    in_flight: usize,
    /// Batches allowed in flight now: starts at one and grows by one per batch answered
    /// without a 429, up to `concurrency`; halves on a 429 (slow start, as TCP does), so a
    /// budget that turns out to be exhausted costs one batch of 429s, not `concurrency`.
    window: usize,
    reads: Budget,
    writes: Budget,
    /// The many-tenant run's budget of writes across all tenants, taken besides `writes`.
    app_writes: Option<SharedBudget>,
    /// The many-tenant run's budget of resource units across all tenants: every item takes
    /// one, besides its own budget's.
    app_units: Option<SharedBudget>,
    report: EngineReport,
    /// Failed outcomes held back until the breaker decides: if it trips they are not
    /// recorded, so `--resume` redoes them once the cause is fixed.
    breaker: Breaker,
    /// Calls sent so far: the last one's number in send order.
    sends: u64,
    /// The send number of the answer being handled, for the calls it leads to.
    deciding: u64,
    /// Finished records not yet handed to the sink.
    out: Vec<ResultRecord>,
    throttled_new: u64,
    rng: u64,
}

fn error_text(answer: &ItemResponse) -> (String, String) {
    match answer.error() {
        Some(e) => (e.code, e.message),
        None => (String::new(), format!("status {}", answer.status)),
    }
}

impl Scheduler {
    fn new(work: Vec<WorkItem>, settings: EngineSettings) -> Scheduler {
        let now = Instant::now();
        let jobs = work
            .into_iter()
            .map(|item| JobState {
                next_action: item.start_at,
                item,
                blocked_by: None,
                current: None,
                resolved: None,
            })
            .collect();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            | 1;
        Scheduler {
            gate: ChangeGate::new(settings.max_changes, settings.limit, settings.dry_run),
            breaker: Breaker::new(settings.breaker_threshold, settings.max_attempts),
            sends: 0,
            deciding: 0,
            reads: Budget::new(settings.reads, settings.batch_size, now),
            writes: Budget::new(settings.writes, settings.batch_size, now),
            app_writes: settings.shared_writes.clone(),
            app_units: settings.shared_units.clone(),
            running_limit: running_limit(&settings),
            settings,
            jobs,
            next_start: 0,
            running: 0,
            ready_reads: VecDeque::new(),
            ready_writes: VecDeque::new(),
            delayed: BinaryHeap::new(),
            seq: 0,
            in_flight: 0,
            window: 1,
            report: EngineReport::default(),
            out: Vec::new(),
            throttled_new: 0,
            rng: seed,
        }
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64*: jitter only needs to decorrelate retries, not be unpredictable.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponential backoff with jitter: base · 2^(attempt-1), capped, between half and all
    /// of the step so retries of one failed batch spread out.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self.settings.backoff_base.as_secs_f64();
        let step = base * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
        let capped = step.min(self.settings.max_wait.as_secs_f64().min(30.0));
        Duration::from_secs_f64(capped * (0.5 + 0.5 * self.jitter()))
    }

    fn delay(&mut self, pending: Pending, wait: Duration) {
        self.seq += 1;
        self.report.retries += 1;
        let wait = wait.min(self.settings.max_wait);
        self.delayed.push(Reverse(Delayed {
            at: Instant::now() + wait,
            seq: self.seq,
            pending,
        }));
    }

    fn stop(&mut self, why: Stop) {
        if self.report.stop.is_none() {
            self.report.stop = Some(why);
        }
    }

    /// Hands finished records to the sink and makes them durable.
    fn flush(&mut self, sink: &mut dyn Sink) {
        if self.throttled_new > 0 {
            sink.throttled(self.throttled_new);
            self.throttled_new = 0;
        }
        if self.out.is_empty() {
            return;
        }
        sink.paced(Requests {
            reads: self.report.reads,
            writes: self.report.writes,
            read_rate: self.reads.rate(),
            write_rate: self.writes.rate(),
        });
        for record in self.out.drain(..) {
            if let Err(e) = sink.record(record) {
                self.report.stop.get_or_insert(Stop::Sink(e));
                return;
            }
        }
        if let Err(e) = sink.flush() {
            self.stop(Stop::Sink(e));
        }
    }

    /// The run's loop: start jobs, queue what is due, send what concurrency and pacing
    /// allow, then wait for an answer, a due retry or the shutdown signal; until nothing is
    /// left, or a stop has drained (within the grace period).
    async fn run<T: Transport, F: Future<Output = ()>>(
        &mut self,
        transport: Arc<T>,
        sink: &mut dyn Sink,
        shutdown: F,
    ) -> EngineReport {
        let started = Instant::now();
        let (tx, mut rx) = mpsc::unbounded_channel::<BatchDone>();
        tokio::pin!(shutdown);
        let mut stop_deadline: Option<Instant> = None;

        loop {
            self.start_jobs();
            let now = Instant::now();
            self.release_due(now);
            let stopping = self.report.stop.is_some();
            if stopping && stop_deadline.is_none() {
                stop_deadline = Some(now + self.settings.shutdown_grace);
                // Finish what already changed the tenant (a write sent, its read-back or the
                // next deletes still to go), so the journal records every change made; drop
                // everything else, which --resume redoes from its read.
                self.drain_to_changed_jobs();
            }
            // While stopping, only the jobs kept by the drain are still sending.
            let sending = !stopping || self.may_drain();
            let mut wake = self.delayed.peek().map(|Reverse(d)| d.at);
            if sending && let Some(at) = self.send_affordable(&transport, &tx) {
                wake = Some(wake.map_or(at, |x| x.min(at)));
            }
            match self.when_idle(stopping, sending, sink) {
                Idle::Finished => break,
                Idle::Again => continue,
                Idle::Busy => {}
            }
            if let Some(deadline) = stop_deadline {
                if Instant::now() >= deadline {
                    break;
                }
                wake = Some(wake.map_or(deadline, |x| x.min(deadline)));
            }

            let sleep_until = wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                done = rx.recv() => {
                    if let Some(done) = done {
                        self.receive(done, &mut rx, sink);
                    }
                }
                () = tokio::time::sleep_until(sleep_until.into()) => {}
                () = &mut shutdown, if !stopping => self.stop(Stop::Interrupted),
            }
        }
        self.wrap_up(sink, started)
    }

    /// Sends batches as long as concurrency and pacing allow; when the budgets hold the next
    /// one back, the instant it becomes affordable.
    fn send_affordable<T: Transport>(
        &mut self,
        transport: &Arc<T>,
        tx: &mpsc::UnboundedSender<BatchDone>,
    ) -> Option<Instant> {
        while self.in_flight < self.window {
            match self.compose(Instant::now()) {
                Composed::Batch(version, items) => self.send(transport, tx, version, items),
                Composed::Wait(wait) => return Some(Instant::now() + wait),
                Composed::Nothing => break,
            }
        }
        None
    }

    /// What to do when nothing may be in flight: finish, go round again (a job started, or
    /// the `--max-changes` gate decided), or wait for what is under way.
    fn when_idle(&mut self, stopping: bool, sending: bool, sink: &mut dyn Sink) -> Idle {
        let quiet = self.in_flight == 0 && self.ready_is_empty() && self.delayed.is_empty();
        if stopping {
            return if self.in_flight == 0 && (!sending || quiet) {
                Idle::Finished
            } else {
                Idle::Busy
            };
        }
        if !quiet {
            return Idle::Busy;
        }
        if self.next_start < self.jobs.len() && self.may_start() {
            // Nothing is under way but jobs are left: the running ones all wait on
            // something else (the breaker's verdict on their permission failures).
            self.flush(sink);
            self.start_next();
            return Idle::Again;
        }
        if !self.gate.waiting() {
            return Idle::Finished;
        }
        self.decide_gate();
        self.flush(sink);
        Idle::Again
    }

    /// Handles an answered batch and every other one already answered, then hands the
    /// outcomes to the sink.
    fn receive(
        &mut self,
        first: BatchDone,
        rx: &mut mpsc::UnboundedReceiver<BatchDone>,
        sink: &mut dyn Sink,
    ) {
        self.in_flight -= 1;
        self.handle(first);
        while let Ok(done) = rx.try_recv() {
            self.in_flight -= 1;
            self.handle(done);
        }
        self.flush(sink);
    }

    /// The run ended: records the failures the breaker held back without tripping, and
    /// reports.
    fn wrap_up(&mut self, sink: &mut dyn Sink, started: Instant) -> EngineReport {
        // Failures that did not trip the breaker are real outcomes (after a breaker stop,
        // `finish_action` leaves them unrecorded).
        self.release_breaker(true);
        for suspect in self.breaker.take_all() {
            self.finish_action(suspect.job, suspect.outcome);
        }
        self.flush(sink);
        self.report.rows_ended = self
            .jobs
            .iter()
            .filter(|j| j.next_action >= j.item.actions.len())
            .count() as u64;
        self.report.elapsed = started.elapsed();
        self.report.final_read_rate = self.reads.rate();
        self.report.final_write_rate = self.writes.rate();
        std::mem::take(&mut self.report)
    }

    /// Starts jobs, in input order, up to the running limit (none once stopping: `--resume`
    /// picks them up).
    fn start_jobs(&mut self) {
        while self.may_start()
            && self.running < self.running_limit
            && self.next_start < self.jobs.len()
        {
            self.start_next();
        }
    }

    /// Whether new jobs may start: not once stopping, nor once `--limit` is reached (the rows
    /// not started stay unrecorded for `--resume`).
    fn may_start(&self) -> bool {
        self.report.stop.is_none() && !self.report.limit_reached
    }

    /// `--limit` is reached and job `j`'s action wants one change more: it is left as if never
    /// started (no record), so `--resume` does it. Its calls already queued are stale now.
    fn leave_for_next_run(&mut self, j: usize) {
        self.report.limit_reached = true;
        if self.jobs[j].current.take().is_some_and(|c| !c.parked) {
            self.running -= 1;
        }
    }

    /// Starts the first job not yet started.
    fn start_next(&mut self) {
        let j = self.next_start;
        self.next_start += 1;
        self.advance(j);
    }

    /// Queues the delayed calls whose wait is over (dropping those whose action ended).
    fn release_due(&mut self, now: Instant) {
        while self.delayed.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(d)) = self.delayed.pop()
                && self.is_current(d.pending.job, d.pending.action)
            {
                self.enqueue(d.pending);
            }
        }
    }

    /// Whether the job's current action has sent a write (so it may have changed the tenant).
    fn write_sent(&self, j: usize) -> bool {
        self.jobs[j].current.as_ref().is_some_and(|c| c.write_sent)
    }

    /// Whether an answer or retry for action `action` of job `j` still matters: the action is
    /// the one under way.
    fn is_current(&self, j: usize, action: usize) -> bool {
        still_current(&self.jobs, j, action)
    }

    /// Whether a stopping run may still send for jobs that already changed the tenant: on
    /// Ctrl-C and the breaker yes (within the grace period), not when the journal failed.
    fn may_drain(&self) -> bool {
        matches!(
            self.report.stop,
            Some(Stop::Interrupted | Stop::SignIn(_) | Stop::Breaker(_) | Stop::MaxFailures(_))
        )
    }

    /// Whether failures are no longer recorded: the run stopped because failures are
    /// systemic or too many, so what fails from now on is left for `--resume`.
    fn holds_failures(&self) -> bool {
        matches!(
            self.report.stop,
            Some(Stop::SignIn(_) | Stop::Breaker(_) | Stop::MaxFailures(_))
        )
    }

    /// Keeps only the queued calls of jobs whose current action has sent a write.
    fn drain_to_changed_jobs(&mut self) {
        if !self.may_drain() {
            self.ready_reads.clear();
            self.ready_writes.clear();
            self.delayed.clear();
            self.gate.clear_parked();
            return;
        }
        let reads = std::mem::take(&mut self.ready_reads);
        let writes = std::mem::take(&mut self.ready_writes);
        let delayed = std::mem::take(&mut self.delayed);
        self.ready_reads = reads
            .into_iter()
            .filter(|p| self.write_sent(p.job))
            .collect();
        self.ready_writes = writes
            .into_iter()
            .filter(|p| self.write_sent(p.job))
            .collect();
        self.delayed = delayed
            .into_iter()
            .filter(|Reverse(d)| self.write_sent(d.pending.job))
            .collect();
        self.gate.clear_parked();
    }

    fn ready_is_empty(&self) -> bool {
        self.ready_reads.is_empty() && self.ready_writes.is_empty()
    }

    /// Queues a call: writes and reads apart, so a batch can be filled with what each budget
    /// affords now (reads never wait behind writes the write budget holds back). A job that
    /// already sent a write goes first: its read-back or next step finishes a change, and a
    /// change is recorded only once its action ends.
    fn enqueue(&mut self, pending: Pending) {
        let first = self.write_sent(pending.job);
        let queue = if pending.call.method.is_write() {
            &mut self.ready_writes
        } else {
            &mut self.ready_reads
        };
        if first {
            queue.push_front(pending);
        } else {
            queue.push_back(pending);
        }
    }

    /// Builds the next batch from what the budgets afford now: as many queued writes as there
    /// are write tokens, then reads, up to `batch_size`. It waits (rather than send a sliver)
    /// until a full batch is affordable, or everything queued is when less than a batch is.
    fn compose(&mut self, now: Instant) -> Composed {
        let size = self.settings.batch_size.get();
        let queued = self.ready_writes.len() + self.ready_reads.len();
        if queued == 0 {
            return Composed::Nothing;
        }
        let target = size.min(queued);
        let afford = |b: &mut Budget| b.available(now).floor().max(0.0).min(size as f64) as usize;
        // A write takes a token of its own budget and one of the app-wide budget when shared.
        let own_w = afford(&mut self.writes);
        let app_w = self
            .app_writes
            .as_ref()
            .map_or(usize::MAX, |a| a.with(afford));
        let app_u = self
            .app_units
            .as_ref()
            .map_or(usize::MAX, |a| a.with(afford));
        let nw = own_w.min(app_w).min(app_u).min(self.ready_writes.len());
        let own_r = afford(&mut self.reads);
        let room_u = app_u.saturating_sub(nw);
        let nr = own_r.min(self.ready_reads.len()).min(size - nw).min(room_u);
        if self.ready_writes.len() > nw {
            // Only the budget that held the writes back learns it is the constraint.
            let bound = own_w.min(app_w).min(app_u);
            if own_w == bound {
                self.writes.mark_limited();
            }
            if let Some(app) = self.app_writes.as_ref().filter(|_| app_w == bound) {
                app.with(Budget::mark_limited);
            }
            if let Some(app) = self.app_units.as_ref().filter(|_| app_u == bound) {
                app.with(Budget::mark_limited);
            }
        }
        if self.ready_reads.len() > nr && nw + nr < size {
            if own_r <= room_u {
                self.reads.mark_limited();
            }
            if let Some(app) = self.app_units.as_ref().filter(|_| room_u <= own_r) {
                app.with(Budget::mark_limited);
            }
        }
        if nw + nr < target {
            let need = target - nw - nr;
            let mut wait = Duration::MAX;
            if self.ready_writes.len() > nw {
                let more = need.min(self.ready_writes.len() - nw).min(size - nw);
                let n = (nw + more) as f64;
                let mut ready = self.writes.ready_in(n, now);
                for app in [&self.app_writes, &self.app_units].into_iter().flatten() {
                    ready = ready.max(app.with(|b| b.ready_in(n, now)));
                }
                wait = wait.min(ready);
            }
            if self.ready_reads.len() > nr {
                let more = need.min(self.ready_reads.len() - nr);
                let mut ready = self.reads.ready_in((nr + more) as f64, now);
                if let Some(app) = &self.app_units {
                    ready = ready.max(app.with(|b| b.ready_in((nw + nr + more) as f64, now)));
                }
                wait = wait.min(ready);
            }
            if wait == Duration::MAX || wait.is_zero() {
                wait = Duration::from_millis(1);
            }
            return Composed::Wait(wait);
        }
        let version = self
            .ready_writes
            .front()
            .filter(|_| nw > 0)
            .or(self.ready_reads.front())
            .map_or(ApiVersion::Beta, |p| p.call.version);
        let mut items = Vec::with_capacity(nw + nr);
        let mut other = Vec::new();
        let jobs = &self.jobs;
        for (queue, n) in [(&mut self.ready_writes, nw), (&mut self.ready_reads, nr)] {
            let mut taken = 0;
            while taken < n {
                let Some(p) = queue.pop_front() else { break };
                if !still_current(jobs, p.job, p.action) {
                    continue;
                }
                if p.call.version == version {
                    items.push(p);
                    taken += 1;
                } else {
                    other.push(p);
                }
            }
        }
        for p in other.into_iter().rev() {
            let queue = if p.call.method.is_write() {
                &mut self.ready_writes
            } else {
                &mut self.ready_reads
            };
            queue.push_front(p);
        }
        let w = items.iter().filter(|p| p.call.method.is_write()).count() as f64;
        self.writes.take(w, now);
        if let Some(app) = &self.app_writes {
            app.with(|b| b.take(w, now));
        }
        if let Some(app) = &self.app_units {
            app.with(|b| b.take(items.len() as f64, now));
        }
        self.reads.take(items.len() as f64 - w, now);
        if items.is_empty() {
            return Composed::Wait(Duration::from_millis(1));
        }
        Composed::Batch(version, items)
    }

    fn send<T: Transport>(
        &mut self,
        transport: &Arc<T>,
        tx: &mpsc::UnboundedSender<BatchDone>,
        version: ApiVersion,
        items: Vec<Pending>,
    ) {
        let mut sent = Vec::with_capacity(items.len());
        let mut wire = Vec::with_capacity(items.len());
        for (i, mut pending) in items.into_iter().enumerate() {
            self.sends += 1;
            pending.seq = self.sends;
            self.breaker.sent(pending.seq);
            let id = (i + 1).to_string();
            let client_request_id = crate::graph::client_request_id();
            let write = pending.call.method.is_write();
            if write {
                self.report.writes += 1;
            } else {
                self.report.reads += 1;
            }
            if let Some(current) = self.jobs[pending.job].current.as_mut() {
                current.write_sent |= write;
                current.attempts += 1;
                current.client_request_id.clone_from(&client_request_id);
            }
            wire.push(BatchItem {
                id: id.clone(),
                method: pending.call.method,
                url: pending.call.url.clone(),
                body: pending.call.body.clone(),
                client_request_id,
                advanced_query: false,
            });
            sent.push(Sent { pending, id });
        }
        self.in_flight += 1;
        let transport = Arc::clone(transport);
        let tx = tx.clone();
        let sent_at = Instant::now();
        tokio::spawn(async move {
            let result = transport.batch(version, wire).await;
            let _ = tx.send(BatchDone {
                sent_at,
                sent,
                result,
            });
        });
    }

    /// One batch's answer: each item's, or the batch's own (throttled, failed in transit,
    /// refused the token, or refused whole).
    fn handle(&mut self, done: BatchDone) {
        for sent in &done.sent {
            self.breaker.returned(sent.pending.seq);
        }
        self.handle_items(done);
        self.release_breaker(false);
    }

    fn handle_items(&mut self, done: BatchDone) {
        let now = Instant::now();
        match done.result {
            Ok(reply) => self.on_reply(done.sent, reply, done.sent_at, now),
            Err(BatchError::Throttled {
                status,
                retry_after,
            }) => self.on_batch_throttled(done.sent, status, retry_after, done.sent_at, now),
            Err(BatchError::Transport(message)) => {
                for sent in done.sent {
                    self.deciding = sent.pending.seq;
                    self.on_transient(sent.pending, None, "", &message, None);
                }
            }
            Err(BatchError::Auth(message)) => {
                self.stop(Stop::SignIn(format!(
                    "sign-in failed during the run: {message}"
                )));
                // The items stay unfinished: --resume redoes them.
            }
            Err(BatchError::Rejected { status, error }) => {
                for sent in done.sent {
                    self.deciding = sent.pending.seq;
                    let job = sent.pending.job;
                    if !self.is_current(job, sent.pending.action) {
                        continue;
                    }
                    let outcome = Outcome {
                        status: Status::Failed,
                        http_status: Some(status),
                        error_code: error.code.clone(),
                        message: format!("the batch was refused: {}", error.message),
                        ..Outcome::default()
                    };
                    let kind = Suspicion::Route(status, "POST $batch".into());
                    self.suspect(job, kind, outcome, sent.pending.seq);
                }
            }
        }
    }

    /// A batch answered item by item: each item goes to its call, and what the answers say
    /// about the quota goes to the budgets and the window.
    fn on_reply(&mut self, sent: Vec<Sent>, reply: BatchReply, sent_at: Instant, now: Instant) {
        // A batch holds at most 20 items: pairing answers with sent items by a scan costs less
        // than a map of lowercased ids. parse_batch_response hands them back in sending order,
        // so each scan usually stops at its first look.
        let mut answers: Vec<Option<ItemResponse>> = reply.items.into_iter().map(Some).collect();
        let mut next = 0;
        // What each budget learned from this batch: the longest Retry-After of its 429s, or
        // else the highest limit percentage of its passes: reads, writes, and the app-wide
        // write and resource-unit budgets (their 429s are those whose scope names them; they
        // get no percentage).
        let mut signal = [BudgetSignal::default(); 4];
        let (app_writes, app_units) = (self.app_writes.is_some(), self.app_units.is_some());
        for sent in sent {
            self.deciding = sent.pending.seq;
            let Some(answer) = take_answer(&mut answers, &mut next, &sent.id) else {
                self.on_transient(
                    sent.pending,
                    None,
                    "",
                    "the batch response did not answer this item",
                    None,
                );
                continue;
            };
            let write = sent.pending.call.method.is_write();
            let scope = if answer.status == 429 {
                answer.scope
            } else {
                ThrottleScope::Tenant
            };
            let to = match scope {
                ThrottleScope::AppUnits if app_units => 3,
                ThrottleScope::AppWrites if write && app_writes => 2,
                _ => usize::from(write),
            };
            // What the app-wide budgets let through.
            if write && to != 2 {
                signal[2].answered += 1;
            }
            if to != 3 {
                signal[3].answered += 1;
            }
            let s = &mut signal[to];
            s.answered += 1;
            if answer.status == 429 {
                s.throttled = true;
                s.retry_after = s.retry_after.max(answer.retry_after);
            } else if let Some(p) = answer.throttle_percentage {
                s.percentage = Some(s.percentage.map_or(p, |q: f64| q.max(p)));
            }
            self.on_item(sent.pending, answer);
        }
        if signal.iter().any(|s| s.throttled) {
            self.window = (self.window / 2).max(1);
        } else {
            self.window = (self.window + 1).min(self.settings.concurrency.get());
        }
        let apply = |budget: &mut Budget, s: BudgetSignal| match s {
            BudgetSignal { answered: 0, .. } => {}
            BudgetSignal {
                throttled: true, ..
            } => budget.on_throttled(s.retry_after, sent_at, now),
            _ => budget.on_passed(s.percentage, now),
        };
        apply(&mut self.reads, signal[0]);
        apply(&mut self.writes, signal[1]);
        if let Some(app) = &self.app_writes {
            app.with(|b| apply(b, signal[2]));
        }
        if let Some(app) = &self.app_units {
            app.with(|b| apply(b, signal[3]));
        }
    }

    /// The whole batch was answered 429, or a 5xx the retry classifier calls throttled.
    fn on_batch_throttled(
        &mut self,
        sent: Vec<Sent>,
        status: u16,
        retry_after: Option<Duration>,
        sent_at: Instant,
        now: Instant,
    ) {
        if status == 429 {
            self.report.throttled += 1;
            self.throttled_new += 1;
        }
        self.window = (self.window / 2).max(1);
        let hold = if status == 429 { retry_after } else { None };
        self.reads.on_throttled(hold, sent_at, now);
        self.writes.on_throttled(hold, sent_at, now);
        for sent in sent {
            self.deciding = sent.pending.seq;
            if status == 429 {
                // A throttled batch was refused whole: nothing ran, resend as is.
                self.on_throttled_item(sent.pending, retry_after, None);
            } else {
                let message = format!("the batch was answered {status}");
                self.on_transient(sent.pending, Some(status), "", &message, retry_after);
            }
        }
    }

    fn on_throttled_item(
        &mut self,
        mut p: Pending,
        retry_after: Option<Duration>,
        answer: Option<&ItemResponse>,
    ) {
        if !self.is_current(p.job, p.action) {
            return;
        }
        p.throttled += 1;
        if p.throttled >= self.settings.max_throttled_attempts.get() {
            let (code, message) = answer.map_or_else(
                || ("TooManyRequests".to_string(), String::new()),
                error_text,
            );
            let message = format!(
                "still throttled after {} {message}",
                count(u64::from(p.throttled), "attempt", "attempts")
            );
            self.give_up(p, Some(429), &code, message.trim_end(), false);
            return;
        }
        let wait = match retry_after {
            Some(w) => w,
            None => self.backoff(p.throttled),
        };
        self.delay(p, wait);
    }

    fn on_item(&mut self, mut pending: Pending, answer: ItemResponse) {
        let job = pending.job;
        if !self.is_current(job, pending.action) {
            return;
        }
        if let (Some(id), Some(current)) = (&answer.request_id, self.jobs[job].current.as_mut()) {
            current.request_id.clone_from(id);
        }
        match (answer.status, RetryClass::of(answer.status)) {
            (_, RetryClass::Throttled) => {
                self.report.throttled += 1;
                self.throttled_new += 1;
                self.on_throttled_item(pending, answer.retry_after, Some(&answer));
            }
            (_, RetryClass::Transient) => {
                let (code, message) = error_text(&answer);
                self.on_transient(
                    pending,
                    Some(answer.status),
                    &code,
                    &message,
                    answer.retry_after,
                );
            }
            (401, _) if pending.auth_retries == 0 => {
                // A token that expired between the batch and its items: resend once.
                pending.auth_retries += 1;
                self.delay(pending, Duration::ZERO);
            }
            (status, RetryClass::Final) => {
                let Some(current) = self.jobs[job].current.as_mut() else {
                    return;
                };
                let next = current.machine.on_response(pending.call.tag, &answer);
                let kind = Suspicion::of_answer(status, || route_of(&pending.call));
                let route =
                    CallRoute::new(pending.call.method, std::mem::take(&mut pending.call.url));
                self.breaker.answer(pending.seq, status, route);
                match (kind, next) {
                    (Some(kind), Next::Done(outcome)) if outcome.status == Status::Failed => {
                        self.suspect(job, kind, outcome, pending.seq);
                    }
                    (_, next) => self.apply_next(job, next),
                }
            }
        }
    }

    /// Holds a failed outcome, decided by the answer to send number `seq`, back as one of a
    /// possible systemic run; the breaker takes it in send order (`release_breaker`).
    fn suspect(&mut self, job: usize, kind: Suspicion, outcome: Outcome, seq: u64) {
        match self.jobs[job].current.as_mut() {
            // Held back already (two calls of one action refused in one batch).
            Some(c) if c.suspected => return,
            Some(c) => c.suspected = true,
            None => return,
        }
        self.breaker.hold(seq, job, kind, outcome);
    }

    /// Lets the breaker take, in send order, what no call still out was sent before (`all`:
    /// everything, at the end): records the held-back failures that turned out per user, then
    /// trips when a streak is long enough.
    fn release_breaker(&mut self, all: bool) {
        let (settled, stop) = if all {
            self.breaker.release_all()
        } else {
            self.breaker.release()
        };
        for s in settled {
            self.finish_action(s.job, s.outcome);
        }
        if let Some(stop) = stop {
            self.stop(stop);
        }
    }

    /// The call failed in a way that may or may not have taken effect: back off and send what
    /// the machine asks for instead (a read to verify a write), or give up after
    /// `max_attempts`.
    fn on_transient(
        &mut self,
        mut p: Pending,
        status: Option<u16>,
        code: &str,
        message: &str,
        retry_after: Option<Duration>,
    ) {
        if !self.is_current(p.job, p.action) {
            return;
        }
        p.transient += 1;
        let code = if code.is_empty() {
            "TransientFailure"
        } else {
            code
        };
        let exhausted = p.transient >= self.settings.max_attempts.get();
        let Some(current) = self.jobs[p.job].current.as_mut() else {
            return;
        };
        let replaced = p.call.clone();
        let instead = current.machine.after_ambiguous(p.call.tag);
        if replaced.method.is_write() && !instead.method.is_write() {
            // The write may have landed: the read verifies it either way, and the write the
            // machine sends again after it keeps this count.
            current.replaced_writes.retain(|w| w.tag != replaced.tag);
            current.replaced_writes.push(ReplacedWrite {
                tag: replaced.tag,
                url: replaced.url,
                transient: p.transient,
                exhausted: exhausted.then(|| (status, code.to_string(), message.to_string())),
            });
            if exhausted {
                // The read gets its own budget: it decides the row's truth.
                p.transient = 0;
            }
        } else if exhausted {
            self.give_up(p, status, code, message, true);
            return;
        }
        p.call = instead;
        let wait = match retry_after {
            Some(w) => w.max(self.backoff(p.transient) / 4),
            None => self.backoff(p.transient),
        };
        self.delay(p, wait);
    }

    /// A call kept failing: the action fails with the last error (once the machine's other
    /// calls in flight are answered). A failure after transient retries is held back for the
    /// breaker.
    fn give_up(
        &mut self,
        p: Pending,
        status: Option<u16>,
        code: &str,
        message: &str,
        transient: bool,
    ) {
        let job = p.job;
        if !self.is_current(job, p.action) {
            return;
        }
        let Some(current) = self.jobs[job].current.as_mut() else {
            return;
        };
        let failure = Outcome {
            status: Status::Failed,
            http_status: status,
            error_code: code.to_string(),
            message: format!(
                "{message} (gave up after {})",
                count(u64::from(current.attempts), "attempt", "attempts")
            ),
            ..Outcome::default()
        };
        let next = current.machine.give_up(p.call.tag, message, failure);
        match next {
            Next::Done(outcome) if transient && outcome.status == Status::Failed => {
                self.suspect(job, Suspicion::Transient(route_of(&p.call)), outcome, p.seq);
            }
            next => self.apply_next(job, next),
        }
    }

    /// Starts the job's next action, or records the rest as skipped after a failure.
    fn advance(&mut self, j: usize) {
        if self.report.stop.is_some() {
            // Stopping: no new action starts; --resume picks it up.
            return;
        }
        let options = self.machine_options();
        loop {
            let job = &mut self.jobs[j];
            if job.current.is_some() || job.next_action >= job.item.actions.len() {
                return;
            }
            let action = job.item.actions[job.next_action];
            if let Some(reason) = job.blocked_by.clone() {
                let outcome = Outcome {
                    status: Status::Skipped,
                    message: reason,
                    ..Outcome::default()
                };
                self.push_record(j, action, outcome);
                self.jobs[j].next_action += 1;
                continue;
            }
            // A protected user gets nothing sent (a mail row is checked once looked up).
            let keys: &[&str] = match (&job.item.lookup, &job.resolved) {
                (_, Some(found)) => &[job.item.user.as_str(), &found.id, &found.upn],
                (UserLookup::Key, None) => &[job.item.user.as_str()],
                (UserLookup::Mail, None) => &[],
            };
            if let Some(why) = self.settings.protected.refuses(keys, action) {
                let outcome = Outcome {
                    status: Status::Skipped,
                    message: why.to_string(),
                    ..Outcome::default()
                };
                self.push_record(j, action, outcome);
                self.jobs[j].next_action += 1;
                continue;
            }
            let job = &mut self.jobs[j];
            // A mail address is looked up first; the action's machine takes over once found.
            let mut machine = match (&job.item.lookup, &job.resolved) {
                (UserLookup::Mail, None) => Machine::resolve(&job.item.user),
                (_, Some(found)) => Machine::new(action, &found.id, options),
                (UserLookup::Key, None) => Machine::new(action, &job.item.user, options),
            };
            let next = machine.start();
            job.current = Some(Box::new(Current {
                machine,
                attempts: 0,
                change_reserved: false,
                write_sent: false,
                parked: false,
                suspected: false,
                request_id: String::new(),
                client_request_id: String::new(),
                replaced_writes: Vec::new(),
            }));
            self.running += 1;
            self.apply_next(j, next);
            return;
        }
    }

    /// The settings every machine of this run is made with.
    fn machine_options(&self) -> MachineOptions {
        MachineOptions {
            dry_run: self.settings.dry_run,
            reset_all: self.settings.reset_all,
            global_cloud: self.settings.global_cloud,
        }
    }

    fn apply_next(&mut self, j: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::Done(outcome) => self.finish_action(j, outcome),
            Next::Resolved(found) => {
                // The lookup's attempts and request ids stay with the action's record.
                let options = self.machine_options();
                let job = &mut self.jobs[j];
                let action = job.item.actions[job.next_action];
                let Some(current) = job.current.as_mut() else {
                    return;
                };
                let keys = [job.item.user.as_str(), &found.id, &found.upn];
                if self.settings.protected.refuses(&keys, action).is_some() {
                    // Found to be a protected user: `advance` records it (it knows the user
                    // now) and nothing more is sent for the row.
                    job.resolved = Some(Box::new(found));
                    if job.current.take().is_some_and(|c| !c.parked) {
                        self.running -= 1;
                    }
                    self.advance(j);
                    return;
                }
                current.machine = Machine::new(action, &found.id, options);
                let next = current.machine.start();
                job.resolved = Some(Box::new(found));
                self.apply_next(j, next);
            }
            Next::Send(calls) => {
                if self.report.stop.is_some() && !(self.may_drain() && self.write_sent(j)) {
                    return;
                }
                for call in calls {
                    let mut pending = Pending {
                        job: j,
                        action: self.jobs[j].next_action,
                        call,
                        transient: 0,
                        throttled: 0,
                        auth_retries: 0,
                        seq: self.deciding,
                    };
                    let Some(current) = self.jobs[j].current.as_mut() else {
                        return;
                    };
                    if pending.call.method.is_write()
                        && let Some(i) = current
                            .replaced_writes
                            .iter()
                            .position(|w| w.tag == pending.call.tag && w.url == pending.call.url)
                    {
                        // The write a verifying read found missing: the same write again,
                        // with the transient failures it already had.
                        let replaced = current.replaced_writes.swap_remove(i);
                        pending.transient = replaced.transient;
                        if let Some((status, code, message)) = replaced.exhausted {
                            let message = format!(
                                "{}; a read after it shows the change did not land",
                                message.trim_end_matches('.')
                            );
                            self.give_up(pending, status, &code, &message, true);
                            return;
                        }
                    }
                    if pending.call.method.is_write() && !current.change_reserved {
                        match self.gate.admit() {
                            Admission::Reserved => current.change_reserved = true,
                            Admission::Park => {
                                if !current.parked {
                                    current.parked = true;
                                    self.running -= 1;
                                }
                                self.gate.park(pending);
                                continue;
                            }
                            Admission::OverLimit => {
                                self.leave_for_next_run(j);
                                return;
                            }
                            Admission::MaxReached(max) => {
                                let outcome = Outcome {
                                    status: Status::Skipped,
                                    message: format!("--max-changes {max} reached"),
                                    ..Outcome::default()
                                };
                                self.finish_action(j, outcome);
                                return;
                            }
                        }
                    }
                    self.enqueue(pending);
                }
            }
        }
    }

    /// Every read is done and some writes wait behind `--max-changes`: go on only if the plan
    /// fits (counting, for each waiting user, the later actions that may change it too).
    fn decide_gate(&mut self) {
        let mut needed: u64 = 0;
        let mut seen = std::collections::HashSet::new();
        for p in self.gate.parked() {
            if seen.insert(p.job) {
                let job = &self.jobs[p.job];
                needed += (job.item.actions.len() - job.next_action) as u64;
            }
        }
        let parked = match self.gate.open(needed) {
            Ok(parked) => parked,
            Err(stop) => {
                self.stop(stop);
                return;
            }
        };
        for p in parked {
            let reserved = self.jobs[p.job]
                .current
                .as_ref()
                .is_some_and(|c| c.change_reserved);
            if !reserved && self.gate.limit_full() {
                if self.jobs[p.job].current.is_some() {
                    self.leave_for_next_run(p.job);
                }
                continue;
            }
            if let Some(current) = self.jobs[p.job].current.as_mut() {
                if current.parked {
                    current.parked = false;
                    self.running += 1;
                }
                if !current.change_reserved {
                    current.change_reserved = true;
                    self.gate.reserve();
                }
            }
            self.enqueue(p);
        }
    }

    /// Hands the outcome's text to the record (moved: a record is made for every action).
    fn push_record(&mut self, j: usize, action: Action, outcome: Outcome) {
        let job = &self.jobs[j];
        let (attempts, request_id, client_request_id) =
            job.current.as_ref().map_or((0, "", ""), |c| {
                (
                    c.attempts,
                    c.request_id.as_str(),
                    c.client_request_id.as_str(),
                )
            });
        let mut extra = match job.item.lookup {
            UserLookup::Key => job.item.extra.clone(),
            UserLookup::Mail => {
                let upn = job.resolved.as_ref().map_or("", |r| r.upn.as_str());
                std::iter::once(upn.to_string())
                    .chain(job.item.extra.iter().cloned())
                    .collect()
            }
        };
        extra.extend(outcome.extra);
        self.out.push(ResultRecord {
            row: job.item.row,
            user: job.item.user.clone(),
            action: action.as_str().to_string(),
            status: outcome.status,
            before: outcome.before,
            after: outcome.after,
            http_status: outcome.http_status,
            error_code: outcome.error_code,
            message: outcome.message,
            attempts,
            request_id: request_id.to_string(),
            client_request_id: client_request_id.to_string(),
            finished_at: timestamp_now(),
            extra,
        });
    }

    /// Records the current action's outcome and moves the job on. After a breaker or
    /// --max-failures stop a failure is not recorded: the action stays unfinished, and
    /// `--resume` does it again (reading first, so nothing is written twice).
    fn finish_action(&mut self, j: usize, outcome: Outcome) {
        if outcome.status == Status::Failed && self.holds_failures() {
            if self.jobs[j].current.take().is_some_and(|c| !c.parked) {
                self.running -= 1;
            }
            return;
        }
        let action = self.jobs[j].item.actions[self.jobs[j].next_action];
        let (status, changed) = (outcome.status, outcome.changed);
        let blocked_by = (!status.is_good()).then(|| {
            let what = if outcome.message.is_empty() {
                status.as_str()
            } else {
                outcome.message.as_str()
            };
            format!("skipped because {action} ended {status}: {what}")
        });
        self.push_record(j, action, outcome);
        if changed {
            self.report.changes += 1;
        }
        if status == Status::Failed {
            self.report.failed += 1;
            if let Some(max) = self.settings.max_failures
                && self.report.failed >= max
            {
                self.stop(Stop::MaxFailures(format!(
                    "{} failed, the --max-failures bound",
                    count(self.report.failed, "row", "rows")
                )));
            }
        }
        let job = &mut self.jobs[j];
        if blocked_by.is_some() {
            job.blocked_by = blocked_by;
        }
        if job.current.take().is_some_and(|c| !c.parked) {
            self.running -= 1;
        }
        job.next_action += 1;
        self.advance(j);
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
