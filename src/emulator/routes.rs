//! The Graph routes the tool uses (docs/graph.md §§1–3), for one request: resolve the path,
//! check the token's permissions, charge the throttling budget, then read or change the tenant.
//! Plain requests and `$batch` items both come through `execute`, so they behave the same.

use std::time::Instant;

use serde_json::{Value, json};

use super::graph_error::{GraphError, Reply, now_graph_date};
use super::group_routes;
use super::keys::{parse_user_path, strip_query};
use super::methods_page;
use super::request_cost;
use super::server::Shared;
use super::stats::Stats;
use super::tenant::{MethodKind, is_guid};
use super::throttle::{Verdict, format_retry_after};
use super::token::TokenInfo;
use super::user_list;
use super::user_properties::{Selection, USER_READ_ALL};

/// One Graph request, from a plain HTTP request or a batch item.
pub(crate) struct Call<'a> {
    pub(crate) beta: bool,
    /// Upper-case HTTP method.
    pub(crate) method: &'a str,
    /// Relative URL (leading slash optional, query allowed, fragment already cut).
    pub(crate) url: &'a str,
    pub(crate) body: Option<&'a Value>,
    pub(crate) client_request_id: Option<&'a str>,
    pub(crate) token: &'a TokenInfo,
    /// The request carried `ConsistencyLevel: eventual` (advanced queries, docs/graph.md §9.2).
    pub(crate) eventual: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    GetUser,
    GetRequirements,
    PatchRequirements,
    GetSignInPreferences,
    PatchSignInPreferences,
    ListMethods(Option<MethodKind>),
    GetMethod(Option<MethodKind>, String),
    DeleteMethod(MethodKind, String),
    GenericDelete(String),
    Revoke,
}

const POLICY_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"];
const POLICY_WRITE: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
const METHODS_READ: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const METHODS_WRITE: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
const REVOKE: &[&str] = &[
    "User.RevokeSessions.All",
    "Directory.ReadWrite.All",
    "User.ReadWrite.All",
];
impl Op {
    fn permissions(&self) -> &'static [&'static str] {
        match self {
            Op::GetUser => USER_READ_ALL,
            Op::GetRequirements => POLICY_READ,
            Op::PatchRequirements => POLICY_WRITE,
            Op::GetSignInPreferences | Op::ListMethods(_) | Op::GetMethod(..) => METHODS_READ,
            Op::PatchSignInPreferences | Op::DeleteMethod(..) | Op::GenericDelete(_) => {
                METHODS_WRITE
            }
            Op::Revoke => REVOKE,
        }
    }
}

