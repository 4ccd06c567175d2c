//! A user's delegated sign-in with the device-code flow (graph-api.md §7, RFC 8628): ask for
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
use serde_json::Value;

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
/// a web browser to open the page https://microsoft.com/devicelogin and enter the code …").
#[derive(Clone)]
pub struct DevicePrompt(Arc<dyn Fn(&str) + Send + Sync>);

impl DevicePrompt {
    /// A prompt calling `show` with the message.
    pub fn new(show: impl Fn(&str) + Send + Sync + 'static) -> DevicePrompt {
        DevicePrompt(Arc::new(show))
    }

    /// Prints the message on stderr, where it does not mix with output the user asked for.
    #[must_use]
    pub fn stderr() -> DevicePrompt {
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
        let text = |k: &str| {
            start
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let device_code = text("device_code")
            .map(|c| SecretString::from(c.to_owned()))
            .ok_or_else(|| TokenError::BadResponse {
                host: host_of(device_url),
                status: 200,
                detail: "the device-code answer has no device_code".into(),
            })?;
        let message = match (text("message"), text("verification_uri"), text("user_code")) {
            (Some(m), _, _) => m.to_owned(),
            (None, Some(uri), Some(code)) => {
                format!(
                    "To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."
                )
            }
            _ => {
                return Err(TokenError::BadResponse {
                    host: host_of(device_url),
                    status: 200,
                    detail: "the device-code answer has no message nor user_code".into(),
                });
            }
        };
        let mut interval = seconds(start.get("interval"))
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_INTERVAL);
        let expiry = seconds(start.get("expires_in"))
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_EXPIRY);
        prompt.show(&message);

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
