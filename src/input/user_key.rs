//! The shape of a user key as written in the user column: a user principal name
//! (`local@domain`) or an object id (GUID, `8-4-4-4-12` hex). Offline checks only: a key of the
//! right shape may still not exist in the tenant (the engine reports that as `not_found`).
//!
//! # The characters of a UPN
//! Entra ID allows only `A–Z a–z 0–9 ' . - _ ! # ^ ~` in a user principal name, besides the
//! one `@`; letters with diacritics are not allowed, nor a period just before the `@`
//! (Microsoft Entra docs, "Password policies and account restrictions in Microsoft Entra ID",
//! Username policies; the Graph `user` resource says the same of `userPrincipalName`; see
//! `docs/input-rules.md`). A key with any other character cannot name a user, so it is refused
//! here, the character named by code point and name (`U+2019 RIGHT SINGLE QUOTATION MARK`) with
//! the fix when it is obvious (`’` → `'`), instead of being sent and answered `not_found`.
//! One exception: `$`, which Microsoft's own `GET /users` documentation shows at the start of
//! UPNs (docs/graph.md §5), is accepted. Guest UPNs
//! (`x_contoso.com#EXT#@tenant.onmicrosoft.com`) fit the rule. The domain takes ASCII letters,
//! digits, `-` and `.`.
//!
//! Invisible characters at either end of a cell are removed before the check (with a
//! warning, by the caller); anywhere else they are an error like any other character.

use super::cell_text::shown;
use super::char_name::{describe, is_invisible, plain_for};

/// Longest part before the `@` that Entra ID accepts (guest UPNs are long).
const MAX_LOCAL_CHARS: usize = 113;
/// Longest key accepted at all.
const MAX_TOTAL_CHARS: usize = 1024;

/// Characters that can never appear in a user principal name (RFC 5322 specials outside a
/// quoted local part, which Entra ID does not allow).
const FORBIDDEN: [char; 12] = ['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']', '|'];

/// True when `s` is an object id: exactly `8-4-4-4-12` hexadecimal digits, without braces.
#[must_use]
pub(crate) fn is_object_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// True when `s` has the shape of a user key: a UPN that passes [`check_user`], or an object
/// id. Used to tell a header cell from data.
pub(crate) fn is_user_key(s: &str) -> bool {
    !s.is_empty() && check_user(s).is_ok()
}

/// What "the same user" means, everywhere two keys are compared (duplicate rows, `--resume`
/// matching a results file against the input): equal ignoring case, with Unicode's
/// lowercase mapping (`char::to_lowercase`), because Entra ID treats UPNs, mail addresses
/// and object ids case-insensitively. Keys are compared as loaded (invisible characters at
/// the edges already removed); nothing else is folded. docs/input-rules.md "The same user".
pub(crate) fn same_user(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        user_chars(a).eq(user_chars(b))
    }
}

/// The characters [`same_user`] compares: `key` lowercased. Keys that are the same user
/// yield the same characters, so a hash over them groups them.
pub(crate) fn user_chars(key: &str) -> impl Iterator<Item = char> + '_ {
    key.chars().flat_map(char::to_lowercase)
}

/// `s` without the invisible characters at its start and end (format characters and spaces
/// other than U+0020; control characters stay, to be refused), and the first one removed.
pub(crate) fn trim_invisible(s: &str) -> (&str, Option<char>) {
    // The common case, a plain ASCII key, has nothing to remove.
    if s.is_ascii() {
        return (s, None);
    }
    let edge = |c: &char| (is_invisible(*c) && !c.is_control()) || c.is_whitespace();
    let removed = s
        .chars()
        .take_while(edge)
        .chain(s.chars().rev().take_while(edge))
        .find(|c| !c.is_whitespace());
    (s.trim_matches(|c: char| edge(&c)), removed)
}

/// Checks a non-empty, trimmed user cell. The error is a one-line reason for the user.
pub(crate) fn check_user(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().next()
        && matches!(c, '=' | '+' | '-')
    {
        return Err(format!(
            "'{}' starts with '{c}' like a spreadsheet formula; it is not a user principal name (name@domain) or an object id (GUID), and it is never evaluated",
            shown(s)
        ));
    }
    if s.contains('@') {
        check_upn(s)
    } else {
        check_object_id(s)
    }
}

/// True for the characters Entra ID allows before the `@` (see the module doc).
fn allowed_in_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '\'' | '.' | '-' | '_' | '!' | '#' | '^' | '~' | '$')
}

fn allowed_in_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.')
}

