//! The Microsoft identity platform's v2 endpoints (docs/graph.md §7): `/{tenant}/oauth2/v2.0/token`
//! for client credentials (secret, HTTP Basic or certificate assertion), device code and refresh
//! token grants, and `/{tenant}/oauth2/v2.0/devicecode`, with the platform's error bodies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use rand::RngExt;
use serde_json::{Value, json};

use super::assertion;
use super::federated;
use super::graph_error::now_graph_date;
use super::server::Shared;
use super::stats::Stats;
use super::token::unix_now;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// RFC 8628 §3.5: each slow_down adds five seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq)]
enum DeviceState {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

#[derive(Debug)]
struct DeviceFlow {
    user_code: String,
    audience: String,
    permissions: Vec<String>,
    offline: bool,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    state: DeviceState,
}

/// Pending device codes and issued refresh tokens.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    devices: HashMap<String, DeviceFlow>,
    user_codes: HashMap<String, String>,
    /// Refresh token → (audience, delegated permissions).
    refresh: HashMap<String, (String, Vec<String>)>,
}

impl Sessions {
    /// Marks a device code approved (or declined); false when the user code is unknown or
    /// no longer pending.
    pub(crate) fn decide(&mut self, user_code: &str, approve: bool) -> bool {
        let Some(device) = self.user_codes.get(&user_code.trim().to_uppercase()) else {
            return false;
        };
        match self.devices.get_mut(device) {
            Some(flow) if flow.state == DeviceState::Pending => {
                flow.state = if approve {
                    DeviceState::Approved
                } else {
                    DeviceState::Declined
                };
                true
            }
            _ => false,
        }
    }
}

/// A login answer: status and JSON body.
pub(crate) type LoginReply = (u16, Value);

fn aad_error(status: u16, error: &str, code: u32, description: &str) -> LoginReply {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = uuid::Uuid::new_v4().to_string();
    let timestamp = now_graph_date();
    (
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}Z"
            ),
            "error_codes": [code],
            "timestamp": format!("{timestamp}Z"),
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// Splits an `application/x-www-form-urlencoded` body; keys repeat last-wins.
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let d = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

