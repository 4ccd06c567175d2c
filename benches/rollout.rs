//! Benchmarks (not tests): run whole rollouts against the in-process emulator and report
//! figures — throttle efficiency, share of 429s, users/s, CPU per 100,000 users, peak RSS,
//! input validation time — to stdout and to `target/bench-results.md`.
//!
//! `cargo bench --bench rollout` runs every scenario (`told`, `untold-used-up`,
//! `untold-burst`, `engine`, `input`, `export`, `all-users`, `tenants`); `cargo bench --bench rollout -- NAME` runs those whose
//! name contains NAME. Rollout scenarios run `BENCH_RUNS` times (default 3) and report the
//! median with its range. `BENCH_USERS_SCALE=0.1` shrinks every scenario (for a quick look;
//! the README's figures use the full sizes). The figures are reported, not asserted: the
//! goals column says what they should reach.

#![allow(unsafe_code)] // wait4(2) for the child's own CPU time and peak RSS

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mfa_rollout::emulator::{Emulator, EmulatorConfig, EmulatorHandle, Faults, TenantSpec};

const BIN: &str = env!("CARGO_BIN_EXE_mfa-rollout");

struct Measured {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: u64,
    code: i32,
    stdout: String,
}

/// Sends the command's stdout to a file (returned) and drops its stderr.
fn quiet_to_file(cmd: &mut Command) -> PathBuf {
    let path = std::env::temp_dir().join(format!("bench-{}.out", std::process::id()));
    let out = std::fs::File::create(&path).expect("stdout file");
    cmd.stdout(out).stderr(std::process::Stdio::null());
    path
}