/// "it contains X at character N, which Entra ID does not allow …; the fix", for the first
/// character of `s` (at char position `at`) that `allowed` refuses, counting the others.
fn refused_char(s: &str, part: &str, allowed: fn(char) -> bool) -> Option<String> {
    let mut bad = s
        .chars()
        .enumerate()
        .filter(|(_, c)| *c != '@' && !allowed(*c));
    let (at, c) = bad.next()?;
    let more = bad.count();
    let others = match more {
        0 => String::new(),
        1 => " (and 1 more such character)".into(),
        n => format!(" (and {n} more such characters)"),
    };
    let fix = if let Some(plain) = plain_for(c) {
        format!("; write it as {plain} (U+{:04X}) instead", u32::from(plain))
    } else if is_invisible(c) {
        "; it does not show in a spreadsheet: retype the key or delete the character".into()
    } else if c.is_alphabetic() && !c.is_ascii() {
        "; Entra allows only A-Z, a-z, 0-9 and ' . - _ ! # ^ ~ in a user principal name: use the UPN exactly as the tenant has it".into()
    } else {
        String::new()
    };
    Some(format!(
        "{part}contains {} at character {}{others}, which Entra ID does not allow in a user principal name{fix}",
        describe(c),
        at + 1
    ))
}

fn check_upn(s: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "'{}' is not a valid user principal name: {why}",
            shown(s)
        ))
    };
    if s.chars().count() > MAX_TOTAL_CHARS {
        return bad(&format!("it is longer than {MAX_TOTAL_CHARS} characters"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return bad(&format!(
            "it contains a control character ({})",
            describe(c)
        ));
    }
    if s.contains('<') && s.contains('>') {
        return bad("it looks like 'Name <address>'; keep only the address");
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        let which = if c == ' ' {
            String::new()
        } else {
            format!(" ({})", describe(c))
        };
        return bad(&format!("it contains a space{which}"));
    }
    // Separators and brackets anywhere say more than "the domain contains": a row whose
    // delimiter differs from the header's lands whole in the user cell.
    if let Some(c) = s.chars().find(|c| FORBIDDEN.contains(c)) {
        return bad(&format!("it contains {}", describe(c)));
    }
    let (local, domain) = s.split_once('@').unwrap_or((s, ""));
    if let Some(why) = refused_char(local, "it ", allowed_in_local) {
        return bad(&why);
    }
    if domain.contains('@') {
        return bad("it has more than one '@'");
    }
    if local.is_empty() {
        return bad("nothing before the '@'");
    }
    if domain.is_empty() {
        return bad("nothing after the '@'");
    }
    if local.chars().count() > MAX_LOCAL_CHARS {
        return bad(&format!(
            "the part before the '@' is longer than {MAX_LOCAL_CHARS} characters"
        ));
    }
    if local.ends_with('.') {
        return bad("it has a '.' just before the '@', which Entra ID does not allow");
    }
    if let Some(why) = refused_char(
        domain,
        &format!("the domain '{}' ", shown(domain)),
        allowed_in_domain,
    ) {
        return bad(&why);
    }
    if !domain.contains('.') {
        return bad(&format!("the domain '{}' has no dot", shown(domain)));
    }
    if domain.split('.').any(str::is_empty) {
        return bad(&format!("the domain '{}' has an empty part", shown(domain)));
    }
    Ok(())
}

/// Checks a non-empty, trimmed cell of a mail column: a mail address, never an object id.
/// Looser than a UPN before the `@` (a mail address may hold `+`, as in `ann+hr@x.com`, and
/// other characters Entra ID refuses in UPNs; the lookup quotes them), as strict about the
/// shape: one `@`, no spaces, control or invisible characters, a dotted domain.
pub(crate) fn check_mail(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().next()
        && matches!(c, '=' | '+' | '-')
    {
        return Err(format!(
            "'{}' starts with '{c}' like a spreadsheet formula; it is not a mail address, and it is never evaluated",
            shown(s)
        ));
    }
    if !s.contains('@') {
        return Err(format!(
            "'{}' is not a mail address (the column holds mail addresses, each looked up to find its user; put object ids or UPNs in a column of their own)",
            shown(s)
        ));
    }
    let bad = |why: &str| Err(format!("'{}' is not a valid mail address: {why}", shown(s)));
    if s.chars().count() > MAX_TOTAL_CHARS {
        return bad(&format!("it is longer than {MAX_TOTAL_CHARS} characters"));
    }
    if s.contains('<') && s.contains('>') {
        return bad("it looks like 'Name <address>'; keep only the address");
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        let which = if c == ' ' {
            String::new()
        } else {
            format!(" ({})", describe(c))
        };
        return bad(&format!("it contains a space{which}"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || is_invisible(*c) || FORBIDDEN.contains(c))
    {
        return bad(&format!("it contains {}", describe(c)));
    }
    let (local, domain) = s.split_once('@').unwrap_or((s, ""));
    if domain.contains('@') {
        return bad("it has more than one '@'");
    }
    if local.is_empty() {
        return bad("nothing before the '@'");
    }
    if domain.is_empty() {
        return bad("nothing after the '@'");
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '.')))
    {
        return bad(&format!(
            "the domain '{}' contains {}",
            shown(domain),
            describe(c)
        ));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return bad(&format!(
            "the domain '{}' is not a dotted name",
            shown(domain)
        ));
    }
    Ok(())
}

fn check_object_id(s: &str) -> Result<(), String> {
    if is_object_id(s) {
        return Ok(());
    }
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s);
    if inner.len() != s.len() && is_object_id(inner) {
        return Err(format!(
            "'{}' is an object id in braces; write it without the braces",
            shown(s)
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| is_invisible(*c) || (!c.is_ascii() && !c.is_alphabetic()))
    {
        return Err(format!(
            "'{}' contains {}, which neither a user principal name nor an object id can have; delete the character",
            shown(s),
            describe(c)
        ));
    }
    let guid_like = s.len() >= 8
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '-' | '{' | '}'))
        && s.chars().any(|c| c.is_ascii_digit() || c == '-');
    if guid_like {
        return Err(format!(
            "'{}' is not a valid object id: expected 8-4-4-4-12 hexadecimal digits with hyphens, like 8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b",
            shown(s)
        ));
    }
    Err(format!(
        "'{}' is not a user principal name (name@domain) or an object id (GUID)",
        shown(s)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_guest_apostrophe_and_dollar_upns_are_accepted() {
        for ok in [
            "alice@contoso.com",
            "Alice.Smith@Contoso.onmicrosoft.com",
            "x_contoso.com#EXT#@tenant.onmicrosoft.com",
            "o'brien@x.com",
            "$admin@x.com",
            "a.b-c_d!e#f^g~h@sub-1.x.com",
        ] {
            assert_eq!(check_user(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn characters_entra_does_not_allow_are_named_with_the_fix() {
        let err = check_user("o\u{2019}brien@x.com").unwrap_err();
        assert_eq!(
            err,
            "'o\u{2019}brien@x.com' is not a valid user principal name: it contains '\u{2019}' (U+2019 RIGHT SINGLE QUOTATION MARK) at character 2, which Entra ID does not allow in a user principal name; write it as ' (U+0027) instead"
        );
        let err = check_user("ann\u{200b}@x.com").unwrap_err();
        assert!(
            err.starts_with("'ann\\u{200b}@x.com' is not a valid user principal name: it contains U+200B ZERO WIDTH SPACE at character 4"),
            "{err}"
        );
        assert!(err.contains("does not show in a spreadsheet"), "{err}");
        for (key, named) in [
            ("first+tag@x.com", "U+002B PLUS SIGN"),
            ("ümlaut@x.com", "U+00FC LATIN SMALL LETTER U WITH DIAERESIS"),
            ("soft\u{ad}hyphen@x.com", "U+00AD SOFT HYPHEN"),
            ("rtl\u{200f}@x.com", "U+200F RIGHT-TO-LEFT MARK"),
            ("wj\u{2060}@x.com", "U+2060 WORD JOINER"),
            ("bom\u{feff}in@x.com", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
            ("a@bücher.de", "U+00FC"),
            ("a%b@x.com", "U+0025 PERCENT SIGN"),
        ] {
            refused(key, named);
        }
        refused("a\u{2013}b@x.com", "write it as - (U+002D) instead");
        refused("a\u{2019}b\u{2019}c@x.com", "(and 1 more such character)");
        refused("ann.@x.com", "'.' just before the '@'");
        refused(
            "8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b\u{200b}",
            "U+200B ZERO WIDTH SPACE",
        );
    }

    #[test]
    fn invisible_characters_at_the_ends_are_trimmed_and_reported() {
        assert_eq!(trim_invisible("a@x.com"), ("a@x.com", None));
        assert_eq!(
            trim_invisible("\u{feff}a@x.com\u{200b}"),
            ("a@x.com", Some('\u{feff}'))
        );
        assert_eq!(
            trim_invisible("a@x.com\u{200e} \u{a0}"),
            ("a@x.com", Some('\u{200e}'))
        );
        assert_eq!(
            trim_invisible("a\u{200b}b@x.com"),
            ("a\u{200b}b@x.com", None)
        );
        assert_eq!(
            trim_invisible("\u{7}a@x.com\u{200b}"),
            ("\u{7}a@x.com", Some('\u{200b}'))
        );
        assert!(is_user_key("a@x.com") && is_user_key("8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b"));
        assert!(!is_user_key("upn") && !is_user_key("") && !is_user_key("User Principal Name"));
    }

    #[test]
    fn object_ids_are_accepted_in_any_case() {
        assert_eq!(check_user("8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b"), Ok(()));
        assert_eq!(check_user("8C6E4F1A-2B3D-4E5F-9A0B-1C2D3E4F5A6B"), Ok(()));
        assert!(is_object_id("00000000-0000-0000-0000-000000000000"));
    }

    #[track_caller]
    fn refused(s: &str, reason: &str) {
        let err = check_user(s).expect_err(s);
        assert!(err.contains(reason), "{s}: {err}");
        assert!(!err.contains('\n'), "{s}: {err}");
    }

    #[test]
    fn malformed_upns_are_refused_with_the_reason() {
        refused("alice smith@x.com", "contains a space");
        refused("@x.com", "nothing before the '@'");
        refused("alice@", "nothing after the '@'");
        refused("alice@x@y.com", "more than one '@'");
        refused("alice@localhost", "has no dot");
        refused("alice@x..com", "empty part");
        refused("alice@x.com.", "empty part");
        refused("alice@x_y.com", "the domain 'x_y.com' contains '_'");
        refused("al\u{7}ice@x.com", "control character");
        refused("Alice Smith <alice@x.com>", "keep only the address");
        refused("alice;bob@x.com", "contains ';'");
        refused(&format!("{}@x.com", "a".repeat(114)), "longer than 113");
        refused(&format!("a@{}.com", "b".repeat(1100)), "longer than 1024");
        assert_eq!(check_user(&format!("{}@x.com", "a".repeat(113))), Ok(()));
    }

    #[test]
    fn malformed_object_ids_are_refused_with_the_reason() {
        refused(
            "{8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b}",
            "without the braces",
        );
        refused("8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6", "8-4-4-4-12");
        refused("8c6e4f1a2b3d4e5f9a0b1c2d3e4f5a6b", "8-4-4-4-12");
        refused(
            "8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6g",
            "not a user principal name",
        );
        refused("alice", "not a user principal name");
    }

    #[test]
    fn formula_looking_cells_are_just_invalid_users() {
        refused("=cmd|' /C calc'!A0", "spreadsheet formula");
        refused("+alice@x.com", "spreadsheet formula");
        refused("-2+3", "spreadsheet formula");
        refused("@SUM(A1:A2)", "not a valid user principal name");
    }

    #[test]
    fn messages_show_control_characters_escaped_on_one_line() {
        refused("ali\nce@x.com", "ali\\nce");
    }

    #[test]
    fn mail_cells_must_be_addresses_not_object_ids() {
        assert_eq!(check_mail("o'brien+hr@contoso.com"), Ok(()));
        let err = check_mail("8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b").unwrap_err();
        assert!(err.contains("is not a mail address"), "{err}");
        let err = check_mail("ann smith@x.com").unwrap_err();
        assert!(
            err.contains("is not a valid mail address: it contains a space"),
            "{err}"
        );
        let err = check_mail("a\u{200b}b@x.com").unwrap_err();
        assert!(err.contains("U+200B"), "{err}");
        let err = check_mail("a@b@x.com").unwrap_err();
        assert!(err.contains("more than one '@'"), "{err}");
        let err = check_mail("=HYPERLINK(\"x\")").unwrap_err();
        assert!(err.contains("spreadsheet formula"), "{err}");
    }

    #[test]
    fn the_same_user_ignores_case_ascii_and_unicode_alike() {
        assert!(same_user("Alice@X.com", "alice@x.com"));
        assert!(same_user("ÄBC@x.com", "äbc@X.COM"));
        assert!(same_user(
            "8F3C0B5E-0000-4000-8000-00000000000A",
            "8f3c0b5e-0000-4000-8000-00000000000a"
        ));
        assert!(!same_user("alice@x.com", "alice@x.co"));
        assert!(!same_user(" alice@x.com", "alice@x.com"), "nothing trimmed");
        assert!(
            !same_user("äbc@x.com", "abc@x.com"),
            "accents are not folded"
        );
    }
}
