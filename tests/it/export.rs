//! `mfa-rollout export` against the emulator: the file matches the tenant exactly (every user
//! once, state, methods, default method), nothing is written, a workbook has the same rows,
//! the file fed back as input rolls out, and a killed export resumes with no user missing or
//! doubled.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mfa_rollout::emulator::{EmulatorConfig, TenantSpec};
use serde_json::Value;

use crate::util::{Env, Invocation, Output, stat};

/// A generated tenant: guests, upper-case / apostrophe / `$` UPNs, all three states, method
/// lists longer than one page, nested groups.
fn tenant(users: usize) -> EmulatorConfig {
    let mut config = EmulatorConfig::generated(users, 17).no_throttle();
    // Two entries a page (the password is one): most method lists take several pages.
    config.methods_page_size = 2;
    config
}

fn export(env: &Env, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = env.command();
    c.arg("export").arg("--out").arg(out);
    env.point_at_emulator(&mut c);
    c.arg("--quiet").args(extra);
    c
}

/// The export's rows by id: (column → value).
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("export readable");
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The methods column the emulator's user should have: its methods in order, phones named
/// by their type.
fn expected_methods(user: &Value) -> String {
    user["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m["type"].as_str().unwrap() {
            "phone" => match m["phoneType"].as_str().unwrap() {
                "alternateMobile" => "alternateMobilePhone".to_string(),
                "office" => "officePhone".to_string(),
                _ => "mobilePhone".to_string(),
            },
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn exported_state_count(path: &Path, state: &str) -> usize {
    rows(path)
        .iter()
        .filter(|r| r["perUserMfaState"] == state)
        .count()
}

#[track_caller]
fn assert_matches_emulator(env: &Env, exported: &[HashMap<String, String>]) {
    assert_matches_users(&env.emu.users(), exported);
}

/// The rows are the users of `users` (an emulator's users JSON, one tenant's) exactly.
#[track_caller]
fn assert_matches_users(users: &Value, exported: &[HashMap<String, String>]) {
    let users = users["users"].as_array().unwrap();
    assert_eq!(exported.len(), users.len(), "every user, once");
    let by_id: HashMap<&str, &HashMap<String, String>> =
        exported.iter().map(|r| (r["id"].as_str(), r)).collect();
    assert_eq!(by_id.len(), users.len(), "no user twice");
    for u in users {
        let id = u["id"].as_str().unwrap();
        let row = by_id.get(id).unwrap_or_else(|| panic!("{id} missing"));
        let upn = u["upn"].as_str().unwrap();
        assert_eq!(row["user"], upn);
        assert_eq!(row["displayName"], u["displayName"].as_str().unwrap());
        assert_eq!(row["userType"], u["userType"].as_str().unwrap());
        assert_eq!(row["accountEnabled"], u["accountEnabled"].to_string());
        assert_eq!(
            row["perUserMfaState"],
            u["perUserMfaState"].as_str().unwrap(),
            "{upn}"
        );
        assert_eq!(row["methods"], expected_methods(u), "{upn}");
        assert_eq!(
            row["defaultMethod"],
            u["defaultMethod"].as_str().unwrap_or(""),
            "{upn}"
        );
        assert_eq!(row["action"], "");
        assert_eq!(row["error"], "", "{upn}");
    }
}

#[test]
fn export_of_a_tenant_with_guests_groups_and_every_state_matches_the_emulator_exactly() {
    let env = Env::start(tenant(260));
    let out = env.path("users.csv");
    let stdout = Invocation::from(export(&env, &out, &[]))
        .expect_exit(0)
        .stdout;
    assert!(stdout.contains(": 260 users"), "{stdout}");
    // `report` summarises the file: users per state, users without a method.
    let mut report = env.command();
    report
        .arg("report")
        .arg(&out)
        .arg("--html")
        .arg(env.path("export.html"));
    let Output { stdout: text, .. } = Invocation::from(report).expect_exit(0);
    assert!(text.contains("no method registered:"), "{text}");
    for state in ["disabled", "enabled", "enforced"] {
        let n = exported_state_count(&out, state);
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [state, &n.to_string()]),
            "{state} {n}: {text}"
        );
    }
    let html = std::fs::read_to_string(env.path("export.html")).unwrap();
    assert!(html.contains("260 users"), "{html}");
    let exported = rows(&out);
    assert_matches_emulator(&env, &exported);
    // The tenant really has what the test claims to cover.
    let states: std::collections::BTreeSet<&str> = exported
        .iter()
        .map(|r| r["perUserMfaState"].as_str())
        .collect();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(exported.iter().any(|r| r["userType"] == "Guest"));
    assert!(
        exported
            .iter()
            .any(|r| r["methods"].split(';').count() >= 2),
        "a list over a page"
    );
    assert!(exported.iter().any(|r| r["methods"].is_empty()));
    assert_eq!(stat(&env.stats(), "writes"), 0, "an export writes nothing");
    // Nothing is left beside the file.
    assert!(!env.path("users.csv.partial").exists());
    assert!(!env.path("users.csv.users").exists());

    // The same users as a workbook; --json says users per state and users without a method.
    let xlsx = env.path("users.xlsx");
    let stdout = Invocation::from(export(&env, &xlsx, &["--json"]))
        .expect_exit(0)
        .stdout;
    let summary: Value = serde_json::from_str(stdout.trim()).expect("json summary");
    assert_eq!(summary["users"], 260);
    let per_state: u64 = summary["per_user_mfa_state"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_state, 260);
    let no_method = exported.iter().filter(|r| r["methods"].is_empty()).count();
    assert_eq!(summary["without_method"], no_method as u64);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("users").unwrap();
    assert_eq!(range.get_size(), (261, 10));
    assert_eq!(stat(&env.stats(), "writes"), 0);

    // An existing export is not replaced without --overwrite.
    Invocation::from(export(&env, &out, &[]))
        .expect_exit(2)
        .stderr_has("--overwrite");
}

