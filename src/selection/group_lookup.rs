//! A `--group NAME|ID` found in the tenant: an object id (a GUID) is read as
//! `GET /groups/{id}`; anything else is a display name, looked up with
//! `GET /groups?$filter=displayName eq '…'` (a Default filter, docs/graph.md §9.4; the
//! apostrophe doubled, §5). No group, or several groups of that name, is the user's to fix:
//! the run stops before any user is read.

use serde_json::Value;

use crate::engine::transport::Transport;

use super::SelectionError;
use super::listing::{self, Read};

/// A group found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundGroup {
    pub(crate) id: String,
    pub(crate) display_name: String,
}

fn found(v: &Value) -> Option<FoundGroup> {
    Some(FoundGroup {
        id: v.get("id")?.as_str()?.to_string(),
        display_name: v
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

/// Finds the group `given` names.
pub(crate) async fn find<T: Transport>(
    transport: &T,
    given: &str,
    max_attempts: u32,
) -> Result<FoundGroup, SelectionError> {
    let what = format!("--group {given:?}");
    let read = Read {
        what: &what,
        advanced: false,
        max_attempts,
    };
    let given_trimmed = given.trim();
    if uuid::Uuid::parse_str(given_trimmed).is_ok() {
        let url = format!(
            "/groups/{}?$select=id,displayName",
            listing::query_value(given_trimmed)
        );
        return match listing::get(transport, &read, &url).await? {
            (200..=299, body) => found(&body).ok_or_else(|| {
                SelectionError::Malformed(format!("{what}: the group came back without an id"))
            }),
            (404, _) => Err(SelectionError::NoSuchGroup {
                given: given.to_string(),
                by_id: true,
            }),
            (status, body) => Err(listing::refused(&what, status, &body)),
        };
    }
    let filter = format!("displayName eq {}", listing::odata_string(given_trimmed));
    let url = format!(
        "/groups?$filter={}&$select=id,displayName&$top=999",
        listing::query_value(&filter)
    );
    let mut groups = Vec::new();
    listing::for_each_item(transport, &read, url, |item| {
        groups.push(found(item).ok_or_else(|| {
            SelectionError::Malformed(format!("{what}: a group came back without an id"))
        })?);
        Ok(())
    })
    .await?;
    match groups.len() {
        0 => Err(SelectionError::NoSuchGroup {
            given: given.to_string(),
            by_id: false,
        }),
        1 => Ok(groups.remove(0)),
        _ => Err(SelectionError::AmbiguousGroup {
            given: given.to_string(),
            ids: groups.into_iter().map(|g| g.id).collect(),
        }),
    }
}
