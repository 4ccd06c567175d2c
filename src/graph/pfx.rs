//! PFX / PKCS#12 files (RFC 7292; docs/graph.md §13): the certificates and private keys an
//! admin exports from Windows (`Export-PfxCertificate`, TripleDES-SHA1 or AES256-SHA256) or
//! OpenSSL (`pkcs12 -export`, PBES2/AES-256 by default, RC2-40 and 3DES with `-legacy`).
//!
//! The integrity MAC is checked first (so a wrong password is told apart from a damaged
//! file), then each bag is decrypted. An encryption this file does not know is refused naming
//! it. Decrypted key bytes are held in [`SecretSlice`]s; no password or key is ever put in an
//! error.

use aws_lc_rs::hmac;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, InnerIvInit, KeyIvInit};
use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use pkcs12::cert_type::CertBag;
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::mac_data::MacData;
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use x509_cert::der::asn1::{ContextSpecific, OctetString};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;

/// More rounds than any exporter uses (Windows and OpenSSL write 2,000–10,000): a file asking
/// for more is refused rather than keeping the tool busy for minutes.
const MAX_ITERATIONS: i32 = 10_000_000;

/// How deep `safeContentsBag`s may nest.
const MAX_DEPTH: usize = 4;

const ID_DATA: &str = "1.2.840.113549.1.7.1";
const ID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const ID_ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
const PBES2: &str = "1.2.840.113549.1.5.13";
const PBE_SHA1_3DES: &str = "1.2.840.113549.1.12.1.3";
const PBE_SHA1_RC2_128: &str = "1.2.840.113549.1.12.1.5";
const PBE_SHA1_RC2_40: &str = "1.2.840.113549.1.12.1.6";

/// What a PFX file holds: its private keys (PKCS#8 DER) and its certificates (DER).
pub(crate) struct PfxContents {
    pub(crate) keys: Vec<SecretSlice<u8>>,
    pub(crate) certs: Vec<Vec<u8>>,
}

/// Why a PFX file cannot be opened. Never carries the password or key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PfxError {
    /// Not PKCS#12 DER, or a structure that does not parse.
    Malformed(String),
    /// Protected by a password and none was given.
    NeedsPassword,
    /// The MAC (or the decryption) fails with the password given.
    WrongPassword,
    /// An encryption or MAC this reader does not implement, by name.
    Unsupported(String),
}

/// Opens a PFX file's bytes with `password` (an absent password is tried as the empty one,
/// which is what `openssl pkcs12 -passout pass:` writes).
pub(crate) fn read_pfx(
    bytes: &[u8],
    password: Option<&SecretString>,
) -> Result<PfxContents, PfxError> {
    let given = password.is_some();
    let password = password.map_or("", |p| p.expose_secret());
    let wrong = || {
        if given {
            PfxError::WrongPassword
        } else {
            PfxError::NeedsPassword
        }
    };
    let pfx = Pfx::from_der(bytes)
        .map_err(|e| PfxError::Malformed(format!("not a PKCS#12 file ({e})")))?;
    if pfx.auth_safe.content_type.to_string() != ID_DATA {
        // Public-key integrity mode (signedData): exporters of app certificates do not write it.
        return Err(PfxError::Unsupported(format!(
            "public-key integrity ({})",
            pfx.auth_safe.content_type
        )));
    }
    let data = octets(&pfx.auth_safe.content, "the authenticated safe")?;
    if let Some(mac) = &pfx.mac_data {
        if !verify_mac(mac, &data, password)? {
            return Err(wrong());
        }
    }
    let safes = Vec::<ContentInfo>::from_der(&data)
        .map_err(|e| PfxError::Malformed(format!("bad authenticated safe ({e})")))?;
    let mut contents = PfxContents {
        keys: Vec::new(),
        certs: Vec::new(),
    };
    for safe in &safes {
        let bags = match safe.content_type.to_string().as_str() {
            ID_DATA => octets(&safe.content, "a safe")?,
            ID_ENCRYPTED_DATA => {
                let encrypted = safe
                    .content
                    .decode_as::<EncryptedData>()
                    .map_err(|e| PfxError::Malformed(format!("bad encrypted safe ({e})")))?;
                let info = &encrypted.enc_content_info;
                let ciphertext = info.encrypted_content.as_ref().ok_or_else(|| {
                    PfxError::Malformed("an encrypted safe without content".into())
                })?;
                decrypt(&info.content_enc_alg, ciphertext.as_bytes(), password)
                    .map_err(|e| {
                        if e == PfxError::WrongPassword {
                            wrong()
                        } else {
                            e
                        }
                    })?
                    .expose_secret()
                    .to_vec()
            }
            ID_ENVELOPED_DATA => {
                return Err(PfxError::Unsupported(
                    "public-key privacy (envelopedData)".into(),
                ));
            }
            other => return Err(PfxError::Unsupported(format!("a safe of type {other}"))),
        };
        read_bags(&bags, password, &mut contents, 0).map_err(|e| {
            if e == PfxError::WrongPassword {
                wrong()
            } else {
                e
            }
        })?;
    }
    Ok(contents)
}

