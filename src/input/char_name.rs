//! Characters as a message names them: by code point and Unicode name (`U+200B ZERO WIDTH
//! SPACE`), which of them nobody can see in a spreadsheet cell, and the plain character a
//! typographic one stands for (`’` → `'`).
//!
//! The names come from a small table of the characters that get into user keys in practice
//! (typography from Word and Outlook, invisible marks pasted from web pages and chats, the
//! ASCII punctuation Entra refuses, Latin letters with diacritics), not from the whole Unicode
//! name list: a dependency for every name is not worth it for a one-line message. A character
//! outside the table is named by its code point alone.

/// Unicode names of the characters the table knows, by code point.
const NAMES: &[(char, &str)] = &[
    ('\t', "CHARACTER TABULATION"),
    ('\n', "LINE FEED"),
    ('\r', "CARRIAGE RETURN"),
    ('\u{1a}', "SUBSTITUTE"),
    (' ', "SPACE"),
    ('!', "EXCLAMATION MARK"),
    ('"', "QUOTATION MARK"),
    ('#', "NUMBER SIGN"),
    ('$', "DOLLAR SIGN"),
    ('%', "PERCENT SIGN"),
    ('&', "AMPERSAND"),
    ('\'', "APOSTROPHE"),
    ('(', "LEFT PARENTHESIS"),
    (')', "RIGHT PARENTHESIS"),
    ('*', "ASTERISK"),
    ('+', "PLUS SIGN"),
    (',', "COMMA"),
    ('-', "HYPHEN-MINUS"),
    ('.', "FULL STOP"),
    ('/', "SOLIDUS"),
    (':', "COLON"),
    (';', "SEMICOLON"),
    ('<', "LESS-THAN SIGN"),
    ('=', "EQUALS SIGN"),
    ('>', "GREATER-THAN SIGN"),
    ('?', "QUESTION MARK"),
    ('@', "COMMERCIAL AT"),
    ('[', "LEFT SQUARE BRACKET"),
    ('\\', "REVERSE SOLIDUS"),
    (']', "RIGHT SQUARE BRACKET"),
    ('^', "CIRCUMFLEX ACCENT"),
    ('_', "LOW LINE"),
    ('`', "GRAVE ACCENT"),
    ('{', "LEFT CURLY BRACKET"),
    ('|', "VERTICAL LINE"),
    ('}', "RIGHT CURLY BRACKET"),
    ('~', "TILDE"),
    ('\u{7f}', "DELETE"),
    ('\u{85}', "NEXT LINE"),
    ('\u{a0}', "NO-BREAK SPACE"),
    ('\u{ad}', "SOFT HYPHEN"),
    ('\u{b4}', "ACUTE ACCENT"),
    ('\u{2bc}', "MODIFIER LETTER APOSTROPHE"),
    ('\u{34f}', "COMBINING GRAPHEME JOINER"),
    ('\u{61c}', "ARABIC LETTER MARK"),
    ('\u{115f}', "HANGUL CHOSEONG FILLER"),
    ('\u{1160}', "HANGUL JUNGSEONG FILLER"),
    ('\u{1680}', "OGHAM SPACE MARK"),
    ('\u{180e}', "MONGOLIAN VOWEL SEPARATOR"),
    ('\u{2000}', "EN QUAD"),
    ('\u{2001}', "EM QUAD"),
    ('\u{2002}', "EN SPACE"),
    ('\u{2003}', "EM SPACE"),
    ('\u{2004}', "THREE-PER-EM SPACE"),
    ('\u{2005}', "FOUR-PER-EM SPACE"),
    ('\u{2006}', "SIX-PER-EM SPACE"),
    ('\u{2007}', "FIGURE SPACE"),
    ('\u{2008}', "PUNCTUATION SPACE"),
    ('\u{2009}', "THIN SPACE"),
    ('\u{200a}', "HAIR SPACE"),
    ('\u{200b}', "ZERO WIDTH SPACE"),
    ('\u{200c}', "ZERO WIDTH NON-JOINER"),
    ('\u{200d}', "ZERO WIDTH JOINER"),
    ('\u{200e}', "LEFT-TO-RIGHT MARK"),
    ('\u{200f}', "RIGHT-TO-LEFT MARK"),
    ('\u{2010}', "HYPHEN"),
    ('\u{2011}', "NON-BREAKING HYPHEN"),
    ('\u{2012}', "FIGURE DASH"),
    ('\u{2013}', "EN DASH"),
    ('\u{2014}', "EM DASH"),
    ('\u{2018}', "LEFT SINGLE QUOTATION MARK"),
    ('\u{2019}', "RIGHT SINGLE QUOTATION MARK"),
    ('\u{201a}', "SINGLE LOW-9 QUOTATION MARK"),
    ('\u{201b}', "SINGLE HIGH-REVERSED-9 QUOTATION MARK"),
    ('\u{201c}', "LEFT DOUBLE QUOTATION MARK"),
    ('\u{201d}', "RIGHT DOUBLE QUOTATION MARK"),
    ('\u{2024}', "ONE DOT LEADER"),
    ('\u{2028}', "LINE SEPARATOR"),
    ('\u{2029}', "PARAGRAPH SEPARATOR"),
    ('\u{202a}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202b}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202c}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202d}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202e}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{202f}', "NARROW NO-BREAK SPACE"),
    ('\u{2032}', "PRIME"),
    ('\u{205f}', "MEDIUM MATHEMATICAL SPACE"),
    ('\u{2060}', "WORD JOINER"),
    ('\u{2061}', "FUNCTION APPLICATION"),
    ('\u{2062}', "INVISIBLE TIMES"),
    ('\u{2063}', "INVISIBLE SEPARATOR"),
    ('\u{2064}', "INVISIBLE PLUS"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
    ('\u{2212}', "MINUS SIGN"),
    ('\u{3000}', "IDEOGRAPHIC SPACE"),
    ('\u{3002}', "IDEOGRAPHIC FULL STOP"),
    ('\u{3164}', "HANGUL FILLER"),
    ('\u{feff}', "ZERO WIDTH NO-BREAK SPACE"),
    ('\u{ff0e}', "FULLWIDTH FULL STOP"),
    ('\u{ff20}', "FULLWIDTH COMMERCIAL AT"),
    ('\u{ffa0}', "HALFWIDTH HANGUL FILLER"),
    ('\u{fffd}', "REPLACEMENT CHARACTER"),
];

/// Latin-1 letters with a diacritic, lowercase (U+00E0–U+00FF less ÷): the base letter and
/// what is added, from which both cases' names are made ("LATIN SMALL LETTER U WITH
/// DIAERESIS"). Uppercase forms are 0x20 below, as in Unicode.
const LATIN1_LETTERS: &[(char, &str, &str)] = &[
    ('à', "A", "WITH GRAVE"),
    ('á', "A", "WITH ACUTE"),
    ('â', "A", "WITH CIRCUMFLEX"),
    ('ã', "A", "WITH TILDE"),
    ('ä', "A", "WITH DIAERESIS"),
    ('å', "A", "WITH RING ABOVE"),
    ('æ', "AE", ""),
    ('ç', "C", "WITH CEDILLA"),
    ('è', "E", "WITH GRAVE"),
    ('é', "E", "WITH ACUTE"),
    ('ê', "E", "WITH CIRCUMFLEX"),
    ('ë', "E", "WITH DIAERESIS"),
    ('ì', "I", "WITH GRAVE"),
    ('í', "I", "WITH ACUTE"),
    ('î', "I", "WITH CIRCUMFLEX"),
    ('ï', "I", "WITH DIAERESIS"),
    ('ð', "ETH", ""),
    ('ñ', "N", "WITH TILDE"),
    ('ò', "O", "WITH GRAVE"),
    ('ó', "O", "WITH ACUTE"),
    ('ô', "O", "WITH CIRCUMFLEX"),
    ('õ', "O", "WITH TILDE"),
    ('ö', "O", "WITH DIAERESIS"),
    ('ø', "O", "WITH STROKE"),
    ('ù', "U", "WITH GRAVE"),
    ('ú', "U", "WITH ACUTE"),
    ('û', "U", "WITH CIRCUMFLEX"),
    ('ü', "U", "WITH DIAERESIS"),
    ('ý', "Y", "WITH ACUTE"),
    ('þ', "THORN", ""),
];

/// The Unicode name of `c` when the table knows it.
pub(crate) fn name(c: char) -> Option<String> {
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == c) {
        return Some((*n).to_string());
    }
    if c.is_ascii_alphanumeric() {
        return Some(match c {
            '0'..='9' => format!("DIGIT {}", digit_name(c)),
            'a'..='z' => format!("LATIN SMALL LETTER {}", c.to_ascii_uppercase()),
            _ => format!("LATIN CAPITAL LETTER {c}"),
        });
    }
    match c {
        'ß' => return Some("LATIN SMALL LETTER SHARP S".into()),
        'ÿ' => return Some("LATIN SMALL LETTER Y WITH DIAERESIS".into()),
        _ => {}
    }
    let (lower, case) = match u32::from(c) {
        0xE0..=0xFE => (c, "SMALL"),
        0xC0..=0xDE => (char::from_u32(u32::from(c) + 0x20)?, "CAPITAL"),
        _ => return None,
    };
    LATIN1_LETTERS
        .iter()
        .find(|(l, _, _)| *l == lower)
        .map(|(_, base, with)| {
            format!("LATIN {case} LETTER {base} {with}")
                .trim_end()
                .to_string()
        })
}

