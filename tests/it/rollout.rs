//! Integration tests: `validate`, `plan` and `apply` driven as a user would, against the
//! in-process emulator, checking the emulator's final state, the results file and exit codes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mfa_rollout::emulator::{EmulatorConfig, Faults};
use mfa_rollout::journal::Status;

use crate::util::{Env, Invocation, Output, results, rollout_csv, stat, state, upns};

/// What each wish must end as in the emulator (`enable` may become `enforced`: Graph promotes
/// users who registered a method).
fn satisfied(wish: &str, now: &str) -> bool {
    match wish {
        "enable" => now == "enabled" || now == "enforced",
        "enforce" => now == "enforced",
        "disable" => now == "disabled",
        _ => false,
    }
}

fn assert_converged(env: &Env, wishes: &HashMap<String, String>) {
    let users = env.users();
    for (upn, wish) in wishes {
        let now = state(&users[upn]);
        assert!(
            satisfied(wish, &now),
            "{upn}: wished {wish}, emulator has {now}"
        );
    }
}

fn writes_per_user_max(env: &Env) -> u64 {
    let stats = env.stats();
    if let Some(n) = stats.get("max_writes_per_user").and_then(|v| v.as_u64()) {
        return n;
    }
    stats
        .get("writes_per_user")
        .and_then(|v| v.as_object())
        .map(|m| m.values().filter_map(|v| v.as_u64()).max().unwrap_or(0))
        .unwrap_or(0)
}

fn wishes_of(csv: &str) -> HashMap<String, String> {
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(u, a)| (u.to_ascii_lowercase(), a.to_string()))
        .collect()
}

#[test]
fn a_5000_user_mixed_rollout_under_throttling_and_faults_converges_writing_each_user_once() {
    let mut config = EmulatorConfig::generated(5000, 11).seed(11).faults(Faults {
        batch_429: 0.01,
        batch_503: 0.01,
        item_5xx: 0.01,
        drop: 0.01,
        drop_after_execute: true,
        retry_after_secs: Some(0.2),
        latency_ms: 3,
        latency_jitter_ms: 2,
        ..Faults::default()
    });
    // A small read budget (400 RU/s, 4,000 burst) that the tool is not told about, so the
    // run draws real 429s and must slow down; writes stay within their quota.
    config.quotas.resource_units_per_10s = 4000.0;
    config.quotas.writes_per_150s = 150_000.0;
    config.quotas.tenant_writes_per_5min = 300_000.0;
    let env = Env::start(config);
    let upns = upns(&env);
    assert_eq!(upns.len(), 5000);
    let csv = rollout_csv(&upns, &["enforce", "disable", "enable", "enforce"]);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    let cmd = env.rollout(
        "apply",
        &input,
        &out,
        &[
            "--read-rate",
            "1000",
            "--write-rate",
            "900",
            "--max-attempts",
            "8",
        ],
    );
    Invocation::from(cmd).expect_exit(0);

    let records = results(&out);
    assert_eq!(records.len(), 5000, "one line per (row, action)");
    let rows: std::collections::BTreeSet<u64> = records.iter().map(|r| r.row).collect();
    assert_eq!(rows.len(), 5000);
    assert!(
        records
            .iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged))
    );
    assert_converged(&env, &wishes_of(&csv));
    assert_eq!(writes_per_user_max(&env), 1, "no user written twice");
    let stats = env.stats();
    assert!(
        stat(&stats, "throttled") > 0,
        "the run met throttling: {stats}"
    );
    assert!(stat(&stats, "largest_batch") <= 20);
}

#[test]
fn plan_reads_every_user_and_writes_nothing() {
    let env = Env::start(EmulatorConfig::generated(300, 3).no_throttle());
    let upns = upns(&env);
    let csv = rollout_csv(&upns, &["enforce", "disable"]);
    let input = env.write("users.csv", &csv);
    let report = env.path("plan.csv");
    env.plan(&input).report(&report).expect_exit(0);
    assert_eq!(stat(&env.stats(), "writes"), 0);
    let records = results(&report);
    assert_eq!(records.len(), 300);
    assert!(records.iter().any(|r| r.status == Status::Planned));
    assert!(
        records
            .iter()
            .all(|r| matches!(r.status, Status::Planned | Status::Unchanged))
    );
    for r in records.iter().filter(|r| r.status == Status::Planned) {
        assert_ne!(r.before, r.after);
    }
}

