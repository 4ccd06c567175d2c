//! Integration tests: journal_files. The results journal across real processes: the run lock
//! held by another process, and a process killed (`kill -9` / TerminateProcess) mid-append.
//!
//! The other process is this test binary itself, re-run on the ignored test
//! `journal_child_process` with `MFA_JOURNAL_CHILD` set; it does nothing when run by hand.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use mfa_rollout::journal::{Journal, JournalError, ResultRecord, Status};

const CHILD_ENV: &str = "MFA_JOURNAL_CHILD";
const MODE_ENV: &str = "MFA_JOURNAL_CHILD_MODE";

fn record(row: u64) -> ResultRecord {
    ResultRecord {
        row,
        user: format!("user{row}@contoso.com"),
        action: "enforce".into(),
        status: Status::Applied,
        before: "disabled".into(),
        after: "enforced".into(),
        http_status: Some(204),
        message: "a message, with \"quotes\"\nand a second line".into(),
        attempts: 1,
        finished_at: "2026-11-24T21:00:00Z".into(),
        ..ResultRecord::default()
    }
}

fn ready_marker(results: &Path) -> PathBuf {
    results.with_extension("ready")
}

/// The child side: holds the journal (`hold`) or appends records forever (`append`), after
/// announcing itself through the ready marker. Killed by the parent.
#[test]
#[ignore = "run by the tests in this file as a child process"]
fn journal_child_process() {
    let Some(path) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let mode = std::env::var(MODE_ENV).unwrap_or_default();
    let mut journal = Journal::create(&path, false, &[]).unwrap();
    let mut row = 2;
    if mode == "append" {
        journal.append(&[record(row)]).unwrap();
        row += 1;
    }
    std::fs::write(ready_marker(&path), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if mode == "append" {
            journal.append(&[record(row), record(row + 1)]).unwrap();
            row += 2;
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn spawn_child(results: &Path, mode: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "journal_files::journal_child_process",
            "--ignored",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_ENV, results)
        .env(MODE_ENV, mode)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready_marker(results).exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        assert!(Instant::now() < deadline, "child never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

#[test]
fn another_process_holding_the_results_file_locks_us_out_until_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.csv");
    let mut child = spawn_child(&results, "hold");

    let err = Journal::resume(&results, &[]).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("in use by another mfa-rollout run"), "{msg}");
    assert!(msg.contains("results.csv.lock"), "{msg}");

    child.kill().unwrap();
    child.wait().unwrap();
    // The lock file is still there; the OS lock died with the process.
    assert!(dir.path().join("results.csv.lock").exists());
    let (_journal, records) = Journal::resume(&results, &[]).unwrap();
    assert!(records.is_empty());
}

#[test]
fn a_process_killed_mid_append_leaves_a_journal_that_resumes_to_a_clean_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.csv");
    let mut child = spawn_child(&results, "append");
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut journal, records) = Journal::resume(&results, &[]).unwrap();
    assert!(!records.is_empty(), "at least the record before ready");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            *r,
            record(i as u64 + 2),
            "record {i} is intact and in order"
        );
    }
    let next = records.len() as u64 + 2;
    journal.append(&[record(next)]).unwrap();
    let mut all = Vec::new();
    journal.finish(|r| all.push(r.clone())).unwrap();
    assert_eq!(all.len(), records.len() + 1);
    assert_eq!(all.last(), Some(&record(next)));
}
