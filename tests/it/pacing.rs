//! Pacing tests (not timed): at a told rate the engine draws (almost) no 429s, and with
//! nothing told against a tenant whose budget is smaller than documented it converges on
//! that budget instead of drawing a storm.

use mfa_rollout::emulator::EmulatorConfig;
use serde_json::Value;

use crate::util::{Env, Invocation, rollout_csv, stat, upns};

fn items_429(stats: &Value) -> u64 {
    stats["items_by_status"]["429"].as_u64().unwrap_or(0)
}

#[test]
fn told_rate_just_under_the_quota_draws_no_429s_with_almost_no_burst_to_hide_behind() {
    let mut config = EmulatorConfig::generated(1500, 31).quota_scale(20.0);
    // The tenant's budget starts nearly used up (a reserve of 60 writes and 160 RU): pacing
    // even slightly above the quota would drain it and draw 429s.
    config.quotas.initial_fill = 0.001;
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    // Quota: 400 writes/s, 16,000 RU/s (reads and writes both cost one unit).
    let stdout = Invocation::from(env.rollout(
        "apply",
        &input,
        &env.path("r.csv"),
        &["--write-rate", "380", "--read-rate", "1500", "--json"],
    ))
    .expect_exit(0)
    .stdout;
    let stats = env.stats();
    let items = stat(&stats, "items");
    let throttled = items_429(&stats);
    assert!(
        throttled * 200 <= items,
        "{throttled} of {items} items answered 429"
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("--json summary");
    assert_eq!(
        summary["final_write_rate"], 380.0,
        "a told rate is held: {summary}"
    );
}

#[test]
fn an_untold_smaller_quota_is_converged_on_without_a_429_storm() {
    // The tool assumes the documented quota (scaled ×10: 194 writes/s, 7,410 reads/s to
    // start); the tenant really allows a third of it, and its budget starts used up.
    let mut config = EmulatorConfig::generated(1600, 32).quota_scale(10.0);
    config.quotas.writes_per_150s /= 3.0;
    config.quotas.resource_units_per_10s /= 3.0;
    config.quotas.initial_fill = 0.0;
    let real_writes = 3000.0 / 3.0 * 10.0 / 150.0; // 66.7/s
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let stdout = Invocation::from(env.rollout(
        "apply",
        &input,
        &env.path("r.csv"),
        &["--quota-scale", "10", "--json"],
    ))
    .expect_exit(0)
    .stdout;
    let stats = env.stats();
    let items = stat(&stats, "items");
    let throttled = items_429(&stats);
    let summary: Value = serde_json::from_str(stdout.trim()).expect("--json summary");
    let found = summary["final_write_rate"]
        .as_f64()
        .expect("a final write rate");
    eprintln!(
        "untold: {throttled} of {items} items 429; pacing ended at {found:.1} writes/s, the tenant allows {real_writes:.1}; {} writes in {} s",
        summary["writes"], summary["elapsed_seconds"]
    );
    assert!(
        throttled * 100 <= items * 3,
        "{throttled} of {items} items answered 429"
    );
    assert!(
        (0.5 * real_writes..=1.5 * real_writes).contains(&found),
        "converged on {found} writes/s; the tenant allows {real_writes:.1}"
    );
}

#[test]
fn an_untold_run_spends_a_granted_burst_without_a_429_storm_and_changes_every_user() {
    // The tenant grants its write bucket full and holding 2 s of the refill (200 writes/s,
    // 400 held): the pacing probes upward until Graph's limit percentage says the bucket is
    // nearly spent, and must land before that costs a storm of 429s.
    let mut config = EmulatorConfig::generated(1500, 33).quota_scale(10.0);
    config.quotas.write_burst_secs = Some(2.0);
    for u in &mut config.users {
        u.per_user_mfa_state = "disabled".into();
    }
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let stdout = Invocation::from(env.rollout(
        "apply",
        &input,
        &env.path("r.csv"),
        &["--quota-scale", "10", "--json"],
    ))
    .expect_exit(0)
    .stdout;
    let stats = env.stats();
    let items = stat(&stats, "items");
    let throttled = items_429(&stats);
    let summary: Value = serde_json::from_str(stdout.trim()).expect("--json summary");
    eprintln!(
        "burst: {throttled} of {items} items 429; {} writes in {} s",
        summary["writes"], summary["elapsed_seconds"]
    );
    assert!(
        throttled * 100 <= items * 3,
        "{throttled} of {items} items answered 429"
    );
    assert_eq!(stat(&stats, "writes"), 1500, "{stats}");
    let unchanged: Vec<String> = env
        .users()
        .into_iter()
        .filter(|(_, u)| u["perUserMfaState"] != "enforced")
        .map(|(k, _)| k)
        .collect();
    assert!(unchanged.is_empty(), "not enforced: {unchanged:?}");
}
