//! [`RetryClass`]: what a Graph status means for sending the call again, one table for the
//! `$batch` call itself and for each item inside it (docs/graph.md §5, §6, §8):
//!
//! - `429`: throttled; wait its `Retry-After` (or back off) and send it again (§6).
//! - `503`, `504`: transient ("retry with backoff", a 503 may carry `Retry-After`, §8).
//! - `502`: a gateway failing before Graph answered; transient like `504`.
//! - `500`: Graph failed inside; nothing says the request was wrong, so transient too. A write
//!   whose outcome is unknown is verified by a read before it is sent again, so resending
//!   cannot apply a change twice, and `--max-attempts` bounds it.
//! - `424`: the older form of a throttled batch ("the batch itself fails with 424", §5), and
//!   for an item the failure of the item it depends on, which the tool never sends (no
//!   `dependsOn`): transient at both levels.
//! - Anything else is the answer: a batch refused as a whole, or the item's own outcome
//!   (401 is handled by the caller first: one token renewal, then an answer).

/// What a status means for sending the call again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryClass {
    /// `429`: wait for `Retry-After`, then send again; counts as throttled.
    Throttled,
    /// A failure that says nothing about the request: send again after a backoff, at most
    /// `--max-attempts` times.
    Transient,
    /// The answer itself.
    Final,
}

impl RetryClass {
    /// The class of `status`, the same for a `$batch` answer and for an item's.
    pub(crate) fn of(status: u16) -> RetryClass {
        match status {
            429 => RetryClass::Throttled,
            424 | 500 | 502 | 503 | 504 => RetryClass::Transient,
            _ => RetryClass::Final,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_treatment_for_batches_and_items_alike() {
        let table: &[(u16, RetryClass)] = &[
            (200, RetryClass::Final),
            (201, RetryClass::Final),
            (204, RetryClass::Final),
            (400, RetryClass::Final),
            (401, RetryClass::Final),
            (403, RetryClass::Final),
            (404, RetryClass::Final),
            (405, RetryClass::Final),
            (409, RetryClass::Final),
            (412, RetryClass::Final),
            (424, RetryClass::Transient),
            (429, RetryClass::Throttled),
            (500, RetryClass::Transient),
            (501, RetryClass::Final),
            (502, RetryClass::Transient),
            (503, RetryClass::Transient),
            (504, RetryClass::Transient),
            (505, RetryClass::Final),
        ];
        for &(status, class) in table {
            assert_eq!(RetryClass::of(status), class, "{status}");
        }
        let listed: Vec<u16> = table.iter().map(|(s, _)| *s).collect();
        for status in 100..600 {
            if !listed.contains(&status) {
                assert_eq!(
                    RetryClass::of(status),
                    RetryClass::Final,
                    "{status} is retried but not in the table"
                );
            }
        }
    }
}
