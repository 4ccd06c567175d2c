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

// ---- Issue 13: spreadsheets as real programs write them. Every file is generated here; each
// test asserts the rows read, the row-numbered message, the exit code and, where the input is
// refused, that nothing reached the tenant.

use mfa_rollout::emulator::{EmulatorConfig, UserSpec};
use mfa_rollout::journal::Status;

use crate::util::{BIN, Env, Invocation, Output, results, stat};

fn member(upn: &str) -> UserSpec {
    UserSpec {
        id: None,
        upn: upn.into(),
        display_name: None,
        user_type: "Member".into(),
        per_user_mfa_state: "disabled".into(),
        methods: vec![],
        default_method: None,
        system_preferred: false,
        ..UserSpec::default()
    }
}

/// A tenant holding these users, unthrottled.
fn tenant(upns: &[&str]) -> Env {
    Env::start(
        EmulatorConfig {
            users: upns.iter().map(|u| member(u)).collect(),
            ..EmulatorConfig::default()
        }
        .no_throttle(),
    )
}

/// `mfa-rollout validate FILE ARGS` (not quiet): (exit code, stdout, stderr).
fn validate(path: &Path, args: &[&str]) -> Invocation {
    let mut c = std::process::Command::new(BIN);
    c.arg("validate").arg(path).args(args);
    Invocation::from(c)
}

/// The stderr lines that are not blank.
fn lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// `validate`, `plan` and `apply` all refuse `path` with exit 2 and exactly `expected` on
/// stderr; no request reaches the tenant and no results or report file is made.
#[track_caller]
fn refused_everywhere(env: &Env, path: &Path, args: &[&str], expected: &[&str]) {
    let stderr = validate(path, args)
        .labelled("validate")
        .expect_exit(2)
        .stderr;
    assert_eq!(lines(&stderr), expected, "validate");
    for sub in ["plan", "apply"] {
        let out = env.path(&format!("{sub}-out.csv"));
        let stderr = Invocation::from(env.rollout(sub, path, &out, args))
            .labelled(sub)
            .expect_exit(2)
            .stderr;
        assert_eq!(lines(&stderr), expected, "{sub}");
        assert!(!out.exists(), "{sub} made {}", out.display());
    }
    assert_eq!(stat(&env.stats(), "requests"), 0, "nothing was sent");
}

const INVALID_TAIL: &str =
    "; nothing was sent (fix them, or pass --skip-invalid to record them as 'invalid' and go on)";

#[test]
fn invisible_and_typographic_characters_in_upns_are_refused_by_name_and_nothing_is_sent() {
    let env = tenant(&["ann@contoso.com", "obrien@contoso.com"]);
    let path = env.write(
        "users.csv",
        "upn,action\n\
         ann@contoso.com,enforce\n\
         o\u{2019}brien@contoso.com,enforce\n\
         bo\u{200b}b@contoso.com,enforce\n\
         ca\u{ad}rl@contoso.com,enforce\n\
         dan\u{200f}@contoso.com,enforce\n\
         eve\u{2060}x@contoso.com,enforce\n\
         jos\u{e9}@contoso.com,enforce\n\
         fr\u{feff}ed@contoso.com,enforce\n",
    );
    let rule = "which Entra ID does not allow in a user principal name";
    let gone = "it does not show in a spreadsheet: retype the key or delete the character";
    let letters = "Entra allows only A-Z, a-z, 0-9 and ' . - _ ! # ^ ~ in a user principal name: use the UPN exactly as the tenant has it";
    let expected = [
        format!(
            "error: row 3, column 'upn': 'o\u{2019}brien@contoso.com' is not a valid user principal name: it contains '\u{2019}' (U+2019 RIGHT SINGLE QUOTATION MARK) at character 2, {rule}; write it as ' (U+0027) instead"
        ),
        format!(
            "row 4, column 'upn': 'bo\\u{{200b}}b@contoso.com' is not a valid user principal name: it contains U+200B ZERO WIDTH SPACE at character 3, {rule}; {gone}"
        ),
        format!(
            "row 5, column 'upn': 'ca\\u{{ad}}rl@contoso.com' is not a valid user principal name: it contains U+00AD SOFT HYPHEN at character 3, {rule}; {gone}"
        ),
        format!(
            "row 6, column 'upn': 'dan\\u{{200f}}@contoso.com' is not a valid user principal name: it contains U+200F RIGHT-TO-LEFT MARK at character 4, {rule}; {gone}"
        ),
        format!(
            "row 7, column 'upn': 'eve\\u{{2060}}x@contoso.com' is not a valid user principal name: it contains U+2060 WORD JOINER at character 4, {rule}; {gone}"
        ),
        format!(
            "row 8, column 'upn': 'jos\u{e9}@contoso.com' is not a valid user principal name: it contains '\u{e9}' (U+00E9 LATIN SMALL LETTER E WITH ACUTE) at character 4, {rule}; {letters}"
        ),
        format!(
            "row 9, column 'upn': 'fr\\u{{feff}}ed@contoso.com' is not a valid user principal name: it contains U+FEFF ZERO WIDTH NO-BREAK SPACE at character 3, {rule}; {gone}"
        ),
        format!("7 invalid rows{INVALID_TAIL}"),
    ];
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    refused_everywhere(&env, &path, &[], &expected);
}

