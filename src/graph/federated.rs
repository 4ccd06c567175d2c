//! Workload identity federation (docs/graph.md §11): the client-credentials grant whose client
//! assertion is a token another identity provider issued (a Kubernetes service-account token,
//! a GitHub Actions OIDC token), found in the file `AZURE_FEDERATED_TOKEN_FILE` names.
//!
//! The platform rotates that file (Kubernetes projects a fresh token well before the old one
//! expires), so it is read again for every token request rather than kept: a renewal during a
//! long run then sends the current token, not the one the run started with.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::token::{Flow, Grant, TokenError, TokenSource, endpoint, grant_of};

/// A projected service-account token is a few KiB; anything far larger is not a token.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// The OAuth client assertion type of a JWT (RFC 7523), the same as for a certificate.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Reads the federated token file: its trimmed content, which must look like a JWT.
pub(crate) async fn read_token_file(path: &Path) -> Result<SecretString, TokenError> {
    let bad = |message: String| TokenError::FederatedFile {
        path: path.display().to_string(),
        message,
    };
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_TOKEN_FILE {
        return Err(bad(format!(
            "it is {} bytes long, more than a token ({MAX_TOKEN_FILE} at most)",
            meta.len()
        )));
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("it is not text".into()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(bad("it is empty".into()));
    }
    // Never shown: only whether it has a JWT's three parts.
    if token.split('.').count() != 3 || token.contains(char::is_whitespace) {
        return Err(bad(
            "it does not hold a JWT (header.payload.signature)".into()
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

impl TokenSource {
    /// One client-credentials request with the file's current token as the assertion.
    pub(super) async fn federated_grant(
        &self,
        authority: &str,
        tenant: &str,
        client_id: &str,
        scope: &str,
        token_file: &Path,
    ) -> Result<Grant, TokenError> {
        let assertion = read_token_file(token_file).await?;
        let url = endpoint(authority, tenant, "token");
        let form = [
            ("client_id", client_id),
            ("scope", scope),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.expose_secret()),
            ("grant_type", "client_credentials"),
        ];
        let obj = self
            .post_form(&url, &form, &[assertion.expose_secret()], Flow::Federated)
            .await?;
        grant_of(&obj, &url)
    }
}
