//! Text for a terminal whose locale is not UTF-8 (`LANG=C`, `POSIX`, a Latin-1 locale):
//! the few non-ASCII marks the progress bar and the summary use (`·`, `→`, `…`, block
//! characters) become ASCII there, so the output does not turn into mojibake or `?`.

use std::borrow::Cow;

/// Whether the locale says UTF-8: the first of `LC_ALL`, `LC_CTYPE`, `LANG` that is set and
/// not empty decides, as for the C library; none set means the "C" locale on Unix. Windows
/// consoles take Unicode whatever these say.
pub(crate) fn utf8_locale() -> bool {
    utf8_locale_from(&|k| std::env::var(k).ok())
}

fn utf8_locale_from(env: &dyn Fn(&str) -> Option<String>) -> bool {
    if cfg!(windows) {
        return true;
    }
    let Some(locale) = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
    else {
        return false;
    };
    let l = locale.to_ascii_lowercase();
    l.contains("utf-8") || l.contains("utf8")
}

/// `text` as the locale can show it: unchanged under UTF-8, else its marks in ASCII.
pub(crate) fn for_locale(text: &str, utf8: bool) -> Cow<'_, str> {
    if utf8 || text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '·' => out.push('-'),
            '→' => out.push_str("->"),
            '…' => out.push_str("..."),
            '—' | '–' => out.push('-'),
            '×' => out.push('x'),
            '█' | '▉' | '▊' | '▋' | '▌' | '▍' | '▎' | '▏' => out.push('#'),
            // Names and messages from the tenant keep their letters; the terminal shows
            // what it can.
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_locale_variable_set_decides() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        if cfg!(windows) {
            return;
        }
        assert!(!utf8_locale_from(&env(&[("LANG", "C")])));
        assert!(!utf8_locale_from(&env(&[])));
        assert!(utf8_locale_from(&env(&[("LANG", "en_US.UTF-8")])));
        assert!(utf8_locale_from(&env(&[("LANG", "de_DE.utf8")])));
        assert!(!utf8_locale_from(&env(&[
            ("LC_ALL", "POSIX"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(utf8_locale_from(&env(&[
            ("LC_ALL", ""),
            ("LC_CTYPE", "C.UTF-8"),
            ("LANG", "C")
        ])));
    }

    #[test]
    fn marks_become_ascii_outside_utf8_and_stay_within_it() {
        let line = "disabled → enforced · 1,200 users…";
        assert_eq!(
            for_locale(line, false),
            "disabled -> enforced - 1,200 users..."
        );
        assert_eq!(for_locale(line, true), line);
    }
}
