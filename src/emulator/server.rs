//! The HTTP side: shared state, the one axum fallback handler that routes login, Graph
//! (`/v1.0`, `/beta`, their `$batch`) and `/_emulator/*` by raw path (so percent-encoding and
//! `$` reach the Graph parser untouched), and turning `Reply`s into HTTP responses.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::assertion::Certificate;
use super::batch;
use super::config::EmulatorConfig;
use super::faults::{self, BatchFault, TruncatedBody};
use super::federated::Federated;
use super::graph_error::{GraphError, Reply, error_body};
use super::groups::Groups;
use super::login::{self, Sessions};
use super::managed_identity::{self, Endpoint as ManagedEndpoint};
use super::routes::{Call, execute};
use super::stats::Stats;
use super::tenant::Tenant;
use super::tenants::Tenants;
use super::throttle::{AppWide, Throttle, format_retry_after};
use super::token::TokenStore;

/// Bodies above this are refused (413) without being read further.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Everything the handlers share. Locks are short and never held across an await.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) base_url: String,
    pub(crate) permissions: Vec<String>,
    pub(crate) certificates: Vec<Certificate>,
    pub(crate) federated: Vec<Federated>,
    /// The federated assertion accepted last (for `federated_tokens`).
    pub(crate) last_federated: Mutex<String>,
    pub(crate) tenant: Mutex<Tenant>,
    /// Groups never change while the emulator runs, so they need no lock.
    pub(crate) groups: Groups,
    pub(crate) throttle: Mutex<Throttle>,
    /// Shared by every tenant behind the base URL (`tenants`).
    pub(crate) tokens: Arc<TokenStore>,
    pub(crate) sessions: Mutex<Sessions>,
    pub(crate) stats: Stats,
    rng: Mutex<ChaCha8Rng>,
    id_base: u128,
    id_counter: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        config: EmulatorConfig,
        base_url: String,
        tokens: Arc<TokenStore>,
        app_wide: Arc<Mutex<AppWide>>,
    ) -> Result<Shared, String> {
        config.validate()?;
        let tenant = Tenant::build(&config.users, config.seed)?;
        let groups = Groups::build(&config.groups, &tenant, config.seed)?;
        let certificates = config
            .certificates
            .iter()
            .map(|pem| Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()?;
        let federated = config
            .federated_credentials
            .iter()
            .map(Federated::new)
            .collect::<Result<Vec<_>, _>>()?;
        let throttle = Throttle::new(
            !config.no_throttle,
            &config.tenant_id,
            &config.quotas,
            config.quota_scale,
            app_wide,
            Instant::now(),
        );
        Ok(Shared {
            permissions: config.granted_permissions(),
            base_url,
            certificates,
            federated,
            last_federated: Mutex::new(String::new()),
            tenant: Mutex::new(tenant),
            groups,
            throttle: Mutex::new(throttle),
            tokens,
            sessions: Mutex::new(Sessions::default()),
            stats: Stats::new(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            id_base: uuid::Uuid::new_v4().as_u128(),
            id_counter: AtomicU64::new(0),
            config,
        })
    }

    /// The seeded generator (shuffling, faults, codes). A poisoned lock still yields it: a
    /// panic elsewhere must not stop the emulator.
    pub(crate) fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh GUID-shaped request id, cheaply (no system randomness per request).
    pub(crate) fn next_request_id(&self) -> String {
        let n = self.id_counter.fetch_add(1, Relaxed) as u128;
        let v = self
            .id_base
            .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        uuid::Builder::from_random_bytes(v.to_le_bytes())
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    pub(crate) fn stats_json(&self) -> Value {
        let figures = self
            .tenant
            .lock()
            .map(|t| t.write_figures())
            .unwrap_or(Value::Null);
        self.stats.to_json(figures)
    }

    pub(crate) fn users_json(&self) -> Value {
        self.tenant
            .lock()
            .map(|t| t.snapshot())
            .unwrap_or(Value::Null)
    }

    pub(crate) fn decide_device_code(&self, user_code: &str, approve: bool) -> bool {
        self.sessions
            .lock()
            .map(|mut s| s.decide(user_code, approve))
            .unwrap_or(false)
    }
}

/// The router: one fallback handler sees every request with its raw path.
pub(crate) fn router(tenants: Arc<Tenants>) -> Router {
    Router::new().fallback(handle).with_state(tenants)
}

/// Serves until `shutdown` completes.
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    tenants: Arc<Tenants>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(tenants))
        .with_graceful_shutdown(shutdown)
        .await
}

