//! Conformance of the emulator's group routes and request costs to docs/graph.md §9.4–§9.5:
//! real HTTP against an emulator on 127.0.0.1:0, plain requests and `$batch` items.

use mfa_rollout::emulator::{Emulator, EmulatorConfig, EmulatorHandle, GroupSpec, UserSpec};
use serde_json::{Value, json};

use crate::util::{client_credentials_token, mail_user};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn upn(i: usize) -> String {
    format!("u{i:03}@{DOMAIN}")
}

fn group(name: &str, members: &[String], nested: &[&str]) -> GroupSpec {
    GroupSpec {
        display_name: name.into(),
        members: members.to_vec(),
        member_groups: nested.iter().map(|n| n.to_string()).collect(),
        ..GroupSpec::default()
    }
}

/// 150 users; `Everyone` holds u001 and the nested `Staff` (u002–u120) and `Leads`
/// (u100–u150, nested in `Staff` too): 150 distinct users through three levels.
fn tenant() -> EmulatorConfig {
    let users: Vec<UserSpec> = (1..=150)
        .map(|i| mail_user(&upn(i), "Member", None, &[]))
        .collect();
    let staff: Vec<String> = (2..=120).map(upn).collect();
    let leads: Vec<String> = (100..=150).map(upn).collect();
    EmulatorConfig {
        users,
        groups: vec![
            group("Everyone", &[upn(1)], &["Staff"]),
            group("Staff", &staff, &["Leads"]),
            group("Leads", &leads, &[]),
            group("Twin", &[], &[]),
            group("Twin", &[], &[]),
        ],
        seed: 9,
        ..EmulatorConfig::default()
    }
    .grant_permission("GroupMember.Read.All")
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

    /// A plain GET; `eventual` adds `ConsistencyLevel: eventual`. Returns the status, the
    /// `x-ms-resource-unit` header and the body.
    async fn get(&self, url: &str, eventual: bool) -> (u16, Option<String>, Value) {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.emu.base_url())
        };
        let mut req = self.http.get(url).bearer_auth(&self.token);
        if eventual {
            req = req.header("ConsistencyLevel", "eventual");
        }
        let r = req.send().await.expect("request sent");
        let status = r.status().as_u16();
        let ru = r
            .headers()
            .get("x-ms-resource-unit")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, ru, r.json().await.unwrap_or(Value::Null))
    }

    async fn group_id(&self, name: &str) -> String {
        let (status, _, body) = self
            .get(
                &format!("/v1.0/groups?$filter=displayName%20eq%20'{name}'&$select=id,displayName"),
                false,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["value"][0]["id"]
            .as_str()
            .expect("a group id")
            .to_string()
    }
}

fn upns(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value array")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn transitive_user_members_come_once_each_through_nested_groups_page_by_page() {
    let env = Env::start(tenant()).await;
    let id = env.group_id("Everyone").await;
    let mut url = format!(
        "/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$count=true&$top=60&$select=id,userPrincipalName"
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, ru, page) = env.get(&url, true).await;
        assert_eq!(status, 200, "{page}");
        // transitiveMembers costs 5, less 1 for $select (docs/graph.md §9.5).
        assert_eq!(ru.as_deref(), Some("4"));
        if pages == 0 {
            assert_eq!(page["@odata.count"], 150);
        } else {
            assert!(
                page.get("@odata.count").is_none(),
                "count on the first page only"
            );
        }
        seen.extend(upns(&page));
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (1..=150).map(upn).collect();
    let mut sorted = seen.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "every user once");
}

#[tokio::test]
async fn a_cast_without_the_advanced_query_parameters_is_refused_on_every_page() {
    let env = Env::start(tenant()).await;
    let id = env.group_id("Staff").await;
    let cast = format!("/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user");
    let (status, _, body) = env.get(&cast, false).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
    let (status, _, _) = env.get(&format!("{cast}?$count=true"), false).await;
    assert_eq!(status, 400, "$count needs the header");
    let (status, _, _) = env.get(&cast, true).await;
    assert_eq!(status, 400, "the header needs $count=true");
    // The next link keeps $count=true but not the header: a client must send it again.
    let (status, _, page) = env.get(&format!("{cast}?$count=true&$top=100"), true).await;
    assert_eq!(status, 200);
    let next = page["@odata.nextLink"].as_str().expect("a second page");
    assert_eq!(env.get(next, false).await.0, 400);
    assert_eq!(env.get(next, true).await.0, 200);
    // Without a cast, transitiveMembers lists directory objects, groups included.
    let (status, _, page) = env
        .get(
            &format!("/v1.0/groups/{id}/transitiveMembers?$top=999"),
            false,
        )
        .await;
    assert_eq!(status, 200);
    let types: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "#microsoft.graph.group")
            .count(),
        1
    );
    assert_eq!(types.len(), 150);
}