#[test]
fn bad_input_exits_2_naming_rows_and_sends_nothing() {
    let env = Env::start(EmulatorConfig::generated(10, 1));
    let input = env.write(
        "bad.csv",
        "upn,action\nok@contoso.onmicrosoft.com,enforce\nnot an upn,enforce\nb@contoso.onmicrosoft.com,explode\n",
    );
    let out = env.path("r.csv");
    env.apply(&input)
        .results(&out)
        .expect_exit(2)
        .stderr_has("row 3")
        .stderr_has("row 4");
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn delete_app_passwords_is_refused_with_the_explanation_and_nothing_is_sent() {
    let env = Env::start(EmulatorConfig::generated(10, 1));
    let input = env.write(
        "a.csv",
        "upn,action\na@contoso.onmicrosoft.com,delete-app-passwords\n",
    );
    env.apply(&input)
        .results(&env.path("r.csv"))
        .expect_exit(2)
        .stderr_has("no API exists for app passwords");
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn an_existing_results_file_is_never_replaced_without_overwrite() {
    let env = Env::start(EmulatorConfig::generated(10, 1).no_throttle());
    let upns = upns(&env);
    let input = env.write("u.csv", &rollout_csv(&upns, &["enforce"]));
    let out = env.write("r.csv", "precious\n");
    env.apply(&input)
        .results(&out)
        .expect_exit(2)
        .stderr_has("--overwrite")
        .stderr_has("--resume");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn max_changes_below_the_plan_exits_4_before_any_write() {
    let env = Env::start(EmulatorConfig::generated(100, 5).no_throttle());
    let upns = upns(&env);
    let input = env.write("u.csv", &rollout_csv(&upns, &["enforce", "disable"]));
    let out = env.path("r.csv");
    env.apply(&input)
        .results(&out)
        .args(&["--max-changes", "3"])
        .expect_exit(4)
        .stderr_has("--max-changes");
    assert_eq!(stat(&env.stats(), "writes"), 0);
}

#[test]
fn a_withheld_permission_stops_apply_with_exit_3_before_any_write() {
    let env = Env::start(
        EmulatorConfig::generated(20, 2)
            .no_throttle()
            .withhold_permission("Policy.ReadWrite.AuthenticationMethod"),
    );
    let upns = upns(&env);
    let input = env.write("u.csv", &rollout_csv(&upns, &["enforce"]));
    env.apply(&input)
        .results(&env.path("r.csv"))
        .expect_exit(3)
        .stderr_has("Policy.ReadWrite.AuthenticationMethod");
    assert_eq!(stat(&env.stats(), "writes"), 0);
}

#[test]
fn a_wrong_client_secret_is_one_clear_line_and_exit_3() {
    let env = Env::start(EmulatorConfig::generated(5, 2));
    let upns = upns(&env);
    let input = env.write("u.csv", &rollout_csv(&upns, &["enforce"]));
    let Output { stdout, stderr, .. } = env
        .apply(&input)
        .results(&env.path("r.csv"))
        .env("AZURE_CLIENT_SECRET", "not-the-secret-123")
        .expect_exit(3);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("not-the-secret-123") && !stdout.contains("not-the-secret-123"));
}

/// Spawns an apply, waits until its journal holds at least `lines` lines, and returns it.
fn spawn_until(
    mut cmd: std::process::Command,
    out: &std::path::Path,
    lines: usize,
) -> std::process::Child {
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = std::fs::read_to_string(out)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n >= lines || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if Instant::now() > deadline {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the run never reached {lines} journal lines");
    }
    child
}

#[test]
fn kill_9_mid_run_then_resume_ends_complete_and_correct() {
    let env = Env::start(EmulatorConfig::generated(1500, 9).no_throttle());
    let upns = upns(&env);
    let csv = rollout_csv(&upns, &["enforce", "disable", "enable"]);
    let input = env.write("u.csv", &csv);
    let out = env.path("r.csv");
    let pace = ["--write-rate", "300", "--read-rate", "600"];
    let mut child = spawn_until(env.rollout("apply", &input, &out, &pace), &out, 300);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let partial = results(&out);
    assert!(partial.len() < 1500, "killed before the end");

    let mut resume = pace.to_vec();
    resume.push("--resume");
    env.apply(&input).results(&out).args(&resume).expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), 1500);
    let rows: std::collections::BTreeSet<u64> = records.iter().map(|r| r.row).collect();
    assert_eq!(rows.len(), 1500, "no row lost or duplicated");
    assert!(
        records.windows(2).all(|w| w[0].row < w[1].row),
        "compacted in input order"
    );
    assert_converged(&env, &wishes_of(&csv));
    assert_eq!(
        writes_per_user_max(&env),
        1,
        "resume never wrote a user twice"
    );
    // Rows finished before the kill kept their outcome.
    for p in partial {
        let r = records.iter().find(|r| r.row == p.row).unwrap();
        assert_eq!((r.status, &r.before), (p.status, &p.before));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_exits_130_with_a_resume_command_and_the_file_resumes() {
    let env = Env::start(EmulatorConfig::generated(800, 4).no_throttle());
    let upns = upns(&env);
    let csv = rollout_csv(&upns, &["enforce", "disable"]);
    let input = env.write("u.csv", &csv);
    let out = env.path("r.csv");
    let pace = ["--write-rate", "150", "--read-rate", "300"];
    let mut cmd = env.rollout("apply", &input, &out, &pace);
    cmd.stderr(std::process::Stdio::piped());
    let child = spawn_until(cmd, &out, 100);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");

    let mut resume = pace.to_vec();
    resume.push("--resume");
    env.apply(&input).results(&out).args(&resume).expect_exit(0);
    assert_eq!(results(&out).len(), 800);
    assert_converged(&env, &wishes_of(&csv));
}

#[test]
fn resume_refuses_an_input_whose_rows_changed() {
    let env = Env::start(EmulatorConfig::generated(30, 4).no_throttle());
    let upns = upns(&env);
    let input = env.write("u.csv", &rollout_csv(&upns, &["enforce"]));
    let out = env.path("r.csv");
    env.apply(&input).results(&out).expect_exit(0);
    let mut other = upns.clone();
    other.swap(0, 1);
    let changed = env.write("u.csv", &rollout_csv(&other, &["enforce"]));
    env.apply(&changed)
        .results(&out)
        .arg("--resume")
        .expect_exit(2)
        .stderr_has("row 2");
}

#[test]
fn the_readme_sandbox_command_runs_the_sample_rollout() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.csv");
    let mut cmd = std::process::Command::new(crate::util::BIN);
    cmd.arg("apply")
        .arg(root.join("samples/rollout.csv"))
        .arg("--results")
        .arg(&out)
        .arg("--sandbox")
        .arg(root.join("samples/tenant.json"))
        .args(["--write-rate", "200", "--read-rate", "400"])
        .env_remove("GRAPH_ACCESS_TOKEN")
        .env_remove("AZURE_CLIENT_SECRET");
    // A few sample users are missing from the sample tenant on purpose.
    // The summary is printed.
    Invocation::from(cmd).expect_exit(1).stdout_has("applied");
    let records = results(&out);
    let rows = std::fs::read_to_string(root.join("samples/rollout.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(records.len(), rows);
    assert!(records.iter().any(|r| r.status == Status::NotFound));
    assert!(records.iter().any(|r| r.status == Status::Applied));
}

#[test]
fn sandbox_without_a_tenant_file_makes_every_input_user_exist() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("u.csv");
    std::fs::write(
        &input,
        "upn,action\nnew.one@contoso.onmicrosoft.com,enforce\n8f0e1c2d-3b4a-4c5d-9e6f-708192a3b4c5,disable\n",
    )
    .unwrap();
    let out = dir.path().join("r.csv");
    let mut cmd = std::process::Command::new(crate::util::BIN);
    cmd.arg("apply")
        .arg(&input)
        .arg("--results")
        .arg(&out)
        .arg("--sandbox")
        .arg("-q")
        .env_remove("GRAPH_ACCESS_TOKEN")
        .env_remove("AZURE_CLIENT_SECRET");
    Invocation::from(cmd).expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.status != Status::NotFound));
}
