//! Integration tests for every admin-center action over users with every method combination:
//! reset-methods, revoke-sessions, combos, rollback and the permission check.

use std::collections::HashMap;

use mfa_rollout::emulator::{EmulatorConfig, MethodSpec, UserSpec};
use mfa_rollout::journal::Status;
use serde_json::Value;

use crate::util::{Env, Invocation, results, stat, state};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn m(kind: &str) -> MethodSpec {
    MethodSpec {
        kind: kind.into(),
        id: None,
        phone_type: None,
        detail: None,
    }
}

fn phone(kind: &str) -> MethodSpec {
    MethodSpec {
        phone_type: Some(kind.into()),
        ..m("phone")
    }
}

fn user(
    name: &str,
    state: &str,
    kind: &str,
    methods: Vec<MethodSpec>,
    default: Option<&str>,
) -> UserSpec {
    UserSpec {
        id: None,
        upn: format!("{name}@{DOMAIN}"),
        display_name: None,
        user_type: kind.into(),
        per_user_mfa_state: state.into(),
        methods,
        default_method: default.map(Into::into),
        system_preferred: false,
        ..UserSpec::default()
    }
}

/// (user, action, methods left afterwards, state afterwards)
struct Case {
    spec: UserSpec,
    action: &'static str,
    left: usize,
    state: &'static str,
}

fn cases() -> Vec<Case> {
    let c = |spec, action, left, state| Case {
        spec,
        action,
        left,
        state,
    };
    vec![
        c(
            user(
                "mobile.only",
                "disabled",
                "Member",
                vec![phone("mobile")],
                Some("sms"),
            ),
            "reset-methods",
            0,
            "disabled",
        ),
        c(
            user(
                "two.phones.alt.default",
                "enforced",
                "Member",
                vec![phone("mobile"), phone("alternateMobile")],
                Some("voiceAlternateMobile"),
            ),
            "require-reregister",
            0,
            "enforced",
        ),
        c(
            user(
                "three.phones",
                "enabled",
                "Member",
                vec![phone("mobile"), phone("alternateMobile"), phone("office")],
                Some("voiceOffice"),
            ),
            "reset-methods",
            0,
            "enabled",
        ),
        c(
            user(
                "authenticator.oath",
                "enforced",
                "Member",
                vec![
                    m("microsoftAuthenticator"),
                    m("softwareOath"),
                    phone("mobile"),
                ],
                Some("push"),
            ),
            "reset-methods",
            0,
            "enforced",
        ),
        c(
            user(
                // Addressed by UPN, so the hardware token stays assigned (unassigning is
                // documented by object id only); the software token goes.
                "hardware.oath",
                "disabled",
                "Member",
                vec![m("hardwareOath"), m("softwareOath")],
                None,
            ),
            "reset-methods",
            1,
            "disabled",
        ),
        c(
            user(
                "fido.only",
                "disabled",
                "Member",
                vec![m("fido2"), m("windowsHelloForBusiness")],
                None,
            ),
            "reset-methods",
            2,
            "disabled",
        ),
        c(
            user(
                "fido.and.phone",
                "disabled",
                "Member",
                vec![m("fido2"), phone("mobile")],
                None,
            ),
            "reset-methods",
            1,
            "disabled",
        ),
        c(
            user("no.methods", "disabled", "Member", vec![], None),
            "reset-methods",
            0,
            "disabled",
        ),
        c(
            user("member.revoke", "enforced", "Member", vec![], None),
            "revoke-sessions",
            0,
            "enforced",
        ),
        c(
            user(
                "x_fabrikam.com#EXT#",
                "disabled",
                "Guest",
                vec![phone("mobile")],
                Some("sms"),
            ),
            "revoke-sessions",
            1,
            "disabled",
        ),
        c(
            user(
                "offboard",
                "enforced",
                "Member",
                vec![phone("mobile"), m("microsoftAuthenticator")],
                Some("push"),
            ),
            "disable+reset-methods+revoke-sessions",
            0,
            "disabled",
        ),
        c(
            user("onboard", "disabled", "Member", vec![], None),
            "enforce",
            0,
            "enforced",
        ),
        c(
            user("enable.me", "disabled", "Member", vec![], None),
            "enable",
            0,
            "enabled",
        ),
    ]
}

fn by_upn(env: &Env) -> HashMap<String, Value> {
    env.users()
}

