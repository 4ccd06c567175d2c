//! A user's delegated sign-in with the device-code flow (docs/graph.md §7, RFC 8628): ask for
//! a code, show Microsoft's instructions, poll the token endpoint until the user has signed in
//! in a browser; later renew with the refresh token.
//!
//! Polling honours `interval`, adds 5 s for this and every later poll on `slow_down`
//! (RFC 8628 §3.5), stops on `authorization_declined`, `expired_token` and
//! `bad_verification_code`, and gives up once `expires_in` has passed. A refused refresh
//! token ends the sign-in with advice to run again: a new device flow never starts mid-run.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::token::{Flow, Grant, TokenError, TokenSource, grant_of, host_of, seconds};

/// The poll interval when the device-code answer gives none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a code lives when the answer does not say (Microsoft's default).
const DEFAULT_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// RFC 8628 §3.5: `slow_down` adds this to the interval for this and all later polls.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Polls in a row that may fail for network reasons or a 5xx before the sign-in gives up.
const MAX_TRANSIENT_FAILURES: u32 = 5;

/// Shows the device-code sign-in instructions (Microsoft's `message`, e.g. "To sign in, use
/// a web browser to open the page <https://microsoft.com/devicelogin> and enter the code …").
#[derive(Clone)]
pub(crate) struct DevicePrompt(Arc<dyn Fn(&str) + Send + Sync>);

impl DevicePrompt {
    /// A prompt calling `show` with the message.
    pub(crate) fn new(show: impl Fn(&str) + Send + Sync + 'static) -> DevicePrompt {
        DevicePrompt(Arc::new(show))
    }

    /// Prints the message on stderr, where it does not mix with output the user asked for.
    #[must_use]
    pub(crate) fn stderr() -> DevicePrompt {
        DevicePrompt::new(|message| eprintln!("{message}"))
    }

    fn show(&self, message: &str) {
        (self.0)(message);
    }
}

impl fmt::Debug for DevicePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DevicePrompt")
    }
}

/// What the device-code endpoint answered: the code to poll with, and what to show the user.
struct DeviceCode {
    device_code: SecretString,
    message: String,
    interval: Duration,
    expiry: Duration,
}

impl DeviceCode {
    /// Reads the device-code answer (`url`, the endpoint, names its host in errors).
    fn from_answer(start: &Map<String, Value>, url: &str) -> Result<DeviceCode, TokenError> {
        let text = |k: &str| {
            start
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let bad = |detail: &str| TokenError::BadResponse {
            host: host_of(url),
            status: 200,
            detail: detail.into(),
        };
        let device_code = text("device_code")
            .map(|c| SecretString::from(c.to_owned()))
            .ok_or_else(|| bad("the device-code answer has no device_code"))?;
        let message = match (text("message"), text("verification_uri"), text("user_code")) {
            (Some(m), _, _) => m.to_owned(),
            (None, Some(uri), Some(code)) => {
                format!(
                    "To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."
                )
            }
            _ => return Err(bad("the device-code answer has no message nor user_code")),
        };
        Ok(DeviceCode {
            device_code,
            message,
            interval: seconds(start.get("interval"))
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_INTERVAL),
            expiry: seconds(start.get("expires_in"))
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_EXPIRY),
        })
    }
}

impl TokenSource {
    /// The whole device-code sign-in: code, prompt, polling.
    pub(super) async fn device_sign_in(
        &self,
        device_url: &str,
        token_url: &str,
        client_id: &str,
        scope: &str,
        prompt: &DevicePrompt,
    ) -> Result<Grant, TokenError> {
        let start = self
            .post_form(
                device_url,
                &[("client_id", client_id), ("scope", scope)],
                &[],
                Flow::Device,
            )
            .await?;
        let code = DeviceCode::from_answer(&start, device_url)?;
        prompt.show(&code.message);
        self.poll_device_code(code, token_url, client_id).await
    }

