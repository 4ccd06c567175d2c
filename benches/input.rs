//! Benchmark of the input reader: a generated one-million-row CSV (as Excel exports it: CRLF,
//! a quoted display-name column, a few duplicates) loaded with and without rayon. Reports
//! wall time per run and peak resident memory to stdout and to `target/bench-input.txt`.
//! Run: `cargo bench --bench input` (optionally `-- ROWS` and `parallel-first`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use mfa_rollout::input::{InputOptions, load_with};

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.csv");
    write_input(&path, rows);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let mut report = format!(
        "input benchmark: {rows} rows, {:.1} MB, {} rayon threads\n",
        size as f64 / 1e6,
        rayon::current_num_threads()
    );
    // Peak RSS only grows within a process: pass `parallel-first` to see the parallel run's own.
    let order = if std::env::args().any(|a| a == "parallel-first") {
        [true, false, true, false]
    } else {
        [false, true, false, true]
    };
    for parallel in order {
        let start = Instant::now();
        let input = load_with(&path, &InputOptions::default(), parallel).expect("valid input");
        let elapsed = start.elapsed();
        let _ = writeln!(
            report,
            "parallel={parallel:<5} {:>7.3} s  jobs={} warnings={}  peak RSS so far {}",
            elapsed.as_secs_f64(),
            input.jobs.len(),
            input.warnings.len(),
            peak_rss()
        );
        drop(input);
    }
    print!("{report}");
    let out = Path::new("target").join("bench-input.txt");
    if let Ok(mut f) = std::fs::File::create(&out) {
        let _ = f.write_all(report.as_bytes());
    }
}

fn write_input(path: &Path, rows: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let _ = out.write_all(b"userPrincipalName,action,Employee ID,Display Name\r\n");
    for i in 0..rows {
        // One row in a thousand repeats an earlier user with the same action.
        let user = if i % 1000 == 999 { i - 500 } else { i };
        let action = ["enable", "enforce", "disable", "enable+revoke-sessions"][user % 4];
        let _ = write!(
            out,
            "user{user:07}@contoso.onmicrosoft.com,{action},E{user},\"Smith, User {user}\"\r\n"
        );
    }
    let _ = out.flush();
}

/// Peak resident set size of this process (Linux only; elsewhere "n/a").
fn peak_rss() -> String {
    #[cfg(target_os = "linux")]
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
    {
        return line.trim_start_matches("VmHWM:").trim().to_string();
    }
    "n/a".to_string()
}
