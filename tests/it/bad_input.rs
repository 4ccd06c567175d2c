//! Integration tests: a corpus of bad input files (`tests/corpus/bad/`). Every file must be
//! refused before anything is sent: exit 2 from `apply` and from `validate`, one line per
//! problem naming the row (or the file's problem), never a panic, no request at the emulator
//! and no results file left behind.

use std::path::{Path, PathBuf};

use mfa_rollout::emulator::EmulatorConfig;

use crate::util::{BIN, Env, Invocation, Output, stat};

/// Where the problem is: a row (spreadsheet numbering, header = row 1) or the whole file.
#[derive(Clone, Copy, Debug)]
enum At {
    Row(u64),
    File,
}

/// (file under tests/corpus/bad, where, a fragment of the expected message).
const TABLE: &[(&str, At, &str)] = &[
    ("empty.csv", At::File, "the file is empty"),
    ("header_only.csv", At::File, "no data rows"),
    ("binary_junk.csv", At::File, "binary data at byte 0"),
    ("invalid_utf8_user.csv", At::Row(3), "UTF-8"),
    ("invalid_utf8_header.csv", At::File, "UTF-8"),
    ("unknown_columns.csv", At::File, "user column"),
    ("missing_user_column.csv", At::File, "user column"),
    ("missing_action_column.csv", At::File, "no 'action' column"),
    ("unknown_action.csv", At::Row(3), "unknown action 'explode'"),
    (
        "misspelled_action.csv",
        At::Row(2),
        "unknown action 'enabel'",
    ),
    (
        "delete_app_passwords.csv",
        At::Row(3),
        "no API exists for app passwords",
    ),
    (
        "combo_with_delete_app_passwords.csv",
        At::Row(2),
        "no API exists for app passwords",
    ),
    ("combo_unknown_part.csv", At::Row(2), "explode"),
    ("combo_empty_part.csv", At::Row(2), "empty action"),
    (
        "upn_with_space.csv",
        At::Row(3),
        "not a valid user principal name",
    ),
    (
        "upn_two_at.csv",
        At::Row(2),
        "not a valid user principal name",
    ),
    (
        "upn_two_at_apart.csv",
        At::Row(2),
        "not a valid user principal name",
    ),
    (
        "upn_no_domain_dot.csv",
        At::Row(4),
        "not a valid user principal name",
    ),
    ("upn_empty_local.csv", At::Row(2), "nothing before the '@'"),
    (
        "upn_empty_domain.csv",
        At::Row(2),
        "not a valid user principal name",
    ),
    ("upn_control_char.csv", At::Row(2), "control character"),
    ("upn_tab_inside.csv", At::Row(2), "control character"),
    (
        "upn_forbidden_char.csv",
        At::Row(2),
        "not a valid user principal name",
    ),
    ("upn_too_long.csv", At::Row(2), "longer than"),
    ("guid_braces.csv", At::Row(2), "object id in braces"),
    ("guid_too_short.csv", At::Row(2), "not a valid object id"),
    ("guid_too_long.csv", At::Row(2), "not a valid object id"),
    ("guid_non_hex.csv", At::Row(2), "or an object id (GUID)"),
    (
        "duplicate_conflicting_states.csv",
        At::Row(4),
        "conflicting actions",
    ),
    (
        "duplicate_conflicting_case.csv",
        At::Row(3),
        "conflicting actions",
    ),
    ("formula_cmd.csv", At::Row(3), "spreadsheet formula"),
    ("formula_plus.csv", At::Row(2), "spreadsheet formula"),
    (
        "formula_at.csv",
        At::Row(2),
        "'@SUM(1)' is not a valid user principal name",
    ),
    ("formula_minus.csv", At::Row(2), "spreadsheet formula"),
    (
        "formula_in_action.csv",
        At::Row(2),
        "unknown action '=HYPERLINK",
    ),
    ("only_blank_lines.csv", At::File, "the file is empty"),
    ("bom_then_blank_lines.csv", At::File, "the file is empty"),
    ("delimiter_mix.csv", At::Row(2), "it contains ','"),
    ("truncated_quote.csv", At::Row(3), "quote"),
    (
        "bom_in_the_middle.csv",
        At::Row(3),
        "U+FEFF ZERO WIDTH NO-BREAK SPACE",
    ),
    ("utf32le.csv", At::File, "UTF-32"),
    ("utf32be.csv", At::File, "UTF-32"),
    ("utf16_no_bom.csv", At::File, "UTF-16"),
    ("utf16_odd_length.csv", At::File, "UTF-16"),
    ("xls_magic.csv", At::File, ".xls"),
    ("zip_magic.csv", At::File, ".xlsx"),
    ("nul_in_cell.csv", At::File, "binary data"),
    ("empty_user_cell.csv", At::Row(3), "missing user"),
    ("empty_action_cell.csv", At::Row(2), "missing action"),
    ("whitespace_action_cell.csv", At::Row(2), "missing action"),
    ("repeated_header_row.csv", At::Row(3), "repeated header row"),
    ("no_header_data_first.csv", At::File, "user column"),
    ("many_invalid_rows.csv", At::Row(2), "more problems"),
    ("sep_line_wrong.csv", At::File, "no user column"),
    ("html_instead_of_csv.csv", At::File, "web page (HTML)"),
    (
        "upn_zero_width_space.csv",
        At::Row(3),
        "U+200B ZERO WIDTH SPACE at character 3",
    ),
    (
        "upn_typographic_apostrophe.csv",
        At::Row(2),
        "U+2019 RIGHT SINGLE QUOTATION MARK) at character 2, which Entra ID does not allow in a user principal name; write it as ' (U+0027) instead",
    ),
    ("upn_soft_hyphen.csv", At::Row(2), "U+00AD SOFT HYPHEN"),
    (
        "opendocument.ods",
        At::File,
        "OpenDocument spreadsheet (.ods",
    ),
    ("html_saved_as.xls", At::File, "web page (HTML)"),
    ("upn_bidi_mark.csv", At::Row(2), "U+200F RIGHT-TO-LEFT MARK"),
    (
        "upn_accented_letter.csv",
        At::Row(4),
        "U+00E9 LATIN SMALL LETTER E WITH ACUTE",
    ),
    ("upn_plus_sign.csv", At::Row(2), "'+' (U+002B PLUS SIGN)"),
    (
        "header_zero_width_space.csv",
        At::File,
        "the headers are: '\\u{200b}upn', 'action'",
    ),
];

