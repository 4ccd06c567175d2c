//! The users a command works on without an input file: `--all-users` (members;
//! `--include-guests` adds guests), `--filter EXPR` (an OData filter passed to Graph) and
//! `--group NAME|ID` (the users among a group's transitive members), resolved through Graph
//! into a users file before the first user is read or written. A resumed run reads that file
//! back, so it works on the same users whatever the tenant did since, and `plan` shows
//! exactly who.
//!
//! # Layout
//! - `listing`: paged directory reads in one-item `$batch`es, with retries and
//!   `ConsistencyLevel: eventual` where the query is an advanced one.
//! - `group_lookup`: a `--group` found by object id or display name.
//! - `users_file`: the resolved list on disk (written whole, then renamed; read as a stream).
//! - this file: what a selection is, what it needs, and its resolution into a users file.

mod group_lookup;
mod listing;
mod users_file;

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use crate::engine::transport::Transport;

use users_file::UsersWriter;
use users_file::selected_with;
pub(crate) use users_file::{ListedUser, for_each_user, users_path};

/// Properties each listed user carries (`userType` and `accountEnabled` only on `$select`,
/// docs/graph.md §9.1).
const SELECT: &str = "id,userPrincipalName,displayName,userType,accountEnabled";

/// The largest page Graph gives (docs/graph.md §9.2).
const PAGE: usize = 999;

/// Reading users' `userType` and `accountEnabled` (docs/graph.md §9.1): least privileged
/// first.
pub(crate) const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Finding a group and listing its transitive members (docs/graph.md §9.4): the permissions
/// that allow both, least privileged first.
pub(crate) const GROUP_MEMBERS_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Which users, instead of an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// `GET /users`: guests kept only when `guests`; `filter` passed to Graph as it is.
    Users {
        guests: bool,
        filter: Option<String>,
    },
    /// The users among these groups' transitive members (names or object ids), each once,
    /// guests included (they were made members on purpose).
    Groups(Vec<String>),
}

impl Selection {
    /// What each requirement of this selection is (any permission in it enough).
    #[must_use]
    pub(crate) fn permissions(&self) -> &'static [&'static [&'static str]] {
        match self {
            Selection::Users { .. } => &[USER_READ],
            // Members the app may not read as users come back with their id only (§9.4), so
            // the user read is needed besides.
            Selection::Groups(_) => &[GROUP_MEMBERS_READ, USER_READ],
        }
    }

