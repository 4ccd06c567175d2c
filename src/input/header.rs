//! The header row: which column holds the user, which the action, and which are passed through
//! (`--keep-columns`), by alias or by the `--user-column` / `--action-column` names, matched
//! case-insensitively after trimming; and, for workbooks, which row is the header at all.
//!
//! # Naming a column
//! A flag names a column by its header text or by its column letter (`C`, `aa`), both
//! case-insensitive. A letter counts only when no header has that exact text, so a column
//! headed `ID` is never mistaken for column ID.
//!
//! # The user column, when no flag names it
//! The recognised headers fall into priority classes, best first:
//! 1. `userPrincipalName`, `upn`, `user principal name`, `user`;
//! 2. `objectId`, `id`;
//! 3. `email`, `mail`, `e-mail`, `email address`, `e-mail address`, `work email`,
//!    `work e-mail`, `work email address` (what HR sheets carry).
//!
//! # What the user column holds
//! Its [`UserKind`] follows its header, whether found by alias or named by `--user-column`:
//! a header of class 3 makes a mail column, whose cells are mail addresses that the engine
//! looks up (`$filter` on `mail`, then on `proxyAddresses`) before acting, because Graph's
//! `/users/{key}` takes only an object id or a UPN (docs/graph.md §9.1). Any other header
//! (class 1 or 2, another name, or an empty header cell named by letter) makes a key column:
//! each cell is sent as the key, an object id or a UPN by its shape.
//!
//! The best class with a match wins, so an Entra "export users" file (`id`,
//! `userPrincipalName`, `mail` side by side) is read by its `userPrincipalName`. Only two
//! headers of that same class (`upn` and `userPrincipalName`, or `id` and `objectId`) are
//! ambiguous and refused, asking for `--user-column`.
//!
//! # The header row
//! A sheet may have title rows above its header (a report title, a date, blank rows). Among
//! the first [`HEADER_SEARCH_ROWS`] non-empty rows, the header is the first one in which every
//! column needed is found and at least one of them by its header text (an alias, or a flag's
//! text). When every column is given by letter (or the action by `--action`), the header is
//! the first row that reaches as far to the right as the row below it: a title (in column A,
//! or a date in B, above a three-column table) is not a header for `--user-column B`. The first row that names the user column by its text is the
//! header whatever else is wrong with it (ambiguous, no action column): the search never
//! skips it for a row further down, which would drop the rows between. If no row names a user
//! column, the error reported is that of the row with the most non-empty cells (a title has
//! one or two).
//!
//! # No header row
//! A header whose user cell is itself a user key (a UPN or an object id) is data: a bare list
//! of UPNs read with `--user-column A` would otherwise lose its first user. Such a file is read
//! as headerless from that row on, and the caller says so. `--no-header` states it: every
//! non-empty row is data, columns are named by letter (the user column is A unless
//! `--user-column` says otherwise).
//!
//! # The legacy per-user MFA portal's file
//! Its bulk-update CSV has the columns `Username` and `MFA Status` (`Enabled`, `Enforced`,
//! `Disabled`): `username` is a user header and `mfa status` an action header, and the action
//! parser takes those state words, so the file reads as it is.

use super::InputOptions;
use super::cell_text::shown;
use super::user_key::is_user_key;

/// The user column's recognised headers, by priority class (best first); see the module doc.
pub(crate) const USER_ALIAS_CLASSES: [&[&str]; 3] = [
    &[
        "userPrincipalName",
        "upn",
        "user principal name",
        "user",
        "username",
    ],
    &["objectId", "id"],
    MAIL_ALIASES,
];

/// The headers recognised as the action column: `action`, and the legacy per-user MFA
/// portal's `MFA Status`.
pub(crate) const ACTION_HEADERS: [&str; 2] = ["action", "mfa status"];