/// Runs the binary and waits for it with wait4(2), which reports that child's own CPU time
/// and peak RSS.
#[cfg(unix)]
fn measure(mut cmd: Command) -> Measured {
    let stdout_path = quiet_to_file(&mut cmd);
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn mfa-rollout");
    let pid = child.id() as libc::pid_t;
    // Peak RSS from the child's own VmHWM: wait4's ru_maxrss also counts this (large)
    // process's memory, inherited at fork.
    let hwm = std::thread::spawn(move || {
        let mut peak = 0u64;
        let path = format!("/proc/{pid}/status");
        while let Ok(status) = std::fs::read_to_string(&path) {
            let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            else {
                break;
            };
            peak = peak.max(kb);
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    });
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; pid is our own child, not yet reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    std::mem::forget(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Measured {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kb: hwm.join().unwrap_or(0),
        code,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
    }
}

/// Elsewhere only the wall time: these figures are taken on Linux.
#[cfg(not(unix))]
fn measure(mut cmd: Command) -> Measured {
    let stdout_path = quiet_to_file(&mut cmd);
    let start = Instant::now();
    let status = cmd.status().expect("run mfa-rollout");
    Measured {
        wall: start.elapsed(),
        cpu: Duration::ZERO,
        max_rss_kb: 0,
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
    }
}

fn scale(n: usize) -> usize {
    let f: f64 = std::env::var("BENCH_USERS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * f) as usize).max(100)
}

struct Bench {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    table: Vec<[String; 4]>,
}

fn stat(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// A number from the run's `--json` summary (NaN without one).
fn summary_figure(stdout: &str, key: &str) -> f64 {
    serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| v.get(key).and_then(serde_json::Value::as_f64))
        .unwrap_or(f64::NAN)
}

/// The write rate the run's pacing ended at.
fn final_write_rate(stdout: &str) -> f64 {
    summary_figure(stdout, "final_write_rate")
}

fn items_429(v: &serde_json::Value) -> u64 {
    v.get("items_by_status")
        .and_then(|m| m.get("429"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

impl Bench {
    fn emulator(&self, config: EmulatorConfig) -> EmulatorHandle {
        self.rt.block_on(Emulator::start(config)).expect("emulator")
    }

    fn csv(&self, name: &str, emu: &EmulatorHandle, actions: &[&str]) -> PathBuf {
        let users = emu.users();
        let list = users
            .get("users")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut s = String::from("upn,action\n");
        for (i, u) in list.iter().enumerate() {
            let upn = u
                .get("upn")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(s, "{upn},{}", actions[i % actions.len()]);
        }
        let p = self.dir.path().join(name);
        std::fs::write(&p, s).expect("write csv");
        p
    }

    /// The tenant's users as a selection's rows name them: `id,userPrincipalName,displayName`.
    fn selection_like_csv(&self, name: &str, emu: &EmulatorHandle) -> PathBuf {
        let users = emu.users();
        let p = self.dir.path().join(name);
        let mut w = csv::Writer::from_path(&p).expect("write csv");
        w.write_record(["id", "userPrincipalName", "displayName"])
            .expect("write csv");
        for u in users
            .get("users")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let cell = |k: &str| u.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
            w.write_record([cell("id"), cell("upn"), cell("displayName")])
                .expect("write csv");
        }
        w.flush().expect("write csv");
        p
    }

    fn apply(&self, emu: &EmulatorHandle, input: &Path, extra: &[&str]) -> Measured {
        let mut c = Command::new(BIN);
        c.arg("apply")
            .arg(input)
            .arg("--results")
            .arg(self.dir.path().join("results.csv"))
            .arg("--overwrite")
            .arg("--quiet")
            .arg("--json")
            .arg("--graph-url")
            .arg(emu.base_url())
            .arg("--authority-host")
            .arg(emu.base_url())
            .args(extra)
            .env("AZURE_TENANT_ID", emu.tenant_id())
            .env("AZURE_CLIENT_ID", emu.client_id())
            .env("AZURE_CLIENT_SECRET", emu.client_secret())
            .env_remove("GRAPH_ACCESS_TOKEN");
        measure(c)
    }

    fn row(&mut self, scenario: &str, figure: &str, value: String, goal: &str) {
        println!("{scenario:<28} {figure:<34} {value:>14}   goal {goal}");
        self.table
            .push([scenario.into(), figure.into(), value, goal.into()]);
    }

    /// 1 and 2: a rollout against a write quota, told it or not. Untold, the tenant allows a
    /// third of the documented quota and its budget starts used up (other apps spent it): no
    /// burst to hide behind, so the figure is the steady rate the pacing finds.
    fn quota(&mut self, told: bool) {
        let users = scale(if told { 20_000 } else { 10_000 });
        let scale_f = 10.0; // 200 writes/s, 8,000 RU/s: 20,000 users in about a minute
        let mut config = EmulatorConfig::generated(users, 42)
            .quota_scale(scale_f)
            .faults(Faults {
                latency_ms: 50,
                latency_jitter_ms: 20,
                ..Faults::default()
            });
        let assumed_writes = 3000.0 / 150.0 * scale_f;
        let assumed_reads = 8000.0 / 10.0 * scale_f - assumed_writes;
        if !told {
            config.quotas.writes_per_150s /= 3.0;
            config.quotas.resource_units_per_10s /= 3.0;
            config.quotas.initial_fill = 0.0;
        }
        let real_writes = config.quotas.writes_per_150s / 150.0 * scale_f;
        let w = format!("{assumed_writes}");
        let r = format!("{assumed_reads}");
        let told_flags = [
            "--write-rate",
            w.as_str(),
            "--read-rate",
            r.as_str(),
            "--concurrency",
            "16",
        ];
        // Untold: only the scale of the documented quota the tool assumes (it starts there).
        let untold_flags = ["--quota-scale", "10", "--concurrency", "16"];
        let flags: &[&str] = if told { &told_flags } else { &untold_flags };
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            let emu = self.emulator(config.clone());
            let input = self.csv("quota.csv", &emu, &["enforce", "disable"]);
            let m = self.apply(&emu, &input, flags);
            let stats = emu.stats();
            let writes = stat(&stats, "writes") as f64;
            let items = stat(&stats, "items").max(1) as f64;
            let achieved = writes / m.wall.as_secs_f64();
            runs.code = runs.code.max(m.code);
            runs.push("final rate", final_write_rate(&m.stdout));
            runs.push("efficiency", achieved / real_writes);
            // The same over the engine's own run: without process start, sign-in and the
            // final compaction, which a loaded machine stretches.
            let engine = summary_figure(&m.stdout, "elapsed_seconds");
            runs.push("engine efficiency", writes / engine / real_writes);
            runs.push("writes/s", achieved);
            runs.push("429", 100.0 * items_429(&stats) as f64 / items);
            runs.push("wall", m.wall.as_secs_f64());
        }
        let name = if told {
            "1 told quota"
        } else {
            "2 untold, a third, used up"
        };
        self.row(name, "users", users.to_string(), "");
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(name, "quota writes/s", format!("{real_writes:.1}"), "");
        self.row(name, "writes/s achieved", runs.show("writes/s", 1), "");
        let goal_eff = if told { ">= 0.995" } else { ">= 0.92" };
        self.row(
            name,
            "efficiency (writes/s / quota)",
            runs.show("efficiency", 3),
            goal_eff,
        );
        let goal_429 = if told { "0 %" } else { "<= 1 %" };
        self.row(
            name,
            "the same over the engine's run",
            runs.show("engine efficiency", 3),
            "",
        );
        self.row(name, "items answered 429, %", runs.show("429", 2), goal_429);
        self.row(name, "wall seconds", runs.show("wall", 1), "");
        self.row(
            name,
            "pacing ended at, writes/s",
            runs.show("final rate", 1),
            "",
        );
        if told {
            let wall = Duration::from_secs_f64(runs.median("wall"));
            self.baseline(&emu_config_for_baseline(users), wall);
        }
    }

    /// 6: the tenant grants its write bucket as a burst: full at the start and holding 2 s of
    /// the refill (200 writes/s, 400 held). The tool is told only `--quota-scale 10`. The ideal
    /// is the burst at once, then the refill rate: `(writes - burst) / rate`.
    fn burst(&mut self) {
        let users = scale(3_000);
        let scale_f = 10.0;
        let burst_secs = 2.0;
        let mut config = EmulatorConfig::generated(users, 43)
            .quota_scale(scale_f)
            .faults(Faults {
                latency_ms: 40,
                latency_jitter_ms: 20,
                ..Faults::default()
            });
        config.quotas.write_burst_secs = Some(burst_secs);
        for u in &mut config.users {
            u.per_user_mfa_state = "disabled".into();
        }
        let rate = config.quotas.writes_per_150s / 150.0 * scale_f;
        let held = rate * burst_secs;
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            let emu = self.emulator(config.clone());
            let input = self.csv("burst.csv", &emu, &["enforce"]);
            let m = self.apply(&emu, &input, &["--quota-scale", "10"]);
            let stats = emu.stats();
            let writes = stat(&stats, "writes") as f64;
            let items = stat(&stats, "items").max(1) as f64;
            let ideal = (writes - held).max(0.0) / rate;
            let lost = emu
                .users()
                .get("users")
                .and_then(serde_json::Value::as_array)
                .map_or(users, |l| {
                    l.iter()
                        .filter(|u| u["perUserMfaState"] != "enforced")
                        .count()
                });
            runs.code = runs.code.max(m.code);
            runs.push("final rate", final_write_rate(&m.stdout));
            runs.push("efficiency", ideal / m.wall.as_secs_f64());
            let engine = summary_figure(&m.stdout, "elapsed_seconds");
            runs.push("engine efficiency", ideal / engine);
            runs.push("429", 100.0 * items_429(&stats) as f64 / items);
            runs.push("wall", m.wall.as_secs_f64());
            runs.push("ideal", ideal);
            runs.push("lost", lost as f64);
        }
        let name = "6 untold, burst granted";
        self.row(
            name,
            "users (all disabled -> enforce)",
            users.to_string(),
            "",
        );
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(
            name,
            "refill writes/s, burst held",
            format!("{rate:.0}, {held:.0}"),
            "",
        );
        self.row(name, "ideal seconds", runs.show("ideal", 2), "");
        self.row(name, "wall seconds", runs.show("wall", 2), "");
        self.row(
            name,
            "efficiency (ideal / wall)",
            runs.show("efficiency", 3),
            ">= 0.95",
        );
        self.row(
            name,
            "the same over the engine's run",
            runs.show("engine efficiency", 3),
            "",
        );
        self.row(name, "items answered 429, %", runs.show("429", 2), "<= 1 %");
        self.row(name, "users left unchanged", runs.show("lost", 0), "0");
        self.row(
            name,
            "pacing ended at, writes/s",
            runs.show("final rate", 0),
            "",
        );
    }

    /// 5: the same rollout the way common scripts send it: one request at a time, GET then
    /// PATCH per user, retrying only on 429. Run for a bounded time and extrapolated.
    fn baseline(&mut self, config: &EmulatorConfig, tool_wall: Duration) {
        let emu = self.emulator(config.clone());
        let users = emu.users();
        let list: Vec<String> = users
            .get("users")
            .and_then(serde_json::Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|u| u.get("upn").and_then(|v| v.as_str()).map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let total = list.len();
        let budget = Duration::from_secs(20);
        let (done, elapsed) = self.rt.block_on(sequential_script(&emu, &list, budget));
        let per_user = elapsed.as_secs_f64() / done.max(1) as f64;
        let projected = per_user * total as f64;
        self.row(
            "5 baseline script",
            "users done in 20 s",
            done.to_string(),
            "",
        );
        self.row(
            "5 baseline script",
            "projected seconds, all users",
            format!("{projected:.0}"),
            "",
        );
        self.row(
            "5 baseline script",
            "tool speed-up (wall)",
            format!("{:.1}x", projected / tool_wall.as_secs_f64()),
            "",
        );
    }

    /// 3: engine-bound: no quota, no latency.
    fn engine(&mut self) {
        let users = scale(100_000);
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            let emu = self.emulator(EmulatorConfig::generated(users, 7).no_throttle());
            let input = self.csv("engine.csv", &emu, &["enforce", "disable"]);
            let m = self.apply(
                &emu,
                &input,
                &[
                    "--write-rate",
                    "1000000",
                    "--read-rate",
                    "1000000",
                    "--concurrency",
                    "16",
                ],
            );
            runs.code = runs.code.max(m.code);
            runs.push("users/s", users as f64 / m.wall.as_secs_f64());
            runs.push("cpu", m.cpu.as_secs_f64() * 100_000.0 / users as f64);
            runs.push("rss", m.max_rss_kb as f64 / 1024.0);
        }
        let name = "3 engine-bound";
        self.row(name, "users", users.to_string(), "");
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(name, "users/s", runs.show("users/s", 0), ">= 20,000");
        self.row(name, "CPU s per 100,000 users", runs.show("cpu", 2), "<= 4");
        self.row(name, "peak RSS MB", runs.show("rss", 1), "<= 64");
    }

    /// 4: input-bound: validate a 1,000,000-row CSV, with rayon's threads and with one.
    fn input(&mut self) {
        let rows = scale(1_000_000);
        let path = self.dir.path().join("big.csv");
        let mut s = String::with_capacity(rows * 40);
        s.push_str("userPrincipalName,action\n");
        for i in 0..rows {
            let _ = writeln!(
                s,
                "user{i:07}@contoso.onmicrosoft.com,{}",
                ["enable", "enforce", "disable"][i % 3]
            );
        }
        std::fs::write(&path, s).expect("write big csv");
        for (label, threads) in [("rayon (all cores)", None), ("one thread", Some("1"))] {
            let mut c = Command::new(BIN);
            c.arg("validate").arg(&path).arg("--quiet");
            if let Some(t) = threads {
                c.env("RAYON_NUM_THREADS", t);
            }
            let m = measure(c);
            let name = "4 validate 1M rows";
            self.row(
                name,
                &format!("seconds, {label}"),
                format!("{:.2}", m.wall.as_secs_f64()),
                "<= 3",
            );
            self.row(
                name,
                &format!("peak RSS MB, {label}"),
                format!("{:.0}", m.max_rss_kb as f64 / 1024.0),
                "",
            );
        }
    }
}

/// How many times each rollout scenario runs (`BENCH_RUNS`, default 3): figures are medians,
/// shown with their range, because one run on a shared machine says little.
fn repetitions() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1)
}

/// One scenario's figures over its runs.
#[derive(Default)]
struct Runs {
    figures: Vec<(&'static str, Vec<f64>)>,
    code: i32,
}

impl Runs {
    fn push(&mut self, name: &'static str, value: f64) {
        match self.figures.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(value),
            None => self.figures.push((name, vec![value])),
        }
    }

    fn values(&self, name: &str) -> Vec<f64> {
        let mut v = self
            .figures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        v
    }

    fn n(&self) -> usize {
        self.figures.first().map_or(0, |(_, v)| v.len())
    }

    fn median(&self, name: &str) -> f64 {
        let v = self.values(name);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// `median (min-max)` with `decimals` places.
    fn show(&self, name: &str, decimals: usize) -> String {
        let v = self.values(name);
        let (lo, hi) = (v.first().copied(), v.last().copied());
        let m = self.median(name);
        match (lo, hi) {
            (Some(lo), Some(hi)) if v.len() > 1 => {
                format!("{m:.decimals$} ({lo:.decimals$}-{hi:.decimals$})")
            }
            _ => format!("{m:.decimals$}"),
        }
    }
}

fn emu_config_for_baseline(users: usize) -> EmulatorConfig {
    EmulatorConfig::generated(users, 42)
        .quota_scale(10.0)
        .faults(Faults {
            latency_ms: 50,
            latency_jitter_ms: 20,
            ..Faults::default()
        })
}

async fn sequential_script(
    emu: &EmulatorHandle,
    users: &[String],
    budget: Duration,
) -> (usize, Duration) {
    let http = reqwest::Client::new();
    let base = emu.base_url();
    let token_url = format!("{base}/{}/oauth2/v2.0/token", emu.tenant_id());
    let form = [
        ("client_id", emu.client_id()),
        ("client_secret", emu.client_secret()),
        ("scope", "https://graph.microsoft.com/.default".to_string()),
        ("grant_type", "client_credentials".to_string()),
    ];
    let token: serde_json::Value = http
        .post(&token_url)
        .form(&form)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let bearer = format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    );
    let start = Instant::now();
    let mut done = 0;
    for (i, upn) in users.iter().enumerate() {
        if start.elapsed() > budget {
            break;
        }
        let url = format!("{base}/beta/users/{upn}/authentication/requirements");
        let target = if i % 2 == 0 { "enforced" } else { "disabled" };
        loop {
            let r = http
                .get(&url)
                .header("Authorization", &bearer)
                .send()
                .await
                .expect("get");
            if r.status().as_u16() == 429 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            if body["perUserMfaState"] != target {
                loop {
                    let r = http
                        .patch(&url)
                        .header("Authorization", &bearer)
                        .json(&serde_json::json!({ "perUserMfaState": target }))
                        .send()
                        .await
                        .expect("patch");
                    if r.status().as_u16() != 429 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            break;
        }
        done += 1;
    }
    (done, start.elapsed())
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let mut b = Bench {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime"),
        dir: tempfile::tempdir().expect("scratch dir"),
        table: Vec::new(),
    };
    println!("{:<28} {:<34} {:>14}   goal", "scenario", "figure", "value");
    if wanted("told") {
        b.quota(true);
    }
    if wanted("untold-used-up") {
        b.quota(false);
    }
    if wanted("untold-burst") {
        b.burst();
    }
    if wanted("engine") {
        b.engine();
    }
    if wanted("input") {
        b.input();
    }
    if wanted("export") {
        b.export();
    }
    if wanted("all-users") {
        b.all_users();
    }
    if wanted("tenants") {
        b.tenants();
    }
    let mut md = String::from("| scenario | figure | value | goal |\n|---|---|---|---|\n");
    for [a, f, v, g] in &b.table {
        let _ = writeln!(md, "| {a} | {f} | {v} | {g} |");
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results.md");
    if std::fs::write(&out, md).is_ok() {
        println!("\nwritten to {}", out.display());
    }
}

/// The tenant-wide scenarios (issue 17): an export, and `apply --all-users`.
impl Bench {
    /// The command line against `emu` with its credentials: `mfa-rollout ARGS…`.
    fn against(emu: &EmulatorHandle, args: &[&std::ffi::OsStr]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .arg("--graph-url")
            .arg(emu.base_url())
            .arg("--authority-host")
            .arg(emu.base_url())
            .env("AZURE_TENANT_ID", emu.tenant_id())
            .env("AZURE_CLIENT_ID", emu.client_id())
            .env("AZURE_CLIENT_SECRET", emu.client_secret())
            .env_remove("GRAPH_ACCESS_TOKEN");
        c
    }

    /// 7: export of 100,000 users at a scaled quota (`BENCH_EXPORT_SCALE`, default 5: 4,000
    /// resource units/s), told the read rate: the resource units Graph charged per second
    /// against what the budget allows (users/s achieved / users/s the budget permits, at
    /// the resource units a user costs), 429s, peak RSS.
    fn export(&mut self) {
        let users = scale(100_000);
        let scale_f: f64 = std::env::var("BENCH_EXPORT_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5.0);
        let config = EmulatorConfig::generated(users, 44)
            .quota_scale(scale_f)
            .faults(Faults {
                latency_ms: 20,
                latency_jitter_ms: 10,
                ..Faults::default()
            });
        let budget = config.quotas.resource_units_per_10s / 10.0 * scale_f;
        let rate = format!("{budget}");
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            let emu = self.emulator(config.clone());
            let out = self.dir.path().join("export.csv");
            let m = measure(Self::against(
                &emu,
                &[
                    "export".as_ref(),
                    "--out".as_ref(),
                    out.as_os_str(),
                    "--overwrite".as_ref(),
                    "--read-rate".as_ref(),
                    rate.as_ref(),
                    "--concurrency".as_ref(),
                    "16".as_ref(),
                ],
            ));
            let stats = emu.stats();
            let ru = stat(&stats, "resource_units") as f64;
            let items = stat(&stats, "items").max(1) as f64;
            runs.code = runs.code.max(m.code);
            runs.push("efficiency", ru / m.wall.as_secs_f64() / budget);
            // Over the reads alone: the summary's "N reads in S s" (without the listing,
            // sign-in, process start and the final file).
            let read_secs = m
                .stdout
                .split(" reads in ")
                .nth(1)
                .and_then(|t| t.split(" s").next())
                .and_then(|t| t.trim().parse::<f64>().ok())
                .unwrap_or(f64::NAN);
            let pages = (users as f64 / 999.0).ceil();
            runs.push("read efficiency", (ru - pages) / read_secs / budget);
            runs.push("ru per user", ru / users as f64);
            runs.push("users/s", users as f64 / m.wall.as_secs_f64());
            runs.push("429", 100.0 * items_429(&stats) as f64 / items);
            runs.push("rss", m.max_rss_kb as f64 / 1024.0);
            runs.push("wall", m.wall.as_secs_f64());
        }
        let name = "7 export, told the quota";
        self.row(name, "users", users.to_string(), "");
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(name, "read budget, RU/s", format!("{budget:.0}"), "");
        self.row(name, "RU per user", runs.show("ru per user", 2), "");
        self.row(name, "users/s", runs.show("users/s", 0), "");
        self.row(
            name,
            "efficiency (RU/s / budget), wall",
            runs.show("efficiency", 3),
            "",
        );
        self.row(
            name,
            "the same over the reads",
            runs.show("read efficiency", 3),
            ">= 0.95",
        );
        self.row(name, "items answered 429, %", runs.show("429", 2), "0 %");
        self.row(name, "peak RSS MB", runs.show("rss", 1), "<= 100");
        self.row(name, "wall seconds", runs.show("wall", 1), "");
    }

    /// 8: `apply --all-users --action enforce` on 100,000 users who are all enforced already
    /// (reads only, so it runs at the read budget), against the same rollout from an input
    /// file of the same users (UPNs only), and from one with the columns a selection's rows
    /// carry (the object id as the user, `userPrincipalName` and `displayName` kept): peak
    /// RSS, to show the selection does not hold the list twice (no more than the last).
    fn all_users(&mut self) {
        let users = scale(100_000);
        let mut config = EmulatorConfig::generated(users, 45).no_throttle();
        for u in &mut config.users {
            u.per_user_mfa_state = "enforced".into();
            u.user_type = "Member".into();
        }
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            let emu = self.emulator(config.clone());
            let input = self.csv("all.csv", &emu, &["enforce"]);
            let same_columns = self.selection_like_csv("all-ids.csv", &emu);
            let results = self.dir.path().join("all-results.csv");
            let fast = [
                "--read-rate".as_ref(),
                "1000000".as_ref(),
                "--concurrency".as_ref(),
                "16".as_ref(),
                "--quiet".as_ref(),
                "--overwrite".as_ref(),
                "--results".as_ref(),
                results.as_os_str(),
            ];
            let mut args: Vec<&std::ffi::OsStr> = vec![
                "apply".as_ref(),
                "--all-users".as_ref(),
                "--action".as_ref(),
                "enforce".as_ref(),
            ];
            args.extend(fast);
            let m = measure(Self::against(&emu, &args));
            runs.code = runs.code.max(m.code);
            runs.push("rss selection", m.max_rss_kb as f64 / 1024.0);
            runs.push("wall selection", m.wall.as_secs_f64());
            let mut args: Vec<&std::ffi::OsStr> = vec!["apply".as_ref(), input.as_os_str()];
            args.extend(fast);
            let m = measure(Self::against(&emu, &args));
            runs.code = runs.code.max(m.code);
            runs.push("rss input", m.max_rss_kb as f64 / 1024.0);
            runs.push("wall input", m.wall.as_secs_f64());
            let mut args: Vec<&std::ffi::OsStr> = vec![
                "apply".as_ref(),
                same_columns.as_os_str(),
                "--action".as_ref(),
                "enforce".as_ref(),
                "--keep-columns".as_ref(),
                "userPrincipalName,displayName".as_ref(),
            ];
            args.extend(fast);
            let m = measure(Self::against(&emu, &args));
            runs.code = runs.code.max(m.code);
            runs.push("rss same columns", m.max_rss_kb as f64 / 1024.0);
        }
        let name = "8 apply --all-users";
        self.row(name, "users", users.to_string(), "");
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(
            name,
            "peak RSS MB, --all-users",
            runs.show("rss selection", 1),
            "",
        );
        self.row(
            name,
            "peak RSS MB, the same users from a CSV",
            runs.show("rss input", 1),
            "",
        );
        self.row(
            name,
            "peak RSS MB, a CSV of ids, UPN and name kept",
            runs.show("rss same columns", 1),
            ">= --all-users",
        );
        self.row(
            name,
            "wall seconds, --all-users",
            runs.show("wall selection", 1),
            "",
        );
        self.row(
            name,
            "wall seconds, from a CSV",
            runs.show("wall input", 1),
            "",
        );
    }
}

/// What one many-tenant run measured.
struct TenantsRun {
    wall: f64,
    engine: f64,
    /// The highest share of items answered 429 in any one tenant, %.
    worst_429: f64,
    unwritten: f64,
    rss_mb: f64,
}

/// The many-tenant scenario (issue 20).
impl Bench {
    /// 9: N tenants (`BENCH_TENANTS`, default 10) × M changes each (every user disabled,
    /// action enforce: M reads and M writes a tenant) at a scaled quota (×10: 200 writes/s
    /// per tenant, each tenant its own buckets, empty at the start), from one input with a tenant column, against
    /// one tenant's M changes through the same path, alternately: the wall-time ratio, the
    /// 429s in each tenant, and peak RSS for 1 and N tenants.
    fn tenants(&mut self) {
        let m = scale(2_000);
        let n: usize = std::env::var("BENCH_TENANTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10usize)
            .max(2);
        let scale_f = 10.0;
        let mut config = EmulatorConfig::generated(m, 46)
            .quota_scale(scale_f)
            .faults(Faults {
                latency_ms: 50,
                latency_jitter_ms: 20,
                ..Faults::default()
            });
        for u in &mut config.users {
            u.per_user_mfa_state = "disabled".into();
        }
        // The buckets start empty (other apps spent them): the quota's refill sets the pace,
        // not the burst a full bucket would grant (M writes fit in it).
        config.quotas.initial_fill = 0.0;
        let ids: Vec<String> = (1..n)
            .map(|t| format!("00000000-0000-4000-8000-{t:012}"))
            .collect();
        for (t, id) in ids.iter().enumerate() {
            let domain = format!("customer{t}.onmicrosoft.com");
            config
                .tenants
                .push(TenantSpec::new(id, &domain, config.users.clone()));
        }
        let rate = config.quotas.writes_per_150s / 150.0 * scale_f;
        let mut runs = Runs::default();
        for _ in 0..repetitions() {
            // One tenant's M changes, N tenants' M each, and the same M spread over N.
            let one = self.tenants_run(&config, &ids, 1, m, &mut runs);
            let many = self.tenants_run(&config, &ids, n, m, &mut runs);
            let spread = self.tenants_run(&config, &ids, n, m / n, &mut runs);
            runs.push("wall 1", one.wall);
            runs.push("wall N", many.wall);
            runs.push("ratio", many.wall / one.wall);
            runs.push("engine 1", one.engine);
            runs.push("engine N", many.engine);
            runs.push("engine ratio", many.engine / one.engine);
            runs.push("429 1", one.worst_429);
            runs.push("429 N", many.worst_429);
            runs.push("unwritten N", many.unwritten);
            runs.push("rss 1", one.rss_mb);
            runs.push("rss N", many.rss_mb);
            runs.push("rss spread", spread.rss_mb);
            runs.push("rss spread ratio", spread.rss_mb / one.rss_mb);
        }
        let name = "9 tenants at once";
        self.row(name, "tenants N, changes M each", format!("{n}, {m}"), "");
        self.row(name, "runs (median, min-max)", runs.n().to_string(), "");
        self.row(name, "worst exit code", runs.code.to_string(), "0");
        self.row(name, "quota writes/s per tenant", format!("{rate:.0}"), "");
        self.row(name, "wall seconds, 1 tenant", runs.show("wall 1", 1), "");
        self.row(name, "wall seconds, N tenants", runs.show("wall N", 1), "");
        self.row(
            name,
            "ratio (N tenants / 1 tenant), wall",
            runs.show("ratio", 2),
            "<= 1.3",
        );
        self.row(
            name,
            "engine seconds, 1 tenant",
            runs.show("engine 1", 1),
            "",
        );
        self.row(
            name,
            "engine seconds, N tenants",
            runs.show("engine N", 1),
            "",
        );
        self.row(
            name,
            "the same over the engines' runs",
            runs.show("engine ratio", 2),
            "",
        );
        self.row(
            name,
            "429 %, worst tenant, 1 tenant",
            runs.show("429 1", 2),
            "<= 1 %",
        );
        self.row(
            name,
            "429 %, worst tenant, N tenants",
            runs.show("429 N", 2),
            "<= 1 %",
        );
        self.row(
            name,
            "changes not written, N tenants",
            runs.show("unwritten N", 0),
            "0",
        );
        self.row(name, "peak RSS MB, 1 tenant × M", runs.show("rss 1", 1), "");
        self.row(
            name,
            "peak RSS MB, N tenants × M",
            runs.show("rss N", 1),
            "",
        );
        self.row(
            name,
            "peak RSS MB, N tenants × M/N",
            runs.show("rss spread", 1),
            "",
        );
        self.row(
            name,
            "the same rows: N × M/N over 1 × M",
            runs.show("rss spread ratio", 2),
            "flat in N",
        );
    }

    /// One run of scenario 9: the first `tenants` tenants, `per` changes each.
    fn tenants_run(
        &self,
        config: &EmulatorConfig,
        ids: &[String],
        tenants: usize,
        per: usize,
        runs: &mut Runs,
    ) -> TenantsRun {
        let mut config = config.clone();
        config.users.truncate(per);
        // The generated groups name users past `per`; no group is read here.
        config.groups.clear();
        for t in &mut config.tenants {
            t.users.truncate(per);
        }
        let emu = self.emulator(config);
        let mut all = vec![emu.tenant_id()];
        all.extend(ids.iter().cloned());
        all.truncate(tenants);
        let input = self.tenant_csv(&emu, &all, tenants);
        let out = self.dir.path().join("tenants-results.csv");
        let measured = measure(Self::against(
            &emu,
            &[
                "apply".as_ref(),
                input.as_os_str(),
                "--results".as_ref(),
                out.as_os_str(),
                "--overwrite".as_ref(),
                "--quiet".as_ref(),
                "--json".as_ref(),
                "--quota-scale".as_ref(),
                "10".as_ref(),
                "--concurrency".as_ref(),
                "16".as_ref(),
            ],
        ));
        runs.code = runs.code.max(measured.code);
        let summary: serde_json::Value =
            serde_json::from_str(measured.stdout.trim()).unwrap_or_default();
        let mut worst_429 = 0.0f64;
        let mut writes = 0u64;
        for id in &all {
            let stats = if *id == emu.tenant_id() {
                emu.stats()
            } else {
                emu.tenant_stats(id).unwrap_or_default()
            };
            let items = stat(&stats, "items").max(1) as f64;
            worst_429 = worst_429.max(100.0 * items_429(&stats) as f64 / items);
            writes += stat(&stats, "writes");
        }
        TenantsRun {
            wall: measured.wall.as_secs_f64(),
            // The engines' own time: the slowest tenant's, without process start, sign-in
            // and the final compaction.
            engine: summary["tenants"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|t| t["elapsed_seconds"].as_f64())
                        .fold(0.0, f64::max)
                })
                .unwrap_or(f64::NAN),
            worst_429,
            unwritten: (tenants * per) as f64 - writes as f64,
            rss_mb: measured.max_rss_kb as f64 / 1024.0,
        }
    }

    /// `tenant,upn,action`: every user of the first `tenants` tenants of `ids`, enforce,
    /// tenant after tenant.
    fn tenant_csv(&self, emu: &EmulatorHandle, ids: &[String], tenants: usize) -> PathBuf {
        let users = emu.users();
        let list = users
            .get("users")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut s = String::from("tenant,upn,action\n");
        for id in ids.iter().take(tenants) {
            for u in &list {
                let upn = u
                    .get("upn")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                let _ = writeln!(s, "{id},{upn},enforce");
            }
        }
        let p = self.dir.path().join(format!("tenants-{tenants}.csv"));
        std::fs::write(&p, s).expect("write csv");
        p
    }
}
