//! The change gate: `--max-changes` and `--limit`, counted per (row, action) that sends a
//! write, when its first write is reserved (before it is sent, so what is in flight cannot go
//! past either). Under `--max-changes` the first writes are parked until every read is done;
//! the gate then opens only if the whole plan fits, so a run over the bound changes nothing.
//! Generic over what is parked, so it knows nothing of the scheduler's calls.

use crate::figures::count;

use super::scheduler::Stop;

pub(crate) struct ChangeGate<P> {
    max_changes: Option<u64>,
    limit: Option<u64>,
    open: bool,
    reserved: u64,
    /// First writes held back while `--max-changes` waits for every read to finish.
    parked: Vec<P>,
}

/// What the gate says to an action's first write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send it: one change is reserved for its action.
    Reserved,
    /// Hold it ([`ChangeGate::park`]) until the gate decides.
    Park,
    /// `--limit` is reached: the action is left for the next run.
    OverLimit,
    /// `--max-changes` (this many) is reached: the action is skipped.
    MaxReached(u64),
}

impl<P> ChangeGate<P> {
    /// Without `--max-changes`, or in a dry run (which changes nothing), the gate is open.
    pub(crate) fn new(max_changes: Option<u64>, limit: Option<u64>, dry_run: bool) -> Self {
        ChangeGate {
            max_changes,
            limit,
            open: max_changes.is_none() || dry_run,
            reserved: 0,
            parked: Vec::new(),
        }
    }

    /// An action's first write asks to be sent.
    pub(crate) fn admit(&mut self) -> Admission {
        if self.limit_full() {
            return Admission::OverLimit;
        }
        if !self.open {
            return Admission::Park;
        }
        if let Some(max) = self.max_changes
            && self.reserved >= max
        {
            return Admission::MaxReached(max);
        }
        self.reserve();
        Admission::Reserved
    }

    /// Holds a first write until [`ChangeGate::open`].
    pub(crate) fn park(&mut self, parked: P) {
        self.parked.push(parked);
    }

    /// Whether `--limit` leaves no room for another change.
    pub(crate) fn limit_full(&self) -> bool {
        self.limit.is_some_and(|limit| self.reserved >= limit)
    }

    /// Counts one change (of a write the gate let through).
    pub(crate) fn reserve(&mut self) {
        self.reserved += 1;
    }

    /// Whether writes wait for the gate's decision.
    pub(crate) fn waiting(&self) -> bool {
        !self.open && !self.parked.is_empty()
    }

    pub(crate) fn parked(&self) -> &[P] {
        &self.parked
    }

    /// Drops the parked writes (a stopping run sends none of them).
    pub(crate) fn clear_parked(&mut self) {
        self.parked.clear();
    }

    /// Every read is done and the parked writes' actions may need up to `needed` changes:
    /// opens and hands them back if the plan fits `--max-changes` (counting no more than
    /// `--limit` lets this run make); otherwise the stop, with nothing changed.
    pub(crate) fn open(&mut self, needed: u64) -> Result<Vec<P>, Stop> {
        let max = self.max_changes.unwrap_or(u64::MAX);
        // This run makes no more changes than --limit allows; the rest wait for --resume.
        let needed = needed.min(self.limit.unwrap_or(u64::MAX));
        if needed > max {
            return Err(Stop::MaxChanges(format!(
                "the plan needs up to {}, more than --max-changes {max}; no change was made",
                count(needed, "change", "changes")
            )));
        }
        self.open = true;
        Ok(std::mem::take(&mut self.parked))
    }
}

#[cfg(test)]
mod tests {
    use super::{Admission, ChangeGate};
    use crate::engine::scheduler::Stop;

    #[test]
    fn without_max_changes_writes_pass_until_the_limit_is_reserved() {
        let mut gate: ChangeGate<()> = ChangeGate::new(None, Some(2), false);
        assert_eq!(gate.admit(), Admission::Reserved);
        assert_eq!(gate.admit(), Admission::Reserved);
        assert_eq!(gate.admit(), Admission::OverLimit);
        assert!(!gate.waiting());
    }

    #[test]
    fn max_changes_parks_first_writes_and_opens_only_for_a_plan_that_fits() {
        let mut gate = ChangeGate::new(Some(3), None, false);
        assert_eq!(gate.admit(), Admission::Park);
        gate.park("a");
        gate.park("b");
        assert!(gate.waiting());
        let Err(Stop::MaxChanges(why)) = gate.open(4) else {
            panic!("a plan of 4 changes opened a gate of 3");
        };
        assert!(
            why.contains("up to 4 changes, more than --max-changes 3"),
            "{why}"
        );
        assert_eq!(gate.open(3), Ok(vec!["a", "b"]));
        assert!(!gate.waiting());
        for _ in 0..3 {
            assert_eq!(gate.admit(), Admission::Reserved);
        }
        assert_eq!(gate.admit(), Admission::MaxReached(3));
    }

    #[test]
    fn the_plan_is_counted_no_further_than_the_limit_lets_this_run_go() {
        let mut gate: ChangeGate<()> = ChangeGate::new(Some(3), Some(3), false);
        assert!(gate.open(10).is_ok());
    }

    #[test]
    fn a_dry_run_never_parks() {
        let mut gate: ChangeGate<()> = ChangeGate::new(Some(1), None, true);
        assert_eq!(gate.admit(), Admission::Reserved);
    }
}
