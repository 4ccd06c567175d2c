//! The circuit breaker: a failure that may be one of a systemic run (the token refused, Graph
//! unavailable, a route refused for every user) is held back instead of recorded, and this
//! many in a row of one kind stop the run. Held-back failures are recorded once an answer
//! shows the cause is per user after all; after a trip they stay unrecorded, so `--resume`
//! does them once the cause is gone.
//!
//! "In a row" is in the order the calls were sent, not the order their answers are decided:
//! a per-user failure that takes longer to decide (a slow answer, a verifying read) would
//! otherwise line up behind the successes of users sent after it, and a streak could trip
//! spuriously, or an earlier user's late success could break a real one. Every answer the
//! breaker needs is therefore tagged with the sequence number of the send it answers and
//! taken only once every call sent before it has been answered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::{NonZeroU32, NonZeroUsize};

use crate::figures::count;
use crate::graph::Method;

use super::machine::{Call, Outcome};
use super::scheduler::Stop;

/// Why a failed outcome is held back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Suspicion {
    /// An item answered 401 even after its resend with a renewed token.
    SignIn,
    /// A call of this route that kept failing transiently (5xx, timeout, dropped
    /// connection) until `max_attempts`.
    Transient(String),
    /// A call of one route (method and path, user ids masked) answered this status (400, 403).
    Route(u16, String),
}

/// A failed outcome held back, and the job it ends.
pub(crate) struct Suspect {
    pub(crate) job: usize,
    kind: Suspicion,
    pub(crate) outcome: Outcome,
}

/// The route of a call: its method and path with the user and method ids masked, so that the
/// same call for different users has the same route.
pub(crate) fn route_of(call: &Call) -> String {
    route_text(call.method, &call.url)
}

fn route_text(method: Method, url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default();
    let mut masked = Vec::new();
    let mut mask_next = false;
    for segment in path.split('/') {
        if mask_next {
            masked.push("{id}");
        } else {
            masked.push(segment);
        }
        mask_next = segment == "users" || segment.to_ascii_lowercase().ends_with("methods");
    }
    format!("{} {}", method.as_str(), masked.join("/"))
}

/// An answered call's method and URL, from which its route is worked out only when a streak
/// is running: most answers end no streak, and writing every answer's route out was a
/// twentieth of an engine-bound run's CPU.
pub(crate) struct CallRoute {
    method: Method,
    url: String,
}

impl CallRoute {
    pub(crate) fn new(method: Method, url: String) -> CallRoute {
        CallRoute { method, url }
    }

    fn text(&self) -> String {
        route_text(self.method, &self.url)
    }
}

/// What the breaker is told of a call's final answer, kept until it can be taken in send
/// order.
enum Event {
    /// A final answer of a call of `route`.
    Answered { status: u16, route: CallRoute },
    /// A failed outcome that may be one of a systemic run.
    Suspect(Suspect),
}

pub(crate) struct Breaker {
    threshold: NonZeroUsize,
    /// The run's `max_attempts`, for the message of a transient trip.
    max_attempts: NonZeroU32,
    /// Per kind of suspicion: how many failures of that kind in a row (items answered 401
    /// after a resend, on any route; per route, calls that failed their user transiently, or
    /// answered 403, or 400).
    streaks: HashMap<Suspicion, usize>,
    /// Failed outcomes held back until the breaker decides.
    suspects: Vec<Suspect>,
    /// The sequence numbers of the calls sent and not yet answered.
    in_flight: BTreeSet<u64>,
    /// Answers and suspects by the sequence number of the send they answer, until every call
    /// sent before that one is answered.
    waiting: BTreeMap<u64, Vec<Event>>,
}

impl Breaker {
    pub(crate) fn new(threshold: NonZeroUsize, max_attempts: NonZeroU32) -> Breaker {
        Breaker {
            threshold,
            max_attempts,
            streaks: HashMap::new(),
            suspects: Vec::new(),
            in_flight: BTreeSet::new(),
            waiting: BTreeMap::new(),
        }
    }

    /// The call sent as number `seq` is out.
    pub(crate) fn sent(&mut self, seq: u64) {
        self.in_flight.insert(seq);
    }

    /// The call sent as number `seq` came back (answered, failed to send, or dropped): the
    /// answers of the calls sent after it no longer wait for it.
    pub(crate) fn returned(&mut self, seq: u64) {
        self.in_flight.remove(&seq);
    }

