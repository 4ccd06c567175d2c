//! The HTTP side of Graph: sends `$batch` (and single) requests with a bearer token and maps
//! outer answers to [`BatchError`]: 429/503/424 (and gateway 502/504) → `Throttled`, 401 →
//! one token renewal and retry, then `Auth`; other non-2xx → `Rejected`; anything that did
//! not yield a readable answer → `Transport`. Item-level failures inside a 200 batch are
//! answers, returned as items: the engine decides what they mean.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::batch::{BatchReply, batch_body, parse_batch_response, parse_retry_after};
use super::error_body::{snippet, synthesized_message};
use super::token::{TokenError, TokenSource, host_of};
use super::{ApiVersion, BatchError, BatchItem, GraphError, ItemResponse, Method};

/// Sends requests to one Graph base URL with tokens from one [`TokenSource`]. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    host: String,
    tokens: TokenSource,
    http: reqwest::Client,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.inner.base)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

impl From<TokenError> for BatchError {
    fn from(e: TokenError) -> BatchError {
        BatchError::Auth(e.to_string())
    }
}

/// A raw answer: status, headers and the whole body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl GraphClient {
    /// `graph_base` is e.g. `https://graph.microsoft.com` or `http://127.0.0.1:PORT` (already
    /// validated by [`validate_base_url`](super::validate_base_url)); a trailing slash is
    /// ignored.
    #[must_use]
    pub fn new(graph_base: &str, tokens: TokenSource, http: reqwest::Client) -> GraphClient {
        let base = graph_base.trim_end_matches('/').to_owned();
        GraphClient {
            inner: Arc::new(Inner {
                host: host_of(&base),
                base,
                tokens,
                http,
            }),
        }
    }

    /// The HTTP client to share between Graph and sign-in: connect timeout 10 s, request
    /// timeout 100 s (the authentication-methods APIs give up at 60 s), rustls, HTTP/2 when
    /// offered, up to 16 idle connections per host, no redirects, user agent
    /// `mfa-rollout/<version>`.
    #[must_use]
    pub fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent(concat!("mfa-rollout/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(100))
            .pool_max_idle_per_host(16)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!("cannot configure the HTTP client ({e}); using defaults");
                reqwest::Client::new()
            })
    }

    #[must_use]
    pub fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    /// The base URL, without trailing slash.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// `POST {base}/{version}/$batch` with the items, parsed and correlated for an outer 2xx.
    /// An empty slice sends nothing (Graph refuses empty batches).
    pub async fn batch(
        &self,
        version: ApiVersion,
        items: &[BatchItem],
    ) -> Result<BatchReply, BatchError> {
        if items.is_empty() {
            return Ok(BatchReply::default());
        }
        let url = format!("{}/{}/$batch", self.inner.base, version.as_str());
        let body = serde_json::to_vec(&batch_body(items))
            .map_err(|e| BatchError::Transport(format!("cannot encode the batch: {e}")))?;
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let answer = self
            .exchange(&client_request_id, || {
                self.inner
                    .http
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.outer_error(&answer, &client_request_id));
        }
        parse_batch_response(&answer.body, items).map_err(|e| {
            BatchError::Transport(format!(
                "unreadable $batch answer from {} (HTTP {}): {e}",
                self.inner.host,
                answer.status.as_u16()
            ))
        })
    }

    /// One plain request (for checks and tests), with the same error mapping as [`batch`]:
    /// a 2xx is returned as the item's answer, anything else as a [`BatchError`].
    ///
    /// [`batch`]: Self::batch
    pub async fn send(
        &self,
        version: ApiVersion,
        item: &BatchItem,
    ) -> Result<ItemResponse, BatchError> {
        let sep = if item.url.starts_with('/') { "" } else { "/" };
        let url = format!("{}/{}{sep}{}", self.inner.base, version.as_str(), item.url);
        let client_request_id = if item.client_request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            item.client_request_id.clone()
        };
        let body = match &item.body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| BatchError::Transport(format!("cannot encode the body: {e}")))?,
            ),
            None => None,
        };
        let method = match item.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let answer = self
            .exchange(&client_request_id, || {
                let req = self.inner.http.request(method.clone(), &url);
                match &body {
                    Some(b) => req.header(CONTENT_TYPE, "application/json").body(b.clone()),
                    None => req,
                }
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.outer_error(&answer, &client_request_id));
        }
        let body = if answer.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&answer.body).into_owned())
            })
        };
        Ok(ItemResponse {
            id: item.id.clone(),
            status: answer.status.as_u16(),
            retry_after: header(&answer.headers, "retry-after")
                .as_deref()
                .and_then(parse_retry_after),
            request_id: header(&answer.headers, "request-id"),
            client_request_id: header(&answer.headers, "client-request-id")
                .or(Some(client_request_id)),
            throttle_percentage: header(&answer.headers, "x-ms-throttle-limit-percentage")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|p| p.is_finite()),
            body,
        })
    }

    /// Sends the request built by `build` with a bearer token; on 401 drops the token, renews
    /// it and sends once more. Returns any other answer whole.
    async fn exchange(
        &self,
        client_request_id: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, BatchError> {
        let tokens = &self.inner.tokens;
        let mut renewed = false;
        loop {
            let token = tokens.token().await?;
            let request = build()
                .header(AUTHORIZATION, bearer(&token)?)
                .header(ACCEPT, "application/json")
                .header("client-request-id", client_request_id);
            let response = request.send().await.map_err(|e| self.transport(&e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| self.transport(&e))?
                .to_vec();
            let answer = Answer {
                status,
                headers,
                body,
            };
            if status != StatusCode::UNAUTHORIZED {
                return Ok(answer);
            }
            if !renewed && tokens.invalidate(&token) {
                tracing::info!(host = %self.inner.host, "access token refused (401); renewing it");
                renewed = true;
                continue;
            }
            return Err(self.unauthorized(&answer, renewed));
        }
    }

    /// The error for a 401 that renewal did not cure.
    fn unauthorized(&self, answer: &Answer, renewed: bool) -> BatchError {
        let detail = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| GraphError::from_body(&v))
            .map(|e| format!(": {}: {}", e.code, snippet(&e.message)))
            .unwrap_or_default();
        let advice = if !self.inner.tokens.renewable() {
            "the token from GRAPH_ACCESS_TOKEN cannot be renewed: get a new one"
        } else if renewed {
            "even with a newly obtained token; check that --cloud / --graph-url match the \
             cloud where the app is registered"
        } else {
            "check the credentials"
        };
        BatchError::Auth(format!(
            "{} refused the access token (HTTP 401{detail}); {advice}",
            self.inner.host
        ))
    }

    /// The error for a non-2xx, non-401 outer answer.
    fn outer_error(&self, answer: &Answer, client_request_id: &str) -> BatchError {
        let status = answer.status.as_u16();
        match status {
            424 | 429 | 502 | 503 | 504 => BatchError::Throttled {
                status,
                retry_after: header(&answer.headers, "retry-after")
                    .as_deref()
                    .and_then(parse_retry_after),
            },
            _ => {
                let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&answer.body).into_owned())
                });
                let mut error = GraphError::from_body(&body).unwrap_or_else(|| GraphError {
                    code: String::new(),
                    message: synthesized_message(status, &body),
                    request_id: None,
                    client_request_id: None,
                });
                if error.request_id.is_none() {
                    error.request_id = header(&answer.headers, "request-id");
                }
                if error.client_request_id.is_none() {
                    error.client_request_id = Some(client_request_id.to_owned());
                }
                BatchError::Rejected { status, error }
            }
        }
    }

    fn transport(&self, e: &reqwest::Error) -> BatchError {
        BatchError::Transport(format!("{}: {}", self.inner.host, describe(e)))
    }
}

/// The `Authorization` header value, marked sensitive so it is never logged.
fn bearer(token: &SecretString) -> Result<HeaderValue, BatchError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            BatchError::Auth("the access token has characters not allowed in a header".into())
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A response header as text, when present and readable.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A reqwest error with its causes, on one line (reqwest's own message is often just
/// "error sending request"; the cause says "connection refused" or "timed out").
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    msg
}