/// The headers recognised as the tenant column of a many-tenant input (issue 20): the
/// customer tenant of each row, by id or verified domain. The column is optional.
pub(crate) const TENANT_HEADERS: [&str; 7] = [
    "tenant",
    "tenant id",
    "tenantid",
    "tenant_id",
    "tenant domain",
    "customer tenant",
    "directory id",
];

/// The user column's headers that make it a mail column (class 3).
const MAIL_ALIASES: &[&str] = &[
    "email",
    "mail",
    "e-mail",
    "email address",
    "e-mail address",
    "work email",
    "work e-mail",
    "work email address",
];

/// What the user column holds, told by its header (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserKind {
    /// A UPN-class header, or one the tool does not know: each cell is a key (a UPN, or an
    /// object id by its shape).
    #[default]
    Upn,
    /// `objectId` or `id`: each cell is a key (an object id, or a UPN by its shape).
    ObjectId,
    /// A mail header: each cell is a mail address, looked up before anything is done.
    Mail,
}

impl UserKind {
    /// The kind a user column with this header text has.
    fn of_header(header: &str) -> UserKind {
        let k = key(header);
        if MAIL_ALIASES.iter().any(|a| key(a) == k) {
            UserKind::Mail
        } else if USER_ALIAS_CLASSES[1].iter().any(|a| key(a) == k) {
            UserKind::ObjectId
        } else {
            UserKind::Upn
        }
    }
}

/// How many non-empty rows at the top of a sheet may be looked at for the header.
pub(crate) const HEADER_SEARCH_ROWS: usize = 10;

/// At most this many headers are listed in a message.
const LISTED_HEADERS: usize = 20;

/// The last column Excel has (XFD), as a count.
const MAX_COLUMNS: usize = 16_384;

/// Where the user, the action and the passthrough columns are, by column index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) user: usize,
    /// How messages name the user column: its header text, or its letter when the header
    /// cell is empty.
    pub(crate) user_name: String,
    /// The user column's header text (trimmed; may be empty), to spot a repeated header row.
    pub(crate) user_header: String,
    /// What the user column holds, by its header.
    pub(crate) user_kind: UserKind,
    /// `None` when `--action` gives the action for every row.
    pub(crate) action: Option<(usize, String)>,
    /// How messages name the tenant column, when the file has one. Its cells are carried as
    /// the first passthrough cell (`keep[0]`, headed `tenant`), so the results, `--resume`
    /// and the duplicate pass see each row's tenant as they see kept cells.
    pub(crate) tenant: Option<String>,
    /// `--keep-columns`, in the order given (after the tenant column's, if any).
    pub(crate) keep: Vec<usize>,
    /// Their header texts as written (trimmed), or letters for empty header cells.
    pub(crate) keep_headers: Vec<String>,
    /// Some column was found by its header text (not only by letter): the row is a header.
    pub(crate) by_text: bool,
    /// The file has no header row: the row found is the first data row (see the module doc).
    pub(crate) headerless: bool,
}

/// Why a row is not a usable header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unresolved {
    pub(crate) message: String,
    /// The user column was named in this row (its trouble lies elsewhere): a likelier header
    /// than a row with no user column at all.
    user_found: bool,
}

impl Unresolved {
    fn new(message: String) -> Self {
        Unresolved {
            message,
            user_found: false,
        }
    }
}

fn key(header: &str) -> String {
    header.trim().to_lowercase()
}

/// The index of a column letter (`A` = 0, `aa` = 26), up to Excel's last column, XFD.
pub(crate) fn letter_index(text: &str) -> Option<usize> {
    let t = text.trim();
    if t.is_empty() || t.len() > 3 || !t.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let number = t.bytes().fold(0usize, |n, b| {
        n * 26 + usize::from(b.to_ascii_uppercase() - b'A') + 1
    });
    (number <= MAX_COLUMNS).then(|| number - 1)
}

