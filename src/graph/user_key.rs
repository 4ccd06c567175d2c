//! User keys (object ids or UPNs) turned into the relative URL path Graph expects.
//!
//! Graph's rules (docs/graph.md §5): `#` in guest UPNs must be sent as `%23`; a UPN starting
//! with `$` is refused in the plain `/users/{key}` form and must use the OData key form
//! `/users('{key}')`, inside which apostrophes are doubled; `@` needs no encoding.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters encoded inside one path segment: what would end the segment or the path
/// (`/`, `?`, `#`), `%` itself so keys round-trip, and what is not allowed in a URL at all.
/// `@`, `'`, `$`, `+`, `!`, `(`, `)` and the like are legal in a segment and stay as they are.
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The relative path of a user for use in URLs: `/users/{key}` with the key percent-encoded
/// as one path segment (`#` → `%23`, `%` → `%25`, `/`, `?`, space encoded; `@` kept), or
/// `/users('{key}')` when the key starts with `$`, apostrophes doubled inside the quotes and
/// the same percent-encoding applied. Object ids (GUIDs) pass through unchanged.
#[must_use]
pub(crate) fn user_path(key: &str) -> String {
    if key.starts_with('$') {
        let quoted = key.replace('\'', "''");
        format!("/users('{}')", utf8_percent_encode(&quoted, SEGMENT))
    } else {
        format!("/users/{}", utf8_percent_encode(key, SEGMENT))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::user_path;

    proptest! {
        #[test]
        fn any_key_gives_one_safe_path(key in "\\PC{0,40}") {
            let path = user_path(&key);
            prop_assert!(path.starts_with("/users"));
            let rest = &path["/users".len()..];
            prop_assert!(!rest[1..].contains('/'), "{path}");
            for c in ['#', '?', ' ', '\\'] {
                prop_assert!(!path.contains(c), "{path}");
            }
            prop_assert!(path.is_ascii());
        }
    }

    #[test]
    fn plain_upn_is_kept_with_its_at_sign() {
        assert_eq!(user_path("adele@contoso.com"), "/users/adele@contoso.com");
    }

    #[test]
    fn guid_passes_through() {
        let id = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
        assert_eq!(user_path(id), format!("/users/{id}"));
    }

    #[test]
    fn guest_hash_is_percent_encoded() {
        assert_eq!(
            user_path("AdeleVance_adatum.com#EXT#@contoso.com"),
            "/users/AdeleVance_adatum.com%23EXT%23@contoso.com"
        );
    }

    #[test]
    fn dollar_upn_uses_the_key_form() {
        assert_eq!(user_path("$admin@x"), "/users('$admin@x')");
    }

    #[test]
    fn dollar_upn_doubles_apostrophes() {
        assert_eq!(user_path("$o'b@x"), "/users('$o''b@x')");
    }

    #[test]
    fn dollar_guest_upn_still_encodes_hash() {
        assert_eq!(
            user_path("$a_b.com#EXT#@x"),
            "/users('$a_b.com%23EXT%23@x')"
        );
    }

    #[test]
    fn apostrophe_upn_without_dollar_stays_a_plain_path() {
        assert_eq!(user_path("o'brien@x.com"), "/users/o'brien@x.com");
    }

    #[test]
    fn percent_slash_question_and_space_are_encoded() {
        assert_eq!(user_path("a%b@x"), "/users/a%25b@x");
        assert_eq!(user_path("a/b?c d@x"), "/users/a%2Fb%3Fc%20d@x");
    }

    #[test]
    fn non_ascii_is_utf8_percent_encoded() {
        assert_eq!(user_path("zoë@x"), "/users/zo%C3%AB@x");
    }
}