/// The bytes of an `OCTET STRING` held in an `ANY`.
fn octets(any: &Any, what: &str) -> Result<Vec<u8>, PfxError> {
    any.decode_as::<OctetString>()
        .map(|o| o.as_bytes().to_vec())
        .map_err(|e| PfxError::Malformed(format!("{what} is not data ({e})")))
}

fn read_bags(
    der: &[u8],
    password: &str,
    out: &mut PfxContents,
    depth: usize,
) -> Result<(), PfxError> {
    let bags = SafeContents::from_der(der)
        .map_err(|e| PfxError::Malformed(format!("bad safe contents ({e})")))?;
    for bag in bags {
        let bad =
            |what: &str, e: x509_cert::der::Error| PfxError::Malformed(format!("bad {what} ({e})"));
        if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
            let shrouded = ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)
                .map_err(|e| bad("shrouded key bag", e))?
                .value;
            let plain = decrypt(
                &shrouded.encryption_algorithm,
                shrouded.encrypted_data.as_bytes(),
                password,
            )?;
            // A wrong key can still leave valid padding (1 in 256): garbage then.
            if pkcs8::PrivateKeyInfo::try_from(plain.expose_secret()).is_err() {
                return Err(PfxError::WrongPassword);
            }
            out.keys.push(plain);
        } else if bag.bag_id == pkcs12::PKCS_12_KEY_BAG_OID {
            let key = ContextSpecific::<Any>::from_der(&bag.bag_value)
                .and_then(|c| c.value.to_der())
                .map_err(|e| bad("key bag", e))?;
            out.keys.push(SecretSlice::from(key));
        } else if bag.bag_id == pkcs12::PKCS_12_CERT_BAG_OID {
            let cert = ContextSpecific::<CertBag>::from_der(&bag.bag_value)
                .map_err(|e| bad("certificate bag", e))?
                .value;
            // Other certificate kinds (SDSI) cannot sign for Entra: skipped.
            if cert.cert_id == pkcs12::PKCS_12_X509_CERT_OID {
                out.certs.push(cert.cert_value.as_bytes().to_vec());
            }
        } else if bag.bag_id == pkcs12::PKCS_12_SAFE_CONTENTS_BAG_OID && depth < MAX_DEPTH {
            let inner = ContextSpecific::<Any>::from_der(&bag.bag_value)
                .and_then(|c| c.value.to_der())
                .map_err(|e| bad("nested safe", e))?;
            read_bags(&inner, password, out, depth + 1)?;
        }
        // CRL and secret bags hold nothing a sign-in needs.
    }
    Ok(())
}

