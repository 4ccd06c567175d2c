//! reset-methods against method lists as real tenants hold them: lists that come in pages,
//! method types the tool does not delete, and hardware OATH tokens, which Graph documents
//! unassigning only by object id in the global cloud (docs/graph.md §2).

use mfa_rollout::emulator::{EmulatorConfig, MethodSpec, UserSpec};
use mfa_rollout::journal::{ResultRecord, Status};

use crate::util::{Env, Invocation, results};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn m(kind: &str) -> MethodSpec {
    MethodSpec {
        kind: kind.into(),
        id: None,
        phone_type: None,
        detail: None,
    }
}

fn phone(phone_type: &str) -> MethodSpec {
    MethodSpec {
        phone_type: Some(phone_type.into()),
        ..m("phone")
    }
}

fn person(id: &str, name: &str, methods: Vec<MethodSpec>) -> UserSpec {
    UserSpec {
        id: Some(id.into()),
        upn: format!("{name}@{DOMAIN}"),
        methods,
        ..UserSpec::default()
    }
}

fn method_types(env: &Env, name: &str) -> Vec<String> {
    let users = env.users();
    let mut types: Vec<String> = users[&format!("{name}@{DOMAIN}")]["methods"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    types.sort();
    types
}

fn record(records: &[ResultRecord], row: u64) -> &ResultRecord {
    records
        .iter()
        .find(|r| r.row == row)
        .unwrap_or_else(|| panic!("no record for row {row}"))
}

/// Applies `csv` with `extra`, expecting exit 0 (a failure names `extra`), and returns the
/// results.
fn apply(env: &Env, csv: &str, extra: &[&str]) -> Vec<ResultRecord> {
    let input = env.write("u.csv", csv);
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &input, &out, extra))
        .labelled(extra.join(" "))
        .expect_exit(0);
    results(&out)
}

#[test]
fn reset_methods_reads_every_page_of_a_long_method_list() {
    // Page size 4: password, fido2, email, Windows Hello on the first page; the methods the
    // default scope deletes only on the second.
    let config = EmulatorConfig {
        users: vec![person(
            "2b0f6c1e-0000-4000-8000-000000000001",
            "long.list",
            vec![
                m("fido2"),
                m("email"),
                m("windowsHelloForBusiness"),
                m("temporaryAccessPass"),
                phone("mobile"),
                m("microsoftAuthenticator"),
            ],
        )],
        ..EmulatorConfig::default()
    }
    .no_throttle();
    assert_eq!(config.methods_page_size, 4);
    let env = Env::start(config);
    let records = apply(
        &env,
        &format!("upn,action\nlong.list@{DOMAIN},reset-methods\n"),
        &[],
    );
    let r = record(&records, 2);
    assert_eq!(r.status, Status::Applied, "{}", r.message);
    assert_eq!(
        method_types(&env, "long.list"),
        [
            "email",
            "fido2",
            "temporaryAccessPass",
            "windowsHelloForBusiness"
        ]
    );
    assert!(!r.after.contains("mobilePhone"), "{}", r.after);
}

#[test]
fn methods_the_tool_does_not_delete_are_named_and_the_row_still_ends_well() {
    let config = EmulatorConfig {
        users: vec![person(
            "2b0f6c1e-0000-4000-8000-000000000002",
            "frontline",
            vec![
                m("externalAuthentication"),
                m("qrCodePin"),
                m("passwordlessMicrosoftAuthenticator"),
                phone("mobile"),
            ],
        )],
        ..EmulatorConfig::default()
    }
    .no_throttle();
    for scope in ["portal", "all"] {
        let env = Env::start(config.clone());
        let records = apply(
            &env,
            &format!("upn,action\nfrontline@{DOMAIN},reset-methods\n"),
            &["--reset-scope", scope],
        );
        let r = record(&records, 2);
        assert_eq!(r.status, Status::Applied, "{scope}: {}", r.message);
        for name in [
            "externalAuthentication",
            "qrCodePin",
            "passwordlessMicrosoftAuthenticator",
        ] {
            assert!(r.message.contains(name), "{scope}: {name}: {}", r.message);
        }
        assert!(r.message.contains("does not delete"), "{}", r.message);
        assert_eq!(
            method_types(&env, "frontline"),
            [
                "externalAuthentication",
                "passwordlessMicrosoftAuthenticator",
                "qrCodePin"
            ],
            "{scope}"
        );
    }
}

const HW_ID: &str = "2b0f6c1e-0000-4000-8000-000000000003";
const HW_UPN_ID: &str = "2b0f6c1e-0000-4000-8000-000000000004";

fn hardware_tenant() -> EmulatorConfig {
    EmulatorConfig {
        users: vec![
            person(
                HW_ID,
                "token.by.id",
                vec![m("hardwareOath"), phone("office")],
            ),
            person(
                HW_UPN_ID,
                "token.by.upn",
                vec![m("hardwareOath"), phone("office")],
            ),
        ],
        ..EmulatorConfig::default()
    }
    .no_throttle()
}

#[test]
fn hardware_oath_is_unassigned_by_object_id_and_left_with_the_reason_for_a_upn() {
    let env = Env::start(hardware_tenant());
    let records = apply(
        &env,
        &format!("user,action\n{HW_ID},reset-methods\ntoken.by.upn@{DOMAIN},reset-methods\n"),
        &[],
    );
    let by_id = record(&records, 2);
    assert_eq!(by_id.status, Status::Applied, "{}", by_id.message);
    assert!(method_types(&env, "token.by.id").is_empty());
    let by_upn = record(&records, 3);
    assert_eq!(by_upn.status, Status::Applied, "{}", by_upn.message);
    assert_eq!(by_upn.after, "hardwareOath");
    assert!(
        by_upn.message.contains("hardwareOath") && by_upn.message.contains("object id"),
        "{}",
        by_upn.message
    );
    assert_eq!(method_types(&env, "token.by.upn"), ["hardwareOath"]);
}

#[test]
fn hardware_oath_is_left_with_the_reason_outside_the_global_cloud() {
    let env = Env::start(hardware_tenant());
    let records = apply(
        &env,
        &format!("user,action\n{HW_ID},reset-methods\n"),
        &["--cloud", "usgov"],
    );
    let r = record(&records, 2);
    assert_eq!(r.status, Status::Applied, "{}", r.message);
    assert!(r.message.contains("global cloud"), "{}", r.message);
    assert_eq!(method_types(&env, "token.by.id"), ["hardwareOath"]);
}
