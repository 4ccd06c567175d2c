//! What one request costs in resource units, as the identity throttling table reads
//! (docs/graph.md §6, §9.5): a base cost per path (`GET users` 2, `GET groups/{id}/members` 3,
//! `GET groups/{id}/transitiveMembers` 5, anything else 1), then `$select` −1, `$expand` +1,
//! `$top` below 20 −1, never below 1. An OData cast (`…/transitiveMembers/microsoft.graph.user`)
//! costs what its path without the cast costs: the table lists no cast, and the stricter
//! reading charges the listed path (docs/tenant-format.md).

use percent_encoding::percent_decode_str;

/// The resource units of `method` on `path` (relative to the version, no leading slash, no
/// query) with the query options `query`.
pub(crate) fn resource_units(method: &str, path: &str, query: Option<&str>) -> u32 {
    let base: i64 = if method.eq_ignore_ascii_case("GET") {
        base_get_cost(path)
    } else {
        1
    };
    let mut cost = base;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode_str(name)
            .decode_utf8_lossy()
            .to_ascii_lowercase();
        match name.as_str() {
            "$select" => cost -= 1,
            "$expand" => cost += 1,
            "$top" if value.trim().parse::<i64>().is_ok_and(|n| n < 20) => cost -= 1,
            _ => {}
        }
    }
    cost.max(1) as u32
}

fn base_get_cost(path: &str) -> i64 {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let segments: Vec<String> = decoded
        .trim_end_matches('/')
        .split('/')
        .map(str::to_ascii_lowercase)
        .collect();
    match segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["users"] => 2,
        ["groups", _, "members", ..] => 3,
        ["groups", _, "transitivemembers", ..] => 5,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_requests_cost_what_the_throttling_table_says() {
        assert_eq!(resource_units("GET", "users", None), 2);
        assert_eq!(resource_units("GET", "users", Some("$select=id")), 1);
        assert_eq!(
            resource_units("GET", "users", Some("$top=999&$select=id,userType")),
            1
        );
        assert_eq!(resource_units("GET", "groups/x/members", None), 3);
        assert_eq!(resource_units("GET", "groups/x/transitiveMembers", None), 5);
        assert_eq!(
            resource_units(
                "GET",
                "groups/x/transitiveMembers/microsoft.graph.user",
                Some("$count=true&$top=999&$select=id,userPrincipalName")
            ),
            4
        );
        assert_eq!(
            resource_units("GET", "groups/x/transitivemembers", Some("$top=5")),
            4
        );
    }

    #[test]
    fn other_requests_cost_one_and_never_less() {
        assert_eq!(resource_units("GET", "users/a@b.c", Some("$select=id")), 1);
        assert_eq!(resource_units("GET", "groups", Some("$filter=x")), 1);
        assert_eq!(resource_units("GET", "groups/x", None), 1);
        assert_eq!(resource_units("GET", "users", Some("$select=id&$top=5")), 1);
        assert_eq!(resource_units("GET", "users/x", Some("$expand=manager")), 2);
        assert_eq!(
            resource_units("PATCH", "users/x/authentication/requirements", None),
            1
        );
    }
}