/// The letter of the column at `index` (0 = `A`).
pub(crate) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + u8::try_from(rem).unwrap_or(0));
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The header among `candidates` (the first non-empty rows, in order): its position in
/// `candidates` and its columns; or why there is none, with the position of the row the
/// message is about. The rule is in the module doc.
pub(crate) fn locate(
    candidates: &[Vec<String>],
    options: &InputOptions,
) -> Result<(usize, Columns), (usize, String)> {
    let candidates = candidates.get(..HEADER_SEARCH_ROWS).unwrap_or(candidates);
    // Every row as wide as the widest, so a letter means the same column on each.
    let width = candidates.iter().map(Vec::len).max().unwrap_or(0);
    if options.no_header {
        return no_header(width, options)
            .map(|c| (0, c))
            .map_err(|e| (0, e));
    }
    let mut letters_only = None;
    // The first row usable by letters even without its cells, should no row have them all.
    let mut first_letters = None;
    // The fullest row is the likeliest header when no row names a user column.
    let mut fullest_error: Option<(usize, usize, String)> = None;
    for (i, cells) in candidates.iter().enumerate() {
        let mut padded = cells.clone();
        padded.resize(width, String::new());
        match resolve_row(&padded, options) {
            Ok(columns) if columns.by_text => return Ok((i, columns)),
            // By letters alone, a row without a cell in each lettered column is a title.
            Ok(columns)
                if letters_only.is_none()
                    && (is_user_key(cells.get(columns.user).map_or("", |c| c.trim()))
                        || reach(cells) >= candidates.get(i + 1).map_or(0, |next| reach(next))) =>
            {
                letters_only = Some((i, columns));
            }
            Ok(columns) => {
                first_letters.get_or_insert((i, columns));
            }
            // The first row naming the user column is the header, usable or not: rows
            // further down are data (or a second header, in two files joined), not a header
            // to skip to.
            Err(e) if e.user_found => return Err((i, e.message)),
            Err(e) => {
                let filled = filled(cells);
                if fullest_error.as_ref().is_none_or(|(n, _, _)| filled > *n) {
                    fullest_error = Some((filled, i, e.message));
                }
            }
        }
    }
    if let Some((i, mut columns)) = letters_only.or(first_letters) {
        // A "header" whose user cell is a user key is the first data row.
        let user_cell = candidates
            .get(i)
            .and_then(|cells| cells.get(columns.user))
            .map_or("", |c| c.trim());
        if is_user_key(user_cell) {
            let empty = vec![String::new(); width];
            columns = resolve_row(&empty, options).map_err(|e| (i, e.message))?;
            columns.headerless = true;
        }
        return Ok((i, columns));
    }
    match fullest_error {
        Some((_, i, message)) => Err((i, message + &data_hint(candidates, i))),
        None => Err((0, "no header row: every row is empty".into())),
    }
}

/// How many cells of a row are not empty.
fn filled(cells: &[String]) -> usize {
    cells.iter().filter(|c| !c.trim().is_empty()).count()
}

/// How far a row reaches: one past its last non-empty cell.
fn reach(cells: &[String]) -> usize {
    cells
        .iter()
        .rposition(|c| !c.trim().is_empty())
        .map_or(0, |i| i + 1)
}

/// When the row at `i` (refused as a header) holds a user key, the hint that the file may
/// have no header row, naming the column: "; row 1 looks like data …".
fn data_hint(candidates: &[Vec<String>], i: usize) -> String {
    let Some(cells) = candidates.get(i) else {
        return String::new();
    };
    match cells.iter().position(|c| is_user_key(c.trim())) {
        Some(col) => format!(
            "; this row looks like data (column {letter} holds the user '{}'): if the file has no header row, pass --no-header --user-column {letter}",
            shown(cells.get(col).map_or("", |c| c.trim())),
            letter = column_letter(col)
        ),
        None => String::new(),
    }
}

