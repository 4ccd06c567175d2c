//! Integration tests for the mistakes a new admin makes in the first hour (issue 14): each is
//! refused with its exit code and one line naming the flag, and leaves every file as it was
//! and the tenant untouched.

use std::path::Path;

use mfa_rollout::emulator::EmulatorConfig;

use crate::util::{Env, Invocation, Output, rollout_csv, stat, upns};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Nothing reached the emulator: no sign-in, no request.
fn assert_untouched(env: &Env) {
    let stats = env.stats();
    assert_eq!(stat(&stats, "requests"), 0, "{stats}");
    assert_eq!(stat(&stats, "token_grants"), 0, "{stats}");
}

#[test]
fn an_output_path_that_is_the_input_is_refused_and_the_input_survives() {
    let env = Env::start(EmulatorConfig::generated(5, 1).no_throttle());
    let csv = rollout_csv(&upns(&env), &["enforce"]);
    let input = env.write("in.csv", &csv);
    std::fs::create_dir(env.path("sub")).unwrap();
    let roundabout = Path::new("sub/../in.csv");
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "apply",
            vec!["--results", "in.csv", "--overwrite"],
            "--results in.csv is the INPUT file",
        ),
        (
            "apply",
            vec!["--results", "./in.csv"],
            "--results ./in.csv is the INPUT file",
        ),
        (
            "apply",
            vec!["--results", roundabout.to_str().unwrap(), "--overwrite"],
            "is the INPUT file",
        ),
        (
            "plan",
            vec!["--report", "p.csv", "--html", "in.csv"],
            "--html in.csv is the INPUT file",
        ),
        (
            "plan",
            vec!["--report", "p.csv", "--html", "./p.csv"],
            "--html ./p.csv is the same file as --report p.csv",
        ),
    ];
    for (sub, flags, expected) in cases {
        let mut c = env.command();
        c.arg(sub).arg("in.csv").args(&flags);
        env.point_at_emulator(&mut c);
        let stderr = Invocation::from(c)
            .labelled(format!("{sub} {flags:?}"))
            .expect_exit(2)
            .stderr;
        assert!(stderr.contains(expected), "{sub} {flags:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert_eq!(read(&input), csv.as_bytes(), "{sub} {flags:?}: input kept");
        assert!(!env.path("p.csv").exists(), "no report made");
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&input, env.path("link.csv")).unwrap();
        let mut c = env.command();
        c.args(["apply", "in.csv", "--results", "link.csv", "--overwrite"]);
        env.point_at_emulator(&mut c);
        Invocation::from(c)
            .expect_exit(2)
            .stderr_has("--results link.csv is the INPUT file");
        assert_eq!(read(&input), csv.as_bytes());
    }
    assert_untouched(&env);
}

