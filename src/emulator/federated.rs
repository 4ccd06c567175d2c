//! Federated client assertions (workload identity federation, docs/graph.md §11): a JWT
//! another identity provider issued, accepted in place of a secret when the app registration
//! has a federated credential whose issuer and subject match it exactly and whose audience it
//! names, and when it is live and signed by that issuer's key.
//!
//! Entra fetches an issuer's signing keys from its OpenID configuration; the emulator cannot
//! reach any, so each federated credential in the tenant file carries the issuer's signing
//! certificate instead (docs/tenant-format.md). An issuer without one is refused: never
//! more lenient than Entra.

use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::assertion::{Certificate, json_part};

/// The audience GitHub's azure/login and the AKS webhook ask their issuers for (§11).
pub const DEFAULT_FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// One federated credential on the app registration (a tenant-file entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// The token's `iss`, compared exactly.
    pub issuer: String,
    /// The token's `sub`, compared exactly (case-sensitive, as Entra does: §11).
    pub subject: String,
    /// Accepted `aud` values (default `api://AzureADTokenExchange`).
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
    /// PEM certificate whose key signs the issuer's tokens (stands in for its JWKS).
    pub signing_certificate: String,
}

fn default_audiences() -> Vec<String> {
    vec![DEFAULT_FEDERATED_AUDIENCE.to_string()]
}

/// A federated credential with its signing key parsed.
#[derive(Debug, Clone)]
pub(crate) struct Federated {
    credential: FederatedCredential,
    key: Certificate,
}

impl Federated {
    pub(crate) fn new(credential: &FederatedCredential) -> Result<Federated, String> {
        let key = Certificate::from_pem(&credential.signing_certificate).map_err(|e| {
            format!(
                "federated credential for issuer {}: signing_certificate: {e}",
                credential.issuer
            )
        })?;
        Ok(Federated {
            credential: credential.clone(),
            key,
        })
    }
}

/// Checks a federated assertion; the error is the AADSTS description.
pub(crate) fn check(jwt: &str, registered: &[Federated], now: i64) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("AADSTS50027: JWT token is invalid or malformed.".into());
    }
    let (Some(header), Some(claims)) = (json_part(parts[0]), json_part(parts[1])) else {
        return Err("AADSTS50027: JWT token is invalid or malformed.".into());
    };
    let text = |name: &str| claims[name].as_str().unwrap_or("").to_string();
    let (iss, sub) = (text("iss"), text("sub"));
    let audiences: Vec<String> = match &claims["aud"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let matched = registered.iter().find(|f| {
        f.credential.issuer == iss
            && f.credential.subject == sub
            && audiences.iter().any(|a| f.credential.audiences.contains(a))
    });
    let Some(federated) = matched else {
        return Err(format!(
            "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
            audiences.join(",")
        ));
    };
    let Some(exp) = claims["exp"].as_i64() else {
        return Err(
            "AADSTS700024: Client assertion is not within its valid time range. exp is required."
                .into(),
        );
    };
    if exp <= now {
        return Err(format!(
            "AADSTS700024: Client assertion is not within its valid time range. Current time: {now}, assertion valid until: {exp}."
        ));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 300) {
        return Err(
            "AADSTS700024: Client assertion is not within its valid time range (nbf is in the future).".into(),
        );
    }
    let algorithm: &dyn signature::VerificationAlgorithm = match header["alg"].as_str() {
        Some("RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => &signature::RSA_PSS_2048_8192_SHA256,
        other => {
            return Err(format!(
                "AADSTS5002738: Invalid JWT token. '{}' is not a supported signature algorithm.",
                other.unwrap_or("")
            ));
        }
    };
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|_| "AADSTS50027: JWT token is invalid or malformed.".to_string())?;
    let signed = &jwt[..parts[0].len() + 1 + parts[1].len()];
    signature::UnparsedPublicKey::new(algorithm, &federated.key.spki)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| {
            "AADSTS7000274: Client assertion failed signature validation (the issuer's key did not sign it).".to_string()
        })
}

/// Whether a client assertion names this app as its issuer (a certificate assertion) rather
/// than another identity provider (a federated one).
pub(crate) fn is_self_issued(jwt: &str, client_id: &str) -> bool {
    jwt.split('.')
        .nth(1)
        .and_then(json_part)
        .and_then(|c| c["iss"].as_str().map(|i| i.eq_ignore_ascii_case(client_id)))
        .unwrap_or(true)
}
