//! `plan`/`apply` on a selection instead of an input file (`--all-users`, `--include-guests`,
//! `--filter`, `--group`): who is selected (nested groups once, no group as a user, members vs
//! guests), the list journaled before the first write so `--resume` does the same users after
//! the tenant changed, `plan` naming exactly who, and the flags' and permissions' errors.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use mfa_rollout::emulator::{EmulatorConfig, GroupSpec, UserSpec};
use serde_json::Value;

use crate::util::{Env, Invocation, results, stat};

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn upn(i: usize) -> String {
    format!("u{i:03}@{DOMAIN}")
}

fn user(i: usize, user_type: &str) -> UserSpec {
    UserSpec {
        upn: upn(i),
        user_type: user_type.into(),
        ..UserSpec::default()
    }
}

fn group(name: &str, members: &[usize], nested: &[&str]) -> GroupSpec {
    GroupSpec {
        display_name: name.into(),
        members: members.iter().map(|&i| upn(i)).collect(),
        member_groups: nested.iter().map(|n| n.to_string()).collect(),
        ..GroupSpec::default()
    }
}

/// 40 users (u031–u040 guests, u021–u025 disabled accounts), every one `disabled`. `Everyone`
/// holds u001 and the nested `Staff` (u002–u012) and `Leads` (u010–u015, nested in `Staff`
/// too, so u010–u012 are reached three ways); `Partners` holds guests u031–u033; `Twin` twice.
fn tenant() -> EmulatorConfig {
    let mut users: Vec<UserSpec> = (1..=40)
        .map(|i| user(i, if i > 30 { "Guest" } else { "Member" }))
        .collect();
    for u in &mut users[20..25] {
        u.account_enabled = false;
    }
    EmulatorConfig {
        users,
        groups: vec![
            group("Everyone", &[1], &["Staff", "Leads"]),
            group("Staff", &(2..=12).collect::<Vec<_>>(), &["Leads"]),
            group("Leads", &(10..=15).collect::<Vec<_>>(), &[]),
            group("Partners", &[31, 32, 33], &[]),
            group("Twin", &[], &[]),
            group("Twin", &[], &[]),
        ],
        seed: 5,
        ..EmulatorConfig::default()
    }
    .no_throttle()
}

/// `mfa-rollout SUB --results|--report FILE ARGS…` against the emulator, `--quiet`.
fn selected(env: &Env, sub: &str, out: &Path, args: &[&str]) -> Invocation {
    let mut c = env.command();
    c.arg(sub)
        .arg(if sub == "plan" {
            "--report"
        } else {
            "--results"
        })
        .arg(out);
    env.point_at_emulator(&mut c);
    c.arg("--quiet").args(args);
    Invocation::from(c)
}

