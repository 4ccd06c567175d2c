//! The header row: which column holds the user and which the action, by alias or by the
//! `--user-column` / `--action-column` names, matched case-insensitively after trimming.

use super::InputOptions;
use super::cell_text::shown;

/// Headers recognised as the user column, in the order the documentation lists them.
pub(crate) const USER_ALIASES: [&str; 8] = [
    "user",
    "upn",
    "userPrincipalName",
    "user principal name",
    "email",
    "mail",
    "id",
    "objectId",
];

/// The header recognised as the action column.
pub(crate) const ACTION_HEADER: &str = "action";

/// At most this many headers are listed in a message.
const LISTED_HEADERS: usize = 20;

/// Where the user and the action are, by column index, with the header text as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) user: usize,
    pub(crate) user_name: String,
    /// `None` when `--action` gives the action for every row.
    pub(crate) action: Option<(usize, String)>,
}

fn key(header: &str) -> String {
    header.trim().to_lowercase()
}

/// Finds the columns in `headers`, or says in one line why they cannot be found.
pub(crate) fn resolve(headers: &[String], options: &InputOptions) -> Result<Columns, String> {
    let keys: Vec<String> = headers.iter().map(|h| key(h)).collect();
    let named = |name: &str| -> Vec<usize> {
        let k = key(name);
        keys.iter()
            .enumerate()
            .filter(|(_, h)| **h == k)
            .map(|(i, _)| i)
            .collect()
    };

    let user = match &options.user_column {
        Some(name) => match named(name).as_slice() {
            [] => {
                return Err(format!(
                    "no column named '{}' (--user-column); the headers are: {}",
                    shown(name),
                    list(headers)
                ));
            }
            [one] => *one,
            _ => return Err(repeated(name)),
        },
        None => {
            let found: Vec<usize> = USER_ALIASES.iter().flat_map(|a| named(a)).collect();
            match found.as_slice() {
                [] => {
                    return Err(format!(
                        "no user column; the headers are: {} (recognised: {}); name the column with --user-column NAME",
                        list(headers),
                        USER_ALIASES.join(", ")
                    ));
                }
                [one] => *one,
                [first, second, ..] => {
                    let header = |i: &usize| shown(headers.get(*i).map_or("", String::as_str));
                    return Err(format!(
                        "columns '{}' and '{}' could both be the user column; say which with --user-column NAME",
                        header(first.min(second)),
                        header(first.max(second))
                    ));
                }
            }
        }
    };

    let action = if options.action.is_some() {
        None
    } else {
        let name = options.action_column.as_deref().unwrap_or(ACTION_HEADER);
        let index = match named(name).as_slice() {
            [] if options.action_column.is_some() => {
                return Err(format!(
                    "no column named '{}' (--action-column); the headers are: {}",
                    shown(name),
                    list(headers)
                ));
            }
            [] => {
                return Err(format!(
                    "no 'action' column; the headers are: {}; name it with --action-column NAME, or give one action for every row with --action ACTION",
                    list(headers)
                ));
            }
            [one] => *one,
            _ => return Err(repeated(name)),
        };
        if index == user {
            return Err(format!(
                "the user column and the action column are the same column '{}'",
                shown(name)
            ));
        }
        Some((index, header_text(headers, index)))
    };

    Ok(Columns {
        user,
        user_name: header_text(headers, user),
        action,
    })
}

fn header_text(headers: &[String], index: usize) -> String {
    headers
        .get(index)
        .map_or_else(String::new, |h| h.trim().to_string())
}

fn repeated(name: &str) -> String {
    format!(
        "several columns are named '{}'; rename all but one",
        shown(name)
    )
}