/// Maps the segments after the user key and the method to an operation.
fn resolve(rest: &[String], method: &str, beta: bool) -> Result<Op, GraphError> {
    let seg: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let beta_only = |op: Op| {
        if beta {
            Ok(op)
        } else {
            Err(GraphError::method_not_allowed())
        }
    };
    match (seg.as_slice(), method) {
        ([], "GET") => Ok(Op::GetUser),
        (["authentication", "requirements"], "GET") => beta_only(Op::GetRequirements),
        (["authentication", "requirements"], "PATCH") => beta_only(Op::PatchRequirements),
        (["authentication", "signinpreferences"], "GET") => beta_only(Op::GetSignInPreferences),
        (["authentication", "signinpreferences"], "PATCH") => beta_only(Op::PatchSignInPreferences),
        (["authentication", "methods"], "GET") => Ok(Op::ListMethods(None)),
        (["authentication", "methods", _], "GET") => Ok(Op::GetMethod(None, rest[2].clone())),
        (["authentication", "methods", _], "DELETE") => Ok(Op::GenericDelete(rest[2].clone())),
        (["authentication", typed], m) if MethodKind::from_segment(typed).is_some() => {
            let kind =
                MethodKind::from_segment(typed).ok_or_else(GraphError::method_not_allowed)?;
            if kind.beta_only() && !beta {
                return Err(GraphError::method_not_allowed());
            }
            match m {
                "GET" => Ok(Op::ListMethods(Some(kind))),
                _ => Err(GraphError::method_not_allowed()),
            }
        }
        (["authentication", typed, _], m) if MethodKind::from_segment(typed).is_some() => {
            let kind =
                MethodKind::from_segment(typed).ok_or_else(GraphError::method_not_allowed)?;
            if kind.beta_only() && !beta {
                return Err(GraphError::method_not_allowed());
            }
            match m {
                "GET" => Ok(Op::GetMethod(Some(kind), rest[2].clone())),
                "DELETE" if kind.deletable() => Ok(Op::DeleteMethod(kind, rest[2].clone())),
                _ => Err(GraphError::method_not_allowed()),
            }
        }
        (["revokesigninsessions"], "POST") => Ok(Op::Revoke),
        ([], _)
        | (["authentication", "requirements"], _)
        | (["authentication", "signinpreferences"], _)
        | (["authentication", "methods"], _)
        | (["authentication", "methods", _], _)
        | (["revokesigninsessions"], _) => Err(GraphError::method_not_allowed()),
        _ => {
            // Name the first segment Graph would not know.
            let known = [
                "authentication",
                "requirements",
                "signinpreferences",
                "methods",
            ];
            let unknown = rest
                .iter()
                .find(|s| !known.contains(&s.to_ascii_lowercase().as_str()))
                .or(rest.last())
                .map(String::as_str)
                .unwrap_or("");
            Err(GraphError::segment_not_found(unknown))
        }
    }
}

/// Runs one Graph request and stamps `request-id` / `client-request-id` on the answer.
pub(crate) fn execute(shared: &Shared, call: &Call<'_>) -> Reply {
    let request_id = shared.next_request_id();
    let mut reply = match run(shared, call, &request_id) {
        Ok(r) => r,
        Err(e) => Reply::error(&e, &request_id, call.client_request_id),
    };
    reply.headers.push(("request-id", request_id));
    if let Some(c) = call.client_request_id {
        reply.headers.push(("client-request-id", c.to_string()));
    }
    reply
}

/// What a charged request reports back: its resource units, and the limit percentage when a
/// budget is over 80 % used.
pub(crate) struct Charged {
    resource_units: u32,
    limit_percentage: Option<f64>,
}

/// Charges one request against the throttling budgets at its resource-unit cost
/// (`request_cost.rs`): `Err` holds the 429 to answer.
pub(crate) fn charge(
    shared: &Shared,
    call: &Call<'_>,
    is_write: bool,
    request_id: &str,
) -> Result<Charged, Reply> {
    let path = strip_query(call.url);
    let path = path.strip_prefix('/').unwrap_or(path);
    let resource_units =
        request_cost::resource_units(call.method, path, call.url.split_once('?').map(|(_, q)| q));
    let verdict = match shared.throttle.lock() {
        Ok(mut t) => t.charge(
            &call.token.app_id,
            is_write,
            f64::from(resource_units),
            Instant::now(),
        ),
        Err(_) => Verdict::Pass {
            limit_percentage: None,
        },
    };
    match verdict {
        Verdict::Throttled {
            retry_after,
            scope,
            information,
        } => Err(throttled(request_id, call.client_request_id, retry_after)
            .header("x-ms-throttle-scope", scope)
            .header("x-ms-throttle-information", information)),
        Verdict::Pass { limit_percentage } => {
            shared.stats.resource_units.fetch_add(
                u64::from(resource_units),
                std::sync::atomic::Ordering::Relaxed,
            );
            Ok(Charged {
                resource_units,
                limit_percentage,
            })
        }
    }
}

