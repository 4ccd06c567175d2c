//! The managed-identity endpoints (docs/graph.md §10): a VM's instance metadata service at
//! `/metadata/identity/oauth2/token` and App Service's `IDENTITY_ENDPOINT` at `/msi/token`,
//! each with its own request rules and answer shape, issuing tokens for the tenant's
//! system-assigned and user-assigned identities (docs/tenant-format.md says which rules are
//! modelled and how strictly).

use std::collections::HashMap;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::server::Shared;
use super::stats::Stats;
use super::token::unix_now;

/// The oldest IMDS api-version that serves tokens (§10.1).
const IMDS_MIN_API_VERSION: &str = "2018-02-01";
/// The App Service api-version modelled (§10.2).
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// The tenant's managed identities (a tenant-file entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManagedIdentities {
    /// Client id of the resource's system-assigned identity; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_assigned: Option<String>,
    /// Client ids of the user-assigned identities attached to the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_assigned: Vec<String>,
    /// The `IDENTITY_HEADER` value App Service requests must carry as `X-IDENTITY-HEADER`.
    #[serde(default)]
    pub identity_header: String,
}

/// Which endpoint a request came to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Imds,
    AppService,
}

fn imds_error(status: u16, error: &str, description: &str) -> (u16, Value) {
    (
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn app_service_error(status: u16, message: &str) -> (u16, Value) {
    (status, json!({"statusCode": status, "message": message}))
}

fn query_pairs(query: Option<&str>) -> HashMap<String, String> {
    super::login::parse_form(query.unwrap_or("").as_bytes())
}

/// `GET` to either endpoint: the status and JSON body.
pub(crate) fn token(
    shared: &Shared,
    endpoint: Endpoint,
    method: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> (u16, Value) {
    let reply = token_inner(shared, endpoint, method, headers, query);
    if reply.0 == 200 {
        Stats::bump(&shared.stats.token_grants);
    } else {
        Stats::bump(&shared.stats.token_failures);
    }
    reply
}

fn token_inner(
    shared: &Shared,
    endpoint: Endpoint,
    method: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> (u16, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let q = query_pairs(query);
    let identities = &shared.config.managed_identities;
    let fail = |status: u16, code: &str, text: &str| match endpoint {
        Endpoint::Imds => imds_error(status, code, text),
        Endpoint::AppService => app_service_error(status, text),
    };
    if method != "GET" {
        return fail(405, "invalid_request", "Only GET is supported.");
    }
    match endpoint {
        Endpoint::Imds => {
            // IMDS refuses requests that went through a proxy (§10.1).
            if header("x-forwarded-for").is_some() {
                return fail(
                    400,
                    "invalid_request",
                    "Request contains the X-Forwarded-For header.",
                );
            }
            // "Metadata: true", written in lower case (§10.1).
            if header("metadata") != Some("true") {
                return fail(
                    400,
                    "bad_request_102",
                    "Required metadata header not specified",
                );
            }
            match q.get("api-version") {
                None => {
                    return fail(
                        400,
                        "invalid_request",
                        "Required query variable 'api-version' is missing",
                    );
                }
                Some(v) if v.as_str() < IMDS_MIN_API_VERSION || v.len() < 10 => {
                    return fail(
                        400,
                        "invalid_request",
                        &format!(
                            "Invalid api-version '{v}' for managed identity tokens: {IMDS_MIN_API_VERSION} or later."
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        Endpoint::AppService => {
            match header("x-identity-header") {
                None => return fail(400, "", "The X-IDENTITY-HEADER header is required."),
                Some(h)
                    if identities.identity_header.is_empty() || h != identities.identity_header =>
                {
                    return fail(401, "", "The X-IDENTITY-HEADER header is not valid.");
                }
                Some(_) => {}
            }
            match q.get("api-version").map(String::as_str) {
                Some(APP_SERVICE_API_VERSION) => {}
                Some(v) => {
                    return fail(
                        400,
                        "",
                        &format!(
                            "api-version '{v}' is not supported: use {APP_SERVICE_API_VERSION}."
                        ),
                    );
                }
                None => return fail(400, "", "The api-version query parameter is required."),
            }
        }
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return fail(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let resource = resource.trim_end_matches('/').to_string();
    if resource.ends_with("/.default") {
        return fail(
            400,
            "invalid_resource",
            "The resource is an application ID URI, not a scope: leave out /.default.",
        );
    }
    // Only client_id is modelled; an object or resource id names no identity here.
    let named = ["object_id", "principal_id", "msi_res_id", "mi_res_id"]
        .iter()
        .find(|k| q.contains_key(**k));
    let identity = match (q.get("client_id"), named) {
        (_, Some(_)) => None,
        (Some(id), None) => identities
            .user_assigned
            .iter()
            .chain(identities.system_assigned.iter())
            .find(|c| c.eq_ignore_ascii_case(id))
            .cloned(),
        (None, None) => match (
            &identities.system_assigned,
            identities.user_assigned.as_slice(),
        ) {
            (Some(system), _) => Some(system.clone()),
            (None, [only]) => Some(only.clone()),
            (None, [_, _, ..]) => {
                return fail(
                    400,
                    "invalid_request",
                    "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
                );
            }
            (None, []) => None,
        },
    };
    let Some(client_id) = identity else {
        return fail(400, "invalid_request", "Identity not found");
    };
    let config = &shared.config;
    let access = shared.tokens.mint(
        &config.tenant_id,
        &client_id,
        shared.permissions.clone(),
        config.token_ttl,
        None,
        &resource,
    );
    let expires_on = unix_now() + config.token_ttl;
    let body = match endpoint {
        // Every field a string (§10.1).
        Endpoint::Imds => json!({
            "access_token": access,
            "refresh_token": "",
            "expires_in": config.token_ttl.to_string(),
            "expires_on": expires_on.to_string(),
            "ext_expires_in": config.token_ttl.to_string(),
            "not_before": unix_now().to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }),
        Endpoint::AppService => json!({
            "access_token": access,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }),
    };
    (200, body)
}
