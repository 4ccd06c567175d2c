//! `--retry-failed` (with `--resume`): the rows whose last status is `failed` are done again,
//! read first, so a change that landed though its answer said it failed is recorded
//! `unchanged` and never written twice; `not_found`, `invalid` and `skipped` rows stay.

use std::collections::{HashMap, HashSet};

use mfa_rollout::emulator::{EmulatorConfig, Faults};
use mfa_rollout::journal::{ResultRecord, Status};

use crate::util::{Env, Invocation, Output, results, rollout_csv, stat, state};

fn target(action: &str) -> &'static str {
    match action {
        "enforce" => "enforced",
        "disable" => "disabled",
        other => panic!("unexpected action {other}"),
    }
}

/// Object id → writes that changed that user, from the emulator's stats.
fn writes_per_user(env: &Env) -> HashMap<String, u64> {
    env.stats()["writes_per_user"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(id, n)| (id.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

fn by_row(records: &[ResultRecord]) -> HashMap<u64, ResultRecord> {
    records.iter().map(|r| (r.row, r.clone())).collect()
}

#[test]
fn retry_failed_turns_failed_rows_into_applied_or_unchanged_with_zero_double_writes() {
    let n = 400;
    // A fifth of the items fail without running, a fifth of the rest run and are answered
    // 503/504 all the same: some failed rows' changes landed, some did not.
    let flaky = Env::start(
        EmulatorConfig::generated(n, 71)
            .seed(71)
            .no_throttle()
            .faults(Faults {
                item_5xx: 0.2,
                item_5xx_after_execute: 0.2,
                ..Faults::default()
            }),
    );
    let initial = flaky.users();
    let mut upns: Vec<String> = initial.keys().cloned().collect();
    upns.sort();
    let mut csv = rollout_csv(&upns, &["enforce", "disable"]);
    let domain = upns[0].split('@').nth(1).expect("a domain").to_string();
    for i in 0..10 {
        csv.push_str(&format!("ghost{i}@{domain},enforce\n"));
    }
    csv.push_str(&format!("{},enforce\n", upns[0])); // a repeat: skipped
    csv.push_str("not a user,enforce\n"); // invalid (--skip-invalid)
    let input = flaky.write("users.csv", &csv);
    let out = flaky.path("results.csv");
    // Writes paced slowly enough that the rows giving up after their verifying read (a
    // quarter second later) are interleaved with writes that pass: the breaker sees failures
    // of one user here and there, not a run of them.
    let args = vec![
        "--read-rate",
        "4000",
        "--write-rate",
        "40",
        "--max-attempts",
        "1",
        "--skip-invalid",
    ];
    Invocation::from(flaky.rollout("apply", &input, &out, &args)).expect_exit(1);
    let first = results(&out);
    let after_first = flaky.users();
    let ids: HashMap<String, String> = initial
        .iter()
        .map(|(upn, u)| {
            (
                upn.clone(),
                u["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let failed: Vec<&ResultRecord> = first
        .iter()
        .filter(|r| r.status == Status::Failed)
        .collect();
    let landed: HashSet<u64> = failed
        .iter()
        .filter(|r| {
            let upn = r.user.to_ascii_lowercase();
            initial
                .get(&upn)
                .is_some_and(|u| state(u) != target(&r.action))
                && state(&after_first[&upn]) == target(&r.action)
        })
        .map(|r| r.row)
        .collect();
    let not_landed = failed
        .iter()
        .filter(|r| {
            let upn = r.user.to_ascii_lowercase();
            after_first
                .get(&upn)
                .is_some_and(|u| state(u) != target(&r.action))
        })
        .count();
    assert!(
        !landed.is_empty() && not_landed > 0,
        "the faults left failed rows whose change landed ({}) and failed rows whose change did not ({not_landed})",
        landed.len()
    );
    assert!(
        first.iter().any(|r| r.status == Status::NotFound)
            && first.iter().any(|r| r.status == Status::Invalid)
            && first.iter().any(|r| r.status == Status::Skipped)
    );
    let writes_first = writes_per_user(&flaky);

    // The outage is over: the same tenant as it is now, without the faults.
    let fixed = Env::start(flaky.emu.current_state().faults(Faults::default()));
    let input = fixed.write("users.csv", &csv);
    let out2 = fixed.path("results.csv");
    std::fs::copy(&out, &out2).expect("copy results");
    let mut retry = args.clone();
    retry.extend(["--resume", "--retry-failed"]);
    let Output { code, stderr, .. } =
        Invocation::from(fixed.rollout("apply", &input, &out2, &retry)).output();
    let second = results(&out2);
    let now = by_row(&second);
    let before = by_row(&first);
    assert_eq!(
        second.len(),
        first.len(),
        "one record per row, the retry replacing the failure"
    );
    for (row, old) in &before {
        let new = &now[row];
        match old.status {
            Status::Failed if old.action == "enforce" || old.action == "disable" => {
                let upn = old.user.to_ascii_lowercase();
                if !initial.contains_key(&upn) {
                    // A ghost whose read failed: now it is found missing.
                    assert_eq!(new.status, Status::NotFound, "row {row}: {new:?}");
                    continue;
                }
                let expected = if state(&after_first[&upn]) == target(&old.action) {
                    Status::Unchanged
                } else {
                    Status::Applied
                };
                assert_eq!(new.status, expected, "row {row} ({upn}): {new:?}");
                assert_eq!(new.after, target(&old.action), "row {row}");
                if landed.contains(row) {
                    assert_eq!(
                        new.status,
                        Status::Unchanged,
                        "a change that landed is read, not redone"
                    );
                }
            }
            Status::Failed => panic!("row {row}: {old:?}"),
            _ => assert_eq!(
                new, old,
                "row {row}: a row that did not fail stays as it was"
            ),
        }
    }
    // Exit 1 all the same: the ghosts stay not_found and the invalid row invalid.
    assert_eq!(code, 1, "{stderr}");
    assert!(
        second.iter().all(|r| r.status != Status::Failed),
        "every failed row retried: {stderr}"
    );

    // Zero double writes: no user written more than once over both runs.
    let writes_second = writes_per_user(&fixed);
    assert!(stat(&fixed.stats(), "users_written") > 0);
    let final_users = fixed.users();
    for (upn, id) in &ids {
        let total = writes_first.get(id).copied().unwrap_or(0)
            + writes_second.get(id).copied().unwrap_or(0);
        let wanted_change = before
            .values()
            .any(|r| r.user.eq_ignore_ascii_case(upn) && state(&initial[upn]) != target(&r.action));
        assert_eq!(
            total,
            u64::from(wanted_change),
            "{upn}: written {total} times (first run {:?}, retry {:?})",
            writes_first.get(id),
            writes_second.get(id)
        );
        if let Some(r) = before.values().find(|r| r.user.eq_ignore_ascii_case(upn)) {
            assert_eq!(state(&final_users[upn]), target(&r.action), "{upn}");
        }
    }
}

#[test]
fn retry_failed_without_resume_is_refused_naming_the_flag_before_anything_is_sent() {
    let env = Env::start(EmulatorConfig::generated(5, 3).no_throttle());
    let mut upns: Vec<String> = env.users().keys().cloned().collect();
    upns.sort();
    let input = env.write("users.csv", &rollout_csv(&upns, &["enforce"]));
    let out = env.path("results.csv");
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &["--retry-failed"]))
        .expect_exit(2)
        .stderr;
    assert!(
        stderr.contains("--retry-failed") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert!(!out.exists());
}

#[test]
fn an_item_answered_5xx_after_running_has_changed_the_tenant_plain_and_in_a_batch() {
    let env = Env::start(
        EmulatorConfig::generated(3, 5)
            .no_throttle()
            .faults(Faults {
                item_5xx_after_execute: 1.0,
                ..Faults::default()
            }),
    );
    let mut upns: Vec<String> = env.users().keys().cloned().collect();
    upns.sort();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let base = env.emu.base_url();
    let statuses = rt.block_on(async {
        let http = reqwest::Client::new();
        let token = crate::util::client_credentials_token(&env.emu, &http).await;
        let url = |upn: &str| format!("/users/{upn}/authentication/requirements");
        let plain = http
            .patch(format!("{base}/beta{}", url(&upns[0])))
            .bearer_auth(&token)
            .json(&serde_json::json!({"perUserMfaState": "enforced"}))
            .send()
            .await
            .expect("plain request")
            .status()
            .as_u16();
        let batch: serde_json::Value = http
            .post(format!("{base}/beta/$batch"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"requests": [{
                "id": "1", "method": "PATCH", "url": url(&upns[1]),
                "headers": {"Content-Type": "application/json"},
                "body": {"perUserMfaState": "enforced"}
            }]}))
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("batch json");
        (plain, batch["responses"][0]["status"].as_u64().unwrap_or(0))
    });
    assert!(matches!(statuses.0, 503 | 504), "{statuses:?}");
    assert!(matches!(statuses.1, 503 | 504), "{statuses:?}");
    let users = env.users();
    for upn in &upns[..2] {
        assert_eq!(state(&users[upn]), "enforced", "{upn}: the change landed");
    }
    let faults = &env.stats()["faults"];
    assert_eq!(stat(faults, "item_5xx_after_execute"), 2, "{faults}");
}
