//! Certificate credentials (graph-api.md §7): a PEM file holding an app registration's
//! certificate and its RSA private key, checked when loaded, and the signed client-assertion
//! JWT sent instead of a client secret.
//!
//! The file is refused before any request when its certificate has expired or is not yet
//! valid, or when its private key does not belong to the certificate. An encrypted private key
//! (`ENCRYPTED PRIVATE KEY`, PBES2 as `openssl pkcs8 -topk8` writes it) is decrypted with the
//! password from `AZURE_CLIENT_CERTIFICATE_PASSWORD`. The private key never appears in
//! `Debug`, `Display`, logs or errors.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde_json::json;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

/// `rsaEncryption` (RFC 8017), the algorithm of an RSA public or private key.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// How long a client assertion is valid: the docs allow "5-10 minutes after nbf at most".
pub(crate) const ASSERTION_LIFETIME_S: i64 = 300;

/// Which signature the client assertion carries (graph-api.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    /// RSASSA-PSS with SHA-256 and header `x5t#S256` (SHA-256 thumbprint): what the current
    /// Microsoft docs ask for.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and header `x5t` (SHA-1 thumbprint): the older
    /// documented form, for tenants that refuse PS256.
    Rs256,
}

impl AssertionAlg {
    /// The JWT `alg` value: `PS256` or `RS256`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

impl fmt::Display for AssertionAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a certificate file cannot be used. One line each, naming the file; never the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot read the certificate file {path}: {message}")]
    Read { path: String, message: String },
    #[error(
        "{path} holds no certificate: it must hold the certificate (BEGIN CERTIFICATE) and its RSA private key in PEM"
    )]
    NoCertificate { path: String },
    #[error(
        "{path} holds no private key: it must hold the certificate and its RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) in PEM"
    )]
    NoPrivateKey { path: String },
    /// An encrypted key and no password.
    #[error(
        "the private key in {path} is encrypted: set AZURE_CLIENT_CERTIFICATE_PASSWORD, or decrypt it first: openssl pkcs8 -in {path} -out plain.pem"
    )]
    Encrypted { path: String },
    /// The legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`), which is not supported.
    #[error(
        "the private key in {path} is encrypted in the legacy OpenSSL format; decrypt it first: openssl rsa -in {path} -out plain.pem"
    )]
    LegacyEncrypted { path: String },
    /// The password is wrong or the encryption scheme is not supported.
    #[error(
        "cannot decrypt the private key in {path}: {reason} (check AZURE_CLIENT_CERTIFICATE_PASSWORD, or decrypt it first: openssl pkcs8 -in {path} -out plain.pem)"
    )]
    Decrypt { path: String, reason: String },
    #[error("the certificate in {path} cannot be read: {message}")]
    BadCertificate { path: String, message: String },
    #[error("the private key in {path} cannot be used: {message}")]
    BadKey { path: String, message: String },
    #[error(
        "the certificate in {path} expired on {not_after} (valid from {not_before}); create a new one and upload it to the app registration"
    )]
    Expired {
        path: String,
        not_before: String,
        not_after: String,
    },
    #[error(
        "the certificate in {path} is not valid yet: valid from {not_before} to {not_after} (check this computer's clock)"
    )]
    NotYetValid {
        path: String,
        not_before: String,
        not_after: String,
    },
    #[error(
        "the private key in {path} does not belong to its certificate (their public keys differ)"
    )]
    KeyMismatch { path: String },
}

/// An app registration's certificate and its RSA private key, checked and ready to sign
/// client assertions. Cheap to clone.
#[derive(Clone)]
pub struct CertificateKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    /// Where it came from, for messages.
    source: String,
    key: KeyPair,
    /// base64url SHA-256 of the certificate's DER (`x5t#S256`).
    x5t_s256: String,
    /// base64url SHA-1 of the certificate's DER (`x5t`).
    x5t: String,
    /// Uppercase hex SHA-1, as the Entra portal shows it.
    thumbprint: String,
    not_before: i64,
    not_after: i64,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("source", &self.inner.source)
            .field("thumbprint", &self.inner.thumbprint)
            .field("not_after", &rfc3339(self.inner.not_after))
            .finish_non_exhaustive()
    }
}

