//! The circuit breaker and `--max-failures`: a total outage, a 401 storm that token renewal
//! does not cure, and a hard bound on failed rows each stop the run, leave what did not finish
//! unrecorded, and say how to resume.

use std::collections::HashMap;

use mfa_rollout::emulator::{EmulatorConfig, Faults};
use mfa_rollout::journal::Status;

use crate::util::{Env, Invocation, results, rollout_csv, stat, state, upns};

/// Each recorded `applied`/`unchanged` row holds the state the emulator has now.
fn assert_records_true(env: &Env, records: &[mfa_rollout::journal::ResultRecord]) {
    let users = env.users();
    for r in records {
        if matches!(r.status, Status::Applied | Status::Unchanged) {
            let now = state(&users[&r.user.to_ascii_lowercase()]);
            assert_eq!(r.after, now, "row {} ({}): {r:?}", r.row, r.user);
        }
    }
}

const FAST: [&str; 4] = ["--read-rate", "4000", "--write-rate", "2000"];

#[test]
fn a_total_outage_trips_the_breaker_before_most_rows_are_touched_and_resume_completes_them() {
    let n = 4000;
    // Nothing in a 503 batch runs, so the tenant stays as generated: a second emulator from
    // the same seed, without the outage, is that tenant once the outage is over.
    let tenant = || EmulatorConfig::generated(n, 41).seed(41).no_throttle();
    let down = Env::start(tenant().faults(Faults {
        batch_503: 1.0,
        retry_after_secs: Some(0.05),
        ..Faults::default()
    }));
    let upns = upns(&down);
    let csv = rollout_csv(&upns, &["enforce", "disable", "enable"]);
    let input = down.write("users.csv", &csv);
    let out = down.path("results.csv");
    let mut args = FAST.to_vec();
    args.extend(["--max-attempts", "3", "--concurrency", "2"]);
    let stderr = Invocation::from(down.rollout("apply", &input, &out, &args))
        .expect_exit(4)
        .stderr_has("circuit breaker")
        .stderr;
    assert!(stderr.contains("transient"), "names the cause: {stderr}");
    assert!(stderr.contains("0 rows ended before the stop"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(
        results(&out).is_empty(),
        "no row is recorded failed: --resume must do them all"
    );
    let stats = down.stats();
    let items = stat(&stats["faults"], "batch_items");
    assert!(stat(&stats["faults"], "batch_503") > 0, "{stats}");
    assert!(
        items < n as u64 / 2,
        "{items} items (retries included) were sent for {n} rows: most rows were never touched"
    );

    let up = Env::start(tenant());
    assert_eq!(
        down.users(),
        up.users(),
        "the outage changed nothing in the tenant"
    );
    let input = up.write("users.csv", &csv);
    let out2 = up.path("results.csv");
    std::fs::copy(&out, &out2).expect("copy results");
    let mut resume = args.clone();
    resume.push("--resume");
    Invocation::from(up.rollout("apply", &input, &out2, &resume)).expect_exit(0);
    let records = results(&out2);
    assert_eq!(records.len(), n, "every row done once");
    assert!(
        records
            .iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged)),
        "{:?}",
        records.iter().find(|r| !r.status.is_good())
    );
    assert_records_true(&up, &records);
    let wishes: HashMap<String, String> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(u, a)| (u.to_ascii_lowercase(), a.to_string()))
        .collect();
    let users = up.users();
    for (upn, wish) in &wishes {
        let now = state(&users[upn]);
        let ok = match wish.as_str() {
            "enable" => now == "enabled" || now == "enforced",
            "enforce" => now == "enforced",
            _ => now == "disabled",
        };
        assert!(ok, "{upn}: wished {wish}, has {now}");
    }
}

#[test]
fn a_401_storm_that_renewal_does_not_cure_stops_with_exit_3_recording_only_what_ended() {
    let env = Env::start(
        EmulatorConfig::generated(400, 43)
            .seed(43)
            .no_throttle()
            .faults(Faults {
                refuse_tokens_after: Some(6),
                ..Faults::default()
            }),
    );
    let csv = rollout_csv(&upns(&env), &["enforce", "disable"]);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    let mut args = FAST.to_vec();
    args.extend(["--concurrency", "1"]);
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &args))
        .expect_exit(3)
        .stderr_has("circuit breaker")
        .stderr;
    assert!(stderr.contains("401"), "names the cause: {stderr}");
    assert!(stderr.contains("rows ended before the stop"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!stderr.contains("eyJ"), "no token in the message: {stderr}");
    let stats = env.stats();
    assert!(
        stat(&stats, "token_grants") >= 2,
        "the tool renewed its token before giving up: {stats}"
    );
    let records = results(&out);
    assert!(records.len() < 400, "the run stopped early");
    assert!(
        records.iter().all(|r| r.status != Status::Failed),
        "rows cut off by the storm are not recorded failed: {:?}",
        records.iter().find(|r| r.status == Status::Failed)
    );
    assert_records_true(&env, &records);
}

#[test]
fn max_failures_10_stops_after_10_failed_rows_and_records_the_rest_truthfully() {
    // Half the items fail and one attempt is allowed: failures are per user, never 25 in a
    // row, so only the bound stops the run.
    let env = Env::start(
        EmulatorConfig::generated(600, 47)
            .seed(47)
            .no_throttle()
            .faults(Faults {
                item_5xx: 0.3,
                ..Faults::default()
            }),
    );
    let csv = rollout_csv(&upns(&env), &["enforce", "disable"]);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    let mut args = FAST.to_vec();
    args.extend(["--max-attempts", "1", "--max-failures", "10"]);
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &args))
        .expect_exit(4)
        .stderr_has("--max-failures")
        .stderr_has("10 rows failed")
        .stderr_has("--resume")
        .stderr;
    let records = results(&out);
    let failed = records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    assert_eq!(failed, 10, "exactly the bound: {stderr}");
    assert!(records.len() < 600, "the run stopped early");
    assert_records_true(&env, &records);
}

#[test]
fn max_failures_refuses_a_bad_value_naming_the_flag_before_sending_anything() {
    let env = Env::start(EmulatorConfig::generated(5, 3).no_throttle());
    let input = env.write("users.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let out = env.path("results.csv");
    for bad in ["0", "ten", "150%"] {
        let stderr = Invocation::from(env.rollout("apply", &input, &out, &["--max-failures", bad]))
            .labelled(bad)
            .expect_exit(2)
            .stderr_has("--max-failures")
            .stderr;
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert!(!out.exists());
}
