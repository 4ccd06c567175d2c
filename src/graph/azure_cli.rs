//! Tokens from the Azure CLI (docs/graph.md §12): `az account get-access-token --resource R
//! --output json [--tenant T]`, as the Azure SDKs' AzureCliCredential runs it, for whoever
//! signed in with `az login`. Run again for each renewal (the CLI refreshes its own tokens).
//!
//! The lifetime comes from `expires_on` (Unix seconds, Azure CLI 2.54 and later), else from
//! the token's own `exp` claim; `expiresOn` is local time without a zone, so it is not relied
//! on. Neither the token nor anything on `az`'s stdout ever appears in an error.

use std::time::Duration;

use serde_json::{Map, Value};

use super::error_body::snippet;
use super::token::{Grant, TokenError, TokenSource, grant_of};

/// `az` starts a Python interpreter: slow on a cold machine, but not this slow.
const AZ_TIMEOUT: Duration = Duration::from_secs(60);

impl TokenSource {
    /// One token from `az account get-access-token`.
    pub(super) async fn azure_cli_grant(
        &self,
        resource: &str,
        tenant: Option<&str>,
    ) -> Result<Grant, TokenError> {
        let mut args = vec![
            "account",
            "get-access-token",
            "--resource",
            resource,
            "--output",
            "json",
        ];
        if let Some(t) = tenant {
            args.extend(["--tenant", t]);
        }
        let mut command = if cfg!(windows) {
            // az is a .cmd script there, which only cmd runs; started from the system folder
            // so that no az.cmd in the working directory is picked up (as the SDKs do).
            let mut c = tokio::process::Command::new("cmd");
            c.arg("/C").arg("az").args(&args);
            if let Some(root) = std::env::var_os("SYSTEMROOT") {
                c.current_dir(root);
            }
            c
        } else {
            let mut c = tokio::process::Command::new("az");
            c.args(&args);
            c
        };
        command
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = match tokio::time::timeout(AZ_TIMEOUT, command.output()).await {
            Err(_) => {
                return Err(TokenError::AzureCli(format!(
                    "az account get-access-token did not answer within {} s",
                    AZ_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TokenError::AzureCli(
                    "az is not on PATH: install the Azure CLI and run az login, or choose another --auth".into(),
                ));
            }
            Ok(Err(e)) => {
                return Err(TokenError::AzureCli(format!("cannot run az: {e}")));
            }
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .filter(|l| !l.contains("eyJ"))
                .unwrap_or("no message");
            let advice =
                if output.status.code() == Some(127) || stderr.contains("is not recognized") {
                    " (is the Azure CLI installed and on PATH?)"
                } else if line.contains("az login") {
                    ""
                } else {
                    " (run az login, then try again)"
                };
            return Err(TokenError::AzureCli(format!(
                "az account get-access-token failed ({}): {}{advice}",
                output
                    .status
                    .code()
                    .map_or_else(|| "killed".to_owned(), |c| format!("exit {c}")),
                snippet(line)
            )));
        }
        let not_json = || {
            TokenError::AzureCli(
                "az account get-access-token printed no JSON object with an accessToken".into(),
            )
        };
        let value: Value = serde_json::from_slice(&output.stdout).map_err(|_| not_json())?;
        let Value::Object(obj) = value else {
            return Err(not_json());
        };
        let token = obj
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(not_json)?;
        // Put in the token endpoint's terms, so one reader decides the lifetime.
        let mut answer = Map::new();
        answer.insert("access_token".into(), Value::from(token));
        let expires_on = match obj.get("expires_on") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        if let Some(on) = expires_on {
            let left = on - super::certificate::unix_now();
            answer.insert("expires_in".into(), Value::from(left.max(0)));
        }
        grant_of(&answer, "az://account/get-access-token")
    }
}
