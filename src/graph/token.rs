//! Access tokens for Graph (docs/graph.md §7): a static token (`GRAPH_ACCESS_TOKEN`), the
//! client-credentials grant with a secret or a certificate, or a user's delegated sign-in with
//! the device-code flow; cached and renewed before expiry.
//!
//! One [`TokenSource`] is shared by all concurrent tasks. A token is renewed when less than
//! [`renewal_margin`] of its lifetime remains; callers arriving during a renewal wait for that
//! one renewal instead of starting their own, and when it fails they all get its error rather
//! than each asking again. Secrets never appear in `Debug`, `Display`, logs or errors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use percent_encoding::utf8_percent_encode;
use reqwest::Url;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::certificate::{AssertionAlg, CertificateError, CertificateKey, rfc3339, unix_now};
use super::device_code::DevicePrompt;
use super::error_body::snippet;

/// Lifetime assumed when the token endpoint gives no `expires_in` and the token is no JWT.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How an access token is obtained.
#[derive(Clone, Debug)]
pub(crate) enum Credential {
    /// A ready-made token (`GRAPH_ACCESS_TOKEN`): used as is, cannot be renewed.
    Static(SecretString),
    /// The client-credentials grant with a client secret.
    ClientSecret {
        /// The identity platform's base URL, e.g. `https://login.microsoftonline.com`.
        authority: String,
        /// Tenant id (GUID) or domain name.
        tenant: String,
        client_id: String,
        secret: SecretString,
        /// e.g. `https://graph.microsoft.com/.default`.
        scope: String,
    },
    /// The client-credentials grant with a certificate: each token request carries a fresh
    /// client assertion signed with the certificate's private key.
    Certificate {
        /// The identity platform's base URL, e.g. `https://login.microsoftonline.com`.
        authority: String,
        /// Tenant id (GUID) or domain name.
        tenant: String,
        client_id: String,
        /// e.g. `https://graph.microsoft.com/.default`.
        scope: String,
        cert: CertificateKey,
        /// PS256 with `x5t#S256` (default), or RS256 with `x5t` for older tenants.
        algorithm: AssertionAlg,
    },
    /// A managed identity (docs/graph.md §10): tokens for `resource` from a VM's metadata
    /// service or App Service's endpoint; user-assigned when `client_id` is given.
    ManagedIdentity {
        endpoint: super::managed_identity::ManagedIdentityEndpoint,
        /// e.g. `https://graph.microsoft.com` (no `/.default`).
        resource: String,
        client_id: Option<String>,
    },
    /// The Azure CLI (docs/graph.md §12): `az account get-access-token` for `resource`.
    AzureCli {
        /// e.g. `https://graph.microsoft.com`.
        resource: String,
        tenant: Option<String>,
    },
    /// Workload identity federation (docs/graph.md §11): the client-credentials grant whose
    /// client assertion is the token in `token_file` (`AZURE_FEDERATED_TOKEN_FILE`), read again
    /// for every request because the platform rotates it.
    Federated {
        /// The identity platform's base URL, e.g. `https://login.microsoftonline.com`.
        authority: String,
        /// Tenant id (GUID) or domain name.
        tenant: String,
        client_id: String,
        /// e.g. `https://graph.microsoft.com/.default`.
        scope: String,
        token_file: std::path::PathBuf,
    },
    /// A user's delegated sign-in with the device-code flow; renewed with the refresh token
    /// (so `scopes` should hold `offline_access`). When the refresh token stops working the
    /// user is told to sign in again: no new device flow starts mid-run.
    DeviceCode {
        /// The identity platform's base URL, e.g. `https://login.microsoftonline.com`.
        authority: String,
        /// Tenant id (GUID) or domain name (`organizations` also works).
        tenant: String,
        client_id: String,
        /// e.g. `["https://graph.microsoft.com/.default", "offline_access"]`.
        scopes: Vec<String>,
        /// Shows Microsoft's sign-in instructions (the `message`) to the user.
        prompt: DevicePrompt,
    },
}