    /// The selection as its flags say it, for messages (control characters escaped).
    #[must_use]
    pub(crate) fn describe(&self) -> String {
        match self {
            Selection::Users {
                guests,
                filter: None,
            } => if *guests {
                "--all-users --include-guests"
            } else {
                "--all-users"
            }
            .to_string(),
            Selection::Users {
                guests,
                filter: Some(f),
            } => format!(
                "{}--filter {f:?}",
                if *guests { "" } else { "--all-users " }
            ),
            Selection::Groups(groups) => groups
                .iter()
                .map(|g| format!("--group {g:?}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl Selection {
    /// The selection as a users file records it: as [`Selection::describe`] says it, the
    /// groups sorted (each once), since their order changes no one's selection.
    #[must_use]
    pub(crate) fn recorded(&self) -> String {
        match self {
            Selection::Groups(groups) => {
                let mut g = groups.clone();
                g.sort();
                g.dedup();
                Selection::Groups(g).describe()
            }
            other => other.describe(),
        }
    }
}

/// Checks a resumed run's selection against the one its users file `path` records. Other
/// flags are refused (exit 2, before anything is sent): the run would act on that file's
/// users, not on the ones these flags select, and a careful admin who changed the flags
/// expects the new ones to count, or at least to be told. Groups may come in any order; text
/// compares exactly (whether Graph matches names and filters in any case is unconfirmed,
/// docs/graph.md §9.2, so `sales` is not taken for `Sales`). A file that records no selection
/// (written by an earlier version) is resumed; the warning returned says so.
pub(crate) fn check_resumed(
    path: &Path,
    selection: &Selection,
) -> Result<Option<String>, crate::error::Error> {
    let recorded = selected_with(path).map_err(crate::error::Error::Other)?;
    let now = selection.recorded();
    match recorded {
        None => Ok(Some(format!(
            "{} does not record which selection made it: resuming on the users it lists, whatever {now} selects now",
            path.display()
        ))),
        Some(first) if first == now => Ok(None),
        Some(first) => Err(crate::error::Error::Usage(format!(
            "--resume: {} lists the users selected with {first}, not {now}; resume with the first run's selection flags (it works on that list), or start over with --overwrite",
            path.display()
        ))),
    }
}

/// Why a selection could not be resolved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelectionError {
    #[error("{what}: Graph answered {status} {code}: {message}{}", hint(*.status))]
    Graph {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{what}: no answer to {url} after {attempts} attempts")]
    NoAnswer {
        what: String,
        url: String,
        attempts: u32,
    },
    #[error("{what}: {message}")]
    Transport { what: String, message: String },
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    File(String),
    /// A `--group` that names no group: the user's to fix.
    #[error("--group {given:?}: {}", if *by_id { "no group has this object id" } else { "no group has this display name" })]
    NoSuchGroup { given: String, by_id: bool },
    /// A `--group` display name that several groups have.
    #[error("--group {given:?}: {} groups have this display name ({}); name the one meant by its object id", ids.len(), ids.join(", "))]
    AmbiguousGroup { given: String, ids: Vec<String> },
}

fn hint(status: u16) -> &'static str {
    if status == 403 {
        " (the app needs the permissions `mfa-rollout check` lists, with admin consent)"
    } else {
        ""
    }
}

impl SelectionError {
    /// Whether the user named something that is not there (exit 2) rather than Graph or the
    /// disk failing.
    #[must_use]
    pub(crate) fn is_usage(&self) -> bool {
        matches!(
            self,
            SelectionError::NoSuchGroup { .. } | SelectionError::AmbiguousGroup { .. }
        )
    }
}

impl From<SelectionError> for crate::error::Error {
    fn from(e: SelectionError) -> Self {
        if e.is_usage() {
            crate::error::Error::Usage(e.to_string())
        } else {
            crate::error::Error::Other(e.to_string())
        }
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn listed(item: &Value) -> ListedUser {
    ListedUser {
        id: text(item, "id"),
        upn: text(item, "userPrincipalName"),
        display_name: text(item, "displayName"),
        user_type: text(item, "userType"),
        account_enabled: text(item, "accountEnabled"),
    }
}

/// The first `GET /users` page of a users selection.
fn users_url(filter: Option<&str>) -> String {
    let mut url = format!("/users?$select={SELECT}&$top={PAGE}");
    if let Some(f) = filter {
        url.push_str("&$filter=");
        url.push_str(&listing::query_value(f));
    }
    url
}

/// The first page of a group's transitive members that are users: a cast, so an advanced
/// query (`$count=true` here, `ConsistencyLevel: eventual` on every page; docs/graph.md §9.4).
fn members_url(group_id: &str) -> String {
    format!(
        "/groups/{}/transitiveMembers/microsoft.graph.user?$select={SELECT}&$top={PAGE}&$count=true",
        listing::query_value(group_id)
    )
}

/// Resolves `selection` into the users file `path` (through a temp file renamed at the end)
/// and returns how many users it lists. Nothing is read per user, nothing is written to the
/// tenant. A user reached through several groups (or nested groups) is listed once.
pub(crate) async fn resolve<T: Transport>(
    transport: &T,
    selection: &Selection,
    max_attempts: u32,
    path: &Path,
) -> Result<u64, SelectionError> {
    let mut out = UsersWriter::create(path, &selection.recorded()).map_err(SelectionError::File)?;
    let no_id = |what: &str| SelectionError::Malformed(format!("{what}: a user without an id"));
    match selection {
        Selection::Users { guests, filter } => {
            let read = listing::Read {
                what: "listing users",
                advanced: false,
                max_attempts,
            };
            listing::for_each_item(transport, &read, users_url(filter.as_deref()), |item| {
                let user = listed(item);
                if user.id.is_empty() {
                    return Err(no_id(read.what));
                }
                // Members only unless guests are asked for; a user whose type Graph does not
                // give is kept, never silently dropped.
                if !guests && user.user_type.eq_ignore_ascii_case("Guest") {
                    return Ok(());
                }
                out.push(&user).map_err(SelectionError::File)
            })
            .await?;
        }
        Selection::Groups(groups) => {
            let mut seen: HashSet<String> = HashSet::new();
            for given in groups {
                let group = group_lookup::find(transport, given, max_attempts).await?;
                let what = format!("--group {given:?}: its members");
                let read = listing::Read {
                    what: &what,
                    advanced: true,
                    max_attempts,
                };
                listing::for_each_item(transport, &read, members_url(&group.id), |item| {
                    let user = listed(item);
                    if user.id.is_empty() {
                        return Err(no_id(read.what));
                    }
                    // Graph lists each nested member once per group; across groups (and in
                    // case a page repeats one) the first listing counts.
                    if !seen.insert(user.id.to_ascii_lowercase()) {
                        return Ok(());
                    }
                    out.push(&user).map_err(SelectionError::File)
                })
                .await?;
            }
        }
    }
    out.finish().map_err(SelectionError::File)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pages_select_what_the_files_need_and_a_cast_asks_for_the_count() {
        assert_eq!(
            users_url(Some("accountEnabled eq true")),
            "/users?$select=id,userPrincipalName,displayName,userType,accountEnabled&$top=999&$filter=accountEnabled%20eq%20true"
        );
        assert_eq!(
            members_url("6f1c0a9e-0000-4000-8000-000000000001"),
            "/groups/6f1c0a9e-0000-4000-8000-000000000001/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName,displayName,userType,accountEnabled&$top=999&$count=true"
        );
    }

    #[test]
    fn a_resume_must_give_the_selection_its_users_file_records_its_groups_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.csv.users");
        let groups = |g: &[&str]| Selection::Groups(g.iter().map(|s| s.to_string()).collect());
        let first = groups(&["Staff", "Leads", "Staff"]);
        UsersWriter::create(&path, &first.recorded())
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(first.recorded(), r#"--group "Leads" --group "Staff""#);
        assert!(
            check_resumed(&path, &groups(&["Leads", "Staff"]))
                .unwrap()
                .is_none()
        );
        assert!(check_resumed(&path, &groups(&["leads", "Staff"])).is_err());
        let err = check_resumed(&path, &groups(&["Leads"])).unwrap_err();
        assert_eq!(err.code(), 2);
        assert_eq!(
            err.to_string(),
            format!(
                r#"--resume: {} lists the users selected with --group "Leads" --group "Staff", not --group "Leads"; resume with the first run's selection flags (it works on that list), or start over with --overwrite"#,
                path.display()
            )
        );
        let members = Selection::Users {
            guests: false,
            filter: None,
        };
        UsersWriter::create(
            &path,
            &Selection::Users {
                guests: true,
                filter: None,
            }
            .recorded(),
        )
        .unwrap()
        .finish()
        .unwrap();
        let err = check_resumed(&path, &members).unwrap_err().to_string();
        assert!(
            err.contains("selected with --all-users --include-guests, not --all-users;"),
            "{err}"
        );
        // A file without the record (an earlier version's) is resumed, with a warning.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.split_once('\n').unwrap().1).unwrap();
        let warning = check_resumed(&path, &members).unwrap().unwrap();
        assert!(
            warning.contains("does not record which selection"),
            "{warning}"
        );
    }

    #[test]
    fn a_selection_describes_itself_as_its_flags_and_escapes_control_characters() {
        let s = Selection::Groups(vec!["Sales".into(), "a\u{7}b".into()]);
        assert_eq!(s.describe(), r#"--group "Sales" --group "a\u{7}b""#);
        let s = Selection::Users {
            guests: false,
            filter: Some("accountEnabled eq true".into()),
        };
        assert_eq!(
            s.describe(),
            r#"--all-users --filter "accountEnabled eq true""#
        );
    }
}
