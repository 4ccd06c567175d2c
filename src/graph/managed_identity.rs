//! Managed identity tokens (docs/graph.md §10): from a VM's instance metadata service (IMDS)
//! or from the endpoint App Service, Functions and Azure Automation give a resource
//! (`IDENTITY_ENDPOINT` with the `IDENTITY_HEADER` secret); system-assigned, or the
//! user-assigned identity named by its client id.
//!
//! The two endpoints differ in their rules: IMDS wants `Metadata: true` and an api-version of
//! 2018-02-01 or later, and answers every field as a string; App Service wants the
//! `X-IDENTITY-HEADER` and api-version 2019-08-01, and gives `expires_on` only. IMDS answers
//! 404, 410, 429 and 5xx while it is not ready or busy: those are retried a few times with a
//! growing wait (§10.1); any other refusal is final. The identity header never appears in an
//! error.

use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::error_body::snippet;
use super::token::{Grant, TokenError, TokenSource, grant_of, host_of, seconds};

/// The IMDS api-version sent: the first one the docs allow (§10.1).
const IMDS_API_VERSION: &str = "2018-02-01";
/// The App Service api-version sent (§10.2).
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// Attempts at IMDS for answers it documents as transient.
const IMDS_ATTEMPTS: u32 = 4;
/// The first wait between them; doubled each time (1, 2, 4 s).
const IMDS_FIRST_WAIT: Duration = Duration::from_secs(1);
/// Neither endpoint leaves the machine: an answer taking longer means there is none (e.g.
/// 169.254.169.254 off Azure).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which managed-identity endpoint, and its secret.
#[derive(Clone, Debug)]
pub(crate) enum ManagedIdentityEndpoint {
    /// The VM's instance metadata service token URL.
    Imds { url: String },
    /// App Service / Functions / Automation: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    AppService { url: String, header: SecretString },
}

impl ManagedIdentityEndpoint {
    fn url(&self) -> &str {
        match self {
            ManagedIdentityEndpoint::Imds { url }
            | ManagedIdentityEndpoint::AppService { url, .. } => url,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ManagedIdentityEndpoint::Imds { .. } => "the VM metadata service",
            ManagedIdentityEndpoint::AppService { .. } => {
                "the managed identity endpoint (IDENTITY_ENDPOINT)"
            }
        }
    }
}

/// Checks `IDENTITY_ENDPOINT`: http(s), and plain http only to this machine (loopback) or the
/// link-local range the platform uses, as the identity header travels with each request.
pub(crate) fn validate_identity_endpoint(url: &str) -> Result<String, String> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| format!("IDENTITY_ENDPOINT is not a URL ({e})"))?;
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("IDENTITY_ENDPOINT has no host".into());
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || match bare.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_link_local(),
            Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback(),
            Err(_) => false,
        };
    match parsed.scheme() {
        "https" => Ok(parsed.to_string()),
        "http" if local => Ok(parsed.to_string()),
        "http" => Err("IDENTITY_ENDPOINT uses plain http to a host that is not this machine; only https is accepted there".into()),
        other => Err(format!("IDENTITY_ENDPOINT must be http or https, not {other}")),
    }
}

