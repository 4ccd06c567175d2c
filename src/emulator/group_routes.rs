//! The group reads a rollout by group needs (docs/graph.md §9.4), as strict as the docs read:
//! `GET /groups` (`$filter=displayName eq '…'` only, `$select`, `$top` 1–999 with a default
//! page of 100, `$count` with `ConsistencyLevel: eventual`), `GET /groups/{id}`, and a group's
//! `members` (direct) and `transitiveMembers` (every nested member once), each optionally cast
//! to `microsoft.graph.user` or `microsoft.graph.group`, paged by `@odata.nextLink`. A cast
//! needs the advanced query parameters (`ConsistencyLevel: eventual` and `$count=true`), on
//! every page: without them the answer is `400 Request_UnsupportedQuery`. Reading groups
//! needs a group-read permission (else `403`); members the app may not read as users come
//! back with their id and `@odata.type` only, the rest null ("limited information",
//! docs/graph.md §9.4). The choices made where the docs are silent are in
//! docs/tenant-format.md.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::graph_error::{GraphError, Reply};
use super::groups::{Group, Member};
use super::list_query::{self, Bound};
use super::routes::{Call, charge, stamped};
use super::server::Shared;
use super::tenant::{Tenant, is_guid};
use super::user_list::{
    Cursor, DEFAULT_PAGE, make_skiptoken, parse_select, parse_top, unsupported,
};
use super::user_properties::Selection;

/// Permissions that list and read groups (group-list and group-get pages, docs/graph.md §9.4).
const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Permissions that list a group's members and transitive members (docs/graph.md §9.4).
const MEMBERS_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
];

/// The group properties the emulator models, all in Graph's default set.
const GROUP_PROPERTIES: [&str; 9] = [
    "id",
    "displayName",
    "description",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "visibility",
];

/// Whether `path` (relative to the version, no leading slash, no query) is under `groups`.
pub(crate) fn is_group_path(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or("");
    percent_decode_str(first)
        .decode_utf8_lossy()
        .eq_ignore_ascii_case("groups")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cast {
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    List,
    Get(String),
    Members {
        group: String,
        transitive: bool,
        cast: Option<Cast>,
    },
}

fn parse_target(path: &str) -> Result<Target, GraphError> {
    let decoded = percent_decode_str(path).decode_utf8_lossy().into_owned();
    let segments: Vec<&str> = decoded.trim_end_matches('/').split('/').collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let cast = |name: &str| match name {
        "microsoft.graph.user" => Ok(Cast::User),
        "microsoft.graph.group" => Ok(Cast::Group),
        _ => Err(GraphError::segment_not_found(name)),
    };
    let members = |which: &str| match which {
        "members" => Ok(false),
        "transitivemembers" => Ok(true),
        _ => Err(GraphError::segment_not_found(which)),
    };
    match lower.as_slice() {
        ["groups"] => Ok(Target::List),
        ["groups", _] => Ok(Target::Get(segments[1].to_string())),
        ["groups", _, which] => Ok(Target::Members {
            group: segments[1].to_string(),
            transitive: members(which)?,
            cast: None,
        }),
        ["groups", _, which, c] => Ok(Target::Members {
            group: segments[1].to_string(),
            transitive: members(which)?,
            cast: Some(cast(c)?),
        }),
        _ => Err(GraphError::segment_not_found(
            segments.last().copied().unwrap_or(""),
        )),
    }
}

/// The query options of one group request.
#[derive(Debug, Clone, Default)]
struct Query {
    /// `displayName eq '…'` (group list only).
    display_name: Option<String>,
    /// Group properties (group list and get) as named.
    group_select: Option<Vec<&'static str>>,
    /// User properties (member lists).
    user_select: Selection,
    top: Option<usize>,
    count: bool,
    offset: usize,
    carried: Vec<String>,
    fingerprint: u64,
}

fn no_group_property(name: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.group'."
    ))
}

fn parse_group_select(value: &str) -> Result<Vec<&'static str>, GraphError> {
    value
        .split(',')
        .map(|name| {
            let name = name.trim();
            GROUP_PROPERTIES
                .iter()
                .copied()
                .find(|p| p.eq_ignore_ascii_case(name))
                .ok_or_else(|| no_group_property(name))
        })
        .collect()
}

