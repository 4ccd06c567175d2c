//! The HTTP side of Graph: sends `$batch` (and single) requests with a bearer token and maps
//! outer answers to [`BatchError`]: 429 and the transient statuses ([`RetryClass`]) →
//! `Throttled`, 401 →
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
use super::{ApiVersion, BatchError, BatchItem, GraphError, RetryClass};

/// Sends requests to one Graph base URL with tokens from one [`TokenSource`]. Cheap to clone.
#[derive(Clone)]
pub(crate) struct GraphClient {
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
    pub(crate) fn new(graph_base: &str, tokens: TokenSource, http: reqwest::Client) -> GraphClient {
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
    pub(crate) fn http_client() -> reqwest::Client {
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
    pub(crate) fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    /// `POST {base}/{version}/$batch` with the items, parsed and correlated for an outer 2xx.
    /// An empty slice sends nothing (Graph refuses empty batches).
    pub(crate) async fn batch(
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
        let client_request_id = super::client_request_id();
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
        match RetryClass::of(status) {
            RetryClass::Throttled | RetryClass::Transient => BatchError::Throttled {
                status,
                retry_after: header(&answer.headers, "retry-after")
                    .as_deref()
                    .and_then(parse_retry_after),
            },
            RetryClass::Final => {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use secrecy::SecretString;
    use serde_json::{Value, json};

    use super::super::test_support::{
        SECRET, TokenMode, TokenServer, raw_server, refusing_addr, serve, test_http,
    };
    use super::super::token::{Credential, TokenSource};
    use super::super::{ApiVersion, BatchError, BatchItem, Method};
    use super::{GraphClient, bearer};

    /// What the fake Graph saw: one entry per request (Authorization, all headers, body).
    type Seen = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

    fn items(n: usize) -> Vec<BatchItem> {
        (1..=n)
            .map(|i| BatchItem {
                id: i.to_string(),
                method: if i % 2 == 0 {
                    Method::Patch
                } else {
                    Method::Get
                },
                url: format!("/users/u{i}/authentication/requirements"),
                body: (i % 2 == 0).then(|| json!({"perUserMfaState":"enforced"})),
                client_request_id: format!("c-{i}"),
                advanced_query: false,
            })
            .collect()
    }

    /// Answers every request of a batch, in reverse order.
    fn answer_all(body: &Value) -> Value {
        let mut responses: Vec<Value> = body["requests"]
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .map(|r| json!({"id": r["id"], "status": 204, "headers": {"request-id": format!("r-{}", r["id"].as_str().unwrap_or(""))}}))
                    .collect()
            })
            .unwrap_or_default();
        responses.reverse();
        json!({ "responses": responses })
    }

    /// A fake Graph whose `$batch` answers with `respond(call number, authorization, body)`.
    async fn graph<F>(respond: F) -> (String, Seen)
    where
        F: Fn(usize, &str, &Value) -> Response + Clone + Send + Sync + 'static,
    {
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let seen = seen2.clone();
            let respond = respond.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push((auth.clone(), headers, body.clone()));
                    s.len()
                };
                respond(n, &auth, &body)
            }
        };
        let router = Router::new()
            .route("/beta/$batch", post(handler.clone()))
            .route("/v1.0/$batch", post(handler));
        (serve(router).await, seen)
    }

    fn ok_json(v: Value) -> Response {
        (StatusCode::OK, axum::Json(v)).into_response()
    }

    fn static_source(token: &str) -> TokenSource {
        TokenSource::new(Credential::Static(SecretString::from(token)), test_http())
    }

    #[tokio::test]
    async fn batch_sends_items_with_token_and_ids_and_correlates_answers() {
        let tokens =
            TokenServer::start(TokenMode::Grant { expires_in: 3600 }, Duration::ZERO).await;
        let (base, seen) = graph(|_, _, body| ok_json(answer_all(body))).await;
        let client = GraphClient::new(&format!("{base}/"), tokens.source(), test_http());
        let sent = items(3);
        let reply = client.batch(ApiVersion::Beta, &sent).await.unwrap();
        let ids: Vec<_> = reply.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert_eq!(reply.items[1].request_id.as_deref(), Some("r-2"));
        assert!(reply.missing.is_empty());

        let seen = seen.lock().unwrap();
        let (auth, headers, body) = &seen[0];
        assert_eq!(auth, "Bearer tok-1");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["content-type"], "application/json");
        let crid = headers["client-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(crid).is_ok(), "{crid}");
        assert_eq!(body["requests"].as_array().unwrap().len(), 3);
        assert_eq!(
            body["requests"][1]["headers"]["Content-Type"],
            "application/json"
        );
    }

