//! The users an export covers: `GET /users` page by page (`$select` of the five listed
//! properties, `$top=999`, the whole `@odata.nextLink` followed as it comes; docs/graph.md
//! §9.2), each page a one-item `$batch` on the same transport as the per-user reads. The pages
//! depend on each other (each names the next), so they go one at a time; a 429 waits its
//! `Retry-After`, a transient failure backs off, up to the run's attempts. The list is written
//! to `FILE.users` (a temp file renamed once the last page is in) before the first user is
//! read, so `--resume` works on the same users even if the tenant changed meanwhile.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use crate::engine::transport::Transport;
use crate::graph::{ApiVersion, BatchError, BatchItem, Method};
use crate::journal::neutralize;

use super::export_file::ListedUser;

/// Properties each listed user carries (`userType` and `accountEnabled` only on `$select`,
/// docs/graph.md §9.1).
const SELECT: &str = "id,userPrincipalName,displayName,userType,accountEnabled";

/// The largest page Graph gives (docs/graph.md §9.2).
const PAGE: usize = 999;

/// Characters a `$filter` value must have encoded in a query string: besides controls and
/// space, those that end or split the value (`&`, `#`, `+` read as a space, `%`) and quotes.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>');

/// The users file beside `out`: `out.users`.
pub(crate) fn users_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".users");
    PathBuf::from(name)
}

/// Which users to list.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserQuery {
    /// `--filter`: an OData filter passed to Graph as it is (encoded for the query string).
    pub(crate) filter: Option<String>,
    /// Keep guests (`userType` Guest); without, members only.
    pub(crate) guests: bool,
}

impl UserQuery {
    fn first_url(&self) -> String {
        let mut url = format!("/users?$select={SELECT}&$top={PAGE}");
        if let Some(f) = &self.filter {
            url.push_str("&$filter=");
            url.push_str(&utf8_percent_encode(f, QUERY_VALUE).to_string());
        }
        url
    }
}

