//! Protected accounts from the command line: `--exclude FILE` (UPNs or object ids, in any
//! layout the input reader takes: a bare list with or without a header, a user column among
//! others, CSV or XLSX), `--exclude-user KEY` (repeatable), and the signed-in admin of a
//! delegated run (kept out of disable, reset-methods and revoke-sessions unless
//! `--include-self`). When the run's rows and the exclusions name users in different ways
//! (object ids against UPNs), each excluded user is read once from the tenant before anything
//! is changed, so it is known by both and an exclusion written one way protects a row written
//! the other way.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::action::Action;
use crate::engine::Protected;
use crate::engine::protected::SELF_LOCKING;
use crate::error::Error;
use crate::graph::{
    ApiVersion, BatchError, BatchItem, GraphClient, ItemResponse, Method, RetryClass, user_path,
};
use crate::input::{self, InputError, InputOptions, UserKind, is_object_id, shown};

/// Reads of excluded users per `$batch` (Graph's limit, docs/graph.md §5).
const PER_BATCH: usize = 20;
/// Sends of a read answered 429 or 5xx before the run gives up (nothing changed yet).
const ATTEMPTS: u32 = 6;

/// What the command line asks to protect, checked: the excluded keys as given, and whether
/// the signed-in admin is kept out of self-locking actions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exclusions {
    pub(crate) keys: Vec<String>,
    pub(crate) include_self: bool,
}

/// Reads `--exclude FILE` and checks each `--exclude-user KEY`: one line naming the flag, the
/// file and the row when one is not a UPN or an object id; nothing is sent before.
pub(crate) fn load(file: Option<&Path>, users: &[String]) -> Result<Vec<String>, Error> {
    let mut keys = Vec::new();
    if let Some(path) = file {
        keys.extend(read_file(path)?);
    }
    for key in users {
        let trimmed = key.trim();
        input::check_user(trimmed)
            .map_err(|why| Error::Usage(format!("--exclude-user '{}': {why}", shown(trimmed))))?;
        keys.push(trimmed.to_string());
    }
    Ok(keys)
}

/// The user keys of an exclude file. The input reader finds the user column by its header; a
/// file with no recognised header (a bare list, or a list under a title of its own) is read
/// again as one column A, whose first cell is data when it is a user key.
fn read_file(path: &Path) -> Result<Vec<String>, Error> {
    let options = InputOptions {
        // Only the user column matters: every row gets a placeholder action.
        action: Some(vec![Action::Enable]),
        user_list: true,
        ..InputOptions::default()
    };
    let loaded = match input::load(path, &options) {
        Err(InputError::Format { .. }) => {
            let column_a = InputOptions {
                user_column: Some("A".into()),
                ..options.clone()
            };
            // The first error names the headers and the aliases, which a retry cannot.
            input::load(path, &column_a).or_else(|e| match e {
                InputError::Problems(_) => Err(e),
                _ => input::load(path, &options),
            })
        }
        other => other,
    }
    .map_err(|e| refused_file(path, e))?;
    if loaded.user_kind == UserKind::Mail {
        return Err(Error::Usage(format!(
            "--exclude {}: column '{}' holds mail addresses; list the protected users by UPN or object id",
            shown(&path.display().to_string()),
            shown(&loaded.user_column)
        )));
    }
    Ok(loaded.jobs.into_iter().map(|j| j.user).collect())
}

/// An exclude file that cannot be used, in one line naming the flag, the file and the row.
fn refused_file(path: &Path, e: InputError) -> Error {
    let file = shown(&path.display().to_string());
    let why = match e {
        InputError::Problems(problems) => {
            let more = match problems.len() {
                0 | 1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            let first = problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{first}{more}")
        }
        InputError::Format { message, .. } => message,
        InputError::Unreadable { source, .. } => format!("cannot read it: {source}"),
    };
    Error::Usage(format!("--exclude {file}: {why}; nothing was sent"))
}

/// Whether matching `excluded` against rows keyed by `row_keys` needs the excluded users
/// read: some exclusion is an object id and some row a UPN, or the other way round. Rows
/// looked up by mail need none: they are matched by the id and the UPN found for them.
pub(crate) fn needs_lookup<'a>(
    excluded: &[String],
    by_mail: bool,
    row_keys: impl IntoIterator<Item = &'a str>,
) -> bool {
    if excluded.is_empty() || by_mail {
        return false;
    }
    let by_id = excluded.iter().any(|k| is_object_id(k));
    let by_upn = excluded.iter().any(|k| !is_object_id(k));
    row_keys
        .into_iter()
        .any(|k| if is_object_id(k) { by_upn } else { by_id })
}

