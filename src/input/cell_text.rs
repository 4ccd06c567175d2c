//! Cell text: how a cell is cleaned before it is checked (stray whitespace, a stray pair of
//! quotes) and how user-supplied text is shown inside a one-line message (control and
//! invisible characters escaped, long cells cut).

use super::char_name::is_invisible;

/// Longest cell excerpt quoted in a message, in characters.
const SHOWN_CHARS: usize = 60;

/// The cell as the user meant it: trimmed (Unicode whitespace, so a non-breaking space copied
/// from a web page goes too), and one pair of surrounding double quotes removed. The CSV
/// reader already unquotes `"x"`, but a hand-written `a, "enable"` has a space before the quote,
/// which makes the quotes literal text.
pub(crate) fn clean(cell: &str) -> &str {
    let t = cell.trim();
    match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.trim(),
        None => t,
    }
}

/// `text` made safe for a one-line message: control characters and the characters nobody can
/// see (zero-width and bidirectional marks, U+FEFF, spaces other than U+0020) escaped (`\n`,
/// `\u{7}`, `\u{200b}`), so that a message shows what it talks about; cut to [`SHOWN_CHARS`]
/// characters with `…`.
pub(crate) fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A message made one line whatever it quotes, invisible characters escaped (for texts built
/// elsewhere, such as action parse errors that carry the cell verbatim).
pub(crate) fn one_line(message: &str) -> String {
    message.chars().fold(String::new(), |mut out, c| {
        if is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_trims_whitespace_and_a_stray_pair_of_quotes() {
        assert_eq!(clean("  alice@x.com\t"), "alice@x.com");
        assert_eq!(clean("\u{a0}enable\u{a0}"), "enable");
        assert_eq!(clean(" \"enable\" "), "enable");
        assert_eq!(clean("\""), "\"");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn shown_escapes_control_characters_and_cuts_long_text() {
        assert_eq!(shown("a\nb\u{7}"), "a\\nb\\u{7}");
        assert_eq!(shown("\u{200b}upn"), "\\u{200b}upn");
        assert_eq!(shown("a\u{a0}b\u{feff}"), "a\\u{a0}b\\u{feff}");
        assert_eq!(shown("o\u{2019}brien ü"), "o\u{2019}brien ü");
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), SHOWN_CHARS + 1);
    }

    #[test]
    fn one_line_escapes_newlines() {
        assert_eq!(one_line("unknown action 'a\nb'"), "unknown action 'a\\nb'");
    }
}
