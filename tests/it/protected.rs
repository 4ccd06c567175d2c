//! Protected accounts: users named by `--exclude FILE` or `--exclude-user KEY` are never sent
//! a write (their rows are `skipped`, "excluded"), `plan` and its HTML report show them, an
//! exclusion by object id protects a row given by UPN; and a device-code run leaves the
//! signed-in admin out of disable, reset-methods and revoke-sessions unless `--include-self`.

use mfa_rollout::emulator::EmulatorConfig;
use mfa_rollout::journal::Status;

use crate::util::{
    Env, Invocation, mail_user, results, rollout_csv, stat, state, with_device_code,
};

const FAST: [&str; 4] = ["--read-rate", "4000", "--write-rate", "2000"];

/// Member UPNs (no `#EXT#`), sorted.
fn members(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .users()
        .keys()
        .filter(|u| !u.contains("#ext#"))
        .cloned()
        .collect();
    v.sort();
    v
}

fn writes_of(env: &Env, upn: &str) -> u64 {
    env.users()[&upn.to_ascii_lowercase()]["writes"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn excluded_users_receive_no_write_whether_named_by_upn_or_by_object_id() {
    let env = Env::start(EmulatorConfig::generated(80, 91).seed(91).no_throttle());
    let upns = members(&env);
    let users = env.users();
    // Three protected users: one by UPN in a bare list, one by object id in the same list
    // (its row gives the UPN), one by --exclude-user in other letter case.
    let (a, b, c) = (&upns[0], &upns[1], &upns[2]);
    let b_id = users[b]["id"].as_str().expect("id").to_string();
    let list = env.write("break-glass.csv", &format!("{a}\n{b_id}\n"));
    let csv = rollout_csv(&upns, &["disable", "enforce"]);
    let input = env.write("users.csv", &csv);
    let before: Vec<String> = [a, b, c].iter().map(|u| state(&users[*u])).collect();

    // The plan shows them, in its CSV and its HTML report.
    let report = env.path("plan.csv");
    let html = env.path("plan.html");
    let mut plan_args = FAST.to_vec();
    let exclude = [
        "--exclude",
        list.to_str().expect("utf-8 path"),
        "--exclude-user",
        &c.to_ascii_uppercase(),
    ];
    plan_args.extend(exclude);
    plan_args.extend(["--html", html.to_str().expect("utf-8 path")]);
    env.plan(&input)
        .report(&report)
        .args(&plan_args)
        .expect_exit(0);
    let planned = results(&report);
    for u in [a, b, c] {
        let r = planned
            .iter()
            .find(|r| r.user.eq_ignore_ascii_case(u))
            .expect("a row");
        assert_eq!(r.status, Status::Skipped, "{r:?}");
        assert!(r.message.starts_with("excluded"), "{r:?}");
    }
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("excluded: a protected account"),
        "the HTML lists them"
    );

    let out = env.path("results.csv");
    let mut args = FAST.to_vec();
    args.extend(exclude);
    // Skipped rows are not problems: exit 0.
    env.apply(&input).results(&out).args(&args).expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), upns.len());
    let now = env.users();
    for (u, was) in [a, b, c].into_iter().zip(&before) {
        let r = records
            .iter()
            .find(|r| r.user.eq_ignore_ascii_case(u))
            .expect("a row");
        assert_eq!(r.status, Status::Skipped, "{r:?}");
        assert!(r.message.starts_with("excluded"), "{r:?}");
        assert_eq!(writes_of(&env, u), 0, "{u} was written");
        assert_eq!(&state(&now[u]), was, "{u} changed");
    }
    let others_changed = records
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count() as u64;
    assert!(others_changed > 0);
    assert_eq!(stat(&env.stats(), "users_written"), others_changed);
}