    /// A call of `route` sent as number `seq` got its final answer `status`; taken in send
    /// order by [`Breaker::release`].
    pub(crate) fn answer(&mut self, seq: u64, status: u16, route: CallRoute) {
        self.waiting
            .entry(seq)
            .or_default()
            .push(Event::Answered { status, route });
    }

    /// Holds back a failed outcome, decided by the answer to the call sent as number `seq`,
    /// as one of a possible systemic run of `kind`; taken in send order by
    /// [`Breaker::release`].
    pub(crate) fn hold(&mut self, seq: u64, job: usize, kind: Suspicion, outcome: Outcome) {
        self.waiting
            .entry(seq)
            .or_default()
            .push(Event::Suspect(Suspect { job, kind, outcome }));
    }

    /// Takes, in send order, the answers and suspects no call still out was sent before:
    /// the held-back outcomes that turned out per user, and the stop when a streak is long
    /// enough.
    pub(crate) fn release(&mut self) -> (Vec<Suspect>, Option<Stop>) {
        let frontier = self.in_flight.first().copied().unwrap_or(u64::MAX);
        let later = self.waiting.split_off(&frontier);
        let ready = std::mem::replace(&mut self.waiting, later);
        let mut settled = Vec::new();
        let mut stop = None;
        for event in ready.into_values().flatten() {
            match event {
                Event::Answered { status, route } => settled.extend(self.answered(status, &route)),
                Event::Suspect(s) => {
                    let tripped = self.suspect(s.job, s.kind, s.outcome);
                    stop = stop.or(tripped);
                }
            }
        }
        (settled, stop)
    }

    /// Holds a failed outcome back as one of a possible systemic run; the stop when the run
    /// is long enough.
    fn suspect(&mut self, job: usize, kind: Suspicion, outcome: Outcome) -> Option<Stop> {
        let streak = {
            let n = self.streaks.entry(kind.clone()).or_default();
            *n += 1;
            *n
        };
        let last = if outcome.error_code.is_empty() {
            outcome.message.clone()
        } else {
            format!("{}: {}", outcome.error_code, outcome.message)
        };
        self.suspects.push(Suspect {
            job,
            kind: kind.clone(),
            outcome,
        });
        if streak < self.threshold.get() {
            return None;
        }
        Some(match kind {
            Suspicion::SignIn => Stop::SignIn(format!(
                "Graph refused the access token for {} in a row, even after renewing it: {last}",
                count(streak as u64, "call", "calls")
            )),
            Suspicion::Transient(route) => Stop::Breaker(format!(
                "{} in a row failed {route} with transient errors (5xx, timeouts, dropped \
                 connections) after {} each; Graph looks unavailable: {last}",
                count(streak as u64, "user", "users"),
                count(u64::from(self.max_attempts.get()), "attempt", "attempts")
            )),
            Suspicion::Route(403, route) => Stop::Breaker(format!(
                "{} in a row were refused {route} (403): {last}",
                count(streak as u64, "user", "users")
            )),
            Suspicion::Route(status, route) => Stop::Breaker(format!(
                "{} in a row of {route} were answered {status}: {last}",
                count(streak as u64, "call", "calls")
            )),
        })
    }

    /// A call of `route` got its final answer `status`: ends the streaks that answer breaks
    /// (the token was taken, or the route works for this user), returning their held-back
    /// outcomes, which are real per-user ones.
    fn answered(&mut self, status: u16, route: &CallRoute) -> Vec<Suspect> {
        let mut settled = Vec::new();
        if self.streaks.is_empty() {
            // No streak to end (`settle` would find none).
            return settled;
        }
        let route = route.text();
        if status != 401 {
            settled.extend(self.settle(&Suspicion::SignIn));
        }
        settled.extend(self.settle(&Suspicion::Transient(route.clone())));
        for counted in [400, 403] {
            if status != counted {
                settled.extend(self.settle(&Suspicion::Route(counted, route.clone())));
            }
        }
        settled
    }

    /// A streak of `kind` ended: its held-back outcomes.
    fn settle(&mut self, kind: &Suspicion) -> Vec<Suspect> {
        if self.streaks.remove(kind).is_none() {
            return Vec::new();
        }
        let (settled, held): (Vec<Suspect>, Vec<Suspect>) = std::mem::take(&mut self.suspects)
            .into_iter()
            .partition(|s| &s.kind == kind);
        self.suspects = held;
        settled
    }