#[tokio::test]
async fn groups_are_found_by_display_name_and_id_with_graphs_errors_otherwise() {
    let env = Env::start(tenant()).await;
    let (status, ru, body) = env
        .get("/v1.0/groups?$filter=displayName%20eq%20'twin'", false)
        .await;
    assert_eq!(status, 200);
    assert_eq!(ru.as_deref(), Some("1"));
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        2,
        "names are not unique"
    );
    let id = env.group_id("Leads").await;
    let (status, _, body) = env
        .get(
            &format!("/v1.0/groups/{}?$select=displayName", id.to_uppercase()),
            false,
        )
        .await;
    assert_eq!((status, body["displayName"].as_str()), (200, Some("Leads")));
    let (status, _, body) = env
        .get("/v1.0/groups/00000000-0000-4000-8000-000000000000", false)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let (status, _, body) = env.get("/v1.0/groups/Leads", false).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Request_BadRequest"))
    );
    let (status, _, body) = env
        .get("/v1.0/groups?$filter=startsWith(displayName,'L')", false)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("Request_UnsupportedQuery"))
    );
}

#[tokio::test]
async fn group_reads_need_a_group_permission_and_members_show_limited_information_without_user_read()
 {
    // No group permission at all: 403.
    let env = Env::start(tenant().withhold_permission("GroupMember.Read.All")).await;
    let (status, _, body) = env.get("/v1.0/groups", false).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );
    // Group permission without User.Read.All: members come back, with their id only.
    let env = Env::start(tenant().withhold_permission("User.Read.All")).await;
    let id = env.group_id("Leads").await;
    let (status, _, page) = env
        .get(
            &format!("/v1.0/groups/{id}/members?$select=id,userPrincipalName&$top=999"),
            false,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let first = &page["value"][0];
    assert!(first["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(first["userPrincipalName"], Value::Null);
    assert_eq!(first["@odata.type"], "#microsoft.graph.user");
}

#[tokio::test]
async fn list_requests_cost_their_documented_resource_units_inside_a_batch_too() {
    let env = Env::start(tenant()).await;
    let id = env.group_id("Staff").await;
    let r = env
        .http
        .post(format!("{}/v1.0/$batch", env.emu.base_url()))
        .bearer_auth(&env.token)
        .json(&json!({"requests": [
            {"id": "1", "method": "GET", "url": "/users"},
            {"id": "2", "method": "GET", "url": "/users?$select=id&$top=999"},
            {"id": "3", "method": "GET", "url": format!("/groups/{id}/members")},
            {"id": "4", "method": "GET", "url": format!("/groups/{id}/transitiveMembers/microsoft.graph.user?$count=true"),
             "headers": {"ConsistencyLevel": "eventual"}},
            {"id": "5", "method": "GET", "url": format!("/users/{}", upn(1))}
        ]}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let mut costs: Vec<(String, u16, String)> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["status"].as_u64().unwrap() as u16,
                i["headers"]["x-ms-resource-unit"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    costs.sort();
    let expected: Vec<(String, u16, String)> =
        [("1", "2"), ("2", "1"), ("3", "3"), ("4", "5"), ("5", "1")]
            .iter()
            .map(|(i, c)| (i.to_string(), 200, c.to_string()))
            .collect();
    assert_eq!(costs, expected);
}

#[tokio::test]
async fn a_quota_drawn_by_costly_list_requests_throttles_sooner() {
    // 20 resource units per 10 s: four transitiveMembers pages (5 each) use it up.
    let mut config = tenant();
    config.no_throttle = false;
    config.quotas.resource_units_per_10s = 20.0;
    let env = Env::start(config).await;
    let id = env.group_id("Staff").await; // 1 unit
    let url = format!("/v1.0/groups/{id}/members");
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(env.get(&url, false).await.0);
    }
    // 19 units left: six calls of 3 pass (18), the seventh is throttled.
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429]);
}