#[test]
fn all_users_exports_members_only_and_a_filter_goes_to_graph() {
    let env = Env::start(tenant(60));
    let out = env.path("members.csv");
    Invocation::from(export(&env, &out, &["--all-users"])).expect_exit(0);
    let members = rows(&out);
    assert_eq!(members.len(), 54, "60 users less the 6 guests");
    assert!(members.iter().all(|r| r["userType"] == "Member"));
    let out = env.path("disabled.csv");
    Invocation::from(export(&env, &out, &["--filter", "accountEnabled eq false"])).expect_exit(0);
    let off = rows(&out);
    let expected = env
        .users()
        .values()
        .filter(|u| u["accountEnabled"] == false)
        .count();
    assert_eq!(off.len(), expected);
    assert!(off.iter().all(|r| r["accountEnabled"] == "false"));
    // A filter Graph refuses stops before any user is read, with Graph's words.
    let stderr = Invocation::from(export(
        &env,
        &env.path("bad.csv"),
        &["--filter", "endsWith(mail,'@contoso.com')"],
    ))
    .expect_exit(1)
    .stderr;
    assert!(stderr.contains("Request_UnsupportedQuery"), "{stderr}");
}

#[test]
fn an_export_fed_back_with_action_enforce_rolls_out_and_a_filled_in_column_works_too() {
    let env = Env::start(tenant(80));
    let out = env.path("users.csv");
    Invocation::from(export(&env, &out, &[])).expect_exit(0);
    // The export's action column is empty, so --action gives every row its action.
    let results = env.path("results.csv");
    Invocation::from(env.rollout("apply", &out, &results, &["--action", "enforce"])).expect_exit(0);
    for (upn, u) in env.users() {
        assert_eq!(u["perUserMfaState"], "enforced", "{upn}");
    }
    // The export afterwards is the after-picture; the admin fills its action column in (as a
    // spreadsheet would save it) and rolls that out.
    let after = env.path("after.csv");
    Invocation::from(export(&env, &after, &[])).expect_exit(0);
    assert!(
        rows(&after)
            .iter()
            .all(|r| r["perUserMfaState"] == "enforced")
    );
    let mut r = csv::Reader::from_path(&after).unwrap();
    let header = r.headers().unwrap().clone();
    let action = header.iter().position(|h| h == "action").unwrap();
    let mut w = csv::Writer::from_path(env.path("wave.csv")).unwrap();
    w.write_record(&header).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        let cells: Vec<&str> = rec
            .iter()
            .enumerate()
            .map(|(i, c)| if i == action { "disable" } else { c })
            .collect();
        w.write_record(cells).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    Invocation::from(env.rollout("apply", &env.path("wave.csv"), &env.path("r2.csv"), &[]))
        .expect_exit(0);
    for (upn, u) in env.users() {
        assert_eq!(u["perUserMfaState"], "disabled", "{upn}");
    }
    // With the column filled in, --action is refused rather than overriding it.
    let stderr = Invocation::from(env.rollout(
        "apply",
        &env.path("wave.csv"),
        &env.path("r3.csv"),
        &["--action", "enforce"],
    ))
    .expect_exit(2)
    .stderr;
    assert!(
        stderr.contains("would override the file's own action column 'action'"),
        "{stderr}"
    );
}

