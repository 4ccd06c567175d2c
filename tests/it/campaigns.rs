//! Reliability campaigns, seeded: a mixed rollout under every fault the emulator can inject
//! (with tokens expiring mid-run), a crash campaign (SIGKILL at seeded moments, SIGINT, a kill
//! around the final compaction, each followed by `--resume`) compared with an uninterrupted run
//! against an identical emulator, and filesystem faults around the results file.
//!
//! Sizes: `MFA_CAMPAIGN_USERS` (default 3,000) for the fault campaign; `MFA_CRASH_CAMPAIGN`
//! (default 3) is the number of SIGKILLs in the crash campaign.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use mfa_rollout::emulator::{EmulatorConfig, Faults, UserSpec};
use mfa_rollout::journal::{ResultRecord, Status};
use serde_json::Value;

use crate::util::{Env, Invocation, Output, results, rollout_csv, stat, state};

const STATE_ACTIONS: [&str; 3] = ["enforce", "disable", "enable"];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A tiny seeded generator (SplitMix64), so the campaign's choices repeat from run to run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn sorted_upns(config: &EmulatorConfig) -> Vec<String> {
    let mut v: Vec<String> = config
        .users
        .iter()
        .map(|u| u.upn.to_ascii_lowercase())
        .collect();
    v.sort();
    v
}

/// The (row, action) pairs an input asks for, rows numbered as a spreadsheet shows them.
fn expected_pairs(upns: &[String], actions: &[&str]) -> BTreeMap<(u64, String), String> {
    let mut out = BTreeMap::new();
    for (i, u) in upns.iter().enumerate() {
        for a in actions[i % actions.len()].split('+') {
            out.insert((i as u64 + 2, a.to_string()), u.clone());
        }
    }
    out
}

/// The label the tool gives a registered method (engine/reset_methods.rs `classify`).
fn method_label(m: &Value) -> Option<String> {
    let kind = m.get("type")?.as_str()?;
    Some(match kind {
        "password" => return None,
        "phone" => match m.get("phoneType").and_then(Value::as_str) {
            Some("alternateMobile") => "alternateMobilePhone".into(),
            Some("office") => "officePhone".into(),
            _ => "mobilePhone".into(),
        },
        other => other.to_string(),
    })
}