#[test]
fn invisible_characters_at_the_ends_of_a_user_cell_are_removed_with_a_warning_naming_the_rows() {
    let env = tenant(&["ann@contoso.com", "bob@contoso.com", "cy@contoso.com"]);
    let path = env.write(
        "users.csv",
        "upn,action\n\
         \u{feff}ann@contoso.com,enforce\n\
         bob@contoso.com,enforce\n\
         cy@contoso.com\u{200b}\u{200e},enforce\n",
    );
    let Output { stdout, stderr, .. } = validate(&path, &[]).expect_exit(0);
    assert_eq!(
        lines(&stderr),
        [
            "warning: rows 2, 4: invisible characters (such as U+FEFF ZERO WIDTH NO-BREAK SPACE) at the start or end of the user cell were removed"
        ]
    );
    assert!(stdout.contains("3 users to process"), "{stdout}");
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &path, &out, &[])).expect_exit(0);
    let records = results(&out);
    let got: Vec<(u64, &str, Status)> = records
        .iter()
        .map(|r| (r.row, r.user.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        [
            (2, "ann@contoso.com", Status::Applied),
            (3, "bob@contoso.com", Status::Applied),
            (4, "cy@contoso.com", Status::Applied),
        ]
    );
}

#[test]
fn a_header_with_an_invisible_character_is_shown_escaped_in_the_message() {
    let env = tenant(&[]);
    let path = env.write("users.csv", "\u{200b}upn,action\nann@contoso.com,enforce\n");
    let expected = format!(
        "error: {}: row 1: no user column; the headers are: '\\u{{200b}}upn', 'action' (recognised: userPrincipalName, upn, user principal name, user, username, objectId, id, email, mail, e-mail, email address, e-mail address, work email, work e-mail, work email address); name the column with --user-column NAME",
        path.display()
    );
    refused_everywhere(&env, &path, &[], &[&expected]);
}

#[test]
fn a_ctrl_z_end_of_file_byte_is_ignored() {
    let env = tenant(&["ann@contoso.com", "bob@contoso.com"]);
    let path = env.path("dos.csv");
    std::fs::write(
        &path,
        b"upn,action\r\nann@contoso.com,enforce\r\nbob@contoso.com,disable\r\n\x1a",
    )
    .unwrap();
    let Output { stdout, stderr, .. } = validate(&path, &[]).expect_exit(0);
    assert!(lines(&stderr).is_empty(), "{stderr}");
    assert!(stdout.contains("2 users to process"), "{stdout}");
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &path, &out, &[])).expect_exit(0);
    assert_eq!(results(&out).len(), 2);
}

