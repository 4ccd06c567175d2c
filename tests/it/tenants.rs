//! Many tenants behind one base URL (issue 20, docs/graph.md §14): the emulator's login picks
//! the tenant by id or domain, a token's `tid` picks the directory Graph serves, a tenant
//! without consent refuses sign-in with AADSTS7000229, and each tenant keeps its own quota and
//! stats.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_rollout::emulator::{Emulator, EmulatorConfig, EmulatorHandle, TenantSpec, UserSpec};
use serde_json::{Value, json};

const FABRIKAM: &str = "00000000-0000-4000-8000-0000000fab01";
const FABRIKAM_DOMAIN: &str = "fabrikam.onmicrosoft.com";
const NORTHWIND: &str = "00000000-0000-4000-8000-00000000a0a7";
const NORTHWIND_DOMAIN: &str = "northwind.onmicrosoft.com";

fn user(upn: &str) -> UserSpec {
    UserSpec {
        upn: upn.to_string(),
        ..UserSpec::default()
    }
}

/// Contoso (the top level) with alice; Fabrikam with bob and a user whose UPN is also in
/// Contoso's; Northwind without consent.
fn three_tenants() -> EmulatorConfig {
    let mut contoso = EmulatorConfig {
        users: vec![
            user("alice@contoso.onmicrosoft.com"),
            user("shared@contoso.onmicrosoft.com"),
        ],
        ..EmulatorConfig::default()
    };
    // The same UPN in two directories: only the token says which one a request changes.
    let fabrikam = TenantSpec::new(
        FABRIKAM,
        FABRIKAM_DOMAIN,
        vec![
            user("bob@fabrikam.onmicrosoft.com"),
            user("shared@contoso.onmicrosoft.com"),
        ],
    );
    let mut northwind = TenantSpec::new(
        NORTHWIND,
        NORTHWIND_DOMAIN,
        vec![user("carol@northwind.onmicrosoft.com")],
    );
    northwind.consented = false;
    contoso.tenants = vec![fabrikam, northwind];
    contoso
}