/// `'a', 'b', 'c'` (empty headers shown as `''`), cut after [`LISTED_HEADERS`].
fn list(headers: &[String]) -> String {
    let mut out: Vec<String> = headers
        .iter()
        .take(LISTED_HEADERS)
        .map(|h| format!("'{}'", shown(h.trim())))
        .collect();
    if headers.len() > LISTED_HEADERS {
        out.push(format!("and {} more", headers.len() - LISTED_HEADERS));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action;

    fn headers(hs: &[&str]) -> Vec<String> {
        hs.iter().map(|h| (*h).to_string()).collect()
    }

    #[test]
    fn every_user_alias_is_recognised_whatever_its_case() {
        for alias in USER_ALIASES {
            for written in [
                alias.to_string(),
                alias.to_uppercase(),
                format!("  {alias} "),
            ] {
                let cols = resolve(
                    &headers(&["x", &written, "Action"]),
                    &InputOptions::default(),
                )
                .unwrap_or_else(|e| panic!("{written}: {e}"));
                assert_eq!(cols.user, 1);
                assert_eq!(cols.user_name, written.trim());
                assert_eq!(cols.action, Some((2, "Action".into())));
            }
        }
    }

    #[test]
    fn missing_user_column_lists_the_headers_found() {
        let err = resolve(
            &headers(&["Name", "Mail Address", "action"]),
            &InputOptions::default(),
        )
        .unwrap_err();
        assert!(err.contains("'Name', 'Mail Address', 'action'"), "{err}");
        assert!(err.contains("--user-column NAME"), "{err}");
    }

    #[test]
    fn two_user_aliases_are_ambiguous() {
        let err = resolve(
            &headers(&["mail", "userPrincipalName", "action"]),
            &InputOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.contains("'mail' and 'userPrincipalName' could both be the user column"),
            "{err}"
        );
        assert!(err.contains("--user-column"), "{err}");
    }

    #[test]
    fn user_column_flag_picks_a_column_and_settles_ambiguity() {
        let o = InputOptions {
            user_column: Some("USERPRINCIPALNAME".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["mail", "userPrincipalName", "action"]), &o).unwrap();
        assert_eq!(cols.user, 1);
    }

    #[test]
    fn named_columns_that_are_absent_list_the_headers() {
        let o = InputOptions {
            user_column: Some("Login".into()),
            ..InputOptions::default()
        };
        let err = resolve(&headers(&["upn", "action"]), &o).unwrap_err();
        assert_eq!(
            err,
            "no column named 'Login' (--user-column); the headers are: 'upn', 'action'"
        );
        let o = InputOptions {
            action_column: Some("Do".into()),
            ..InputOptions::default()
        };
        let err = resolve(&headers(&["upn", "action"]), &o).unwrap_err();
        assert!(
            err.contains("no column named 'Do' (--action-column)"),
            "{err}"
        );
    }

    #[test]
    fn action_column_flag_and_action_flag() {
        let o = InputOptions {
            action_column: Some("MFA".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["upn", "mfa"]), &o).unwrap();
        assert_eq!(cols.action, Some((1, "mfa".into())));
        let o = InputOptions {
            action: Some(vec![Action::Enable]),
            action_column: Some("absent".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["upn"]), &o).unwrap();
        assert_eq!(cols.action, None);
    }

    #[test]
    fn missing_action_column_suggests_both_flags() {
        let err = resolve(&headers(&["upn", "note"]), &InputOptions::default()).unwrap_err();
        assert!(err.contains("--action-column NAME"), "{err}");
        assert!(err.contains("--action ACTION"), "{err}");
    }

    #[test]
    fn repeated_and_shared_columns_are_refused() {
        let err = resolve(
            &headers(&["upn", "action", "Action"]),
            &InputOptions::default(),
        )
        .unwrap_err();
        assert!(err.contains("several columns are named 'action'"), "{err}");
        let o = InputOptions {
            action_column: Some("upn".into()),
            ..InputOptions::default()
        };
        assert!(
            resolve(&headers(&["upn", "x"]), &o)
                .unwrap_err()
                .contains("same column")
        );
    }
}
