//! Paging of `GET /users/{key}/authentication/methods`: Graph may answer a collection in
//! pages linked by `@odata.nextLink`, which a client must follow whole (docs/graph.md §9.2,
//! paging). Microsoft does not say when this list pages, so the emulator pages it at the
//! tenant's `methods_page_size` (docs/tenant-format.md). The list "does not support optional
//! query parameters" (docs/graph.md §2): the only query it takes is the `$skiptoken` of its
//! own next links.

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::graph_error::GraphError;

/// Where a page starts, read from the request's query.
pub(crate) fn offset_from_query(query: Option<&str>, user_id: &str) -> Result<usize, GraphError> {
    let mut offset = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode_str(name).decode_utf8_lossy();
        if !name.eq_ignore_ascii_case("$skiptoken") || offset.is_some() {
            return Err(GraphError::new(
                400,
                "BadRequest",
                format!(
                    "Query option '{name}' is not allowed: listing authentication methods does not support optional query parameters."
                ),
            ));
        }
        offset = Some(decode_token(value, user_id)?);
    }
    Ok(offset.unwrap_or(0))
}

/// One page of `items` from `offset`, with `@odata.nextLink` when more follow. `link_base`
/// is the absolute URL of the list (`{base}/{version}/users/{id}/authentication/methods`).
pub(crate) fn page(
    mut items: Vec<Value>,
    offset: usize,
    size: usize,
    user_id: &str,
    link_base: &str,
) -> Value {
    let size = size.max(1);
    let total = items.len();
    let end = offset.saturating_add(size).min(total);
    let start = offset.min(end);
    let rest: Vec<Value> = items.drain(start..end).collect();
    let mut out = json!({ "value": rest });
    if end < total {
        out["@odata.nextLink"] = json!(format!(
            "{link_base}?$skiptoken={}",
            encode_token(end, user_id)
        ));
    }
    out
}

/// Opaque to clients, checked here: the offset and the user it belongs to.
fn encode_token(offset: usize, user_id: &str) -> String {
    format!("M{offset:06x}{}", user_id.replace('-', ""))
}

fn decode_token(token: &str, user_id: &str) -> Result<usize, GraphError> {
    let bad = || {
        GraphError::new(
            400,
            "BadRequest",
            "The $skiptoken is not valid for this request; follow @odata.nextLink whole.",
        )
    };
    let rest = token.strip_prefix('M').ok_or_else(bad)?;
    let (hex, owner) = (
        rest.get(..6).ok_or_else(bad)?,
        rest.get(6..).ok_or_else(bad)?,
    );
    if !owner.eq_ignore_ascii_case(&user_id.replace('-', "")) {
        return Err(bad());
    }
    usize::from_str_radix(hex, 16).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10";

    #[test]
    fn pages_link_to_the_rest_and_the_last_page_has_no_link() {
        let items: Vec<Value> = (0..5).map(|i| json!({ "id": i })).collect();
        let first = page(
            items.clone(),
            0,
            2,
            ID,
            "http://h/beta/users/x/authentication/methods",
        );
        assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
        let link = first["@odata.nextLink"].as_str().unwrap();
        let query = link.split_once('?').unwrap().1;
        let offset = offset_from_query(Some(query), ID).unwrap();
        assert_eq!(offset, 2);
        let last = page(items, 4, 2, ID, "x");
        assert_eq!(last["value"][0]["id"], 4);
        assert!(last.get("@odata.nextLink").is_none());
    }

    #[test]
    fn other_query_options_and_foreign_tokens_are_400() {
        assert!(offset_from_query(Some("$select=id"), ID).is_err());
        assert!(offset_from_query(Some("$top=5"), ID).is_err());
        let other = encode_token(2, "11111111-1111-4111-8111-111111111111");
        assert!(offset_from_query(Some(&format!("$skiptoken={other}")), ID).is_err());
        assert!(offset_from_query(Some("$skiptoken=zz"), ID).is_err());
        assert_eq!(offset_from_query(None, ID).unwrap(), 0);
    }
}
