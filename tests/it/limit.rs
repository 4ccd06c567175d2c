//! `--limit N`, the canary and its waves: a run makes at most N changes and stops cleanly,
//! leaving the rows it did not reach out of the results file; `--resume --limit N` does the
//! next wave and a plain `--resume` the rest, every user written at most once.

use mfa_rollout::emulator::EmulatorConfig;
use mfa_rollout::journal::Status;
use serde_json::Value;

use crate::util::{Env, Invocation, results, rollout_csv, stat};

const FAST: [&str; 4] = ["--read-rate", "4000", "--write-rate", "2000"];

fn applied(path: &std::path::Path) -> usize {
    results(path)
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count()
}

#[test]
fn limit_50_makes_exactly_50_changes_then_waves_and_resume_finish_the_rest() {
    let n = 600;
    let env = Env::start(EmulatorConfig::generated(n, 61).seed(61).no_throttle());
    let mut upns: Vec<String> = env.users().keys().cloned().collect();
    upns.sort();
    let input = env.write("users.csv", &rollout_csv(&upns, &["enforce", "disable"]));
    let out = env.path("results.csv");
    // Many batches in flight at once: the reservation before each write keeps them in bounds.
    let mut args = FAST.to_vec();
    args.extend(["--concurrency", "8", "--limit", "50", "--json"]);

    let stdout = Invocation::from(env.rollout("apply", &input, &out, &args))
        .labelled("a planned stop is a clean one")
        .expect_exit(0)
        .stdout;
    let summary: Value = serde_json::from_str(&stdout).expect("--json summary");
    let stats = env.stats();
    assert_eq!(stat(&stats, "users_written"), 50, "{stats}");
    assert_eq!(stat(&stats, "max_writes_per_user"), 1, "{stats}");
    assert_eq!(applied(&out), 50);
    let first = results(&out);
    assert!(
        first
            .iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged)),
        "only rows that ended are recorded: {:?}",
        first.iter().find(|r| !r.status.is_good())
    );
    let left = summary["remaining_rows"].as_u64().expect("remaining_rows");
    assert_eq!(left, (n - first.len()) as u64, "{summary}");
    assert!(left > 0, "{summary}");
    assert_eq!(summary["limit"], 50);
    let again = summary["continue_with"].as_str().expect("continue_with");
    assert!(
        again.contains("--resume") && again.contains("--limit 50"),
        "{again}"
    );

    // The next wave: 50 more.
    let mut wave: Vec<&str> = args.clone();
    wave.push("--resume");
    let stdout = Invocation::from(env.rollout("apply", &input, &out, &wave))
        .expect_exit(0)
        .stdout;
    let summary: Value = serde_json::from_str(&stdout).expect("--json summary");
    let stats = env.stats();
    assert_eq!(stat(&stats, "users_written"), 100, "{stats}");
    assert_eq!(stat(&stats, "max_writes_per_user"), 1, "{stats}");
    assert_eq!(applied(&out), 100);
    assert_eq!(
        summary["remaining_rows"].as_u64(),
        Some((n - results(&out).len()) as u64)
    );

    // The full run finishes the rest.
    let mut full = FAST.to_vec();
    full.extend(["--resume", "--json"]);
    let stdout = Invocation::from(env.rollout("apply", &input, &out, &full))
        .expect_exit(0)
        .stdout;
    let summary: Value = serde_json::from_str(&stdout).expect("--json summary");
    assert_eq!(summary["remaining_rows"], 0, "{summary}");
    assert_eq!(summary["continue_with"], Value::Null);
    let records = results(&out);
    assert_eq!(records.len(), n, "every row once");
    assert!(records.iter().all(|r| r.status.is_good()));
    let changed = records
        .iter()
        .filter(|r| r.status == Status::Applied)
        .count() as u64;
    assert_eq!(summary["changes"].as_u64(), Some(changed));
    let stats = env.stats();
    assert_eq!(stat(&stats, "users_written"), changed, "{stats}");
    assert_eq!(stat(&stats, "max_writes_per_user"), 1, "{stats}");
}

#[test]
fn limit_says_how_many_rows_remain_and_the_command_that_continues_in_text() {
    let env = Env::start(EmulatorConfig::generated(200, 62).seed(62).no_throttle());
    let mut upns: Vec<String> = env.users().keys().cloned().collect();
    upns.sort();
    let input = env.write("users.csv", &rollout_csv(&upns, &["disable", "enforce"]));
    let out = env.path("results.csv");
    let mut c = env.command();
    c.arg("apply").arg(&input).arg("--results").arg(&out);
    env.point_at_emulator(&mut c);
    c.args(FAST).args(["--limit", "5"]);
    let stdout = Invocation::from(c).expect_exit(0).stdout;
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("stopped at --limit 5:") && first.contains("rows remain"),
        "{stdout}"
    );
    assert!(
        stdout.contains("continue with: mfa-rollout apply"),
        "{stdout}"
    );
    assert!(stdout.contains("--resume"), "{stdout}");
}

#[test]
fn limit_0_is_refused_naming_the_flag_before_anything_is_sent() {
    let env = Env::start(EmulatorConfig::generated(5, 3).no_throttle());
    let mut upns: Vec<String> = env.users().keys().cloned().collect();
    upns.sort();
    let input = env.write("users.csv", &rollout_csv(&upns, &["enforce"]));
    let out = env.path("results.csv");
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &["--limit", "0"]))
        .expect_exit(2)
        .stderr_has("--limit")
        .stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert!(!out.exists());
}