#[test]
fn a_bom_inside_one_cell_is_that_row_s_error_not_the_whole_file_s() {
    let env = tenant(&["ann@contoso.com"]);
    let path = env.write(
        "users.csv",
        "upn,action\nann@contoso.com,enforce\nbo\u{feff}b@contoso.com,enforce\n",
    );
    let expected = [
        "error: row 3, column 'upn': 'bo\\u{feff}b@contoso.com' is not a valid user principal name: it contains U+FEFF ZERO WIDTH NO-BREAK SPACE at character 3, which Entra ID does not allow in a user principal name; it does not show in a spreadsheet: retype the key or delete the character".to_string(),
        format!("1 invalid row{INVALID_TAIL}"),
    ];
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    refused_everywhere(&env, &path, &[], &expected);
    // With --skip-invalid the other row is applied and this one recorded, not lost.
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &path, &out, &["--skip-invalid"])).expect_exit(1);
    let records = results(&out);
    assert_eq!(
        records
            .iter()
            .map(|r| (r.row, r.status))
            .collect::<Vec<_>>(),
        [(2, Status::Applied), (3, Status::Invalid)]
    );
}

/// A one-sheet workbook with these rows of text cells (an empty string leaves a cell empty).
fn workbook(path: &Path, sheets: &[(&str, &[&[&str]])]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, cells) in rows.iter().enumerate() {
            for (c, text) in cells.iter().enumerate() {
                if !text.is_empty() {
                    ws.write_string(r as u32, c as u16, *text).unwrap();
                }
            }
        }
    }
    wb.save(path).unwrap();
}

/// (row, user, status) of each results record.
fn outcome(path: &Path) -> Vec<(u64, String, Status)> {
    results(path)
        .into_iter()
        .map(|r| (r.row, r.user, r.status))
        .collect()
}

const BARE: [&str; 3] = ["ann@contoso.com", "bob@contoso.com", "cy@contoso.com"];

#[test]
fn a_headerless_list_of_upns_loses_no_user_in_validate_plan_and_apply_csv_and_xlsx() {
    let env = tenant(&BARE);
    let csv = env.write("bare.csv", &format!("{}\n", BARE.join("\n")));
    let xlsx = env.path("bare.xlsx");
    workbook(&xlsx, &[("Users", &[&[BARE[0]], &[BARE[1]], &[BARE[2]]])]);
    let warning = "warning: row 1: column A holds 'ann@contoso.com', a user, not a header: the file is read as having no header row, this row included (pass --no-header to say so)";
    for path in [&csv, &xlsx] {
        let args = ["--user-column", "A", "--action", "enforce"];
        let Output { stdout, stderr, .. } = validate(path, &args).expect_exit(0);
        assert_eq!(lines(&stderr), [warning], "{}", path.display());
        assert!(stdout.contains("3 users to process"), "{stdout}");
        // --no-header says it: the same rows, no warning.
        let mut stated = args.to_vec();
        stated.push("--no-header");
        let Output { stdout, stderr, .. } = validate(path, &stated).expect_exit(0);
        assert!(lines(&stderr).is_empty(), "{stderr}");
        assert!(stdout.contains("3 users to process"), "{stdout}");

        let report = env.path("plan.csv");
        Invocation::from(env.rollout(
            "plan",
            path,
            &report,
            &[&args[..], &["--overwrite"]].concat(),
        ))
        .expect_exit(0);
        let planned: Vec<(u64, String, Status)> = BARE
            .iter()
            .enumerate()
            .map(|(i, u)| (i as u64 + 1, u.to_string(), Status::Planned))
            .collect();
        assert_eq!(outcome(&report), planned);
    }
    // apply, once each: the CSV enforces all three; the workbook finds them enforced.
    let out = env.path("r.csv");
    let mut apply = env.command();
    apply
        .arg("apply")
        .arg(&csv)
        .arg("--results")
        .arg(&out)
        .args(["--user-column", "A", "--action", "enforce"]);
    env.point_at_emulator(&mut apply);
    let stderr = Invocation::from(apply).expect_exit(0).stderr;
    assert!(
        stderr.contains(warning),
        "apply says so on stderr: {stderr}"
    );
    let applied: Vec<(u64, String, Status)> = BARE
        .iter()
        .enumerate()
        .map(|(i, u)| (i as u64 + 1, u.to_string(), Status::Applied))
        .collect();
    assert_eq!(outcome(&out), applied);
    let out = env.path("r2.csv");
    Invocation::from(env.rollout(
        "apply",
        &xlsx,
        &out,
        &["--no-header", "--action", "enforce"],
    ))
    .expect_exit(0);
    assert_eq!(
        outcome(&out)
            .iter()
            .map(|(r, _, s)| (*r, *s))
            .collect::<Vec<_>>(),
        [
            (1, Status::Unchanged),
            (2, Status::Unchanged),
            (3, Status::Unchanged)
        ]
    );
}

