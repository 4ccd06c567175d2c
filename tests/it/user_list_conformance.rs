//! Conformance of the emulator's `GET /users` list route to docs/graph.md §9.2: each test
//! starts an emulator on 127.0.0.1:0, talks real HTTP with reqwest (plain requests and
//! `$batch` items, v1.0 and beta), and asserts the exact status, error code and body fields.

use mfa_rollout::emulator::{Emulator, EmulatorConfig, EmulatorHandle, UserSpec};
use serde_json::{Value, json};

use crate::util::{client_credentials_token, mail_user};

const DOMAIN: &str = "contoso.onmicrosoft.com";

/// 250 plain members (more than two default pages), a member with an alias, a guest and a
/// disabled account.
fn tenant() -> EmulatorConfig {
    let mut users: Vec<UserSpec> = (1..=250)
        .map(|i| mail_user(&format!("m{i:03}@{DOMAIN}"), "Member", None, &[]))
        .collect();
    users.push(mail_user(
        &format!("annl@{DOMAIN}"),
        "Member",
        Some("Ann.Lee@contoso.com"),
        &["SMTP:Ann.Lee@contoso.com", "smtp:ann@contoso.com"],
    ));
    users.push(mail_user(
        "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "Guest",
        Some("carol@fabrikam.com"),
        &[],
    ));
    let mut off = mail_user(&format!("off@{DOMAIN}"), "Member", None, &[]);
    off.account_enabled = false;
    users.push(off);
    EmulatorConfig {
        users,
        seed: 5,
        ..EmulatorConfig::default()
    }
    .no_throttle()
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

    /// A plain GET of `url` (absolute, or a path under the emulator).
    async fn get(&self, url: &str) -> (u16, Value) {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.emu.base_url())
        };
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// One GET item through a `$batch` of `version`.
    async fn batched(&self, version: &str, url: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/{version}/$batch", self.emu.base_url()))
            .bearer_auth(&self.token)
            .json(&json!({"requests": [{"id": "1", "method": "GET", "url": url}]}))
            .send()
            .await
            .expect("batch sent");
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.expect("batch json");
        body["responses"][0].clone()
    }
}

fn upns(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .expect("value list")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn listing_users_needs_a_user_read_all_class_permission() {
    let without = || tenant().withhold_permission("User.Read.All");
    let env = Env::start(without()).await;
    let (status, body) = env.get("/v1.0/users").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
    // User.ReadBasic.All reads basic profiles, but listing with filters is not modelled for it.
    let env = Env::start(without().grant_permission("User.ReadBasic.All")).await;
    let (status, _) = env.get("/v1.0/users?$select=id").await;
    assert_eq!(status, 403);
    for permission in ["Directory.Read.All", "User.ReadWrite.All"] {
        let env = Env::start(without().grant_permission(permission)).await;
        let (status, _) = env.get("/v1.0/users?$top=1").await;
        assert_eq!(status, 200, "{permission}");
    }
}

#[tokio::test]
async fn pages_default_to_100_and_next_links_lead_through_every_user_once() {
    let env = Env::start(tenant()).await;
    let (status, first) = env.get("/v1.0/users?$select=id").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["value"].as_array().unwrap().len(), 100);
    let mut ids: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        for u in page["value"].as_array().unwrap() {
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        let Some(next) = page["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(next.contains("$skiptoken="), "{next}");
        let (status, body) = env.get(next).await;
        assert_eq!(status, 200, "{body}");
        page = body;
    }
    assert_eq!(ids.len(), 253);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 253);
}

#[tokio::test]
async fn top_is_1_to_999_and_anything_else_is_400() {
    let env = Env::start(tenant()).await;
    let (status, body) = env.get("/beta/users?$top=999&$select=id").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 253);
    assert!(body.get("@odata.nextLink").is_none());
    for bad in ["0", "1000", "abc"] {
        let (status, body) = env.get(&format!("/v1.0/users?$top={bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (_, body) = env.get("/v1.0/users?$top=1000").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Must be between 1 and 999 inclusive"),
        "{body}"
    );
}