    #[tokio::test]
    async fn empty_batch_sends_nothing() {
        let (base, seen) = graph(|_, _, body| ok_json(answer_all(body))).await;
        let client = GraphClient::new(&base, static_source("t"), test_http());
        let reply = client.batch(ApiVersion::Beta, &[]).await.unwrap();
        assert!(reply.items.is_empty());
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unauthorized_once_renews_the_token_and_retries() {
        let tokens =
            TokenServer::start(TokenMode::Grant { expires_in: 3600 }, Duration::ZERO).await;
        let (base, seen) = graph(|_, auth, body| {
            if auth == "Bearer tok-1" {
                StatusCode::UNAUTHORIZED.into_response()
            } else {
                ok_json(answer_all(body))
            }
        })
        .await;
        let client = GraphClient::new(&base, tokens.source(), test_http());
        let reply = client.batch(ApiVersion::Beta, &items(2)).await.unwrap();
        assert_eq!(reply.items.len(), 2);
        assert_eq!(client.tokens().grants(), 2);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unauthorized_twice_is_an_auth_error() {
        let tokens =
            TokenServer::start(TokenMode::Grant { expires_in: 3600 }, Duration::ZERO).await;
        let (base, seen) = graph(|_, _, _| {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure."}})),
            )
                .into_response()
        })
        .await;
        let client = GraphClient::new(&base, tokens.source(), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Auth(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(
            msg.contains("401") && msg.contains("InvalidAuthenticationToken"),
            "{msg}"
        );
        assert_eq!(client.tokens().grants(), 2);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unauthorized_static_token_is_an_auth_error_without_retry() {
        let (base, seen) = graph(|_, _, _| StatusCode::UNAUTHORIZED.into_response()).await;
        let client = GraphClient::new(&base, static_source("static-tok"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Auth(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("GRAPH_ACCESS_TOKEN"), "{msg}");
        assert!(!msg.contains("static-tok"), "{msg}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn sign_in_failure_is_an_auth_error_without_the_secret() {
        let tokens = TokenServer::start(
            TokenMode::Refuse(400, json!({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})),
            Duration::ZERO,
        )
        .await;
        let (base, seen) = graph(|_, _, body| ok_json(answer_all(body))).await;
        let client = GraphClient::new(&base, tokens.source(), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Auth(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("AADSTS7000215"), "{msg}");
        assert!(!format!("{err:?}").contains(SECRET));
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn outer_429_with_retry_after_is_throttled() {
        let (base, _) = graph(|_, _, _| {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", "2.5")],
                axum::Json(json!({"error":{"code":"TooManyRequests","message":"Please retry again later."}})),
            )
                .into_response()
        })
        .await;
        let client = GraphClient::new(&base, static_source("t"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(2)).await.unwrap_err();
        assert!(
            matches!(err, BatchError::Throttled { status: 429, retry_after: Some(d) } if d == Duration::from_millis(2500)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn outer_transient_statuses_are_throttled_without_retry_after() {
        for status in [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::FAILED_DEPENDENCY,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::GATEWAY_TIMEOUT,
        ] {
            let (base, _) = graph(move |_, _, _| status.into_response()).await;
            let client = GraphClient::new(&base, static_source("t"), test_http());
            let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
            assert!(
                matches!(err, BatchError::Throttled { status: s, retry_after: None } if s == status.as_u16()),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn outer_400_is_rejected_with_the_graph_error() {
        let (base, _) = graph(|_, _, _| {
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error":{"code":"BadRequest","message":"Write request id : 1 does not contain Content-Type header or body.",
                    "innerError":{"request-id":"req-9","client-request-id":"c-9"}}})),
            )
                .into_response()
        })
        .await;
        let client = GraphClient::new(&base, static_source("t"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Rejected { status, error } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*status, 400);
        assert_eq!(error.code, "BadRequest");
        assert_eq!(error.request_id.as_deref(), Some("req-9"));
        assert!(err.to_string().contains("BadRequest"));
    }

    #[tokio::test]
    async fn outer_error_without_graph_body_is_rejected_with_a_snippet() {
        let (base, _) = graph(|_, _, _| {
            (
                StatusCode::NOT_IMPLEMENTED,
                "<html>\n  upstream   broke\n</html>",
            )
                .into_response()
        })
        .await;
        let client = GraphClient::new(&base, static_source("t"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Rejected { status: 501, error } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(error.code, "");
        assert!(
            error.message.contains("upstream broke"),
            "{}",
            error.message
        );
        assert!(error.client_request_id.is_some());
    }

    #[tokio::test]
    async fn garbage_body_is_a_transport_error() {
        let (base, _) = graph(|_, _, _| (StatusCode::OK, "<html>not json").into_response()).await;
        let client = GraphClient::new(&base, static_source("t"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        assert!(matches!(err, BatchError::Transport(_)), "{err:?}");
    }

    #[tokio::test]
    async fn body_cut_off_mid_stream_is_a_transport_error() {
        let base = raw_server(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
            "{\"responses\":[{\"id\":\"1\",\"sta",
        )
        .await;
        let client = GraphClient::new(&base, static_source("secret-tok"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Transport(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(!msg.contains("secret-tok"), "{msg}");
    }

    #[tokio::test]
    async fn refused_connection_is_a_transport_error_naming_the_host() {
        let (_refusing, addr) = refusing_addr();
        let client = GraphClient::new(&format!("http://{addr}"), static_source("t"), test_http());
        let err = client.batch(ApiVersion::Beta, &items(1)).await.unwrap_err();
        let BatchError::Transport(msg) = &err else {
            panic!("{err:?}")
        };
        assert!(msg.contains(&addr.to_string()), "{msg}");
    }

    #[test]
    fn bearer_header_is_marked_sensitive() {
        let value = bearer(&SecretString::from("abc")).unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("abc"));
    }

    #[test]
    fn http_client_builds() {
        let _ = GraphClient::http_client();
    }
}