#[test]
fn a_headerless_list_without_a_user_column_flag_is_refused_with_the_flags_to_give() {
    let env = tenant(&BARE);
    let csv = env.write("bare.csv", &format!("{}\n", BARE.join("\n")));
    let expected = format!(
        "error: {}: row 1: no user column; the headers are: 'ann@contoso.com' (recognised: userPrincipalName, upn, user principal name, user, username, objectId, id, email, mail, e-mail, email address, e-mail address, work email, work e-mail, work email address); name the column with --user-column NAME; this row looks like data (column A holds the user 'ann@contoso.com'): if the file has no header row, pass --no-header --user-column A",
        csv.display()
    );
    refused_everywhere(&env, &csv, &["--action", "enforce"], &[&expected]);
}

#[test]
fn no_header_takes_columns_by_letter_only_and_needs_an_action() {
    let env = tenant(&BARE);
    let csv = env.write(
        "bare.csv",
        "ann@contoso.com,enforce\nbob@contoso.com,disable\n",
    );
    let stdout = validate(&csv, &["--no-header", "--action-column", "B"])
        .expect_exit(0)
        .stdout;
    assert!(
        stdout.contains("2 users to process (disable: 1, enforce: 1)"),
        "{stdout}"
    );
    for (args, message) in [
        (
            &[
                "--no-header",
                "--user-column",
                "Login",
                "--action",
                "enforce",
            ][..],
            "with --no-header, columns are named by letter (A, B, …): --user-column 'Login' is not a column letter",
        ),
        (
            &["--no-header", "--user-column", "upn", "--action", "enforce"][..],
            "--user-column UPN: the file's rows go as far as column B only",
        ),
        (
            &["--no-header"][..],
            "with --no-header, give one action for every row with --action ACTION, or name the action column by letter with --action-column B",
        ),
    ] {
        let expected = format!("error: {}: row 1: {message}", csv.display());
        refused_everywhere(&env, &csv, args, &[&expected]);
    }
}

#[test]
fn a_title_row_is_skipped_when_the_user_column_is_named_by_letter() {
    let env = tenant(&BARE);
    let csv = env.write(
        "titled.csv",
        "MFA rollout wave 2\n,2026-11-24\nName,UPN,Ticket\nAnn,ann@contoso.com,T1\nBob,bob@contoso.com,T2\n",
    );
    let xlsx = env.path("titled.xlsx");
    workbook(
        &xlsx,
        &[(
            "Wave 2",
            &[
                &["MFA rollout wave 2"],
                &["", "2026-11-24"],
                &["Name", "UPN", "Ticket"],
                &["Ann", "ann@contoso.com", "T1"],
                &["Bob", "bob@contoso.com", "T2"],
            ],
        )],
    );
    for path in [&csv, &xlsx] {
        let args = ["--user-column", "B", "--action", "enforce"];
        let Output { stdout, stderr, .. } = validate(path, &args).expect_exit(0);
        assert_eq!(
            lines(&stderr),
            ["warning: rows 1, 2: above the header (row 3), read as titles and skipped"]
        );
        assert!(stdout.contains("2 users to process"), "{stdout}");
        let out = env.path("plan.csv");
        Invocation::from(env.rollout("plan", path, &out, &[&args[..], &["--overwrite"]].concat()))
            .expect_exit(0);
        assert_eq!(
            outcome(&out),
            [
                (4, "ann@contoso.com".to_string(), Status::Planned),
                (5, "bob@contoso.com".to_string(), Status::Planned)
            ]
        );
    }
}