/// `displayName eq '…'`: the one group filter modelled (a Default filter, docs/graph.md §9.4).
fn parse_group_filter(text: &str) -> Result<String, GraphError> {
    let mut c = Cursor { text, at: 0 };
    c.skip_spaces();
    let name = c.identifier()?.to_string();
    if c.rest().trim_start().starts_with('(') || name != "displayName" {
        return Err(unsupported(format!(
            "Unsupported or invalid query filter clause specified: {name} (the emulator models only displayName eq '…' on groups)."
        )));
    }
    c.skip_spaces();
    let op = c.identifier()?.to_string();
    if op != "eq" {
        return Err(unsupported(format!(
            "Operator '{op}' on groups is not modelled by the emulator (only displayName eq '…')."
        )));
    }
    c.skip_spaces();
    let value = c.string()?;
    c.skip_spaces();
    if !c.rest().is_empty() {
        let word = c.identifier().unwrap_or_default().to_string();
        return Err(match word.as_str() {
            "and" | "or" => unsupported(format!(
                "'{word}' joining clauses is not modelled by the emulator."
            )),
            _ => c.syntax("the end of the filter"),
        });
    }
    Ok(value)
}

fn parse_query(query: Option<&str>, target: &Target) -> Result<Query, GraphError> {
    let mut q = Query::default();
    let is_list = matches!(target, Target::List);
    let is_members = matches!(target, Target::Members { .. });
    let paged = !matches!(target, Target::Get(_));
    let paging = list_query::bind(query, |lower, name, value| {
        match lower {
            "$filter" if is_list => q.display_name = Some(parse_group_filter(&value)?),
            "$filter" => {
                return Err(unsupported(
                    "$filter on a group's members is not modelled by the emulator.",
                ));
            }
            "$select" if is_members => q.user_select = parse_select(&value)?,
            "$select" => q.group_select = Some(parse_group_select(&value)?),
            "$top" if paged => q.top = Some(parse_top(&value)?),
            "$count" if paged => {
                q.count = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(GraphError::bad_request(format!(
                            "Invalid value '{value}' for $count query option found."
                        )));
                    }
                };
            }
            "$skiptoken" if paged => return Ok(Bound::SkipToken),
            "$skip" => {
                return Err(unsupported(
                    "The query option '$skip' is not supported; follow @odata.nextLink.",
                ));
            }
            "$orderby" | "$search" | "$expand" | "$format" | "$top" | "$count" | "$skiptoken" => {
                return Err(unsupported(format!(
                    "The query option '{name}' is not modelled by the emulator here."
                )));
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                    "The query parameter '{name}' is not supported."
                )));
            }
        }
        Ok(Bound::Applied)
    })?;
    q.offset = paging.offset;
    q.carried = paging.carried;
    q.fingerprint = paging.fingerprint;
    Ok(q)
}

/// A group id that is not a GUID, as Graph words it.
fn invalid_id(id: &str) -> GraphError {
    GraphError::new(
        400,
        "Request_BadRequest",
        format!("Invalid object identifier '{id}'."),
    )
}