/// Checks the file's HMAC with a key derived from `password` (RFC 7292 appendix B, with the
/// MAC's own digest, as Windows and OpenSSL do). `Ok(false)`: the password is wrong.
fn verify_mac(mac: &MacData, data: &[u8], password: &str) -> Result<bool, PfxError> {
    let salt = mac.mac_salt.as_bytes();
    let rounds = iterations(mac.iterations)?;
    let oid = mac.mac.algorithm.oid.to_string();
    let (key, algorithm) = match oid.as_str() {
        "1.3.14.3.2.26" => (
            derive::<sha1::Sha1>(password, salt, Pkcs12KeyType::Mac, rounds, 20)?,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        "2.16.840.1.101.3.4.2.1" => (
            derive::<sha2::Sha256>(password, salt, Pkcs12KeyType::Mac, rounds, 32)?,
            hmac::HMAC_SHA256,
        ),
        "2.16.840.1.101.3.4.2.2" => (
            derive::<sha2::Sha384>(password, salt, Pkcs12KeyType::Mac, rounds, 48)?,
            hmac::HMAC_SHA384,
        ),
        "2.16.840.1.101.3.4.2.3" => (
            derive::<sha2::Sha512>(password, salt, Pkcs12KeyType::Mac, rounds, 64)?,
            hmac::HMAC_SHA512,
        ),
        other => return Err(PfxError::Unsupported(format!("a MAC with {}", name(other)))),
    };
    let key = hmac::Key::new(algorithm, key.expose_secret());
    Ok(hmac::verify(&key, data, mac.mac.digest.as_bytes()).is_ok())
}

fn iterations(n: i32) -> Result<i32, PfxError> {
    if (1..=MAX_ITERATIONS).contains(&n) {
        Ok(n)
    } else {
        Err(PfxError::Malformed(format!(
            "an iteration count of {n} (at most {MAX_ITERATIONS})"
        )))
    }
}

/// RFC 7292 appendix B key derivation over the password as a BMPString.
fn derive<D>(
    password: &str,
    salt: &[u8],
    id: Pkcs12KeyType,
    rounds: i32,
    len: usize,
) -> Result<SecretSlice<u8>, PfxError>
where
    D: sha2::Digest + sha2::digest::FixedOutputReset + sha2::digest::core_api::BlockSizeUser,
{
    derive_key_utf8::<D>(password, salt, id, rounds, len)
        .map(SecretSlice::from)
        .map_err(|_| {
            // PKCS#12 passwords are BMPStrings: nothing beyond U+FFFF fits.
            PfxError::Unsupported("a password with characters beyond U+FFFF".into())
        })
}

/// Decrypts one encrypted bag or safe.
fn decrypt(
    alg: &AlgorithmIdentifierOwned,
    data: &[u8],
    password: &str,
) -> Result<SecretSlice<u8>, PfxError> {
    let oid = alg.oid.to_string();
    let pbe = || -> Result<(Vec<u8>, i32), PfxError> {
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| PfxError::Malformed(format!("{} without parameters", name(&oid))))?
            .decode_as::<Pkcs12PbeParams>()
            .map_err(|e| PfxError::Malformed(format!("bad {} parameters ({e})", name(&oid))))?;
        Ok((
            params.salt.as_bytes().to_vec(),
            iterations(params.iterations)?,
        ))
    };
    let unpadded = |r: Result<Vec<u8>, cbc::cipher::block_padding::UnpadError>| {
        r.map(SecretSlice::from)
            .map_err(|_| PfxError::WrongPassword)
    };
    match oid.as_str() {
        PBE_SHA1_3DES => {
            let (salt, rounds) = pbe()?;
            let key =
                derive::<sha1::Sha1>(password, &salt, Pkcs12KeyType::EncryptionKey, rounds, 24)?;
            let iv = derive::<sha1::Sha1>(password, &salt, Pkcs12KeyType::Iv, rounds, 8)?;
            let cipher = cbc::Decryptor::<des::TdesEde3>::new_from_slices(
                key.expose_secret(),
                iv.expose_secret(),
            )
            .map_err(|_| PfxError::Malformed("3DES key length".into()))?;
            unpadded(cipher.decrypt_padded_vec_mut::<Pkcs7>(data))
        }
        PBE_SHA1_RC2_40 | PBE_SHA1_RC2_128 => {
            let bits = if oid == PBE_SHA1_RC2_40 { 40 } else { 128 };
            let (salt, rounds) = pbe()?;
            let key = derive::<sha1::Sha1>(
                password,
                &salt,
                Pkcs12KeyType::EncryptionKey,
                rounds,
                bits / 8,
            )?;
            let iv = derive::<sha1::Sha1>(password, &salt, Pkcs12KeyType::Iv, rounds, 8)?;
            let rc2 = rc2::Rc2::new_with_eff_key_len(key.expose_secret(), bits);
            let cipher = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(rc2, iv.expose_secret())
                .map_err(|_| PfxError::Malformed("RC2 IV length".into()))?;
            unpadded(cipher.decrypt_padded_vec_mut::<Pkcs7>(data))
        }
        PBES2 => {
            let der = alg
                .to_der()
                .map_err(|e| PfxError::Malformed(format!("bad PBES2 parameters ({e})")))?;
            let scheme = pkcs8::pkcs5::EncryptionScheme::try_from(der.as_slice())
                .map_err(|_| PfxError::Unsupported(pbes2_name(alg)))?;
            // PBES2 takes the password's UTF-8 bytes (RFC 8018), not a BMPString.
            scheme
                .decrypt(password.as_bytes(), data)
                .map(SecretSlice::from)
                .map_err(|e| match e {
                    pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed => {
                        PfxError::WrongPassword
                    }
                    _ => PfxError::Unsupported(pbes2_name(alg)),
                })
        }
        other => Err(PfxError::Unsupported(name(other).to_string())),
    }
}