/// Reads each excluded user (`GET /users/{key}?$select=id,userPrincipalName`, docs/graph.md
/// §9.1) and returns every key it is known by: the keys as given, plus the id and UPN found.
/// A key the tenant does not know stays protected by its text (a warning says so); any other
/// failure stops the run before a change is made.
pub(crate) async fn resolve(
    client: &GraphClient,
    keys: &[String],
    quiet: bool,
) -> Result<Vec<String>, Error> {
    let mut known: Vec<String> = keys.to_vec();
    for chunk in keys.chunks(PER_BATCH) {
        let mut pending: Vec<(usize, &String)> = chunk.iter().enumerate().collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let items: Vec<BatchItem> = pending
                .iter()
                .map(|(i, key)| BatchItem {
                    id: (i + 1).to_string(),
                    method: Method::Get,
                    url: format!("{}?$select=id,userPrincipalName", user_path(key)),
                    body: None,
                    client_request_id: uuid::Uuid::new_v4().to_string(),
                    advanced_query: false,
                })
                .collect();
            let mut wait = backoff(attempt);
            let mut again = Vec::new();
            match client.batch(ApiVersion::V1, &items).await {
                Ok(reply) => {
                    for (i, key) in pending {
                        let id = (i + 1).to_string();
                        let Some(answer) = reply.items.iter().find(|a| a.id == id) else {
                            again.push((i, key));
                            continue;
                        };
                        match (answer.status, RetryClass::of(answer.status)) {
                            (200..=299, _) => known.extend(found_keys(key, answer)?),
                            (404, _) => {
                                if !quiet {
                                    eprintln!(
                                        "warning: --exclude: the tenant has no user '{}'; rows naming it are skipped all the same",
                                        shown(key)
                                    );
                                }
                            }
                            (_, RetryClass::Throttled | RetryClass::Transient) => {
                                if let Some(after) = answer.retry_after {
                                    wait = wait.max(after);
                                }
                                again.push((i, key));
                            }
                            (status, RetryClass::Final) => {
                                return Err(refused_read(key, status, answer));
                            }
                        }
                    }
                }
                Err(BatchError::Throttled { retry_after, .. }) => {
                    if let Some(after) = retry_after {
                        wait = wait.max(after);
                    }
                    again = pending;
                }
                Err(BatchError::Transport(_)) => again = pending,
                Err(BatchError::Auth(message)) => {
                    return Err(Error::Auth(format!(
                        "cannot read the excluded users: {message}; nothing was changed"
                    )));
                }
                Err(e @ BatchError::Rejected { .. }) => {
                    return Err(Error::Other(format!(
                        "cannot read the excluded users: {}; nothing was changed",
                        shown(&e.to_string())
                    )));
                }
            }
            if again.is_empty() {
                break;
            }
            if attempt >= ATTEMPTS {
                return Err(Error::Other(format!(
                    "cannot read the excluded user '{}' after {ATTEMPTS} attempts (Graph kept answering 429 or 5xx); nothing was changed",
                    shown(again[0].1)
                )));
            }
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
            pending = again;
        }
    }
    Ok(known)
}