#[test]
fn an_existing_html_report_is_kept_without_overwrite() {
    let env = Env::start(EmulatorConfig::generated(5, 1).no_throttle());
    let input = env.write("in.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let page = env.write("r.html", "<p>last week's report</p>");
    let report = env.path("p.csv");
    Invocation::from(env.rollout("plan", &input, &report, &["--html", "r.html"]))
        .expect_exit(2)
        .stderr_has("--html r.html already exists and is not empty: pass --overwrite");
    assert_eq!(read(&page), b"<p>last week's report</p>");
    assert!(!report.exists());
    assert_untouched(&env);

    Invocation::from(env.rollout(
        "plan",
        &input,
        &report,
        &["--html", "r.html", "--overwrite"],
    ))
    .expect_exit(0);
    assert!(String::from_utf8(read(&page)).unwrap().contains("<html"));
}

#[test]
fn rollback_and_report_refuse_to_write_over_the_results_they_read() {
    let env = Env::start(EmulatorConfig::generated(5, 1).no_throttle());
    let input = env.write("in.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &input, &out, &[])).expect_exit(0);
    let before = read(&out);

    let mut c = env.rollback(&out, Path::new("./r.csv"));
    c.arg("--overwrite");
    Invocation::from(c)
        .expect_exit(2)
        .stderr_has("--out ./r.csv is the RESULTS file");
    assert_eq!(read(&out), before);

    let mut c = env.command();
    c.args(["report", "r.csv", "--html", "r.csv", "--overwrite"]);
    Invocation::from(c)
        .expect_exit(2)
        .stderr_has("--html r.csv is the RESULTS file");
    assert_eq!(read(&out), before);
}

#[test]
fn action_flag_over_a_file_with_an_action_column_is_refused_before_anything_is_read() {
    let env = Env::start(EmulatorConfig::generated(6, 2).no_throttle());
    let csv = rollout_csv(&upns(&env), &["enable", "disable", "enforce"]);
    let input = env.write("in.csv", &csv);
    let expected = "--action enforce would override the file's own action column 'action' (column B): drop --action to use the column";
    let mut c = env.command();
    c.args(["validate", "in.csv", "--action", "enforce"]);
    let Output { stdout, stderr, .. } = Invocation::from(c).expect_exit(2);
    assert!(stderr.contains(expected), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");

    let report = env.path("p.csv");
    Invocation::from(env.rollout("plan", &input, &report, &["--action", "enforce"]))
        .expect_exit(2)
        .stderr_has(expected);
    assert!(!report.exists(), "no report made");
    assert_eq!(read(&input), csv.as_bytes());
    assert_untouched(&env);
}

#[test]
fn a_garbage_graph_access_token_is_refused_before_the_first_request() {
    let env = Env::start(EmulatorConfig::generated(4, 3).no_throttle());
    let csv = rollout_csv(&upns(&env), &["enforce"]);
    let input = env.write("in.csv", &csv);
    let garbage = "Bearer-pasted-from-the-wrong-window";
    let expected =
        "GRAPH_ACCESS_TOKEN is not a Microsoft Graph access token (the token is not a JWT)";
    for sub in ["apply", "plan"] {
        let out = env.path("out.csv");
        let mut c = env.rollout(sub, &input, &out, &[]);
        c.env_remove("AZURE_CLIENT_SECRET")
            .env("GRAPH_ACCESS_TOKEN", garbage);
        let Output { stdout, stderr, .. } = Invocation::from(c).labelled(sub).expect_exit(3);
        assert!(stderr.contains(expected), "{sub}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{sub}: {stderr}");
        assert!(!stderr.contains(garbage) && !stdout.contains(garbage));
        assert!(!out.exists(), "{sub}: no results file made");
        assert_eq!(read(&input), csv.as_bytes());
    }
    let mut c = env.check(None);
    c.env_remove("AZURE_CLIENT_SECRET")
        .env("GRAPH_ACCESS_TOKEN", garbage);
    let stderr = Invocation::from(c).expect_exit(3).stderr;
    assert!(stderr.contains(expected), "check says the same: {stderr}");
    assert_untouched(&env);
}

#[cfg(unix)]
#[test]
fn sigterm_drains_journals_prints_the_resume_command_and_exits_143() {
    use std::time::{Duration, Instant};

    use mfa_rollout::journal::Status;

    use crate::util::results;

    let env = Env::start(EmulatorConfig::generated(60, 4).no_throttle());
    let csv = rollout_csv(&upns(&env), &["enforce", "disable"]);
    let input = env.write("in.csv", &csv);
    let out = env.path("r.csv");
    // Slow enough that the run is mid-way when the signal comes.
    let pace = [
        "--write-rate",
        "10",
        "--read-rate",
        "20",
        "--concurrency",
        "1",
    ];
    let mut c = env.rollout("apply", &input, &out, &pace);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    // The header and a first record: the engine (and its signal handlers) runs.
    while std::fs::read(&out).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count()) < 2 {
        assert!(
            Instant::now() < deadline,
            "the run never journaled a record"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("terminated (SIGTERM); the results so far are in"),
        "{stderr}"
    );
    assert!(
        stderr.contains("resume with: mfa-rollout apply"),
        "{stderr}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(read(&input), csv.as_bytes(), "input kept");
    // Every change made is journaled: the emulator's writes all show as applied records.
    let journaled = results(&out);
    assert!(journaled.len() < 60, "stopped mid-way: {}", journaled.len());
    let applied = journaled
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count() as u64;
    assert_eq!(applied, stat(&env.stats(), "writes"), "{stderr}");

    // The printed resume command finishes the run, and says where it picks up.
    let rows_done = journaled
        .iter()
        .map(|r| r.row)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut c = env.command();
    c.args(["apply", "in.csv", "--results", "r.csv", "--resume"]);
    env.point_at_emulator(&mut c);
    c.stdout(std::process::Stdio::null());
    Invocation::from(c)
        .expect_exit(0)
        .stderr_has(&format!("resuming: {rows_done} of 60 rows done"));
    assert_eq!(results(&out).len(), 60);
}

#[test]
fn sandbox_state_keeps_the_tenant_so_apply_rollback_and_the_undo_can_be_rehearsed() {
    use mfa_rollout::journal::Status;

    use crate::util::results;

    let env = Env::start(EmulatorConfig::generated(1, 1).no_throttle());
    let config = EmulatorConfig::generated(30, 7);
    let upns: Vec<String> = config.users.iter().map(|u| u.upn.clone()).collect();
    let original: std::collections::HashMap<String, String> = config
        .users
        .iter()
        .map(|u| (u.upn.clone(), u.per_user_mfa_state.clone()))
        .collect();
    let seed = config.to_tenant_json().to_string();
    env.write("tenant.json", &seed);
    let csv = rollout_csv(&upns, &["enforce", "disable"]);
    env.write("in.csv", &csv);
    let sandbox = |args: &[&str]| {
        let mut c = env.command();
        c.args(args).args([
            "--sandbox",
            "tenant.json",
            "--sandbox-state",
            "state.json",
            "-q",
        ]);
        Invocation::from(c)
    };

    let Output { stdout, stderr, .. } =
        sandbox(&["apply", "in.csv", "--results", "r1.csv"]).expect_exit(0);
    let changed = results(&env.path("r1.csv"))
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count();
    assert!(changed > 0, "the rollout changed users");
    assert_eq!(
        stdout.trim_end(),
        format!("done: 30 rows, {changed} changes made"),
        "{stderr}"
    );
    assert!(env.path("state.json").exists(), "the state was saved");

    Invocation::from(env.rollback(&env.path("r1.csv"), &env.path("undo.csv"))).expect_exit(0);
    let stdout = sandbox(&["apply", "undo.csv", "--results", "r2.csv"])
        .expect_exit(0)
        .stdout;
    assert!(
        stdout.starts_with(&format!("done: {changed} rows, ")),
        "{stdout}"
    );
    // The rehearsal keeps its state in state.json only: the seed and the input are as written.
    assert_eq!(read(&env.path("tenant.json")), seed.as_bytes());
    assert_eq!(read(&env.path("in.csv")), csv.as_bytes());
    let undone = results(&env.path("r2.csv"));
    assert_eq!(undone.len(), changed, "one undo row per change");
    // Graph keeps a user with a registered method enforced when asked for `enabled`
    // (docs/graph.md §1): those rows are `unchanged` and say so; every other one is undone.
    let kept_enforced: Vec<&str> = undone
        .iter()
        .filter(|r| {
            r.status == Status::Unchanged && r.message.contains("Graph keeps this user enforced")
        })
        .map(|r| r.user.as_str())
        .collect();
    let applied = undone
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count();
    assert!(applied > 0);
    assert_eq!(applied + kept_enforced.len(), changed, "{undone:?}");
    let state = EmulatorConfig::from_tenant_file(&env.path("state.json")).unwrap();
    for u in &state.users {
        let want = if kept_enforced.contains(&u.upn.as_str()) {
            "enforced"
        } else {
            original[&u.upn].as_str()
        };
        assert_eq!(u.per_user_mfa_state, want, "{}", u.upn);
    }
}

#[test]
fn a_damaged_sandbox_state_file_is_refused_and_left_as_it_was() {
    let env = Env::start(EmulatorConfig::generated(1, 1).no_throttle());
    let csv = "upn,action\nuser0001@contoso.onmicrosoft.com,enforce\n";
    let input = env.write("in.csv", csv);
    let damaged = env.write("state.json", "{\"users\": [ {\"userPrincipalName\": ");
    let mut c = env.command();
    c.args([
        "apply",
        "in.csv",
        "--results",
        "r.csv",
        "--sandbox-state",
        "state.json",
    ]);
    let stderr = Invocation::from(c).expect_exit(2).stderr;
    assert!(
        stderr.starts_with("error: state.json: tenant file state.json: "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(read(&damaged), b"{\"users\": [ {\"userPrincipalName\": ");
    assert!(!env.path("r.csv").exists(), "no results file made");
    assert_eq!(read(&input), csv.as_bytes());

    let mut c = env.command();
    c.args([
        "apply",
        "in.csv",
        "--results",
        "r.csv",
        "--sandbox-state",
        "./in.csv",
    ]);
    Invocation::from(c)
        .expect_exit(2)
        .stderr_has("--sandbox-state ./in.csv is the INPUT file");
    assert_eq!(read(&input), csv.as_bytes());
}

#[test]
fn version_names_the_commit_and_the_target() {
    let out = std::process::Command::new(crate::util::BIN)
        .arg("--version")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("mfa-rollout {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&prefix), "{line}");
    let rest = line[prefix.len()..].trim_end();
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", "))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    assert!(target.split('-').count() >= 3, "a target triple: {line}");
}

#[test]
fn the_plan_for_enable_predicts_the_after_state_the_run_reports() {
    use std::collections::HashMap;

    use mfa_rollout::journal::Status;

    use crate::util::results;

    let env = Env::start(EmulatorConfig::generated(80, 12).no_throttle());
    let input = env.write("in.csv", &rollout_csv(&upns(&env), &["enable"]));
    let plan = env.path("plan.csv");
    Invocation::from(env.rollout("plan", &input, &plan, &[])).expect_exit(0);
    assert_eq!(stat(&env.stats(), "writes"), 0);
    let planned = results(&plan);
    let predicted_enforced = planned
        .iter()
        .filter(|r| r.status == Status::Planned && r.after == "enforced")
        .count();
    assert!(
        predicted_enforced > 0,
        "some users have methods: {planned:?}"
    );

    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &input, &out, &[])).expect_exit(0);
    let after: HashMap<u64, String> = results(&out)
        .into_iter()
        .map(|r| (r.row, r.after))
        .collect();
    for p in &planned {
        assert_eq!(
            p.after, after[&p.row],
            "row {}: plan and run disagree",
            p.row
        );
    }
}

#[test]
fn quiet_keeps_the_outcome_line_and_a_c_locale_gets_ascii() {
    let env = Env::start(EmulatorConfig::generated(12, 8).no_throttle());
    let input = env.write("in.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let stdout = Invocation::from(env.rollout("plan", &input, &env.path("p.csv"), &[]))
        .expect_exit(0)
        .stdout;
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("plan: ") && stdout.contains("would be made"),
        "{stdout}"
    );

    let mut c = env.command();
    c.args(["plan", "in.csv", "--report", "p2.csv"])
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("LANG", "C");
    env.point_at_emulator(&mut c);
    let Output { stdout, stderr, .. } = Invocation::from(c).expect_exit(0);
    assert!(stdout.lines().count() > 1, "{stdout}");
    assert!(stdout.contains(" -> "), "{stdout}");
    assert!(stdout.is_ascii() && stderr.is_ascii(), "{stdout}{stderr}");
}

#[test]
fn validate_json_prints_a_refused_files_problems_as_json_and_counts_read_as_words() {
    let env = Env::start(EmulatorConfig::generated(1, 1).no_throttle());
    env.write("bad.csv", "Name,Login\nA,a@contoso.com\n");
    let mut c = env.command();
    c.args(["validate", "bad.csv", "--json"]);
    let stdout = Invocation::from(c).expect_exit(2).stdout;
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON on stdout");
    assert_eq!(v["refused"], true);
    assert_eq!(v["file"], "bad.csv");
    let problems = v["problems"].as_array().expect("a list");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("no user column")),
        "{v}"
    );

    env.write("one.csv", "upn,action\na@contoso.com,enforce\n");
    let mut c = env.command();
    c.args(["validate", "one.csv"]);
    let stdout = Invocation::from(c).expect_exit(0).stdout;
    assert!(
        stdout.contains("one.csv: 1 user to process (enforce: 1); 0 invalid rows, 0 warnings"),
        "{stdout}"
    );
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn plan_without_report_prints_its_summary_and_leaves_no_file_anywhere() {
    let env = Env::start(EmulatorConfig::generated(30, 5).no_throttle());
    let mut users = upns(&env);
    users.push("nobody@contoso.onmicrosoft.com".into());
    let input = env.write("in.csv", &rollout_csv(&users, &["enforce", "disable"]));
    let tmp = env.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut c = env.command();
    c.arg("plan").arg(&input).env("TMPDIR", &tmp);
    env.point_at_emulator(&mut c);
    let stdout = Invocation::from(c)
        .labelled("one user is not found")
        .expect_exit(1)
        .stdout;
    assert!(
        stdout.starts_with("plan: ") && stdout.contains("would be made (nothing was changed)"),
        "{stdout}"
    );
    assert!(stdout.contains("per-user MFA state"), "{stdout}");
    assert!(
        stdout.contains(
            "1 row failed or not found: plan with --report FILE (or --html FILE) to see which and why"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("results:"), "no file to name: {stdout}");
    assert_eq!(stat(&env.stats(), "writes"), 0);
    assert_eq!(
        files_under(env.dir.path()),
        ["in.csv"],
        "nothing in cwd or TMPDIR"
    );

    // --json: the same plan for scripts, still no file.
    let mut c = env.command();
    c.args(["plan", "in.csv", "--json"]).env("TMPDIR", &tmp);
    env.point_at_emulator(&mut c);
    let stdout = Invocation::from(c).expect_exit(1).stdout;
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["rows"], 31);
    assert_eq!(v["totals"]["not_found"], 1);
    assert_eq!(v["results"], serde_json::Value::Null);
    assert_eq!(files_under(env.dir.path()), ["in.csv"]);

    // --excel marks a CSV that is not there: refused before anything is sent.
    let before = env.stats();
    let mut c = env.command();
    c.args(["plan", "in.csv", "--excel"]);
    env.point_at_emulator(&mut c);
    let stderr = Invocation::from(c).expect_exit(2).stderr;
    assert!(
        stderr.contains("--excel") && stderr.contains("--report FILE"),
        "{stderr}"
    );
    assert_eq!(stat(&env.stats(), "requests"), stat(&before, "requests"));
    assert_eq!(files_under(env.dir.path()), ["in.csv"]);
}

#[cfg(unix)]
#[test]
fn a_plan_stopped_by_a_signal_says_how_to_plan_again_and_without_report_leaves_nothing() {
    use std::time::{Duration, Instant};

    let env = Env::start(EmulatorConfig::generated(60, 6).no_throttle());
    env.write("in.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let tmp = env.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for report in [None, Some("p.csv")] {
        let batches_before = stat(&env.stats(), "batches");
        let mut c = env.command();
        c.args([
            "plan",
            "in.csv",
            "--quiet",
            "--read-rate",
            "5",
            "--concurrency",
            "1",
        ])
        .args(report.map(|r| ["--report", r]).into_iter().flatten())
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        env.point_at_emulator(&mut c);
        let child = c.spawn().expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Two batches answered: the engine (and its signal handlers) runs.
        while stat(&env.stats(), "batches") < batches_before + 2 {
            assert!(Instant::now() < deadline, "the plan never sent a batch");
            std::thread::sleep(Duration::from_millis(10));
        }
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(143), "{stderr}");
        assert!(
            !stderr.contains("--resume"),
            "plan takes no --resume: {stderr}"
        );
        match report {
            None => {
                assert!(
                    stderr.contains(
                        "terminated (SIGTERM); nothing was written. run the plan again with: mfa-rollout plan in.csv --quiet"
                    ),
                    "{stderr}"
                );
                assert_eq!(files_under(env.dir.path()), ["in.csv"]);
            }
            Some(_) => {
                assert!(
                    stderr.contains("terminated (SIGTERM); the plan so far is in p.csv. run the plan again with: mfa-rollout plan in.csv")
                        && stderr.contains("--report p.csv")
                        && stderr.trim_end().ends_with(" --overwrite"),
                    "{stderr}"
                );
                assert!(files_under(env.dir.path()).contains(&"p.csv".to_string()));
                assert!(files_under(&tmp).is_empty());
            }
        }
    }
}

#[test]
fn the_resume_message_counts_only_rows_with_results_and_says_which_needed_no_request() {
    let env = Env::start(EmulatorConfig::generated(3, 9).no_throttle());
    let u = upns(&env);
    // Row 4 is invalid, row 5 repeats row 2.
    let csv = format!(
        "userPrincipalName,action\n{},enforce\n{},enforce\nno such user,enforce\n{},enforce\n{},disable\n",
        u[0], u[1], u[0], u[2]
    );
    env.write("in.csv", &csv);
    let resume = || {
        let mut c = env.command();
        c.args([
            "apply",
            "in.csv",
            "--results",
            "r.csv",
            "--resume",
            "--skip-invalid",
        ]);
        env.point_at_emulator(&mut c);
        c.stdout(std::process::Stdio::null());
        Invocation::from(c)
    };
    // No results yet: nothing is done, though two rows will be recorded without a request.
    resume()
        .labelled("an invalid row")
        .expect_exit(1)
        .stderr_has("resuming: 0 of 5 rows done; 5 to do\n");
    resume().expect_exit(1).stderr_has(
            "resuming: 5 of 5 rows done (2 invalid or repeated rows among them, recorded with nothing sent); 0 to do\n"
        );
}

#[test]
fn counts_in_rollback_and_input_errors_read_as_words_with_separators() {
    use mfa_rollout::journal::{ResultRecord, Status, write_results};

    let env = Env::start(EmulatorConfig::generated(1, 1).no_throttle());
    let rec = |row: u64, action: &str, before: &str| ResultRecord {
        row,
        user: format!("u{row}@contoso.com"),
        action: action.into(),
        status: Status::Applied,
        before: before.into(),
        ..ResultRecord::default()
    };
    let mut records = vec![
        rec(2, "enforce", "disabled"),
        rec(3, "reset-methods", ""),
        rec(4, "enforce", ""),
    ];
    write_results(&env.path("one.csv"), &records, &[]).unwrap();
    let mut c = env.command();
    c.args(["rollback", "one.csv", "--out", "undo1.csv"]);
    let stderr = Invocation::from(c).expect_exit(0).stderr;
    for line in [
        "undo1.csv: 1 state change to undo;",
        "not undoable: 1 method reset: ",
        "not undoable: 1 state change whose previous state is unknown (row 4)",
    ] {
        assert!(stderr.contains(line), "{line:?} in {stderr}");
    }

    records = (2..1_202)
        .map(|row| rec(row, "disable", "enforced"))
        .collect();
    records.push(rec(1_202, "enforce", ""));
    records.push(rec(1_203, "enforce", ""));
    write_results(&env.path("many.csv"), &records, &[]).unwrap();
    let mut c = env.command();
    c.args(["rollback", "many.csv", "--out", "undo2.csv"]);
    Invocation::from(c)
        .expect_exit(0)
        .stderr_has("undo2.csv: 1,200 state changes to undo;")
        .stderr_has("2 state changes whose previous state is unknown (rows 1202, 1203)");

    let mut bad = String::from("upn,action\n");
    for i in 0..1_500 {
        bad.push_str(&format!("user{i}@contoso.com,enforce-ish\n"));
    }
    env.write("bad.csv", &bad);
    let mut c = env.command();
    c.args(["validate", "bad.csv"]);
    let stderr = Invocation::from(c).expect_exit(2).stderr;
    assert!(
        stderr.contains(" more problems\n")
            && stderr.contains("1,500 invalid rows; nothing was sent"),
        "{stderr}"
    );
    env.write("bad1.csv", "upn,action\nuser@contoso.com,enforce-ish\n");
    let mut c = env.command();
    c.args(["validate", "bad1.csv"]);
    Invocation::from(c)
        .expect_exit(2)
        .stderr_has("1 invalid row; nothing was sent");
}

#[test]
fn the_standalone_emulator_prints_what_connects_the_tool_to_it_and_that_works() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(crate::util::BIN)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--users",
            "3",
            "--seed",
            "5",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the emulator");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let stderr = child.stderr.take().unwrap();
    // Stopped however the test ends.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _emulator = Stop(child);
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.trim_start().starts_with("mfa-rollout apply");
        printed.push(line);
        if done {
            break;
        }
    }
    let base = first
        .trim()
        .strip_prefix("emulator listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    assert_eq!(printed[0], "3 users; Ctrl-C stops", "{printed:?}");
    let export = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("export "))
        .unwrap_or_else(|| panic!("{printed:?}"));
    let flags = printed.last().unwrap().trim();
    assert!(
        flags.ends_with(&format!("--graph-url {base} --authority-host {base}")),
        "{flags}"
    );

    // What it printed is all the tool needs: check signs in with it.
    let mut c = std::process::Command::new(crate::util::BIN);
    c.env_remove("GRAPH_ACCESS_TOKEN")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .current_dir(dir.path())
        .args(["check", "--graph-url", &base, "--authority-host", &base]);
    for pair in export.split_whitespace() {
        let (k, v) = pair.split_once('=').expect("NAME=value");
        c.env(k, v);
    }
    let Output { stdout, stderr, .. } = Invocation::from(c).expect_exit(0);
    assert!(
        stderr.contains("signed in") || stdout.contains("signed in"),
        "{stdout}{stderr}"
    );
}