/// One `-----BEGIN label-----` … `-----END label-----` section of a PEM file.
struct Section<'a> {
    label: &'a str,
    text: &'a str,
}

fn pem_sections(text: &str) -> Vec<Section<'_>> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(b) = rest.find(BEGIN) {
        let start = offset + b;
        let after = &text[start + BEGIN.len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(e) = after.find(&end_marker) else {
            break;
        };
        let stop = start + BEGIN.len() + e + end_marker.len();
        out.push(Section {
            label,
            text: &text[start..stop],
        });
        offset = stop;
        rest = &text[stop..];
    }
    out
}

impl CertificateKey {
    /// Loads a PEM file holding the certificate and its RSA private key (PKCS#8
    /// `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, or PKCS#8 `ENCRYPTED PRIVATE KEY` with
    /// `password`, e.g. from `AZURE_CLIENT_CERTIFICATE_PASSWORD`). Refuses a certificate that
    /// has expired, is not yet valid, or does not match the key.
    pub fn from_pem_file(
        path: &Path,
        password: Option<&SecretString>,
    ) -> Result<CertificateKey, CertificateError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| CertificateError::Read {
            path: name.clone(),
            message: e.to_string(),
        })?;
        let bytes = SecretSlice::from(bytes);
        Self::load(bytes.expose_secret(), password, name, unix_now())
    }

    /// Like [`from_pem_file`](Self::from_pem_file), from the file's bytes; messages call it
    /// "the certificate PEM".
    pub fn from_pem(
        pem: &[u8],
        password: Option<&SecretString>,
    ) -> Result<CertificateKey, CertificateError> {
        Self::load(pem, password, "the certificate PEM".into(), unix_now())
    }

    pub(crate) fn load(
        pem: &[u8],
        password: Option<&SecretString>,
        source: String,
        now: i64,
    ) -> Result<CertificateKey, CertificateError> {
        let text = String::from_utf8_lossy(pem);
        let sections = pem_sections(&text);
        let bad_cert = |message: String| CertificateError::BadCertificate {
            path: source.clone(),
            message,
        };
        let bad_key = |message: String| CertificateError::BadKey {
            path: source.clone(),
            message,
        };

        let key_section = sections
            .iter()
            .find(|s| s.label.ends_with("PRIVATE KEY"))
            .ok_or_else(|| CertificateError::NoPrivateKey {
                path: source.clone(),
            })?;
        if key_section.text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(CertificateError::LegacyEncrypted { path: source });
        }
        let (_, der) = x509_cert::der::pem::decode_vec(key_section.text.as_bytes())
            .map_err(|e| bad_key(format!("bad PEM: {e}")))?;
        let der = SecretSlice::from(der);
        let key = match key_section.label {
            "PRIVATE KEY" => pkcs8_key(der.expose_secret()).map_err(bad_key)?,
            "RSA PRIVATE KEY" => KeyPair::from_der(der.expose_secret())
                .map_err(|e| bad_key(format!("not a usable RSA key ({e})")))?,
            "ENCRYPTED PRIVATE KEY" => {
                let Some(password) = password else {
                    return Err(CertificateError::Encrypted { path: source });
                };
                let decrypt = |reason: String| CertificateError::Decrypt {
                    path: source.clone(),
                    reason,
                };
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.expose_secret())
                    .map_err(|e| decrypt(format!("not an encrypted PKCS#8 key ({e})")))?;
                let plain = info
                    .decrypt(password.expose_secret())
                    .map_err(|e| match e {
                        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed) => {
                            decrypt("wrong password".into())
                        }
                        other => decrypt(format!("unsupported encryption ({other})")),
                    })?;
                pkcs8_key(plain.as_bytes()).map_err(bad_key)?
            }
            other => {
                return Err(bad_key(format!(
                    "{other} is not supported: use an RSA key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
                )));
            }
        };

        // The certificate whose public key is this key's: the leaf, wherever the chain puts it.
        let public = key.public_key().as_ref();
        let mut found = None;
        let mut first_error = None;
        let mut any = false;
        for section in sections.iter().filter(|s| s.label == "CERTIFICATE") {
            any = true;
            let parsed = x509_cert::der::pem::decode_vec(section.text.as_bytes())
                .map_err(|e| format!("bad PEM: {e}"))
                .and_then(|(_, der)| {
                    Certificate::from_der(&der)
                        .map(|c| (der, c))
                        .map_err(|e| format!("not an X.509 certificate ({e})"))
                });
            match parsed {
                Ok((der, cert)) => {
                    let spki = &cert.tbs_certificate.subject_public_key_info;
                    if spki.algorithm.oid.to_string() == RSA_ENCRYPTION
                        && spki.subject_public_key.raw_bytes() == public
                    {
                        found = Some((der, cert));
                        break;
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !any {
            return Err(CertificateError::NoCertificate { path: source });
        }
        let Some((der, cert)) = found else {
            return Err(match first_error {
                Some(e) => bad_cert(e),
                None => CertificateError::KeyMismatch { path: source },
            });
        };

        let validity = &cert.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &der);
        let sha256 = digest(&SHA256, &der);
        let loaded = CertificateKey {
            inner: Arc::new(KeyInner {
                source,
                key,
                x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
                x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
                thumbprint: sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
                not_before: secs(validity.not_before),
                not_after: secs(validity.not_after),
            }),
        };
        loaded.check_validity(now)?;
        Ok(loaded)
    }

    /// Refuses the certificate when `now` (Unix seconds) is outside its validity.
    pub(crate) fn check_validity(&self, now: i64) -> Result<(), CertificateError> {
        let i = &self.inner;
        let (path, not_before, not_after) = (
            i.source.clone(),
            rfc3339(i.not_before),
            rfc3339(i.not_after),
        );
        if now < i.not_before {
            return Err(CertificateError::NotYetValid {
                path,
                not_before,
                not_after,
            });
        }
        if now >= i.not_after {
            return Err(CertificateError::Expired {
                path,
                not_before,
                not_after,
            });
        }
        Ok(())
    }

    /// The SHA-1 thumbprint in uppercase hex, as the Entra portal lists the app's
    /// certificates.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// When the certificate expires, Unix seconds.
    #[must_use]
    pub fn not_after(&self) -> i64 {
        self.inner.not_after
    }

    /// A fresh signed client assertion for `client_id` at the token endpoint `audience`,
    /// valid from `now` (Unix seconds) for five minutes.
    pub(crate) fn assertion(
        &self,
        alg: AssertionAlg,
        audience: &str,
        client_id: &str,
        now: i64,
    ) -> Result<SecretString, CertificateError> {
        self.check_validity(now)?;
        let (header, encoding): (_, &'static dyn RsaEncoding) = match alg {
            AssertionAlg::Ps256 => (
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.inner.x5t_s256}),
                &RSA_PSS_SHA256,
            ),
            AssertionAlg::Rs256 => (
                json!({"alg": "RS256", "typ": "JWT", "x5t": self.inner.x5t}),
                &RSA_PKCS1_SHA256,
            ),
        };
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.inner.key.public_modulus_len()];
        self.inner
            .key
            .sign(
                encoding,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| CertificateError::BadKey {
                path: self.inner.source.clone(),
                message: "signing the client assertion failed".into(),
            })?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }

    /// The RSA public key (RFC 8017 `RSAPublicKey` DER), to verify signatures in tests.
    #[cfg(test)]
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.inner.key.public_key().as_ref().to_vec()
    }

    #[cfg(test)]
    pub(crate) fn x5t_values(&self) -> (&str, &str) {
        (&self.inner.x5t_s256, &self.inner.x5t)
    }
}

/// An RSA key from PKCS#8 DER, saying so when the key is of another kind.
fn pkcs8_key(der: &[u8]) -> Result<KeyPair, String> {
    match pkcs8::PrivateKeyInfo::try_from(der) {
        Ok(info) if info.algorithm.oid.to_string() != RSA_ENCRYPTION => Err(format!(
            "only RSA keys are supported (this key's algorithm is {})",
            info.algorithm.oid
        )),
        _ => KeyPair::from_pkcs8(der).map_err(|e| format!("not a usable RSA key ({e})")),
    }
}

pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
