//! revoke-sessions and guests: Graph answers `true` to a guest's revocation and does nothing
//! (docs/graph.md §3), and `userType` is not in the default user properties (§9.1), so the
//! tool must ask for it and never call a user it could not read a member.

use mfa_rollout::emulator::{EmulatorConfig, UserSpec};
use mfa_rollout::journal::Status;

use crate::util::{Env, Invocation, Output, results, stat};

const DOMAIN: &str = "contoso.onmicrosoft.com";
const EXT_GUEST: &str = "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com";
const EXT_GUEST_ID: &str = "6a1c0a52-4b0e-4c4f-9a53-0d6f3f0e0001";
const PLAIN_GUEST: &str = "visitor@contoso.onmicrosoft.com";
const PLAIN_GUEST_ID: &str = "6a1c0a52-4b0e-4c4f-9a53-0d6f3f0e0002";
const MEMBER_ID: &str = "6a1c0a52-4b0e-4c4f-9a53-0d6f3f0e0003";

fn person(id: &str, upn: &str, user_type: &str) -> UserSpec {
    UserSpec {
        id: Some(id.into()),
        upn: upn.into(),
        user_type: user_type.into(),
        ..UserSpec::default()
    }
}

fn tenant() -> EmulatorConfig {
    EmulatorConfig {
        users: vec![
            person(EXT_GUEST_ID, EXT_GUEST, "Guest"),
            // A guest whose UPN does not say so: only userType tells.
            person(PLAIN_GUEST_ID, PLAIN_GUEST, "Guest"),
            person(MEMBER_ID, &format!("mia@{DOMAIN}"), "Member"),
            person(
                "6a1c0a52-4b0e-4c4f-9a53-0d6f3f0e0004",
                &format!("max@{DOMAIN}"),
                "Member",
            ),
        ],
        ..EmulatorConfig::default()
    }
    .no_throttle()
}

/// Every key form: guests by UPN and by object id, members by UPN and by object id.
fn input() -> String {
    format!(
        "user,action\n{EXT_GUEST},revoke-sessions\n{EXT_GUEST_ID},revoke-sessions\n{PLAIN_GUEST},revoke-sessions\n{PLAIN_GUEST_ID},revoke-sessions\n{MEMBER_ID},revoke-sessions\nmax@{DOMAIN},revoke-sessions\n"
    )
}

fn revoke_count(env: &Env, upn: &str) -> u64 {
    env.users()[&upn.to_ascii_lowercase()]["revoke_count"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[test]
fn revoke_sessions_skips_guests_by_upn_and_by_object_id_and_revokes_only_members() {
    let env = Env::start(tenant());
    let file = env.write("u.csv", &input());
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &file, &out, &[])).expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), 6);
    for (row, status) in [
        (2, Status::Skipped),
        (3, Status::Skipped),
        (4, Status::Skipped),
        (5, Status::Skipped),
        (6, Status::Applied),
        (7, Status::Applied),
    ] {
        let r = records.iter().find(|r| r.row == row).expect("row present");
        assert_eq!(r.status, status, "row {row} ({}): {}", r.user, r.message);
        if status == Status::Skipped {
            assert!(r.message.contains("does not revoke"), "{}", r.message);
        }
    }
    assert_eq!(revoke_count(&env, EXT_GUEST), 0);
    assert_eq!(revoke_count(&env, PLAIN_GUEST), 0);
    assert_eq!(revoke_count(&env, &format!("mia@{DOMAIN}")), 1);
    assert_eq!(revoke_count(&env, &format!("max@{DOMAIN}")), 1);
}

#[test]
fn without_user_read_all_check_and_apply_stop_with_exit_3_naming_it_before_any_request() {
    let env = Env::start(tenant().withhold_permission("User.Read.All"));
    let file = env.write("u.csv", &input());

    let Output { stdout, stderr, .. } = Invocation::from(env.check(Some(&file))).expect_exit(3);
    assert!(
        stdout.lines().any(|l| l.contains("revoke-sessions")
            && l.contains("User.Read.All")
            && l.contains("MISSING")),
        "{stdout}"
    );
    assert!(stderr.contains("User.Read.All"), "{stderr}");

    let out = env.path("r.csv");
    let stderr = Invocation::from(env.rollout("apply", &file, &out, &[]))
        .expect_exit(3)
        .stderr;
    assert!(stderr.contains("User.Read.All"), "{stderr}");
    let stats = env.stats();
    assert_eq!(stat(&stats, "items") + stat(&stats, "plain_requests"), 0);
    for upn in [EXT_GUEST, PLAIN_GUEST] {
        assert_eq!(revoke_count(&env, upn), 0, "{upn}");
    }
}

#[test]
fn with_user_read_all_check_passes_for_revoke_sessions() {
    let env = Env::start(tenant());
    let file = env.write("u.csv", &input());
    let stdout = Invocation::from(env.check(Some(&file)))
        .expect_exit(0)
        .stdout;
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("revoke-sessions") && l.contains("ok (User.Read.All)")),
        "{stdout}"
    );
}