    /// At the end of the run: everything still waiting, taken in send order, whatever is
    /// still out (nothing will answer it now).
    pub(crate) fn release_all(&mut self) -> (Vec<Suspect>, Option<Stop>) {
        self.in_flight.clear();
        self.release()
    }

    /// Every outcome still held back (at the end of the run).
    pub(crate) fn take_all(&mut self) -> Vec<Suspect> {
        std::mem::take(&mut self.suspects)
    }
}

impl Suspicion {
    /// The suspicion a failure answered `status` on `route` counts toward, if any.
    /// The route is asked for only when the status counts toward one.
    pub(crate) fn of_answer(status: u16, route: impl FnOnce() -> String) -> Option<Suspicion> {
        match status {
            401 => Some(Suspicion::SignIn),
            400 | 403 => Some(Suspicion::Route(status, route())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "GET /users/{id}/authentication/requirements";

    /// A call of [`ROUTE`] for user `seq`.
    fn call(seq: u64) -> CallRoute {
        CallRoute::new(
            Method::Get,
            format!("/users/user{seq}@contoso.com/authentication/requirements"),
        )
    }

    fn breaker(threshold: usize) -> Breaker {
        Breaker::new(
            NonZeroUsize::new(threshold).unwrap(),
            NonZeroU32::new(3).unwrap(),
        )
    }

    fn refused() -> Outcome {
        Outcome {
            status: crate::journal::Status::Failed,
            http_status: Some(403),
            error_code: "Authorization_RequestDenied".into(),
            ..Outcome::default()
        }
    }

    fn refusal(b: &mut Breaker, seq: u64) {
        b.answer(seq, 403, call(seq));
        b.hold(
            seq,
            seq as usize,
            Suspicion::Route(403, ROUTE.into()),
            refused(),
        );
    }

    #[test]
    fn a_calls_route_masks_the_user() {
        assert_eq!(call(7).text(), ROUTE);
    }

    #[test]
    fn refusals_decided_after_the_successes_sent_between_them_are_per_user() {
        let mut b = breaker(3);
        for seq in 1..=10 {
            b.sent(seq);
        }
        // Odd sends are refused, even ones pass; every pass is answered first.
        for seq in (2..=10).step_by(2) {
            b.returned(seq);
            b.answer(seq, 200, call(seq));
        }
        assert!(b.release().0.is_empty());
        for seq in (1..=9).step_by(2) {
            b.returned(seq);
            refusal(&mut b, seq);
        }
        let (settled, stop) = b.release();
        assert_eq!(stop, None, "no two refusals were sent in a row");
        let mut jobs: Vec<usize> = settled.iter().map(|s| s.job).collect();
        jobs.sort_unstable();
        assert_eq!(
            jobs,
            [1, 3, 5, 7, 9],
            "each recorded as the user's own failure"
        );
    }

    #[test]
    fn an_earlier_users_late_success_does_not_break_a_run_of_refusals_sent_after_it() {
        let mut b = breaker(3);
        for seq in 1..=4 {
            b.sent(seq);
        }
        b.returned(2);
        refusal(&mut b, 2);
        b.returned(3);
        refusal(&mut b, 3);
        // Nothing is taken while the call sent first is out.
        let (settled, stop) = b.release();
        assert!(settled.is_empty() && stop.is_none());
        b.returned(1);
        b.answer(1, 200, call(1));
        b.returned(4);
        refusal(&mut b, 4);
        let (settled, stop) = b.release();
        assert!(settled.is_empty());
        match stop {
            Some(Stop::Breaker(m)) => assert!(m.contains("3 users in a row"), "{m}"),
            other => panic!("expected the breaker, got {other:?}"),
        }
    }

    #[test]
    fn what_waits_at_the_end_is_taken_in_send_order() {
        let mut b = breaker(5);
        b.sent(1);
        b.sent(2);
        b.returned(2);
        refusal(&mut b, 2);
        assert!(b.release().0.is_empty(), "it waits for send 1");
        let (settled, stop) = b.release_all();
        assert!(settled.is_empty() && stop.is_none());
        assert_eq!(b.take_all().len(), 1, "the held refusal is left to record");
    }
}