/// Files made at test time because they are too big to commit.
fn generated(dir: &Path) -> Vec<(PathBuf, At, &'static str)> {
    let mut out = Vec::new();
    // 10 MB on one line, no newline anywhere.
    let p = dir.join("ten_mb_single_line.csv");
    let mut s = String::from("userPrincipalName,action,");
    s.push_str(&"x".repeat(10 * 1024 * 1024));
    std::fs::write(&p, s).unwrap();
    out.push((p, At::File, "no data rows"));
    // A header, then a 10 MB user cell.
    let p = dir.join("ten_mb_cell.csv");
    let mut s = String::from("userPrincipalName,action\n");
    s.push_str(&"a".repeat(10 * 1024 * 1024));
    s.push_str("@contoso.onmicrosoft.com,enforce\n");
    std::fs::write(&p, s).unwrap();
    out.push((p, At::Row(2), "longer than"));
    // 100,000 blank lines and nothing else.
    let p = dir.join("blank_100k.csv");
    std::fs::write(&p, "\n".repeat(100_000)).unwrap();
    out.push((p, At::File, "the file is empty"));
    // A header, 100,000 blank lines, then one bad row: the row number counts the blank lines.
    let p = dir.join("blank_100k_then_bad.csv");
    let mut s = String::from("userPrincipalName,action\n");
    s.push_str(&"\n".repeat(100_000));
    s.push_str("not an upn,enforce\n");
    std::fs::write(&p, s).unwrap();
    out.push((p, At::Row(100_002), "not a user principal name"));
    out
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad")
}

