//! Spreadsheet-safe cells: a cell a spreadsheet would run as a formula gets a leading `'` when
//! written, and loses exactly that `'` when read back, so every value round-trips unchanged.

use std::borrow::Cow;

/// Leading characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula
/// (OWASP "CSV injection").
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `cell`, once any leading `'` are set aside, starts with a formula trigger.
///
/// Cells that already start with `'` followed by a trigger are guarded too: without that, the
/// value `'=x` would be written as is and read back as `=x`. With it, writing is injective and
/// [`restore`] is its exact inverse.
fn needs_guard(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(TRIGGERS)
}

/// Makes a cell safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`, a tab or
/// a carriage return gets a leading `'` (and so does one that starts with `'`s followed by one
/// of those, which keeps the encoding reversible). Everything else is returned untouched.
#[must_use]
pub(crate) fn neutralize(cell: &str) -> Cow<'_, str> {
    if needs_guard(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The inverse of [`neutralize`]: removes the guard `'` from a cell that carries one.
pub(crate) fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_formula_trigger_gets_a_leading_quote() {
        for t in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = format!("{t}SUM(A1)");
            assert_eq!(neutralize(&cell), format!("'{cell}"), "trigger {t:?}");
        }
    }

    #[test]
    fn ordinary_cells_are_borrowed_untouched() {
        for cell in ["", "alice@contoso.com", "a=b", "'quoted", "enforced", " =x"] {
            assert!(matches!(neutralize(cell), Cow::Borrowed(c) if c == cell));
        }
    }

    #[test]
    fn restore_is_the_exact_inverse_of_neutralize() {
        for cell in [
            "", "=1+1", "'=1+1", "''=1", "'", "'abc", "-5", "@x", "\tx", "\rx", "plain", "''",
        ] {
            assert_eq!(restore(&neutralize(cell)), cell, "cell {cell:?}");
        }
    }

    #[test]
    fn a_quote_before_a_trigger_is_guarded_too() {
        assert_eq!(neutralize("'=x"), "''=x");
        assert_eq!(restore("''=x"), "'=x");
    }
}