#[test]
fn a_bad_exclusion_is_refused_in_one_line_naming_it_before_anything_is_sent() {
    let env = Env::start(EmulatorConfig::generated(5, 3).no_throttle());
    let input = env.write("users.csv", &rollout_csv(&members(&env), &["enforce"]));
    let out = env.path("results.csv");
    let list = env.write("list.csv", "upn\nok@contoso.com\nnot a user\n");
    let missing = env.path("missing.csv");
    let bell = env.write("bell.csv", "upn\nok@contoso.com\nbad\u{7}@contoso.com\n");
    for (args, names) in [
        (
            vec!["--exclude-user", "bad user\u{7}"],
            vec!["--exclude-user"],
        ),
        (
            vec!["--exclude", list.to_str().unwrap()],
            vec!["--exclude", "list.csv", "row 3"],
        ),
        (
            vec!["--exclude", bell.to_str().unwrap()],
            vec!["--exclude", "bell.csv", "row 3"],
        ),
        (
            vec!["--exclude", missing.to_str().unwrap()],
            vec!["--exclude", "missing.csv"],
        ),
    ] {
        let mut done = env
            .apply(&input)
            .results(&out)
            .args(&args)
            .labelled(format!("{args:?}"))
            .expect_exit(2);
        for name in names {
            done = done.stderr_has(name);
        }
        let stderr = done.stderr;
        assert!(!stderr.contains('\u{7}'), "escaped: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let stats = env.stats();
    assert_eq!(stat(&stats, "requests"), 0, "{stats}");
    assert_eq!(
        stat(&stats, "token_grants"),
        0,
        "not even signed in: {stats}"
    );
    assert!(!out.exists());
}

#[test]
fn rows_given_by_object_id_are_protected_by_an_exclusion_by_upn() {
    let env = Env::start(EmulatorConfig::generated(20, 95).seed(95).no_throttle());
    let upns = members(&env);
    let users = env.users();
    let ids: Vec<String> = upns
        .iter()
        .map(|u| users[u]["id"].as_str().expect("id").to_string())
        .collect();
    let mut csv = String::from("objectId,action\n");
    for id in &ids {
        csv.push_str(&format!("{id},disable+revoke-sessions\n"));
    }
    let input = env.write("ids.csv", &csv);
    let out = env.path("results.csv");
    let protected = &upns[4];
    let mut args = FAST.to_vec();
    let shouted = protected.to_ascii_uppercase();
    args.extend(["--exclude-user", &shouted]);
    env.apply(&input).results(&out).args(&args).expect_exit(0);
    let now = env.users();
    assert_eq!(writes_of(&env, protected), 0, "{protected} was written");
    assert_eq!(now[protected]["revoke_count"], 0);
    let mine: Vec<_> = results(&out)
        .into_iter()
        .filter(|r| r.user == ids[4])
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(
        mine.iter()
            .all(|r| r.status == Status::Skipped && r.message.starts_with("excluded")),
        "{mine:?}"
    );
    let revoked = upns.iter().filter(|u| now[*u]["revoke_count"] == 1).count();
    assert_eq!(revoked, upns.len() - 1, "everyone else was revoked");
}

#[test]
fn a_mail_row_is_protected_once_its_user_is_found() {
    const DOMAIN: &str = "contoso.onmicrosoft.com";
    let config = EmulatorConfig {
        users: vec![
            mail_user(
                &format!("bg@{DOMAIN}"),
                "Member",
                Some("break.glass@contoso.com"),
                &["SMTP:break.glass@contoso.com"],
            ),
            mail_user(
                &format!("ann@{DOMAIN}"),
                "Member",
                Some("ann.lee@contoso.com"),
                &["SMTP:ann.lee@contoso.com"],
            ),
        ],
        seed: 96,
        ..EmulatorConfig::default()
    }
    .no_throttle();
    let env = Env::start(config);
    let bg_id = env.users()[&format!("bg@{DOMAIN}")]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let input = env.write(
        "hr.csv",
        "Work email,action\nbreak.glass@contoso.com,revoke-sessions+enforce\nann.lee@contoso.com,revoke-sessions+enforce\n",
    );
    // By object id and by UPN: either protects the row found by its mail.
    for (name, key) in [("by-id", bg_id.clone()), ("by-upn", format!("BG@{DOMAIN}"))] {
        let out = env.path(&format!("{name}.csv"));
        env.apply(&input)
            .results(&out)
            .args(&["--exclude-user", &key])
            .labelled(name)
            .expect_exit(0);
        let records = results(&out);
        let bg: Vec<_> = records.iter().filter(|r| r.row == 2).collect();
        assert_eq!(bg.len(), 2, "{bg:?}");
        for r in &bg {
            assert_eq!(r.status, Status::Skipped, "{name}: {r:?}");
            assert!(r.message.starts_with("excluded"), "{r:?}");
            assert_eq!(
                r.extra[0],
                format!("bg@{DOMAIN}"),
                "the user found is shown"
            );
        }
        let users = env.users();
        assert_eq!(users[&format!("bg@{DOMAIN}")]["writes"], 0, "{name}");
        assert_eq!(users[&format!("bg@{DOMAIN}")]["revoke_count"], 0, "{name}");
    }
    let users = env.users();
    assert_eq!(users[&format!("ann@{DOMAIN}")]["revoke_count"], 2);
    assert_eq!(state(&users[&format!("ann@{DOMAIN}")]), "enforced");
}

#[test]
fn a_tenant_wide_selection_leaves_the_excluded_users_alone() {
    let env = Env::start(EmulatorConfig::generated(30, 97).seed(97).no_throttle());
    let upns = members(&env);
    let protected = [&upns[0], &upns[5]];
    let list = env.write(
        "break-glass.txt",
        &format!("{}\n{}\n", protected[0], protected[1]),
    );
    let out = env.path("results.csv");
    let mut c = env.command();
    c.arg("apply").arg("--results").arg(&out);
    env.point_at_emulator(&mut c);
    c.args([
        "--quiet",
        "--all-users",
        "--action",
        "disable+revoke-sessions",
    ])
    .arg("--exclude")
    .arg(&list)
    .args(FAST);
    Invocation::from(c).expect_exit(0);
    let users = env.users();
    for u in protected {
        assert_eq!(writes_of(&env, u), 0, "{u} was written");
        assert_eq!(users[u]["revoke_count"], 0, "{u} was revoked");
    }
    let records = results(&out);
    // A selection's rows name users by object id: the exclusion by UPN still matches.
    let skipped = records
        .iter()
        .filter(|r| r.status == Status::Skipped && r.message.starts_with("excluded"))
        .count();
    assert_eq!(skipped, 4, "two users, two actions each: {records:?}");
    let revoked = upns
        .iter()
        .filter(|u| users[*u]["revoke_count"] == 1)
        .count();
    assert_eq!(revoked, upns.len() - 2);
}

#[test]
fn a_device_code_run_leaves_the_signed_in_admin_alone_and_include_self_touches_it() {
    let mut config = EmulatorConfig::generated(30, 93)
        .seed(93)
        .no_throttle()
        .allow_public_client_flows();
    config.device_code_interval = 1;
    let upns: Vec<String> = {
        let probe = Env::start(config.clone());
        members(&probe)
    };
    let admin = upns[3].clone();
    config.device_code_user = Some(admin.clone());
    let env = Env::start(config);
    let csv = rollout_csv(&upns, &["disable+revoke-sessions"]);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    let admin_before = state(&env.users()[&admin]);

    let (code, stderr) = with_device_code(&env, env.rollout("apply", &input, &out, &FAST));
    assert_eq!(code, 0, "{stderr}");
    let records = results(&out);
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.user.eq_ignore_ascii_case(&admin))
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    for r in &mine {
        assert_eq!(r.status, Status::Skipped, "{r:?}");
        assert!(
            r.message.contains("signed in") && r.message.contains("--include-self"),
            "says why and what to do: {r:?}"
        );
    }
    let users = env.users();
    assert_eq!(writes_of(&env, &admin), 0, "the admin was not written");
    assert_eq!(users[&admin]["revoke_count"], 0);
    assert_eq!(state(&users[&admin]), admin_before);
    assert!(
        upns.iter()
            .filter(|u| **u != admin)
            .all(|u| users[u]["revoke_count"] == 1),
        "everyone else was revoked"
    );

    let out2 = env.path("results-self.csv");
    let mut args = FAST.to_vec();
    args.push("--include-self");
    let (code, stderr) = with_device_code(&env, env.rollout("apply", &input, &out2, &args));
    assert_eq!(code, 0, "{stderr}");
    let users = env.users();
    assert_eq!(
        users[&admin]["revoke_count"], 1,
        "--include-self revoked the admin"
    );
    assert_eq!(state(&users[&admin]), "disabled");
    let mine = results(&out2)
        .into_iter()
        .filter(|r| r.user.eq_ignore_ascii_case(&admin))
        .collect::<Vec<_>>();
    assert!(
        mine.iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged)),
        "{mine:?}"
    );
}