/// Why no token could be had. Messages are one line, for people, and never carry a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// The identity platform refused the request (`error` / `error_description`).
    #[error("sign-in failed: {code}: {description}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Rejected {
        status: u16,
        /// The OAuth `error` field, e.g. `invalid_client`.
        code: String,
        /// The first line of `error_description`, e.g. `AADSTS7000215: Invalid client secret provided. …`.
        description: String,
        /// What to check, e.g. `check AZURE_CLIENT_SECRET`.
        hint: Option<&'static str>,
        /// The identity platform's `trace_id`, for support requests.
        trace_id: Option<String>,
    },
    /// The token endpoint could not be reached or stopped answering.
    #[error("sign-in failed: cannot reach {host}: {message}")]
    Network { host: String, message: String },
    /// The token endpoint answered something that is not a usable token response.
    #[error("sign-in failed: {host} answered HTTP {status}: {detail}")]
    BadResponse {
        host: String,
        status: u16,
        detail: String,
    },
    /// The static token has expired and cannot be renewed.
    #[error("the access token from GRAPH_ACCESS_TOKEN expired at {at}; get a new one")]
    Expired { at: String },
    /// The token's claims cannot be read (e.g. it is not a JWT).
    #[error("cannot read the access token's claims: {0}")]
    Claims(String),
    /// `GRAPH_ACCESS_TOKEN` holds something that is not an access token (a JWT).
    #[error(
        "GRAPH_ACCESS_TOKEN is not a Microsoft Graph access token ({0}); get one with: az account get-access-token --resource-type ms-graph --query accessToken -o tsv"
    )]
    NotAToken(String),
    /// The certificate cannot sign (e.g. it expired during the run).
    #[error("{0}")]
    Certificate(#[from] CertificateError),
    /// The federated token file cannot be used (missing, empty, not a JWT).
    #[error(
        "sign-in failed: the federated token file {path} (AZURE_FEDERATED_TOKEN_FILE) cannot be used: {message}"
    )]
    FederatedFile { path: String, message: String },
    /// A managed-identity endpoint refused the request.
    #[error("sign-in failed: {endpoint} answered HTTP {status} for {identity}: {message}{}", managed_hint(*status))]
    ManagedIdentity {
        endpoint: &'static str,
        status: u16,
        message: String,
        identity: String,
    },
    /// The Azure CLI gave no token.
    #[error("sign-in failed: {0}")]
    AzureCli(String),
    /// The user declined the device-code sign-in in the browser.
    #[error("sign-in failed: it was declined in the browser; run again to sign in")]
    Declined,
    /// The device code expired before the user finished signing in.
    #[error(
        "sign-in failed: the sign-in code expired (it lasts {minutes} min) before the sign-in was completed in the browser; run again and complete it in time"
    )]
    CodeExpired { minutes: u64 },
    /// The delegated sign-in can no longer be renewed (refresh token refused or absent).
    #[error("the sign-in has ended and cannot be renewed ({reason}); run again and sign in")]
    SignInAgain { reason: String },
}

/// Decoded, unverified claims of an access token, for permission checks.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct TokenClaims {
    /// Application permissions (`roles`).
    pub roles: Vec<String>,
    /// Delegated permissions (`scp`, split on spaces).
    pub scopes: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// `appid` (v1 tokens) or `azp` (v2 tokens).
    pub app_id: Option<String>,
    /// `tid`.
    pub tenant_id: Option<String>,
    /// `oid`: in a token for a user, that user's object id, which Graph returns as the user's
    /// `id` (docs/graph.md §7).
    pub object_id: Option<String>,
    /// `upn` (v1.0 tokens), else `preferred_username` (v2.0): the signed-in user's name.
    pub user_name: Option<String>,
}

/// How long before expiry a token is renewed: 10 % of its lifetime but at least 60 s, and
/// never more than a fifth of the lifetime (so a token living a few seconds, as in tests, is
/// still used before it is renewed). A 60–90 min Entra token is renewed 6–9 min early.
#[must_use]
pub(crate) fn renewal_margin(lifetime: Duration) -> Duration {
    Duration::from_secs(60).max(lifetime / 10).min(lifetime / 5)
}

/// Access tokens, cached and renewed; cheap to clone and shared by concurrent tasks.
#[derive(Clone)]
pub(crate) struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    credential: Credential,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    /// Held while a renewal is under way: later callers wait for it instead of starting one.
    renewal: tokio::sync::Mutex<Option<TokenError>>,
    /// Renewal attempts finished, so a waiter can tell that one ended while it waited.
    attempts: AtomicU64,
    grants: AtomicU64,
    /// The newest refresh token of a delegated sign-in.
    refresh: Mutex<Option<SecretString>>,
    /// Waits between device-code polls; injectable so tests do not wait.
    sleep: Sleep,
    #[cfg(test)]
    skew_ms: AtomicU64,
}

/// Waits for the given time (`tokio::time::sleep` outside tests).
pub(crate) type Sleep =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A token obtained from the identity platform.
pub(crate) struct Grant {
    pub(crate) token: SecretString,
    pub(crate) lifetime: Duration,
    pub(crate) refresh: Option<SecretString>,
}