/// Stamps a routed answer with its resource-unit cost and the budget's use.
pub(crate) fn stamped(reply: Reply, charged: &Charged) -> Reply {
    let reply = reply.header("x-ms-resource-unit", charged.resource_units.to_string());
    match charged.limit_percentage {
        Some(p) => reply.header("x-ms-throttle-limit-percentage", format!("{p:.2}")),
        None => reply,
    }
}

/// `GET /users`: checked (method, permission, query) before it is charged, as malformed and
/// forbidden requests are not (docs/tenant-format.md).
fn list_users(shared: &Shared, call: &Call<'_>, request_id: &str) -> Result<Reply, GraphError> {
    if call.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    if !call.token.has_any(user_list::LIST_READ) {
        return Err(GraphError::forbidden());
    }
    let query = user_list::parse_query(call.url.split_once('?').map(|(_, q)| q))?;
    let charged = match charge(shared, call, false, request_id) {
        Ok(c) => c,
        Err(reply) => return Ok(reply),
    };
    let version = if call.beta { "beta" } else { "v1.0" };
    let body = {
        let tenant = shared
            .tenant
            .lock()
            .map_err(|_| GraphError::new(500, "generalException", "tenant state is unavailable"))?;
        user_list::page(&tenant, &query, &shared.base_url, version)
    };
    Ok(stamped(Reply::new(200, Some(body)), &charged))
}

fn run(shared: &Shared, call: &Call<'_>, request_id: &str) -> Result<Reply, GraphError> {
    let path = strip_query(call.url);
    let path = path.strip_prefix('/').unwrap_or(path);
    if user_list::is_list(path) {
        return list_users(shared, call, request_id);
    }
    if group_routes::is_group_path(path) {
        return group_routes::serve(shared, call, path, request_id);
    }
    let target = parse_user_path(path)?;
    let op = resolve(&target.rest, call.method, call.beta)?;
    let query = call.url.split_once('?').map(|(_, q)| q);
    // Reading a user answers only what `$select` names, and which permission suffices
    // depends on what it names (docs/graph.md §9.1).
    let selection = match op {
        Op::GetUser => Some(Selection::from_query(query)?),
        _ => None,
    };
    let permitted = match &selection {
        Some(s) => s.permitted(call.token),
        None => call.token.has_any(op.permissions()),
    };
    if !permitted {
        return Err(GraphError::forbidden());
    }
    let is_write = call.method != "GET";
    let charged = match charge(shared, call, is_write, request_id) {
        Ok(c) => c,
        Err(reply) => return Ok(reply),
    };
    let body = || {
        call.body.ok_or_else(|| {
            GraphError::new(400, "badRequest", "Empty Payload. JSON content expected.")
        })
    };
    let version = if call.beta { "beta" } else { "v1.0" };
    let reply = {
        let mut tenant = shared
            .tenant
            .lock()
            .map_err(|_| GraphError::new(500, "generalException", "tenant state is unavailable"))?;
        let i = tenant
            .find(&target.key)
            .ok_or_else(|| GraphError::user_not_found(&target.key))?;
        match op {
            Op::GetUser => {
                let selection = selection.unwrap_or_default();
                Reply::new(200, Some(selection.user_json(&tenant.users[i], version)))
            }
            Op::GetRequirements => Reply::new(200, Some(tenant.requirements_json(i))),
            Op::PatchRequirements => {
                tenant.set_requirements(i, body()?)?;
                Reply::new(204, None)
            }
            Op::GetSignInPreferences => Reply::new(200, Some(tenant.sign_in_preferences_json(i))),
            Op::PatchSignInPreferences => {
                tenant.set_sign_in_preferences(i, body()?)?;
                Reply::new(204, None)
            }
            Op::ListMethods(kind) => {
                let user_id = tenant.users[i].id.clone();
                let items = tenant.methods_json(i, call.beta, kind);
                let offset = methods_page::offset_from_query(query, &user_id)?;
                let link_base = format!(
                    "{}/{version}/users/{user_id}/authentication/{}",
                    shared.base_url,
                    kind.map_or("methods".to_string(), |k| format!("{}Methods", k.name()))
                );
                let page = methods_page::page(
                    items,
                    offset,
                    shared.config.methods_page_size,
                    &user_id,
                    &link_base,
                );
                Reply::new(200, Some(page))
            }
            Op::GetMethod(kind, id) => {
                Reply::new(200, Some(tenant.method_json(i, kind, &id, call.beta)?))
            }
            Op::DeleteMethod(kind, id) => {
                // Unassigning a hardware token is documented for /users/{id} only
                // (docs/graph.md §2): a UPN key is refused (docs/tenant-format.md).
                if kind == MethodKind::HardwareOath && !is_guid(&target.key) {
                    return Err(GraphError::new(
                        400,
                        "badRequest",
                        "Unassigning a hardware OATH token needs the user's object id as the key, not a userPrincipalName.",
                    ));
                }
                tenant.delete_method(i, kind, &id)?;
                Reply::new(204, None)
            }
            Op::GenericDelete(id) => {
                let user_id = tenant.users[i].id.clone();
                return Err(GraphError::new(
                    404,
                    "UnknownError",
                    json!({
                        "Message": format!("No HTTP resource was found that matches the request URI 'https://mface.windowsazure.com/odata/users('{user_id}@{}')/authentication/methods('{id}')'.", shared.config.tenant_id),
                        "MessageDetail": "No type was found that matches the controller named 'users'."
                    })
                    .to_string(),
                ));
            }
            Op::Revoke => {
                tenant.revoke(i);
                Reply::new(
                    200,
                    Some(json!({
                        "@odata.context": format!("https://graph.microsoft.com/{version}/$metadata#Edm.Boolean"),
                        "value": true
                    })),
                )
            }
        }
    };
    if is_write {
        Stats::bump(&shared.stats.writes);
    }
    Ok(stamped(reply, &charged))
}

