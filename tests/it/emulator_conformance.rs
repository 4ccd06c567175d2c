//! Conformance of the in-process emulator to docs/graph.md: each test starts an emulator on
//! 127.0.0.1:0, talks real HTTP with reqwest, and asserts the exact status and the body field
//! that matters. Seeded and untimed.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mfa_rollout::emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, Faults, MethodSpec, Quotas, UserSpec,
};
use serde_json::{Value, json};

use crate::util::client_credentials_token;

const DOMAIN: &str = "contoso.onmicrosoft.com";
const ALICE_AUTH_ID: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
const ALT_MOBILE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
const PASSWORD: &str = "28c10230-6103-485e-b985-444c60001490";
const GUEST: &str = "x_contoso.com#EXT#@contoso.onmicrosoft.com";

fn method(kind: &str, id: Option<&str>, phone_type: Option<&str>) -> MethodSpec {
    MethodSpec {
        kind: kind.into(),
        id: id.map(str::to_string),
        phone_type: phone_type.map(str::to_string),
        detail: None,
    }
}

fn user(upn: &str, user_type: &str, methods: Vec<MethodSpec>, default: Option<&str>) -> UserSpec {
    UserSpec {
        id: None,
        upn: upn.into(),
        display_name: None,
        user_type: user_type.into(),
        per_user_mfa_state: "disabled".into(),
        methods,
        default_method: default.map(str::to_string),
        system_preferred: false,
        ..UserSpec::default()
    }
}

/// A small tenant with one user per rule under test.
fn tenant() -> EmulatorConfig {
    let users = vec![
        user(
            &format!("alice@{DOMAIN}"),
            "Member",
            vec![
                method("microsoftAuthenticator", Some(ALICE_AUTH_ID), None),
                method("phone", None, Some("mobile")),
            ],
            Some("push"),
        ),
        user(&format!("bob@{DOMAIN}"), "Member", vec![], None),
        user(
            &format!("carol@{DOMAIN}"),
            "Member",
            vec![
                method("phone", None, Some("mobile")),
                method("phone", None, Some("alternateMobile")),
            ],
            Some("sms"),
        ),
        user(GUEST, "Guest", vec![], None),
        user(&format!("o'brien@{DOMAIN}"), "Member", vec![], None),
        user(&format!("$admin@{DOMAIN}"), "Member", vec![], None),
        user(
            &format!("hw@{DOMAIN}"),
            "Member",
            vec![
                method(
                    "hardwareOath",
                    Some("hhhhhhhh-0000-4000-8000-000000000001"),
                    None,
                ),
                method("fido2", Some("-2_GRUg2-HYz6_1YG4YRAQ2"), None),
            ],
            Some("oath"),
        ),
    ];
    EmulatorConfig {
        users,
        seed: 42,
        ..EmulatorConfig::default()
    }
}

struct Env {
    emu: EmulatorHandle,
    http: reqwest::Client,
    token: String,
}

impl Env {
    async fn start(config: EmulatorConfig) -> Env {
        let emu = Emulator::start(config).await.expect("emulator starts");
        let http = reqwest::Client::new();
        let token = client_credentials_token(&emu, &http).await;
        Env { emu, http, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    /// POSTs a batch; returns the outer status and body.
    async fn batch(&self, version: &str, requests: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/{version}/$batch")))
            .bearer_auth(&self.token)
            .json(&json!({ "requests": requests }))
            .send()
            .await
            .expect("batch sent");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// One item through a one-item beta batch.
    async fn one(&self, version: &str, item: Value) -> Value {
        let (status, body) = self.batch(version, json!([item])).await;
        assert_eq!(status, 200, "{body}");
        body["responses"][0].clone()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    fn user_state(&self, upn: &str) -> Value {
        self.emu.users()["users"]
            .as_array()
            .and_then(|a| a.iter().find(|u| u["upn"] == upn).cloned())
            .unwrap_or(Value::Null)
    }
}

fn get_item(id: &str, url: &str) -> Value {
    json!({"id": id, "method": "GET", "url": url})
}

fn write_item(id: &str, method: &str, url: &str, body: Value) -> Value {
    json!({"id": id, "method": method, "url": url, "headers": {"Content-Type": "application/json"}, "body": body})
}

fn by_id<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["responses"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == id))
        .expect("response for id")
}

fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn client_credentials_with_secret_return_a_bearer_jwt_with_roles() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/{DOMAIN}/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emu.client_id()),
            ("client_secret", &emu.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["ext_expires_in"], 3600);
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let claims = jwt_payload(token);
    assert_eq!(claims["tid"], emu.tenant_id());
    assert_eq!(claims["appid"], emu.client_id());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    for c in ["aud", "iss", "exp", "iat", "nbf"] {
        assert!(!claims[c].is_null(), "{c}");
    }
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(roles.contains(&"Policy.ReadWrite.AuthenticationMethod"));
    assert!(roles.contains(&"User.RevokeSessions.All"));
    assert_eq!(emu.stats()["token_grants"], 1);
}

#[tokio::test]
async fn wrong_client_secret_gets_401_invalid_client() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url(),
            emu.tenant_id()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emu.client_id()),
            ("client_secret", "nope"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(v["error_codes"][0], 7000215);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided.")
    );
    assert!(v["trace_id"].is_string() && v["correlation_id"].is_string());
}