    /// Polls the token endpoint until the user has signed in (the grant), declined, or the
    /// code expired.
    async fn poll_device_code(
        &self,
        code: DeviceCode,
        token_url: &str,
        client_id: &str,
    ) -> Result<Grant, TokenError> {
        let DeviceCode {
            device_code,
            mut interval,
            expiry,
            ..
        } = code;
        let expired = TokenError::CodeExpired {
            minutes: expiry.as_secs().div_ceil(60),
        };
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut transient = 0;
        loop {
            self.sleep(interval).await;
            waited += interval;
            // Real time in production; the slept time when a test replaces the sleep.
            if started.elapsed().max(waited) >= expiry {
                return Err(expired);
            }
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", device_code.expose_secret()),
            ];
            let reply = self
                .post_form(
                    token_url,
                    &form,
                    &[device_code.expose_secret()],
                    Flow::Device,
                )
                .await;
            match reply {
                Ok(obj) => return grant_of(&obj, token_url),
                Err(TokenError::Rejected { code, .. }) if code == "authorization_pending" => {
                    transient = 0;
                }
                Err(TokenError::Rejected { code, .. }) if code == "slow_down" => {
                    transient = 0;
                    interval += SLOW_DOWN_STEP;
                }
                Err(TokenError::Rejected { code, .. }) if code == "authorization_declined" => {
                    return Err(TokenError::Declined);
                }
                Err(TokenError::Rejected { code, .. }) if code == "expired_token" => {
                    return Err(expired);
                }
                Err(
                    e @ (TokenError::Network { .. }
                    | TokenError::BadResponse {
                        status: 500..=599, ..
                    }),
                ) if transient < MAX_TRANSIENT_FAILURES => {
                    transient += 1;
                    tracing::warn!("waiting for the device-code sign-in: {e}; polling on");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Renews a delegated sign-in with its newest refresh token.
    pub(super) async fn refresh(
        &self,
        token_url: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<Grant, TokenError> {
        let Some(refresh) = self.refresh_token() else {
            return Err(TokenError::SignInAgain {
                reason: "no refresh token was issued; include offline_access in the scopes".into(),
            });
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh.expose_secret()),
            ("scope", scope),
        ];
        match self
            .post_form(token_url, &form, &[refresh.expose_secret()], Flow::Device)
            .await
        {
            Ok(obj) => grant_of(&obj, token_url),
            Err(TokenError::Rejected {
                code, description, ..
            }) => Err(TokenError::SignInAgain {
                reason: if description.is_empty() {
                    code
                } else {
                    format!("{code}: {description}")
                },
            }),
            // Unreachable or a server fault: the current token may still serve meanwhile.
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use secrecy::ExposeSecret;
    use serde_json::{Value, json};

    use super::super::test_support::{ScriptServer, fake_jwt, recording_sleep, test_http};
    use super::super::token::{Credential, TokenError, TokenSource};
    use super::DevicePrompt;

    const MESSAGE: &str = "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.";
    const DEVICE_CODE: &str = "GAQABAAEAAAD-device-code-secret";
    const REFRESH_1: &str = "0.AAAA-refresh-token-one";
    const REFRESH_2: &str = "0.AAAA-refresh-token-two";
    const SCOPES: &str = "https://graph.microsoft.com/.default offline_access";

    fn device_answer(expires_in: u64, interval: u64) -> Value {
        json!({
            "device_code": DEVICE_CODE,
            "user_code": "ABCD-EFGH",
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": expires_in,
            "interval": interval,
            "message": MESSAGE
        })
    }

    fn oauth_error(code: &str) -> (u16, Value) {
        (
            400,
            json!({
                "error": code,
                "error_description": format!("AADSTS70016: {code}. Echo {DEVICE_CODE}.\r\nTrace ID: t"),
                "trace_id": "t"
            }),
        )
    }

    fn delegated_token(n: u32) -> String {
        fake_jwt(&json!({
            "scp": "Policy.ReadWrite.AuthenticationMethod UserAuthenticationMethod.ReadWrite.All",
            "exp": 4_000_000_000_i64, "azp": "public-app", "tid": "ten-1", "n": n
        }))
    }

    fn granted(n: u32, expires_in: u64, refresh: Option<&str>) -> (u16, Value) {
        let mut body = json!({
            "token_type": "Bearer",
            "scope": "Policy.ReadWrite.AuthenticationMethod UserAuthenticationMethod.ReadWrite.All",
            "expires_in": expires_in,
            "access_token": delegated_token(n),
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        (200, body)
    }

    struct Rig {
        server: ScriptServer,
        source: TokenSource,
        sleeps: Arc<Mutex<Vec<Duration>>>,
        shown: Arc<Mutex<Vec<String>>>,
    }

    async fn rig(device: Value, answers: Vec<(u16, Value)>) -> Rig {
        let server = ScriptServer::start(device, answers).await;
        let (sleep, sleeps) = recording_sleep();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let seen = shown.clone();
        let source = TokenSource::with_sleep(
            Credential::DeviceCode {
                authority: server.base.clone(),
                tenant: "organizations".into(),
                client_id: "public-app".into(),
                scopes: SCOPES.split(' ').map(str::to_owned).collect(),
                prompt: DevicePrompt::new(move |m| seen.lock().unwrap().push(m.to_owned())),
            },
            test_http(),
            sleep,
        );
        Rig {
            server,
            source,
            sleeps,
            shown,
        }
    }

    fn secs(list: &[u64]) -> Vec<Duration> {
        list.iter().copied().map(Duration::from_secs).collect()
    }

    #[tokio::test]
    async fn pending_then_slow_down_then_success_polls_on_the_rfc_schedule() {
        let r = rig(
            device_answer(900, 2),
            vec![
                oauth_error("authorization_pending"),
                oauth_error("slow_down"),
                oauth_error("authorization_pending"),
                granted(1, 3600, Some(REFRESH_1)),
            ],
        )
        .await;
        assert!(r.source.renewable());
        let token = r.source.token().await.unwrap();
        assert_eq!(token.expose_secret(), delegated_token(1));
        // 2 s before each poll; slow_down adds 5 s for that and every later poll.
        assert_eq!(*r.sleeps.lock().unwrap(), secs(&[2, 2, 7, 7]));
        assert_eq!(*r.shown.lock().unwrap(), [MESSAGE]);

        let device = r.server.forms_to("/devicecode");
        assert_eq!(device.len(), 1);
        assert_eq!(device[0]["client_id"], "public-app");
        assert_eq!(device[0]["scope"], SCOPES);
        let polls = r.server.forms_to("/token");
        assert_eq!(polls.len(), 4);
        for poll in &polls {
            assert_eq!(
                poll["grant_type"],
                "urn:ietf:params:oauth:grant-type:device_code"
            );
            assert_eq!(poll["client_id"], "public-app");
            assert_eq!(poll["device_code"], DEVICE_CODE);
        }
        assert_eq!(r.source.refresh_token().unwrap().expose_secret(), REFRESH_1);

        let claims = r.source.claims().await.unwrap();
        assert_eq!(
            claims.scopes,
            [
                "Policy.ReadWrite.AuthenticationMethod",
                "UserAuthenticationMethod.ReadWrite.All"
            ]
        );
        assert!(claims.roles.is_empty());
        assert_eq!(r.source.grants(), 1);
    }

    #[tokio::test]
    async fn declined_sign_in_stops_with_a_clear_error() {
        let r = rig(
            device_answer(900, 1),
            vec![
                oauth_error("authorization_pending"),
                oauth_error("authorization_declined"),
            ],
        )
        .await;
        let err = r.source.token().await.unwrap_err();
        assert_eq!(err, TokenError::Declined);
        assert!(err.to_string().contains("declined"), "{err}");
        assert_eq!(r.server.forms_to("/token").len(), 2);
    }

    #[tokio::test]
    async fn expired_code_stops_with_a_clear_error() {
        let r = rig(device_answer(900, 1), vec![oauth_error("expired_token")]).await;
        let err = r.source.token().await.unwrap_err();
        assert_eq!(err, TokenError::CodeExpired { minutes: 15 });
        assert!(
            err.to_string().contains("expired (it lasts 15 min)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn polling_gives_up_once_the_code_has_expired() {
        let pending: Vec<_> = (0..10)
            .map(|_| oauth_error("authorization_pending"))
            .collect();
        let r = rig(device_answer(5, 2), pending).await;
        let err = r.source.token().await.unwrap_err();
        assert_eq!(err, TokenError::CodeExpired { minutes: 1 });
        // Polled at 2 s and 4 s; at 6 s the 5 s code is gone.
        assert_eq!(*r.sleeps.lock().unwrap(), secs(&[2, 2, 2]));
        assert_eq!(r.server.forms_to("/token").len(), 2);
    }

    #[tokio::test]
    async fn bad_verification_code_stops_and_never_shows_the_device_code() {
        let r = rig(
            device_answer(900, 1),
            vec![oauth_error("bad_verification_code")],
        )
        .await;
        let err = r.source.token().await.unwrap_err();
        assert!(
            matches!(&err, TokenError::Rejected { code, .. } if code == "bad_verification_code"),
            "{err:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains("run again to get a new sign-in code"),
            "{shown}"
        );
        assert!(!shown.contains(DEVICE_CODE) && !format!("{err:?}").contains(DEVICE_CODE));
    }

    #[tokio::test]
    async fn transient_poll_failures_are_ridden_out() {
        let r = rig(
            device_answer(900, 1),
            vec![
                (503, json!({})),
                oauth_error("authorization_pending"),
                granted(1, 3600, Some(REFRESH_1)),
            ],
        )
        .await;
        assert_eq!(
            r.source.token().await.unwrap().expose_secret(),
            delegated_token(1)
        );
    }

    #[tokio::test]
    async fn renewal_uses_the_newest_refresh_token() {
        let r = rig(
            device_answer(900, 1),
            vec![
                granted(1, 100, Some(REFRESH_1)),
                granted(2, 100, Some(REFRESH_2)),
                // No refresh token this time: the newest one is kept.
                granted(3, 100, None),
                granted(4, 100, None),
            ],
        )
        .await;
        assert_eq!(
            r.source.token().await.unwrap().expose_secret(),
            delegated_token(1)
        );
        for n in 2..=4 {
            r.source.advance_clock(Duration::from_secs(101));
            assert_eq!(
                r.source.token().await.unwrap().expose_secret(),
                delegated_token(n)
            );
        }
        assert_eq!(r.server.forms_to("/devicecode").len(), 1);
        assert_eq!(*r.shown.lock().unwrap(), [MESSAGE]);
        let forms = r.server.forms_to("/token");
        let refreshes: Vec<_> = forms[1..]
            .iter()
            .map(|f| {
                assert_eq!(f["grant_type"], "refresh_token");
                assert_eq!(f["client_id"], "public-app");
                assert_eq!(f["scope"], SCOPES);
                f["refresh_token"].clone()
            })
            .collect();
        assert_eq!(refreshes, [REFRESH_1, REFRESH_2, REFRESH_2]);
        assert_eq!(r.source.grants(), 4);
    }

    #[tokio::test]
    async fn refused_refresh_asks_to_sign_in_again_without_a_new_device_flow() {
        let refused = (
            400,
            json!({
                "error": "invalid_grant",
                "error_description": format!("AADSTS700082: The refresh token has expired due to inactivity. {REFRESH_1}\r\nTrace ID: t"),
            }),
        );
        let r = rig(
            device_answer(900, 1),
            vec![granted(1, 100, Some(REFRESH_1)), refused],
        )
        .await;
        let first = r.source.token().await.unwrap();
        r.source.advance_clock(Duration::from_secs(101));
        let err = r.source.token().await.unwrap_err();
        assert!(matches!(err, TokenError::SignInAgain { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains("AADSTS700082") && shown.ends_with("run again and sign in"),
            "{shown}"
        );
        assert_eq!(r.server.forms_to("/devicecode").len(), 1);
        for text in [shown, format!("{err:?}"), format!("{:?}", r.source)] {
            assert!(!text.contains(REFRESH_1), "{text}");
            assert!(!text.contains(first.expose_secret()), "{text}");
            assert!(!text.contains(DEVICE_CODE), "{text}");
        }
    }

    #[tokio::test]
    async fn no_refresh_token_means_signing_in_again_when_the_token_expires() {
        let r = rig(device_answer(900, 1), vec![granted(1, 100, None)]).await;
        r.source.token().await.unwrap();
        r.source.advance_clock(Duration::from_secs(101));
        let err = r.source.token().await.unwrap_err();
        assert!(err.to_string().contains("offline_access"), "{err}");
    }

    #[tokio::test]
    async fn public_client_flows_disabled_gets_a_hint() {
        let refused = json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        });
        let r = rig(device_answer(900, 1), vec![(401, refused)]).await;
        let err = r.source.token().await.unwrap_err();
        assert!(
            err.to_string().contains("allow public client flows"),
            "{err}"
        );
    }

    #[test]
    fn device_code_credential_debug_is_printable() {
        let cred = Credential::DeviceCode {
            authority: "https://login.microsoftonline.com".into(),
            tenant: "organizations".into(),
            client_id: "c".into(),
            scopes: vec!["s".into()],
            prompt: DevicePrompt::stderr(),
        };
        assert!(format!("{cred:?}").contains("DevicePrompt"));
        assert!(format!("{:?}", TokenSource::new(cred, test_http())).contains("device-code"));
    }
}