/// Which credential a refusal is for, to pick the hint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Secret,
    Certificate,
    Federated,
    Device,
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    renew_at: Instant,
    expires_at: Instant,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.credential {
            Credential::Static(_) => "static",
            Credential::ClientSecret { .. } => "client-secret",
            Credential::Certificate { .. } => "certificate",
            Credential::Federated { .. } => "workload-identity",
            Credential::ManagedIdentity { .. } => "managed-identity",
            Credential::AzureCli { .. } => "azure-cli",
            Credential::DeviceCode { .. } => "device-code",
        };
        f.debug_struct("TokenSource")
            .field("kind", &kind)
            .field("grants", &self.grants())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    #[must_use]
    pub(crate) fn new(credential: Credential, http: reqwest::Client) -> TokenSource {
        let sleep: Sleep = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
        TokenSource::with_sleep(credential, http, sleep)
    }

    /// Like [`new`](Self::new), with the wait between device-code polls replaced.
    pub(crate) fn with_sleep(
        credential: Credential,
        http: reqwest::Client,
        sleep: Sleep,
    ) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                credential,
                http,
                cache: Mutex::new(None),
                renewal: tokio::sync::Mutex::new(None),
                attempts: AtomicU64::new(0),
                grants: AtomicU64::new(0),
                refresh: Mutex::new(None),
                sleep,
                #[cfg(test)]
                skew_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Whether a renewed token can be had (false for a static token).
    #[must_use]
    pub(crate) fn renewable(&self) -> bool {
        !matches!(self.inner.credential, Credential::Static(_))
    }

    /// A valid token: the cached one, or a renewed one when less than [`renewal_margin`] of
    /// its lifetime remains. Concurrent callers share one renewal.
    pub(crate) async fn token(&self) -> Result<SecretString, TokenError> {
        if let Credential::Static(token) = &self.inner.credential {
            return static_token(token);
        }
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let mut last_error = self.inner.renewal.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        if self.inner.attempts.load(Ordering::SeqCst) != seen {
            if let Some(err) = last_error.as_ref() {
                // A renewal finished while this caller waited, and failed: share its answer.
                return Err(err.clone());
            }
        }
        let result = self.fetch().await;
        // Counted once finished, so callers that queued during it see that one ended.
        self.inner.attempts.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(Grant {
                token,
                lifetime,
                refresh,
            }) => {
                *last_error = None;
                if let Some(refresh) = refresh {
                    *lock(&self.inner.refresh) = Some(refresh);
                }
                let now = self.now();
                let margin = renewal_margin(lifetime);
                *self.cache() = Some(Cached {
                    token: token.clone(),
                    renew_at: now + (lifetime - margin),
                    expires_at: now + lifetime,
                });
                self.inner.grants.fetch_add(1, Ordering::SeqCst);
                tracing::debug!(lifetime_s = lifetime.as_secs(), "obtained an access token");
                Ok(token)
            }
            Err(err) => {
                *last_error = Some(err.clone());
                // The old token may still have a little life left: use it, and try again
                // a little later rather than on every call.
                let now = self.now();
                let mut cache = self.cache();
                if let Some(c) = cache
                    .as_mut()
                    .filter(|c| c.expires_at > now + Duration::from_secs(1))
                {
                    c.renew_at = now + ((c.expires_at - now) / 2).min(Duration::from_secs(30));
                    tracing::warn!(
                        "token renewal failed, using the current token meanwhile: {err}"
                    );
                    return Ok(c.token.clone());
                }
                Err(err)
            }
        }
    }

    /// Called after a 401 with the token that was used: drops it from the cache so the next
    /// [`token`](Self::token) renews (unless another task already did). Returns whether a
    /// renewed token can be had: false for a static token.
    pub(crate) fn invalidate(&self, used: &SecretString) -> bool {
        if !self.renewable() {
            return false;
        }
        let mut cache = self.cache();
        if cache
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == used.expose_secret())
        {
            *cache = None;
        }
        true
    }

    /// Decoded (unverified) claims of the current token.
    pub(crate) async fn claims(&self) -> Result<TokenClaims, TokenError> {
        let token = match &self.inner.credential {
            // An expired static token's claims still tell the user what it was.
            Credential::Static(t) => t.clone(),
            _ => self.token().await?,
        };
        decode_claims(token.expose_secret())
    }

    /// How many tokens were obtained from the identity platform (0 for a static token).
    #[must_use]
    pub(crate) fn grants(&self) -> u64 {
        self.inner.grants.load(Ordering::SeqCst)
    }

    fn cache(&self) -> MutexGuard<'_, Option<Cached>> {
        lock(&self.inner.cache)
    }

    /// The refresh token of a delegated sign-in, if one was issued.
    pub(crate) fn refresh_token(&self) -> Option<SecretString> {
        lock(&self.inner.refresh).clone()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) async fn sleep(&self, d: Duration) {
        (self.inner.sleep)(d).await;
    }

    /// The cached token if it is not yet due for renewal.
    fn fresh(&self) -> Option<SecretString> {
        let now = self.now();
        self.cache()
            .as_ref()
            .filter(|c| now < c.renew_at)
            .map(|c| c.token.clone())
    }

    fn now(&self) -> Instant {
        #[cfg(test)]
        let skew = Duration::from_millis(self.inner.skew_ms.load(Ordering::SeqCst));
        #[cfg(not(test))]
        let skew = Duration::ZERO;
        Instant::now() + skew
    }

    /// Moves this source's clock forward, so tests see expiry without waiting.
    #[cfg(test)]
    pub(crate) fn advance_clock(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.inner.skew_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// One request for a new token, as the credential says.
    async fn fetch(&self) -> Result<Grant, TokenError> {
        match &self.inner.credential {
            Credential::Static(_) => Err(TokenError::Claims(
                "a static token cannot be renewed".into(),
            )),
            Credential::ClientSecret {
                authority,
                tenant,
                client_id,
                secret,
                scope,
            } => {
                let form = [
                    ("client_id", client_id.as_str()),
                    ("scope", scope.as_str()),
                    ("client_secret", secret.expose_secret()),
                    ("grant_type", "client_credentials"),
                ];
                let url = endpoint(authority, tenant, "token");
                let obj = self
                    .post_form(&url, &form, &[secret.expose_secret()], Flow::Secret)
                    .await?;
                grant_of(&obj, &url)
            }
            Credential::Certificate {
                authority,
                tenant,
                client_id,
                scope,
                cert,
                algorithm,
            } => {
                let url = endpoint(authority, tenant, "token");
                // A fresh assertion each time: it lives five minutes and its jti is single-use.
                let assertion = cert.assertion(*algorithm, &url, client_id, unix_now())?;
                let form = [
                    ("client_id", client_id.as_str()),
                    ("scope", scope.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose_secret()),
                    ("grant_type", "client_credentials"),
                ];
                let obj = self
                    .post_form(&url, &form, &[assertion.expose_secret()], Flow::Certificate)
                    .await?;
                grant_of(&obj, &url)
            }
            Credential::ManagedIdentity {
                endpoint,
                resource,
                client_id,
            } => {
                self.managed_identity_grant(endpoint, resource, client_id.as_deref())
                    .await
            }
            Credential::AzureCli { resource, tenant } => {
                self.azure_cli_grant(resource, tenant.as_deref()).await
            }
            Credential::Federated {
                authority,
                tenant,
                client_id,
                scope,
                token_file,
            } => {
                self.federated_grant(authority, tenant, client_id, scope, token_file)
                    .await
            }
            Credential::DeviceCode {
                authority,
                tenant,
                client_id,
                scopes,
                prompt,
            } => {
                let scope = scopes.join(" ");
                if self.grants() == 0 && self.refresh_token().is_none() {
                    let device_url = endpoint(authority, tenant, "devicecode");
                    let token_url = endpoint(authority, tenant, "token");
                    self.device_sign_in(&device_url, &token_url, client_id, &scope, prompt)
                        .await
                } else {
                    self.refresh(&endpoint(authority, tenant, "token"), client_id, &scope)
                        .await
                }
            }
        }
    }

    /// POSTs a form to the identity platform: the JSON object of a 2xx answer, or the
    /// refusal. `secrets` (sent in the form) are blanked from anything put in an error.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        secrets: &[&str],
        flow: Flow,
    ) -> Result<Map<String, Value>, TokenError> {
        let host = host_of(url);
        let redact = |s: &str| redact(s, secrets);
        let network = |e: &reqwest::Error| TokenError::Network {
            host: host.clone(),
            message: redact(&super::client::describe(e)),
        };
        let resp = self
            .inner
            .http
            .post(url)
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| network(&e))?;
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let bad = |detail: String| TokenError::BadResponse {
            host: host.clone(),
            status,
            detail: redact(&detail),
        };

        if !(200..300).contains(&status) {
            let obj = body.as_ref().and_then(Value::as_object);
            let code = obj.and_then(|o| o.get("error")).and_then(Value::as_str);
            return Err(match code {
                Some(code) => {
                    let description = obj
                        .and_then(|o| o.get("error_description"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let first = description.lines().next().unwrap_or("").trim();
                    TokenError::Rejected {
                        status,
                        code: redact(code),
                        description: redact(&snippet(first)),
                        hint: hint(flow, code, description),
                        trace_id: obj
                            .and_then(|o| o.get("trace_id"))
                            .and_then(Value::as_str)
                            .map(redact),
                    }
                }
                None => bad(format!(
                    "no OAuth error in the body: {}",
                    snippet(&String::from_utf8_lossy(&bytes))
                )),
            });
        }

        body.and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .ok_or_else(|| bad("the answer is not a JSON object".into()))
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/{what}`, the tenant kept readable.
pub(crate) fn endpoint(authority: &str, tenant: &str, what: &str) -> String {
    format!(
        "{}/{}/oauth2/v2.0/{what}",
        authority.trim_end_matches('/'),
        utf8_percent_encode(tenant, super::user_key::SEGMENT)
    )
}

/// The token in a successful token response from `url`.
pub(crate) fn grant_of(obj: &Map<String, Value>, url: &str) -> Result<Grant, TokenError> {
    let bad = |detail: &str| TokenError::BadResponse {
        host: host_of(url),
        status: 200,
        detail: detail.to_owned(),
    };
    let token = obj
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("the token response has no access_token"))?;
    let lifetime = seconds(obj.get("expires_in"))
        .or_else(|| {
            let exp = decode_claims(token).ok()?.expires_at?;
            Some(Duration::from_secs(
                u64::try_from(exp - unix_now()).unwrap_or(0),
            ))
        })
        .unwrap_or(DEFAULT_LIFETIME);
    let refresh = obj
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_owned()));
    Ok(Grant {
        token: SecretString::from(token.to_owned()),
        lifetime,
        refresh,
    })
}

/// A number of seconds given as a JSON number or string, capped at a day.
pub(crate) fn seconds(v: Option<&Value>) -> Option<Duration> {
    match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite())
    .map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A static token, refused once its JWT `exp` has passed.
fn static_token(token: &SecretString) -> Result<SecretString, TokenError> {
    let exp = decode_claims(token.expose_secret())
        .ok()
        .and_then(|c| c.expires_at);
    if let Some(exp) = exp.filter(|&exp| exp <= unix_now()) {
        return Err(TokenError::Expired { at: rfc3339(exp) });
    }
    Ok(token.clone())
}

/// Refuses a `GRAPH_ACCESS_TOKEN` that is not a JWT before anything is sent: Entra's access
/// tokens for Graph are JWTs; a pasted error page, a refresh token or a truncated copy is not,
/// and sending it would only draw 401s. The message never shows the token.
pub(crate) fn check_static_token(token: &SecretString) -> Result<(), TokenError> {
    match decode_claims(token.expose_secret()) {
        Ok(_) => Ok(()),
        Err(TokenError::Claims(why)) => Err(TokenError::NotAToken(why)),
        Err(e) => Err(e),
    }
}

/// The unverified claims in a JWT's payload.
fn decode_claims(token: &str) -> Result<TokenClaims, TokenError> {
    let payload = token
        .split('.')
        .nth(1)
        .filter(|_| token.split('.').count() == 3)
        .ok_or_else(|| TokenError::Claims("the token is not a JWT".into()))?;
    let bytes = URL_SAFE_NO_PAD_INDIFFERENT
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Claims("the token's payload is not base64url".into()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Claims("the token's payload is not JSON".into()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| TokenError::Claims("the token's payload is not a JSON object".into()))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(TokenClaims {
        roles: obj
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        scopes: obj
            .get("scp")
            .and_then(Value::as_str)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        expires_at: obj.get("exp").and_then(|e| {
            e.as_i64()
                .or_else(|| e.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        }),
        app_id: text("appid").or_else(|| text("azp")),
        tenant_id: text("tid"),
        object_id: text("oid"),
        user_name: text("upn").or_else(|| text("preferred_username")),
    })
}

/// What to check for the identity platform's common refusals.
fn hint(flow: Flow, code: &str, description: &str) -> Option<&'static str> {
    let aadsts = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.starts_with("AADSTS"))
        .unwrap_or("");
    match (flow, aadsts) {
        (Flow::Secret, "AADSTS7000215" | "AADSTS7000222" | "AADSTS7000216") => {
            Some("check AZURE_CLIENT_SECRET")
        }
        (Flow::Certificate, "AADSTS700027") => Some(
            "check that this certificate is uploaded to the app registration (Certificates & secrets)",
        ),
        (Flow::Certificate, "AADSTS700024") => Some("check this computer's clock"),
        (Flow::Federated, "AADSTS700024") => Some(
            "the token in AZURE_FEDERATED_TOKEN_FILE has expired: the platform that writes it should rotate it",
        ),
        (Flow::Federated, "AADSTS70021" | "AADSTS7002138") => Some(
            "add a federated credential to the app registration whose issuer, subject and audience match this token exactly (case-sensitive)",
        ),
        (Flow::Device, "AADSTS7000218") => {
            Some("allow public client flows in the app registration (Authentication)")
        }
        (_, "AADSTS700016") => {
            Some("check AZURE_CLIENT_ID, and that the app is registered in this tenant and cloud")
        }
        (_, "AADSTS90002" | "AADSTS900023" | "AADSTS90013") => Some("check AZURE_TENANT_ID"),
        (_, "AADSTS70011" | "AADSTS1002012") => Some("check the scope and --cloud"),
        (Flow::Device, _) if code == "bad_verification_code" => {
            Some("run again to get a new sign-in code")
        }
        (Flow::Secret, _) if code == "invalid_client" => {
            Some("check AZURE_CLIENT_ID and AZURE_CLIENT_SECRET")
        }
        (Flow::Federated, _) if code == "invalid_client" => {
            Some("check AZURE_CLIENT_ID and the app registration's federated credentials")
        }
        (Flow::Certificate, _) if code == "invalid_client" => Some(
            "check AZURE_CLIENT_ID and that this certificate is uploaded to the app registration",
        ),
        _ => None,
    }
}

/// What to check when a managed-identity endpoint refuses (docs/graph.md §10).
fn managed_hint(status: u16) -> &'static str {
    match status {
        400 | 404 => {
            " (check that this resource has that managed identity, and the --managed-identity client id)"
        }
        401 | 403 => " (check IDENTITY_HEADER: it must be the platform's current value)",
        _ => "",
    }
}

/// `s` with every occurrence of each secret replaced, in case a server echoes one.
fn redact(s: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(s.to_owned(), |s, secret| s.replace(secret, "[redacted]"))
}

/// The host of a base URL, for messages.
pub(crate) fn host_of(base: &str) -> String {
    Url::parse(base)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_else(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::{ExposeSecret, SecretString};
    use serde_json::json;

    use super::super::certificate::unix_now;
    use super::super::certificate::{AssertionAlg, CertificateKey};
    use super::super::test_support::{
        SECRET, TokenMode, TokenServer, fake_jwt, refusing_addr, test_http, valid_pem,
    };
    use super::{Credential, TokenError, TokenSource, check_static_token, renewal_margin};

    const HOUR: TokenMode = TokenMode::Grant { expires_in: 3600 };

    #[test]
    fn renewal_margin_scales_with_the_lifetime() {
        let s = Duration::from_secs;
        assert_eq!(renewal_margin(s(3600)), s(360));
        assert_eq!(renewal_margin(s(300)), s(60));
        assert_eq!(renewal_margin(s(120)), s(24));
        assert_eq!(renewal_margin(s(10)), s(2));
        assert_eq!(renewal_margin(s(0)), s(0));
    }

    #[tokio::test]
    async fn client_credentials_request_carries_the_documented_form() {
        let server = TokenServer::start(HOUR, Duration::ZERO).await;
        server.source().token().await.unwrap();
        let forms = server.forms.lock().unwrap().clone();
        let (path, form) = &forms[0];
        assert_eq!(path, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "app-id");
        assert_eq!(form["client_secret"], SECRET);
        assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    }

    #[tokio::test]
    async fn token_is_cached_and_reused() {
        let server = TokenServer::start(HOUR, Duration::ZERO).await;
        let source = server.source();
        for _ in 0..5 {
            assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        }
        source.advance_clock(Duration::from_secs(3000));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        assert_eq!(server.count(), 1);
        assert_eq!(source.grants(), 1);
    }

    #[tokio::test]
    async fn token_is_renewed_when_near_expiry() {
        let server = TokenServer::start(TokenMode::Grant { expires_in: 10 }, Duration::ZERO).await;
        let source = server.source();
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        // Margin for 10 s is 2 s: still used at 7 s, renewed at 9 s.
        source.advance_clock(Duration::from_secs(7));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        source.advance_clock(Duration::from_secs(2));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
        assert_eq!(source.grants(), 2);
    }

    #[tokio::test]
    async fn failed_early_renewal_keeps_the_current_token_until_it_expires() {
        let server =
            TokenServer::start(TokenMode::GrantOnce { expires_in: 100 }, Duration::ZERO).await;
        let source = server.source();
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        // Due for renewal at 80 s; the renewal fails but tok-1 lives until 100 s.
        source.advance_clock(Duration::from_secs(85));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        assert_eq!(server.count(), 2);
        // No new attempt on every call: the next one waits a little.
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        assert_eq!(server.count(), 2);
        source.advance_clock(Duration::from_secs(20));
        let err = source.token().await.unwrap_err();
        assert!(
            matches!(err, TokenError::BadResponse { status: 503, .. }),
            "{err:?}"
        );
        assert_eq!(source.grants(), 1);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_renewal() {
        let server = TokenServer::start(HOUR, Duration::from_millis(100)).await;
        let source = server.source();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move { s.token().await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().expose_secret(), "tok-1");
        }
        assert_eq!(server.count(), 1);
        assert_eq!(source.grants(), 1);
    }

    #[tokio::test]
    async fn invalidate_drops_the_used_token_so_the_next_call_renews() {
        let server = TokenServer::start(HOUR, Duration::ZERO).await;
        let source = server.source();
        let first = source.token().await.unwrap();
        assert!(source.invalidate(&first));
        let second = source.token().await.unwrap();
        assert_eq!(second.expose_secret(), "tok-2");
        // A late 401 for the old token must not throw away the renewed one.
        assert!(source.invalidate(&first));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");
        assert_eq!(server.count(), 2);
    }

    fn bad_secret_body() -> serde_json::Value {
        json!({
            "error": "invalid_client",
            "error_description": format!("AADSTS7000215: Invalid client secret provided. Echo {SECRET}.\r\nTrace ID: t-1\r\nCorrelation ID: c-1"),
            "error_codes": [7000215],
            "trace_id": "t-1"
        })
    }

    #[tokio::test]
    async fn bad_secret_gives_the_error_description_but_never_the_secret() {
        let server =
            TokenServer::start(TokenMode::Refuse(401, bad_secret_body()), Duration::ZERO).await;
        let err = server.source().token().await.unwrap_err();
        let shown = err.to_string();
        let debug = format!("{err:?}");
        assert!(
            shown.starts_with(
                "sign-in failed: invalid_client: AADSTS7000215: Invalid client secret provided."
            ),
            "{shown}"
        );
        assert!(shown.ends_with("(check AZURE_CLIENT_SECRET)"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(matches!(err, TokenError::Rejected { status: 401, .. }));
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_failed_renewal() {
        let server = TokenServer::start(
            TokenMode::Refuse(401, bad_secret_body()),
            Duration::from_millis(100),
        )
        .await;
        let source = server.source();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move { s.token().await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().is_err());
        }
        assert_eq!(server.count(), 1);
        assert_eq!(source.grants(), 0);
    }

    #[tokio::test]
    async fn unreachable_authority_names_the_host() {
        let (_refusing, addr) = refusing_addr();
        let source = TokenSource::new(
            Credential::ClientSecret {
                authority: format!("http://{addr}"),
                tenant: "t".into(),
                client_id: "c".into(),
                secret: SecretString::from(SECRET),
                scope: "s".into(),
            },
            test_http(),
        );
        let err = source.token().await.unwrap_err();
        assert!(matches!(err, TokenError::Network { .. }), "{err:?}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        assert!(!format!("{err:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn token_response_without_access_token_is_a_bad_response() {
        let server =
            TokenServer::start(TokenMode::Refuse(200, json!({"foo": 1})), Duration::ZERO).await;
        let err = server.source().token().await.unwrap_err();
        assert!(
            matches!(err, TokenError::BadResponse { status: 200, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn claims_are_decoded_from_the_obtained_token() {
        let jwt = fake_jwt(&json!({
            "roles": ["Policy.ReadWrite.AuthenticationMethod", "UserAuthenticationMethod.ReadWrite.All"],
            "exp": 4_000_000_000_i64, "appid": "app-1", "tid": "ten-1"
        }));
        let server = TokenServer::start(TokenMode::Fixed(jwt), Duration::ZERO).await;
        let claims = server.source().claims().await.unwrap();
        assert_eq!(claims.roles.len(), 2);
        assert!(claims.scopes.is_empty());
        assert_eq!(claims.expires_at, Some(4_000_000_000));
        assert_eq!(claims.app_id.as_deref(), Some("app-1"));
        assert_eq!(claims.tenant_id.as_deref(), Some("ten-1"));
    }

    #[tokio::test]
    async fn static_token_cannot_be_renewed_and_reads_delegated_scopes() {
        let jwt = fake_jwt(
            &json!({"scp": "Policy.Read.All  User.Read", "exp": unix_now() + 600, "azp": "cli"}),
        );
        let source = TokenSource::new(
            Credential::Static(SecretString::from(jwt.clone())),
            test_http(),
        );
        let token = source.token().await.unwrap();
        assert_eq!(token.expose_secret(), jwt);
        assert!(!source.invalidate(&token));
        let claims = source.claims().await.unwrap();
        assert_eq!(claims.scopes, ["Policy.Read.All", "User.Read"]);
        assert_eq!(claims.app_id.as_deref(), Some("cli"));
        assert_eq!(source.grants(), 0);
    }

    #[tokio::test]
    async fn expired_static_token_is_refused_with_advice() {
        let jwt = fake_jwt(&json!({"exp": 1_600_000_000}));
        let source = TokenSource::new(
            Credential::Static(SecretString::from(jwt.clone())),
            test_http(),
        );
        let err = source.token().await.unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("GRAPH_ACCESS_TOKEN") && shown.contains("2020-09-13"),
            "{shown}"
        );
        assert!(!shown.contains(&jwt));
    }

    #[test]
    fn a_static_token_that_is_not_a_jwt_is_refused_without_showing_it() {
        for garbage in [
            "hunter2-not-a-token",
            "a.b",
            "x.!!!.y",
            "eyJhbGciOiJub25lIn0.bm90IGpzb24.sig",
        ] {
            let err = check_static_token(&SecretString::from(garbage)).unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.starts_with("GRAPH_ACCESS_TOKEN is not a Microsoft Graph access token ("),
                "{shown}"
            );
            assert!(!shown.contains(garbage), "{shown}");
        }
        let jwt = fake_jwt(&json!({"roles": []}));
        check_static_token(&SecretString::from(jwt)).unwrap();
    }

    #[tokio::test]
    async fn opaque_static_token_is_used_but_has_no_claims() {
        let source = TokenSource::new(
            Credential::Static(SecretString::from("opaque")),
            test_http(),
        );
        assert_eq!(source.token().await.unwrap().expose_secret(), "opaque");
        assert!(matches!(source.claims().await, Err(TokenError::Claims(_))));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let cred = Credential::ClientSecret {
            authority: "https://login.microsoftonline.com".into(),
            tenant: "t".into(),
            client_id: "c".into(),
            secret: SecretString::from(SECRET),
            scope: "s".into(),
        };
        assert!(!format!("{cred:?}").contains(SECRET));
        let source = TokenSource::new(cred, test_http());
        assert!(!format!("{source:?}").contains(SECRET));
    }

    fn certificate_source(base: &str, algorithm: AssertionAlg) -> (TokenSource, String) {
        let (pem, _) = valid_pem();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let source = TokenSource::new(
            Credential::Certificate {
                authority: format!("{base}/"),
                tenant: "contoso.onmicrosoft.com".into(),
                client_id: "app-id".into(),
                scope: "https://graph.microsoft.com/.default".into(),
                cert,
                algorithm,
            },
            test_http(),
        );
        (source, pem)
    }

    fn jwt_part(jwt: &str, i: usize) -> serde_json::Value {
        use base64::Engine as _;
        let seg = jwt.split('.').nth(i).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn certificate_request_carries_a_fresh_assertion_each_time() {
        let server = TokenServer::start(TokenMode::Grant { expires_in: 10 }, Duration::ZERO).await;
        let (source, _) = certificate_source(&server.base, AssertionAlg::Ps256);
        assert!(source.renewable());
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-1");
        source.advance_clock(Duration::from_secs(9));
        assert_eq!(source.token().await.unwrap().expose_secret(), "tok-2");

        let forms = server.forms.lock().unwrap().clone();
        assert_eq!(forms.len(), 2);
        let (path, form) = &forms[0];
        assert_eq!(path, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
        let mut keys: Vec<_> = form.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "client_assertion",
                "client_assertion_type",
                "client_id",
                "grant_type",
                "scope"
            ]
        );
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "app-id");
        assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
        assert_eq!(
            form["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let first = jwt_part(&form["client_assertion"], 1);
        assert_eq!(
            first["aud"],
            format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", server.base)
        );
        assert_eq!(first["iss"], "app-id");
        assert_eq!(jwt_part(&form["client_assertion"], 0)["alg"], "PS256");
        let second = jwt_part(&forms[1].1["client_assertion"], 1);
        assert_ne!(first["jti"], second["jti"], "renewal signs a new assertion");
    }

    #[tokio::test]
    async fn rs256_certificate_request_sends_the_sha1_thumbprint() {
        let server = TokenServer::start(HOUR, Duration::ZERO).await;
        let (source, _) = certificate_source(&server.base, AssertionAlg::Rs256);
        source.token().await.unwrap();
        let forms = server.forms.lock().unwrap().clone();
        let header = jwt_part(&forms[0].1["client_assertion"], 0);
        assert_eq!(header["alg"], "RS256");
        assert!(header.get("x5t").is_some() && header.get("x5t#S256").is_none());
    }

    #[tokio::test]
    async fn unregistered_certificate_gets_a_hint_and_never_shows_the_assertion() {
        let body = json!({
            "error": "invalid_client",
            "error_description": "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found.]\r\nTrace ID: t",
            "trace_id": "t"
        });
        let server = TokenServer::start(TokenMode::Refuse(401, body), Duration::ZERO).await;
        let (source, pem) = certificate_source(&server.base, AssertionAlg::Ps256);
        let err = source.token().await.unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("AADSTS700027"), "{shown}");
        assert!(
            shown.contains("uploaded to the app registration"),
            "{shown}"
        );
        let assertion = server.forms.lock().unwrap()[0].1["client_assertion"].clone();
        let key_line = pem.lines().rev().nth(3).unwrap();
        for text in [shown, format!("{err:?}"), format!("{source:?}")] {
            assert!(
                !text.contains(&assertion) && !text.contains(key_line),
                "{text}"
            );
        }
    }

    #[test]
    fn certificate_credential_debug_never_shows_the_key() {
        let (pem, _) = valid_pem();
        let cred = Credential::Certificate {
            authority: "https://login.microsoftonline.com".into(),
            tenant: "t".into(),
            client_id: "c".into(),
            scope: "s".into(),
            cert: CertificateKey::from_pem(pem.as_bytes(), None).unwrap(),
            algorithm: AssertionAlg::default(),
        };
        let debug = format!("{cred:?}");
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!debug.contains(line), "{debug}");
        }
        assert!(format!("{:?}", TokenSource::new(cred, test_http())).contains("certificate"));
    }
}