fn missing(name: &str) -> LoginReply {
    aad_error(
        400,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// Whether the path's tenant segment names this tenant (its id or domain).
pub(crate) fn is_this_tenant(shared: &Shared, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&shared.config.tenant_id)
        || tenant.eq_ignore_ascii_case(&shared.config.domain)
}

fn unknown_tenant(tenant: &str) -> LoginReply {
    aad_error(
        400,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

/// Checks that the form's `client_id` names the app this tenant knows; else the error reply.
fn known_client(shared: &Shared, form: &HashMap<String, String>) -> Result<(), LoginReply> {
    let Some(client_id) = form.get("client_id") else {
        return Err(missing("client_id"));
    };
    if !client_id.eq_ignore_ascii_case(&shared.config.client_id) {
        return Err(unknown_client(shared, client_id));
    }
    Ok(())
}

fn unknown_client(shared: &Shared, client_id: &str) -> LoginReply {
    aad_error(
        400,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
            shared.config.domain
        ),
    )
}

/// The app exists (in its home tenant) but has no service principal in this one: nobody here
/// consented to it (docs/graph.md §14). Status 401, as in Microsoft's example of this answer.
fn missing_service_principal(shared: &Shared) -> LoginReply {
    aad_error(
        401,
        "invalid_client",
        7000229,
        &format!(
            "The client application {} is missing service principal in the tenant {}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
            shared.config.client_id, shared.config.tenant_id
        ),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(
    shared: &Shared,
    tenant: &str,
    host: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> LoginReply {
    let reply = token_inner(shared, tenant, host, authorization, body);
    if reply.0 == 200 {
        Stats::bump(&shared.stats.token_grants);
    } else {
        Stats::bump(&shared.stats.token_failures);
    }
    reply
}

fn token_inner(
    shared: &Shared,
    tenant: &str,
    host: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> LoginReply {
    if !is_this_tenant(shared, tenant) {
        return unknown_tenant(tenant);
    }
    let form = parse_form(body);
    let Some(grant_type) = form.get("grant_type") else {
        return missing("grant_type");
    };
    match grant_type.as_str() {
        "client_credentials" => client_credentials(shared, tenant, host, authorization, &form),
        DEVICE_CODE_GRANT => device_code_grant(shared, &form),
        "refresh_token" => refresh_grant(shared, &form),
        other => aad_error(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// HTTP Basic `client_id:client_secret` (each form-urlencoded, as RFC 6749 §2.3.1 says).
fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let (scheme, value) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let d = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((d(id), d(secret)))
}

fn client_credentials(
    shared: &Shared,
    tenant: &str,
    host: Option<&str>,
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> LoginReply {
    let config = &shared.config;
    let basic = basic_credentials(authorization);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return missing("client_id");
    };
    if !client_id.eq_ignore_ascii_case(&config.client_id) {
        return unknown_client(shared, &client_id);
    }
    if !config.consented {
        return missing_service_principal(shared);
    }
    let secret = form
        .get("client_secret")
        .cloned()
        .or_else(|| basic.map(|b| b.1));
    match (secret, form.get("client_assertion")) {
        (Some(secret), None) => {
            if secret != config.client_secret {
                return aad_error(
                    401,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        config.client_id
                    ),
                );
            }
        }
        (None, Some(jwt)) => {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return aad_error(
                    400,
                    "invalid_request",
                    900144,
                    &format!(
                        "The request body must contain the following parameter: 'client_assertion_type' with the value '{JWT_BEARER}'."
                    ),
                );
            }
            let audiences = assertion_audiences(shared, tenant, host);
            // An assertion the app issued itself is a certificate's; any other issuer's is
            // a federated one (docs/graph.md §11).
            let checked = if federated::is_self_issued(jwt, &config.client_id) {
                assertion::check(
                    jwt,
                    &config.client_id,
                    &audiences,
                    &shared.certificates,
                    unix_now() as i64,
                )
            } else {
                let checked = federated::check(jwt, &shared.federated, unix_now() as i64);
                if checked.is_ok() {
                    if let Ok(mut last) = shared.last_federated.lock() {
                        if *last != *jwt {
                            jwt.clone_into(&mut last);
                            Stats::bump(&shared.stats.federated_tokens);
                        }
                    }
                }
                checked
            };
            if let Err(description) = checked {
                let (code, text) = split_aadsts(&description);
                return aad_error(401, "invalid_client", code, text);
            }
        }
        (Some(_), Some(_)) => {
            return aad_error(
                400,
                "invalid_request",
                90014,
                "Only one client credential may be sent: client_secret or client_assertion.",
            );
        }
        (None, None) => {
            return aad_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    let Some(scope) = form.get("scope") else {
        return missing("scope");
    };
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.len() != 1
        || !scopes[0].ends_with("/.default")
        || scopes[0].len() <= "/.default".len()
    {
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let audience = scopes[0].trim_end_matches("/.default").to_string();
    issue(shared, &audience, shared.permissions.clone(), false, false)
}

/// `AADSTS700016: text` → (700016, "text").
fn split_aadsts(description: &str) -> (u32, &str) {
    description
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split_once(": "))
        .and_then(|(code, text)| code.parse().ok().map(|c| (c, text)))
        .unwrap_or((700027, description))
}

/// The token URLs an assertion may name as `aud`: this emulator's, under either tenant form,
/// reached by its bound address or by the Host the client used.
fn assertion_audiences(shared: &Shared, tenant: &str, host: Option<&str>) -> Vec<String> {
    let mut bases = vec![shared.base_url.clone()];
    if let Some(h) = host {
        bases.push(format!("http://{h}"));
    }
    let mut out = Vec::new();
    for base in &bases {
        for t in [tenant, &shared.config.tenant_id, &shared.config.domain] {
            out.push(format!("{base}/{t}/oauth2/v2.0/token"));
        }
    }
    out
}

/// The object id of the administrator who approves device codes when the configuration names
/// none of the tenant's users (`device_code_user`): an account the user list does not hold.
const DEVICE_CODE_ADMIN_ID: &str = "0d5c3f4e-6a7b-4c8d-9e0f-a1b2c3d4e5f6";

/// The (object id, UPN) of the user a delegated token is for: `device_code_user` when it names
/// a tenant user, else the built-in administrator `admin@{domain}`.
fn signed_in_user(shared: &Shared) -> (String, String) {
    let named = shared.config.device_code_user.as_deref().and_then(|upn| {
        let tenant = shared
            .tenant
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tenant
            .users
            .iter()
            .find(|u| u.upn.eq_ignore_ascii_case(upn))
            .map(|u| (u.id.clone(), u.upn.clone()))
    });
    named.unwrap_or_else(|| {
        (
            DEVICE_CODE_ADMIN_ID.to_string(),
            format!("admin@{}", shared.config.domain),
        )
    })
}

/// Mints an access token (and a refresh token when asked for) and answers as the platform.
fn issue(
    shared: &Shared,
    audience: &str,
    permissions: Vec<String>,
    delegated: bool,
    offline: bool,
) -> LoginReply {
    let config = &shared.config;
    let user = delegated.then(|| signed_in_user(shared));
    let access = shared.tokens.mint(
        &config.tenant_id,
        &config.client_id,
        permissions.clone(),
        config.token_ttl,
        user.as_ref().map(|(id, upn)| (id.as_str(), upn.as_str())),
        audience,
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": config.token_ttl,
        "ext_expires_in": config.token_ttl,
        "access_token": access,
    });
    if delegated {
        body["scope"] = json!(
            permissions
                .iter()
                .map(|p| format!("{audience}/{p}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if offline {
        let refresh = format!("0.emulator-refresh.{}", random_token(shared, 48));
        if let Ok(mut s) = shared.sessions.lock() {
            s.refresh
                .insert(refresh.clone(), (audience.to_string(), permissions));
        }
        body["refresh_token"] = json!(refresh);
    }
    (200, body)
}

fn random_token(shared: &Shared, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = shared.rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The resource a scope list names (`https://graph.microsoft.com/X` → `https://graph.microsoft.com`),
/// which becomes the token's `aud`; Graph's global endpoint when only OIDC scopes are named.
fn scope_resource(scope: &str) -> String {
    scope
        .split_whitespace()
        .find_map(|s| s.rsplit_once('/').map(|(resource, _)| resource.to_string()))
        .unwrap_or_else(|| "https://graph.microsoft.com".to_string())
}

/// Delegated scopes granted for a requested scope list: `.default` grants everything the app
/// has; named Graph scopes are granted when the app has them; OIDC scopes are not permissions.
fn delegated_permissions(shared: &Shared, scope: &str) -> Result<(Vec<String>, bool), String> {
    let mut granted = Vec::new();
    let mut offline = false;
    for s in scope.split_whitespace() {
        let name = s.rsplit('/').next().unwrap_or(s);
        match name {
            "offline_access" => offline = true,
            "openid" | "profile" | "email" => {}
            ".default" => granted.extend(shared.permissions.iter().cloned()),
            n => match shared
                .permissions
                .iter()
                .find(|p| p.eq_ignore_ascii_case(n))
            {
                Some(p) => granted.push(p.clone()),
                None => {
                    return Err(format!(
                        "The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource. Scope: {n}",
                        shared.config.client_id
                    ));
                }
            },
        }
    }
    granted.sort();
    granted.dedup();
    Ok((granted, offline))
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) fn device_code(shared: &Shared, tenant: &str, body: &[u8]) -> LoginReply {
    if !is_this_tenant(shared, tenant) {
        return unknown_tenant(tenant);
    }
    let form = parse_form(body);
    if let Err(reply) = known_client(shared, &form) {
        return reply;
    }
    if !shared.config.consented {
        // A delegated sign-in would need someone to consent first.
        return aad_error(
            400,
            "invalid_grant",
            65001,
            &format!(
                "The user or administrator has not consented to use the application with ID '{}'. Send an interactive authorization request for this user and resource.",
                shared.config.client_id
            ),
        );
    }
    let Some(scope) = form.get("scope") else {
        return missing("scope");
    };
    let (permissions, offline) = match delegated_permissions(shared, scope) {
        Ok(p) => p,
        Err(e) => return aad_error(400, "invalid_scope", 65001, &e),
    };
    let device_code = format!("DAQABAAEAAAD{}", random_token(shared, 64));
    let user_code: String = {
        const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = shared.rng();
        (0..9)
            .map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char)
            .collect()
    };
    let interval = shared.config.device_code_interval;
    let ttl = shared.config.device_code_ttl;
    if let Ok(mut s) = shared.sessions.lock() {
        s.user_codes.insert(user_code.clone(), device_code.clone());
        s.devices.insert(
            device_code.clone(),
            DeviceFlow {
                user_code: user_code.clone(),
                audience: scope_resource(scope),
                permissions,
                offline,
                expires: Instant::now() + Duration::from_secs(ttl),
                interval: Duration::from_secs(interval),
                last_poll: None,
                state: DeviceState::Pending,
            },
        );
    }
    let uri = "https://microsoft.com/devicelogin";
    (
        200,
        json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "expires_in": ttl,
            "interval": interval,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

/// A token request with no client credential from an app that is not a public client:
/// Entra wants a secret or an assertion (AADSTS7000218), which is what an admin sees when
/// "Allow public client flows" is off.
fn public_client_refused() -> LoginReply {
    aad_error(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

fn device_code_grant(shared: &Shared, form: &HashMap<String, String>) -> LoginReply {
    if let Err(reply) = known_client(shared, form) {
        return reply;
    }
    if !shared.config.allow_public_client_flows {
        return public_client_refused();
    }
    let Some(code) = form.get("device_code") else {
        return missing("device_code");
    };
    let now = Instant::now();
    let grant = {
        let Ok(mut s) = shared.sessions.lock() else {
            return aad_error(
                500,
                "server_error",
                90033,
                "A transient error has occurred.",
            );
        };
        let Some(flow) = s.devices.get_mut(code) else {
            return aad_error(
                400,
                "bad_verification_code",
                70019,
                "Verification code expired or invalid.",
            );
        };
        if now >= flow.expires || flow.state == DeviceState::Redeemed {
            return aad_error(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            );
        }
        let too_fast = flow
            .last_poll
            .is_some_and(|last| now.saturating_duration_since(last) < flow.interval);
        flow.last_poll = Some(now);
        match flow.state {
            DeviceState::Declined => {
                return aad_error(
                    400,
                    "authorization_declined",
                    70000,
                    "The end user denied the authorization request.",
                );
            }
            // Once approved the token is handed out whatever the polling pace.
            DeviceState::Approved => {
                flow.state = DeviceState::Redeemed;
                let _ = &flow.user_code;
                (
                    flow.audience.clone(),
                    flow.permissions.clone(),
                    flow.offline,
                )
            }
            _ if too_fast => {
                flow.interval += SLOW_DOWN_STEP;
                return aad_error(
                    400,
                    "slow_down",
                    70016,
                    "The client is polling too quickly; slow down (wait 5 seconds more between polls).",
                );
            }
            _ => {
                return aad_error(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            }
        }
    };
    issue(shared, &grant.0, grant.1, true, grant.2)
}

fn refresh_grant(shared: &Shared, form: &HashMap<String, String>) -> LoginReply {
    if let Err(reply) = known_client(shared, form) {
        return reply;
    }
    if !shared.config.allow_public_client_flows {
        return public_client_refused();
    }
    let Some(token) = form.get("refresh_token") else {
        return missing("refresh_token");
    };
    // Refresh tokens rotate: the old one is spent.
    let permissions = shared
        .sessions
        .lock()
        .ok()
        .and_then(|mut s| s.refresh.remove(token));
    match permissions {
        Some((audience, p)) => issue(shared, &audience, p, true, true),
        None => aad_error(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent() {
        let f = parse_form(b"scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&a=b+c&empty");
        assert_eq!(f["scope"], "https://graph.microsoft.com/.default");
        assert_eq!(f["a"], "b c");
        assert_eq!(f["empty"], "");
    }

    #[test]
    fn basic_credentials_are_read() {
        let h = format!("Basic {}", STANDARD.encode("id:s%3Acret"));
        assert_eq!(
            basic_credentials(Some(&h)),
            Some(("id".into(), "s:cret".into()))
        );
    }
}