/// The columns of a file read with `--no-header`: by letter only, the user column A unless
/// named.
fn no_header(width: usize, options: &InputOptions) -> Result<Columns, String> {
    let letter = |name: &str, flag: &str| -> Result<(), String> {
        match letter_index(name) {
            Some(i) if i < width => Ok(()),
            Some(_) => Err(format!(
                "{flag} {}: the file's rows go as far as column {} only",
                name.trim().to_uppercase(),
                column_letter(width.saturating_sub(1))
            )),
            None => Err(format!(
                "with --no-header, columns are named by letter (A, B, …): {flag} '{}' is not a column letter",
                shown(name)
            )),
        }
    };
    let user = options.user_column.clone().unwrap_or_else(|| "A".into());
    letter(&user, "--user-column")?;
    match (&options.action, &options.action_column) {
        (Some(_), _) => {}
        (None, Some(name)) => letter(name, "--action-column")?,
        (None, None) => {
            return Err(
                "with --no-header, give one action for every row with --action ACTION, or name the action column by letter with --action-column B".into(),
            );
        }
    }
    for name in &options.keep_columns {
        letter(name, "--keep-columns")?;
    }
    let named = InputOptions {
        user_column: Some(user),
        ..options.clone()
    };
    let mut columns = resolve_row(&vec![String::new(); width], &named).map_err(|e| e.message)?;
    columns.headerless = true;
    Ok(columns)
}

/// Finds the columns in `headers` taken as the header row, or says in one line why they
/// cannot be found (loading goes through [`locate`]).
#[cfg(test)]
pub(crate) fn resolve(headers: &[String], options: &InputOptions) -> Result<Columns, String> {
    resolve_row(headers, options).map_err(|e| e.message)
}

/// A column named by a flag: by header text, else by letter within the header's width.
fn by_flag(
    headers: &[String],
    keys: &[String],
    name: &str,
    flag: &str,
) -> Result<(usize, bool), Unresolved> {
    let k = key(name);
    let matches: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, h)| **h == k)
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one, true)),
        [] => match letter_index(name) {
            Some(i) if i < headers.len() => Ok((i, false)),
            letter => {
                let past = if letter.is_some() {
                    format!(
                        ", and column {} is past the last column ({})",
                        name.trim().to_uppercase(),
                        column_letter(headers.len().saturating_sub(1))
                    )
                } else {
                    String::new()
                };
                Err(Unresolved::new(format!(
                    "no column named '{}' ({flag}){past}; the headers are: {}",
                    shown(name),
                    list(headers)
                )))
            }
        },
        _ => Err(Unresolved::new(repeated(name))),
    }
}