#[tokio::test]
async fn client_secret_in_http_basic_is_accepted() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url(),
            emu.tenant_id()
        ))
        .basic_auth(emu.client_id(), Some(emu.client_secret()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn login_errors_follow_the_identity_platform() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let http = reqwest::Client::new();
    let post = |tenant: &str, form: Vec<(&'static str, String)>| {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", emu.base_url());
        let req = http.post(url).form(&form);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let base = |scope: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", emu.client_id()),
            ("client_secret", emu.client_secret()),
            ("scope", scope.to_string()),
        ]
    };
    let (s, v) = post(
        &emu.tenant_id(),
        base("https://graph.microsoft.com/User.Read.All"),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_scope")));
    let (s, v) = post(
        "fabrikam.onmicrosoft.com",
        base("https://graph.microsoft.com/.default"),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
    let mut wrong_client = base("https://graph.microsoft.com/.default");
    wrong_client[1].1 = "22222222-2222-4222-8222-222222222222".into();
    let (s, v) = post(&emu.tenant_id(), wrong_client).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("unauthorized_client")));
    let (s, v) = post(&emu.tenant_id(), vec![("client_id", emu.client_id())]).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")));
    let (s, v) = post(
        &emu.tenant_id(),
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", emu.client_id()),
            ("scope", "https://graph.microsoft.com/.default".into()),
        ],
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

// ---------------------------------------------------------------- client assertion

/// A self-signed test certificate (RSA 2048), generated for these tests only.
const TEST_CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIDKzCCAhOgAwIBAgIUeG7VEJQXwzaEr6il+N44jDcpU5IwDQYJKoZIhvcNAQEL\n\
BQAwJDEiMCAGA1UEAwwZbWZhLXJvbGxvdXQtZW11bGF0b3ItdGVzdDAgFw0yNjEx\n\
MjQyMTU3MTFaGA8yMTI2MTAzMTIxNTcxMVowJDEiMCAGA1UEAwwZbWZhLXJvbGxv\n\
dXQtZW11bGF0b3ItdGVzdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEB\n\
AM9xTV6FpVJYSBPqFjfFs9vDLQiIRl5QiC/Oo4piwv8AVSu+XOqu/r98pE4ej1W3\n\
JDWPbt773NlnoNRDRVes6KwfuZ8lwRYCnlUx4L60gBgHRRTFHJ3cf/H0bmopC8/5\n\
X2pKmz/CDup2IOI8orlEsbS+jWk2oS02RbX70qf5HdmTw5vIJdDwObyIkRT5YeWh\n\
jEvK8mpuQUmr9x+BB16fAGmm7TSPy5JC8cHoRmd7qGB2iZx4R9ciWcFDCaTuJc7x\n\
8iW41Y840w2kPgoaiaEjA2ChJgW0b+0Ma/p0PiRDo5vQn0Wer/pMaXKI6iR9504d\n\
Df2+b8eOGoL6kboUuOdrxykCAwEAAaNTMFEwHQYDVR0OBBYEFBq2nXLR1kwEyiHI\n\
HG9Bw4CZP5bJMB8GA1UdIwQYMBaAFBq2nXLR1kwEyiHIHG9Bw4CZP5bJMA8GA1Ud\n\
EwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAEoQ1Nt5SpNIRBir54MEkNQO\n\
Yts/a4Om0fnwL+8LOe8ZNsGeDs4Z9Wr+/OZQxeAS1lx02c49sBvjKUq8qQdG92Ln\n\
nifNKHhPyqcndxa+11sF9EFi/hpEirkUXMU94VnLgrnJhozeM9kePsD9le2zZtYn\n\
RQNm+HPPDKspYGfzsMFB/4t++THYdVG44NzLl3DPhzcu89jmXHYiaM4dhmayl3Q4\n\
gEf1J/1NIPqxk5dSwL/t45VC76CyzSHV151zyeP/xwuKpmv0vszeGmQdvWg1okD6\n\
3m6UoEqs4wU1/laIw0tBdy79yQDGOHHGnq08e52epFPUK6hJ7vL02dBL9FphG98=\n\
-----END CERTIFICATE-----\n\
";

/// A test-only RSA key (PKCS#8 DER, base64) matching TEST_CERT_PEM; generated for these tests.
const TEST_KEY_PKCS8_B64: &str = "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDPcU1ehaVSWEgT6hY3xbPbwy0IiEZeUIgvzqOKYsL/AFUrvlzqrv6/fKROHo9VtyQ1j27e+9zZZ6DUQ0VXrOisH7mfJcEWAp5VMeC+tIAYB0UUxRyd3H/x9G5qKQvP+V9qSps/wg7qdiDiPKK5RLG0vo1pNqEtNkW1+9Kn+R3Zk8ObyCXQ8Dm8iJEU+WHloYxLyvJqbkFJq/cfgQdenwBppu00j8uSQvHB6EZne6hgdomceEfXIlnBQwmk7iXO8fIluNWPONMNpD4KGomhIwNgoSYFtG/tDGv6dD4kQ6Ob0J9Fnq/6TGlyiOokfedOHQ39vm/HjhqC+pG6FLjna8cpAgMBAAECggEABkdiqnVsdJqcITuDoqUxoCQ/N7PllV3l/AnKz28qgczBHIrYMHj4LamYe44sk9FFn6K7c1+3kT5evYNaaktJ256Lisf6GTAeb2u2vBml4D76wKSFYjiAsufNc8R8SWDomhoEqvW1EomyzcY8vVOD9s7nDtk1dbM1LEtMAVjmphA8lPUmZKlqsAiYR4nfl6OO/Ooz8vSUSbW1Iy4PXzzmMhx0ZhDDAYsziLKwfafc8ETjnqk8Z/OBwC1j+/pdyce8aNCCwk3UCd06iGduuFSx8np6ty0MVu+f6PZixNnksXUCK8Y3O14dQUhijowCIijFzgwFzF5foesYklShvlrXFQKBgQD63D7LNapUnwJvmAC/uoSMo12q5GX896HfeJVhTI1VhM3I1j8LBxLqj78JLMMh0ef8U6ZL3qNGfZ+hcMYOwqJnVXvAOPXl65cuqnh7kdRfDisfY9/JWduuv/kMCeqvdFC3wLaLN53AJannqCTw7s8yph8OREwM+knYKddNRYJocwKBgQDTsVUKtBNuzQA37SRzr5bUqjWArI0eNlYf+BHoEJJHQ1FawxX69zjWNiIH4rQPo1tU8ihbDy2YOwQ4O/DMkKcELqFeyuS3OmhhBq0jNlBep1LP6iykVw5NOErKyUJXkQ+s6ef4gXche/qw47CWl7Z7LWa0A4P0zc/vifnfZURW8wKBgQDWVABObD5n6CcTowHYzYncAuPPUy6T8BrcLFEsfVQvobSUCAB68oNF5qSoORdKuOWEnw9wuPo1CrWtIAYHrGFG+jEt7TyiQSO82ibwJIsW36sWOaWEiYJ5DknA8GQTncQtCrirv0vHVCaS5wUQ2GgsdOQJs25qlBktV6o8ucuOYwKBgQCw3L1yPdTmg3ulPglwZckcUEB3CrK0BS2bdARx4DZ2N3Xm4IqirJ3dykhQUkWhsxeBNvgka9/qCZSS7vFV15zST6seqWDA/JlsRsmsW5p2GlGDx+AYRWt7dIZ4OgGla1qvWpUl9/RyE0T1OKW2i3Y4H0xpJW6/vpv1Q09yJwcbpQKBgQCgE7KqPPAGRKg/h7iD2wO+X1IdIwWWJf/H7nx2st5SRoLXs+CB17JVaGc1TZ03ze5TWlOdyxYJsNZ5GVKmmh2vdPbYF+GpcQ1Rg7KnIM/eyN7lOmtcMfIpt/mUqNmKd5MPsJoh9TfSCnTt6T013AqRPOPrDq+tg/eFFRV9bs+E9A==";

fn sha256_thumbprint(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der))
}