fn labels_of(user: &Value) -> Vec<String> {
    let mut v: Vec<String> = user
        .get("methods")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().filter_map(method_label).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn split_labels(cell: &str) -> Vec<String> {
    let mut v: Vec<String> = cell
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Every (row, action) exactly once, nothing else.
fn assert_one_line_per_pair(records: &[ResultRecord], pairs: &BTreeMap<(u64, String), String>) {
    let mut seen: BTreeMap<(u64, String), usize> = BTreeMap::new();
    for r in records {
        *seen.entry((r.row, r.action.clone())).or_default() += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated (row, action): {dup:?}");
    let missing: Vec<_> = pairs.keys().filter(|k| !seen.contains_key(*k)).collect();
    assert!(missing.is_empty(), "missing (row, action): {missing:?}");
    let extra: Vec<_> = seen.keys().filter(|k| !pairs.contains_key(*k)).collect();
    assert!(extra.is_empty(), "unexpected (row, action): {extra:?}");
    assert_eq!(records.len(), pairs.len());
    assert!(
        records.windows(2).all(|w| w[0].row <= w[1].row),
        "compacted in input order"
    );
}

fn expected_exit(records: &[ResultRecord]) -> i32 {
    if records.iter().any(|r| {
        matches!(
            r.status,
            Status::Failed | Status::NotFound | Status::Invalid
        )
    }) {
        1
    } else {
        0
    }
}

fn status_counts(records: &[ResultRecord]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(format!("{}/{}", r.action, r.status)).or_default() += 1;
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Fault campaign
// ---------------------------------------------------------------------------------------------

const CAMPAIGN_ACTIONS: [&str; 8] = [
    "enforce",
    "disable",
    "enable",
    "revoke-sessions",
    "reset-methods",
    "disable+revoke-sessions",
    "enforce+reset-methods",
    "enable+revoke-sessions",
];

#[test]
fn fault_campaign_mixed_rollout_under_faults_and_expiring_tokens_matches_the_emulator() {
    let started = Instant::now();
    let n = env_number("MFA_CAMPAIGN_USERS", 3000);
    let mut config = EmulatorConfig::generated(n, 21)
        .seed(21)
        .token_ttl(3)
        .faults(Faults {
            batch_429: 0.02,
            batch_503: 0.02,
            item_5xx: 0.02,
            drop: 0.03,
            drop_after_execute: true,
            retry_after_secs: Some(0.2),
            latency_ms: 4,
            latency_jitter_ms: 4,
            ..Faults::default()
        });
    // The quota is not what this campaign is about: faults bring the 429s.
    config.quotas.resource_units_per_10s = 1_000_000.0;
    config.quotas.writes_per_150s = 1_000_000.0;
    config.quotas.tenant_writes_per_5min = 1_000_000.0;
    let initial: HashMap<String, UserSpec> = config
        .users
        .iter()
        .map(|u| (u.upn.to_ascii_lowercase(), u.clone()))
        .collect();
    let upns = sorted_upns(&config);
    let env = Env::start(config);
    let csv = rollout_csv(&upns, &CAMPAIGN_ACTIONS);
    let pairs = expected_pairs(&upns, &CAMPAIGN_ACTIONS);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    // Rates scale with the size so that any size runs for several token lifetimes (3,000
    // users: 1,500 reads/s, 1,000 writes/s).
    let reads = (n / 2).max(30).to_string();
    let writes = (n / 3).max(20).to_string();
    let pace = [
        "--read-rate",
        reads.as_str(),
        "--write-rate",
        writes.as_str(),
        "--max-attempts",
        "10",
    ];
    let Output { code, stderr, .. } =
        Invocation::from(env.rollout("apply", &input, &out, &pace)).output();
    assert!(!stderr.contains("panicked"), "{stderr}");

    let records = results(&out);
    assert_one_line_per_pair(&records, &pairs);
    assert_eq!(
        code,
        expected_exit(&records),
        "exit code vs statuses {:?}\n{stderr}",
        status_counts(&records)
    );

    let users = env.users();
    let stats = env.stats();
    let id_to_upn: HashMap<String, String> = users
        .iter()
        .filter_map(|(upn, u)| Some((u.get("id")?.as_str()?.to_string(), upn.clone())))
        .collect();
    let written: BTreeSet<String> = stats
        .get("writes_per_user")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .map(|id| id_to_upn.get(id).cloned().unwrap_or_else(|| id.clone()))
                .collect()
        })
        .unwrap_or_default();
    let writes_of = |upn: &str| -> u64 {
        users[upn]
            .get("writes")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };

    let mut problems = Vec::new();
    let mut applied_users = BTreeSet::new();
    for r in &records {
        let upn = r.user.to_ascii_lowercase();
        let Some(now) = users.get(&upn) else {
            problems.push(format!(
                "row {}: user {} not in the emulator",
                r.row, r.user
            ));
            continue;
        };
        if r.status == Status::Applied {
            applied_users.insert(upn.clone());
        }
        let a = r.action.as_str();
        if STATE_ACTIONS.contains(&a) {
            let first = &initial[&upn].per_user_mfa_state;
            if matches!(r.status, Status::Applied | Status::Unchanged) && &r.before != first {
                problems.push(format!(
                    "row {} {a}: before '{}' but the emulator started with '{first}'",
                    r.row, r.before
                ));
            }
            let applied_wrong = r.status == Status::Applied
                && (state(now) != r.after || r.before == r.after || writes_of(&upn) == 0);
            let unchanged_wrong =
                r.status == Status::Unchanged && (r.before != r.after || state(now) != r.after);
            if applied_wrong || unchanged_wrong {
                problems.push(format!(
                    "row {} {a} {} {}→{} but the emulator has '{}' after {} writes",
                    r.row,
                    r.status,
                    r.before,
                    r.after,
                    state(now),
                    writes_of(&upn)
                ));
            }
        } else if a == "revoke-sessions" {
            let revoked = now.get("revoke_count").and_then(Value::as_u64).unwrap_or(0);
            if r.status == Status::Applied && revoked == 0 {
                problems.push(format!(
                    "row {} revoke-sessions applied, never revoked",
                    r.row
                ));
            }
            if r.status != Status::Applied && revoked > 0 {
                problems.push(format!(
                    "row {} revoke-sessions {} but revoked {revoked} time(s)",
                    r.row, r.status
                ));
            }
        } else if a == "reset-methods" {
            let first: Vec<String> = {
                let mut v: Vec<String> = initial[&upn]
                    .methods
                    .iter()
                    .filter_map(|m| {
                        method_label(
                            &serde_json::json!({"type": m.kind, "phoneType": m.phone_type}),
                        )
                    })
                    .collect();
                v.sort();
                v
            };
            let remaining = labels_of(now);
            if matches!(
                r.status,
                Status::Applied | Status::Unchanged | Status::Failed
            ) && split_labels(&r.after) != remaining
            {
                problems.push(format!(
                    "row {} reset-methods {}: after '{}' but the emulator keeps {:?}",
                    r.row, r.status, r.after, remaining
                ));
            }
            if r.status == Status::Applied && (remaining == first || writes_of(&upn) == 0) {
                problems.push(format!(
                    "row {} reset-methods applied but nothing was deleted ({first:?})",
                    r.row
                ));
            }
            if r.status == Status::Unchanged && remaining != first {
                problems.push(format!(
                    "row {} reset-methods unchanged but methods went {first:?} → {remaining:?}",
                    r.row
                ));
            }
            if matches!(r.status, Status::Applied | Status::Unchanged)
                && split_labels(&r.before) != first
            {
                problems.push(format!(
                    "row {} reset-methods: before '{}' but the emulator started with {first:?}",
                    r.row, r.before
                ));
            }
        }
    }
    // Dropped responses after execution never make a state-only user written twice.
    for (i, upn) in upns.iter().enumerate() {
        let only_state = CAMPAIGN_ACTIONS[i % CAMPAIGN_ACTIONS.len()]
            .split('+')
            .all(|a| STATE_ACTIONS.contains(&a));
        if only_state && writes_of(upn) > 1 {
            problems.push(format!("{upn} written {} times", writes_of(upn)));
        }
    }
    for upn in &written {
        if !applied_users.contains(upn) {
            let rows: Vec<String> = records
                .iter()
                .filter(|r| r.user.eq_ignore_ascii_case(upn))
                .map(|r| format!("{} {} {} ({})", r.row, r.action, r.status, r.message))
                .collect();
            problems.push(format!(
                "{upn} was written {} time(s) but has no applied row: {rows:?}",
                writes_of(upn)
            ));
        }
    }
    for upn in &applied_users {
        if !written.contains(upn) {
            problems.push(format!("{upn} has an applied row but was never written"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        stat(&stats, "token_grants") > 1,
        "tokens expired mid-run and were renewed: {stats}"
    );
    let faults = &stats["faults"];
    // Small runs send too few requests for every fault to be drawn.
    assert!(
        n < 1000
            || (stat(faults, "batch_429") > 0
                && stat(faults, "batch_503") > 0
                && stat(faults, "item_5xx") > 0
                && stat(faults, "dropped") > 0),
        "every fault fired: {faults}"
    );
    let failed: BTreeSet<String> = records
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| format!("{} {}: {}", r.action, r.error_code, r.message))
        .collect();
    // With 10 attempts every fault is ridden out: the only failures are the documented refusal
    // to reset methods when the default cannot move (DESIGN.md, reset-methods).
    assert!(
        records.iter().all(|r| r.status != Status::Failed
            || (r.action == "reset-methods" && r.error_code == "DefaultMethodWouldRemain")),
        "failures other than the documented reset-methods refusal: {failed:?}"
    );
    eprintln!(
        "fault campaign: {n} users, {} lines, exit {code}, {:.1}s, token grants {}, faults {faults}, {:?}, failed: {failed:?}",
        records.len(),
        started.elapsed().as_secs_f64(),
        stat(&stats, "token_grants"),
        status_counts(&records)
    );
}

// ---------------------------------------------------------------------------------------------
// Crash campaign
// ---------------------------------------------------------------------------------------------

const CRASH_ACTIONS: [&str; 6] = [
    "enforce",
    "disable",
    "enable",
    "revoke-sessions",
    "reset-methods",
    "disable+revoke-sessions",
];

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

fn temps_beside(path: &Path) -> Vec<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(path.parent().unwrap())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f.starts_with(&format!("{name}.")) && f.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

fn temp_beside(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(path.parent().unwrap())
        .map(|d| {
            d.filter_map(Result::ok).any(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f.starts_with(&format!("{name}.")) && f.ends_with(".tmp")
            })
        })
        .unwrap_or(false)
}

enum Wait {
    /// The journal reached the line count.
    Reached,
    /// A compaction temp file appeared.
    Compacting,
    /// The run ended by itself first.
    Exited,
}

fn wait_for(child: &mut Child, out: &Path, lines: usize, watch_temp: bool) -> Wait {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if watch_temp && temp_beside(out) {
            return Wait::Compacting;
        }
        if line_count(out) >= lines {
            return Wait::Reached;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Wait::Exited;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never reached {lines} journal lines");
        }
        if watch_temp {
            // Compaction takes milliseconds: look as often as the machine lets us.
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
}

/// The records of a (possibly torn) journal, when it can be read at all.
fn snapshot(out: &Path) -> Vec<ResultRecord> {
    mfa_rollout::journal::read_results(out).unwrap_or_default()
}

struct Run {
    records: Vec<ResultRecord>,
    code: i32,
    users: HashMap<String, Value>,
}

#[test]
fn crash_campaign_kills_and_resumes_end_like_an_uninterrupted_run() {
    let started = Instant::now();
    let kills = env_number("MFA_CRASH_CAMPAIGN", 3);
    let n = 2000;
    let seed = 33;
    let config = EmulatorConfig::generated(n, seed).seed(seed).no_throttle();
    let upns = sorted_upns(&config);
    let csv = rollout_csv(&upns, &CRASH_ACTIONS);
    let pairs = expected_pairs(&upns, &CRASH_ACTIONS);
    let total_lines = pairs.len() + 1;
    let pace = ["--write-rate", "250", "--read-rate", "500"];

    // The reference: one uninterrupted run against a fresh emulator.
    let reference = {
        let env = Env::start(config.clone());
        let input = env.write("users.csv", &csv);
        let out = env.path("results.csv");
        let Output { code, stderr, .. } =
            Invocation::from(env.rollout("apply", &input, &out, &pace)).output();
        assert!(!stderr.contains("panicked"), "{stderr}");
        let records = results(&out);
        assert_one_line_per_pair(&records, &pairs);
        Run {
            records,
            code,
            users: env.users(),
        }
    };
    let reference_secs = started.elapsed().as_secs_f64();

    // The same run, interrupted: `kills` SIGKILLs at seeded journal line counts, one SIGINT,
    // and one kill aimed at the final compaction.
    let env = Env::start(config);
    let input = env.write("users.csv", &csv);
    let out = env.path("results.csv");
    let mut rng = Seeded(seed);
    let mut targets: Vec<usize> = (0..=kills)
        .map(|_| 2 + rng.below(pairs.len() as u64 - 50) as usize)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let sigint_at = targets.pop().expect("a SIGINT moment");
    // Rows journaled before any interruption: a resume must never redo them.
    let mut journaled: BTreeMap<(u64, String), (usize, ResultRecord)> = BTreeMap::new();
    let mut first = true;
    let mut log = Vec::new();
    let spawn = |first: bool| -> Child {
        let mut args: Vec<&str> = pace.to_vec();
        if !first {
            args.push("--resume");
        }
        let mut c: Command = env.rollout("apply", &input, &out, &args);
        c.stdout(std::process::Stdio::null());
        c.stderr(std::process::Stdio::piped());
        c.spawn().expect("spawn")
    };
    // Each pair with the index of the first snapshot (taken after interruption i) holding it.
    let mut snapshots = 0;
    let mut remember = |journaled: &mut BTreeMap<(u64, String), (usize, ResultRecord)>| {
        for r in snapshot(&out) {
            journaled
                .entry((r.row, r.action.clone()))
                .or_insert((snapshots, r));
        }
        snapshots += 1;
    };

    for t in &targets {
        let mut child = spawn(first);
        first = false;
        let w = wait_for(&mut child, &out, *t, false);
        child.kill().ok();
        let status = child.wait().expect("wait");
        log.push(format!(
            "SIGKILL at {t} lines: {} ({status})",
            match w {
                Wait::Reached => "mid-run",
                Wait::Compacting => "compacting",
                Wait::Exited => "already finished",
            }
        ));
        remember(&mut journaled);
    }

    // SIGINT: exit 130, a resume hint, a file that resumes.
    #[cfg(unix)]
    {
        let mut child = spawn(first);
        first = false;
        if let Wait::Reached = wait_for(&mut child, &out, sigint_at, false) {
            let ok = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .expect("kill -INT");
            assert!(ok.success());
            let output = child.wait_with_output().expect("wait");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(130), "{stderr}");
            assert!(stderr.contains("--resume"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            log.push(format!("SIGINT at {sigint_at} lines: exit 130"));
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
        remember(&mut journaled);
    }
    #[cfg(not(unix))]
    let _ = sigint_at;

    let end_pid;
    // A kill as the run ends: when the compaction's temp file shows, or right after the last
    // journal line.
    {
        let mut child = spawn(first);
        end_pid = child.id();
        let mut w = wait_for(&mut child, &out, total_lines, true);
        if let Wait::Reached = w {
            // The last line is in: the compaction comes next. Aim at its temp file.
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if temp_beside(&out) {
                    w = Wait::Compacting;
                    break;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    w = Wait::Exited;
                    break;
                }
                std::thread::yield_now();
            }
        }
        child.kill().ok();
        let _ = child.wait();
        log.push(format!(
            "SIGKILL at the end: {}",
            match w {
                Wait::Reached => "after the last journal line",
                Wait::Compacting => "during compaction (temp file seen)",
                Wait::Exited => "already finished",
            }
        ));
        remember(&mut journaled);
    }

    // The last resume runs to the end.
    let mut args: Vec<&str> = pace.to_vec();
    args.push("--resume");
    let Output { code, stderr, .. } =
        Invocation::from(env.rollout("apply", &input, &out, &args)).output();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let records = results(&out);
    assert_one_line_per_pair(&records, &pairs);
    assert_eq!(code, reference.code, "exit code as uninterrupted\n{stderr}");
    assert_eq!(code, expected_exit(&records));
    let raw = std::fs::read_to_string(&out).unwrap();
    assert_eq!(raw.lines().count(), total_lines, "header + one line a pair");

    // Compare with the reference, pair by pair.
    let by_pair = |rs: &[ResultRecord]| -> BTreeMap<(u64, String), ResultRecord> {
        rs.iter()
            .map(|r| ((r.row, r.action.clone()), r.clone()))
            .collect()
    };
    let want = by_pair(&reference.records);
    let got = by_pair(&records);
    let mut problems = Vec::new();
    let mut redone = 0;
    let mut redone_by: BTreeMap<usize, usize> = BTreeMap::new();
    for (k, g) in &got {
        let w = &want[k];
        if let Some((_, j)) = journaled.get(k) {
            // Journaled before an interruption: kept as it was.
            if (j.status, &j.before, &j.after) != (g.status, &g.before, &g.after) {
                problems.push(format!(
                    "{k:?} journaled as {} {}→{} but ends {} {}→{}",
                    j.status, j.before, j.after, g.status, g.before, g.after
                ));
            }
        }
        if (g.status, &g.before, &g.after) == (w.status, &w.before, &w.after) {
            continue;
        }
        // The one legitimate difference: a kill landed between a write and its journal line,
        // so the resumed row found the work done. It must not have been journaled, must end
        // where the reference ended, and must say so honestly.
        // (A row journaled before a kill was checked above to keep its outcome, so a row
        // that differs here was redone by a resume.)
        redone += 1;
        // Lost by the interruption just before the snapshot that first holds it.
        let lost_by = journaled
            .get(k)
            .map_or(log.len() - 1, |(i, _)| i.wrapping_sub(1));
        *redone_by.entry(lost_by).or_insert(0usize) += 1;
        let same_after = if k.1 == "reset-methods" {
            split_labels(&g.after) == split_labels(&w.after)
        } else {
            g.after == w.after
        };
        let honest = match (w.status, g.status) {
            // Nothing left to do when resumed.
            (Status::Applied, Status::Unchanged) => g.before == g.after,
            // reset-methods cut between two deletes: the resumed row starts from what was left.
            (Status::Applied, Status::Applied) if k.1 == "reset-methods" => {
                let before: BTreeSet<String> = split_labels(&g.before).into_iter().collect();
                let full: BTreeSet<String> = split_labels(&w.before).into_iter().collect();
                before.is_subset(&full) && before != full
            }
            _ => false,
        };
        if !(same_after && honest) {
            problems.push(format!(
                "{k:?}: uninterrupted {} {}→{}, resumed {} {}→{}",
                w.status, w.before, w.after, g.status, g.before, g.after
            ));
        }
    }
    // The tenant ends the same, and only session revocation is ever repeated.
    let crash_users = env.users();
    let revoked_rows: BTreeSet<String> = pairs
        .iter()
        .filter(|((_, a), _)| a == "revoke-sessions")
        .map(|(_, u)| u.clone())
        .collect();
    for (upn, w) in &reference.users {
        let g = &crash_users[upn];
        if state(g) != state(w) || labels_of(g) != labels_of(w) {
            problems.push(format!(
                "{upn}: uninterrupted ends {} {:?}, resumed ends {} {:?}",
                state(w),
                labels_of(w),
                state(g),
                labels_of(g)
            ));
        }
        let writes = |u: &Value| u.get("writes").and_then(Value::as_u64).unwrap_or(0);
        if !revoked_rows.contains(upn) && writes(g) != writes(w) {
            problems.push(format!(
                "{upn}: written {} time(s) uninterrupted, {} time(s) with kills",
                writes(w),
                writes(g)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems after {log:?}:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // A kill inside the compaction may leave that run's temp file (see the ignored
    // `a_resume_removes_the_temp_file_of_a_killed_compaction`); no other run may leave one.
    let leftovers = temps_beside(&out);
    let end_pid = format!(".{end_pid}-");
    assert!(
        leftovers.iter().all(|f| f.contains(&end_pid)),
        "temp files left by a run that was not killed in its compaction: {leftovers:?}"
    );
    log.push(format!("temp files left: {leftovers:?}"));
    eprintln!(
        "crash campaign: {n} users, {} lines, {kills} SIGKILLs + SIGINT + end kill, {redone} rows redone (by interruption: {redone_by:?}), reference {reference_secs:.1}s, total {:.1}s: {log:?}",
        records.len(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// Filesystem faults
// ---------------------------------------------------------------------------------------------

fn small_env() -> (Env, std::path::PathBuf) {
    let config = EmulatorConfig::generated(50, 5).no_throttle();
    let upns = sorted_upns(&config);
    let env = Env::start(config);
    let input = env.write("users.csv", &rollout_csv(&upns, &["enforce", "disable"]));
    (env, input)
}

#[test]
fn results_in_a_missing_directory_exits_2_before_the_first_request() {
    let (env, input) = small_env();
    let out = env.path("no/such/dir/results.csv");
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &[]))
        .expect_exit(2)
        .stderr_has("no/such/dir")
        .stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert!(!env.path("no").exists(), "no directory was created");
}

#[test]
fn results_under_a_regular_file_exits_2_before_the_first_request() {
    let (env, input) = small_env();
    let file = env.write("plain.txt", "not a directory\n");
    let out = file.join("results.csv");
    let stderr = Invocation::from(env.rollout("apply", &input, &out, &[]))
        .expect_exit(2)
        .stderr;
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("plain.txt"), "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory\n");
}

#[test]
fn results_path_that_is_a_directory_exits_2_and_is_left_alone() {
    let (env, input) = small_env();
    let out = env.path("adir");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("inside.txt"), "x").unwrap();
    for extra in [&[][..], &["--overwrite"][..], &["--resume"][..]] {
        let stderr = Invocation::from(env.rollout("apply", &input, &out, extra))
            .labelled(format!("{extra:?}"))
            .expect_exit(2)
            .stderr;
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains("adir"), "{stderr}");
    }
    assert!(out.is_dir() && out.join("inside.txt").exists());
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn a_results_file_in_use_by_a_running_apply_is_refused_naming_the_lock() {
    let (env, input) = small_env();
    let out = env.path("results.csv");
    // A slow run that holds the results file.
    let mut slow = env.rollout(
        "apply",
        &input,
        &out,
        &[
            "--write-rate",
            "1",
            "--read-rate",
            "2",
            "--concurrency",
            "1",
        ],
    );
    slow.stdout(std::process::Stdio::null());
    slow.stderr(std::process::Stdio::null());
    let mut child = slow.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while line_count(&out) < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // A second emulator, so any request the second run made would show.
    let other = Env::start(EmulatorConfig::generated(50, 5).no_throttle());
    let mut outcomes = Vec::new();
    for flag in ["--resume", "--overwrite"] {
        let before = std::fs::read(&out).unwrap();
        let mut c = other.rollout("apply", &input, &out, &[flag]);
        c.current_dir(env.dir.path());
        let Output { code, stderr, .. } = Invocation::from(c).output();
        let after = std::fs::read(&out).unwrap();
        outcomes.push((flag, code, stderr, after.starts_with(&before)));
    }
    let still_running = matches!(child.try_wait(), Ok(None));
    child.kill().ok();
    let _ = child.wait();
    assert!(
        still_running,
        "the slow run was still running during the checks"
    );
    for (flag, code, stderr, kept) in outcomes {
        assert_eq!(code, 2, "{flag}: {stderr}");
        assert!(stderr.to_lowercase().contains("lock"), "{flag}: {stderr}");
        assert!(kept, "{flag}: the running journal was cut or rewritten");
    }
    assert_eq!(stat(&other.stats(), "requests"), 0);
}

#[cfg(unix)]
#[test]
fn a_read_only_results_directory_exits_2_before_the_first_request() {
    use std::os::unix::fs::PermissionsExt;
    let (env, input) = small_env();
    let dir = env.path("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root (and some CI sandboxes) bypass permissions: nothing to test there.
    let probe = dir.join("probe");
    if std::fs::write(&probe, "x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("skipped: this user can write into a read-only directory (root?)");
        return;
    }
    let out = dir.join("results.csv");
    let Output { code, stderr, .. } =
        Invocation::from(env.rollout("apply", &input, &out, &[])).output();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// Writes the journal never heard about
// ---------------------------------------------------------------------------------------------

/// Interrupts a state-only rollout (`signal` "KILL" or "INT") once the journal holds `at`
/// lines, resumes it to the end, and returns the state rows whose user the emulator shows
/// written although the results call the row `unchanged`: writes made by the interrupted run
/// whose journal line was never written (the resume re-read the user and found it done).
fn unjournaled_writes(signal: &str, at: usize) -> (Vec<String>, usize) {
    let config = EmulatorConfig::generated(2000, 44).seed(44).no_throttle();
    let initial: HashMap<String, String> = config
        .users
        .iter()
        .map(|u| (u.upn.to_ascii_lowercase(), u.per_user_mfa_state.clone()))
        .collect();
    let upns = sorted_upns(&config);
    let env = Env::start(config);
    let input = env.write("users.csv", &rollout_csv(&upns, &CRASH_ACTIONS));
    let out = env.path("results.csv");
    let pace = ["--write-rate", "250", "--read-rate", "500"];
    let mut c = env.rollout("apply", &input, &out, &pace);
    c.stdout(std::process::Stdio::null());
    c.stderr(std::process::Stdio::null());
    let mut child = c.spawn().expect("spawn");
    assert!(matches!(
        wait_for(&mut child, &out, at, false),
        Wait::Reached
    ));
    let journaled = line_count(&out).saturating_sub(1);
    if signal == "KILL" {
        child.kill().ok();
    } else {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }
    let _ = child.wait();
    let mut args = pace.to_vec();
    args.push("--resume");
    let Output { code, stderr, .. } =
        Invocation::from(env.rollout("apply", &input, &out, &args)).output();
    assert!(code == 0 || code == 1, "{stderr}");
    // A state row `unchanged` at the target although the tenant started elsewhere: the
    // interrupted run wrote it and never journaled it.
    let lost = results(&out)
        .into_iter()
        .filter(|r| {
            STATE_ACTIONS.contains(&r.action.as_str())
                && r.status == Status::Unchanged
                && initial[&r.user.to_ascii_lowercase()] != r.before
        })
        .map(|r| format!("row {} {} {}", r.row, r.user, r.action))
        .collect();
    (lost, journaled)
}

#[cfg(unix)]
#[test]
fn a_graceful_sigint_journals_every_write_it_made() {
    let (lost, journaled) = unjournaled_writes("INT", 1600);
    assert!(
        lost.is_empty(),
        "{} writes made before Ctrl-C (journal at {journaled} lines) end as `unchanged`: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}

#[test]
fn a_sigkill_loses_at_most_the_batches_in_flight() {
    // Default --concurrency 8 × 20 items a batch: at most 160 calls can be in flight.
    let (lost, journaled) = unjournaled_writes("KILL", 1600);
    assert!(
        lost.len() <= 160,
        "{} users written but not journaled at a SIGKILL (journal at {journaled} lines): {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}

#[test]
fn a_resume_removes_the_temp_file_of_a_killed_compaction() {
    let (env, input) = small_env();
    let out = env.path("results.csv");
    Invocation::from(env.rollout("apply", &input, &out, &[])).expect_exit(0);
    // What a compaction killed halfway leaves: a temp named after a process that is gone.
    let stale = env.path("results.csv.4194303-0.tmp");
    let text = std::fs::read_to_string(&out).unwrap();
    std::fs::write(&stale, &text[..text.len() / 2]).unwrap();
    Invocation::from(env.rollout("apply", &input, &out, &["--resume"])).expect_exit(0);
    assert!(!stale.exists(), "the stale temp file is still there");
}