/// The id and UPN in a 2xx answer to the read of `key`; an answer without them is a server
/// fault the run cannot protect around, so it stops (nothing changed yet).
fn found_keys(key: &str, answer: &ItemResponse) -> Result<Vec<String>, Error> {
    let field = |name: &str| {
        answer
            .body
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match (field("id"), field("userPrincipalName")) {
        (Some(id), Some(upn)) => Ok(vec![id, upn]),
        _ => Err(Error::Other(format!(
            "cannot read the excluded user '{}': Graph answered HTTP {} without its id and userPrincipalName; nothing was changed",
            shown(key),
            answer.status
        ))),
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(attempt.min(8)))
}

/// A read of an excluded user refused for good (403 and the like): exit 3 for a permission,
/// otherwise a plain error; either way before any change.
fn refused_read(key: &str, status: u16, answer: &ItemResponse) -> Error {
    let (code, message) = answer
        .error()
        .map_or_else(|| (String::new(), String::new()), |e| (e.code, e.message));
    let what = format!(
        "cannot read the excluded user '{}' (HTTP {status} {}: {}), so the run cannot tell which rows it protects; nothing was changed",
        shown(key),
        shown(&code),
        shown(&message)
    );
    if matches!(status, 401 | 403) {
        Error::Auth(format!(
            "{what}. Reading users takes User.Read.All (docs: user-get), or list the exclusions the way the input names users (UPNs or object ids)"
        ))
    } else {
        Error::Other(what)
    }
}

/// The signed-in admin's keys (object id and UPN, from the token's `oid` and `upn` claims,
/// docs/graph.md §7), which a delegated run (device code, or a user's token) keeps out of
/// disable, reset-methods and revoke-sessions unless `--include-self`: revoking its sessions
/// would void the run's own refresh token halfway. Empty when nothing needs protecting.
pub(crate) async fn own_account(
    client: &GraphClient,
    device_code: bool,
    include_self: bool,
    actions: &BTreeSet<Action>,
) -> Result<Vec<String>, Error> {
    if include_self || !actions.iter().any(|a| SELF_LOCKING.contains(a)) {
        return Ok(Vec::new());
    }
    let claims = client.tokens().claims().await.ok();
    let delegated = device_code
        || claims
            .as_ref()
            .is_some_and(|c| !c.scopes.is_empty() && c.roles.is_empty());
    if !delegated {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = claims
        .into_iter()
        .flat_map(|c| [c.object_id, c.user_name])
        .flatten()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Err(Error::Auth(
            "cannot tell which account is signed in (the token has no oid or upn claim), so the run cannot keep it out of disable, reset-methods and revoke-sessions; pass --include-self to run them on every row, that account's too".into(),
        ));
    }
    Ok(keys)
}

/// Everything the run protects: the excluded users (read first when rows and exclusions name
/// users differently) and the signed-in admin. Asked of the tenant only once signed in.
pub(crate) async fn protected(
    client: &GraphClient,
    exclusions: &Exclusions,
    lookup: bool,
    device_code: bool,
    actions: &BTreeSet<Action>,
    quiet: bool,
) -> Result<Protected, Error> {
    let known = if lookup {
        resolve(client, &exclusions.keys, quiet).await?
    } else {
        exclusions.keys.clone()
    };
    let own = own_account(client, device_code, exclusions.include_self, actions).await?;
    Ok(Protected::new(
        known.iter().map(String::as_str),
        own.iter().map(String::as_str),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5f1c7a52-3c1e-4b7e-9d0e-2f7a1b2c3d4e";

    #[test]
    fn lookups_are_needed_only_when_exclusions_and_rows_name_users_differently() {
        let upns = vec!["bg@contoso.com".to_string()];
        let ids = vec![ID.to_string()];
        assert!(!needs_lookup(&upns, false, ["a@contoso.com"]));
        assert!(!needs_lookup(&ids, false, [ID]));
        assert!(needs_lookup(&ids, false, ["a@contoso.com"]));
        assert!(needs_lookup(&upns, false, [ID]));
        assert!(!needs_lookup(&ids, true, ["a@mail.contoso.com"]));
        assert!(!needs_lookup(&[], true, ["a@contoso.com", ID]));
    }

    #[test]
    fn exclude_user_refuses_what_is_not_a_user_key_naming_the_flag_escaped() {
        let e = load(None, &["not a user\u{200b}".to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--exclude-user '"), "{e}");
        assert!(!e.contains('\u{200b}'), "{e}");
        assert_eq!(e.lines().count(), 1);
        assert_eq!(load(None, &[format!(" {ID} ")]).unwrap(), [ID.to_string()]);
    }

    #[test]
    fn an_exclude_file_is_a_bare_list_or_a_column_and_a_bad_row_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let bare = write("bare.csv", &format!("bg1@contoso.com\n{ID}\n"));
        assert_eq!(
            load(Some(&bare), &[]).unwrap(),
            ["bg1@contoso.com".to_string(), ID.to_string()]
        );
        let titled = write("titled.csv", "Break-glass accounts\nbg1@contoso.com\n");
        assert_eq!(
            load(Some(&titled), &[]).unwrap(),
            ["bg1@contoso.com".to_string()]
        );
        let with_header = write("upn.csv", "UPN\nbg1@contoso.com\n");
        assert_eq!(
            load(Some(&with_header), &[]).unwrap(),
            ["bg1@contoso.com".to_string()]
        );
        // An action column among others is not the run's: it is not read.
        let table = write(
            "table.csv",
            "Name,UPN,Action\nBreak glass,bg1@contoso.com,keep\nOther,bg2@contoso.com,\n",
        );
        assert_eq!(
            load(Some(&table), &[]).unwrap(),
            ["bg1@contoso.com".to_string(), "bg2@contoso.com".to_string()]
        );
        let bad = write("bad.csv", "upn\nbg1@contoso.com\nnot a user\nalso bad\n");
        let e = load(Some(&bad), &[]).unwrap_err().to_string();
        assert!(e.starts_with("--exclude ") && e.contains("bad.csv"), "{e}");
        assert!(e.contains("row 3"), "{e}");
        assert!(e.contains("(and 1 more)"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let bare_bad = write("bare-bad.csv", "bg1@contoso.com\nnot a user\n");
        let e = load(Some(&bare_bad), &[]).unwrap_err().to_string();
        assert!(e.contains("row 2"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let mail = write("mail.csv", "mail\nbg@contoso.com\n");
        let e = load(Some(&mail), &[]).unwrap_err().to_string();
        assert!(e.contains("mail addresses"), "{e}");
        let empty = write("empty.csv", "");
        let e = load(Some(&empty), &[]).unwrap_err().to_string();
        assert!(
            e.starts_with("--exclude ") && e.contains("empty.csv"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        let missing = dir.path().join("missing.csv");
        let e = load(Some(&missing), &[]).unwrap_err().to_string();
        assert!(
            e.contains("missing.csv") && e.contains("cannot read"),
            "{e}"
        );
    }
}
