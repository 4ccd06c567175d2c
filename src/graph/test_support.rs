//! Loopback servers for the graph tests: a fake token endpoint with counters, a helper to
//! serve any axum router on `127.0.0.1:0`, and a raw TCP server that cuts its answer short.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::token::{Credential, TokenSource};

/// The token requests seen: (raw request path, form fields).
pub(crate) type Forms = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

pub(crate) const SECRET: &str = "s3cr3t-Value~with.odd/chars";

/// Serves `router` on a fresh loopback port; returns `http://127.0.0.1:PORT`.
pub(crate) async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// How the fake token endpoint answers.
#[derive(Clone)]
pub(crate) enum TokenMode {
    /// Tokens `tok-1`, `tok-2`, … living `expires_in` seconds.
    Grant { expires_in: u64 },
    /// A fixed token (e.g. a JWT) living an hour.
    Fixed(String),
    /// A refusal with this status and OAuth error body.
    Refuse(u16, Value),
    /// `tok-1` living `expires_in` seconds, then 503 for every later request.
    GrantOnce { expires_in: u64 },
}

pub(crate) struct TokenServer {
    pub(crate) base: String,
    pub(crate) requests: Arc<AtomicU64>,
    pub(crate) forms: Forms,
}

struct TokState {
    mode: TokenMode,
    delay: Duration,
    requests: Arc<AtomicU64>,
    forms: Forms,
}

async fn token_endpoint(
    State(state): State<Arc<TokState>>,
    uri: Uri,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    state
        .forms
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), form));
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    match &state.mode {
        TokenMode::Grant { expires_in } => Json(json!({
            "token_type": "Bearer", "expires_in": expires_in, "access_token": format!("tok-{n}")
        }))
        .into_response(),
        TokenMode::Fixed(t) => Json(json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": t
        }))
        .into_response(),
        TokenMode::GrantOnce { expires_in } if n == 1 => Json(json!({
            "token_type": "Bearer", "expires_in": expires_in, "access_token": "tok-1"
        }))
        .into_response(),
        TokenMode::GrantOnce { .. } => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        TokenMode::Refuse(status, body) => {
            (StatusCode::from_u16(*status).unwrap(), Json(body.clone())).into_response()
        }
    }
}

impl TokenServer {
    pub(crate) async fn start(mode: TokenMode, delay: Duration) -> TokenServer {
        let requests = Arc::new(AtomicU64::new(0));
        let forms = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(TokState {
            mode,
            delay,
            requests: requests.clone(),
            forms: forms.clone(),
        });
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint))
            .with_state(state);
        TokenServer {
            base: serve(router).await,
            requests,
            forms,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn source(&self) -> TokenSource {
        TokenSource::new(
            Credential::ClientSecret {
                authority: format!("{}/", self.base),
                tenant: "contoso.onmicrosoft.com".into(),
                client_id: "app-id".into(),
                secret: SecretString::from(SECRET),
                scope: "https://graph.microsoft.com/.default".into(),
            },
            test_http(),
        )
    }
}

/// A loopback address that refuses connections for as long as the socket lives: bound but
/// not listening, so the kernel answers a connect with a reset and no other process can take
/// the port meanwhile (a listener bound and dropped frees it for anyone, who may answer).
pub(crate) fn refusing_addr() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

/// An HTTP client for loopback tests: never goes through a proxy from the environment.
pub(crate) fn test_http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A JWT-shaped token (unsigned) with the given payload.
pub(crate) fn fake_jwt(payload: &Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        enc(&json!({"typ":"JWT","alg":"none"})),
        enc(payload)
    )
}

/// A raw server that reads one HTTP request and answers with `head` + `body_part`, then closes
/// the connection (so a `Content-Length` larger than `body_part` cuts the body mid-stream).
pub(crate) async fn raw_server(head: &'static str, body_part: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            while let Ok(n) = sock.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    let head_text = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len: usize = head_text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body_part.as_bytes()).await;
            let _ = sock.flush().await;
            drop(sock);
        }
    });
    format!("http://{addr}")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// RSA test keys (PKCS#8 DER), generated once per test binary: generating is slow.
fn rsa_keys() -> &'static [Vec<u8>] {
    static KEYS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (0..2)
            .map(|_| {
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                    .unwrap()
                    .serialize_der()
            })
            .collect()
    })
}

/// Test RSA key number `i` (0 or 1).
pub(crate) fn rsa_key(i: usize) -> rcgen::KeyPair {
    rcgen::KeyPair::try_from(rsa_keys()[i].as_slice()).unwrap()
}

/// A self-signed certificate for `key`, valid between the given Unix times; (PEM, DER).
pub(crate) fn self_signed(
    key: &rcgen::KeyPair,
    not_before: i64,
    not_after: i64,
) -> (String, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(vec!["mfa-rollout-test".to_owned()]).unwrap();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let cert = params.self_signed(key).unwrap();
    (cert.pem(), cert.der().to_vec())
}

/// A PEM file's text: a certificate valid from a day ago for a year, and its key (PKCS#8).
pub(crate) fn valid_pem() -> (String, Vec<u8>) {
    let key = rsa_key(0);
    let now = super::certificate::unix_now();
    let (cert, der) = self_signed(&key, now - 86_400, now + 365 * 86_400);
    (format!("{cert}{}", key.serialize_pem()), der)
}

/// A scripted identity platform: `/devicecode` gives `device_answer`; `/token` gives the
/// scripted answers in order (503 when they run out). Records every request's form.
pub(crate) struct ScriptServer {
    pub(crate) base: String,
    pub(crate) forms: Forms,
}

struct ScriptState {
    device_answer: Value,
    token_answers: Mutex<std::collections::VecDeque<(u16, Value)>>,
    forms: Forms,
}

async fn script_endpoint(
    State(state): State<Arc<ScriptState>>,
    uri: Uri,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state
        .forms
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), form));
    if uri.path().ends_with("/devicecode") {
        return Json(state.device_answer.clone()).into_response();
    }
    match state.token_answers.lock().unwrap().pop_front() {
        Some((status, body)) => (StatusCode::from_u16(status).unwrap(), Json(body)).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

impl ScriptServer {
    pub(crate) async fn start(
        device_answer: Value,
        token_answers: Vec<(u16, Value)>,
    ) -> ScriptServer {
        let forms: Forms = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ScriptState {
            device_answer,
            token_answers: Mutex::new(token_answers.into()),
            forms: forms.clone(),
        });
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(script_endpoint))
            .route("/{tenant}/oauth2/v2.0/devicecode", post(script_endpoint))
            .with_state(state);
        ScriptServer {
            base: serve(router).await,
            forms,
        }
    }

    /// The forms sent to paths ending with `suffix`.
    pub(crate) fn forms_to(&self, suffix: &str) -> Vec<HashMap<String, String>> {
        self.forms
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// A sleep that returns at once and records what it was asked to wait.
pub(crate) fn recording_sleep() -> (super::token::Sleep, Arc<Mutex<Vec<Duration>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let sleep: super::token::Sleep = Arc::new(move |d| {
        seen.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (sleep, log)
}