fn resolve_row(headers: &[String], options: &InputOptions) -> Result<Columns, Unresolved> {
    let keys: Vec<String> = headers.iter().map(|h| key(h)).collect();
    let named = |name: &str| -> Vec<usize> {
        let k = key(name);
        keys.iter()
            .enumerate()
            .filter(|(_, h)| **h == k)
            .map(|(i, _)| i)
            .collect()
    };

    let (user, mut by_text) = match &options.user_column {
        Some(name) => by_flag(headers, &keys, name, "--user-column")?,
        None => {
            let class = USER_ALIAS_CLASSES
                .iter()
                .map(|class| class.iter().flat_map(|a| named(a)).collect::<Vec<_>>())
                .find(|found| !found.is_empty())
                .unwrap_or_default();
            match class.as_slice() {
                [] => {
                    return Err(Unresolved::new(format!(
                        "no user column; the headers are: {} (recognised: {}); name the column with --user-column NAME",
                        list(headers),
                        user_aliases().collect::<Vec<_>>().join(", ")
                    )));
                }
                [one] => (*one, true),
                [first, second, ..] => {
                    let header = |i: &usize| shown(headers.get(*i).map_or("", String::as_str));
                    return Err(Unresolved {
                        message: format!(
                            "columns '{}' and '{}' could both be the user column; say which with --user-column NAME",
                            header(first.min(second)),
                            header(first.max(second))
                        ),
                        user_found: true,
                    });
                }
            }
        }
    };
    // Only a user column found by its text makes this row the header for sure.
    let user_named = by_text;
    let found = |e: Unresolved| Unresolved {
        user_found: user_named,
        ..e
    };

    let action = if options.action.is_some() {
        // `--action` over a file that names its own actions would silently replace them: the
        // column is kept, and a row with an action of its own in it is refused there
        // (`validate.rs`), so the file's wishes are never overridden by a flag left in a
        // command. An empty column (an export's `action`) takes `--action`.
        // A list of users (`--exclude`) takes no actions from the file at all.
        let column = ACTION_HEADERS
            .iter()
            .flat_map(|h| named(h))
            .next()
            .filter(|_| !options.user_list)
            .map(|column| (column, display_name(headers, column)));
        // A row naming an action column is a header even when the user column is given by
        // letter: the search stops here rather than reading on into the data.
        by_text |= column.is_some();
        column
    } else {
        let (index, named_action) = match &options.action_column {
            Some(name) => by_flag(headers, &keys, name, "--action-column").map_err(found)?,
            None => match ACTION_HEADERS
                .iter()
                .flat_map(|h| named(h))
                .collect::<Vec<_>>()
                .as_slice()
            {
                [] => {
                    return Err(found(Unresolved::new(format!(
                        "no 'action' column; the headers are: {}; name it with --action-column NAME, or give one action for every row with --action ACTION",
                        list(headers)
                    ))));
                }
                [one] => (*one, true),
                [first, second, ..] => {
                    let header = |i: &usize| shown(headers.get(*i).map_or("", |h| h.trim()));
                    let message = if key(&header(first)) == key(&header(second)) {
                        repeated(&header(first))
                    } else {
                        format!(
                            "columns '{}' and '{}' could both be the action column; say which with --action-column NAME",
                            header(first.min(second)),
                            header(first.max(second))
                        )
                    };
                    return Err(found(Unresolved::new(message)));
                }
            },
        };
        by_text |= named_action;
        if index == user {
            return Err(found(Unresolved::new(format!(
                "the user column and the action column are the same column '{}'",
                display_name(headers, index)
            ))));
        }
        Some((index, display_name(headers, index)))
    };

    let tenant = match TENANT_HEADERS
        .iter()
        .flat_map(|h| named(h))
        .filter(|i| *i != user && action.as_ref().is_none_or(|(a, _)| a != i))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => None,
        [one] => Some(*one),
        [first, second, ..] => {
            let header = |i: &usize| shown(headers.get(*i).map_or("", |h| h.trim()));
            return Err(found(Unresolved::new(format!(
                "columns '{}' and '{}' could both be the tenant column; rename one",
                header(first.min(second)),
                header(first.max(second))
            ))));
        }
    };
    let mut keep = Vec::with_capacity(options.keep_columns.len() + 1);
    keep.extend(tenant);
    for name in &options.keep_columns {
        let (index, named_keep) = by_flag(headers, &keys, name, "--keep-columns").map_err(found)?;
        if Some(index) == tenant {
            return Err(found(Unresolved::new(format!(
                "--keep-columns: '{}' is the tenant column, which the results carry already (as '{}')",
                shown(name),
                super::tenant_key::TENANT_COLUMN
            ))));
        }
        by_text |= named_keep;
        keep.push(index);
    }
    let keep_headers = keep
        .iter()
        .enumerate()
        .map(|(n, i)| {
            if n == 0 && tenant.is_some() {
                super::tenant_key::TENANT_COLUMN.to_string()
            } else {
                display_name(headers, *i)
            }
        })
        .collect();

    Ok(Columns {
        user,
        user_name: display_name(headers, user),
        user_header: header_text(headers, user),
        user_kind: UserKind::of_header(&header_text(headers, user)),
        action,
        tenant: tenant.map(|i| display_name(headers, i)),
        keep_headers,
        keep,
        by_text,
        headerless: false,
    })
}

