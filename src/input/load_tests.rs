//! Tests of [`super::load`] as a whole: files as spreadsheets export them, in, jobs or one-line
//! errors with row numbers, out. Fixtures are generated here.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::action::Action;

fn load_text(text: &str, options: &InputOptions) -> Result<LoadedInput, InputError> {
    load_raw(text.as_bytes(), options)
}

fn load_raw(bytes: &[u8], options: &InputOptions) -> Result<LoadedInput, InputError> {
    let sequential = load_bytes(Path::new("in.csv"), bytes.to_vec(), options, false);
    let parallel = load_bytes(Path::new("in.csv"), bytes.to_vec(), options, true);
    assert_eq!(
        format!("{sequential:?}"),
        format!("{parallel:?}"),
        "parallel and sequential loads differ"
    );
    parallel
}

fn ok(text: &str) -> LoadedInput {
    load_text(text, &InputOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The one-line message of a `Format` error (panics on anything else).
#[track_caller]
fn format_error(bytes: &[u8], options: &InputOptions) -> String {
    match load_raw(bytes, options) {
        Err(InputError::Format { message, .. }) => {
            assert!(!message.contains('\n'), "not one line: {message}");
            message
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[track_caller]
fn problems(text: &str, options: &InputOptions) -> Vec<RowProblem> {
    match load_text(text, options) {
        Err(InputError::Problems(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn rows_and_users(input: &LoadedInput) -> Vec<(u64, &str)> {
    input
        .jobs
        .iter()
        .map(|j| (j.row, j.user.as_str()))
        .collect()
}

const SIMPLE: &str = "upn,action\na@x.com,enable\nb@x.com,disable\n";

#[test]
fn plain_csv_gives_jobs_with_spreadsheet_rows() {
    let input = ok(SIMPLE);
    assert_eq!(input.headers, ["upn", "action"]);
    assert_eq!(rows_and_users(&input), [(2, "a@x.com"), (3, "b@x.com")]);
    assert_eq!(input.jobs[1].actions, [Action::Disable]);
    assert!(input.invalid.is_empty() && input.warnings.is_empty());
}

#[test]
fn load_reads_a_file_and_names_an_unreadable_one() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(SIMPLE.as_bytes()).unwrap();
    let input = load(file.path(), &InputOptions::default()).unwrap();
    assert_eq!(input.jobs.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let err = load(&missing, &InputOptions::default()).unwrap_err();
    assert!(matches!(err, InputError::Unreadable { .. }));
    assert!(err.to_string().contains("missing.csv"), "{err}");
}

#[test]
fn utf8_bom_is_accepted() {
    let input = load_raw(
        b"\xEF\xBB\xBFuserPrincipalName,action\r\na@x.com,enable\r\n",
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(input.headers[0], "userPrincipalName");
    assert_eq!(rows_and_users(&input), [(2, "a@x.com")]);
}

#[test]
fn semicolon_and_tab_delimiters_are_detected() {
    let input = ok("upn;action;name\na@x.com;enable;Smith, Ann\n");
    assert_eq!(rows_and_users(&input), [(2, "a@x.com")]);
    let input = ok("upn\taction\na@x.com\tenforce\n");
    assert_eq!(input.jobs[0].actions, [Action::Enforce]);
}

#[test]
fn excel_sep_line_sets_the_delimiter_and_is_not_a_row() {
    let input = ok("sep=;\r\nupn;action\r\na@x.com;enable\r\n");
    assert_eq!(rows_and_users(&input), [(2, "a@x.com")]);
}

#[test]
fn crlf_line_endings() {
    let input = ok("upn,action\r\na@x.com,enable\r\nb@x.com,enable\r\n");
    assert_eq!(rows_and_users(&input), [(2, "a@x.com"), (3, "b@x.com")]);
}

#[test]
fn quoted_embedded_newline_keeps_later_row_numbers_right() {
    let input = ok(
        "upn,action,note\na@x.com,enable,\"two\nlines\"\nb@x.com,enable,\"three\r\nline\r\nnote\"\nc@x.com,disable,\n",
    );
    assert_eq!(
        rows_and_users(&input),
        [(2, "a@x.com"), (3, "b@x.com"), (4, "c@x.com")]
    );
    let p = problems(
        "upn,action,note\na@x.com,enable,\"two\nlines\"\nbad,enable,\n",
        &InputOptions::default(),
    );
    assert_eq!(p[0].row, 3);
}

#[test]
fn blank_lines_are_skipped_but_counted_as_rows() {
    let input = ok("upn,action\n\na@x.com,enable\n\r\n,,\n   \nb@x.com,enable\n\n");
    assert_eq!(rows_and_users(&input), [(3, "a@x.com"), (7, "b@x.com")]);
}

#[test]
fn stray_whitespace_is_trimmed() {
    let input = ok(" UPN , Action \n  a@x.com\t,  Enable \n\u{a0}b@x.com\u{a0}, \"disable\"\n");
    assert_eq!(input.headers, ["UPN", "Action"]);
    assert_eq!(rows_and_users(&input), [(2, "a@x.com"), (3, "b@x.com")]);
    assert_eq!(input.jobs[1].actions, [Action::Disable]);
}

#[test]
fn every_user_alias_works_end_to_end() {
    for alias in header::user_aliases() {
        let input = ok(&format!("{alias},action\na@x.com,enable\n"));
        assert_eq!(input.jobs.len(), 1, "{alias}");
    }
}

#[test]
fn user_column_action_column_and_action_flags() {
    let options = InputOptions {
        user_column: Some("Login".into()),
        action_column: Some("MFA".into()),
        ..InputOptions::default()
    };
    let input = load_text("login,mfa,mail\na@x.com,enforce,other@x.com\n", &options).unwrap();
    assert_eq!(rows_and_users(&input), [(2, "a@x.com")]);
    assert_eq!(input.jobs[0].actions, [Action::Enforce]);

    let options = InputOptions {
        action: Some(vec![Action::Disable, Action::RevokeSessions]),
        ..InputOptions::default()
    };
    // A row with its own action is refused, never overridden (issue 14 item 2); the row
    // whose action cell is empty takes --action (an export's empty column, issue 17).
    let err = format_error(b"upn,action\na@x.com,enable\nb@x.com,\n", &options);
    assert!(
        err.starts_with(
            "--action disable+revoke-sessions would override the file's own action column 'action' (column B): drop --action to use the column, or empty the column (it holds actions on row 2)"
        ),
        "{err}"
    );
    // Refused whatever --skip-invalid says: the flag would replace the file's actions.
    let skipping = InputOptions {
        skip_invalid: true,
        ..options.clone()
    };
    assert!(format_error(b"upn,action\na@x.com,enable\n", &skipping).contains("would override"));
    let input = load_text("upn,action\na@x.com,\nb@x.com, \n", &options).unwrap();
    assert!(
        input
            .jobs
            .iter()
            .all(|j| j.actions == [Action::Disable, Action::RevokeSessions])
    );
    let input = load_text("upn,name\na@x.com,A\nb@x.com,B\n", &options).unwrap();
    assert!(
        input
            .jobs
            .iter()
            .all(|j| j.actions == [Action::Disable, Action::RevokeSessions])
    );
    assert_eq!(input.jobs.len(), 2);
}

#[test]
fn missing_user_column_lists_the_headers() {
    let err = format_error(
        b"Name,Login,action\nA,a@x.com,enable\n",
        &InputOptions::default(),
    );
    assert!(err.contains("'Name', 'Login', 'action'"), "{err}");
    assert!(err.contains("--user-column NAME"), "{err}");
}

#[test]
fn unknown_action_names_row_and_column() {
    let p = problems(
        "upn,Action\na@x.com,enable\nb@x.com,enabel\n",
        &InputOptions::default(),
    );
    assert_eq!(p.len(), 1);
    assert!(
        p[0].to_string()
            .starts_with("row 3, column 'Action': unknown action 'enabel'"),
        "{}",
        p[0]
    );
}

#[test]
fn all_problems_are_collected_sorted_by_row() {
    let text = "upn,action\nbad,enable\na@x.com,enable\n,enable\nc@x.com,\nd@x.com,delete-app-passwords\na@x.com,disable\n";
    let p = problems(text, &InputOptions::default());
    let rows: Vec<u64> = p.iter().map(|p| p.row).collect();
    assert_eq!(rows, [2, 4, 5, 6, 7]);
    assert!(p[1].message.contains("missing user"));
    assert!(p[2].message.contains("missing action"));
    assert!(p[3].message.contains("no API exists for app passwords"));
    assert!(
        p[4].message
            .contains("row 3 says enable, row 7 says disable")
    );
    let shown = InputError::Problems(p).to_string();
    assert!(shown.ends_with("5 invalid rows; nothing was sent (fix them, or pass --skip-invalid to record them as 'invalid' and go on)"), "{shown}");
}

#[test]
fn malformed_upns_and_guids_are_problems_and_good_ones_pass() {
    let text = "upn,action\n\
        x_contoso.com#EXT#@tenant.onmicrosoft.com,enable\n\
        o'brien@x.com,enable\n\
        $admin@x.com,enable\n\
        8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b,enable\n\
        a b@x.com,enable\n\
        a@@x.com,enable\n\
        a@x,enable\n\
        {8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b},enable\n\
        \"=cmd|' /C calc'!A0\",enable\n";
    let p = problems(text, &InputOptions::default());
    let rows: Vec<u64> = p.iter().map(|p| p.row).collect();
    assert_eq!(rows, [6, 7, 8, 9, 10]);
    assert!(p.iter().all(|p| p.column.as_deref() == Some("upn")));
}

#[test]
fn duplicate_same_actions_is_a_warning_and_duplicate_of() {
    let input = ok("upn,action\na@x.com,enable\nb@x.com,enable\nA@X.COM,enable\n");
    assert_eq!(input.jobs[2].duplicate_of, Some(2));
    assert_eq!(
        input.warnings,
        ["row 4: same user and actions as row 2; done once"]
    );
}

#[test]
fn conflicting_actions_are_a_problem_naming_both_rows() {
    let p = problems(
        "upn,action\na@x.com,enable\nb@x.com,enable\na@x.com,disable\n",
        &InputOptions::default(),
    );
    assert_eq!(
        p[0].to_string(),
        "row 4, column 'action': conflicting actions for user a@x.com: row 2 says enable, row 4 says disable"
    );
}

#[test]
fn skip_invalid_moves_problems_to_invalid_and_keeps_valid_rows() {
    let options = InputOptions {
        skip_invalid: true,
        ..InputOptions::default()
    };
    let input = load_text(
        "upn,action\nbad,enable\na@x.com,enable\nb@x.com,nope\na@x.com,disable\n",
        &options,
    )
    .unwrap();
    assert_eq!(rows_and_users(&input), [(3, "a@x.com")]);
    let rows: Vec<u64> = input.invalid.iter().map(|p| p.row).collect();
    assert_eq!(rows, [2, 4, 5]);
    assert_eq!(input.invalid[0].user, "bad");
    assert_eq!(input.invalid[1].action, "nope");
}

#[test]
fn empty_file_is_a_one_line_error() {
    assert_eq!(
        format_error(b"", &InputOptions::default()),
        "the file is empty"
    );
    assert!(format_error(b"\n\n\r\n", &InputOptions::default()).starts_with("the file is empty"));
    assert!(format_error(b",,\n,,\n", &InputOptions::default()).contains("no header row"));
}

#[test]
fn header_only_is_no_data_rows() {
    for text in ["upn,action", "upn,action\n", "upn,action\r\n\r\n,\n"] {
        let err = format_error(text.as_bytes(), &InputOptions::default());
        assert!(err.starts_with("no data rows"), "{err}");
    }
}

#[test]
fn hundred_thousand_blank_lines_are_no_data_rows_quickly() {
    let mut text = String::from("upn,action\n");
    text.push_str(&"\n".repeat(100_000));
    let err = format_error(text.as_bytes(), &InputOptions::default());
    assert!(err.starts_with("no data rows"), "{err}");
    text.push_str("a@x.com,enable\n");
    let input = ok(&text);
    assert_eq!(input.jobs[0].row, 100_002);
}

#[test]
fn binary_junk_is_a_one_line_error() {
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
    junk.reverse();
    let err = format_error(&junk, &InputOptions::default());
    assert!(
        err.starts_with("this does not look like a CSV text file (binary data at byte"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_names_the_row_and_says_csv_utf8() {
    let err = format_error(
        b"upn,action,name\na@x.com,enable,\"Ren\xE9\nX\"\nb@x.com,enable,Andr\xE9\n",
        &InputOptions::default(),
    );
    assert!(
        err.starts_with("row 2: the text is not valid UTF-8 (byte 0xE9"),
        "{err}"
    );
    assert!(err.contains("\"CSV UTF-8\""), "{err}");
    let err = format_error(
        b"upn,action\na@x.com,enable\n\nb\xFF@x.com,enable\n",
        &InputOptions::default(),
    );
    assert!(err.starts_with("row 4:"), "{err}");
}

#[test]
fn truncated_quote_at_eof_names_row_and_column() {
    let err = format_error(
        b"upn,action\na@x.com,enable\nb@x.com,\"enable\nc@x.com,disable\n",
        &InputOptions::default(),
    );
    assert_eq!(
        err,
        "row 3, column 'action': a quote opened in this cell is never closed, so the rest of the file was read as one cell; close the quote or remove it"
    );
    let err = format_error(b"upn,\"action\na@x.com,enable\n", &InputOptions::default());
    assert!(err.starts_with("row 1, column 'action\\na@x.com"), "{err}");
}

#[test]
fn a_bom_in_the_middle_is_the_row_s_problem_not_the_file_s() {
    // Two files joined: the second header, behind its BOM, is a repeated header row.
    let problems = load_raw(
        b"upn,action\na@x.com,enable\n\xEF\xBB\xBFupn,action\nb@x.com,enable\n",
        &InputOptions::default(),
    )
    .unwrap_err();
    let InputError::Problems(problems) = problems else {
        panic!("{problems}")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].row, 3);
    assert!(
        problems[0].message.contains("repeated header row"),
        "{}",
        problems[0]
    );
    // Inside a UPN it is that row's error, by name; at its start it is removed, with a warning.
    let err = load_raw(
        "upn,action\na@x.com,enable\nb\u{feff}ob@x.com,enable\n\u{feff}c@x.com,enable\n".as_bytes(),
        &InputOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("row 3, column 'upn': 'b\\u{feff}ob@x.com' is not a valid user principal name: it contains U+FEFF ZERO WIDTH NO-BREAK SPACE at character 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    let input = load_raw(
        "upn,action\na@x.com,enable\n\u{feff}c@x.com,enable\n".as_bytes(),
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(rows_and_users(&input), [(2, "a@x.com"), (3, "c@x.com")]);
    assert_eq!(
        input.warnings,
        [
            "row 3: invisible characters (such as U+FEFF ZERO WIDTH NO-BREAK SPACE) at the start or end of the user cell were removed"
        ]
    );
}

#[test]
fn utf16_unicode_text_from_excel_is_read() {
    let text =
        "userPrincipalName\taction\tname\r\nalice@x.com\tenable\tÄlice\r\nbob@x.com\tdisable\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    let input = load_raw(&bytes, &InputOptions::default()).unwrap();
    assert_eq!(
        rows_and_users(&input),
        [(2, "alice@x.com"), (3, "bob@x.com")]
    );

    let mut bad = vec![0xFF, 0xFE];
    for u in "upn\taction\r\na@x.com\tenable\r\nb"
        .encode_utf16()
        .chain([0xDC00])
    {
        bad.extend(u.to_le_bytes());
    }
    let err = format_error(&bad, &InputOptions::default());
    assert!(err.starts_with("row 3: the UTF-16 text"), "{err}");
}

#[test]
fn rows_split_across_chunks_keep_order_and_numbers() {
    let n = validate::CHUNK_ROWS * 2 + 17;
    let mut text = String::from("upn,action\n");
    for i in 0..n {
        if i % 1000 == 999 {
            text.push('\n');
        }
        text.push_str(&format!("u{i}@x.com,enable\n"));
    }
    text.push_str("u5@x.com,disable\nbad,enable\n");
    let options = InputOptions {
        skip_invalid: true,
        ..InputOptions::default()
    };
    let input = load_text(&text, &options).unwrap();
    assert_eq!(input.jobs.len(), n);
    let last = input.jobs.last().unwrap();
    let blank = u64::try_from(n / 1000).unwrap();
    assert_eq!(last.row, 1 + u64::try_from(n).unwrap() + blank);
    assert!(input.jobs.windows(2).all(|w| w[0].row < w[1].row));
    assert_eq!(input.invalid.len(), 2);
    assert!(input.invalid[0].message.contains("conflicting"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = load_bytes(Path::new("p.csv"), bytes, &InputOptions::default(), false);
    }

    #[test]
    fn csv_like_text_never_panics(
        body in "[a-z@.,;\t\r\n\" '=+#${}0-9\u{feff}\u{a0}é-]{0,300}",
        header in prop_oneof![Just("upn,action\n"), Just("upn;action\r\n"), Just("user\taction\n"), Just("")],
        skip_invalid in any::<bool>(),
        parallel in any::<bool>(),
    ) {
        let options = InputOptions { skip_invalid, ..InputOptions::default() };
        let text = format!("{header}{body}");
        if let Err(InputError::Format { message, .. }) =
            load_bytes(Path::new("p.csv"), text.into_bytes(), &options, parallel)
        {
            prop_assert!(!message.contains('\n'), "{}", message);
        }
    }

    /// Invisible, typographic and non-ASCII characters anywhere, a trailing Ctrl-Z, with and
    /// without a header (by letter, `--no-header`): never a panic, every message one line
    /// with no invisible character left unescaped.
    #[test]
    fn unicode_cells_and_headerless_reads_never_panic(
        body in "[a-z@.,\n'0-9\u{200b}-\u{200f}\u{2060}\u{ad}\u{feff}\u{2019}\u{1a}üé+#]{0,200}",
        no_header in any::<bool>(),
        by_letter in any::<bool>(),
        parallel in any::<bool>(),
    ) {
        let options = InputOptions {
            no_header,
            user_column: by_letter.then(|| "A".to_string()),
            action: Some(vec![Action::Enforce]),
            skip_invalid: true,
            ..InputOptions::default()
        };
        let outcome = load_bytes(Path::new("p.csv"), body.into_bytes(), &options, parallel);
        let messages: Vec<String> = match outcome {
            Ok(input) => input
                .invalid
                .iter()
                .map(ToString::to_string)
                .chain(input.warnings)
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        for m in messages {
            prop_assert!(!m.contains('\n'), "{}", m);
            prop_assert!(
                !m.chars().any(|c| super::char_name::is_invisible(c) && c != ' '),
                "{:?}",
                m
            );
        }
    }
}

/// One generated data line: blank, a plain valid row, or a valid row whose note cell is quoted
/// and spans several lines.
#[derive(Clone, Debug)]
enum Line {
    Blank,
    Plain,
    Quoted(usize),
}

fn line_strategy() -> impl Strategy<Value = Line> {
    prop_oneof![
        Just(Line::Blank),
        Just(Line::Plain),
        (1usize..4).prop_map(Line::Quoted)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Row numbers are record positions, blank records included, whatever the line ending and
    /// however many line breaks quoted cells hold.
    #[test]
    fn row_numbers_match_what_a_spreadsheet_shows(
        lines in proptest::collection::vec(line_strategy(), 1..40),
        crlf in any::<bool>(),
        delimiter in prop_oneof![Just(','), Just(';'), Just('\t')],
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let d = delimiter;
        let mut text = format!("upn{d}action{d}note{eol}");
        let mut expected = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let row = u64::try_from(i).unwrap() + 2;
            match line {
                Line::Blank => {}
                Line::Plain => {
                    expected.push(row);
                    text.push_str(&format!("u{i}@x.com{d}enable{d}n"));
                }
                Line::Quoted(breaks) => {
                    expected.push(row);
                    let note = vec!["part"; breaks + 1].join(eol);
                    text.push_str(&format!("u{i}@x.com{d}enable{d}\"{note}\""));
                }
            }
            text.push_str(eol);
        }
        match load_text(&text, &InputOptions::default()) {
            Ok(input) => {
                let rows: Vec<u64> = input.jobs.iter().map(|j| j.row).collect();
                prop_assert_eq!(rows, expected);
            }
            Err(InputError::Format { message, .. }) => {
                prop_assert!(expected.is_empty(), "{}", message);
                prop_assert!(message.starts_with("no data rows"), "{}", message);
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}

#[test]
fn keep_columns_pass_through_in_order_for_jobs_and_invalid_rows() {
    let options = InputOptions {
        keep_columns: vec!["Ticket".into(), "employee id".into(), "A".into()],
        skip_invalid: true,
        ..InputOptions::default()
    };
    let text = "Name,upn,Employee ID,action,Ticket\n\
        Ann,a@x.com, 0042 ,enable,T-1\n\
        Bob,bad,7,enable,T-2\n\
        Ann,a@x.com,0042,disable,T-3\n";
    let input = load_text(text, &options).unwrap();
    assert_eq!(input.keep_headers, ["Ticket", "Employee ID", "Name"]);
    assert_eq!(input.jobs[0].keep, ["T-1", "0042", "Ann"]);
    // A bad cell and a conflicting row both keep their passthrough cells.
    let kept: Vec<(u64, &[String])> = input
        .invalid
        .iter()
        .map(|p| (p.row, p.keep.as_slice()))
        .collect();
    assert_eq!(
        kept,
        [
            (3, &["T-2".to_string(), "7".into(), "Bob".into()][..]),
            (4, &["T-3".to_string(), "0042".into(), "Ann".into()][..]),
        ]
    );
    // Without the flag nothing is carried.
    let input = ok(text.lines().take(2).collect::<Vec<_>>().join("\n").as_str());
    assert!(input.keep_headers.is_empty() && input.jobs[0].keep.is_empty());
}

#[test]
fn a_missing_keep_column_lists_the_headers() {
    let options = InputOptions {
        keep_columns: vec!["Ticket".into()],
        ..InputOptions::default()
    };
    let err = format_error(b"upn,action\na@x.com,enable\n", &options);
    assert_eq!(
        err,
        "row 1: no column named 'Ticket' (--keep-columns); the headers are: 'upn', 'action'"
    );
}

#[test]
fn column_letters_name_the_user_and_action_columns() {
    let options = InputOptions {
        user_column: Some("b".into()),
        action_column: Some("C".into()),
        ..InputOptions::default()
    };
    let input = load_text("Name,Login,Do\nAnn,a@x.com,enforce\n", &options).unwrap();
    assert_eq!(rows_and_users(&input), [(2, "a@x.com")]);
    assert_eq!(input.jobs[0].actions, [Action::Enforce]);
    // A header with the letter's text wins; a user column without a header cell is named by
    // its letter in messages.
    let input = load_text("b,Login,C\nx@x.com,a@x.com,enable\n", &options).unwrap();
    assert_eq!(rows_and_users(&input), [(2, "x@x.com")]);
    let p = problems("Name,,Do\nAnn,bad,enable\n", &options);
    assert!(
        p[0].to_string().starts_with("row 2, column 'B':"),
        "{}",
        p[0]
    );
}

#[test]
fn an_entra_users_export_is_read_by_its_user_principal_name() {
    let text = "id,displayName,userPrincipalName,mail,objectId,action\n\
        8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b,Ann,ann@x.com,ann@y.com,8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b,enable\n";
    let input = ok(text);
    assert_eq!(rows_and_users(&input), [(2, "ann@x.com")]);
    let err = format_error(
        b"upn,userPrincipalName,action\na@x.com,a@x.com,enable\n",
        &InputOptions::default(),
    );
    assert!(
        err.starts_with(
            "row 1: columns 'upn' and 'userPrincipalName' could both be the user column"
        ),
        "{err}"
    );
}

#[test]
fn title_rows_above_a_csv_header_are_skipped() {
    let text = "MFA rollout; wave 2\nPrepared;2026-11-24\n\nName;UPN;Action\nAnn;a@x.com;enable\nBob;bad;enable\n";
    let p = problems(text, &InputOptions::default());
    assert_eq!(p.len(), 1);
    assert!(
        p[0].to_string().starts_with("row 6, column 'UPN':"),
        "{}",
        p[0]
    );
    let options = InputOptions {
        skip_invalid: true,
        ..InputOptions::default()
    };
    let input = load_text(text, &options).unwrap();
    assert_eq!(input.headers, ["Name", "UPN", "Action"]);
    assert_eq!(rows_and_users(&input), [(5, "a@x.com")]);
    // A title that splits on a comma does not make the file comma-separated.
    let input = ok("Users, wave 2\nupn;action\na@x.com;enable\n");
    assert_eq!(rows_and_users(&input), [(3, "a@x.com")]);
    // No header anywhere: the error names the header-like row, not the title.
    let err = format_error(
        b"Wave 2\nName,Login,action\nAnn,a@x.com,enable\n",
        &InputOptions::default(),
    );
    assert!(
        err.starts_with("row 2: no user column; the headers are: 'Name', 'Login', 'action'"),
        "{err}"
    );
}

#[test]
fn a_tenant_column_gives_each_row_its_tenant_and_the_same_user_in_two_tenants_is_two_users() {
    let input = ok("Tenant ID,upn,action,Ticket\n\
         Contoso.OnMicrosoft.com,a@x.com,enforce,T1\n\
         0F7E1B5C-6F31-4C1E-9D0E-3B1D7C2A9E10,a@x.com,enforce,T2\n\
         contoso.onmicrosoft.com,A@X.com,enforce,T3\n\
         ,b@x.com,disable,T4\n");
    assert_eq!(input.tenant_column.as_deref(), Some("Tenant ID"));
    assert_eq!(input.keep_headers, ["tenant"], "--keep-columns not given");
    let tenants: Vec<Option<&str>> = input.jobs.iter().map(|j| j.tenant(&input)).collect();
    assert_eq!(
        tenants,
        [
            Some("contoso.onmicrosoft.com"),
            Some("0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10"),
            Some("contoso.onmicrosoft.com"),
            Some(""),
        ]
    );
    let duplicates: Vec<Option<u64>> = input.jobs.iter().map(|j| j.duplicate_of).collect();
    assert_eq!(
        duplicates,
        [None, None, Some(2), None],
        "row 3 is row 2's user in another tenant; row 4 repeats row 2"
    );
    let kept = load_text(
        "tenant,upn,action,Ticket\nx.com,a@x.com,enable,T1\n",
        &InputOptions {
            keep_columns: vec!["Ticket".into()],
            ..InputOptions::default()
        },
    )
    .unwrap();
    assert_eq!(kept.keep_headers, ["tenant", "Ticket"]);
    assert_eq!(kept.jobs[0].keep, ["x.com", "T1"]);
    // Without a tenant column nothing changes.
    assert_eq!(ok(SIMPLE).tenant_column, None);
    assert_eq!(ok(SIMPLE).jobs[0].tenant(&ok(SIMPLE)), None);
}

#[test]
fn a_bad_tenant_cell_is_its_rows_error_and_two_tenant_columns_are_refused() {
    let p = problems(
        "tenant,upn,action\ncontoso,a@x.com,enable\nx.com,b@x.com,enable\n",
        &InputOptions::default(),
    );
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].to_string(),
        "row 2, column 'tenant': 'contoso' is not a tenant: give its tenant id (a GUID) or a verified domain (contoso.onmicrosoft.com, contoso.com)"
    );
    let e = format_error(
        b"tenant,tenant id,upn,action\nx.com,y.com,a@x.com,enable\n",
        &InputOptions::default(),
    );
    assert!(
        e.contains("'tenant' and 'tenant id' could both be the tenant column"),
        "{e}"
    );
    let e = format_error(
        b"tenant,upn,action\nx.com,a@x.com,enable\n",
        &InputOptions {
            keep_columns: vec!["TENANT".into()],
            ..InputOptions::default()
        },
    );
    assert!(
        e.contains("--keep-columns: 'TENANT' is the tenant column"),
        "{e}"
    );
}