/// "PBES2 with <cipher> and <key derivation>", as far as the parameters tell.
fn pbes2_name(alg: &AlgorithmIdentifierOwned) -> String {
    let params = alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<pkcs12::pbe_params::Pbes2Params>().ok());
    match params {
        Some(p) => {
            let prf = p
                .kdf
                .parameters
                .as_ref()
                .and_then(|k| k.decode_as::<pkcs12::pbe_params::Pbkdf2Params>().ok())
                .map(|k| format!(" ({})", name(&k.prf.oid.to_string())))
                .unwrap_or_default();
            format!(
                "PBES2 with {} and {}{prf}",
                name(&p.encryption.oid.to_string()),
                name(&p.kdf.oid.to_string())
            )
        }
        None => "PBES2 with parameters that do not parse".into(),
    }
}

/// A readable name for the algorithms PFX files use; the dotted OID for the others.
fn name(oid: &str) -> &str {
    match oid {
        "1.2.840.113549.1.12.1.1" => "pbeWithSHAAnd128BitRC4",
        "1.2.840.113549.1.12.1.2" => "pbeWithSHAAnd40BitRC4",
        PBE_SHA1_3DES => "pbeWithSHAAnd3-KeyTripleDES-CBC",
        "1.2.840.113549.1.12.1.4" => "pbeWithSHAAnd2-KeyTripleDES-CBC",
        PBE_SHA1_RC2_128 => "pbeWithSHAAnd128BitRC2-CBC",
        PBE_SHA1_RC2_40 => "pbeWithSHAAnd40BitRC2-CBC",
        PBES2 => "PBES2",
        "1.2.840.113549.1.5.12" => "PBKDF2",
        "1.3.6.1.4.1.11591.4.11" => "scrypt",
        "1.2.840.113549.2.7" => "HMAC-SHA1",
        "1.2.840.113549.2.8" => "HMAC-SHA224",
        "1.2.840.113549.2.9" => "HMAC-SHA256",
        "1.2.840.113549.2.10" => "HMAC-SHA384",
        "1.2.840.113549.2.11" => "HMAC-SHA512",
        "2.16.840.1.101.3.4.1.2" => "AES-128-CBC",
        "2.16.840.1.101.3.4.1.22" => "AES-192-CBC",
        "2.16.840.1.101.3.4.1.42" => "AES-256-CBC",
        "1.2.840.113549.3.7" => "DES-EDE3-CBC",
        "1.3.14.3.2.7" => "DES-CBC",
        "1.2.840.113549.3.2" => "RC2-CBC",
        "1.2.392.200011.61.1.1.1.2" => "Camellia-128-CBC",
        "1.2.392.200011.61.1.1.1.3" => "Camellia-192-CBC",
        "1.2.392.200011.61.1.1.1.4" => "Camellia-256-CBC",
        "1.2.643.7.1.1.5.2.2" => "Kuznyechik",
        "1.2.156.10197.1.104.2" => "SM4-CBC",
        "1.2.840.113549.2.5" => "MD5",
        "1.3.14.3.2.26" => "SHA-1",
        "2.16.840.1.101.3.4.2.1" => "SHA-256",
        "2.16.840.1.101.3.4.2.2" => "SHA-384",
        "2.16.840.1.101.3.4.2.3" => "SHA-512",
        "2.16.840.1.101.3.4.2.4" => "SHA-224",
        other => other,
    }
}