fn digit_name(c: char) -> &'static str {
    match c {
        '0' => "ZERO",
        '1' => "ONE",
        '2' => "TWO",
        '3' => "THREE",
        '4' => "FOUR",
        '5' => "FIVE",
        '6' => "SIX",
        '7' => "SEVEN",
        '8' => "EIGHT",
        _ => "NINE",
    }
}

/// `U+200B ZERO WIDTH SPACE` for a character nobody can see, `'’' (U+2019 RIGHT SINGLE
/// QUOTATION MARK)` for one that shows; the name left out when the table lacks it.
pub(crate) fn describe(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    let named = match name(c) {
        Some(n) => format!("{code} {n}"),
        None => code,
    };
    if is_invisible(c) || c.is_control() {
        named
    } else {
        format!("'{c}' ({named})")
    }
}

/// True for a character a spreadsheet cell shows as nothing, or as a plain space: control
/// characters, format characters (zero-width and bidirectional marks, the soft hyphen, U+FEFF,
/// invisible operators, tags), fillers, and every space other than U+0020.
pub(crate) fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || c.is_whitespace()
        || matches!(
            u32::from(c),
            0xAD | 0x34F
                | 0x61C
                | 0x115F..=0x1160
                | 0x17B4..=0x17B5
                | 0x180B..=0x180F
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0x3164
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFA0
                | 0xFFF9..=0xFFFB
                | 0x1D173..=0x1D17A
                | 0xE0000..=0xE0FFF
        )
}

