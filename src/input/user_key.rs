//! The shape of a user key as written in the user column: a user principal name
//! (`local@domain`) or an object id (GUID, `8-4-4-4-12` hex). Offline checks only: a key of the
//! right shape may still not exist in the tenant (the engine reports that as `not_found`).
//!
//! The rules are deliberately those that catch spreadsheet mistakes (spaces, a missing or
//! doubled `@`, `Name <address>` pasted from Outlook, formulas, braces around a GUID) without
//! refusing keys Entra ID accepts: guest UPNs (`x_contoso.com#EXT#@tenant.onmicrosoft.com`),
//! apostrophes (`o'brien@x.com`) and `$` (`$admin@x.com`) pass.

use super::cell_text::shown;

/// Longest part before the `@` that Entra ID accepts (guest UPNs are long).
const MAX_LOCAL_CHARS: usize = 113;
/// Longest key accepted at all.
const MAX_TOTAL_CHARS: usize = 1024;

/// Characters that can never appear in a user principal name (RFC 5322 specials outside a
/// quoted local part, which Entra ID does not allow).
const FORBIDDEN: [char; 12] = ['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']', '|'];

/// True when `s` is an object id: exactly `8-4-4-4-12` hexadecimal digits, without braces.
#[must_use]
pub fn is_object_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The form used to compare two user keys: trimmed and lowercased (UPNs and object ids are
/// both case-insensitive in Entra ID).
#[must_use]
pub fn normalized_user(s: &str) -> String {
    let t = s.trim();
    if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        t.to_lowercase()
    }
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
    if s.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if s.contains('<') && s.contains('>') {
        return bad("it looks like 'Name <address>'; keep only the address");
    }
    if s.chars().any(char::is_whitespace) {
        return bad("it contains a space");
    }
    if let Some(c) = s.chars().find(|c| FORBIDDEN.contains(c)) {
        return bad(&format!("it contains '{c}'"));
    }
    let Some((local, domain)) = s.split_once('@') else {
        return bad("it has no '@'");
    };
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
    if !domain.contains('.') {
        return bad(&format!("the domain '{}' has no dot", shown(domain)));
    }
    if domain.split('.').any(str::is_empty) {
        return bad(&format!("the domain '{}' has an empty part", shown(domain)));
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '.')))
    {
        return bad(&format!("the domain '{}' contains '{c}'", shown(domain)));
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
            "first+tag@x.com",
            "ümlaut@bücher.de",
        ] {
            assert_eq!(check_user(ok), Ok(()), "{ok}");
        }
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
        refused("alice@x_y.com", "contains '_'");
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
    fn normalized_user_lowercases_and_trims() {
        assert_eq!(normalized_user(" Alice@X.com "), "alice@x.com");
        assert_eq!(normalized_user("ÄBC@x.com"), "äbc@x.com");
    }
}
