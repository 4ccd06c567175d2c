//! Numbers, rates and durations as people read them, one way in every message and summary:
//! `8,012`, `1 user`, `2,350 rows`, `14.9`, `9m 12s`. (JSON keeps plain numbers.)

use std::time::Duration;

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `one` for 1, `many` otherwise.
pub(crate) fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A count and its noun: `1 user`, `0 users`, `20,000 users`.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), plural(n, one, many))
}

/// `rows 3, 5, 9` or `rows 3, 5, 9, 12, 15 and 40 more`.
pub(crate) fn row_list(rows: &[u64]) -> String {
    const SHOWN: usize = 5;
    let first: Vec<String> = rows.iter().take(SHOWN).map(u64::to_string).collect();
    let word = plural(rows.len() as u64, "row", "rows");
    let mut out = format!("{word} {}", first.join(", "));
    if rows.len() > SHOWN {
        out.push_str(&format!(
            " and {} more",
            thousands((rows.len() - SHOWN) as u64)
        ));
    }
    out
}

/// A per-second rate with one decimal and thousands separators: `1,234.5`.
pub(crate) fn rate(per_second: f64) -> String {
    let tenths = (per_second.max(0.0) * 10.0).round();
    // Rates are far below 2^53, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let tenths = tenths as u64;
    format!("{}.{}", thousands(tenths / 10), tenths % 10)
}

/// `4.2s`, `9m 12s`, `2h 03m 04s`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!(
            "{}h {:02}m {:02}s",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators_every_three_digits() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (8_012, "8,012"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ];
        for (n, want) in cases {
            assert_eq!(thousands(n), want);
        }
    }

    #[test]
    fn counts_have_separators_and_agree_in_number() {
        assert_eq!(count(1, "user", "users"), "1 user");
        assert_eq!(count(0, "user", "users"), "0 users");
        assert_eq!(count(2, "row", "rows"), "2 rows");
        assert_eq!(count(20_000, "row", "rows"), "20,000 rows");
        assert_eq!(count(1, "retry", "retries"), "1 retry");
    }

    #[test]
    fn row_lists_name_a_few_rows_and_count_the_rest() {
        assert_eq!(row_list(&[7]), "row 7");
        assert_eq!(row_list(&[3, 5, 9]), "rows 3, 5, 9");
        let many: Vec<u64> = (1..=1_006).collect();
        assert_eq!(row_list(&many), "rows 1, 2, 3, 4, 5 and 1,001 more");
    }

    #[test]
    fn rates_have_one_decimal_and_separators() {
        assert_eq!(rate(19.96), "20.0");
        assert_eq!(rate(1234.54), "1,234.5");
        assert_eq!(rate(0.0), "0.0");
    }

    #[test]
    fn durations_read_naturally_at_every_scale() {
        assert_eq!(duration(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(552)), "9m 12s");
        assert_eq!(duration(Duration::from_secs(7_384)), "2h 03m 04s");
    }
}