/// The 429 answer of docs/graph.md §6.
pub(crate) fn throttled(
    request_id: &str,
    client_request_id: Option<&str>,
    retry_after: f64,
) -> Reply {
    let mut inner = json!({
        "code": "429",
        "date": now_graph_date(),
        "message": "Please retry after",
        "request-id": request_id,
        "status": "429",
    });
    if let Some(c) = client_request_id {
        inner["client-request-id"] = json!(c);
    }
    Reply::new(
        429,
        Some(json!({"error": {"code": "TooManyRequests", "innerError": inner, "message": "Please retry again later."}})),
    )
    .header("Retry-After", format_retry_after(retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rest: &[&str], method: &str, beta: bool) -> Result<Op, u16> {
        let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
        resolve(&rest, method, beta).map_err(|e| e.status)
    }

    #[test]
    fn beta_only_routes_are_405_in_v1() {
        assert_eq!(
            r(&["authentication", "requirements"], "GET", false),
            Err(405)
        );
        assert_eq!(
            r(&["authentication", "requirements"], "PATCH", true),
            Ok(Op::PatchRequirements)
        );
        assert_eq!(
            r(
                &["authentication", "hardwareOathMethods", "x"],
                "DELETE",
                false
            ),
            Err(405)
        );
        assert_eq!(
            r(
                &["authentication", "hardwareOathMethods", "x"],
                "DELETE",
                true
            ),
            Ok(Op::DeleteMethod(MethodKind::HardwareOath, "x".into()))
        );
    }

    #[test]
    fn password_is_not_deletable_and_unknown_segments_are_400() {
        assert_eq!(
            r(&["authentication", "passwordMethods", "x"], "DELETE", true),
            Err(405)
        );
        assert_eq!(r(&["authentication", "bogus"], "GET", true), Err(400));
        assert_eq!(r(&["revokeSignInSessions"], "GET", true), Err(405));
        assert_eq!(
            r(&["authentication", "methods", "x"], "DELETE", false),
            Ok(Op::GenericDelete("x".into()))
        );
    }
}
