//! Paged directory reads through `$batch`: the first page's URL, then the whole
//! `@odata.nextLink` as it comes (docs/graph.md §9.2: "Do not try to extract the
//! `$skiptoken`"), each page a one-item `$batch` on the same transport as the per-user reads,
//! with `ConsistencyLevel: eventual` in the item's own headers (§5) on every page of an
//! advanced query (the header "is not included by default in subsequent page requests",
//! §9.2). The pages depend on each other
//! (each names the next), so they go one at a time; a 429 waits its `Retry-After`, a transient
//! failure backs off, up to the run's attempts.

use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use crate::engine::transport::Transport;
use crate::graph::{ApiVersion, BatchError, BatchItem, Method};

use super::SelectionError;

/// Characters a query value must have encoded: besides controls and space, those that end or
/// split the value (`&`, `#`, `+` read as a space, `%`) and quotes (docs/graph.md §5: `#`
/// inside a `$filter` needs `%23`).
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>');

/// `value` encoded for a query string.
pub(crate) fn query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// An OData string literal: quoted, an apostrophe doubled (docs/graph.md §5).
pub(crate) fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// One read of a directory URL.
pub(crate) struct Read<'a> {
    /// What is read, for messages: `listing users`, `--group "Sales"`.
    pub(crate) what: &'a str,
    /// Sent with `ConsistencyLevel: eventual` (on every page).
    pub(crate) advanced: bool,
    pub(crate) max_attempts: u32,
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

/// Reads every page from `first_url`, giving each item of each page's `value` to `each`.
/// Returns how many pages were read. A page Graph refuses ends the reading with its error.
pub(crate) async fn for_each_item<T: Transport>(
    transport: &T,
    read: &Read<'_>,
    first_url: String,
    mut each: impl FnMut(&Value) -> Result<(), SelectionError>,
) -> Result<u64, SelectionError> {
    let mut url = Some(first_url);
    let mut pages = 0u64;
    while let Some(u) = url.take() {
        let page = match get(transport, read, &u).await? {
            (status, body) if (200..300).contains(&status) => body,
            (status, body) => return Err(refused(read.what, status, &body)),
        };
        pages += 1;
        let Some(items) = page.get("value").and_then(Value::as_array) else {
            return Err(SelectionError::Malformed(format!(
                "{}: page {pages} has no 'value' array",
                read.what
            )));
        };
        for item in items {
            each(item)?;
        }
        url = match page.get("@odata.nextLink") {
            None | Some(Value::Null) => None,
            Some(link) => Some(link.as_str().and_then(relative_v1_url).ok_or_else(|| {
                SelectionError::Malformed(format!(
                    "{}: page {pages} links to an unusable next page: {link}",
                    read.what
                ))
            })?),
        };
    }
    Ok(pages)
}

/// Graph's refusal of a read, in its own words.
pub(crate) fn refused(what: &str, status: u16, body: &Value) -> SelectionError {
    let field = |k: &str| {
        body.get("error")
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    SelectionError::Graph {
        what: what.to_string(),
        status,
        code: field("code"),
        message: field("message"),
    }
}

/// One GET, with the run's retries: a 429 waits its `Retry-After`, a 5xx or a dropped
/// connection backs off (1 s, 2 s, 4 s …), up to `max_attempts`. Any other answer is
/// returned as it is (status, body).
pub(crate) async fn get<T: Transport>(
    transport: &T,
    read: &Read<'_>,
    url: &str,
) -> Result<(u16, Value), SelectionError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let item = BatchItem {
            id: "1".into(),
            method: Method::Get,
            url: url.to_string(),
            body: None,
            client_request_id: uuid::Uuid::new_v4().to_string(),
            advanced_query: read.advanced,
        };
        let backoff = Duration::from_secs(1 << (attempt - 1).min(5));
        let wait = match transport.batch(ApiVersion::V1, vec![item]).await {
            Ok(reply) => match reply.items.into_iter().next() {
                Some(r) if r.status == 429 || r.status >= 500 => r.retry_after.unwrap_or(backoff),
                Some(r) => return Ok((r.status, r.body)),
                None => backoff,
            },
            Err(BatchError::Throttled { retry_after, .. }) => retry_after.unwrap_or(backoff),
            Err(BatchError::Transport(_)) => backoff,
            Err(e) => {
                return Err(SelectionError::Transport {
                    what: read.what.to_string(),
                    message: e.to_string(),
                });
            }
        };
        if attempt >= read.max_attempts.max(1) {
            return Err(SelectionError::NoAnswer {
                what: read.what.to_string(),
                url: url.to_string(),
                attempts: attempt,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_value_is_encoded_so_graph_reads_it_whole() {
        assert_eq!(
            query_value("mail eq 'o''brien+hr@contoso.com' and x eq '#1&2'"),
            "mail%20eq%20'o''brien%2Bhr@contoso.com'%20and%20x%20eq%20'%231%262'"
        );
    }

    #[test]
    fn an_odata_string_doubles_its_apostrophes() {
        assert_eq!(odata_string("O'Brien's team"), "'O''Brien''s team'");
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