fn group_not_found(id: &str) -> GraphError {
    GraphError::new(
        404,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn group_json(g: &Group, select: Option<&[&'static str]>) -> Map<String, Value> {
    let mut out = Map::new();
    for &p in select.unwrap_or(&GROUP_PROPERTIES) {
        let v = match p {
            "id" => json!(g.id),
            "displayName" => json!(g.display_name),
            "description" => json!(g.description),
            "groupTypes" => json!([]),
            "mailEnabled" => json!(false),
            "mailNickname" => json!(
                g.display_name
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            ),
            "securityEnabled" => json!(true),
            _ => Value::Null,
        };
        out.insert(p.to_string(), v);
    }
    out
}

/// One user as a member list shows it: the selected properties, or only its id (the rest
/// null) when the app may not read users (`limited`).
fn member_user_json(
    tenant: &Tenant,
    user: usize,
    select: &Selection,
    typed: bool,
    limited: bool,
) -> Value {
    let u = &tenant.users[user];
    let mut v = select.properties_json(u);
    if let Value::Object(map) = &mut v {
        if limited {
            for (k, val) in map.iter_mut() {
                if k != "id" {
                    *val = Value::Null;
                }
            }
            map.insert("id".into(), json!(u.id));
        }
        if typed || limited {
            let mut typed_map = Map::new();
            typed_map.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            typed_map.extend(std::mem::take(map));
            *map = typed_map;
        }
    }
    v
}

/// Serves one request under `groups` (`path` relative to the version).
pub(crate) fn serve(
    shared: &Shared,
    call: &Call<'_>,
    path: &str,
    request_id: &str,
) -> Result<Reply, GraphError> {
    if call.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    let target = parse_target(path)?;
    // A malformed id is refused before permissions, as a malformed user path is (`routes.rs`).
    if let Target::Get(id) | Target::Members { group: id, .. } = &target
        && !is_guid(id)
    {
        return Err(invalid_id(id));
    }
    let needed = match target {
        Target::Members { .. } => MEMBERS_READ,
        _ => GROUP_READ,
    };
    if !call.token.has_any(needed) {
        return Err(GraphError::forbidden());
    }
    let query = parse_query(call.url.split_once('?').map(|(_, q)| q), &target)?;
    let advanced = call.eventual && query.count;
    if query.count && !call.eventual {
        return Err(unsupported(
            "$count needs the ConsistencyLevel: eventual header (advanced query parameters).",
        ));
    }
    match &target {
        Target::Members { cast: Some(_), .. } if !advanced => {
            return Err(unsupported(
                "An OData cast on a group's members needs the advanced query parameters: the ConsistencyLevel: eventual header and $count=true, on every page.",
            ));
        }
        _ => {}
    }
    let charged = match charge(shared, call, false, request_id) {
        Ok(c) => c,
        Err(reply) => return Ok(reply),
    };
    let version = if call.beta { "beta" } else { "v1.0" };
    let groups = &shared.groups;
    let body = match &target {
        Target::Get(id) => {
            let g = groups.find(id).ok_or_else(|| group_not_found(id))?;
            let mut map = Map::new();
            map.insert(
                "@odata.context".into(),
                json!(format!(
                    "https://graph.microsoft.com/{version}/$metadata#groups/$entity"
                )),
            );
            map.extend(group_json(&groups.groups[g], query.group_select.as_deref()));
            Value::Object(map)
        }
        Target::List => {
            let matching: Vec<&Group> = groups
                .groups
                .iter()
                .filter(|g| {
                    query
                        .display_name
                        .as_ref()
                        .is_none_or(|n| n.to_lowercase() == g.display_name.to_lowercase())
                })
                .collect();
            let items = matching
                .iter()
                .map(|g| Value::Object(group_json(g, query.group_select.as_deref())))
                .collect();
            paged(
                shared,
                &query,
                path,
                version,
                items,
                matching.len(),
                "groups",
            )
        }
        Target::Members {
            group,
            transitive,
            cast,
        } => {
            let g = groups.find(group).ok_or_else(|| group_not_found(group))?;
            let g = &groups.groups[g];
            let list = if *transitive {
                &g.transitive
            } else {
                &g.direct
            };
            let tenant = shared.tenant.lock().map_err(|_| {
                GraphError::new(500, "generalException", "tenant state is unavailable")
            })?;
            let limited = !query.user_select.permitted(call.token);
            let wanted: Vec<Member> = list
                .iter()
                .copied()
                .filter(|m| {
                    matches!(
                        (cast, m),
                        (None, _)
                            | (Some(Cast::User), Member::User(_))
                            | (Some(Cast::Group), Member::Group(_))
                    )
                })
                .collect();
            let total = wanted.len();
            let items = wanted
                .iter()
                .skip(query.offset)
                .take(query.top.unwrap_or(DEFAULT_PAGE) + 1)
                .map(|m| match m {
                    Member::User(u) => {
                        member_user_json(&tenant, *u, &query.user_select, cast.is_none(), limited)
                    }
                    Member::Group(n) => {
                        let mut map = Map::new();
                        if cast.is_none() {
                            map.insert("@odata.type".into(), json!("#microsoft.graph.group"));
                        }
                        map.extend(group_json(&groups.groups[*n], Some(&["id", "displayName"])));
                        Value::Object(map)
                    }
                })
                .collect();
            let context = match (cast, query.user_select.names()) {
                (Some(Cast::User), Some(names)) => format!("users({})", names.join(",")),
                (Some(Cast::User), None) => "users".to_string(),
                (Some(Cast::Group), _) => "groups".to_string(),
                (None, _) => "directoryObjects".to_string(),
            };
            paged_window(shared, &query, path, version, items, total, &context)
        }
    };
    Ok(stamped(Reply::new(200, Some(body)), &charged))
}

/// A page out of the whole list `items` (every match).
fn paged(
    shared: &Shared,
    q: &Query,
    path: &str,
    version: &str,
    items: Vec<Value>,
    total: usize,
    context: &str,
) -> Value {
    let window: Vec<Value> = items
        .into_iter()
        .skip(q.offset)
        .take(q.top.unwrap_or(DEFAULT_PAGE) + 1)
        .collect();
    paged_window(shared, q, path, version, window, total, context)
}

/// A page from `window` (the items from the page's offset on, one more than the page size
/// when more follow); `total` is every match, for `@odata.count` on the first page.
fn paged_window(
    shared: &Shared,
    q: &Query,
    path: &str,
    version: &str,
    mut window: Vec<Value>,
    total: usize,
    context: &str,
) -> Value {
    let size = q.top.unwrap_or(DEFAULT_PAGE);
    let more = window.len() > size;
    window.truncate(size);
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!(
            "https://graph.microsoft.com/{version}/$metadata#{context}"
        )),
    );
    // Graph gives the count on the first page only (docs/graph.md §9.2).
    if q.count && q.offset == 0 {
        body.insert("@odata.count".into(), json!(total));
    }
    body.insert("value".into(), Value::Array(window));
    if more {
        let mut options = q.carried.clone();
        options.push(format!(
            "$skiptoken={}",
            make_skiptoken(q.offset + size, q.fingerprint)
        ));
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{version}/{}?{}",
                shared.base_url,
                path.trim_end_matches('/'),
                options.join("&")
            )),
        );
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_groups_are_routed_by_segment_in_any_case() {
        assert_eq!(parse_target("groups"), Ok(Target::List));
        assert_eq!(parse_target("Groups/abc"), Ok(Target::Get("abc".into())));
        assert_eq!(
            parse_target("groups/abc/transitivemembers/Microsoft.Graph.User"),
            Ok(Target::Members {
                group: "abc".into(),
                transitive: true,
                cast: Some(Cast::User)
            })
        );
        assert_eq!(
            parse_target("groups/abc/members"),
            Ok(Target::Members {
                group: "abc".into(),
                transitive: false,
                cast: None
            })
        );
        assert_eq!(parse_target("groups/abc/owners").unwrap_err().status, 400);
        assert_eq!(
            parse_target("groups/abc/members/microsoft.graph.device")
                .unwrap_err()
                .status,
            400
        );
        assert!(is_group_path("groups/x") && !is_group_path("users"));
    }

    #[test]
    fn the_group_filter_is_display_name_eq_only() {
        assert_eq!(
            parse_group_filter("displayName eq 'O''Brien team'").unwrap(),
            "O'Brien team"
        );
        for bad in [
            "startsWith(displayName,'a')",
            "mail eq 'a@b.c'",
            "displayName ne 'a'",
            "displayName eq 'a' or displayName eq 'b'",
        ] {
            let e = parse_group_filter(bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (400, "Request_UnsupportedQuery"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_group_filter("displayName eq 'a").unwrap_err().code,
            "BadRequest"
        );
    }

    #[test]
    fn member_queries_take_user_properties_and_group_queries_group_ones() {
        let members = Target::Members {
            group: "g".into(),
            transitive: true,
            cast: Some(Cast::User),
        };
        let q = parse_query(
            Some("$select=id,userPrincipalName&$top=2&$count=true"),
            &members,
        )
        .unwrap();
        assert_eq!(q.user_select.names(), Some(vec!["id", "userPrincipalName"]));
        assert!(q.count && q.top == Some(2));
        assert_eq!(
            parse_query(Some("$select=securityEnabled"), &members)
                .unwrap_err()
                .status,
            400
        );
        let q = parse_query(Some("$select=id,DisplayName"), &Target::List).unwrap();
        assert_eq!(q.group_select, Some(vec!["id", "displayName"]));
        assert_eq!(
            parse_query(Some("$top=5"), &Target::Get("g".into()))
                .unwrap_err()
                .code,
            "Request_UnsupportedQuery"
        );
        assert_eq!(
            parse_query(Some("$top=1000"), &Target::List)
                .unwrap_err()
                .status,
            400
        );
    }
}
