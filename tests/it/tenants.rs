//! Many tenants behind one base URL (issue 20, docs/graph.md §14): the emulator's login picks
//! the tenant by id or domain, a token's `tid` picks the directory Graph serves, a tenant
//! without consent refuses sign-in with AADSTS7000229, and each tenant keeps its own quota and
//! stats; and rollouts over five tenants, with tenants that stop alone and resume.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_rollout::emulator::{
    AppQuotas, Emulator, EmulatorConfig, EmulatorHandle, Faults, TenantSpec, UserSpec,
};
use mfa_rollout::journal::Status;
use serde_json::{Value, json};

use crate::util::{Env, Invocation, results};

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
    crate::util::token_request(emu, &reqwest::Client::new(), tenant).await
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

// ------------------------------------------------------------ rollouts over many tenants

const TENANT_IDS: [&str; 5] = [
    "00000000-0000-4000-8000-00000000a11c",
    "00000000-0000-4000-8000-0000000fab01",
    "00000000-0000-4000-8000-00000000a0a7",
    "00000000-0000-4000-8000-00000000b0b0",
    "00000000-0000-4000-8000-00000000c0c0",
];
const DOMAINS: [&str; 5] = [
    "contoso.onmicrosoft.com",
    "fabrikam.onmicrosoft.com",
    "northwind.onmicrosoft.com",
    "adatum.onmicrosoft.com",
    "litware.onmicrosoft.com",
];
/// A UPN every tenant holds (a guest account, say): only the token says whose it is.
const EVERYWHERE: &str = "helpdesk@msp.example";

/// Tenant `t`'s users: `n` of its own and the one every tenant holds.
fn users_of(t: usize, n: usize) -> Vec<UserSpec> {
    (0..n)
        .map(|i| user(&format!("user{i:03}@{}", DOMAINS[t])))
        .chain(std::iter::once(user(EVERYWHERE)))
        .collect()
}

/// Five tenants of `n` users each (plus [`EVERYWHERE`]); `tweak` sets up tenant `t` (1..5).
fn five_tenants(n: usize, tweak: impl Fn(usize, &mut TenantSpec)) -> EmulatorConfig {
    let mut c = EmulatorConfig {
        users: users_of(0, n),
        ..EmulatorConfig::default()
    };
    for t in 1..5 {
        let mut spec = TenantSpec::new(TENANT_IDS[t], DOMAINS[t], users_of(t, n));
        tweak(t, &mut spec);
        c.tenants.push(spec);
    }
    c
}

/// The action tenant `t` gives user `i` (the shared user is `i == n`): each tenant its own
/// pattern, so a row done in the wrong tenant shows.
fn action_for(t: usize, i: usize) -> &'static str {
    match (t + i) % 3 {
        0 => "enforce",
        1 => "enable",
        _ => "disable",
    }
}

/// Each row names its tenant by domain for even tenants, by id for odd ones, in a header
/// spelled as admins spell it.
fn msp_csv(n: usize) -> String {
    let mut s = String::from("Tenant ID,userPrincipalName,action\n");
    for i in 0..=n {
        for t in 0..5 {
            let tenant = if t % 2 == 0 {
                DOMAINS[t]
            } else {
                TENANT_IDS[t]
            };
            let upn = if i == n {
                EVERYWHERE.to_string()
            } else {
                format!("user{i:03}@{}", DOMAINS[t])
            };
            s.push_str(&format!("{tenant},{upn},{}\n", action_for(t, i)));
        }
    }
    s
}

fn state_for(action: &str) -> &'static str {
    match action {
        "enforce" => "enforced",
        "enable" => "enabled",
        _ => "disabled",
    }
}

