//! One line of the results file: the contract's columns and statuses (DESIGN.md, "Results CSV").
//! Users and scripts read these names; extend, never rename.

use std::fmt;

/// The fixed header of the results CSV, in contract order. Extra columns may follow.
pub const HEADER: [&str; 13] = [
    "row",
    "user",
    "action",
    "status",
    "before",
    "after",
    "http_status",
    "error_code",
    "message",
    "attempts",
    "request_id",
    "client_request_id",
    "finished_at",
];

/// The extra column a run over a mail column adds, first after the fixed ones: the UPN each
/// row's mail address was found to belong to (empty where none was found).
pub(crate) const RESOLVED_USER: &str = "resolved_user";

/// How one (input row, action) ended. The default is `Failed`: a record nobody filled in
/// must never read as a success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Applied,
    Unchanged,
    Planned,
    NotFound,
    #[default]
    Failed,
    Skipped,
    Invalid,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Applied,
        Status::Unchanged,
        Status::Planned,
        Status::NotFound,
        Status::Failed,
        Status::Skipped,
        Status::Invalid,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Unchanged => "unchanged",
            Status::Planned => "planned",
            Status::NotFound => "not_found",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Invalid => "invalid",
        }
    }

    #[must_use]
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the row ended well for the exit code (DESIGN.md: applied / unchanged / planned).
    #[must_use]
    pub fn is_good(self) -> bool {
        matches!(self, Status::Applied | Status::Unchanged | Status::Planned)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One results line. `action` is the canonical action name (`enforce`, `reset-methods`).
/// `extra` holds passthrough columns (`--keep-columns`), written after the fixed ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultRecord {
    pub row: u64,
    pub user: String,
    pub action: String,
    pub status: Status,
    pub before: String,
    pub after: String,
    pub http_status: Option<u16>,
    pub error_code: String,
    pub message: String,
    pub attempts: u32,
    pub request_id: String,
    pub client_request_id: String,
    /// RFC 3339 UTC timestamp.
    pub finished_at: String,
    pub extra: Vec<String>,
}

/// Now as a `finished_at` value: RFC 3339 in UTC to the millisecond, always the same width
/// (`2026-11-24T21:00:00.939Z`), so the column sorts as text and reads well in a spreadsheet.
#[must_use]
pub(crate) fn timestamp_now() -> String {
    timestamp(time::OffsetDateTime::now_utc())
}

fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Written digit by digit: one is made for every record, and `format!` with seven padded
    // fields cost a hundredth of an engine-bound run's CPU. Years past 9999 cannot occur
    // (the clock's), before year 0 neither.
    let year = u32::try_from(t.year()).unwrap_or(0).min(9999);
    let mut out = String::with_capacity(24);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, u32::from(u8::from(t.month())), 2);
    out.push('-');
    push_digits(&mut out, u32::from(t.day()), 2);
    out.push('T');
    push_digits(&mut out, u32::from(t.hour()), 2);
    out.push(':');
    push_digits(&mut out, u32::from(t.minute()), 2);
    out.push(':');
    push_digits(&mut out, u32::from(t.second()), 2);
    out.push('.');
    push_digits(&mut out, u32::from(t.millisecond()), 3);
    out.push('Z');
    out
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_to_the_millisecond_at_a_fixed_width() {
        let t = time::macros::datetime!(2026-03-05 07:08:09.000_456_789 +02:00);
        assert_eq!(timestamp(t), "2026-03-05T05:08:09.000Z");
        let t = time::macros::datetime!(2026-11-24 21:00:00.939_116_457 UTC);
        assert_eq!(timestamp(t), "2026-11-24T21:00:00.939Z");
        let t = time::macros::datetime!(0987-12-31 23:59:59.010 UTC);
        assert_eq!(timestamp(t), "0987-12-31T23:59:59.010Z");
        let now = timestamp_now();
        assert_eq!(now.len(), "2026-11-24T21:00:00.939Z".len(), "{now}");
        assert!(
            time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{now} is RFC 3339"
        );
    }
}