#[test]
fn export_resumes_after_a_kill_with_no_user_missing_or_doubled() {
    // Slow enough to be killed mid-way: 40 ms a batch, one batch in flight.
    let mut config = tenant(400);
    config.faults.latency_ms = 40;
    let env = Env::start(config);
    let out = env.path("users.csv");
    let journal = env.path("users.csv.partial");
    let args = ["--concurrency", "1"];
    let mut child = export(&env, &out, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill once some users are journaled, long before all 400.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > 30 {
            break;
        }
        assert!(Instant::now() < deadline, "the export never journaled");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "no final file from a killed export");
    let partial = std::fs::read_to_string(&journal).unwrap().lines().count() - 1;
    assert!(partial < 400, "{partial}");
    let reads_before = stat(&env.stats(), "items");
    // Members only is not the first run's selection (every user, guests included): refused,
    // nothing read.
    Invocation::from(export(&env, &out, &["--resume", "--all-users"]))
        .expect_exit(2)
        .stderr_has(
            "users.csv.users lists the users selected with --all-users --include-guests, not --all-users",
        );
    assert_eq!(stat(&env.stats(), "items"), reads_before);
    Invocation::from(export(&env, &out, &["--resume"])).expect_exit(0);
    assert_matches_emulator(&env, &rows(&out));
    // The users already journaled were not read again: at most the last batch in flight
    // (20 users, 3 reads each) is redone, and the list (one page) read again.
    let reads_after = stat(&env.stats(), "items") - reads_before;
    let todo = (400 - partial) as u64;
    assert!(
        reads_after <= (todo + 20) * 4 + 2,
        "{reads_after} reads for {todo} users"
    );
    assert_eq!(stat(&env.stats(), "writes"), 0);
    // --resume with nothing under way says so.
    Invocation::from(export(&env, &out, &["--resume"])).expect_exit(2);
}

#[test]
fn check_names_what_export_needs_and_export_stops_with_exit_3_without_it() {
    let env = Env::start(tenant(5).withhold_permission("UserAuthenticationMethod.ReadWrite.All"));
    let stdout = Invocation::from(env.check(None)).expect_exit(3).stdout;
    let export_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("export "))
        .collect();
    assert_eq!(export_lines.len(), 3, "{stdout}");
    assert!(
        export_lines
            .iter()
            .any(|l| l.contains("UserAuthenticationMethod.Read.All") && l.contains("MISSING")),
        "{stdout}"
    );
    assert!(
        export_lines
            .iter()
            .any(|l| l.contains("User.Read.All") && l.contains("ok")),
        "{stdout}"
    );
    let out = env.path("users.csv");
    Invocation::from(export(&env, &out, &[]))
        .expect_exit(3)
        .stderr_has("UserAuthenticationMethod.Read.All (for export)");
    assert!(!out.exists() && !env.path("users.csv.partial").exists());
    assert_eq!(stat(&env.stats(), "items"), 0, "nothing read");
}

// ------------------------------------------------------------ export --tenants

const CONTOSO: &str = "00000000-0000-4000-8000-00000000a11c";
const FABRIKAM: &str = "00000000-0000-4000-8000-0000000fab01";
const FABRIKAM_DOMAIN: &str = "fabrikam.onmicrosoft.com";
const NORTHWIND: &str = "00000000-0000-4000-8000-00000000a0a7";
const NORTHWIND_DOMAIN: &str = "northwind.onmicrosoft.com";