/// Every user of tenant `t` holds the state its rows asked for, and each changed user was
/// written exactly once; the tenant's Graph requests all carried its own `tid`.
fn assert_tenant_done(env: &Env, t: usize, n: usize) {
    let users = env.emu.tenant_users(TENANT_IDS[t]).unwrap();
    let users = users["users"].as_array().unwrap();
    assert_eq!(users.len(), n + 1);
    for (i, u) in users.iter().enumerate() {
        let want = state_for(action_for(t, i));
        assert_eq!(u["perUserMfaState"], want, "tenant {t}: {}", u["upn"]);
        let written = u64::from(want != "disabled");
        assert_eq!(
            u["writes"], written,
            "tenant {t}: {} written once",
            u["upn"]
        );
    }
    let stats = env.emu.tenant_stats(TENANT_IDS[t]).unwrap();
    assert!(
        stats["authorized_requests"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(stats["unauthorized"], 0, "{stats}");
}

#[test]
fn a_five_tenant_rollout_leaves_each_tenant_exactly_as_its_rows_say() {
    let n = 24;
    let env = Env::start(five_tenants(n, |_, _| {}));
    let input = env.write("msp.csv", &msp_csv(n));
    let out = env.path("results.csv");
    let done = env.apply(&input).results(&out).arg("--json").expect_exit(0);
    for t in 0..5 {
        assert_tenant_done(&env, t, n);
    }
    let records = results(&out);
    assert_eq!(records.len(), 5 * (n + 1));
    for r in &records {
        assert!(
            matches!(r.status, Status::Applied | Status::Unchanged),
            "{r:?}"
        );
    }
    // The results name each row's tenant as the input did (lowercased), after the fixed ones.
    let header = std::fs::read_to_string(&out).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.ends_with(",finished_at,tenant"), "{header}");
    assert_eq!(records[1].extra, [TENANT_IDS[1]]);
    assert_eq!(records[2].extra, [DOMAINS[2]]);
    let summary: Value = serde_json::from_str(&done.stdout).unwrap();
    let tenants = summary["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 5);
    for line in tenants {
        assert_eq!(line["finished"], true, "{line}");
        assert_eq!(line["rows"], n as u64 + 1, "{line}");
        assert!(line["writes_per_second"].as_f64().unwrap() > 0.0, "{line}");
    }
    assert_eq!(summary["rows"], 5 * (n as u64 + 1));

    // Rollback undoes each change in its own tenant.
    let undo = env.path("undo.csv");
    Invocation::from(env.rollback(&out, &undo)).expect_exit(0);
    let text = std::fs::read_to_string(&undo).unwrap();
    assert!(
        text.starts_with("user,action,tenant,undoes_row\n"),
        "{text}"
    );
    env.apply(&undo)
        .results(&env.path("undone.csv"))
        .expect_exit(0);
    for id in TENANT_IDS {
        let users = env.emu.tenant_users(id).unwrap();
        for u in users["users"].as_array().unwrap() {
            assert_eq!(u["perUserMfaState"], "disabled", "tenant {id}: {u}");
        }
    }
}

#[test]
fn a_tenant_without_consent_and_one_in_outage_stop_alone_and_resume_completes_them() {
    let n = 40;
    // Tenant 2 never consented; tenant 4 answers every batch 503. Nothing in a 503 batch runs.
    let config = five_tenants(n, |t, spec| match t {
        2 => spec.consented = false,
        4 => {
            spec.faults = Some(Faults {
                batch_503: 1.0,
                retry_after_secs: Some(0.05),
                ..Faults::default()
            });
        }
        _ => {}
    });
    let env = Env::start(config.clone());
    let input = env.write("msp.csv", &msp_csv(n));
    let out = env.path("results.csv");
    // Some tenants did not finish: exit 5, each named with its reason.
    let partial = env
        .apply(&input)
        .results(&out)
        .args(&["--max-attempts", "2", "--json"])
        .expect_exit(5)
        .stderr_has("AADSTS7000229")
        .stderr_has("circuit breaker");
    for t in [0, 1, 3] {
        assert_tenant_done(&env, t, n);
    }
    let summary: Value = serde_json::from_str(&partial.stdout).unwrap();
    let line = |t: usize| -> Value {
        let name = if t % 2 == 0 {
            DOMAINS[t]
        } else {
            TENANT_IDS[t]
        };
        summary["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["tenant"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no line for tenant {t}: {summary}"))
    };
    assert_eq!(line(0)["finished"], true);
    assert!(
        line(2)["stop_reason"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000229")
    );
    assert!(
        line(4)["stop_reason"]
            .as_str()
            .unwrap()
            .contains("circuit breaker")
    );
    // The stopped tenants' rows are not in the results: --resume does them.
    let records = results(&out);
    assert_eq!(records.len(), 3 * (n + 1));
    for r in &records {
        assert!(
            ![DOMAINS[2], TENANT_IDS[4]].contains(&r.extra[0].as_str()),
            "{r:?}"
        );
    }

    // The customer consents, the outage ends: the same tenants as they are now.
    let mut fixed = env.emu.current_state();
    fixed.tenants[1].consented = true;
    fixed.tenants[3].faults = None;
    let later = Env::start(fixed);
    later
        .apply(&input)
        .results(&out)
        .arg("--resume")
        .expect_exit(0);
    for t in [2, 4] {
        assert_tenant_done(&later, t, n);
    }
    for t in [0, 1, 3] {
        let stats = later.emu.tenant_stats(TENANT_IDS[t]).unwrap();
        assert_eq!(stats["writes"], 0, "tenant {t} was done before: {stats}");
    }
    assert_eq!(results(&out).len(), 5 * (n + 1));
}

#[test]
fn tenants_over_the_apps_all_tenants_write_limit_share_it_without_a_429_storm() {
    let n = 600;
    // ×10: each tenant's own write limit is 200/s, its buckets full, so they do not bind;
    // the app's limit across all tenants is 400/s (12,000 per 5 min ×10), its bucket empty at
    // the start. Five tenants whose own budgets (194/s each) sum to more than twice it.
    let mut config = five_tenants(n, |_, _| {}).quota_scale(10.0);
    config.app_quotas = AppQuotas {
        writes_per_5min: 12_000.0,
        initial_fill: 0.0,
        ..AppQuotas::default()
    };
    let env = Env::start(config);
    let input = env.write("msp.csv", &msp_csv(n));
    let out = env.path("results.csv");
    let done = env
        .apply(&input)
        .results(&out)
        .args(&["--quota-scale", "10", "--app-write-rate", "388", "--json"])
        .expect_exit(0);
    let summary: Value = serde_json::from_str(&done.stdout).unwrap();
    let mut writes = 0;
    for (t, id) in TENANT_IDS.iter().enumerate() {
        assert_tenant_done(&env, t, n);
        let stats = env.emu.tenant_stats(id).unwrap();
        let (items, throttled) = (
            stats["items"].as_u64().unwrap(),
            stats["throttled"].as_u64().unwrap(),
        );
        assert!(
            throttled * 100 <= items,
            "tenant {t}: {throttled} of {items} items answered 429"
        );
        writes += stats["writes"].as_u64().unwrap();
    }
    // Together at about the app's rate: Graph's bucket refills 400 a second.
    let elapsed = summary["elapsed_seconds"].as_f64().unwrap();
    let rate = writes as f64 / elapsed;
    assert!(
        (240.0..=400.0).contains(&rate),
        "{writes} writes in {elapsed} s: {rate}/s"
    );
}

#[test]
fn tenant_cells_are_checked_before_anything_is_sent() {
    let env = Env::start(five_tenants(1, |_, _| {}));
    let input = env.write(
        "msp.csv",
        "tenant,upn,action\ncontoso,user000@contoso.onmicrosoft.com,enforce\n,user000@fabrikam.onmicrosoft.com,enforce\n",
    );
    let out = env.path("results.csv");
    env.apply(&input)
        .results(&out)
        .expect_exit(2)
        .stderr_has("row 2, column 'tenant': 'contoso' is not a tenant");
    assert_eq!(env.emu.stats()["requests"], 0);
    assert!(!out.exists());
}

#[test]
fn an_excluded_account_is_protected_in_every_tenant() {
    let n = 3;
    let env = Env::start(five_tenants(n, |_, _| {}));
    let input = env.write("msp.csv", &msp_csv(n));
    let out = env.path("results.csv");
    env.apply(&input)
        .results(&out)
        .args(&["--exclude-user", EVERYWHERE])
        .expect_exit(0);
    for id in TENANT_IDS {
        let users = env.emu.tenant_users(id).unwrap();
        for u in users["users"].as_array().unwrap() {
            if u["upn"] == EVERYWHERE {
                assert_eq!(u["perUserMfaState"], "disabled", "tenant {id}: {u}");
                assert_eq!(u["writes"], 0, "tenant {id}: {u}");
            }
        }
    }
    let protected: Vec<_> = results(&out)
        .into_iter()
        .filter(|r| r.user == EVERYWHERE)
        .collect();
    assert_eq!(protected.len(), 5);
    for r in &protected {
        assert_ne!(r.status, Status::Applied, "{r:?}");
    }
}

#[test]
fn app_sign_in_needs_no_tenant_id_when_every_row_names_its_tenant() {
    let n = 3;
    let pfx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pfx");
    // The one app's secret, then its certificate, each against every row's own tenant.
    for mode in ["secret", "certificate"] {
        let mut config = five_tenants(n, |_, _| {});
        config.certificates = vec![std::fs::read_to_string(pfx.join("cert.pem")).unwrap()];
        let env = Env::start(config);
        let input = env.write("msp.csv", &msp_csv(n));
        let out = env.path("results.csv");
        let mut run = env
            .apply(&input)
            .results(&out)
            .env_remove("AZURE_TENANT_ID")
            .labelled(mode);
        if mode == "certificate" {
            run = run
                .env_remove("AZURE_CLIENT_SECRET")
                .env("AZURE_CLIENT_CERTIFICATE_PATH", pfx.join("nopass.pfx"));
        }
        run.expect_exit(0);
        for t in 0..5 {
            assert_tenant_done(&env, t, n);
        }
        assert_eq!(results(&out).len(), 5 * (n + 1), "{mode}");
    }
}

#[test]
fn a_row_without_a_tenant_and_no_tenant_id_is_refused_naming_the_row_and_column() {
    let env = Env::start(five_tenants(1, |_, _| {}));
    let input = env.write(
        "msp.csv",
        "tenant,upn,action\ncontoso.onmicrosoft.com,user000@contoso.onmicrosoft.com,enforce\n,user000@fabrikam.onmicrosoft.com,enforce\n",
    );
    let out = env.path("results.csv");
    let refused = env
        .apply(&input)
        .results(&out)
        .env_remove("AZURE_TENANT_ID")
        .expect_exit(2)
        .stderr_has("row 3: column 'tenant' is empty and no --tenant-id");
    assert_eq!(
        refused.stderr.trim().lines().count(),
        1,
        "{}",
        refused.stderr
    );
    assert_eq!(env.emu.stats()["requests"], 0);
    assert!(!out.exists());
    // With --tenant-id the empty cell is that tenant's.
    env.apply(&input)
        .results(&out)
        .env_remove("AZURE_TENANT_ID")
        .args(&["--tenant-id", DOMAINS[1]])
        .expect_exit(0);
    let fabrikam = env.emu.tenant_users(TENANT_IDS[1]).unwrap();
    assert_eq!(
        state_of(&fabrikam, "user000@fabrikam.onmicrosoft.com"),
        "enforced"
    );
}

#[test]
fn a_one_tenant_input_without_a_tenant_id_is_refused_before_anything_is_sent() {
    let env = Env::start(five_tenants(1, |_, _| {}));
    let input = env.write(
        "users.csv",
        "upn,action\nuser000@contoso.onmicrosoft.com,enforce\n",
    );
    let out = env.path("results.csv");
    env.apply(&input)
        .results(&out)
        .env_remove("AZURE_TENANT_ID")
        .expect_exit(3)
        .stderr_has("AZURE_CLIENT_SECRET needs the tenant: pass --tenant-id");
    assert_eq!(env.emu.stats()["requests"], 0);
    assert_eq!(env.emu.stats()["token_grants"], 0);
    assert!(!out.exists());
}

#[test]
fn check_signs_in_to_every_tenant_and_says_which_are_not_ready() {
    // Tenant 2 never consented; tenant 3's admin withheld the state-change permission.
    let config = five_tenants(2, |t, spec| match t {
        2 => spec.consented = false,
        3 => spec.withheld_permissions = vec!["Policy.ReadWrite.AuthenticationMethod".into()],
        _ => {}
    });
    let env = Env::start(config);
    let input = env.write("msp.csv", &msp_csv(2));
    let mut cmd = env.check(Some(&input));
    cmd.env_remove("AZURE_TENANT_ID");
    let out = Invocation::from(cmd)
        .expect_exit(3)
        .stderr_has("2 of 5 tenants not ready");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "one line per tenant: {}", out.stdout);
    for (t, line) in lines.iter().enumerate() {
        let name = if t % 2 == 0 {
            DOMAINS[t]
        } else {
            TENANT_IDS[t]
        };
        assert!(line.starts_with(&format!("tenant {name} ")), "{line}");
        match t {
            2 => assert!(
                line.contains("NOT READY: not signed in:") && line.contains("AADSTS7000229"),
                "{line}"
            ),
            3 => assert!(
                line.contains(
                    "NOT READY: lacks Policy.ReadWrite.AuthenticationMethod (for enable, enforce, disable)"
                ),
                "{line}"
            ),
            _ => assert!(
                line.contains(&format!("ready (tenant {}", TENANT_IDS[t])),
                "{line}"
            ),
        }
    }
    for id in TENANT_IDS {
        let stats = env.emu.tenant_stats(id).unwrap();
        assert_eq!(stats["writes"], 0, "check changes nothing: {stats}");
    }
    // --json: one object per tenant, ready or with its reason.
    let mut cmd = env.check(Some(&input));
    cmd.arg("--json");
    let out = Invocation::from(cmd).expect_exit(3);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let ready: Vec<bool> = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ready"].as_bool().unwrap())
        .collect();
    assert_eq!(ready, [true, true, false, false, true], "{json}");
    assert_eq!(
        json["tenants"][3]["missing"][0]["needs_one_of"][0],
        "Policy.ReadWrite.AuthenticationMethod"
    );
    // Consented, the permission granted: every tenant ready, exit 0.
    let mut fixed = env.emu.current_state();
    fixed.tenants[1].consented = true;
    fixed.tenants[2].withheld_permissions.clear();
    let later = Env::start(fixed);
    let out = Invocation::from(later.check(Some(&input))).expect_exit(0);
    assert_eq!(
        out.stdout.matches(" ready (tenant ").count(),
        5,
        "{}",
        out.stdout
    );
}

// ------------------------------------------------------------ selections over --tenants

/// Tenants 0, 1 and 3 of [`five_tenants`] as a `--tenants` file (one by domain, one by id,
/// one in a different case), each of `n` members plus a guest.
fn three_of_five(n: usize, tweak: impl Fn(usize, &mut TenantSpec)) -> (EmulatorConfig, String) {
    let mut config = five_tenants(n, tweak);
    let guest = |t: usize| UserSpec {
        upn: format!("guest_msp.example#EXT#@{}", DOMAINS[t]),
        user_type: "Guest".into(),
        ..UserSpec::default()
    };
    config.users.push(guest(0));
    for t in 1..5 {
        config.tenants[t - 1].users.push(guest(t));
    }
    let list = format!(
        "# customers\n{}\n{}\n{}\n",
        DOMAINS[0],
        TENANT_IDS[1],
        DOMAINS[3].to_uppercase()
    );
    (config, list)
}

/// Tenant `t`'s members (all but its guest) are enforced, each written once; its guest and
/// every user of a tenant not selected are untouched.
fn assert_members_enforced(env: &Env, t: usize, selected: bool) {
    let users = env.emu.tenant_users(TENANT_IDS[t]).unwrap();
    for u in users["users"].as_array().unwrap() {
        let member = !u["upn"].as_str().unwrap().contains("#EXT#");
        let want = if selected && member {
            "enforced"
        } else {
            "disabled"
        };
        assert_eq!(u["perUserMfaState"], want, "tenant {t}: {u}");
        assert_eq!(
            u["writes"],
            u64::from(want == "enforced"),
            "tenant {t}: {u}"
        );
    }
}

#[test]
fn all_users_over_three_tenants_changes_each_tenants_members_and_no_other_tenant() {
    let n = 6;
    let (config, list) = three_of_five(n, |_, _| {});
    let env = Env::start(config);
    let tenants = env.write("tenants.txt", &list);
    let out = env.path("results.csv");
    let done = env
        .command_with(&["apply", "--all-users", "--action", "enforce"])
        .results(&out)
        .arg("--tenants")
        .arg(&tenants)
        .arg("--json")
        .env_remove("AZURE_TENANT_ID")
        .expect_exit(0);
    for t in 0..5 {
        assert_members_enforced(&env, t, [0, 1, 3].contains(&t));
    }
    // One row per selected member, its tenant first after the fixed columns; each tenant's
    // list beside the results, and the order they are numbered in.
    let records = results(&out);
    assert_eq!(
        records.len(),
        3 * (n + 1),
        "n members and the shared user each"
    );
    let header = std::fs::read_to_string(&out).unwrap();
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .ends_with(",finished_at,tenant,userPrincipalName,displayName"),
        "{header}"
    );
    let keys = [DOMAINS[0], TENANT_IDS[1], DOMAINS[3]];
    for r in &records {
        assert!(keys.contains(&r.extra[0].as_str()), "{r:?}");
        assert_eq!(r.status, Status::Applied, "{r:?}");
    }
    assert_eq!(records[0].extra[0], DOMAINS[0]);
    assert_eq!(records.last().unwrap().extra[0], DOMAINS[3]);
    for key in keys {
        assert!(
            env.path(&format!("results.csv.{key}.users")).exists(),
            "{key}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(env.path("results.csv.tenants")).unwrap(),
        format!("{}\n", keys.join("\n"))
    );
    let summary: Value = serde_json::from_str(&done.stdout).unwrap();
    let lines = summary["tenants"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{summary}");
    for line in lines {
        assert_eq!(line["rows"], n as u64 + 1, "{line}");
        assert_eq!(line["finished"], true, "{line}");
    }
}

#[test]
fn a_tenant_that_cannot_be_selected_stops_alone_and_resume_selects_it_numbering_the_rest_the_same()
{
    let n = 5;
    // Tenant 1 (the second listed) has not consented yet.
    let (config, list) = three_of_five(n, |t, spec| spec.consented = t != 1);
    let env = Env::start(config);
    let tenants = env.write("tenants.txt", &list);
    let out = env.path("results.csv");
    let run = |env: &Env, extra: &[&str]| {
        env.command_with(&["apply", "--all-users", "--action", "enforce"])
            .results(&out)
            .arg("--tenants")
            .arg(&tenants)
            .args(extra)
            .env_remove("AZURE_TENANT_ID")
    };
    run(&env, &[])
        .expect_exit(5)
        .stderr_has(&format!("tenant {}: not signed in", TENANT_IDS[1]))
        .stderr_has("AADSTS7000229");
    assert_members_enforced(&env, 0, true);
    assert_members_enforced(&env, 1, false);
    assert_members_enforced(&env, 3, true);
    let first = results(&out);
    assert_eq!(first.len(), 2 * (n + 1));
    assert!(
        !env.path(&format!("results.csv.{}.users", TENANT_IDS[1]))
            .exists()
    );

    // Consented now: --resume selects it, after the tenants listed before.
    let mut fixed = env.emu.current_state();
    fixed.tenants[0].consented = true;
    let later = Env::start(fixed);
    // Guests too is not the first run's selection (members): refused, naming both, before
    // any sign-in or read.
    run(&later, &["--resume", "--include-guests"])
        .expect_exit(2)
        .stderr_has(&format!(
            "results.csv.{}.users lists the users selected with --all-users, not --all-users --include-guests",
            DOMAINS[0]
        ));
    assert_eq!(later.emu.stats()["requests"], 0);
    assert_eq!(later.emu.stats()["token_grants"], 0);
    run(&later, &["--resume"]).expect_exit(0);
    assert_members_enforced(&later, 1, true);
    for t in [0, 3] {
        let stats = later.emu.tenant_stats(TENANT_IDS[t]).unwrap();
        assert_eq!(stats["writes"], 0, "tenant {t} was done before: {stats}");
    }
    let all = results(&out);
    assert_eq!(all.len(), 3 * (n + 1));
    // The rows of the first run keep their numbers; the new tenant's follow them.
    for r in &first {
        let again = all.iter().find(|a| a.row == r.row).unwrap();
        assert_eq!((&again.user, &again.extra), (&r.user, &r.extra));
    }
    assert!(
        all.iter()
            .filter(|r| r.extra[0] == TENANT_IDS[1])
            .all(|r| r.row > 2 * (n as u64 + 1) + 1)
    );
    assert_eq!(
        std::fs::read_to_string(env.path("results.csv.tenants")).unwrap(),
        format!("{}\n{}\n{}\n", DOMAINS[0], DOMAINS[3], TENANT_IDS[1])
    );
}

#[test]
fn a_bad_tenants_file_or_tenants_with_an_input_is_refused_before_anything_is_sent() {
    let (config, _) = three_of_five(1, |_, _| {});
    let env = Env::start(config);
    let out = env.path("results.csv");
    let bad = env.write("tenants.txt", "contoso.onmicrosoft.com\ncontoso\n");
    env.command_with(&["apply", "--all-users", "--action", "enforce"])
        .results(&out)
        .arg("--tenants")
        .arg(&bad)
        .expect_exit(2)
        .stderr_has("line 2: 'contoso' is not a tenant");
    let input = env.write(
        "u.csv",
        "upn,action\nuser000@contoso.onmicrosoft.com,enforce\n",
    );
    env.apply(&input)
        .results(&out)
        .arg("--tenants")
        .arg(&bad)
        .expect_exit(2)
        .stderr_has("--tenants names the tenants of a selection");
    assert_eq!(env.emu.stats()["requests"], 0);
    assert_eq!(env.emu.stats()["token_grants"], 0);
    assert!(!out.exists());
}
