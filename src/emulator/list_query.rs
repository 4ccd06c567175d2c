//! The one binder of the query options of the emulator's list reads (users, groups, a
//! group's members), as Graph treats them (docs/graph.md §9.2): each option decoded, named in
//! any case and given at most once (`400` otherwise); `$skiptoken` read back against the other
//! options it was issued for, which the next link repeats as they were sent. What each option
//! means is the caller's.

use super::graph_error::GraphError;
use super::user_list::{decode, fnv, read_skiptoken};

/// What a caller made of one option.
pub(crate) enum Bound {
    /// Applied: it is part of the query, repeated by the next link.
    Applied,
    /// The `$skiptoken`: where the page starts, once the other options are known.
    SkipToken,
}

/// Where a page starts and what its next link repeats.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Paging {
    /// Where this page starts (from `$skiptoken`).
    pub(crate) offset: usize,
    /// The options as sent (still encoded), less `$skiptoken`: the next link repeats them.
    pub(crate) carried: Vec<String>,
    /// Binds a skip token to the options it was issued for.
    pub(crate) fingerprint: u64,
}

/// Binds a query string (`None`: no query at all): hands each option to `apply` as
/// (lowercase name, name as sent, decoded value), which applies it or says why Graph refuses
/// it.
pub(crate) fn bind(
    query: Option<&str>,
    mut apply: impl FnMut(&str, &str, String) -> Result<Bound, GraphError>,
) -> Result<Paging, GraphError> {
    let mut paging = Paging::default();
    let mut seen: Vec<String> = Vec::new();
    let mut skiptoken = None;
    let mut bound = String::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name)?;
        let value = decode(raw_value)?;
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(GraphError::bad_request(format!(
                "Query option '{name}' was specified more than once, but it must be specified at most once."
            )));
        }
        seen.push(lower.clone());
        // The fingerprint binds the decoded values, so a token survives re-encoding.
        let fingerprinted = format!("{lower}={value}&");
        match apply(&lower, &name, value.clone())? {
            Bound::SkipToken => skiptoken = Some(value),
            Bound::Applied => {
                bound.push_str(&fingerprinted);
                paging.carried.push(pair.to_string());
            }
        }
    }
    paging.fingerprint = fnv(&bound);
    if let Some(token) = skiptoken {
        paging.offset = read_skiptoken(&token, paging.fingerprint)?;
    }
    Ok(paging)
}
