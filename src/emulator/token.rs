//! Access tokens: real-shaped JWTs (header.payload.signature, base64url) signed with HMAC-SHA256
//! under a per-emulator random key, and the map of issued tokens that makes the bearer check
//! one hash lookup per request instead of a parse and an HMAC.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// What the bearer check needs from a token.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    /// The `tid` claim: the tenant whose directory the token reads (docs/graph.md §14).
    pub(crate) tenant_id: String,
    pub(crate) app_id: String,
    /// Application roles or delegated scopes, as granted.
    pub(crate) permissions: Vec<String>,
    /// Unix seconds.
    pub(crate) expires_at: u64,
}

impl TokenInfo {
    pub(crate) fn has_any(&self, wanted: &[&str]) -> bool {
        self.permissions
            .iter()
            .any(|p| wanted.iter().any(|w| w.eq_ignore_ascii_case(p)))
    }
}

/// Why a bearer token was refused; each maps to a 401 InvalidAuthenticationToken message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TokenProblem {
    Missing,
    Malformed,
    Unknown,
    Expired,
    /// The `refuse_tokens_after` fault: a well-formed, live token Graph will not accept.
    Refused,
}

impl TokenProblem {
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenProblem::Missing => "Access token is empty.",
            TokenProblem::Malformed => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenProblem::Unknown => "Access token validation failure. Invalid signature.",
            TokenProblem::Expired => "Lifetime validation failed, the token is expired.",
            TokenProblem::Refused => "Access token validation failure. Invalid audience.",
        }
    }
}

pub(crate) struct TokenStore {
    key: hmac::Key,
    issued: RwLock<HashMap<String, Arc<TokenInfo>>>,
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenStore {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        TokenStore {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            issued: RwLock::new(HashMap::new()),
        }
    }

    /// Mints an access token. `user` (object id, UPN) makes it a delegated token for that
    /// user: the permissions go in `scp` instead of `roles`, with `oid` and `upn` claims.
    pub(crate) fn mint(
        &self,
        tenant_id: &str,
        app_id: &str,
        permissions: Vec<String>,
        ttl: u64,
        user: Option<(&str, &str)>,
        audience: &str,
    ) -> String {
        let delegated = user.is_some();
        let now = unix_now();
        let header = json!({"typ": "JWT", "alg": "HS256", "kid": "emulator"});
        let mut claims = json!({
            "aud": audience,
            "iss": format!("https://sts.windows.net/{tenant_id}/"),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "appid": app_id,
            "tid": tenant_id,
            "ver": "1.0",
            "uti": uuid::Uuid::new_v4().simple().to_string(),
            "idtyp": if delegated { "user" } else { "app" },
        });
        if let Some((oid, upn)) = user {
            claims["scp"] = Value::String(permissions.join(" "));
            // A v1.0 access token for a user names it by `oid` and `upn` (docs/graph.md §7).
            claims["oid"] = Value::String(oid.to_string());
            claims["upn"] = Value::String(upn.to_string());
        } else {
            claims["roles"] = json!(permissions);
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let tag = hmac::sign(&self.key, signing_input.as_bytes());
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        let info = TokenInfo {
            tenant_id: tenant_id.to_string(),
            app_id: app_id.to_string(),
            permissions,
            expires_at: now + ttl,
        };
        if let Ok(mut map) = self.issued.write() {
            map.insert(token.clone(), Arc::new(info));
        }
        token
    }

    /// Checks an `Authorization` header value.
    pub(crate) fn check(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<TokenInfo>, TokenProblem> {
        let header = authorization.map(str::trim).unwrap_or("");
        let token = match header.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ if header.is_empty() => return Err(TokenProblem::Missing),
            _ => return Err(TokenProblem::Malformed),
        };
        if token.is_empty() {
            return Err(TokenProblem::Missing);
        }
        if token.split('.').count() != 3 {
            return Err(TokenProblem::Malformed);
        }
        let info = self
            .issued
            .read()
            .ok()
            .and_then(|map| map.get(token).cloned())
            .ok_or(TokenProblem::Unknown)?;
        if info.expires_at <= unix_now() {
            return Err(TokenProblem::Expired);
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_pass_and_tampered_ones_do_not() {
        let store = TokenStore::new([7; 32]);
        let t = store.mint(
            "tid",
            "app",
            vec!["Policy.Read.All".into()],
            3600,
            None,
            "n",
        );
        let ok = store.check(Some(&format!("Bearer {t}"))).unwrap();
        assert!(ok.has_any(&["policy.read.all"]));
        let mut tampered = t.clone();
        tampered.pop();
        tampered.push('x');
        assert_eq!(
            store
                .check(Some(&format!("Bearer {tampered}")))
                .unwrap_err(),
            TokenProblem::Unknown
        );
        assert_eq!(store.check(None).unwrap_err(), TokenProblem::Missing);
        let expired = store.mint("tid", "app", vec![], 0, None, "https://graph.microsoft.com");
        assert_eq!(
            store.check(Some(&format!("bearer {expired}"))).unwrap_err(),
            TokenProblem::Expired
        );
    }
}