/// Every recognised user header, best class first.
pub(crate) fn user_aliases() -> impl Iterator<Item = &'static str> {
    USER_ALIAS_CLASSES
        .iter()
        .flat_map(|class| class.iter().copied())
}

fn header_text(headers: &[String], index: usize) -> String {
    headers
        .get(index)
        .map_or_else(String::new, |h| h.trim().to_string())
}

/// The header text, or the column letter when the header cell is empty.
fn display_name(headers: &[String], index: usize) -> String {
    let text = header_text(headers, index);
    if text.is_empty() {
        column_letter(index)
    } else {
        text
    }
}

fn repeated(name: &str) -> String {
    format!(
        "several columns are named '{}'; rename all but one",
        shown(name)
    )
}

/// `'a', 'b', 'c'` (empty headers shown as `''`), cut after [`LISTED_HEADERS`].
pub(crate) fn list(headers: &[String]) -> String {
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
        for alias in user_aliases() {
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
    fn entra_export_headers_pick_user_principal_name() {
        let o = InputOptions::default();
        let hs = headers(&[
            "id",
            "displayName",
            "userPrincipalName",
            "mail",
            "objectId",
            "action",
        ]);
        let cols = resolve(&hs, &o).unwrap();
        assert_eq!(cols.user, 2);
        // Without a UPN-class header the object id wins over the mail.
        let cols = resolve(&headers(&["mail", "id", "action"]), &o).unwrap();
        assert_eq!(cols.user_name, "id");
        let cols = resolve(&headers(&["email", "mail", "UPN", "action"]), &o).unwrap();
        assert_eq!(cols.user_name, "UPN");
    }

    #[test]
    fn a_mail_header_makes_a_mail_column_and_a_upn_column_still_wins() {
        let o = InputOptions::default();
        for mail in [
            "mail",
            "Email",
            "E-mail",
            "Work email",
            " WORK E-MAIL ",
            "email address",
        ] {
            let cols = resolve(&headers(&["Name", mail, "action"]), &o).unwrap();
            assert_eq!((cols.user, cols.user_kind), (1, UserKind::Mail), "{mail}");
        }
        let cols = resolve(&headers(&["Work email", "UPN", "action"]), &o).unwrap();
        assert_eq!(
            (cols.user_name.as_str(), cols.user_kind),
            ("UPN", UserKind::Upn)
        );
        let cols = resolve(&headers(&["Work email", "objectId", "action"]), &o).unwrap();
        assert_eq!(cols.user_kind, UserKind::ObjectId);
        let err = resolve(&headers(&["email", "Work email", "action"]), &o).unwrap_err();
        assert!(err.contains("'email' and 'Work email'"), "{err}");
        // Named by the flag, the header still says what the column holds.
        let o = InputOptions {
            user_column: Some("work email".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["UPN", "Work Email", "action"]), &o).unwrap();
        assert_eq!((cols.user, cols.user_kind), (1, UserKind::Mail));
        let o = InputOptions {
            user_column: Some("B".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["x", "", "action"]), &o).unwrap();
        assert_eq!(cols.user_kind, UserKind::Upn);
        let o = InputOptions {
            user_column: Some("Login".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["Login", "action"]), &o).unwrap();
        assert_eq!(cols.user_kind, UserKind::Upn);
    }

    #[test]
    fn two_user_aliases_of_one_class_are_ambiguous() {
        let o = InputOptions::default();
        let err = resolve(
            &headers(&["mail", "userPrincipalName", "upn", "action"]),
            &o,
        )
        .unwrap_err();
        assert!(
            err.contains("'userPrincipalName' and 'upn' could both be the user column"),
            "{err}"
        );
        assert!(err.contains("--user-column"), "{err}");
        let err = resolve(&headers(&["objectId", "id", "mail", "action"]), &o).unwrap_err();
        assert!(err.contains("'objectId' and 'id'"), "{err}");
        let err = resolve(&headers(&["mail", "email", "action"]), &o).unwrap_err();
        assert!(err.contains("'mail' and 'email'"), "{err}");
    }

    #[test]
    fn column_letters_name_columns_unless_a_header_has_that_text() {
        assert_eq!(letter_index("A"), Some(0));
        assert_eq!(letter_index("aa"), Some(26));
        assert_eq!(letter_index("XFD"), Some(16_383));
        assert_eq!(letter_index("XFE"), None);
        assert_eq!(letter_index("A1"), None);
        for i in [0, 25, 26, 701, 702, 16_383] {
            assert_eq!(letter_index(&column_letter(i)), Some(i));
        }
        let o = InputOptions {
            user_column: Some("c".into()),
            action_column: Some("A".into()),
            ..InputOptions::default()
        };
        let cols = resolve(&headers(&["Do", "Name", "Login"]), &o).unwrap();
        assert_eq!((cols.user, cols.user_name.as_str()), (2, "Login"));
        assert_eq!(cols.action, Some((0, "Do".into())));
        // A header with the letter's text wins over the letter.
        let cols = resolve(&headers(&["Do", "c", "Login"]), &o).unwrap();
        assert_eq!(cols.user, 1);
        // An empty header cell is named by its letter.
        let cols = resolve(&headers(&["Do", "Name", ""]), &o).unwrap();
        assert_eq!(
            (cols.user_name.as_str(), cols.user_header.as_str()),
            ("C", "")
        );
        let o = InputOptions {
            user_column: Some("upn".into()),
            ..InputOptions::default()
        };
        let err = resolve(&headers(&["Login", "action"]), &o).unwrap_err();
        assert_eq!(
            err,
            "no column named 'upn' (--user-column), and column UPN is past the last column (B); the headers are: 'Login', 'action'"
        );
    }

    #[test]
    fn keep_columns_are_found_in_order_by_text_or_letter() {
        let o = InputOptions {
            keep_columns: vec!["ticket".into(), "a".into(), "employee id".into()],
            ..InputOptions::default()
        };
        let cols = resolve(
            &headers(&["Name", "upn", "Employee ID", "action", " Ticket "]),
            &o,
        )
        .unwrap();
        assert_eq!(cols.keep, [4, 0, 2]);
        assert_eq!(cols.keep_headers, ["Ticket", "Name", "Employee ID"]);
        let o = InputOptions {
            keep_columns: vec!["Cost centre".into()],
            ..InputOptions::default()
        };
        let err = resolve(&headers(&["upn", "action"]), &o).unwrap_err();
        assert_eq!(
            err,
            "no column named 'Cost centre' (--keep-columns); the headers are: 'upn', 'action'"
        );
    }

    #[test]
    fn header_row_is_found_under_title_rows() {
        let o = InputOptions::default();
        let rows = [
            headers(&["MFA rollout, wave 2"]),
            headers(&["", "2026-11-24"]),
            headers(&["Name", "UPN", "Action"]),
            headers(&["Ann", "a@x.com", "enable"]),
        ];
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!((at, cols.user), (2, 1));
        // A column named by text finds the header; letters alone take the first row.
        let o = InputOptions {
            user_column: Some("B".into()),
            ..InputOptions::default()
        };
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!((at, cols.user), (2, 1));
        let o = InputOptions {
            user_column: Some("C".into()),
            action_column: Some("B".into()),
            ..InputOptions::default()
        };
        // Letters alone: the first row with a cell in each lettered column, under the titles.
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!((at, cols.user, cols.user_name.as_str()), (2, 2, "Action"));
        assert!(!cols.headerless);
        let o = InputOptions {
            user_column: Some("B".into()),
            action: Some(vec![Action::Enforce]),
            ..InputOptions::default()
        };
        // A row naming an action column is the header with --action too (its cells are then
        // checked to be empty, row by row), not read past.
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!((at, cols.action), (2, Some((2, "Action".to_string()))));
        let rows = [
            headers(&["MFA rollout, wave 2"]),
            headers(&["", "2026-11-24"]),
            headers(&["Name", "UPN", "Ticket"]),
            headers(&["Ann", "a@x.com", "T1"]),
        ];
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!(
            (at, cols.user_name.as_str(), cols.headerless),
            (2, "UPN", false)
        );
        // The error is the header-like row's, not the title's.
        let rows = [headers(&["Title"]), headers(&["upn", "note"])];
        let (at, err) = locate(&rows, &InputOptions::default()).unwrap_err();
        assert_eq!(at, 1);
        assert!(
            err.starts_with("no 'action' column; the headers are: 'upn', 'note'"),
            "{err}"
        );
        // A header with a fault is not skipped for a later, usable one (two files joined).
        let rows = [
            headers(&["upn", "userPrincipalName", "action"]),
            headers(&["a@x.com", "a@x.com", "enable"]),
            headers(&["upn", "action"]),
        ];
        let (at, err) = locate(&rows, &InputOptions::default()).unwrap_err();
        assert_eq!(at, 0);
        assert!(err.contains("could both be the user column"), "{err}");
        // No row names a user column: the fullest row's error, not the title's.
        let rows = [
            headers(&["Title"]),
            headers(&["Login", "note"]),
            headers(&["a@x.com", "n"]),
        ];
        let (at, err) = locate(&rows, &InputOptions::default()).unwrap_err();
        assert_eq!(at, 1);
        assert!(
            err.starts_with("no user column; the headers are: 'Login', 'note'"),
            "{err}"
        );
    }

    #[test]
    fn a_header_whose_user_cell_is_a_user_key_is_data() {
        let o = InputOptions {
            user_column: Some("A".into()),
            action: Some(vec![Action::Enforce]),
            ..InputOptions::default()
        };
        let rows = [headers(&["a@x.com"]), headers(&["b@x.com", "note"])];
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!(
            (at, cols.user_name.as_str(), cols.headerless),
            (0, "A", true)
        );
        assert_eq!(cols.user_header, "");
        let rows = [headers(&["upn"]), headers(&["b@x.com"])];
        let (at, cols) = locate(&rows, &o).unwrap();
        assert_eq!(
            (at, cols.user_name.as_str(), cols.headerless),
            (0, "upn", false)
        );
        let guid = [headers(&["8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b"])];
        assert!(locate(&guid, &o).unwrap().1.headerless);
    }

    #[test]
    fn the_legacy_portal_headers_are_the_user_and_action_columns() {
        let cols = resolve(
            &headers(&["Username", "MFA Status"]),
            &InputOptions::default(),
        )
        .unwrap();
        assert_eq!(
            (cols.user, cols.action),
            (0, Some((1, "MFA Status".into())))
        );
        let err = resolve(
            &headers(&["upn", "action", "MFA Status"]),
            &InputOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.contains("'action' and 'MFA Status' could both be the action column"),
            "{err}"
        );
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
    fn action_flag_over_an_action_column_keeps_the_column_so_its_rows_are_checked() {
        let o = InputOptions {
            action: Some(vec![Action::Enforce]),
            ..InputOptions::default()
        };
        // The column is kept (not ignored): a row with its own action in it is refused when
        // the rows are read (load_tests), an empty one takes --action.
        let cols = resolve(&headers(&["upn", "Name", "Action"]), &o).unwrap();
        assert_eq!(cols.action, Some((2, "Action".to_string())));
        let cols = resolve(&headers(&["upn", "Name"]), &o).unwrap();
        assert_eq!(cols.action, None);
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