/// The part of an `@odata.nextLink` to send inside a v1.0 `$batch`: everything after the
/// `/v1.0` segment, the query whole (never rebuilt).
fn relative_v1_url(link: &str) -> Option<String> {
    let url = reqwest::Url::parse(link).ok()?;
    let at = url.path().find("/v1.0/")?;
    let rest = &url.path()[at + "/v1.0".len()..];
    Some(match url.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Lists the users of `query` into `path` (through a temp file renamed at the end), and
/// returns how many. A page Graph refuses ends the listing with its error: nothing is read.
pub(crate) async fn list_users<T: Transport>(
    transport: &T,
    query: &UserQuery,
    max_attempts: u32,
    path: &Path,
) -> Result<u64, String> {
    let mut tmp_name = path.as_os_str().to_os_string();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let file =
        std::fs::File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let io = |e: std::io::Error| format!("cannot write {}: {e}", tmp.display());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "userPrincipalName",
        "displayName",
        "userType",
        "accountEnabled",
    ])
    .map_err(|e| e.to_string())?;
    out.write_all(&w.into_inner().map_err(|e| e.to_string())?)
        .map_err(io)?;
    let mut url = Some(query.first_url());
    let mut listed = 0u64;
    let mut pages = 0u64;
    while let Some(u) = url.take() {
        let page = get_page(transport, &u, max_attempts).await?;
        pages += 1;
        let Some(items) = page.get("value").and_then(Value::as_array) else {
            return Err(format!(
                "page {pages} of the user list has no 'value' array"
            ));
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        for item in items {
            let user = ListedUser {
                id: text(item, "id"),
                upn: text(item, "userPrincipalName"),
                display_name: text(item, "displayName"),
                user_type: text(item, "userType"),
                account_enabled: text(item, "accountEnabled"),
            };
            if user.id.is_empty() {
                return Err(format!(
                    "page {pages} of the user list has a user without an id"
                ));
            }
            // Members only unless guests are asked for; a user whose type Graph does not
            // give is kept, never silently dropped.
            if !query.guests && user.user_type.eq_ignore_ascii_case("Guest") {
                continue;
            }
            w.write_record(
                [
                    &user.id,
                    &user.upn,
                    &user.display_name,
                    &user.user_type,
                    &user.account_enabled,
                ]
                .map(|c| neutralize(c).into_owned()),
            )
            .map_err(|e| e.to_string())?;
            listed += 1;
        }
        out.write_all(&w.into_inner().map_err(|e| e.to_string())?)
            .map_err(io)?;
        url = match page.get("@odata.nextLink") {
            None => None,
            Some(link) => Some(link.as_str().and_then(relative_v1_url).ok_or_else(|| {
                format!("page {pages} of the user list links to an unusable next page: {link}")
            })?),
        };
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(listed)
}

/// One page, with the run's retries: a 429 waits its `Retry-After`, a 5xx or a dropped
/// connection backs off (1 s, 2 s, 4 s …), up to `max_attempts`.
async fn get_page<T: Transport>(
    transport: &T,
    url: &str,
    max_attempts: u32,
) -> Result<Value, String> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let item = BatchItem {
            id: "1".into(),
            method: Method::Get,
            url: url.to_string(),
            body: None,
            client_request_id: uuid::Uuid::new_v4().to_string(),
        };
        let backoff = Duration::from_secs(1 << (attempt - 1).min(5));
        let wait = match transport.batch(ApiVersion::V1, vec![item]).await {
            Ok(reply) => match reply.items.into_iter().next() {
                Some(r) if (200..300).contains(&r.status) => return Ok(r.body),
                Some(r) if r.status == 429 => r.retry_after.unwrap_or(backoff),
                Some(r) if r.status >= 500 => r.retry_after.unwrap_or(backoff),
                Some(r) => {
                    let e = r.error().unwrap_or_default();
                    let hint = if r.status == 403 {
                        " (the app needs User.Read.All, with admin consent)"
                    } else {
                        ""
                    };
                    return Err(format!(
                        "listing users: Graph answered {} {}: {}{hint}",
                        r.status, e.code, e.message
                    ));
                }
                None => backoff,
            },
            Err(BatchError::Throttled { retry_after, .. }) => retry_after.unwrap_or(backoff),
            Err(BatchError::Transport(_)) => backoff,
            Err(e) => return Err(format!("listing users: {e}")),
        };
        if attempt >= max_attempts.max(1) {
            return Err(format!(
                "listing users: no answer to {url} after {attempt} attempts"
            ));
        }
        tokio::time::sleep(wait).await;
    }
}

/// Reads a users file back, in listing order.
pub(crate) fn read_users(path: &Path) -> Result<Vec<ListedUser>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, r) in reader.records().enumerate() {
        let r = r.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 2))?;
        let c = |i: usize| {
            r.get(i)
                .map(|s| crate::journal::restore_cell(s).to_string())
                .unwrap_or_default()
        };
        out.push(ListedUser {
            id: c(0),
            upn: c(1),
            display_name: c(2),
            user_type: c(3),
            account_enabled: c(4),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_encoded_so_graph_reads_it_whole() {
        let q = UserQuery {
            filter: Some("mail eq 'o''brien+hr@contoso.com' and x eq '#1&2'".into()),
            guests: true,
        };
        let url = q.first_url();
        assert_eq!(
            url,
            "/users?$select=id,userPrincipalName,displayName,userType,accountEnabled&$top=999&$filter=mail%20eq%20'o''brien%2Bhr@contoso.com'%20and%20x%20eq%20'%231%262'"
        );
    }

    #[test]
    fn next_links_become_relative_with_their_query_whole() {
        assert_eq!(
            relative_v1_url("https://graph.microsoft.com/v1.0/users?$top=999&$skiptoken=X1-2")
                .as_deref(),
            Some("/users?$top=999&$skiptoken=X1-2")
        );
        assert_eq!(
            relative_v1_url("https://graph.microsoft.com/beta/users"),
            None
        );
    }
}