/// The emulator's users by UPN: (state, writes).
fn tenant_users(env: &Env) -> HashMap<String, (String, u64)> {
    env.users()
        .into_iter()
        .map(|(upn, u)| {
            (
                upn,
                (
                    u["perUserMfaState"].as_str().unwrap_or("").to_string(),
                    u["writes"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

/// The results' rows: (row, id, UPN) with the UPN from the `userPrincipalName` column.
fn rows(path: &Path) -> Vec<(u64, String, String)> {
    results(path)
        .into_iter()
        .map(|r| {
            (
                r.row,
                r.user.clone(),
                r.extra.first().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

fn upns_of(path: &Path) -> Vec<String> {
    rows(path).into_iter().map(|(_, _, u)| u).collect()
}

fn range(r: std::ops::RangeInclusive<usize>) -> BTreeSet<String> {
    r.map(upn).collect()
}

#[test]
fn group_resolves_nested_groups_each_user_once_and_writes_nobody_else() {
    let env = Env::start(tenant());
    let out = env.path("run.csv");
    selected(
        &env,
        "apply",
        &out,
        &["--group", "Everyone", "--action", "enforce"],
    )
    .expect_exit(0);
    let got = upns_of(&out);
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        got.len(),
        unique.len(),
        "a user reached through several groups once: {got:?}"
    );
    assert_eq!(
        unique,
        range(1..=15),
        "u001 and the nested groups' users, no group"
    );
    // The rows' user is the object id, as Graph has it.
    let ids: HashMap<String, String> = env
        .users()
        .into_iter()
        .map(|(upn, u)| (upn, u["id"].as_str().unwrap().to_string()))
        .collect();
    for (_, id, upn) in rows(&out) {
        assert_eq!(ids[&upn], id, "{upn}");
    }
    let users = tenant_users(&env);
    for (upn, (state, writes)) in &users {
        if unique.contains(upn) {
            assert_eq!((state.as_str(), *writes), ("enforced", 1), "{upn}");
        } else {
            assert_eq!(
                (state.as_str(), *writes),
                ("disabled", 0),
                "{upn} is in no group"
            );
        }
    }
    // Two groups (a name and an id), overlapping: each user once; guests of a group are in.
    let partners_id = group_id(&env, "Partners");
    let out = env.path("two.csv");
    selected(
        &env,
        "plan",
        &out,
        &[
            "--group",
            "Leads",
            "--group",
            &partners_id,
            "--group",
            "leads",
            "--action",
            "disable",
        ],
    )
    .expect_exit(0);
    let got = upns_of(&out);
    let mut expected: Vec<String> = (10..=15).chain(31..=33).map(upn).collect();
    expected.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "{got:?}");
}

/// A group's id, read from the emulator outside the tool.
fn group_id(env: &Env, name: &str) -> String {
    let token = env.token_outside_the_tool()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = env.get(
        &format!("/v1.0/groups?$filter=displayName%20eq%20'{name}'&$select=id"),
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(status, 200, "{body}");
    body["value"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn a_group_that_is_not_there_or_not_one_stops_before_any_user_is_read() {
    let env = Env::start(tenant());
    for (group, says) in [
        (
            "Nobody",
            r#"--group "Nobody": no group has this display name"#,
        ),
        (
            "00000000-0000-4000-8000-0000000000ff",
            "no group has this object id",
        ),
        ("Twin", r#"--group "Twin": 2 groups have this display name"#),
    ] {
        let out = env.path("run.csv");
        selected(
            &env,
            "apply",
            &out,
            &["--group", group, "--action", "enforce", "--overwrite"],
        )
        .expect_exit(2)
        .stderr_has(says);
    }
    assert_eq!(stat(&env.stats(), "writes"), 0);
    let per_user: u64 = tenant_users(&env).values().map(|(_, w)| w).sum();
    assert_eq!(per_user, 0);
}

#[test]
fn all_users_takes_members_include_guests_adds_guests_and_a_filter_goes_to_graph() {
    let env = Env::start(tenant());
    let plan = |name: &str, args: &[&str]| {
        let out = env.path(name);
        let mut all = args.to_vec();
        all.extend(["--action", "enforce"]);
        selected(&env, "plan", &out, &all).expect_exit(0);
        upns_of(&out).into_iter().collect::<BTreeSet<String>>()
    };
    assert_eq!(plan("members.csv", &["--all-users"]), range(1..=30));
    assert_eq!(
        plan("everyone.csv", &["--all-users", "--include-guests"]),
        range(1..=40)
    );
    assert_eq!(
        plan("off.csv", &["--filter", "accountEnabled eq false"]),
        range(21..=25)
    );
    assert_eq!(
        plan(
            "on-members.csv",
            &["--all-users", "--filter", "accountEnabled eq true"]
        ),
        range(1..=20).union(&range(26..=30)).cloned().collect()
    );
    // The plan says exactly who: id, UPN and display name on every row, in listing order.
    let report = results(&env.path("off.csv"));
    assert!(
        report.iter().all(|r| r.status.as_str() == "planned"),
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .all(|r| r.extra.len() == 2 && !r.extra[1].is_empty())
    );
    assert_eq!(
        report.iter().map(|r| r.row).collect::<Vec<_>>(),
        (2..=6).collect::<Vec<u64>>()
    );
    assert_eq!(stat(&env.stats(), "writes"), 0, "plans write nothing");
    // A filter Graph refuses stops with Graph's words, before any user is read.
    selected(
        &env,
        "plan",
        &env.path("bad.csv"),
        &[
            "--filter",
            "endsWith(mail,'@contoso.com')",
            "--action",
            "enforce",
        ],
    )
    .expect_exit(1)
    .stderr_has("Request_UnsupportedQuery");
}

#[test]
fn a_resumed_selection_does_the_users_first_selected_though_the_tenant_changed() {
    let env = Env::start(EmulatorConfig::default());
    let tenant_file = env.path("tenant.json");
    std::fs::write(&tenant_file, tenant().to_tenant_json().to_string()).unwrap();
    let state = env.path("state.json");
    let out = env.path("run.csv");
    let apply = |extra: &[&str]| {
        let mut c = env.command();
        c.arg("apply")
            .arg("--all-users")
            .args(["--action", "enforce", "--results"])
            .arg(&out)
            .arg("--sandbox")
            .arg(&tenant_file)
            .arg("--sandbox-state")
            .arg(&state)
            .arg("--quiet")
            .args(extra);
        Invocation::from(c).expect_exit(0)
    };
    apply(&["--limit", "7"]);
    assert!(
        env.path("run.csv.users").exists(),
        "the list is kept beside the results"
    );
    let first: Vec<(u64, String, String)> = rows(&out);
    assert!(
        first.len() < 30,
        "a wave of 7 changes, not the whole list: {}",
        first.len()
    );
    // Meanwhile the tenant changes: a new member appears, and a selected one becomes a guest.
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let users = t["users"].as_array_mut().unwrap();
    let mut newcomer = users[0].clone();
    newcomer["userPrincipalName"] = Value::String(format!("newcomer@{DOMAIN}"));
    newcomer["id"] = Value::String("0a0a0a0a-0000-4000-8000-00000000beef".into());
    newcomer["displayName"] = Value::String("Newcomer".into());
    newcomer["perUserMfaState"] = Value::String("disabled".into());
    users.push(newcomer);
    let turned = users
        .iter_mut()
        .find(|u| u["userPrincipalName"] == upn(30).as_str())
        .unwrap();
    turned["userType"] = Value::String("Guest".into());
    std::fs::write(&state, serde_json::to_string(&t).unwrap()).unwrap();
    apply(&["--resume"]);
    let after = rows(&out);
    // The first run's rows stay as they were; the rest are the users it listed, not a new list.
    for row in &first {
        assert!(after.contains(row), "{row:?} kept as the first run left it");
    }
    let got: BTreeSet<String> = after.iter().map(|(_, _, u)| u.clone()).collect();
    assert_eq!(
        got,
        range(1..=30),
        "the 30 members first listed, u030 included"
    );
    assert_eq!(after.len(), 30);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    for u in t["users"].as_array().unwrap() {
        let who = u["userPrincipalName"].as_str().unwrap();
        let expected = if got.contains(who) {
            "enforced"
        } else {
            "disabled"
        };
        assert_eq!(u["perUserMfaState"], expected, "{who}");
    }
    // A resume of a run that selected nobody this way is refused, naming the missing list.
    let other = env.path("other.csv");
    std::fs::write(&other, "row,user,action,status,before,after,http_status,error_code,message,attempts,request_id,client_request_id,finished_at,userPrincipalName,displayName\n").unwrap();
    let mut c = env.command();
    c.arg("apply")
        .args(["--all-users", "--action", "enforce", "--results"])
        .arg(&other)
        .arg("--sandbox")
        .arg(&tenant_file)
        .arg("--resume");
    Invocation::from(c)
        .expect_exit(2)
        .stderr_has("other.csv.users");
}

#[test]
fn a_resume_given_other_selection_flags_is_refused_before_anything_is_sent() {
    let env = Env::start(EmulatorConfig::default());
    let tenant_file = env.path("tenant.json");
    std::fs::write(&tenant_file, tenant().to_tenant_json().to_string()).unwrap();
    let state = env.path("state.json");
    let apply = |out: &Path, selection: &[&str], extra: &[&str]| {
        let mut c = env.command();
        c.arg("apply")
            .args(selection)
            .args(["--action", "enforce", "--results"])
            .arg(out)
            .arg("--sandbox")
            .arg(&tenant_file)
            .arg("--sandbox-state")
            .arg(&state)
            .arg("--quiet")
            .args(extra);
        Invocation::from(c)
    };
    let out = env.path("run.csv");
    apply(
        &out,
        &["--all-users", "--include-guests"],
        &["--limit", "5"],
    )
    .expect_exit(0);
    let (tenant_before, results_before) =
        (std::fs::read(&state).unwrap(), std::fs::read(&out).unwrap());
    // Members only now: the list holds guests this run did not select.
    let refused = apply(&out, &["--all-users"], &["--resume"]).expect_exit(2);
    assert_eq!(
        refused.stderr.trim().lines().count(),
        1,
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "run.csv.users lists the users selected with --all-users --include-guests, not --all-users; resume with the first run's selection flags"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        tenant_before,
        "nothing sent"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        results_before,
        "nothing recorded"
    );
    // The first run's flags (in any order) finish it: members and guests.
    apply(&out, &["--include-guests", "--all-users"], &["--resume"]).expect_exit(0);
    assert_eq!(
        upns_of(&out).into_iter().collect::<BTreeSet<_>>(),
        range(1..=40)
    );
    // Groups may be given in another order; another group, or a name in another case, is
    // another selection.
    let out = env.path("groups.csv");
    let (staff, partners) = (["--group", "Staff"], ["--group", "Partners"]);
    apply(&out, &[staff, partners].concat(), &["--limit", "2"]).expect_exit(0);
    apply(&out, &["--group", "staff", "--group", "Partners"], &["--resume"])
        .expect_exit(2)
        .stderr_has(r#"selected with --group "Partners" --group "Staff", not --group "Partners" --group "staff""#);
    apply(&out, &staff, &["--resume"]).expect_exit(2);
    apply(&out, &[partners, staff].concat(), &["--resume"]).expect_exit(0);
    let mut want = range(2..=15);
    want.extend(range(31..=33));
    assert_eq!(upns_of(&out).into_iter().collect::<BTreeSet<_>>(), want);
}

#[test]
fn input_and_a_selection_together_or_neither_are_refused_naming_both() {
    let env = Env::start(EmulatorConfig::default());
    let input = env.write("in.csv", "user,action\na@x.com,enforce\n");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--all-users", "--action", "enforce"],
            "cannot be used with '--all-users'",
        ),
        (&[], "<INPUT|--all-users|--group <NAME|ID>|--filter <EXPR>>"),
        (&["--group", "G", "--all-users"], "cannot be used with"),
        (&["--filter", "x eq 1"], "needs --action ACTION"),
    ];
    for (i, (args, says)) in cases.into_iter().enumerate() {
        let mut c = env.command();
        c.arg("apply");
        if i == 0 {
            c.arg(&input);
        }
        c.args(["--results", "r.csv"]).args(args).arg("--sandbox");
        Invocation::from(c).expect_exit(2).stderr_has(says);
    }
    assert!(!env.path("r.csv").exists());
}

#[test]
fn check_names_what_each_selection_needs_and_a_group_run_without_it_stops_with_exit_3() {
    let env = Env::start(tenant().withhold_permission("GroupMember.Read.All"));
    let stdout = Invocation::from(env.check(None)).expect_exit(0).stdout;
    assert!(
        stdout.contains("--all-users/--filter needs User.Read.All"),
        "{stdout}"
    );
    let group_line = stdout
        .lines()
        .find(|l| l.contains("--group") && l.contains("GroupMember.Read.All"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        group_line.contains("missing (needed for --group)"),
        "{group_line}"
    );
    let out = env.path("run.csv");
    selected(
        &env,
        "apply",
        &out,
        &["--group", "Everyone", "--action", "enforce"],
    )
    .expect_exit(3)
    .stderr_has("GroupMember.Read.All (for --group)");
    assert_eq!(stat(&env.stats(), "writes"), 0);
}