/// Checks one refusal's stderr; returns a description of what is wrong, if anything.
fn judge(name: &str, at: At, fragment: &str, code: i32, stderr: &str) -> Option<String> {
    let mut wrong = Vec::new();
    if code != 2 {
        wrong.push(format!("exit {code}, wanted 2"));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        wrong.push("a panic".to_string());
    }
    if !stderr.contains(fragment) {
        wrong.push(format!("no '{fragment}' in the message"));
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        wrong.push("nothing on stderr".to_string());
    }
    if lines.iter().any(|l| l.len() > 2000) {
        wrong.push("a line over 2,000 characters (echoed input?)".to_string());
    }
    match at {
        At::Row(n) => {
            let tag = format!("row {n}");
            // "row 5" but not "row 50": the next character is not a digit.
            let names_row = stderr.match_indices(&tag).any(|(i, _)| {
                !stderr[i + tag.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            });
            if !names_row {
                wrong.push(format!("'{tag}' not named"));
            }
            // One line per problem: each line names its row, or is the closing count.
            let stray: Vec<&&str> = lines
                .iter()
                .filter(|l| {
                    !(l.contains("row ")
                        || l.contains("; nothing was sent (fix them")
                        || l.contains("more problem"))
                })
                .collect();
            if !stray.is_empty() {
                wrong.push(format!("lines that name no row: {stray:?}"));
            }
        }
        At::File => {
            if lines.len() != 1 {
                wrong.push(format!("{} lines for one file problem", lines.len()));
            }
            if !stderr.contains(name) {
                wrong.push("the file is not named".to_string());
            }
        }
    }
    (!wrong.is_empty()).then(|| format!("{name}: {}\n--- stderr:\n{stderr}", wrong.join("; ")))
}

#[test]
fn the_corpus_has_at_least_40_committed_files_all_in_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert!(on_disk.len() >= 40, "{} files", on_disk.len());
    for f in &on_disk {
        assert!(
            TABLE.iter().any(|(n, _, _)| n == f),
            "{f} is in the corpus but not in the table"
        );
    }
    for (n, _, _) in TABLE {
        assert!(on_disk.iter().any(|f| f == n), "{n} is in the table only");
    }
}

#[test]
fn every_bad_file_is_refused_with_exit_2_naming_the_problem_and_nothing_is_sent() {
    let env = Env::start(EmulatorConfig::generated(10, 1).no_throttle());
    let mut cases: Vec<(PathBuf, At, &str)> = TABLE
        .iter()
        .map(|(n, at, frag)| (corpus().join(n), *at, *frag))
        .collect();
    cases.extend(generated(env.dir.path()));

    let mut failures = Vec::new();
    for (i, (path, at, fragment)) in cases.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let results = env.path(&format!("results-{i}.csv"));
        let before = stat(&env.stats(), "requests");
        let Output { code, stderr, .. } =
            Invocation::from(env.rollout("apply", path, &results, &[])).output();
        if let Some(w) = judge(&name, *at, fragment, code, &stderr) {
            failures.push(format!("apply {w}"));
        }
        let after = stat(&env.stats(), "requests");
        if after != before {
            failures.push(format!("apply {name}: {} requests sent", after - before));
        }
        if results.exists() {
            failures.push(format!("apply {name}: the results file was created"));
        }
        if env.path(&format!("results-{i}.csv.lock")).exists() {
            failures.push(format!("apply {name}: a lock file was created"));
        }

        // An existing results file is left untouched too (with --overwrite and with --resume).
        let kept = env.write(&format!("kept-{i}.csv"), "precious\n");
        for flag in ["--overwrite", "--resume"] {
            let Output { code, stderr, .. } =
                Invocation::from(env.rollout("apply", path, &kept, &[flag])).output();
            if code != 2 || stderr.contains("panicked") {
                failures.push(format!("apply {flag} {name}: exit {code}\n{stderr}"));
            }
            if std::fs::read_to_string(&kept).ok().as_deref() != Some("precious\n") {
                failures.push(format!("apply {flag} {name}: the results file was changed"));
            }
        }
        if stat(&env.stats(), "requests") != before {
            failures.push(format!("apply {name}: requests sent with an existing file"));
        }

        let mut validate = std::process::Command::new(BIN);
        validate.arg("validate").arg(path);
        let Output { code, stderr, .. } = Invocation::from(validate).output();
        if let Some(w) = judge(&name, *at, fragment, code, &stderr) {
            failures.push(format!("validate {w}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