fn json_response(status: u16, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut bytes = Vec::with_capacity(1024);
    super::json_out::write_value(&mut bytes, body);
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (k, v) in extra {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(name, value);
        }
    }
    r
}

fn reply_response(reply: Reply) -> Response {
    let mut r = match &reply.body {
        Some(b) => json_response(reply.status, b, &[]),
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() =
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            r
        }
    };
    for (k, v) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, value);
        }
    }
    r
}

/// A Graph error response outside the routes (unknown paths, bad bodies, 401s).
fn graph_error(shared: &Shared, err: &GraphError, client_request_id: Option<&str>) -> Response {
    let rid = shared.next_request_id();
    let mut extra = vec![("request-id", rid.clone())];
    if let Some(c) = client_request_id {
        extra.push(("client-request-id", c.to_string()));
    }
    json_response(
        err.status,
        &error_body(err.code, &err.message, &rid, client_request_id),
        &extra,
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a `ConsistencyLevel` header asks for the advanced query index (`eventual`, in
/// any case; docs/graph.md §9.2).
pub(crate) fn is_eventual(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

async fn handle(State(tenants): State<Arc<Tenants>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Counted by the tenant that serves the request; a Graph request's is known only once its
    // token has been read, so `graph` counts those.
    let shared = match segments.as_slice() {
        [tenant, "oauth2", ..] => {
            let tenant = percent_decode_str(tenant).decode_utf8_lossy();
            tenants.for_login(&tenant).clone()
        }
        _ => tenants.first().clone(),
    };
    if !matches!(segments.first(), Some(&("v1.0" | "beta"))) {
        Stats::bump(&shared.stats.requests);
    }
    let client_request_id = header_str(&parts.headers, "client-request-id").map(str::to_string);
    let crid = client_request_id.as_deref();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return graph_error(
                &shared,
                &GraphError::new(
                    413,
                    "RequestEntityTooLarge",
                    "The request body is too large.",
                ),
                crid,
            );
        }
    };
    let post = parts.method == axum::http::Method::POST;
    match segments.as_slice() {
        ["_emulator", "stats"] => json_response(200, &shared.stats_json(), &[]),
        ["_emulator", "users"] => json_response(200, &shared.users_json(), &[]),
        ["_emulator", "tenants"] => {
            let ids: Vec<&str> = tenants
                .all()
                .iter()
                .map(|w| w.config.tenant_id.as_str())
                .collect();
            json_response(200, &json!({ "tenants": ids }), &[])
        }
        ["_emulator", "tenants", tenant, what @ ("stats" | "users")] => {
            let tenant = percent_decode_str(tenant).decode_utf8_lossy();
            match tenants.find(&tenant) {
                Some(w) if *what == "stats" => json_response(200, &w.stats_json(), &[]),
                Some(w) => json_response(200, &w.users_json(), &[]),
                None => json_response(
                    404,
                    &json!({"error": format!("no tenant '{tenant}' is served here")}),
                    &[],
                ),
            }
        }
        ["_emulator", "device", verb @ ("approve" | "decline")] if post => {
            let code = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                v.get("user_code")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            match code {
                Some(code) => {
                    let ok = tenants.decide_device_code(&code, *verb == "approve");
                    json_response(if ok { 200 } else { 404 }, &json!({ "ok": ok }), &[])
                }
                None => json_response(
                    400,
                    &json!({"ok": false, "error": "body must be {\"user_code\": \"…\"}"}),
                    &[],
                ),
            }
        }
        [
            tenant,
            "oauth2",
            "v2.0",
            endpoint @ ("token" | "devicecode"),
        ] => {
            if !post {
                let (status, body) = (
                    405,
                    json!({"error": "invalid_request", "error_description": "AADSTS900561: The endpoint only accepts POST requests.", "error_codes": [900561]}),
                );
                return json_response(status, &body, &[]);
            }
            let tenant = percent_decode_str(tenant).decode_utf8_lossy().into_owned();
            let (status, body) = if *endpoint == "token" {
                login::token(
                    &shared,
                    &tenant,
                    header_str(&parts.headers, "host"),
                    header_str(&parts.headers, "authorization"),
                    &bytes,
                )
            } else {
                login::device_code(&shared, &tenant, &bytes)
            };
            json_response(status, &body, &[("Cache-Control", "no-store".to_string())])
        }
        ["metadata", "identity", "oauth2", "token"] | ["msi", "token"] => {
            let endpoint = if segments[0] == "msi" {
                ManagedEndpoint::AppService
            } else {
                ManagedEndpoint::Imds
            };
            let (status, body) = managed_identity::token(
                &shared,
                endpoint,
                parts.method.as_str(),
                &parts.headers,
                parts.uri.query(),
            );
            json_response(status, &body, &[])
        }
        [version @ ("v1.0" | "beta"), ..] => {
            let beta = *version == "beta";
            // "/v1.0/users/…" → "users/…"; "/v1.0" alone → "".
            let rest = path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(*version))
                .map(|r| r.strip_prefix('/').unwrap_or(r))
                .unwrap_or("");
            graph(
                &tenants,
                beta,
                rest,
                parts.uri.query(),
                parts.method.as_str(),
                &parts.headers,
                bytes,
                crid,
            )
            .await
        }
        _ => graph_error(
            &shared,
            &GraphError::new(
                404,
                "NotFound",
                format!(
                    "No route for '{path}'. Graph lives under /v1.0 and /beta; login under /{{tenant}}/oauth2/v2.0."
                ),
            ),
            crid,
        ),
    }
}

/// A Graph request: the bearer token says which tenant serves it (its `tid`, docs/graph.md
/// §14); a request without a valid token is refused by the first tenant.
#[allow(clippy::too_many_arguments)]
async fn graph(
    tenants: &Tenants,
    beta: bool,
    rest: &str,
    query: Option<&str>,
    method: &str,
    headers: &HeaderMap,
    bytes: Bytes,
    crid: Option<&str>,
) -> Response {
    let checked = tenants
        .first()
        .tokens
        .check(header_str(headers, "authorization"));
    let shared = match &checked {
        Ok(t) => tenants
            .by_tid(&t.tenant_id)
            .unwrap_or_else(|| tenants.first()),
        Err(_) => tenants.first(),
    };
    Stats::bump(&shared.stats.requests);
    let fault_settings = &shared.config.faults;
    let delay = faults::latency(fault_settings, &mut shared.rng());
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let checked = checked.and_then(|t| {
        // Only tokens this tenant issued reach here; a tid nobody serves is a forgery.
        if t.tenant_id != shared.config.tenant_id {
            return Err(super::token::TokenProblem::Unknown);
        }
        let refused = fault_settings
            .refuse_tokens_after
            .is_some_and(|after| shared.stats.token_checks_passed.fetch_add(1, Relaxed) >= after);
        if refused {
            Err(super::token::TokenProblem::Refused)
        } else {
            Ok(t)
        }
    });
    let token = match checked {
        Ok(t) => {
            Stats::bump(&shared.stats.authorized);
            t
        }
        Err(problem) => {
            Stats::bump(&shared.stats.unauthorized);
            let mut r = graph_error(
                shared,
                &GraphError::new(401, "InvalidAuthenticationToken", problem.message()),
                crid,
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""),
            );
            return r;
        }
    };
    let decoded = percent_decode_str(rest).decode_utf8_lossy();
    let is_batch = decoded.trim_end_matches('/') == "$batch";
    let dropped = faults::drop_fault(fault_settings, &mut shared.rng());
    if dropped {
        Stats::bump(&shared.stats.faults_dropped);
        if !fault_settings.drop_after_execute {
            return truncated(br#"{"responses":[{"id":"1","status":200,"headers":{"request-id":"00000000-0000-0000-0000-000000000000"},"body":{"value":[]}}]}"#);
        }
    }
    let has_body = !bytes.iter().all(u8::is_ascii_whitespace);
    if has_body
        && let Some(err) = batch::unsupported_media_type(header_str(headers, "content-type"))
    {
        return graph_error(shared, &err, crid);
    }
    let response = if is_batch {
        batch_request(shared, beta, method, &bytes, &token, crid)
    } else {
        let eventual = is_eventual(header_str(headers, "consistencylevel"));
        plain_request(
            shared, beta, rest, query, method, &bytes, &token, crid, eventual,
        )
    };
    if dropped {
        // The request ran; only its answer is lost.
        let bytes = match axum::body::to_bytes(response.into_body(), usize::MAX).await {
            Ok(b) => b,
            Err(_) => Bytes::new(),
        };
        return truncated(&bytes);
    }
    response
}

fn truncated(full: &[u8]) -> Response {
    let mut r = Response::new(Body::new(TruncatedBody::new(full)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn batch_request(
    shared: &Shared,
    beta: bool,
    method: &str,
    bytes: &[u8],
    token: &super::token::TokenInfo,
    crid: Option<&str>,
) -> Response {
    if method != "POST" {
        return graph_error(shared, &GraphError::method_not_allowed(), crid);
    }
    let rid = shared.next_request_id();
    let mut extra = vec![("request-id", rid.clone())];
    if let Some(c) = crid {
        extra.push(("client-request-id", c.to_string()));
    }
    let fault = faults::batch_fault(&shared.config.faults, &mut shared.rng());
    if let Some(fault) = fault {
        // Counted so a test can tell how many items a faulted run sent (none of them ran).
        let items = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("requests").and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0);
        shared
            .stats
            .faults_batch_items
            .fetch_add(items as u64, Relaxed);
        let retry = format_retry_after(faults::retry_after(&shared.config.faults));
        extra.push(("Retry-After", retry.clone()));
        return match fault {
            BatchFault::Throttle => {
                Stats::bump(&shared.stats.faults_batch_429);
                Stats::bump(&shared.stats.throttled);
                let reply = super::routes::throttled(
                    &rid,
                    crid,
                    faults::retry_after(&shared.config.faults),
                );
                json_response(429, &reply.body.unwrap_or(Value::Null), &extra)
            }
            BatchFault::Unavailable => {
                Stats::bump(&shared.stats.faults_batch_503);
                json_response(
                    503,
                    &error_body(
                        "serviceNotAvailable",
                        "The service is temporarily unavailable. Please retry later.",
                        &rid,
                        crid,
                    ),
                    &extra,
                )
            }
        };
    }
    match batch::run(shared, beta, bytes, token) {
        Ok(v) => json_response(200, &v, &extra),
        Err(e) => json_response(
            e.status,
            &error_body(e.code, &e.message, &rid, crid),
            &extra,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn plain_request(
    shared: &Shared,
    beta: bool,
    rest: &str,
    query: Option<&str>,
    method: &str,
    bytes: &[u8],
    token: &super::token::TokenInfo,
    crid: Option<&str>,
    eventual: bool,
) -> Response {
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => Some(v),
            Err(_) => {
                return graph_error(
                    shared,
                    &GraphError::bad_request(
                        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                    ),
                    crid,
                );
            }
        }
    };
    let url = match query {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    // Drawn in a statement of its own: the generator's lock must be released before the
    // after-execute draw below takes it again.
    let fault = faults::item_fault(&shared.config.faults, &mut shared.rng());
    let reply = match fault {
        Some(status) => {
            Stats::bump(&shared.stats.faults_item_5xx);
            batch::fault_item(shared, status, crid)
        }
        None => {
            let ran = execute(
                shared,
                &Call {
                    beta,
                    method,
                    url: &url,
                    body: body.as_ref(),
                    client_request_id: crid,
                    token,
                    eventual,
                },
            );
            let after = faults::after_execute_fault(&shared.config.faults, &mut shared.rng());
            match after {
                Some(status) => {
                    Stats::bump(&shared.stats.faults_item_5xx_after_execute);
                    batch::fault_item(shared, status, crid)
                }
                None => ran,
            }
        }
    };
    shared.stats.item(reply.status);
    Stats::bump(&shared.stats.plain_requests);
    reply_response(reply)
}