impl TokenSource {
    /// One managed-identity token for `resource` (e.g. `https://graph.microsoft.com`).
    pub(super) async fn managed_identity_grant(
        &self,
        endpoint: &ManagedIdentityEndpoint,
        resource: &str,
        client_id: Option<&str>,
    ) -> Result<Grant, TokenError> {
        let mut wait = IMDS_FIRST_WAIT;
        let mut attempt = 1;
        loop {
            match self
                .managed_identity_once(endpoint, resource, client_id)
                .await
            {
                Err(TokenError::ManagedIdentity { status, .. })
                    if matches!(endpoint, ManagedIdentityEndpoint::Imds { .. })
                        && attempt < IMDS_ATTEMPTS
                        && matches!(status, 404 | 410 | 429 | 500..=599) =>
                {
                    tracing::debug!(
                        status,
                        attempt,
                        "the VM metadata service is not ready; asking again"
                    );
                    self.sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn managed_identity_once(
        &self,
        endpoint: &ManagedIdentityEndpoint,
        resource: &str,
        client_id: Option<&str>,
    ) -> Result<Grant, TokenError> {
        let base = endpoint.url();
        let host = host_of(base);
        let mut url = Url::parse(base).map_err(|e| TokenError::Network {
            host: host.clone(),
            message: format!("not a URL ({e})"),
        })?;
        let secret: &str = match endpoint {
            ManagedIdentityEndpoint::Imds { .. } => "",
            ManagedIdentityEndpoint::AppService { header, .. } => header.expose_secret(),
        };
        {
            let mut query = url.query_pairs_mut();
            match endpoint {
                ManagedIdentityEndpoint::Imds { .. } => {
                    query.append_pair("api-version", IMDS_API_VERSION)
                }
                ManagedIdentityEndpoint::AppService { .. } => {
                    query.append_pair("api-version", APP_SERVICE_API_VERSION)
                }
            };
            query.append_pair("resource", resource);
            if let Some(id) = client_id {
                query.append_pair("client_id", id);
            }
        }
        let request = self.http().get(url).timeout(REQUEST_TIMEOUT);
        let request = match endpoint {
            ManagedIdentityEndpoint::Imds { .. } => request.header("Metadata", "true"),
            // Azure Automation's samples send `Metadata: True` beside the identity header
            // (docs/graph.md §10.2); App Service ignores it.
            ManagedIdentityEndpoint::AppService { header, .. } => request
                .header("X-IDENTITY-HEADER", header.expose_secret())
                .header("Metadata", "true"),
        };
        let redact = |s: &str| {
            if secret.is_empty() {
                s.to_owned()
            } else {
                s.replace(secret, "[redacted]")
            }
        };
        let resp = request.send().await.map_err(|e| TokenError::Network {
            host: format!("{} ({host})", endpoint.name()),
            message: redact(&super::client::describe(&e)),
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| TokenError::Network {
            host: host.clone(),
            message: redact(&super::client::describe(&e)),
        })?;
        let body: Option<Map<String, Value>> = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            });
        if !(200..300).contains(&status) {
            let obj = body.as_ref();
            let text = |k: &str| obj.and_then(|o| o.get(k)).and_then(Value::as_str);
            // IMDS: OAuth-style error and error_description; App Service: message.
            let message = match (text("error"), text("error_description"), text("message")) {
                (Some(code), Some(d), _) => format!("{code}: {}", d.lines().next().unwrap_or("")),
                (Some(code), None, _) => code.to_owned(),
                (None, _, Some(m)) => m.to_owned(),
                _ => String::from_utf8_lossy(&bytes).into_owned(),
            };
            return Err(TokenError::ManagedIdentity {
                endpoint: endpoint.name(),
                status,
                message: redact(&snippet(&message)),
                identity: client_id.map_or_else(
                    || "the system-assigned identity".to_owned(),
                    |id| format!("the user-assigned identity {id}"),
                ),
            });
        }
        let Some(mut obj) = body else {
            return Err(TokenError::BadResponse {
                host,
                status,
                detail: "the answer is not a JSON object".into(),
            });
        };
        // expires_in when the endpoint gives it (IMDS, as a string), else expires_on (Unix
        // seconds, a string on both): grant_of reads seconds from either form.
        if seconds(obj.get("expires_in")).is_none() {
            if let Some(on) = seconds_since_epoch(obj.get("expires_on")) {
                let left = on - super::certificate::unix_now();
                obj.insert("expires_in".into(), Value::from(left.max(0)));
            } else {
                obj.remove("expires_in");
            }
        }
        grant_of(&obj, base)
    }
}

/// `expires_on` as Unix seconds: a number, or a string of digits.
fn seconds_since_epoch(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::extract::RawQuery;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use secrecy::{ExposeSecret, SecretString};
    use serde_json::json;

    use super::super::test_support::{fake_jwt, recording_sleep, serve, test_http};
    use super::super::token::{Credential, TokenError, TokenSource};
    use super::{ManagedIdentityEndpoint, validate_identity_endpoint};

    /// (query, header names and values) of each request, and the answers still to give.
    type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

    async fn endpoint(answers: Vec<(u16, serde_json::Value)>) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let queue = Arc::new(Mutex::new(answers));
        let log = seen.clone();
        let router = Router::new().route(
            "/token",
            get(move |RawQuery(q): RawQuery, headers: HeaderMap| {
                let (log, queue) = (log.clone(), queue.clone());
                async move {
                    log.lock().unwrap().push((
                        q.unwrap_or_default(),
                        headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                    ));
                    let (status, body) = queue.lock().unwrap().remove(0);
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        );
        (format!("{}/token", serve(router).await), seen)
    }

    fn mi_source(
        endpoint: ManagedIdentityEndpoint,
        client_id: Option<&str>,
    ) -> (TokenSource, Arc<Mutex<Vec<Duration>>>) {
        let (sleep, waits) = recording_sleep();
        let credential = Credential::ManagedIdentity {
            endpoint,
            resource: "https://graph.microsoft.com".into(),
            client_id: client_id.map(str::to_string),
        };
        (
            TokenSource::with_sleep(credential, test_http(), sleep),
            waits,
        )
    }

    #[tokio::test]
    async fn app_service_sends_its_header_and_version_and_reads_expires_on() {
        let jwt = fake_jwt(&json!({"roles": []}));
        let expires_on = super::super::certificate::unix_now() + 1200;
        let (url, seen) = endpoint(vec![(
            200,
            json!({"access_token": jwt, "expires_on": expires_on.to_string(), "resource": "https://graph.microsoft.com", "token_type": "Bearer"}),
        )])
        .await;
        let app_service = ManagedIdentityEndpoint::AppService {
            url,
            header: SecretString::from("the-identity-header"),
        };
        let (source, _) = mi_source(app_service.clone(), Some("user-assigned-id"));
        let grant = source
            .managed_identity_grant(
                &app_service,
                "https://graph.microsoft.com",
                Some("user-assigned-id"),
            )
            .await
            .unwrap();
        assert_eq!(grant.token.expose_secret(), jwt);
        let left = grant.lifetime.as_secs();
        assert!(
            (1190..=1200).contains(&left),
            "lifetime from expires_on: {left}"
        );
        let (query, headers) = seen.lock().unwrap()[0].clone();
        assert_eq!(
            query,
            "api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com&client_id=user-assigned-id"
        );
        let value = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            value("x-identity-header").as_deref(),
            Some("the-identity-header")
        );
        assert_eq!(value("metadata").as_deref(), Some("true"));
    }

    #[tokio::test]
    async fn imds_is_asked_again_while_not_ready_and_a_refusal_is_final() {
        let jwt = fake_jwt(&json!({"roles": []}));
        let not_ready = json!({"error": "not_found", "error_description": "Identity not ready"});
        let (url, seen) = endpoint(vec![
            (404, not_ready.clone()),
            (503, not_ready),
            (
                200,
                json!({"access_token": jwt, "expires_in": "3599", "expires_on": "1"}),
            ),
        ])
        .await;
        let (source, waits) = mi_source(ManagedIdentityEndpoint::Imds { url }, None);
        assert_eq!(source.token().await.unwrap().expose_secret(), jwt);
        assert_eq!(
            *waits.lock().unwrap(),
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        let (query, headers) = seen.lock().unwrap()[2].clone();
        assert_eq!(
            query,
            "api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft.com"
        );
        assert!(headers.iter().any(|(k, v)| k == "metadata" && v == "true"));

        let refused =
            json!({"error": "invalid_request", "error_description": "Identity not found"});
        let (url, seen) = endpoint(vec![(400, refused)]).await;
        let (source, waits) = mi_source(ManagedIdentityEndpoint::Imds { url }, Some("nope"));
        let err = source.token().await.unwrap_err();
        assert!(
            matches!(err, TokenError::ManagedIdentity { status: 400, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("the user-assigned identity nope"),
            "{err}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert!(waits.lock().unwrap().is_empty());
    }

    #[test]
    fn identity_endpoint_takes_plain_http_only_on_this_machine_or_link_local() {
        for ok in [
            "http://127.0.0.1:41741/msi/token",
            "http://localhost:8081/msi/token/",
            "http://169.254.129.3:8081/msi/token",
            "http://[::1]:1/msi/token",
            "https://identity.example.net/token",
        ] {
            assert!(validate_identity_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.4/msi/token",
            "http://identity.example.net/token",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            let err = validate_identity_endpoint(bad).unwrap_err();
            assert!(err.starts_with("IDENTITY_ENDPOINT"), "{bad}: {err}");
        }
    }
}
