//! Certificate credentials (docs/graph.md §7): a PEM file holding an app registration's
//! certificate and its RSA private key, or a PFX/PKCS#12 file holding both (told apart by
//! content, docs/graph.md §12–13; opened by `pfx`), checked when loaded, and the signed
//! client-assertion JWT sent instead of a client secret.
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

use super::pfx::PfxError;

/// `rsaEncryption` (RFC 8017), the algorithm of an RSA public or private key.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// How long a client assertion is valid: the docs allow "5-10 minutes after nbf at most".
pub(crate) const ASSERTION_LIFETIME_S: i64 = 300;

/// Which signature the client assertion carries (docs/graph.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum AssertionAlg {
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AssertionAlg::Ps256 => "PS256",
            AssertionAlg::Rs256 => "RS256",
        }
    }
}

impl std::str::FromStr for AssertionAlg {
    type Err = String;

    /// `PS256` or `RS256`, in any case.
    fn from_str(s: &str) -> Result<AssertionAlg, String> {
        match s.to_ascii_uppercase().as_str() {
            "PS256" => Ok(AssertionAlg::Ps256),
            "RS256" => Ok(AssertionAlg::Rs256),
            _ => Err(format!(
                "unknown assertion algorithm {s:?}: use PS256 or RS256"
            )),
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
pub(crate) enum CertificateError {
    #[error("cannot read the certificate file {path}: {message}")]
    Read { path: String, message: String },
    /// PEM markers without a complete PEM section.
    #[error(
        "{path} is not a PEM file: it must hold the certificate and its RSA private key between -----BEGIN and -----END lines"
    )]
    NotPem { path: String },
    /// Neither PEM text nor a PFX/PKCS#12 file that parses (e.g. a DER certificate).
    #[error(
        "{path} is neither PEM nor a PFX/PKCS#12 file ({message}); give a PEM holding the certificate and its private key, or the .pfx exported with its private key"
    )]
    NotPfx { path: String, message: String },
    /// A PFX with a password and none given.
    #[error(
        "the PFX file {path} is protected by a password: set AZURE_CLIENT_CERTIFICATE_PASSWORD"
    )]
    PfxPassword { path: String },
    /// The PFX's MAC (or decryption) fails with the password given.
    #[error(
        "cannot open the PFX file {path}: the password is wrong (check AZURE_CLIENT_CERTIFICATE_PASSWORD)"
    )]
    PfxWrongPassword { path: String },
    /// An encryption this tool does not read.
    #[error(
        "the PFX file {path} is protected with {what}, which this tool does not read; convert it to PEM: openssl pkcs12 -in {path} -nodes -out cert.pem (add -legacy for RC2 or RC4), then use --certificate cert.pem"
    )]
    PfxUnsupported { path: String, what: String },
    /// A PFX holding certificates only.
    #[error(
        "the PFX file {path} holds no private key: export the certificate with its private key (Export-PfxCertificate, or openssl pkcs12 -export -inkey KEY)"
    )]
    PfxNoKey { path: String },
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
pub(crate) struct CertificateKey {
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
    /// `password`, e.g. from `AZURE_CLIENT_CERTIFICATE_PASSWORD`), or a PFX/PKCS#12 file
    /// holding both (opened with `password`; a file without a `-----BEGIN` line is read as
    /// PFX). Refuses a certificate that
    /// has expired, is not yet valid, or does not match the key.
    pub(crate) fn from_pem_file(
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
    #[cfg(test)]
    pub(crate) fn from_pem(
        pem: &[u8],
        password: Option<&SecretString>,
    ) -> Result<CertificateKey, CertificateError> {
        Self::load(pem, password, "the certificate PEM".into(), unix_now())
    }

    /// Loads the key and certificate from a PEM or PFX file's bytes (`source` names it in
    /// messages), checked for validity at `now`.
    pub(crate) fn load(
        pem: &[u8],
        password: Option<&SecretString>,
        source: String,
        now: i64,
    ) -> Result<CertificateKey, CertificateError> {
        if !super::pfx::is_pem(pem) {
            return Self::load_pfx(pem, password, source, now);
        }
        let text = String::from_utf8_lossy(pem);
        let sections = pem_sections(&text);
        if sections.is_empty() {
            return Err(CertificateError::NotPem { path: source });
        }
        let key = pem_private_key(&sections, password, &source)?;
        let candidates = sections
            .iter()
            .filter(|s| s.label == "CERTIFICATE")
            .map(|section| {
                x509_cert::der::pem::decode_vec(section.text.as_bytes())
                    .map(|(_, der)| der)
                    .map_err(|e| format!("bad PEM: {e}"))
            })
            .collect();
        Self::finish(vec![key], candidates, source, now)
    }

    /// Opens a PFX/PKCS#12 file (docs/graph.md §13) and goes on as for PEM.
    fn load_pfx(
        bytes: &[u8],
        password: Option<&SecretString>,
        source: String,
        now: i64,
    ) -> Result<CertificateKey, CertificateError> {
        let contents = super::pfx::read_pfx(bytes, password).map_err(|e| match e {
            PfxError::Malformed(message) => CertificateError::NotPfx {
                path: source.clone(),
                message,
            },
            PfxError::NeedsPassword => CertificateError::PfxPassword {
                path: source.clone(),
            },
            PfxError::WrongPassword => CertificateError::PfxWrongPassword {
                path: source.clone(),
            },
            PfxError::Unsupported(what) => CertificateError::PfxUnsupported {
                path: source.clone(),
                what,
            },
        })?;
        if contents.keys.is_empty() {
            return Err(CertificateError::PfxNoKey { path: source });
        }
        let keys = contents
            .keys
            .iter()
            .map(|der| pkcs8_key(der.expose_secret()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| CertificateError::BadKey {
                path: source.clone(),
                message,
            })?;
        Self::finish(
            keys,
            contents.certs.into_iter().map(Ok).collect(),
            source,
            now,
        )
    }

    /// The certificate (DER, from `candidates`) whose public key is one of `keys`' — the leaf,
    /// wherever the chain puts it — with that key, checked for validity at `now`.
    fn finish(
        keys: Vec<KeyPair>,
        candidates: Vec<Result<Vec<u8>, String>>,
        source: String,
        now: i64,
    ) -> Result<CertificateKey, CertificateError> {
        let bad_cert = |message: String| CertificateError::BadCertificate {
            path: source.clone(),
            message,
        };
        if candidates.is_empty() {
            return Err(CertificateError::NoCertificate { path: source });
        }
        let mut found = None;
        let mut first_error = None;
        'search: for candidate in candidates {
            let parsed = candidate.and_then(|der| {
                Certificate::from_der(&der)
                    .map(|c| (der, c))
                    .map_err(|e| format!("not an X.509 certificate ({e})"))
            });
            match parsed {
                Ok((der, cert)) => {
                    let spki = &cert.tbs_certificate.subject_public_key_info;
                    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
                        continue;
                    }
                    for (i, key) in keys.iter().enumerate() {
                        if spki.subject_public_key.raw_bytes() == key.public_key().as_ref() {
                            found = Some((i, der, cert));
                            break 'search;
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some((i, der, cert)) = found else {
            return Err(match first_error {
                Some(e) => bad_cert(e),
                None => CertificateError::KeyMismatch { path: source },
            });
        };
        let key = keys
            .into_iter()
            .nth(i)
            .ok_or_else(|| CertificateError::KeyMismatch {
                path: source.clone(),
            })?;

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
    /// certificates (tests compare it with the certificate they made).
    #[cfg(test)]
    pub(crate) fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// When the certificate expires, Unix seconds.
    #[cfg(test)]
    pub(crate) fn not_after(&self) -> i64 {
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
/// The RSA private key of a PEM file's sections: PKCS#8, PKCS#1, or encrypted PKCS#8
/// opened with `password`.
fn pem_private_key(
    sections: &[Section<'_>],
    password: Option<&SecretString>,
    source: &str,
) -> Result<KeyPair, CertificateError> {
    let bad_key = |message: String| CertificateError::BadKey {
        path: source.to_string(),
        message,
    };
    let key_section = sections
        .iter()
        .find(|s| s.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| CertificateError::NoPrivateKey {
            path: source.to_string(),
        })?;
    if key_section.text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(CertificateError::LegacyEncrypted {
            path: source.to_string(),
        });
    }
    let (_, der) = x509_cert::der::pem::decode_vec(key_section.text.as_bytes())
        .map_err(|e| bad_key(format!("bad PEM: {e}")))?;
    let der = SecretSlice::from(der);
    match key_section.label {
        "PRIVATE KEY" => pkcs8_key(der.expose_secret()).map_err(bad_key),
        "RSA PRIVATE KEY" => KeyPair::from_der(der.expose_secret())
            .map_err(|e| bad_key(format!("not a usable RSA key ({e})"))),
        "ENCRYPTED PRIVATE KEY" => {
            let Some(password) = password else {
                return Err(CertificateError::Encrypted {
                    path: source.to_string(),
                });
            };
            let plain = decrypt_pkcs8(der.expose_secret(), password, source)?;
            pkcs8_key(plain.as_bytes()).map_err(bad_key)
        }
        other => Err(bad_key(format!(
            "{other} is not supported: use an RSA key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
        ))),
    }
}

/// The plain PKCS#8 key inside an encrypted one.
fn decrypt_pkcs8(
    der: &[u8],
    password: &SecretString,
    source: &str,
) -> Result<pkcs8::SecretDocument, CertificateError> {
    let decrypt = |reason: String| CertificateError::Decrypt {
        path: source.to_string(),
        reason,
    };
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|e| decrypt(format!("not an encrypted PKCS#8 key ({e})")))?;
    let plain = info
        .decrypt(password.expose_secret())
        .map_err(|e| match e {
            // pkcs5 reports a bad padding, i.e. a wrong key, as either.
            pkcs8::Error::EncryptedPrivateKey(
                pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
            ) => decrypt("wrong password".into()),
            other => decrypt(format!("unsupported encryption ({other})")),
        })?;
    // A wrong password can still leave valid padding (1 in 256): garbage then.
    if pkcs8::PrivateKeyInfo::try_from(plain.as_bytes()).is_err() {
        return Err(decrypt("wrong password".into()));
    }
    Ok(plain)
}

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

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
    use aws_lc_rs::signature::{
        RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use pkcs8::der::pem::LineEnding;
    use secrecy::{ExposeSecret, SecretString};
    use serde_json::Value;

    use super::super::test_support::{rsa_key, self_signed, valid_pem};
    use super::{AssertionAlg, CertificateError, CertificateKey, unix_now};

    const AUD: &str = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
    const DAY: i64 = 86_400;

    fn part(jwt: &str, i: usize) -> Value {
        let seg = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Splits a JWT into (signing input, signature bytes).
    fn signed(jwt: &str) -> (&str, Vec<u8>) {
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        (input, URL_SAFE_NO_PAD.decode(sig).unwrap())
    }

    #[test]
    fn ps256_assertion_has_the_sha256_thumbprint_and_exact_claims_and_verifies() {
        let (pem, der) = valid_pem();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let now = unix_now();
        let jwt = cert
            .assertion(AssertionAlg::Ps256, AUD, "app-id", now)
            .unwrap();
        let jwt = jwt.expose_secret();

        let header = part(jwt, 0);
        assert_eq!(
            header,
            serde_json::json!({
                "alg": "PS256", "typ": "JWT",
                "x5t#S256": b64(digest(&SHA256, &der).as_ref())
            })
        );
        let claims = part(jwt, 1);
        let jti = claims["jti"].as_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&jti).is_ok(), "{jti}");
        assert_eq!(
            claims,
            serde_json::json!({
                "aud": AUD, "iss": "app-id", "sub": "app-id", "jti": jti,
                "nbf": now, "iat": now, "exp": now + 300
            })
        );

        let (input, sig) = signed(jwt);
        let public = rsa_key(0).public_key_raw().to_vec();
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &public)
            .verify(input.as_bytes(), &sig)
            .expect("the PS256 signature verifies with the certificate's public key");
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(input.as_bytes(), &sig)
                .is_err(),
            "PS256 must use PSS padding, not PKCS#1 v1.5"
        );
        // Another key does not verify it.
        let other = rsa_key(1).public_key_raw().to_vec();
        assert!(
            UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &other)
                .verify(input.as_bytes(), &sig)
                .is_err()
        );
        assert_eq!(cert.public_key_der(), public);
    }

    #[test]
    fn rs256_assertion_has_the_sha1_thumbprint_and_verifies() {
        let (pem, der) = valid_pem();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let jwt = cert
            .assertion(AssertionAlg::Rs256, AUD, "app-id", unix_now())
            .unwrap();
        let jwt = jwt.expose_secret();
        let header = part(jwt, 0);
        assert_eq!(
            header,
            serde_json::json!({
                "alg": "RS256", "typ": "JWT",
                "x5t": b64(digest(&SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref())
            })
        );
        let (input, sig) = signed(jwt);
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_key(0).public_key_raw())
            .verify(input.as_bytes(), &sig)
            .expect("the RS256 signature verifies");
        let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &der);
        let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(cert.thumbprint(), hex);
        assert_eq!(cert.x5t_values().1, b64(sha1.as_ref()));
    }

    #[test]
    fn each_assertion_has_a_new_jti() {
        let (pem, _) = valid_pem();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let jti = |_| {
            let jwt = cert.assertion(AssertionAlg::Ps256, AUD, "a", unix_now());
            part(jwt.unwrap().expose_secret(), 1)["jti"].clone()
        };
        let jtis: std::collections::HashSet<_> = (0..5).map(jti).map(|v| v.to_string()).collect();
        assert_eq!(jtis.len(), 5);
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn expired_certificate_is_refused_naming_the_file_and_dates() {
        let key = rsa_key(0);
        // 2020-01-01 .. 2021-01-01
        let (cert, _) = self_signed(&key, 1_577_836_800, 1_609_459_200);
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "old.pem", &format!("{cert}{}", key.serialize_pem()));
        let err = CertificateKey::from_pem_file(&path, None).unwrap_err();
        assert!(matches!(err, CertificateError::Expired { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(shown.contains(&path.display().to_string()), "{shown}");
        assert!(shown.contains("expired on 2021-01-01T00:00:00Z"), "{shown}");
        assert!(shown.contains("2020-01-01T00:00:00Z"), "{shown}");
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn not_yet_valid_certificate_is_refused() {
        let key = rsa_key(0);
        let now = unix_now();
        let (cert, _) = self_signed(&key, now + 10 * DAY, now + 400 * DAY);
        let err =
            CertificateKey::from_pem(format!("{cert}{}", key.serialize_pem()).as_bytes(), None)
                .unwrap_err();
        assert!(
            matches!(err, CertificateError::NotYetValid { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("is not valid yet: valid from"),
            "{err}"
        );
    }

    #[test]
    fn certificate_expiring_during_the_run_stops_signing() {
        let (pem, _) = valid_pem();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let later = cert.not_after() + 1;
        let err = cert
            .assertion(AssertionAlg::Ps256, AUD, "a", later)
            .unwrap_err();
        assert!(matches!(err, CertificateError::Expired { .. }), "{err:?}");
    }

    #[test]
    fn key_that_does_not_belong_to_the_certificate_is_refused() {
        let now = unix_now();
        let (cert, _) = self_signed(&rsa_key(0), now - DAY, now + DAY);
        let pem = format!("{cert}{}", rsa_key(1).serialize_pem());
        let err = CertificateKey::from_pem(pem.as_bytes(), None).unwrap_err();
        assert!(
            matches!(err, CertificateError::KeyMismatch { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("does not belong to its certificate"),
            "{err}"
        );
    }

    #[test]
    fn pkcs1_key_and_a_chain_in_any_order_are_accepted() {
        let now = unix_now();
        let key = rsa_key(0);
        let (leaf, der) = self_signed(&key, now - DAY, now + DAY);
        let (other, _) = self_signed(&rsa_key(1), now - DAY, now + DAY);
        let info = pkcs8::PrivateKeyInfo::try_from(key.serialized_der()).unwrap();
        let pkcs1 =
            pkcs8::der::pem::encode_string("RSA PRIVATE KEY", LineEnding::CRLF, info.private_key)
                .unwrap();
        // Key first, then an unrelated CA certificate, then the leaf; with text around them.
        let pem = format!("Bag Attributes\n{pkcs1}\n{other}subject=CN=x\n{leaf}");
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        assert_eq!(cert.x5t_values().0, b64(digest(&SHA256, &der).as_ref()));
    }

    #[test]
    fn encrypted_key_needs_the_password() {
        let (pem, _) = valid_pem();
        let key = rsa_key(0);
        let info = pkcs8::PrivateKeyInfo::try_from(key.serialized_der()).unwrap();
        // What `openssl pkcs8 -topk8` writes: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
                .unwrap();
        let encrypted = info.encrypt_with_params(params, "correct horse").unwrap();
        let encrypted = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap();
        let cert_only = &pem[..pem.find("-----BEGIN PRIVATE KEY").unwrap()];
        let text = format!("{cert_only}{}", encrypted.as_str());

        let err = CertificateKey::from_pem(text.as_bytes(), None).unwrap_err();
        assert!(matches!(err, CertificateError::Encrypted { .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                && shown.contains("openssl pkcs8 -in the certificate PEM -out plain.pem"),
            "{shown}"
        );

        let wrong = SecretString::from("wrong");
        let err = CertificateKey::from_pem(text.as_bytes(), Some(&wrong)).unwrap_err();
        assert!(matches!(err, CertificateError::Decrypt { .. }), "{err:?}");
        assert!(err.to_string().contains("wrong password"), "{err}");

        let right = SecretString::from("correct horse");
        let cert = CertificateKey::from_pem(text.as_bytes(), Some(&right)).unwrap();
        let jwt = cert
            .assertion(AssertionAlg::Ps256, AUD, "a", unix_now())
            .unwrap();
        let (input, sig) = signed(jwt.expose_secret());
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, key.public_key_raw())
            .verify(input.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn legacy_openssl_encryption_is_refused_with_advice() {
        let (pem, _) = valid_pem();
        let cert_only = &pem[..pem.find("-----BEGIN PRIVATE KEY").unwrap()];
        let text = format!(
            "{cert_only}-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        );
        let err = CertificateKey::from_pem(text.as_bytes(), None).unwrap_err();
        assert!(
            matches!(err, CertificateError::LegacyEncrypted { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("openssl rsa -in"), "{err}");
    }

    #[test]
    fn assertion_alg_parses_in_any_case() {
        assert_eq!("ps256".parse(), Ok(AssertionAlg::Ps256));
        assert_eq!("RS256".parse(), Ok(AssertionAlg::Rs256));
        assert!("HS256".parse::<AssertionAlg>().is_err());
        assert_eq!(AssertionAlg::default().to_string(), "PS256");
    }

    #[test]
    fn a_der_certificate_is_neither_pem_nor_pfx_and_says_so() {
        let (_, der) = valid_pem();
        let err = CertificateKey::from_pem(&der, None).unwrap_err();
        assert!(matches!(err, CertificateError::NotPfx { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("neither PEM nor a PFX/PKCS#12 file"),
            "{err}"
        );
    }

    #[test]
    fn missing_parts_and_non_rsa_keys_are_named() {
        let (pem, _) = valid_pem();
        let split = pem.find("-----BEGIN PRIVATE KEY").unwrap();
        let err = CertificateKey::from_pem(&pem.as_bytes()[..split], None).unwrap_err();
        assert!(
            matches!(err, CertificateError::NoPrivateKey { .. }),
            "{err:?}"
        );
        let err = CertificateKey::from_pem(&pem.as_bytes()[split..], None).unwrap_err();
        assert!(
            matches!(err, CertificateError::NoCertificate { .. }),
            "{err:?}"
        );

        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let now = unix_now();
        let (cert, _) = self_signed(&ec, now - DAY, now + DAY);
        let err =
            CertificateKey::from_pem(format!("{cert}{}", ec.serialize_pem()).as_bytes(), None)
                .unwrap_err();
        assert!(
            err.to_string().contains("only RSA keys are supported"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let err = CertificateKey::from_pem_file(&dir.path().join("none.pem"), None).unwrap_err();
        assert!(matches!(err, CertificateError::Read { .. }), "{err:?}");
    }

    #[test]
    fn debug_and_errors_never_show_the_private_key() {
        let (pem, _) = valid_pem();
        let key_pem = rsa_key(0).serialize_pem();
        // A line from the middle of the key's base64 body.
        let secret_line = key_pem.lines().nth(5).unwrap();
        let cert = CertificateKey::from_pem(pem.as_bytes(), None).unwrap();
        let debug = format!("{cert:?}");
        assert!(!debug.contains(secret_line), "{debug}");
        assert!(debug.contains(cert.thumbprint()), "{debug}");
        let jwt = cert
            .assertion(AssertionAlg::Ps256, AUD, "a", unix_now())
            .unwrap();
        assert!(!format!("{jwt:?}").contains(jwt.expose_secret()));
    }
}