async fn sign_in(emu: &EmulatorHandle, tenant: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emu.client_id()),
            ("client_secret", &emu.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn token(emu: &EmulatorHandle, tenant: &str) -> String {
    let (status, body) = sign_in(emu, tenant).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn tid(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    claims["tid"].clone()
}

async fn set_state(emu: &EmulatorHandle, token: &str, upn: &str, state: &str) -> u16 {
    reqwest::Client::new()
        .patch(format!(
            "{}/beta/users/{upn}/authentication/requirements",
            emu.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({ "perUserMfaState": state }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn state_of(users: &Value, upn: &str) -> String {
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["upn"] == upn)
        .map(|u| u["perUserMfaState"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {upn}"))
}

#[tokio::test]
async fn each_tenant_signs_in_by_id_or_domain_and_its_token_carries_its_tid() {
    let emu = Emulator::start(three_tenants()).await.unwrap();
    assert_eq!(
        emu.tenant_ids(),
        [emu.tenant_id().as_str(), FABRIKAM, NORTHWIND]
    );
    for (path, want) in [
        (emu.tenant_id(), emu.tenant_id()),
        ("contoso.onmicrosoft.com".to_string(), emu.tenant_id()),
        (FABRIKAM.to_string(), FABRIKAM.to_string()),
        (FABRIKAM_DOMAIN.to_uppercase(), FABRIKAM.to_string()),
    ] {
        assert_eq!(tid(&token(&emu, &path).await), want, "{path}");
    }
    let contoso_grants = emu.stats()["token_grants"].as_u64().unwrap();
    let fabrikam_grants = emu.tenant_stats(FABRIKAM_DOMAIN).unwrap()["token_grants"].clone();
    assert_eq!((contoso_grants, fabrikam_grants), (2, json!(2)));
}

#[tokio::test]
async fn a_tenant_without_consent_refuses_sign_in_with_missing_service_principal() {
    let emu = Emulator::start(three_tenants()).await.unwrap();
    for path in [NORTHWIND, NORTHWIND_DOMAIN] {
        let (status, body) = sign_in(&emu, path).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000229]));
        let text = body["error_description"].as_str().unwrap();
        assert!(text.starts_with("AADSTS7000229: "), "{text}");
        assert!(
            text.contains(NORTHWIND) && text.contains(&emu.client_id()),
            "{text}"
        );
    }
    assert_eq!(
        emu.tenant_stats(NORTHWIND).unwrap()["token_failures"],
        json!(2)
    );
    // A tenant nobody serves is still AADSTS90002.
    let (status, body) = sign_in(&emu, "nowhere.onmicrosoft.com").await;
    assert_eq!((status, body["error_codes"].clone()), (400, json!([90002])));
}

#[tokio::test]
async fn graph_serves_the_directory_of_the_tokens_tenant() {
    let emu = Emulator::start(three_tenants()).await.unwrap();
    let contoso = token(&emu, &emu.tenant_id()).await;
    let fabrikam = token(&emu, FABRIKAM).await;
    let upn = "shared@contoso.onmicrosoft.com";
    assert_eq!(set_state(&emu, &fabrikam, upn, "enforced").await, 204);
    assert_eq!(
        state_of(&emu.tenant_users(FABRIKAM).unwrap(), upn),
        "enforced"
    );
    assert_eq!(state_of(&emu.users(), upn), "disabled", "Contoso untouched");
    // Each directory holds only its own users.
    let bob = "bob@fabrikam.onmicrosoft.com";
    assert_eq!(set_state(&emu, &contoso, bob, "enforced").await, 404);
    assert_eq!(set_state(&emu, &fabrikam, bob, "enabled").await, 204);
    let fabrikam_stats = emu.tenant_stats(FABRIKAM).unwrap();
    assert_eq!(
        fabrikam_stats["writes_per_user"].as_object().unwrap().len(),
        2
    );
    assert_eq!(fabrikam_stats["authorized_requests"], json!(2));
    assert_eq!(emu.stats()["authorized_requests"], json!(1));
    assert_eq!(emu.stats()["users_written"], json!(0));
    let over_http: Value = reqwest::get(format!(
        "{}/_emulator/tenants/{FABRIKAM_DOMAIN}/users",
        emu.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(over_http, emu.tenant_users(FABRIKAM).unwrap());
    // A saved state keeps every tenant as it is now.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    emu.save_state(&path).unwrap();
    let again = Emulator::start(EmulatorConfig::from_tenant_file(&path).unwrap())
        .await
        .unwrap();
    assert_eq!(
        state_of(&again.tenant_users(FABRIKAM).unwrap(), bob),
        "enabled"
    );
    assert_eq!(state_of(&again.users(), upn), "disabled");
    assert_eq!(again.tenant_ids(), emu.tenant_ids());
}

#[tokio::test]
async fn each_tenant_has_its_own_write_bucket() {
    let mut config = three_tenants();
    config.quotas.writes_per_150s = 2.0;
    config.tenants[0].quotas = Some(config.quotas.clone());
    let emu = Emulator::start(config).await.unwrap();
    let contoso = token(&emu, &emu.tenant_id()).await;
    let fabrikam = token(&emu, FABRIKAM).await;
    let alice = "alice@contoso.onmicrosoft.com";
    let shared = "shared@contoso.onmicrosoft.com";
    let mut contoso_statuses = Vec::new();
    for state in ["enforced", "disabled", "enforced"] {
        contoso_statuses.push(set_state(&emu, &contoso, alice, state).await);
    }
    assert_eq!(contoso_statuses, [204, 204, 429]);
    // Contoso's bucket is empty; Fabrikam's is full.
    assert_eq!(set_state(&emu, &fabrikam, shared, "enforced").await, 204);
    assert_eq!(set_state(&emu, &fabrikam, shared, "disabled").await, 204);
    assert_eq!(emu.tenant_stats(FABRIKAM).unwrap()["throttled"], json!(0));
    assert_eq!(emu.stats()["throttled"], json!(1));
}

#[test]
fn tenant_files_name_each_tenant_once_and_read_back_their_tenants() {
    let text = r#"{"users":[{"userPrincipalName":"a@contoso.onmicrosoft.com"}],
        "tenants":[{"tenant_id":"00000000-0000-4000-8000-0000000fab01",
                    "domain":"fabrikam.onmicrosoft.com","consented":false,
                    "quotas":{"writes_per_150s":30},
                    "users":[{"userPrincipalName":"b@fabrikam.onmicrosoft.com",
                              "methods":[{"type":"email"}]}]}]}"#;
    let c = EmulatorConfig::from_tenant_json(text).unwrap();
    assert_eq!(c.tenants.len(), 1);
    assert!(c.consented && !c.tenants[0].consented);
    let back = EmulatorConfig::from_tenant_json(&c.to_tenant_json().to_string()).unwrap();
    assert_eq!(back.tenants[0].users[0].upn, "b@fabrikam.onmicrosoft.com");
    assert!(
        back.tenants[0].users[0].methods[0].id.is_some(),
        "saved with ids"
    );
    assert_eq!(back.tenants[0].quotas, c.tenants[0].quotas);
    for (bad, want) in [
        (text.replace("0000000fab01", "00000000a11c"), "served twice"),
        (
            text.replace(
                "fabrikam.onmicrosoft.com\",\"consented",
                "contoso.onmicrosoft.com\",\"consented",
            ),
            "served twice",
        ),
        (text.replace("0000000fab01", "nope"), "not a GUID"),
        (
            text.replace("b@fabrikam.onmicrosoft.com", "not-a-upn"),
            "tenants[0]",
        ),
    ] {
        let e = EmulatorConfig::from_tenant_json(&bad).unwrap_err();
        assert!(e.contains(want), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