/// Contoso (the top level, 60 users), Fabrikam (45) and Northwind (30, not consented yet),
/// each generated with its own seed: guests, every state, method lists of several pages.
fn three_customers() -> EmulatorConfig {
    let mut config = tenant(60);
    let customer = |id: &str, domain: &str, users: usize, seed: u64| {
        TenantSpec::new(id, domain, EmulatorConfig::generated(users, seed).users)
    };
    let mut northwind = customer(NORTHWIND, NORTHWIND_DOMAIN, 30, 29);
    northwind.consented = false;
    config.tenants = vec![customer(FABRIKAM, FABRIKAM_DOMAIN, 45, 23), northwind];
    config
}

/// The rows of `tenant` (its cell as the --tenants file names it).
fn rows_of(all: &[HashMap<String, String>], tenant: &str) -> Vec<HashMap<String, String>> {
    all.iter()
        .filter(|r| r["tenant"] == tenant)
        .cloned()
        .collect()
}

#[test]
fn export_over_tenants_matches_each_tenant_and_a_tenant_without_consent_is_exported_on_resume() {
    let env = Env::start(three_customers());
    let list = env.write(
        "customers.txt",
        &format!("contoso.onmicrosoft.com\n{FABRIKAM}\n{NORTHWIND_DOMAIN}\n"),
    );
    let out = env.path("users.csv");
    let run = |env: &Env, extra: &[&str]| {
        let mut c = export(env, &out, &["--tenants"]);
        c.arg(&list).args(extra).env_remove("AZURE_TENANT_ID");
        Invocation::from(c)
    };
    // Northwind has not consented: it stops alone, the others are exported.
    let html = env.path("export.html");
    let first = run(&env, &["--json", "--html", html.to_str().unwrap()])
        .expect_exit(5)
        .stderr_has(&format!("tenant {NORTHWIND_DOMAIN}: not signed in"))
        .stderr_has("AADSTS7000229");
    let header = std::fs::read_to_string(&out).unwrap();
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .ends_with(",action,error,tenant"),
        "{header}"
    );
    let exported = rows(&out);
    assert_eq!(exported.len(), 60 + 45);
    // Tenant after tenant, in the --tenants file's order.
    assert!(
        exported[..60]
            .iter()
            .all(|r| r["tenant"] == "contoso.onmicrosoft.com")
    );
    assert_matches_users(
        &env.emu.tenant_users(CONTOSO).unwrap(),
        &rows_of(&exported, "contoso.onmicrosoft.com"),
    );
    assert_matches_users(
        &env.emu.tenant_users(FABRIKAM).unwrap(),
        &rows_of(&exported, FABRIKAM),
    );
    let summary: Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(summary["users"], 105, "{summary}");
    let lines = summary["tenants"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{summary}");
    assert_eq!(lines[0]["users"], 60);
    assert_eq!(lines[1]["finished"], true);
    assert_eq!(lines[2]["finished"], false);
    assert!(
        lines[2]["stop_reason"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000229")
    );
    // The page has the totals, then a line per tenant: its users, or why it stopped.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("105 users"), "{page}");
    let table = &page[page.find("<h2>Per tenant</h2>").expect("a tenant table")..];
    let row = |tenant: &str| {
        let start = table.find(&format!("<tr><td>{tenant}</td>")).expect(tenant);
        &table[start..start + table[start..].find("</tr>").unwrap()]
    };
    assert!(
        row("contoso.onmicrosoft.com").contains("<td>60</td>"),
        "{table}"
    );
    assert!(
        row(FABRIKAM).contains("<td>45</td><td>0</td><td>done</td>"),
        "{table}"
    );
    assert!(row(NORTHWIND_DOMAIN).contains("STOPPED: "), "{table}");
    assert!(row(NORTHWIND_DOMAIN).contains("AADSTS7000229"), "{table}");
    for id in [CONTOSO, FABRIKAM, NORTHWIND] {
        assert_eq!(env.emu.tenant_stats(id).unwrap()["writes"], 0, "{id}");
    }
    // Its sign-in was refused: nothing was read there.
    assert_eq!(
        env.emu.tenant_stats(NORTHWIND).unwrap()["authorized_requests"],
        0
    );
    // Each tenant's list and journal beside the file, for --resume.
    for name in ["contoso.onmicrosoft.com", FABRIKAM] {
        assert!(
            env.path(&format!("users.csv.{name}.users")).exists(),
            "{name}"
        );
        assert!(
            env.path(&format!("users.csv.{name}.partial")).exists(),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(env.path("users.csv.tenants")).unwrap(),
        format!("contoso.onmicrosoft.com\n{FABRIKAM}\n")
    );

    // Consented now: --resume lists and reads Northwind only, and writes the whole file.
    let mut fixed = env.emu.current_state();
    fixed.tenants[1].consented = true;
    let later = Env::start(fixed);
    run(&later, &["--resume"]).expect_exit(0);
    let all = rows(&out);
    assert_eq!(all.len(), 60 + 45 + 30);
    for (id, name) in [
        (CONTOSO, "contoso.onmicrosoft.com"),
        (FABRIKAM, FABRIKAM),
        (NORTHWIND, NORTHWIND_DOMAIN),
    ] {
        assert_matches_users(&later.emu.tenant_users(id).unwrap(), &rows_of(&all, name));
    }
    for id in [CONTOSO, FABRIKAM] {
        let stats = later.emu.tenant_stats(id).unwrap();
        assert_eq!(stats["items"], 0, "{id} was read before: {stats}");
    }
    // Done: nothing left beside the file.
    let left: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("users.csv."))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The file is a many-tenant input once it has its actions.
    let mut validate = later.command();
    validate
        .arg("validate")
        .arg(&out)
        .args(["--action", "enforce"]);
    Invocation::from(validate).expect_exit(0);

    // A workbook has the same rows, the tenant in the column after the fixed ones.
    let xlsx = later.path("users.xlsx");
    let mut c = export(&later, &xlsx, &["--tenants"]);
    c.arg(&list).env_remove("AZURE_TENANT_ID");
    Invocation::from(c).expect_exit(0);
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let range = book.worksheet_range("users").unwrap();
    assert_eq!(range.get_size(), (1 + 135, 11));
    assert_eq!(range.get_value((0, 10)).unwrap().to_string(), "tenant");
    assert_eq!(
        range.get_value((135, 10)).unwrap().to_string(),
        NORTHWIND_DOMAIN
    );
}

#[test]
fn export_over_tenants_shares_the_apps_all_tenants_resource_units_without_a_429_storm() {
    // Three tenants of 300 users, each reading on its own budget (741 reads/s, growing while
    // Graph has room); the app's resource units across all tenants limited to 1,000/s
    // (20,000 per 20 s), 5 % full at the start, so that limit binds and theirs do not.
    let customer = |id: &str, domain: &str, seed: u64| {
        TenantSpec::new(id, domain, EmulatorConfig::generated(300, seed).users)
    };
    let mut config = EmulatorConfig::generated(300, 17);
    config.tenants = vec![
        customer(FABRIKAM, FABRIKAM_DOMAIN, 23),
        customer(NORTHWIND, NORTHWIND_DOMAIN, 29),
    ];
    config.app_quotas = mfa_rollout::emulator::AppQuotas {
        resource_units_per_20s: 20_000.0,
        initial_fill: 0.05,
        ..mfa_rollout::emulator::AppQuotas::default()
    };
    let env = Env::start(config);
    let list = env.write(
        "customers.txt",
        &format!("contoso.onmicrosoft.com\n{FABRIKAM}\n{NORTHWIND_DOMAIN}\n"),
    );
    let out = env.path("users.csv");
    let mut c = export(&env, &out, &["--tenants"]);
    c.arg(&list)
        .args(["--app-unit-rate", "970"])
        .env_remove("AZURE_TENANT_ID");
    Invocation::from(c).expect_exit(0);
    let exported = rows(&out);
    for (id, name) in [
        (CONTOSO, "contoso.onmicrosoft.com"),
        (FABRIKAM, FABRIKAM),
        (NORTHWIND, NORTHWIND_DOMAIN),
    ] {
        assert_matches_users(
            &env.emu.tenant_users(id).unwrap(),
            &rows_of(&exported, name),
        );
        let stats = env.emu.tenant_stats(id).unwrap();
        let (items, throttled) = (stat(&stats, "items"), stat(&stats, "throttled"));
        assert!(
            throttled * 100 <= items,
            "{name}: {throttled} of {items} items answered 429"
        );
    }
}