/// Whether a certificate file is PEM rather than PFX: PEM text has a `-----BEGIN` line,
/// a PFX is DER (docs/graph.md §12: the Azure SDK for Python tells them apart the same way).
pub(crate) fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(10).any(|w| w == b"-----BEGIN")
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
    use secrecy::SecretString;

    use super::super::certificate::{CertificateError, CertificateKey};
    use super::{PfxError, is_pem, read_pfx};

    /// The password of the fixtures (tests/fixtures/pfx/make.sh): not ASCII, so the
    /// BMPString (PKCS#12 KDF) and UTF-8 (PBES2) forms of it differ.
    const PASSWORD: &str = "pfx-fixture-pässwort";

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/pfx/",
                $name
            ))
        };
    }

    const ENCRYPTIONS: [(&str, &[u8]); 4] = [
        ("windows-3des-sha1", fixture!("windows-3des-sha1.pfx")),
        (
            "windows-aes256-sha256",
            fixture!("windows-aes256-sha256.pfx"),
        ),
        ("openssl3-default", fixture!("openssl3-default.pfx")),
        ("openssl-legacy", fixture!("openssl-legacy.pfx")),
    ];

    fn password() -> SecretString {
        SecretString::from(PASSWORD)
    }

    /// Uppercase hex SHA-1 of the fixtures' certificate, as the portal shows it.
    fn fixture_thumbprint() -> String {
        let pem = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pfx/cert.pem"
        ));
        let (_, der) = x509_cert::der::pem::decode_vec(pem.as_bytes()).unwrap();
        digest(&SHA1_FOR_LEGACY_USE_ONLY, &der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    #[test]
    fn every_exporters_encryption_opens_to_the_certificate_and_its_key() {
        for (name, bytes) in ENCRYPTIONS {
            assert!(!is_pem(bytes), "{name}");
            let contents =
                read_pfx(bytes, Some(&password())).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(contents.keys.len(), 1, "{name}");
            assert_eq!(contents.certs.len(), 1, "{name}");
            let cert = CertificateKey::load(
                bytes,
                Some(&password()),
                name.into(),
                super::super::certificate::unix_now(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(cert.thumbprint(), fixture_thumbprint(), "{name}");
        }
    }

    #[test]
    fn a_wrong_password_is_named_and_never_echoed() {
        for (name, bytes) in ENCRYPTIONS {
            let wrong = SecretString::from("Pfx-Fixture-Pässwort");
            assert_eq!(
                read_pfx(bytes, Some(&wrong)).err(),
                Some(PfxError::WrongPassword),
                "{name}"
            );
            let err = CertificateKey::load(bytes, Some(&wrong), "app.pfx".into(), 0).unwrap_err();
            let shown = err.to_string();
            assert!(
                matches!(err, CertificateError::PfxWrongPassword { .. }),
                "{name}: {err:?}"
            );
            assert!(
                shown.contains("password is wrong")
                    && shown.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
                "{shown}"
            );
            assert!(
                !shown.contains("Pässwort") && !format!("{err:?}").contains("Pässwort"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_missing_password_asks_for_the_variable() {
        let err = CertificateKey::load(ENCRYPTIONS[0].1, None, "app.pfx".into(), 0).unwrap_err();
        assert!(
            matches!(err, CertificateError::PfxPassword { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("set AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            "{err}"
        );
    }

    #[test]
    fn a_pfx_with_an_empty_password_opens_without_one() {
        let bytes = fixture!("nopass.pfx");
        let contents = read_pfx(bytes, None).unwrap();
        assert_eq!((contents.keys.len(), contents.certs.len()), (1, 1));
    }

    #[test]
    fn an_unsupported_encryption_is_refused_naming_it_and_the_conversion() {
        let err = CertificateKey::load(
            fixture!("camellia.pfx"),
            Some(&password()),
            "old.pfx".into(),
            0,
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            matches!(err, CertificateError::PfxUnsupported { .. }),
            "{err:?}"
        );
        assert!(
            shown.contains("PBES2 with Camellia-256-CBC and PBKDF2 (HMAC-SHA256)"),
            "{shown}"
        );
        assert!(
            shown.contains("openssl pkcs12 -in old.pfx -nodes -out cert.pem"),
            "{shown}"
        );
    }

    #[test]
    fn a_damaged_pfx_is_an_error_never_a_panic() {
        let (_, bytes) = ENCRYPTIONS[1];
        for cut in (0..bytes.len()).step_by(7) {
            assert!(
                read_pfx(&bytes[..cut], Some(&password())).is_err(),
                "cut at {cut}"
            );
        }
        for at in (0..bytes.len()).step_by(61) {
            let mut flipped = bytes.to_vec();
            flipped[at] ^= 0x41;
            // Any answer but a panic; most flips break the MAC or the structure.
            let _ = CertificateKey::load(&flipped, Some(&password()), "x.pfx".into(), 0);
        }
    }
}