/// The character a typographic or look-alike one stands for in a user key, when it is
/// obvious: `’` → `'`, `–` → `-`, `＠` → `@`. Invisible characters have none: they go.
pub(crate) fn plain_for(c: char) -> Option<char> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{2bc}' | '\u{b4}'
        | '`' => '\'',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        '\u{ff20}' => '@',
        '\u{ff0e}' | '\u{3002}' | '\u{2024}' => '.',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_named_by_code_point_and_name() {
        assert_eq!(describe('\u{200b}'), "U+200B ZERO WIDTH SPACE");
        assert_eq!(describe('\u{feff}'), "U+FEFF ZERO WIDTH NO-BREAK SPACE");
        assert_eq!(describe('\u{ad}'), "U+00AD SOFT HYPHEN");
        assert_eq!(describe('\u{202e}'), "U+202E RIGHT-TO-LEFT OVERRIDE");
        assert_eq!(describe('\t'), "U+0009 CHARACTER TABULATION");
        assert_eq!(describe('\u{e0041}'), "U+E0041");
    }

    #[test]
    fn visible_characters_are_shown_with_their_name() {
        assert_eq!(
            describe('\u{2019}'),
            "'\u{2019}' (U+2019 RIGHT SINGLE QUOTATION MARK)"
        );
        assert_eq!(describe('+'), "'+' (U+002B PLUS SIGN)");
        assert_eq!(
            describe('ü'),
            "'ü' (U+00FC LATIN SMALL LETTER U WITH DIAERESIS)"
        );
        assert_eq!(
            describe('É'),
            "'É' (U+00C9 LATIN CAPITAL LETTER E WITH ACUTE)"
        );
        assert_eq!(describe('æ'), "'æ' (U+00E6 LATIN SMALL LETTER AE)");
        assert_eq!(describe('ł'), "'ł' (U+0142)");
    }

    #[test]
    fn what_is_invisible() {
        for c in [
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2060}', '\u{ad}',
            '\u{feff}', '\u{a0}', '\u{202f}', '\u{3000}', '\u{7}', '\u{2066}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '\'', '\u{2019}', 'ü', '#'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn typographic_characters_have_their_plain_form() {
        assert_eq!(plain_for('\u{2019}'), Some('\''));
        assert_eq!(plain_for('\u{2013}'), Some('-'));
        assert_eq!(plain_for('\u{ff20}'), Some('@'));
        assert_eq!(plain_for('ü'), None);
    }
}
