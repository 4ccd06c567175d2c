//! The circuit breaker: a failure that may be one of a systemic run (the token refused, Graph
//! unavailable, a route refused for every user) is held back instead of recorded, and this
//! many in a row of one kind stop the run. Held-back failures are recorded once an answer
//! shows the cause is per user after all; after a trip they stay unrecorded, so `--resume`
//! does them once the cause is gone.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};

use crate::figures::count;

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
    let path = call.url.split('?').next().unwrap_or_default();
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
    format!("{} {}", call.method.as_str(), masked.join("/"))
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
}

impl Breaker {
    pub(crate) fn new(threshold: NonZeroUsize, max_attempts: NonZeroU32) -> Breaker {
        Breaker {
            threshold,
            max_attempts,
            streaks: HashMap::new(),
            suspects: Vec::new(),
        }
    }

    /// Holds a failed outcome back as one of a possible systemic run; the stop when the run
    /// is long enough.
    pub(crate) fn suspect(
        &mut self,
        job: usize,
        kind: Suspicion,
        outcome: Outcome,
    ) -> Option<Stop> {
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
    /// outcomes, which are real per-user ones; and the suspicion a failure of this answer
    /// counts toward, if any.
    pub(crate) fn answered(
        &mut self,
        status: u16,
        route: impl FnOnce() -> String,
    ) -> (Vec<Suspect>, Option<Suspicion>) {
        if self.streaks.is_empty() && !matches!(status, 400 | 403) {
            // No streak runs, so none can end, and this status starts none that needs the
            // route: the common case skips writing the route out.
            return (Vec::new(), (status == 401).then_some(Suspicion::SignIn));
        }
        let route = route();
        let mut settled = Vec::new();
        if status != 401 {
            settled.extend(self.settle(&Suspicion::SignIn));
        }
        settled.extend(self.settle(&Suspicion::Transient(route.clone())));
        for counted in [400, 403] {
            if status != counted {
                settled.extend(self.settle(&Suspicion::Route(counted, route.clone())));
            }
        }
        let kind = match status {
            401 => Some(Suspicion::SignIn),
            400 | 403 => Some(Suspicion::Route(status, route)),
            _ => None,
        };
        (settled, kind)
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

    /// Every outcome still held back (at the end of the run).
    pub(crate) fn take_all(&mut self) -> Vec<Suspect> {
        std::mem::take(&mut self.suspects)
    }
}