fn assertion(aud: &str, client_id: &str, exp_after: i64, sign: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let header =
        json!({"alg": "PS256", "typ": "JWT", "x5t#S256": sha256_thumbprint(TEST_CERT_PEM)});
    let claims = json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": "8f0e1c55-6f31-4c1e-9d0e-3b1d7c2a9e10", "nbf": now, "iat": now, "exp": now + exp_after});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = if sign {
        let der = STANDARD.decode(TEST_KEY_PKCS8_B64.trim()).unwrap();
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &aws_lc_rs::signature::RSA_PSS_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        sig
    } else {
        vec![1, 2, 3]
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

async fn assertion_login(emu: &EmulatorHandle, jwt: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url(),
            emu.tenant_id()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emu.client_id()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", jwt),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn client_assertion_signed_by_the_registered_certificate_is_accepted() {
    let mut config = tenant();
    config.certificates = vec![TEST_CERT_PEM.to_string()];
    let emu = Emulator::start(config).await.unwrap();
    let aud = format!("{}/{}/oauth2/v2.0/token", emu.base_url(), emu.tenant_id());
    let (s, v) = assertion_login(&emu, &assertion(&aud, &emu.client_id(), 300, true)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["access_token"].is_string());
    // A bad signature on the same claims is refused.
    let (s, v) = assertion_login(&emu, &assertion(&aud, &emu.client_id(), 300, false)).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn client_assertion_with_wrong_audience_is_refused() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let (s, v) = assertion_login(
        &emu,
        &assertion(
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            &emu.client_id(),
            300,
            false,
        ),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")));
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );
}

#[tokio::test]
async fn client_assertion_living_longer_than_ten_minutes_is_refused() {
    let emu = Emulator::start(tenant()).await.unwrap();
    let aud = format!("{}/{}/oauth2/v2.0/token", emu.base_url(), emu.tenant_id());
    let (s, _) = assertion_login(&emu, &assertion(&aud, &emu.client_id(), 3600, false)).await;
    assert_eq!(s, 401);
    let (s, _) = assertion_login(&emu, &assertion(&aud, &emu.client_id(), -10, false)).await;
    assert_eq!(s, 401);
    let (s, _) = assertion_login(&emu, "not.a.jwt").await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn client_assertion_for_an_app_without_a_registered_certificate_is_refused() {
    // Well-formed, correctly signed, right claims: still no key on the app to check it with.
    let emu = Emulator::start(tenant()).await.unwrap();
    let aud = format!("{}/{}/oauth2/v2.0/token", emu.base_url(), emu.tenant_id());
    let (s, v) = assertion_login(&emu, &assertion(&aud, &emu.client_id(), 300, true)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
    assert_eq!(v["error_codes"][0], 700027, "{v}");
}

// ---------------------------------------------------------------- device code

async fn device_poll(emu: &EmulatorHandle, device_code: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url(),
            emu.tenant_id()
        ))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &emu.client_id()),
            ("device_code", device_code),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn device_start(emu: &EmulatorHandle, scope: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{DOMAIN}/oauth2/v2.0/devicecode",
            emu.base_url()
        ))
        .form(&[("client_id", emu.client_id().as_str()), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn device_code_goes_pending_then_slow_down_then_approved_with_refresh() {
    let emu = Emulator::start(tenant().allow_public_client_flows())
        .await
        .unwrap();
    let start = device_start(
        &emu,
        "https://graph.microsoft.com/Policy.ReadWrite.AuthenticationMethod offline_access",
    )
    .await;
    for f in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(!start[f].is_null(), "{f}");
    }
    let code = start["device_code"].as_str().unwrap();
    let (s, v) = device_poll(&emu, code).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (s, v) = device_poll(&emu, code).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("slow_down")));
    assert!(emu.approve_device_code(start["user_code"].as_str().unwrap()));
    let (s, v) = device_poll(&emu, code).await;
    assert_eq!(s, 200, "{v}");
    let claims = jwt_payload(v["access_token"].as_str().unwrap());
    assert_eq!(claims["scp"], "Policy.ReadWrite.AuthenticationMethod");
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    // The code is spent; the refresh token renews (and rotates).
    let (s, v) = device_poll(&emu, code).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("expired_token")));
    let renew = |t: String| {
        let url = format!("{}/{}/oauth2/v2.0/token", emu.base_url(), emu.tenant_id());
        let client = emu.client_id();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", &client),
                    ("refresh_token", &t),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = renew(refresh.clone()).await;
    assert_eq!(s, 200);
    assert!(v["refresh_token"].is_string());
    let (s, v) = renew(refresh).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn device_code_declined_expired_and_bad_codes() {
    let mut config = tenant().allow_public_client_flows();
    config.device_code_interval = 0;
    let emu = Emulator::start(config).await.unwrap();
    let start = device_start(&emu, "https://graph.microsoft.com/.default").await;
    let user_code = start["user_code"].as_str().unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/_emulator/device/decline", emu.base_url()))
        .json(&json!({"user_code": user_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = device_poll(&emu, start["device_code"].as_str().unwrap()).await;
    assert_eq!(v["error"], "authorization_declined");
    let (_, v) = device_poll(&emu, "no-such-code").await;
    assert_eq!(v["error"], "bad_verification_code");

    let mut config = tenant().allow_public_client_flows();
    config.device_code_ttl = 0;
    let emu = Emulator::start(config).await.unwrap();
    let start = device_start(&emu, "https://graph.microsoft.com/.default").await;
    let (_, v) = device_poll(&emu, start["device_code"].as_str().unwrap()).await;
    assert_eq!(v["error"], "expired_token");
}

#[tokio::test]
async fn device_code_needs_an_app_that_allows_public_client_flows() {
    let mut config = tenant();
    config.device_code_interval = 0;
    let emu = Emulator::start(config).await.unwrap();
    let start = device_start(&emu, "https://graph.microsoft.com/.default").await;
    assert!(emu.approve_device_code(start["user_code"].as_str().unwrap()));
    let (s, v) = device_poll(&emu, start["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
    assert_eq!(v["error_codes"][0], 7000218, "{v}");
}

// ---------------------------------------------------------------- bearer check

#[tokio::test]
async fn missing_or_tampered_token_gets_401_invalid_authentication_token() {
    let env = Env::start(tenant()).await;
    let r = env
        .http
        .get(env.url(&format!("/v1.0/users/bob@{DOMAIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    let mut tampered = env.token.clone();
    tampered.insert(tampered.len() - 2, 'A');
    let r = env
        .http
        .post(env.url("/beta/$batch"))
        .bearer_auth(tampered)
        .json(&json!({"requests": [get_item("1", "/users/bob@contoso.onmicrosoft.com")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn expired_token_gets_401_invalid_authentication_token() {
    let env = Env::start(tenant().token_ttl(0)).await;
    let r = env.get(&format!("/v1.0/users/bob@{DOMAIN}")).await;
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    assert!(v["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn withheld_permission_gets_403() {
    let env = Env::start(tenant().withhold_permission("User.RevokeSessions.All")).await;
    let item = env
        .one(
            "v1.0",
            write_item(
                "1",
                "POST",
                &format!("/users/bob@{DOMAIN}/revokeSignInSessions"),
                json!({}),
            ),
        )
        .await;
    assert_eq!(item["status"], 403);
    assert_eq!(item["body"]["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        item["body"]["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    assert_eq!(env.user_state(&format!("bob@{DOMAIN}"))["revoke_count"], 0);
    // Other routes still work with the remaining permissions.
    let item = env
        .one(
            "beta",
            get_item(
                "2",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
            ),
        )
        .await;
    assert_eq!(item["status"], 200);
}

// ---------------------------------------------------------------- $batch rules

#[tokio::test]
async fn batch_with_21_items_is_refused_whole_with_400() {
    let env = Env::start(tenant()).await;
    let items: Vec<Value> = (0..21)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (s, v) = env.batch("v1.0", json!(items)).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Number of requests inside batch exceed the limit"
    );
    let items: Vec<Value> = (0..20)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (s, v) = env.batch("v1.0", json!(items)).await;
    assert_eq!(s, 200);
    assert_eq!(v["responses"].as_array().unwrap().len(), 20);
    assert_eq!(env.emu.stats()["largest_batch"], 20);
}

#[tokio::test]
async fn empty_batch_is_refused_with_400() {
    let env = Env::start(tenant()).await;
    let (s, v) = env.batch("beta", json!([])).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn duplicate_ids_differing_only_in_case_fail_the_whole_batch() {
    let env = Env::start(tenant()).await;
    let (s, _) = env
        .batch(
            "beta",
            json!([
                get_item("a", &format!("/users/bob@{DOMAIN}")),
                write_item(
                    "A",
                    "PATCH",
                    &format!("/users/bob@{DOMAIN}/authentication/requirements"),
                    json!({"perUserMfaState": "enforced"})
                )
            ]),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

#[tokio::test]
async fn write_item_without_content_type_fails_the_whole_batch_and_changes_nothing() {
    let env = Env::start(tenant()).await;
    let (s, v) = env
        .batch(
            "beta",
            json!([
                write_item("1", "PATCH", &format!("/users/bob@{DOMAIN}/authentication/requirements"), json!({"perUserMfaState": "enforced"})),
                {"id": "2", "method": "POST", "url": format!("/users/bob@{DOMAIN}/revokeSignInSessions"), "body": {}}
            ]),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Write request id : 2 does not contain Content-Type header or body."
    );
    let bob = env.user_state(&format!("bob@{DOMAIN}"));
    assert_eq!(bob["perUserMfaState"], "disabled");
    assert_eq!(bob["revoke_count"], 0);
    // Without a body it fails the same way.
    let (s, v) = env
        .batch(
            "v1.0",
            json!([{"id": "9", "method": "POST", "url": format!("/users/bob@{DOMAIN}/revokeSignInSessions"), "headers": {"Content-Type": "application/json"}}]),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Write request id : 9 does not contain Content-Type header or body."
    );
}

#[tokio::test]
async fn absolute_urls_and_nested_batches_are_refused_with_400() {
    let env = Env::start(tenant()).await;
    let (s, _) = env
        .batch(
            "v1.0",
            json!([get_item(
                "1",
                "https://graph.microsoft.com/v1.0/users/bob@contoso.onmicrosoft.com"
            )]),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .batch(
            "v1.0",
            json!([write_item("1", "POST", "/$batch", json!({"requests": []}))]),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn malformed_batch_json_gets_400_bad_request() {
    let env = Env::start(tenant()).await;
    let r = env
        .http
        .post(env.url("/v1.0/$batch"))
        .bearer_auth(&env.token)
        .header("content-type", "application/json")
        .body("{\"requests\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().contains_key("request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn beta_only_route_in_a_v1_batch_gets_item_405() {
    let env = Env::start(tenant()).await;
    let item = env
        .one(
            "v1.0",
            get_item(
                "1",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
            ),
        )
        .await;
    assert_eq!(item["status"], 405);
    assert_eq!(item["body"]["error"]["code"], "Request_BadRequest");
    assert_eq!(
        item["body"]["error"]["message"],
        "Specified HTTP method is not allowed for the request target."
    );
}

#[tokio::test]
async fn items_answer_with_request_id_client_request_id_and_content_type() {
    let env = Env::start(tenant()).await;
    let (s, v) = env
        .batch(
            "beta",
            json!([
                {"id": "r", "method": "GET", "url": format!("users/alice@{DOMAIN}/authentication/requirements"), "headers": {"client-request-id": "c-1"}},
                {"id": "w", "method": "PATCH", "url": format!("/users/bob@{DOMAIN}/authentication/requirements"), "headers": {"Content-Type": "application/json", "client-request-id": "c-2"}, "body": {"perUserMfaState": "enforced"}},
                {"id": "e", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com", "headers": {"client-request-id": "c-3"}}
            ]),
        )
        .await;
    assert_eq!(s, 200);
    let r = by_id(&v, "r");
    assert_eq!(r["status"], 200);
    assert_eq!(r["body"]["perUserMfaState"], "disabled");
    assert_eq!(r["headers"]["client-request-id"], "c-1");
    assert_eq!(r["headers"]["Content-Type"], "application/json");
    assert!(r["headers"]["request-id"].is_string());
    let w = by_id(&v, "w");
    assert_eq!(w["status"], 204);
    assert!(w.get("body").is_none());
    assert!(w["headers"].get("Content-Type").is_none());
    let e = by_id(&v, "e");
    assert_eq!(e["status"], 404);
    assert_eq!(e["body"]["error"]["innerError"]["client-request-id"], "c-3");
    assert_eq!(
        e["body"]["error"]["innerError"]["request-id"],
        e["headers"]["request-id"]
    );
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "enforced"
    );
}

#[tokio::test]
async fn responses_come_back_shuffled_but_every_id_is_answered() {
    let env = Env::start(tenant()).await;
    let items: Vec<Value> = (0..20)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (_, v) = env.batch("v1.0", json!(items)).await;
    let ids: Vec<String> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_ne!(
        ids, expected,
        "a seeded shuffle of 20 items is not the identity"
    );
    let mut sorted = ids.clone();
    sorted.sort_by_key(|s| s.parse::<u32>().unwrap());
    assert_eq!(sorted, expected);
}

#[tokio::test]
async fn dependents_of_a_failed_item_get_424() {
    let env = Env::start(tenant()).await;
    let (_, v) = env
        .batch(
            "beta",
            json!([
                write_item("1", "PATCH", "/users/nobody@contoso.onmicrosoft.com/authentication/requirements", json!({"perUserMfaState": "enforced"})),
                {"id": "2", "method": "PATCH", "url": format!("/users/bob@{DOMAIN}/authentication/requirements"), "headers": {"Content-Type": "application/json"}, "body": {"perUserMfaState": "enforced"}, "dependsOn": ["1"]},
                {"id": "3", "method": "GET", "url": format!("/users/bob@{DOMAIN}"), "dependsOn": ["2"]}
            ]),
        )
        .await;
    assert_eq!(by_id(&v, "1")["status"], 404);
    assert_eq!(by_id(&v, "2")["status"], 424);
    assert_eq!(by_id(&v, "3")["status"], 424);
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

// ---------------------------------------------------------------- per-user MFA state

#[tokio::test]
async fn enabled_becomes_enforced_for_a_user_with_a_registered_method() {
    let env = Env::start(tenant()).await;
    let patch = |upn: &str| {
        write_item(
            "1",
            "PATCH",
            &format!("/users/{upn}/authentication/requirements"),
            json!({"perUserMfaState": "enabled"}),
        )
    };
    let item = env.one("beta", patch(&format!("alice@{DOMAIN}"))).await;
    assert_eq!(item["status"], 204);
    let item = env
        .one(
            "beta",
            get_item(
                "2",
                &format!("/users/alice@{DOMAIN}/authentication/requirements"),
            ),
        )
        .await;
    assert_eq!(item["body"]["perUserMfaState"], "enforced");
    // Without a registered method it stays enabled.
    env.one("beta", patch(&format!("bob@{DOMAIN}"))).await;
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "enabled"
    );
}

#[tokio::test]
async fn invalid_mfa_state_values_get_400() {
    let env = Env::start(tenant()).await;
    for body in [
        json!({"perUserMfaState": "unknownFutureValue"}),
        json!({"perUserMfaState": "Enabled"}),
        json!({}),
        json!({"state": "enabled"}),
    ] {
        let item = env
            .one(
                "beta",
                write_item(
                    "1",
                    "PATCH",
                    &format!("/users/bob@{DOMAIN}/authentication/requirements"),
                    body.clone(),
                ),
            )
            .await;
        assert_eq!(item["status"], 400, "{body}");
        assert_eq!(item["body"]["error"]["code"], "badRequest");
        assert!(item["body"]["error"]["message"].as_str().unwrap().len() > 5);
    }
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

// ---------------------------------------------------------------- methods

#[tokio::test]
async fn methods_list_hides_hardware_oath_in_v1_and_shows_it_in_beta() {
    let env = Env::start(tenant()).await;
    let types = |item: &Value| -> Vec<String> {
        item["body"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["@odata.type"].as_str().unwrap().to_string())
            .collect()
    };
    let v1 = env
        .one(
            "v1.0",
            get_item("1", &format!("/users/hw@{DOMAIN}/authentication/methods")),
        )
        .await;
    assert_eq!(v1["status"], 200);
    assert!(!types(&v1).contains(&"#microsoft.graph.hardwareOathAuthenticationMethod".to_string()));
    assert!(types(&v1).contains(&"#microsoft.graph.fido2AuthenticationMethod".to_string()));
    assert!(
        v1["body"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == PASSWORD)
    );
    let beta = env
        .one(
            "beta",
            get_item("1", &format!("/users/hw@{DOMAIN}/authentication/methods")),
        )
        .await;
    assert!(
        types(&beta).contains(&"#microsoft.graph.hardwareOathAuthenticationMethod".to_string())
    );
    // Deleting hardware OATH is beta only.
    let url = format!(
        "/users/hw@{DOMAIN}/authentication/hardwareOathMethods/hhhhhhhh-0000-4000-8000-000000000001"
    );
    let del = json!({"id": "d", "method": "DELETE", "url": url});
    assert_eq!(env.one("v1.0", del.clone()).await["status"], 405);
}

#[tokio::test]
async fn generic_method_delete_fails_with_no_http_resource_found() {
    let env = Env::start(tenant()).await;
    let item = env
        .one("v1.0", json!({"id": "1", "method": "DELETE", "url": format!("/users/alice@{DOMAIN}/authentication/methods/{MOBILE}")}))
        .await;
    assert_eq!(item["status"], 404);
    assert!(
        item["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No HTTP resource was found that matches the request URI")
    );
    assert_eq!(
        env.user_state(&format!("alice@{DOMAIN}"))["methods"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn password_method_cannot_be_deleted_and_unknown_method_ids_are_404() {
    let env = Env::start(tenant()).await;
    let item = env
        .one("v1.0", json!({"id": "1", "method": "DELETE", "url": format!("/users/bob@{DOMAIN}/authentication/passwordMethods/{PASSWORD}")}))
        .await;
    assert_eq!(item["status"], 405);
    let item = env
        .one("v1.0", json!({"id": "1", "method": "DELETE", "url": format!("/users/bob@{DOMAIN}/authentication/fido2Methods/nope")}))
        .await;
    assert_eq!(item["status"], 404);
}

#[tokio::test]
async fn default_method_cannot_be_deleted_while_others_remain() {
    let env = Env::start(tenant()).await;
    let del = |url: String| json!({"id": "1", "method": "DELETE", "url": url});
    let auth = format!(
        "/users/alice@{DOMAIN}/authentication/microsoftAuthenticatorMethods/{ALICE_AUTH_ID}"
    );
    let item = env.one("v1.0", del(auth.clone())).await;
    assert_eq!(item["status"], 400);
    assert_eq!(item["body"]["error"]["code"], "badRequest");
    assert_eq!(
        item["body"]["error"]["message"],
        "Cannot delete default method with other methods configured. Please change default method before deletion."
    );
    let item = env
        .one(
            "v1.0",
            del(format!(
                "/users/alice@{DOMAIN}/authentication/phoneMethods/{MOBILE}"
            )),
        )
        .await;
    assert_eq!(item["status"], 204);
    let item = env.one("v1.0", del(auth)).await;
    assert_eq!(item["status"], 204);
    let alice = env.user_state(&format!("alice@{DOMAIN}"));
    assert_eq!(alice["methods"], json!([]));
    assert_eq!(alice["defaultMethod"], Value::Null);
}

#[tokio::test]
async fn alternate_mobile_must_go_before_mobile() {
    let env = Env::start(tenant()).await;
    let del = |id: &str| json!({"id": "1", "method": "DELETE", "url": format!("/users/carol@{DOMAIN}/authentication/phoneMethods/{id}")});
    let item = env.one("v1.0", del(MOBILE)).await;
    assert_eq!(item["status"], 400);
    assert!(
        item["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alternateMobile")
    );
    assert_eq!(env.one("v1.0", del(ALT_MOBILE)).await["status"], 204);
    assert_eq!(env.one("v1.0", del(MOBILE)).await["status"], 204);
}

#[tokio::test]
async fn sign_in_preferences_patch_validates_value_and_matching_method() {
    let env = Env::start(tenant()).await;
    let url = format!("/users/alice@{DOMAIN}/authentication/signInPreferences");
    let item = env.one("beta", get_item("1", &url)).await;
    assert_eq!(
        item["body"]["userPreferredMethodForSecondaryAuthentication"],
        "push"
    );
    assert_eq!(
        item["body"]["isSystemPreferredAuthenticationMethodEnabled"],
        false
    );
    let patch = |v: &str| {
        write_item(
            "1",
            "PATCH",
            &url,
            json!({"userPreferredMethodForSecondaryAuthentication": v}),
        )
    };
    assert_eq!(env.one("beta", patch("carrierPigeon")).await["status"], 400);
    assert_eq!(env.one("beta", patch("voiceOffice")).await["status"], 400);
    assert_eq!(env.one("beta", patch("sms")).await["status"], 204);
    assert_eq!(
        env.user_state(&format!("alice@{DOMAIN}"))["defaultMethod"],
        "sms"
    );
    assert_eq!(env.one("v1.0", patch("sms")).await["status"], 405);
}

// ---------------------------------------------------------------- revoke

#[tokio::test]
async fn revoke_answers_200_true_and_guests_are_counted_but_not_effective() {
    let env = Env::start(tenant()).await;
    let revoke = |key: &str| {
        write_item(
            "1",
            "POST",
            &format!("/users/{key}/revokeSignInSessions"),
            json!({}),
        )
    };
    let item = env.one("v1.0", revoke(&format!("bob@{DOMAIN}"))).await;
    assert_eq!(item["status"], 200);
    assert_eq!(item["body"]["value"], true);
    assert_eq!(
        item["body"]["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean"
    );
    let item = env
        .one(
            "v1.0",
            revoke("x_contoso.com%23EXT%23@contoso.onmicrosoft.com"),
        )
        .await;
    assert_eq!(item["status"], 200);
    let bob = env.user_state(&format!("bob@{DOMAIN}"));
    assert_eq!(
        (
            bob["revoke_count"].as_u64(),
            bob["revocations_effective"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let guest = env.user_state(GUEST);
    assert_eq!(
        (
            guest["revoke_count"].as_u64(),
            guest["revocations_effective"].as_u64()
        ),
        (Some(1), Some(0))
    );
    // A plain POST needs no body.
    let r = env
        .http
        .post(env.url(&format!("/v1.0/users/bob@{DOMAIN}/revokeSignInSessions")))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(env.user_state(&format!("bob@{DOMAIN}"))["revoke_count"], 2);
}

// ---------------------------------------------------------------- user keys

#[tokio::test]
async fn raw_hash_in_upn_truncates_the_url_so_the_guest_is_not_found() {
    let env = Env::start(tenant()).await;
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users/{GUEST}/authentication/methods")),
        )
        .await;
    assert_eq!(item["status"], 404);
    assert_eq!(item["body"]["error"]["code"], "Request_ResourceNotFound");
    assert!(
        item["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'x_contoso.com'")
    );
    let r = env.get(&format!("/v1.0/users/{GUEST}")).await;
    assert_eq!(r.status().as_u16(), 404);
    let encoded = GUEST.replace('#', "%23");
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users/{encoded}/authentication/methods")),
        )
        .await;
    assert_eq!(item["status"], 200);
    let r = env
        .get(&format!("/v1.0/users/{encoded}?$select=userType"))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["userType"], "Guest");
}

#[tokio::test]
async fn dollar_upn_needs_the_parenthesised_key_form() {
    let env = Env::start(tenant()).await;
    let item = env
        .one("v1.0", get_item("1", &format!("/users/$admin@{DOMAIN}")))
        .await;
    assert_eq!(item["status"], 400);
    let item = env
        .one("v1.0", get_item("1", &format!("/users('$admin@{DOMAIN}')")))
        .await;
    assert_eq!(item["status"], 200);
    assert_eq!(
        item["body"]["userPrincipalName"],
        format!("$admin@{DOMAIN}")
    );
}

#[tokio::test]
async fn apostrophes_are_doubled_inside_the_parenthesised_key() {
    let env = Env::start(tenant()).await;
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users('o''brien@{DOMAIN}')")),
        )
        .await;
    assert_eq!(item["status"], 200);
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users('o'brien@{DOMAIN}')")),
        )
        .await;
    assert_eq!(item["status"], 400);
    let item = env
        .one("v1.0", get_item("1", &format!("/users/o'brien@{DOMAIN}")))
        .await;
    assert_eq!(item["status"], 200);
}

#[tokio::test]
async fn unknown_user_gets_404_resource_not_found_naming_the_key() {
    let env = Env::start(tenant()).await;
    let item = env
        .one(
            "v1.0",
            get_item(
                "1",
                "/users/ghost@contoso.onmicrosoft.com/authentication/methods",
            ),
        )
        .await;
    assert_eq!(item["status"], 404);
    assert_eq!(item["body"]["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(
        item["body"]["error"]["message"],
        "Resource 'ghost@contoso.onmicrosoft.com' does not exist or one of its queried reference-property objects are not present."
    );
}

#[tokio::test]
async fn users_are_found_by_id_or_case_insensitive_upn() {
    let env = Env::start(tenant()).await;
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users/ALICE@{}", DOMAIN.to_uppercase())),
        )
        .await;
    assert_eq!(item["status"], 200);
    let id = item["body"]["id"].as_str().unwrap().to_string();
    for f in ["id", "userPrincipalName", "displayName"] {
        assert!(item["body"][f].is_string(), "{f}");
    }
    let item = env
        .one(
            "beta",
            get_item(
                "1",
                &format!("/users/{}/authentication/requirements", id.to_uppercase()),
            ),
        )
        .await;
    assert_eq!(item["status"], 200);
}

// ---------------------------------------------------------------- reading users

/// Graph's v1.0 default user properties (docs/graph.md §9.1).
const DEFAULT_USER_SET: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

fn property_names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body
        .as_object()
        .map(|o| o.keys().filter(|k| !k.starts_with('@')).cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn tenant_with_mail() -> EmulatorConfig {
    let mut c = tenant();
    c.users[0].mail = Some("alice.smith@contoso.com".into());
    c.users[0].proxy_addresses = vec![
        "SMTP:alice.smith@contoso.com".into(),
        "smtp:alice@contoso.onmicrosoft.com".into(),
    ];
    c.users[3].mail = Some("x@contoso.com".into());
    c
}

#[tokio::test]
async fn reading_a_user_without_select_returns_the_default_set_and_no_user_type() {
    let env = Env::start(tenant_with_mail()).await;
    let mut want: Vec<String> = DEFAULT_USER_SET.iter().map(|s| s.to_string()).collect();
    want.sort();
    for version in ["v1.0", "beta"] {
        let r = env.get(&format!("/{version}/users/alice@{DOMAIN}")).await;
        assert_eq!(r.status().as_u16(), 200);
        let plain: Value = r.json().await.unwrap();
        let item = env
            .one(version, get_item("1", &format!("/users/alice@{DOMAIN}")))
            .await;
        assert_eq!(item["status"], 200);
        for body in [&plain, &item["body"]] {
            assert_eq!(property_names(body), want, "{version}: {body}");
            assert_eq!(body["mail"], "alice.smith@contoso.com");
            assert_eq!(body["userPrincipalName"], format!("alice@{DOMAIN}"));
            assert!(body.get("userType").is_none(), "{version}: {body}");
        }
    }
    // A user without mail answers null, as Graph does.
    let item = env
        .one("v1.0", get_item("1", &format!("/users/bob@{DOMAIN}")))
        .await;
    assert_eq!(item["body"]["mail"], Value::Null);
}

#[tokio::test]
async fn select_returns_exactly_the_properties_it_names() {
    let env = Env::start(tenant_with_mail()).await;
    let guest = GUEST.replace('#', "%23");
    for version in ["v1.0", "beta"] {
        let item = env
            .one(
                version,
                get_item(
                    "1",
                    &format!("/users/{guest}?$select=id,userPrincipalName,userType"),
                ),
            )
            .await;
        assert_eq!(item["status"], 200, "{item}");
        assert_eq!(
            property_names(&item["body"]),
            ["id", "userPrincipalName", "userType"]
        );
        assert_eq!(item["body"]["userType"], "Guest");
        assert_eq!(item["body"]["userPrincipalName"], GUEST);
    }
    let r = env
        .get(&format!(
            "/v1.0/users/alice@{DOMAIN}?$select=mail,proxyAddresses,accountEnabled"
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        property_names(&v),
        ["accountEnabled", "mail", "proxyAddresses"]
    );
    assert_eq!(v["accountEnabled"], true);
    assert_eq!(v["proxyAddresses"][0], "SMTP:alice.smith@contoso.com");
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#users(mail,proxyAddresses,accountEnabled)/$entity")
    );
}

#[tokio::test]
async fn selecting_an_unknown_user_property_gets_400() {
    let env = Env::start(tenant()).await;
    for version in ["v1.0", "beta"] {
        let item = env
            .one(
                version,
                get_item("1", &format!("/users/bob@{DOMAIN}?$select=id,shoeSize")),
            )
            .await;
        assert_eq!(item["status"], 400, "{item}");
        assert_eq!(item["body"]["error"]["code"], "BadRequest");
        assert!(
            item["body"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("'shoeSize'")
        );
    }
    let r = env
        .get(&format!("/v1.0/users/bob@{DOMAIN}?$select=userType,"))
        .await;
    assert_eq!(r.status().as_u16(), 400);
}

async fn read_user_status(config: EmulatorConfig, query: &str) -> u16 {
    let env = Env::start(config).await;
    let item = env
        .one(
            "v1.0",
            get_item("1", &format!("/users/bob@{DOMAIN}{query}")),
        )
        .await;
    item["status"].as_u64().unwrap() as u16
}

#[tokio::test]
async fn reading_users_needs_a_user_read_permission_not_just_any() {
    // The tool's other permissions do not read users.
    let without = || tenant().withhold_permission("User.Read.All");
    assert_eq!(read_user_status(without(), "").await, 403);
    assert_eq!(read_user_status(without(), "?$select=id").await, 403);
    for p in [
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ] {
        let mut c = without();
        c.extra_permissions.push(p.into());
        assert_eq!(
            read_user_status(c, "?$select=id,userType").await,
            200,
            "{p}"
        );
    }
    // User.ReadBasic.All reads the basic profile only: not the default set, not userType.
    let basic = || {
        let mut c = without();
        c.extra_permissions.push("User.ReadBasic.All".into());
        c
    };
    assert_eq!(
        read_user_status(
            basic(),
            "?$select=id,displayName,givenName,surname,mail,userPrincipalName"
        )
        .await,
        200
    );
    assert_eq!(read_user_status(basic(), "").await, 403);
    assert_eq!(read_user_status(basic(), "?$select=id,userType").await, 403);
}

// ---------------------------------------------------------------- throttling

fn small_quotas(ru: f64, writes: f64) -> EmulatorConfig {
    let mut c = tenant();
    c.quotas = Quotas {
        resource_units_per_10s: ru,
        writes_per_150s: writes,
        tenant_writes_per_5min: 18000.0,
        initial_fill: 1.0,
        write_burst_secs: None,
    };
    c
}

#[tokio::test]
async fn throttled_items_get_429_with_fractional_retry_after_and_scope_headers() {
    let env = Env::start(small_quotas(15.0, 3000.0)).await;
    let items: Vec<Value> = (0..20)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (s, v) = env.batch("v1.0", json!(items)).await;
    assert_eq!(s, 200, "the batch itself succeeds");
    let throttled: Vec<&Value> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 429)
        .collect();
    assert_eq!(throttled.len(), 5);
    let t = throttled[0];
    assert_eq!(t["body"]["error"]["code"], "TooManyRequests");
    let retry: f64 = t["headers"]["Retry-After"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0.0 && retry <= 20.0, "{retry}");
    assert!(
        throttled
            .iter()
            .any(|r| r["headers"]["Retry-After"].as_str().unwrap().contains('.'))
    );
    assert_eq!(
        t["headers"]["x-ms-throttle-information"],
        "ResourceUnitLimitExceeded"
    );
    assert!(
        t["headers"]["x-ms-throttle-scope"]
            .as_str()
            .unwrap()
            .starts_with("Tenant_Application/")
    );
    assert_eq!(env.emu.stats()["throttled"], 5);
    assert_eq!(env.emu.stats()["items_by_status"]["429"], 5);
}

#[tokio::test]
async fn writes_are_throttled_by_the_write_budget_while_reads_pass() {
    let env = Env::start(small_quotas(1000.0, 3.0)).await;
    let items: Vec<Value> = (0..5)
        .map(|i| {
            write_item(
                &i.to_string(),
                "PATCH",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
                json!({"perUserMfaState": "enforced"}),
            )
        })
        .collect();
    let (_, v) = env.batch("beta", json!(items)).await;
    let throttled: Vec<&Value> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 429)
        .collect();
    assert_eq!(throttled.len(), 2);
    assert_eq!(
        throttled[0]["headers"]["x-ms-throttle-information"],
        "WriteLimitExceeded"
    );
    let scope = throttled[0]["headers"]["x-ms-throttle-scope"]
        .as_str()
        .unwrap();
    assert_eq!(
        scope,
        format!(
            "Tenant_Application/Write/{}/{}",
            env.emu.client_id(),
            env.emu.tenant_id()
        )
    );
    let item = env
        .one(
            "beta",
            get_item(
                "r",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
            ),
        )
        .await;
    assert_eq!(item["status"], 200);
    assert_eq!(env.emu.stats()["writes"], 3);
}

#[tokio::test]
async fn limit_percentage_header_appears_above_eighty_percent() {
    let env = Env::start(small_quotas(10.0, 3000.0)).await;
    let items: Vec<Value> = (0..9)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (_, v) = env.batch("v1.0", json!(items)).await;
    let with_header = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["headers"].get("x-ms-throttle-limit-percentage").is_some())
        .count();
    assert_eq!(with_header, 1);
}

#[tokio::test]
async fn quota_scale_and_no_throttle_change_the_budget() {
    let env = Env::start(small_quotas(10.0, 3000.0).quota_scale(2.0)).await;
    let items: Vec<Value> = (0..20)
        .map(|i| get_item(&i.to_string(), &format!("/users/bob@{DOMAIN}")))
        .collect();
    let (_, v) = env.batch("v1.0", json!(items.clone())).await;
    assert!(
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 200)
    );
    let env = Env::start(small_quotas(1.0, 1.0).no_throttle()).await;
    let (_, v) = env.batch("v1.0", json!(items)).await;
    assert!(
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 200)
    );
}

// ---------------------------------------------------------------- faults

fn faulty(f: Faults) -> EmulatorConfig {
    tenant().faults(f)
}

#[tokio::test]
async fn whole_batch_503_fault_runs_nothing() {
    let env = Env::start(faulty(Faults {
        batch_503: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = env
        .http
        .post(env.url("/beta/$batch"))
        .bearer_auth(&env.token)
        .json(&json!({"requests": [write_item("1", "PATCH", &format!("/users/bob@{DOMAIN}/authentication/requirements"), json!({"perUserMfaState": "enforced"}))]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

#[tokio::test]
async fn whole_batch_429_fault_carries_retry_after() {
    let env = Env::start(faulty(Faults {
        batch_429: 1.0,
        retry_after_secs: Some(0.25),
        ..Faults::default()
    }))
    .await;
    let r = env
        .http
        .post(env.url("/v1.0/$batch"))
        .bearer_auth(&env.token)
        .json(&json!({"requests": [get_item("1", &format!("/users/bob@{DOMAIN}"))]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "0.25");
    assert_eq!(env.emu.stats()["throttled"], 1);
}

#[tokio::test]
async fn item_5xx_fault_runs_nothing() {
    let env = Env::start(faulty(Faults {
        item_5xx: 1.0,
        ..Faults::default()
    }))
    .await;
    let item = env
        .one(
            "beta",
            write_item(
                "1",
                "PATCH",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
                json!({"perUserMfaState": "enforced"}),
            ),
        )
        .await;
    let status = item["status"].as_u64().unwrap();
    assert!(status == 503 || status == 504, "{status}");
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error_not_a_response() {
    let env = Env::start(faulty(Faults {
        drop: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = env
        .http
        .post(env.url("/beta/$batch"))
        .bearer_auth(&env.token)
        .json(&json!({"requests": [write_item("1", "PATCH", &format!("/users/bob@{DOMAIN}/authentication/requirements"), json!({"perUserMfaState": "enforced"}))]}))
        .send()
        .await;
    let outcome = match r {
        Err(_) => Err(()),
        Ok(resp) => resp.bytes().await.map(|_| ()).map_err(|_| ()),
    };
    assert!(outcome.is_err(), "the body must fail to arrive");
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
    assert_eq!(env.emu.stats()["faults"]["dropped"], 1);
}

#[tokio::test]
async fn dropped_after_execute_changes_the_tenant_but_loses_the_answer() {
    let env = Env::start(faulty(Faults {
        drop: 1.0,
        drop_after_execute: true,
        ..Faults::default()
    }))
    .await;
    let r = env
        .http
        .post(env.url("/beta/$batch"))
        .bearer_auth(&env.token)
        .json(&json!({"requests": [write_item("1", "PATCH", &format!("/users/bob@{DOMAIN}/authentication/requirements"), json!({"perUserMfaState": "enforced"}))]}))
        .send()
        .await;
    let outcome = match r {
        Err(_) => Err(()),
        Ok(resp) => resp.bytes().await.map(|_| ()).map_err(|_| ()),
    };
    assert!(outcome.is_err());
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "enforced"
    );
}

// ---------------------------------------------------------------- plain requests, robustness

#[tokio::test]
async fn plain_requests_use_the_same_routes_as_batch_items() {
    let env = Env::start(tenant()).await;
    let r = env
        .http
        .patch(env.url(&format!(
            "/beta/users/bob@{DOMAIN}/authentication/requirements"
        )))
        .bearer_auth(&env.token)
        .header("client-request-id", "plain-1")
        .json(&json!({"perUserMfaState": "enforced"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(r.headers().contains_key("request-id"));
    assert_eq!(r.headers()["client-request-id"], "plain-1");
    let r = env
        .get(&format!(
            "/beta/users/bob@{DOMAIN}/authentication/requirements"
        ))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["perUserMfaState"], "enforced");
    let r = env
        .get(&format!(
            "/v1.0/users/bob@{DOMAIN}/authentication/requirements"
        ))
        .await;
    assert_eq!(r.status().as_u16(), 405);
    let stats = env.emu.stats();
    assert_eq!(stats["plain_requests"], 3);
    assert_eq!(stats["writes"], 1);
    assert_eq!(stats["writes_per_user"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn emulator_keeps_serving_after_garbage() {
    let env = Env::start(tenant()).await;
    let r = env.get("/nope").await;
    assert_eq!(r.status().as_u16(), 404);
    let r = env.get("/v1.0/groups/x").await;
    assert_eq!(r.status().as_u16(), 400);
    let r = env.get("/v1.0/$batch").await;
    assert_eq!(r.status().as_u16(), 405);
    let r = env
        .http
        .patch(env.url(&format!(
            "/beta/users/bob@{DOMAIN}/authentication/requirements"
        )))
        .bearer_auth(&env.token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let huge = vec![b'x'; 5 * 1024 * 1024];
    let r = env
        .http
        .post(env.url("/v1.0/$batch"))
        .bearer_auth(&env.token)
        .body(huge)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    // Raw garbage on a socket.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = env.emu.base_url().trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
        let mut buf = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    }
    let items = json!([{"id": 1, "method": "GET", "url": "/users/x"}]);
    let (s, _) = env.batch("v1.0", items).await;
    assert_eq!(s, 400);
    let r = env.get(&format!("/v1.0/users/bob@{DOMAIN}")).await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn emulator_routes_need_no_token_and_report_users_and_stats() {
    let env = Env::start(tenant()).await;
    env.one("v1.0", get_item("1", &format!("/users/bob@{DOMAIN}")))
        .await;
    let stats: Value = env
        .http
        .get(env.url("/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for f in [
        "requests",
        "batches",
        "items",
        "items_by_status",
        "throttled",
        "largest_batch",
        "writes",
        "writes_per_user",
        "max_writes_per_user",
        "users_written_more_than_once",
        "token_grants",
    ] {
        assert!(!stats[f].is_null(), "{f}");
    }
    assert_eq!(stats["batches"], 1);
    assert_eq!(stats["items"], 1);
    assert_eq!(stats["items_by_status"]["200"], 1);
    let users: Value = env
        .http
        .get(env.url("/_emulator/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users, env.emu.users());
    let alice = env.user_state(&format!("alice@{DOMAIN}"));
    assert_eq!(alice["defaultMethod"], "push");
    assert_eq!(alice["methods"][0]["type"], "microsoftAuthenticator");
    assert_eq!(alice["methods"][1]["phoneType"], "mobile");
}

// ---------------------------------------------------------------- configuration

#[tokio::test]
async fn users_named_by_keys_all_exist() {
    let keys = vec![
        "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10".to_string(),
        "someone@contoso.onmicrosoft.com".to_string(),
        "y_fabrikam.com#EXT#@contoso.onmicrosoft.com".to_string(),
    ];
    let env = Env::start(EmulatorConfig::with_users_named(&keys, 3)).await;
    for key in &keys {
        let item = env
            .one(
                "v1.0",
                get_item("1", &format!("/users/{}", key.replace('#', "%23"))),
            )
            .await;
        assert_eq!(item["status"], 200, "{key}");
    }
    assert_eq!(
        env.user_state("y_fabrikam.com#EXT#@contoso.onmicrosoft.com")["userType"],
        "Guest"
    );
}

#[test]
fn sample_tenant_file_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tenant.json");
    let config = EmulatorConfig::from_tenant_file(&path).unwrap();
    assert!(config.users.len() >= 300);
    assert!(
        config
            .users
            .iter()
            .any(|u| u.upn == "o'brien@contoso.onmicrosoft.com")
    );
}

/// Regenerates samples/tenant.json: `cargo test -q --test it write_sample_tenant -- --ignored`.
#[test]
#[ignore]
fn write_sample_tenant() {
    let mut c = EmulatorConfig::generated(300, 2026);
    let special = |upn: &str,
                   user_type: &str,
                   methods: Vec<MethodSpec>,
                   default: Option<&str>,
                   state: &str| UserSpec {
        per_user_mfa_state: state.into(),
        ..user(upn, user_type, methods, default)
    };
    c.users.extend([
        special(
            GUEST,
            "Guest",
            vec![method("phone", None, Some("mobile"))],
            Some("sms"),
            "disabled",
        ),
        special(
            "adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "Guest",
            vec![],
            None,
            "enabled",
        ),
        special(
            "o'brien@contoso.onmicrosoft.com",
            "Member",
            vec![method("microsoftAuthenticator", None, None)],
            Some("push"),
            "enforced",
        ),
        special(
            "$admin@contoso.onmicrosoft.com",
            "Member",
            vec![method("fido2", None, None)],
            None,
            "enforced",
        ),
        special(
            "phone.only@contoso.onmicrosoft.com",
            "Member",
            vec![
                method("phone", None, Some("mobile")),
                method("phone", None, Some("alternateMobile")),
                method("phone", None, Some("office")),
            ],
            Some("voiceMobile"),
            "enabled",
        ),
        special(
            "all.methods@contoso.onmicrosoft.com",
            "Member",
            vec![
                method("microsoftAuthenticator", None, None),
                method("phone", None, Some("mobile")),
                method("phone", None, Some("alternateMobile")),
                method("softwareOath", None, None),
                method("hardwareOath", None, None),
                method("fido2", None, None),
                method("windowsHelloForBusiness", None, None),
                method("email", None, None),
                method("temporaryAccessPass", None, None),
                method("platformCredential", None, None),
            ],
            Some("push"),
            "enforced",
        ),
        special(
            "no.methods@contoso.onmicrosoft.com",
            "Member",
            vec![],
            None,
            "disabled",
        ),
    ]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/tenant.json");
    let text = serde_json::to_string_pretty(&c.to_tenant_json()).unwrap();
    std::fs::write(&path, text + "\n").unwrap();
    assert!(EmulatorConfig::from_tenant_file(&path).is_ok());
}

// ---------------------------------------------------------------- throughput (not a test)

/// Prints items/s for 2,000 batches of 20 GETs over 8 concurrent connections, throttling off,
/// once with a client that parses every answer and once with one that only reads the bytes:
/// `cargo test -q --test it emulator_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn emulator_throughput() {
    let config = EmulatorConfig::generated(1000, 1).no_throttle();
    let env = std::sync::Arc::new(Env::start(config).await);
    for parse in [true, false] {
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..8 {
            let env = env.clone();
            tasks.push(tokio::spawn(async move {
                for b in 0..250 {
                    let items: Vec<Value> = (0..20)
                        .map(|i| {
                            let n = (w * 250 + b + i) % 1000 + 1;
                            get_item(&i.to_string(), &format!("/users/user{n:04}@contoso.onmicrosoft.com/authentication/requirements"))
                        })
                        .collect();
                    let body = serde_json::to_vec(&json!({ "requests": items })).unwrap();
                    let r = env
                        .http
                        .post(env.url("/beta/$batch"))
                        .bearer_auth(&env.token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    let bytes = r.bytes().await.unwrap();
                    if parse {
                        let v: Value = serde_json::from_slice(&bytes).unwrap();
                        assert_eq!(v["responses"].as_array().map(Vec::len), Some(20));
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "emulator throughput (client parses answers: {parse}): {:.0} items/s (40000 items in {secs:.2} s)",
            40_000.0 / secs
        );
    }
}

#[tokio::test]
async fn odd_paths_never_break_the_server() {
    let env = Env::start(tenant()).await;
    for path in [
        "/v1.0",
        "/v1.0/",
        "/beta//",
        "/v1.0/users%C3%A9(x)",
        "/v1.0/users(",
        "/v1.0/users/%FF",
        "/beta/users/a@b.com/authentication/methods/x/y/z",
    ] {
        let r = env.get(path).await;
        let status = r.status().as_u16();
        assert!((400..=501).contains(&status), "{path}: {status}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["code"].is_string(), "{path}");
    }
    let r = env.get(&format!("/v1.0/users/bob@{DOMAIN}")).await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn mixed_depends_on_shapes_fail_the_whole_batch() {
    let env = Env::start(tenant()).await;
    let patch = |id: &str, deps: &[&str]| json!({"id": id, "method": "PATCH", "url": format!("/users/bob@{DOMAIN}/authentication/requirements"), "headers": {"Content-Type": "application/json"}, "body": {"perUserMfaState": "enforced"}, "dependsOn": deps});
    let (s, v) = env
        .batch(
            "beta",
            json!([patch("1", &[]), patch("2", &["1"]), patch("3", &[])]),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["message"],
        "Batch should be either fully sequential or fully parallel."
    );
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
}

#[tokio::test]
async fn serve_runs_on_a_caller_owned_listener_until_its_shutdown_and_shutdown_stops_start() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = mfa_rollout::emulator::serve(listener, tenant(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(served.base_url(), format!("http://{addr}"));
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/_emulator/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    served.shutdown().await;

    // The caller's own shutdown future stops it too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = mfa_rollout::emulator::serve(listener, tenant(), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), served.stopped())
        .await
        .expect("the server stops when its shutdown future completes")
        .unwrap();

    let emu = Emulator::start(tenant()).await.unwrap();
    let base = emu.base_url();
    emu.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(
        fresh
            .get(format!("{base}/_emulator/stats"))
            .send()
            .await
            .is_err()
    );
}

#[test]
fn tenant_files_with_unknown_states_or_fields_are_refused() {
    assert!(
        EmulatorConfig::from_tenant_json(
            r#"{"users": [{"userPrincipalName": "a@b.c", "perUserMfaState": "on"}]}"#
        )
        .is_err()
    );
    assert!(EmulatorConfig::from_tenant_json(r#"{"typo": 1}"#).is_err());
}

#[tokio::test]
async fn plain_requests_get_item_faults_and_latency_too() {
    let env = Env::start(faulty(Faults {
        item_5xx: 1.0,
        latency_ms: 2,
        latency_jitter_ms: 1,
        ..Faults::default()
    }))
    .await;
    let r = env
        .http
        .patch(env.url(&format!(
            "/beta/users/bob@{DOMAIN}/authentication/requirements"
        )))
        .bearer_auth(&env.token)
        .json(&json!({"perUserMfaState": "enforced"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status == 503 || status == 504, "{status}");
    assert!(r.headers().contains_key("request-id"));
    assert_eq!(
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
    assert_eq!(env.emu.stats()["faults"]["item_5xx"], 1);
}

// ---------------------------------------------------------------- issue 12: real tenants

fn many_methods() -> EmulatorConfig {
    let mut c = tenant();
    c.users.push(user(
        &format!("many@{DOMAIN}"),
        "Member",
        vec![
            method("fido2", None, None),
            method("email", None, None),
            method("windowsHelloForBusiness", None, None),
            method("temporaryAccessPass", None, None),
            method("phone", None, Some("mobile")),
            method("externalAuthentication", None, None),
            method("qrCodePin", None, None),
            method("passwordlessMicrosoftAuthenticator", None, None),
        ],
        None,
    ));
    c
}

#[tokio::test]
async fn methods_list_pages_with_a_next_link_that_must_be_followed_whole() {
    let env = Env::start(many_methods()).await;
    let mut url = format!("/users/many@{DOMAIN}/authentication/methods");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let item = env.one("beta", get_item("1", &url)).await;
        assert_eq!(item["status"], 200, "{item}");
        let value = item["body"]["value"].as_array().unwrap();
        assert!(value.len() <= 4, "page size");
        seen.extend(value.iter().map(|m| m["@odata.type"].clone()));
        pages += 1;
        let Some(link) = item["body"]["@odata.nextLink"].as_str() else {
            break;
        };
        let prefix = format!("{}/beta", env.emu.base_url());
        assert!(link.starts_with(&prefix), "{link}");
        // The whole link works as a plain request too.
        let r = env.get(&link[env.emu.base_url().len()..]).await;
        assert_eq!(r.status().as_u16(), 200);
        url = link[prefix.len()..].to_string();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 9, "password + 8");
    // The list takes no query options, and a skip token is bound to its list.
    for query in ["$select=id", "$top=50", "$skiptoken=M000002"] {
        let item = env
            .one(
                "beta",
                get_item(
                    "1",
                    &format!("/users/many@{DOMAIN}/authentication/methods?{query}"),
                ),
            )
            .await;
        assert_eq!(item["status"], 400, "{query}: {item}");
    }
}

#[tokio::test]
async fn methods_the_tool_does_not_delete_are_listed_in_beta_and_their_deletes_refused() {
    let env = Env::start(many_methods()).await;
    let mut config = many_methods();
    config.methods_page_size = 50;
    let env_big = Env::start(config).await;
    let list = |version: &'static str| {
        let env = &env_big;
        async move {
            let item = env
                .one(
                    version,
                    get_item("1", &format!("/users/many@{DOMAIN}/authentication/methods")),
                )
                .await;
            item["body"]["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["@odata.type"].as_str().unwrap().to_string(),
                        m["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let beta = list("beta").await;
    let v1 = list("v1.0").await;
    for t in [
        "#microsoft.graph.externalAuthenticationMethod",
        "#microsoft.graph.qrCodePinAuthenticationMethod",
        "#microsoft.graph.passwordlessMicrosoftAuthenticatorAuthenticationMethod",
    ] {
        assert!(beta.iter().any(|(k, _)| k == t), "{t} in beta");
        assert!(!v1.iter().any(|(k, _)| k == t), "{t} not in v1.0");
    }
    let ext = &beta.iter().find(|(k, _)| k.contains("external")).unwrap().1;
    let item = env
        .one(
            "beta",
            json!({"id": "1", "method": "DELETE", "url": format!("/users/many@{DOMAIN}/authentication/externalAuthenticationMethods/{ext}")}),
        )
        .await;
    assert_eq!(item["status"], 405, "{item}");
}

#[tokio::test]
async fn hardware_oath_unassign_accepts_only_an_object_id() {
    let env = Env::start(tenant()).await;
    let hw = "hhhhhhhh-0000-4000-8000-000000000001";
    let del = |key: String| json!({"id": "1", "method": "DELETE", "url": format!("/users/{key}/authentication/hardwareOathMethods/{hw}")});
    let item = env.one("beta", del(format!("hw@{DOMAIN}"))).await;
    assert_eq!(item["status"], 400, "{item}");
    assert!(
        item["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("object id")
    );
    let id = env.user_state(&format!("hw@{DOMAIN}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The default (oath → hardware here, no software token) goes last: the FIDO2 key first.
    let fido = env
        .one(
            "beta",
            json!({"id": "1", "method": "DELETE", "url": format!("/users/{id}/authentication/fido2Methods/-2_GRUg2-HYz6_1YG4YRAQ2")}),
        )
        .await;
    assert_eq!(fido["status"], 204, "{fido}");
    let item = env.one("beta", del(id)).await;
    assert_eq!(item["status"], 204, "{item}");
}

#[tokio::test]
async fn a_body_must_be_sent_as_application_json_plain_and_in_a_batch() {
    let env = Env::start(tenant()).await;
    let url = env.url(&format!(
        "/beta/users/bob@{DOMAIN}/authentication/requirements"
    ));
    let body = r#"{"perUserMfaState":"enforced"}"#;
    for (content_type, want) in [
        (None, 415),
        (Some("text/plain"), 415),
        (Some("application/jsonx"), 415),
        (Some("application/json; charset=utf-8"), 204),
        (Some("Application/JSON"), 204),
    ] {
        let mut req = env.http.patch(&url).bearer_auth(&env.token).body(body);
        if let Some(c) = content_type {
            req = req.header("Content-Type", c);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{content_type:?}");
    }
    // Inside a batch: the value is checked per item; a body without any Content-Type fails
    // the whole batch, even on a GET.
    let item = env
        .one(
            "beta",
            json!({"id": "1", "method": "PATCH", "url": format!("/users/alice@{DOMAIN}/authentication/requirements"), "headers": {"Content-Type": "text/plain"}, "body": {"perUserMfaState": "enforced"}}),
        )
        .await;
    assert_eq!(item["status"], 415, "{item}");
    assert_eq!(
        env.user_state(&format!("alice@{DOMAIN}"))["perUserMfaState"],
        "disabled"
    );
    let (s, _) = env
        .batch(
            "beta",
            json!([{"id": "1", "method": "GET", "url": format!("/users/alice@{DOMAIN}/authentication/requirements"), "body": {}}]),
        )
        .await;
    assert_eq!(s, 400);
    // The $batch request itself is a request with a body.
    let r = env
        .http
        .post(env.url("/beta/$batch"))
        .bearer_auth(&env.token)
        .header("Content-Type", "text/plain")
        .body(r#"{"requests":[{"id":"1","method":"GET","url":"/users/bob@contoso.onmicrosoft.com/authentication/requirements"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
}

/// The state bob ends with after one batch of `n` PATCHes, item i writing `states[i % 3]`.
async fn last_writer(env: &Env, serial: bool) -> (String, String) {
    let states = ["enabled", "enforced", "disabled"];
    let n = 12;
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let mut item = write_item(
                &i.to_string(),
                "PATCH",
                &format!("/users/bob@{DOMAIN}/authentication/requirements"),
                json!({"perUserMfaState": states[i % 3]}),
            );
            if serial && i > 0 {
                item["dependsOn"] = json!([(i - 1).to_string()]);
            }
            item
        })
        .collect();
    let (s, v) = env.batch("beta", json!(items)).await;
    assert_eq!(s, 200, "{v}");
    (
        env.user_state(&format!("bob@{DOMAIN}"))["perUserMfaState"]
            .as_str()
            .unwrap()
            .to_string(),
        states[(n - 1) % 3].to_string(),
    )
}

#[tokio::test]
async fn independent_batch_items_run_in_no_fixed_order_and_depends_on_orders_them() {
    let env = Env::start(tenant()).await;
    let mut out_of_order = 0;
    for _ in 0..10 {
        let (ended, last) = last_writer(&env, false).await;
        out_of_order += usize::from(ended != last);
    }
    assert!(
        out_of_order > 0,
        "ten parallel batches all ended with the last item's write"
    );
    for _ in 0..5 {
        let (ended, last) = last_writer(&env, true).await;
        assert_eq!(ended, last, "a serial chain runs in its order");
    }
}

#[tokio::test]
async fn generated_tenants_look_like_real_ones() {
    let config = EmulatorConfig::generated(60, 3);
    let env = Env::start(config.clone()).await;
    let select = "$select=userPrincipalName,userType,mail";
    let read = |key: String| {
        let env = &env;
        async move {
            let item = env
                .one("v1.0", get_item("1", &format!("{key}?{select}")))
                .await;
            assert_eq!(item["status"], 200, "{key}: {item}");
            item["body"].clone()
        }
    };
    // A B2B guest: #EXT# UPN, userType Guest, mail = the home address.
    let guest = read(format!(
        "/users/{}",
        "guest0010_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    ))
    .await;
    assert_eq!(guest["userType"], "Guest");
    assert_eq!(guest["mail"], "guest0010@fabrikam.com");
    // A member whose mail is not the UPN.
    let member = read(format!("/users/user0001@{DOMAIN}")).await;
    assert_eq!(member["userType"], "Member");
    assert_eq!(member["mail"], "user0001@contoso.com");
    // An upper-case UPN, an apostrophe, a UPN starting with '$'.
    let upper = read(format!("/users/user0003@{DOMAIN}")).await;
    assert_eq!(
        upper["userPrincipalName"],
        format!("USER0003@{}", DOMAIN.to_uppercase())
    );
    read(format!("/users('o''user0006@{DOMAIN}')")).await;
    read(format!("/users('$user0009@{DOMAIN}')")).await;
    // Methods the tool does not delete.
    let holders: Vec<&UserSpec> = config
        .users
        .iter()
        .filter(|u| u.methods.iter().any(|m| m.kind == "externalAuthentication"))
        .collect();
    assert!(!holders.is_empty());
    let id = holders[0].id.clone().unwrap();
    let mut url = format!("/users/{id}/authentication/methods");
    let mut types = Vec::new();
    loop {
        let item = env.one("beta", get_item("1", &url)).await;
        types.extend(
            item["body"]["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["@odata.type"].as_str().unwrap().to_string()),
        );
        match item["body"]["@odata.nextLink"].as_str() {
            Some(link) => url = link[format!("{}/beta", env.emu.base_url()).len()..].to_string(),
            None => break,
        }
    }
    assert!(
        types.contains(&"#microsoft.graph.externalAuthenticationMethod".to_string()),
        "{types:?}"
    );
}