#[tokio::test]
async fn select_returns_exactly_what_it_names_and_the_default_set_has_no_user_type() {
    let env = Env::start(tenant()).await;
    let (_, body) = env
        .get("/v1.0/users?$filter=userType%20eq%20'Guest'&$select=id,userType,mail")
        .await;
    let users = body["value"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    let mut keys: Vec<&String> = users[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "mail", "userType"]);
    assert_eq!(users[0]["mail"], "carol@fabrikam.com");
    let (_, body) = env.get("/beta/users?$top=1").await;
    let first = body["value"][0].as_object().unwrap();
    assert!(first.contains_key("userPrincipalName") && first.contains_key("mail"));
    assert!(!first.contains_key("userType") && !first.contains_key("accountEnabled"));
    let (status, body) = env.get("/v1.0/users?$select=id,shoeSize").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );
    let (status, _) = env.get("/v1.0/users?$select=id,skills").await;
    assert_eq!(status, 501);
}

#[tokio::test]
async fn the_documented_default_filters_find_their_users_in_plain_requests_and_batches() {
    let env = Env::start(tenant()).await;
    for (version, url, expected) in [
        (
            "v1.0",
            "/users?$filter=mail%20eq%20'ann.lee@CONTOSO.com'&$select=id,userPrincipalName",
            vec![format!("annl@{DOMAIN}")],
        ),
        (
            "beta",
            "/users?$filter=proxyAddresses/any(p:p%20eq%20'smtp:ann@contoso.com')&$select=userPrincipalName",
            vec![format!("annl@{DOMAIN}")],
        ),
        (
            "beta",
            "/users?$filter=userPrincipalName%20eq%20'carol_fabrikam.com%23EXT%23@contoso.onmicrosoft.com'&$select=userPrincipalName",
            vec!["carol_fabrikam.com#EXT#@contoso.onmicrosoft.com".to_string()],
        ),
        (
            "v1.0",
            "/users?$filter=accountEnabled%20eq%20false&$select=userPrincipalName",
            vec![format!("off@{DOMAIN}")],
        ),
        (
            "v1.0",
            "/users?$filter=mail%20eq%20'nobody@contoso.com'&$select=id",
            vec![],
        ),
    ] {
        let (status, plain) = env.get(&format!("/{version}{url}")).await;
        assert_eq!(status, 200, "{url}: {plain}");
        assert_eq!(upns(&plain), expected, "{url}");
        let item = env.batched(version, url).await;
        assert_eq!(item["status"], 200, "{url}: {item}");
        assert_eq!(upns(&item["body"]), expected, "{url} in a batch");
    }
    // `SMTP:` is the primary address; `smtp:` names the secondary ones only.
    let (_, body) = env
        .get("/v1.0/users?$filter=proxyAddresses/any(p:p%20eq%20'smtp:ann.lee@contoso.com')&$select=id")
        .await;
    assert!(
        upns(&body).iter().all(String::is_empty) && body["value"].as_array().unwrap().is_empty()
    );
}

#[tokio::test]
async fn filters_graph_refuses_without_advanced_query_parameters_are_400() {
    let env = Env::start(tenant()).await;
    for (filter, code) in [
        ("mail%20ne%20'a@contoso.com'", "Request_UnsupportedQuery"),
        ("endsWith(mail,'@contoso.com')", "Request_UnsupportedQuery"),
        ("mail%20eq%20null", "Request_UnsupportedQuery"),
        (
            "not(accountEnabled%20eq%20true)",
            "Request_UnsupportedQuery",
        ),
        ("mail%20eq%20'unterminated", "BadRequest"),
        ("shoeSize%20eq%20'9'", "BadRequest"),
    ] {
        let (status, body) = env.get(&format!("/v1.0/users?$filter={filter}")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{filter}: {body}"
        );
        let item = env
            .batched("beta", &format!("/users?$filter={filter}"))
            .await;
        assert_eq!(
            (
                item["status"].as_u64(),
                item["body"]["error"]["code"].as_str()
            ),
            (Some(400), Some(code)),
            "{filter} in a batch"
        );
    }
}
