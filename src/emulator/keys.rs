//! How Graph reads the user key in a URL (docs/graph.md §5): `/users/{id | upn}` percent-decoded,
//! `/users('…')` with doubled apostrophes, `$`-prefixed keys only in the `('…')` form, and a
//! raw `#` ending the URL (the rest is a fragment that is never sent).

use percent_encoding::percent_decode_str;

use super::graph_error::GraphError;

/// A request path relative to the version, split into the user key and what follows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserPath {
    /// The decoded key: an object id or a UPN.
    pub(crate) key: String,
    /// The decoded segments after the key (e.g. ["authentication", "requirements"]).
    pub(crate) rest: Vec<String>,
}

/// Cuts a URL at its first raw `#`: clients never send the fragment, so a guest UPN with an
/// unencoded `#EXT#` reaches Graph cut short.
pub(crate) fn strip_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or("")
}

/// Splits `path?query` and drops the query (the emulator's routes take no query options).
pub(crate) fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or("")
}

fn decode(segment: &str) -> Result<String, GraphError> {
    if !segment.contains('%') {
        return Ok(segment.to_string());
    }
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| GraphError::bad_request("The request URI is not valid UTF-8 once decoded."))
}

/// Parses a path such as `users/o%27brien%40contoso.com/authentication/methods` (no leading
/// slash, no query).
pub(crate) fn parse_user_path(path: &str) -> Result<UserPath, GraphError> {
    let mut raw: Vec<&str> = path.split('/').collect();
    // A trailing slash adds an empty segment; Graph ignores it.
    if raw.len() > 1 && raw.last() == Some(&"") {
        raw.pop();
    }
    let first = decode(raw[0])?;
    let (key, rest_from) = if first.eq_ignore_ascii_case("users") {
        let Some(seg) = raw.get(1) else {
            return Err(GraphError::new(
                501,
                "NotImplemented",
                "The emulator does not model listing users; address one user by id or userPrincipalName.",
            ));
        };
        let key = decode(seg)?;
        if key.is_empty() {
            return Err(GraphError::bad_request(
                "The user key in the request URI is empty.",
            ));
        }
        if key.starts_with('$') {
            return Err(GraphError::new(
                400,
                "Request_BadRequest",
                format!(
                    "Invalid object identifier '{key}'. A key starting with '$' must be written /users('{key}')."
                ),
            ));
        }
        (key, 2)
    } else if let Some(after) = first
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("users("))
        .and_then(|_| first.get(6..))
    {
        (parse_parenthesised_key(after)?, 1)
    } else if first.eq_ignore_ascii_case("me") {
        return Err(GraphError::bad_request(
            "/me request is only valid with delegated authentication flow.",
        ));
    } else {
        return Err(GraphError::segment_not_found(&first));
    };
    let rest = raw[rest_from..]
        .iter()
        .map(|s| decode(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UserPath { key, rest })
}

/// `'o''brien@x.com')` → `o'brien@x.com`. The literal must be quoted; inside it an apostrophe
/// is doubled, and a lone one ends the literal early, which makes the URL malformed.
fn parse_parenthesised_key(after_paren: &str) -> Result<String, GraphError> {
    let malformed = || {
        GraphError::new(
            400,
            "Request_BadRequest",
            format!(
                "Bad request. The key in 'users({after_paren}' is not a valid OData string literal; double apostrophes inside it."
            ),
        )
    };
    let inner = after_paren.strip_suffix(')').ok_or_else(malformed)?;
    let literal = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(malformed)?;
    let mut key = String::with_capacity(literal.len());
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return Err(malformed());
            }
        }
        key.push(c);
    }
    if key.is_empty() {
        return Err(malformed());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Result<String, u16> {
        parse_user_path(path).map(|p| p.key).map_err(|e| e.status)
    }

    #[test]
    fn plain_keys_are_percent_decoded() {
        assert_eq!(
            key("users/x_contoso.com%23EXT%23@t.onmicrosoft.com/authentication/methods"),
            Ok("x_contoso.com#EXT#@t.onmicrosoft.com".into())
        );
        assert_eq!(key("users/o'brien@x.com"), Ok("o'brien@x.com".into()));
        assert_eq!(key("users/a%40b.com"), Ok("a@b.com".into()));
    }

    #[test]
    fn dollar_keys_need_the_parenthesised_form() {
        assert_eq!(key("users/$admin@x.com"), Err(400));
        assert_eq!(key("users('$admin@x.com')"), Ok("$admin@x.com".into()));
        assert_eq!(
            key("users(%27$admin@x.com%27)/revokeSignInSessions"),
            Ok("$admin@x.com".into())
        );
    }

    #[test]
    fn apostrophes_are_doubled_inside_the_literal() {
        assert_eq!(key("users('o''brien@x.com')"), Ok("o'brien@x.com".into()));
        assert_eq!(key("users('o'brien@x.com')"), Err(400));
        assert_eq!(key("users(o@x.com)"), Err(400));
    }

    #[test]
    fn a_raw_hash_cuts_the_url() {
        let url = "/users/x_contoso.com#EXT#@t.onmicrosoft.com/authentication/methods";
        assert_eq!(strip_fragment(url), "/users/x_contoso.com");
    }

    #[test]
    fn rest_segments_and_unknown_roots() {
        let p = parse_user_path("users/a@b.com/authentication/requirements/").unwrap();
        assert_eq!(p.rest, vec!["authentication", "requirements"]);
        assert_eq!(key("groups/x"), Err(400));
        assert_eq!(key("users"), Err(501));
        assert_eq!(key("usersé(x)"), Err(400));
        assert_eq!(key("users("), Err(400));
    }
}
