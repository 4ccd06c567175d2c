//! Integration tests: input_cli. The shipped samples through the library, so a sample the
//! README runs can never carry an invalid row; and a generated `.xlsx` workbook through the
//! library and the real `validate` command.

use std::path::Path;

use mfa_rollout::action::Action;
use mfa_rollout::input::{InputOptions, load};

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

#[test]
fn rollout_sample_loads_without_problems_or_warnings() {
    let input = load(&sample("rollout.csv"), &InputOptions::default()).unwrap();
    assert_eq!(input.jobs.len(), 295);
    assert!(input.invalid.is_empty() && input.warnings.is_empty());
    assert_eq!(input.jobs.first().map(|j| j.row), Some(2));
    assert!(
        input
            .jobs
            .iter()
            .any(|j| j.user == "left.company@contoso.onmicrosoft.com")
    );
}

#[test]
fn offboarding_sample_runs_its_combos_in_order() {
    let input = load(&sample("offboarding.csv"), &InputOptions::default()).unwrap();
    assert_eq!(input.jobs.len(), 10);
    assert_eq!(
        input.jobs[0].actions,
        [
            Action::Disable,
            Action::ResetMethods,
            Action::RevokeSessions
        ]
    );
}

/// A workbook as Excel users hand them over: a title row, a blank row, then the table; one
/// user cell is a formula whose cached result is `#N/A`.
fn workbook_with_a_title(path: &Path) {
    use rust_xlsxwriter::{Formula, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").unwrap();
    ws.write_string(0, 0, "MFA rollout, wave 1").unwrap();
    for (c, h) in ["upn", "action", "Employee ID"].into_iter().enumerate() {
        ws.write_string(2, u16::try_from(c).unwrap(), h).unwrap();
    }
    ws.write_string(3, 0, "a@contoso.com").unwrap();
    ws.write_string(3, 1, "enforce").unwrap();
    ws.write_number(3, 2, 1234.0).unwrap();
    ws.write_formula(4, 0, Formula::new("=NA()").set_result("#N/A"))
        .unwrap();
    ws.write_string(4, 1, "enable").unwrap();
    wb.save(path).unwrap();
}

#[test]
fn xlsx_input_loads_from_a_path_with_excel_row_numbers_and_kept_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.xlsx");
    workbook_with_a_title(&path);
    let options = InputOptions {
        keep_columns: vec!["Employee ID".into()],
        skip_invalid: true,
        ..InputOptions::default()
    };
    let input = load(&path, &options).unwrap();
    assert_eq!(input.jobs.len(), 1);
    assert_eq!(input.jobs[0].row, 4);
    assert_eq!(input.jobs[0].keep, ["1234"]);
    assert_eq!(input.keep_headers, ["Employee ID"]);
    assert_eq!(
        input.invalid[0].to_string(),
        "row 5, column 'upn': cell shows an error (#N/A)"
    );
}

#[test]
fn validate_reads_an_xlsx_and_stops_on_its_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.xlsx");
    workbook_with_a_title(&path);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-rollout"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("row 5, column 'upn': cell shows an error (#N/A)"),
        "{stderr}"
    );
}