#[test]
fn the_legacy_per_user_mfa_portal_bulk_update_file_reads_as_it_is() {
    let env = tenant(&BARE);
    let csv = env.write(
        "bulkupdate.csv",
        "Username,MFA Status\nann@contoso.com,Enabled\nbob@contoso.com,Enforced\ncy@contoso.com,Disabled\n",
    );
    let Output { stdout, stderr, .. } = validate(&csv, &[]).expect_exit(0);
    assert!(lines(&stderr).is_empty(), "{stderr}");
    assert!(
        stdout.contains("3 users to process (disable: 1, enable: 1, enforce: 1)"),
        "{stdout}"
    );
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &csv, &out, &[])).expect_exit(0);
    let got: Vec<(u64, String, String, Status)> = results(&out)
        .into_iter()
        .map(|r| (r.row, r.user, r.action, r.status))
        .collect();
    assert_eq!(
        got,
        [
            (
                2,
                "ann@contoso.com".into(),
                "enable".into(),
                Status::Applied
            ),
            (
                3,
                "bob@contoso.com".into(),
                "enforce".into(),
                Status::Applied
            ),
            (
                4,
                "cy@contoso.com".into(),
                "disable".into(),
                Status::Unchanged
            ),
        ]
    );
}

#[test]
fn a_workbook_whose_first_sheet_is_a_cover_lists_its_sheets_and_suggests_one() {
    let env = tenant(&BARE);
    let xlsx = env.path("wave.xlsx");
    workbook(
        &xlsx,
        &[
            (
                "Instructions",
                &[&["How to fill in this workbook"], &["One user per row"]],
            ),
            ("Users", &[&["upn", "action"], &[BARE[0], "enforce"]]),
            ("Notes", &[&["Owner", "Date"], &["IT", "today"]]),
        ],
    );
    let expected = format!(
        "error: {}: sheet 'Instructions', row 1: no user column; the headers are: 'How to fill in this workbook' (recognised: userPrincipalName, upn, user principal name, user, username, objectId, id, email, mail, e-mail, email address, e-mail address, work email, work e-mail, work email address); name the column with --user-column NAME; the workbook's sheets: 'Instructions' (this one), 'Users' (user column 'upn'), 'Notes' (no user column); pass --sheet Users",
        xlsx.display()
    );
    refused_everywhere(&env, &xlsx, &[], &[&expected]);
    let stdout = validate(&xlsx, &["--sheet", "Users"]).expect_exit(0).stdout;
    assert!(stdout.contains("1 user to process"), "{stdout}");
}

/// A zip archive holding these (name, content) entries, the first stored uncompressed (as
/// OpenDocument requires of its `mimetype`).
fn zip_of(path: &Path, entries: &[(&str, &str)]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (i, (name, content)) in entries.iter().enumerate() {
        let method = if i == 0 {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file(*name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn formats_that_are_not_read_are_named_with_how_to_save_them_and_nothing_is_sent() {
    let env = tenant(&BARE);
    let save = "save it as an Excel workbook (.xlsx) or as \"CSV UTF-8\"";
    let ods = env.path("users.ods");
    zip_of(
        &ods,
        &[
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", "<office:document-content/>"),
        ],
    );
    let html = env.write(
        "export.xls",
        "<html><body><table><tr><td>upn</td><td>action</td></tr><tr><td>ann@contoso.com</td><td>enforce</td></tr></table></body></html>\n",
    );
    let old = env.path("old.xls");
    let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    ole.extend([0u8; 504]);
    std::fs::write(&old, &ole).unwrap();
    let locked = env.path("locked.xlsx");
    ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&locked, &ole).unwrap();
    for (path, what) in [
        (
            &ods,
            format!(
                "this is an OpenDocument spreadsheet (.ods, as LibreOffice Calc and OpenOffice save), which is not read; open it in LibreOffice Calc and {save}"
            ),
        ),
        (
            &html,
            format!(
                "this is a web page (HTML), not a spreadsheet, though it may be named like one (some systems export \"Excel\" files this way); open it in Excel and {save}"
            ),
        ),
        (
            &old,
            format!(
                "this is an old Excel 97-2003 workbook (.xls), which is not read; open it in Excel and {save}"
            ),
        ),
        (
            &locked,
            format!(
                "this workbook is protected by a password (encrypted), which is not read; open it in Excel, remove the password (File > Info > Protect Workbook) and {save}"
            ),
        ),
    ] {
        let expected = format!("error: {}: {what}", path.display());
        refused_everywhere(&env, path, &["--action", "enforce"], &[&expected]);
    }
}