#[test]
fn a_mixed_file_of_all_actions_leaves_exactly_the_expected_methods_and_states() {
    let cases = cases();
    let config = EmulatorConfig {
        users: cases.iter().map(|c| c.spec.clone()).collect(),
        ..EmulatorConfig::default()
    }
    .no_throttle();
    let env = Env::start(config);
    let mut csv = String::from("user,action\n");
    for c in &cases {
        csv.push_str(&format!("{},{}\n", c.spec.upn, c.action));
    }
    csv.push_str(&format!("ghost@{DOMAIN},disable+revoke-sessions\n"));
    let input = env.write("all.csv", &csv);
    let out = env.path("r.csv");
    // The ghost is not found: exit 1, everything else must have ended well.
    env.apply(&input).results(&out).expect_exit(1);

    let users = by_upn(&env);
    for c in &cases {
        let u = &users[&c.spec.upn.to_ascii_lowercase()];
        let methods = u["methods"].as_array().map_or(0, Vec::len);
        assert_eq!(
            methods, c.left,
            "{}: methods left {}",
            c.spec.upn, u["methods"]
        );
        assert_eq!(state(u), c.state, "{}", c.spec.upn);
    }
    let records = results(&out);
    assert!(
        records
            .iter()
            .all(|r| !r.message.contains("Cannot delete default method")),
        "no default-method refusal reached the results"
    );
    let rec = |upn: &str, action: &str| {
        records
            .iter()
            .find(|r| r.user.eq_ignore_ascii_case(&format!("{upn}@{DOMAIN}")) && r.action == action)
            .unwrap_or_else(|| panic!("no record for {upn} {action}"))
    };
    assert_eq!(rec("fido.only", "reset-methods").status, Status::Unchanged);
    let fp = rec("fido.and.phone", "reset-methods");
    assert_eq!(
        (fp.status, fp.before.as_str(), fp.after.as_str()),
        (Status::Applied, "fido2;mobilePhone", "fido2")
    );
    let oath = rec("authenticator.oath", "reset-methods");
    assert_eq!(oath.after, "");
    let guest = rec("x_fabrikam.com#EXT#", "revoke-sessions");
    assert_eq!(guest.status, Status::Skipped);
    assert!(
        guest.message.contains("does not revoke"),
        "{}",
        guest.message
    );
    assert_eq!(
        rec("member.revoke", "revoke-sessions").status,
        Status::Applied
    );
    for action in ["disable", "reset-methods", "revoke-sessions"] {
        assert_eq!(rec("offboard", action).status, Status::Applied, "{action}");
    }
    assert_eq!(rec("ghost", "disable").status, Status::NotFound);
    assert_eq!(rec("ghost", "revoke-sessions").status, Status::Skipped);
    // Revocations are counted once per user.
    assert_eq!(users[&format!("member.revoke@{DOMAIN}")]["revoke_count"], 1);
    assert_eq!(users[&format!("offboard@{DOMAIN}")]["revoke_count"], 1);
    assert_eq!(
        users[&format!("x_fabrikam.com#ext#@{DOMAIN}")]["revoke_count"],
        0
    );
}

#[test]
fn reset_scope_all_also_removes_fido2_and_windows_hello() {
    let config = EmulatorConfig {
        users: vec![user(
            "strong",
            "enforced",
            "Member",
            vec![
                m("fido2"),
                m("windowsHelloForBusiness"),
                m("microsoftAuthenticator"),
                m("email"),
            ],
            Some("push"),
        )],
        ..EmulatorConfig::default()
    }
    .no_throttle();
    let env = Env::start(config);
    let input = env.write("a.csv", &format!("upn\nstrong@{DOMAIN}\n"));
    let out = env.path("r.csv");
    env.apply(&input)
        .results(&out)
        .args(&["--action", "reset-methods", "--reset-scope", "all"])
        .expect_exit(0);
    let users = by_upn(&env);
    assert_eq!(
        users[&format!("strong@{DOMAIN}")]["methods"]
            .as_array()
            .map_or(99, Vec::len),
        0
    );
}

#[test]
fn rollback_of_a_completed_run_applied_restores_every_previous_state() {
    let env = Env::start(EmulatorConfig::generated(200, 21).no_throttle());
    let before: HashMap<String, String> = by_upn(&env)
        .iter()
        .map(|(k, v)| (k.clone(), state(v)))
        .collect();
    let mut upns: Vec<String> = before.keys().cloned().collect();
    upns.sort();
    let csv = crate::util::rollout_csv(&upns, &["enforce", "disable", "enable"]);
    let input = env.write("u.csv", &csv);
    let out = env.path("run.csv");
    env.apply(&input).results(&out).expect_exit(0);
    let undo = env.path("undo.csv");
    Invocation::from(env.rollback(&out, &undo)).expect_exit(0);
    env.apply(&undo)
        .results(&env.path("undo-run.csv"))
        .expect_exit(0);
    let now = by_upn(&env);
    for (upn, was) in &before {
        let is = state(&now[upn]);
        // Rollback restores enabled users with `set-enabled`; Graph itself keeps a user who
        // registered a method enforced, so only those may come back enforced.
        let methods = now[upn]["methods"].as_array().map_or(0, Vec::len);
        let ok = &is == was || (was == "enabled" && is == "enforced" && methods > 0);
        assert!(ok, "{upn}: was {was}, now {is}");
    }
}

#[test]
fn rollback_explains_what_cannot_be_undone_and_emits_no_rows_for_it() {
    let config = EmulatorConfig {
        users: vec![
            user(
                "a",
                "disabled",
                "Member",
                vec![phone("mobile")],
                Some("sms"),
            ),
            user("b", "disabled", "Member", vec![], None),
        ],
        ..EmulatorConfig::default()
    }
    .no_throttle();
    let env = Env::start(config);
    let input = env.write(
        "u.csv",
        &format!("upn,action\na@{DOMAIN},enforce+reset-methods\nb@{DOMAIN},revoke-sessions\n"),
    );
    let out = env.path("run.csv");
    env.apply(&input).results(&out).expect_exit(0);
    let undo = env.path("undo.csv");
    Invocation::from(env.rollback(&out, &undo))
        .expect_exit(0)
        .stderr_has("1 method reset")
        .stderr_has("1 session revocation");
    let text = std::fs::read_to_string(&undo).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(&format!("a@{DOMAIN},disable")), "{text}");
}

#[test]
fn check_reports_a_withheld_permission_and_exits_3() {
    let env =
        Env::start(EmulatorConfig::generated(3, 1).withhold_permission("User.RevokeSessions.All"));
    Invocation::from(env.check(None))
        .expect_exit(3)
        .stdout_has("revoke-sessions")
        .stdout_has("MISSING")
        .stderr_has("User.RevokeSessions.All");

    // With an input that needs only state changes, the same token is enough.
    let input = env.write("u.csv", &format!("upn,action\nuser0001@{DOMAIN},enforce\n"));
    Invocation::from(env.check(Some(&input))).expect_exit(0);
    assert_eq!(stat(&env.stats(), "writes"), 0);
}