#[test]
fn a_resume_typed_without_the_exclusions_still_leaves_the_excluded_users_alone() {
    let env = Env::start(EmulatorConfig::generated(40, 92).seed(92).no_throttle());
    let mut upns = members(&env);
    upns.retain(|u| state(&env.users()[u]) != "enforced");
    // The protected user is the last row, so a first wave of --limit 5 never reaches it.
    let protected = upns.last().expect("a user").clone();
    let input = env.write("users.csv", &rollout_csv(&upns, &["enforce"]));
    let out = env.path("results.csv");
    let mut first = FAST.to_vec();
    first.extend(["--limit", "5", "--exclude-user", &protected]);
    env.apply(&input).results(&out).args(&first).expect_exit(0);
    assert_eq!(stat(&env.stats(), "users_written"), 5);
    // The excluded row is journaled skipped at once, though the wave stopped before it.
    let row = results(&out)
        .into_iter()
        .find(|r| r.user.eq_ignore_ascii_case(&protected))
        .expect("the excluded row is in the first run's results");
    assert_eq!(row.status, Status::Skipped, "{row:?}");

    // The admin resumes and forgets --exclude-user: the journal already says skipped.
    let mut again = FAST.to_vec();
    again.push("--resume");
    env.apply(&input).results(&out).args(&again).expect_exit(0);
    assert_eq!(writes_of(&env, &protected), 0, "{protected} was written");
    assert_ne!(state(&env.users()[&protected]), "enforced");
    let row = results(&out)
        .into_iter()
        .find(|r| r.user.eq_ignore_ascii_case(&protected))
        .expect("a row");
    assert_eq!(row.status, Status::Skipped, "{row:?}");
    assert!(row.message.starts_with("excluded"), "{row:?}");
    assert_eq!(stat(&env.stats(), "users_written"), upns.len() as u64 - 1);
}
