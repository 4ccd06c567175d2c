//! Client assertions (certificate credentials, docs/graph.md §7): the JWT's shape and claims,
//! then the thumbprint and RSA signature (PS256 or RS256) against a certificate registered
//! on the app. With no certificate registered every assertion is refused, as Entra refuses
//! an assertion whose key the app does not know (AADSTS700027).

use aws_lc_rs::{digest, signature};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// Seconds of clock skew tolerated on `nbf` (the identity platform allows five minutes).
const SKEW_SECS: i64 = 300;
/// `exp` may be at most 10 minutes after `nbf`.
const MAX_LIFETIME_SECS: i64 = 600;

/// A registered certificate: its DER, thumbprints and public key.
#[derive(Debug, Clone)]
pub(crate) struct Certificate {
    sha256: String,
    sha1: String,
    pub(crate) spki: Vec<u8>,
}

impl Certificate {
    /// Reads one PEM certificate.
    pub(crate) fn from_pem(pem: &str) -> Result<Certificate, String> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----") && !l.is_empty())
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|e| format!("certificate is not valid PEM: {e}"))?;
        let spki = subject_public_key_info(&der)
            .ok_or("certificate DER could not be read (no subjectPublicKeyInfo)")?
            .to_vec();
        Ok(Certificate {
            sha256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &der)),
            sha1: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)),
            spki,
        })
    }
}

/// One DER TLV: (tag, header length, content length).
fn tlv(input: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    if first < 0x80 {
        return Some((tag, 2, first));
    }
    let n = first & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *input.get(2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

/// Certificate → tbsCertificate → the 7th element (6th without the explicit version).
fn subject_public_key_info(der: &[u8]) -> Option<&[u8]> {
    let (_, h, _) = tlv(der)?;
    let tbs_all = der.get(h..)?;
    let (_, th, tl) = tlv(tbs_all)?;
    let mut rest = tbs_all.get(th..th + tl)?;
    let mut index = 0;
    if rest.first() == Some(&0xa0) {
        let (_, vh, vl) = tlv(rest)?;
        rest = rest.get(vh + vl..)?;
    }
    loop {
        let (_, eh, el) = tlv(rest)?;
        if index == 5 {
            return rest.get(..eh + el);
        }
        rest = rest.get(eh + el..)?;
        index += 1;
    }
}

pub(crate) fn json_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Checks a client assertion; the error is the AADSTS description.
pub(crate) fn check(
    jwt: &str,
    client_id: &str,
    audiences: &[String],
    certificates: &[Certificate],
    now: i64,
) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err("AADSTS50027: JWT token is invalid or malformed.".into());
    }
    let header = json_part(parts[0]).ok_or(
        "AADSTS50027: JWT token is invalid or malformed. The header is not base64url JSON.",
    )?;
    let claims = json_part(parts[1]).ok_or(
        "AADSTS50027: JWT token is invalid or malformed. The payload is not base64url JSON.",
    )?;
    let alg = header["alg"].as_str().unwrap_or("");
    if alg != "PS256" && alg != "RS256" {
        return Err(format!(
            "AADSTS5002738: Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'"
        ));
    }
    let x5t256 = header["x5t#S256"].as_str();
    let x5t = header["x5t"].as_str();
    if x5t256.is_none() && x5t.is_none() {
        return Err(
            "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '', Please visit the Azure Portal to verify the registered certificate.]".into(),
        );
    }
    let str_claim = |name: &str| claims[name].as_str().unwrap_or("").to_string();
    if str_claim("iss") != client_id || str_claim("sub") != client_id {
        return Err(
            "AADSTS700023: Client assertion audience claim does not match Realm issuer. The iss and sub claims must be the client id.".into(),
        );
    }
    let aud = str_claim("aud");
    if !audiences.iter().any(|a| a.eq_ignore_ascii_case(&aud)) {
        return Err(format!(
            "AADSTS700016: Invalid audience '{aud}' in the client assertion. The audience must be the token endpoint, such as '{}'.",
            audiences.first().map(String::as_str).unwrap_or("")
        ));
    }
    let (Some(exp), Some(nbf)) = (claims["exp"].as_i64(), claims["nbf"].as_i64()) else {
        return Err("AADSTS700024: Client assertion is not within its valid time range. exp and nbf are required.".into());
    };
    if exp <= now {
        return Err(format!(
            "AADSTS700024: Client assertion is not within its valid time range. Current time: {now}, assertion valid until: {exp}."
        ));
    }
    if nbf > now + SKEW_SECS {
        return Err(format!(
            "AADSTS700024: Client assertion is not within its valid time range. Current time: {now}, assertion valid from: {nbf}."
        ));
    }
    if exp - nbf > MAX_LIFETIME_SECS {
        return Err("AADSTS700024: Client assertion contains an invalid lifetime: exp must be at most 10 minutes after nbf.".into());
    }
    // An app with no registered certificate has no key to verify against: Entra refuses
    // the assertion as signed by an unknown key (docs/tenant-format.md).
    let cert = certificates
        .iter()
        .find(|c| x5t256 == Some(c.sha256.as_str()) || x5t == Some(c.sha1.as_str()))
        .ok_or_else(|| {
            format!(
                "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                x5t256.or(x5t).unwrap_or("")
            )
        })?;
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).map_err(|_| {
        "AADSTS50027: JWT token is invalid or malformed. The signature is not base64url."
            .to_string()
    })?;
    let algorithm: &dyn signature::VerificationAlgorithm = if alg == "PS256" {
        &signature::RSA_PSS_2048_8192_SHA256
    } else {
        &signature::RSA_PKCS1_2048_8192_SHA256
    };
    let signed = &jwt[..parts[0].len() + 1 + parts[1].len()];
    signature::UnparsedPublicKey::new(algorithm, &cert.spki)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| "AADSTS7000274: Client assertion failed signature validation.".to_string())
}
