//! Tests of [`super::load`] on `.xlsx` workbooks generated here with rust_xlsxwriter: each is
//! compared with the CSV a user would save from the same sheet (same row layout), and must
//! give the same jobs, problems and row numbers.

use std::path::Path;

use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

use super::*;
use crate::action::Action;

/// One cell of a generated sheet.
#[derive(Clone, Copy)]
enum C<'a> {
    E,
    S(&'a str),
    N(f64),
    B(bool),
    /// A date, written with a date format.
    D(u16, u8, u8),
    /// A formula and the result Excel cached for it.
    F(&'a str, &'a str),
}
use C::{B, D, E, F, N, S};

/// A merge of cells (0-based first row, first col, last row, last col) holding a text.
type Merge<'a> = (u32, u16, u32, u16, &'a str);

struct SheetSpec<'a> {
    name: &'a str,
    hidden: bool,
    rows: &'a [&'a [C<'a>]],
    merges: &'a [Merge<'a>],
}

fn sheet<'a>(name: &'a str, rows: &'a [&'a [C<'a>]]) -> SheetSpec<'a> {
    SheetSpec {
        name,
        hidden: false,
        rows,
        merges: &[],
    }
}

/// The workbook's bytes; `rows[0]` is Excel's row 1.
fn book(sheets: &[SheetSpec<'_>]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    // Excel does not hide the active sheet: make the first visible one active.
    let active = sheets.iter().position(|s| !s.hidden);
    for (i, spec) in sheets.iter().enumerate() {
        let ws = wb.add_worksheet();
        ws.set_name(spec.name).unwrap();
        ws.set_active(Some(i) == active);
        ws.set_hidden(spec.hidden);
        for (r, cells) in spec.rows.iter().enumerate() {
            let r = u32::try_from(r).unwrap();
            for (c, cell) in cells.iter().enumerate() {
                let c = u16::try_from(c).unwrap();
                match *cell {
                    E => {}
                    S(s) => {
                        ws.write_string(r, c, s).unwrap();
                    }
                    N(n) => {
                        ws.write_number(r, c, n).unwrap();
                    }
                    B(b) => {
                        ws.write_boolean(r, c, b).unwrap();
                    }
                    D(y, m, d) => {
                        let dt = ExcelDateTime::from_ymd(y, m, d).unwrap();
                        ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
                    }
                    F(formula, result) => {
                        ws.write_formula(r, c, Formula::new(formula).set_result(result))
                            .unwrap();
                    }
                }
            }
        }
        for (r0, c0, r1, c1, text) in spec.merges {
            ws.merge_range(*r0, *c0, *r1, *c1, text, &Format::new())
                .unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Loads `bytes` as `name`, sequentially and in parallel, and checks both agree.
fn load_as(name: &str, bytes: &[u8], options: &InputOptions) -> Result<LoadedInput, InputError> {
    let sequential = load_bytes(Path::new(name), bytes.to_vec(), options, false);
    let parallel = load_bytes(Path::new(name), bytes.to_vec(), options, true);
    assert_eq!(
        format!("{sequential:?}"),
        format!("{parallel:?}"),
        "parallel and sequential loads differ"
    );
    parallel
}

fn xlsx(bytes: &[u8], options: &InputOptions) -> Result<LoadedInput, InputError> {
    load_as("in.xlsx", bytes, options)
}

#[track_caller]
fn format_error(result: Result<LoadedInput, InputError>) -> String {
    match result {
        Err(InputError::Format { message, .. }) => {
            assert!(!message.contains('\n'), "not one line: {message}");
            message
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// The workbook and its CSV twin give the same jobs, problems and headers.
#[track_caller]
fn same_as_csv(bytes: &[u8], csv: &str, options: &InputOptions) -> LoadedInput {
    let from_xlsx = xlsx(bytes, options).unwrap_or_else(|e| panic!("xlsx: {e}"));
    let csv_options = InputOptions {
        sheet: None,
        ..options.clone()
    };
    let from_csv =
        load_as("in.csv", csv.as_bytes(), &csv_options).unwrap_or_else(|e| panic!("csv: {e}"));
    assert_eq!(from_xlsx.jobs, from_csv.jobs);
    assert_eq!(from_xlsx.invalid, from_csv.invalid);
    assert_eq!(from_xlsx.warnings, from_csv.warnings);
    assert_eq!(from_xlsx.keep_headers, from_csv.keep_headers);
    from_xlsx
}

fn skip_invalid() -> InputOptions {
    InputOptions {
        skip_invalid: true,
        ..InputOptions::default()
    }
}

#[test]
fn title_rows_are_skipped_and_rows_are_numbered_as_excel_shows_them() {
    let rows: &[&[C<'_>]] = &[
        &[S("MFA rollout, wave 2")],
        &[S("Prepared"), D(2026, 11, 24)],
        &[],
        &[
            S("Name"),
            S("userPrincipalName"),
            S("Employee ID"),
            S("Action"),
        ],
        &[S("Ann"), S("ann@x.com"), N(1234.0), S("enable")],
        &[S("Bob"), S("not a user"), N(5678.0), S("enable")],
        &[],
        &[S("Cy"), S("cy@x.com"), N(42.5), S("Disable")],
    ];
    let bytes = book(&[sheet("Users", rows)]);
    let err = match xlsx(&bytes, &InputOptions::default()) {
        Err(InputError::Problems(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].row, 6, "{}", err[0]);
    assert!(
        err[0]
            .to_string()
            .starts_with("row 6, column 'userPrincipalName':"),
        "{}",
        err[0]
    );

    let options = InputOptions {
        keep_columns: vec!["employee id".into(), "A".into()],
        ..skip_invalid()
    };
    // The CSV twin, as Excel saves it: title rows and all.
    let csv = "\"MFA rollout, wave 2\"\nPrepared,2026-11-24\n\nName,userPrincipalName,Employee ID,Action\nAnn,ann@x.com,1234,enable\nBob,not a user,5678,enable\n\nCy,cy@x.com,42.5,Disable\n";
    let input = same_as_csv(&bytes, csv, &options);
    assert_eq!(
        input.headers,
        ["Name", "userPrincipalName", "Employee ID", "Action"]
    );
    assert_eq!(input.keep_headers, ["Employee ID", "Name"]);
    let rows: Vec<(u64, &str, &[String])> = input
        .jobs
        .iter()
        .map(|j| (j.row, j.user.as_str(), j.keep.as_slice()))
        .collect();
    assert_eq!(
        rows,
        [
            (5, "ann@x.com", &["1234".to_string(), "Ann".to_string()][..]),
            (8, "cy@x.com", &["42.5".to_string(), "Cy".to_string()][..]),
        ]
    );
    assert_eq!(input.invalid[0].row, 6);
    assert_eq!(input.invalid[0].keep, ["5678", "Bob"]);
}

#[test]
fn numbers_dates_booleans_and_formula_results_read_as_shown() {
    let rows: &[&[C<'_>]] = &[
        &[
            S("upn"),
            S("action"),
            S("Employee ID"),
            S("Start"),
            S("VIP"),
            S("Cost"),
        ],
        &[
            S("a@x.com"),
            S("enable"),
            N(1234.0),
            D(2024, 1, 15),
            B(true),
            N(0.1),
        ],
        &[
            F("=LOWER(\"B@X.COM\")", "b@x.com"),
            F("=IF(TRUE,\"disable\",\"\")", "disable"),
            F("=1000+234", "1234"),
            D(1999, 12, 31),
            B(false),
            N(-3.0),
        ],
    ];
    let bytes = book(&[sheet("Sheet1", rows)]);
    let options = InputOptions {
        keep_columns: vec![
            "Employee ID".into(),
            "Start".into(),
            "VIP".into(),
            "cost".into(),
        ],
        ..InputOptions::default()
    };
    let csv = "upn,action,Employee ID,Start,VIP,Cost\n\
        a@x.com,enable,1234,2024-01-15,TRUE,0.1\n\
        b@x.com,disable,1234,1999-12-31,FALSE,-3\n";
    let input = same_as_csv(&bytes, csv, &options);
    assert_eq!(input.jobs[0].keep, ["1234", "2024-01-15", "TRUE", "0.1"]);
    assert_eq!(input.jobs[1].user, "b@x.com");
    assert_eq!(input.jobs[1].actions, [Action::Disable]);
    assert_eq!(input.jobs[1].keep, ["1234", "1999-12-31", "FALSE", "-3"]);
}

#[test]
fn merged_cells_hold_their_value_in_the_top_left_cell_only() {
    // A title merged across the top, and one action merged down over two users: Excel shows
    // "enable" once, and the second row's action cell is empty.
    let rows: &[&[C<'_>]] = &[
        &[],
        &[],
        &[S("upn"), S("action"), S("note")],
        &[S("a@x.com"), E, S("n1")],
        &[S("b@x.com"), E, S("n2")],
        &[S("c@x.com"), S("disable"), E],
    ];
    let merges: &[Merge<'_>] = &[
        (0, 0, 1, 2, "Wave 3 (merged title)"),
        (3, 1, 4, 1, "enable"),
    ];
    let bytes = book(&[SheetSpec {
        merges,
        ..sheet("Users", rows)
    }]);
    let csv = "Wave 3 (merged title),,\n,,\nupn,action,note\na@x.com,enable,n1\nb@x.com,,n2\nc@x.com,disable,\n";
    let input = same_as_csv(&bytes, csv, &skip_invalid());
    let rows: Vec<u64> = input.jobs.iter().map(|j| j.row).collect();
    assert_eq!(rows, [4, 6]);
    assert_eq!(input.invalid.len(), 1);
    assert_eq!(
        input.invalid[0].to_string(),
        "row 5, column 'action': missing action"
    );
}

#[test]
fn the_sheet_option_picks_a_sheet_and_an_unknown_one_lists_them() {
    let notes: &[&[C<'_>]] = &[&[S("Read me first")], &[S("Users are on the next sheet")]];
    let users: &[&[C<'_>]] = &[&[S("upn"), S("action")], &[S("a@x.com"), S("enforce")]];
    let other: &[&[C<'_>]] = &[&[S("upn"), S("action")], &[S("z@x.com"), S("disable")]];
    let bytes = book(&[
        SheetSpec {
            hidden: true,
            ..sheet("Old", other)
        },
        sheet("Notes", notes),
        sheet("Users", users),
    ]);
    // Default: the first visible sheet.
    let err = format_error(xlsx(&bytes, &InputOptions::default()));
    assert!(
        err.starts_with("sheet 'Notes', row 1: no user column; the headers are: 'Read me first'"),
        "{err}"
    );

    let options = InputOptions {
        sheet: Some("users".into()),
        ..InputOptions::default()
    };
    let input = same_as_csv(&bytes, "upn,action\na@x.com,enforce\n", &options);
    assert_eq!(input.jobs[0].row, 2);
    let options = InputOptions {
        sheet: Some("Old".into()),
        ..InputOptions::default()
    };
    assert_eq!(xlsx(&bytes, &options).unwrap().jobs[0].user, "z@x.com");

    let options = InputOptions {
        sheet: Some("Sheet1".into()),
        ..InputOptions::default()
    };
    assert_eq!(
        format_error(xlsx(&bytes, &options)),
        "no sheet named 'Sheet1' (--sheet); the sheets are: 'Old', 'Notes', 'Users'"
    );
}

#[test]
fn an_error_cell_is_a_problem_naming_row_column_and_error() {
    let rows: &[&[C<'_>]] = &[
        &[S("upn"), S("action"), S("Ticket"), S("Unused")],
        &[S("a@x.com"), S("enable"), S("T-1"), F("=1/0", "#DIV/0!")],
        &[
            F("=VLOOKUP(\"x\",A1:A2,1,FALSE)", "#N/A"),
            S("enable"),
            S("T-2"),
            E,
        ],
        &[S("c@x.com"), S("enable"), F("=NA()", "#N/A"), E],
    ];
    let bytes = book(&[sheet("Users", rows)]);
    let options = InputOptions {
        keep_columns: vec!["Ticket".into()],
        ..skip_invalid()
    };
    let input = xlsx(&bytes, &options).unwrap();
    // An error in a column not in use does not matter.
    assert_eq!(input.jobs.len(), 1);
    let shown: Vec<String> = input.invalid.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "row 3, column 'upn': cell shows an error (#N/A)",
            "row 4, column 'Ticket': cell shows an error (#N/A)",
        ]
    );
    assert_eq!(input.invalid[0].user, "#N/A");
    assert_eq!(input.invalid[0].keep, ["T-2"]);
    assert_eq!(input.invalid[1].action, "enable");
}

#[test]
fn column_letters_count_from_column_a_whatever_the_used_range() {
    // The table starts at column C: letters are still the sheet's.
    let rows: &[&[C<'_>]] = &[
        &[E, E, S("Login"), S("Do"), S("Employee ID")],
        &[E, E, S("a@x.com"), S("enable"), N(7.0)],
    ];
    let bytes = book(&[sheet("Users", rows)]);
    let options = InputOptions {
        user_column: Some("c".into()),
        action_column: Some("D".into()),
        keep_columns: vec!["E".into()],
        ..InputOptions::default()
    };
    let input = same_as_csv(
        &bytes,
        ",,Login,Do,Employee ID\n,,a@x.com,enable,7\n",
        &options,
    );
    assert_eq!(input.jobs[0].keep, ["7"]);
    assert_eq!(input.keep_headers, ["Employee ID"]);
}

#[test]
fn an_entra_export_workbook_is_read_by_its_user_principal_name() {
    let rows: &[&[C<'_>]] = &[
        &[S("id"), S("displayName"), S("userPrincipalName"), S("mail")],
        &[
            S("8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b"),
            S("Ann"),
            S("ann@x.com"),
            S("ann.other@y.com"),
        ],
    ];
    let bytes = book(&[sheet("Users", rows)]);
    let options = InputOptions {
        action: Some(vec![Action::Enforce]),
        ..InputOptions::default()
    };
    let input = xlsx(&bytes, &options).unwrap();
    assert_eq!(input.jobs[0].user, "ann@x.com");
}

#[test]
fn empty_sheets_header_only_sheets_and_non_workbooks_are_one_line_errors() {
    let bytes = book(&[sheet("Empty", &[])]);
    assert_eq!(
        format_error(xlsx(&bytes, &InputOptions::default())),
        "sheet 'Empty': the sheet is empty"
    );
    let rows: &[&[C<'_>]] = &[&[S("Title")], &[S("upn"), S("action")], &[E, S("  ")]];
    let bytes = book(&[sheet("S", rows)]);
    assert_eq!(
        format_error(xlsx(&bytes, &InputOptions::default())),
        "sheet 'S': no data rows: nothing below the header (row 2) but empty rows"
    );
    // A workbook under a .csv name is still read as a workbook.
    let rows: &[&[C<'_>]] = &[&[S("upn"), S("action")], &[S("a@x.com"), S("enable")]];
    let bytes = book(&[sheet("S", rows)]);
    assert_eq!(
        load_as("in.csv", &bytes, &InputOptions::default())
            .unwrap()
            .jobs
            .len(),
        1
    );

    let err = format_error(load_as(
        "in.xlsx",
        b"upn,action\n",
        &InputOptions::default(),
    ));
    assert!(err.contains("not one"), "{err}");
    let err = format_error(load_as(
        "old.xls",
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0",
        &InputOptions::default(),
    ));
    assert!(
        err.contains("old Excel 97-2003 workbook (.xls), which is not read; open it in Excel and save it as an Excel workbook (.xlsx) or as \"CSV UTF-8\""),
        "{err}"
    );
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() / 2);
    let err = format_error(xlsx(&truncated, &InputOptions::default()));
    assert!(err.starts_with("cannot read the workbook"), "{err}");

    let options = InputOptions {
        sheet: Some("Users".into()),
        ..InputOptions::default()
    };
    let err = format_error(load_as("in.csv", b"upn,action\na@x.com,enable\n", &options));
    assert!(
        err.starts_with("--sheet applies to .xlsx workbooks only"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A damaged workbook (bytes flipped anywhere) is an error or a load, never a panic.
    #[test]
    fn damaged_workbooks_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let rows: &[&[C<'_>]] = &[&[S("upn"), S("action")], &[S("a@x.com"), S("enable")]];
        let mut bytes = book(&[sheet("S", rows)]);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Err(InputError::Format { message, .. }) =
            load_bytes(Path::new("p.xlsx"), bytes, &InputOptions::default(), false)
        {
            prop_assert!(!message.contains('\n'), "{}", message);
        }
    }
}

/// Users u2..u7 on Excel rows 2..7 under a `user,action` header, with `hide` (Excel row
/// numbers) hidden by hand.
fn book_with_hidden_rows(hide: &[u32]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").unwrap();
    ws.write_string(0, 0, "user").unwrap();
    ws.write_string(0, 1, "action").unwrap();
    for r in 1..7u32 {
        ws.write_string(r, 0, format!("u{}@contoso.com", r + 1))
            .unwrap();
        ws.write_string(r, 1, "enforce").unwrap();
    }
    for row in hide {
        ws.set_row_hidden(row - 1).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

fn with_hidden(what: HiddenRows) -> InputOptions {
    InputOptions {
        hidden_rows: what,
        ..InputOptions::default()
    }
}

fn rows_of(loaded: &LoadedInput) -> Vec<u64> {
    loaded.jobs.iter().map(|j| j.row).collect()
}

#[test]
fn hidden_data_rows_are_refused_by_default_naming_them_and_the_flag() {
    let bytes = book_with_hidden_rows(&[3, 5]);
    let message = format_error(xlsx(&bytes, &InputOptions::default()));
    assert_eq!(
        message,
        "sheet 'Users': 2 data rows are hidden (rows 3, 5), by a filter or by hand; say whether they count: --hidden-rows include reads them like the others (as a CSV export would), --hidden-rows skip leaves them out"
    );
}

#[test]
fn hidden_rows_include_reads_every_row_and_skip_leaves_them_out_with_a_warning() {
    let bytes = book_with_hidden_rows(&[3, 5]);
    let all = xlsx(&bytes, &with_hidden(HiddenRows::Include)).unwrap();
    assert_eq!(rows_of(&all), vec![2, 3, 4, 5, 6, 7]);
    assert!(all.warnings.is_empty(), "{:?}", all.warnings);
    let visible = xlsx(&bytes, &with_hidden(HiddenRows::Skip)).unwrap();
    assert_eq!(rows_of(&visible), vec![2, 4, 6, 7]);
    assert_eq!(
        visible.warnings,
        vec!["sheet 'Users': 2 data rows are hidden and left out (--hidden-rows skip): rows 3, 5"]
    );
}

#[test]
fn rows_a_filter_hides_count_as_hidden() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "user").unwrap();
    ws.write_string(0, 1, "action").unwrap();
    for (r, action) in [
        (1u32, "enforce"),
        (2, "disable"),
        (3, "enforce"),
        (4, "disable"),
    ] {
        ws.write_string(r, 0, format!("u{r}@contoso.com")).unwrap();
        ws.write_string(r, 1, action).unwrap();
    }
    ws.autofilter(0, 0, 4, 1).unwrap();
    ws.filter_column(
        1,
        &rust_xlsxwriter::FilterCondition::new().add_list_filter("enforce"),
    )
    .unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let message = format_error(xlsx(&bytes, &InputOptions::default()));
    assert!(
        message.contains("2 data rows are hidden (rows 3, 5)"),
        "{message}"
    );
    let visible = xlsx(&bytes, &with_hidden(HiddenRows::Skip)).unwrap();
    let users: Vec<&str> = visible.jobs.iter().map(|j| j.user.as_str()).collect();
    assert_eq!(users, vec!["u1@contoso.com", "u3@contoso.com"]);
}

#[test]
fn hidden_title_rows_and_hidden_empty_rows_are_not_data() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "MFA rollout, wave 2").unwrap();
    ws.write_string(2, 0, "user").unwrap();
    ws.write_string(2, 1, "action").unwrap();
    ws.write_string(3, 0, "a@contoso.com").unwrap();
    ws.write_string(3, 1, "enforce").unwrap();
    ws.write_string(5, 0, "b@contoso.com").unwrap();
    ws.write_string(5, 1, "enforce").unwrap();
    for row in [0, 1, 4, 9] {
        ws.set_row_hidden(row).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    let loaded = xlsx(&bytes, &InputOptions::default()).unwrap();
    assert_eq!(rows_of(&loaded), vec![4, 6]);
}

#[test]
fn more_than_five_hidden_rows_are_counted_not_all_listed() {
    let bytes = book_with_hidden_rows(&[2, 3, 4, 5, 6, 7]);
    let message = format_error(xlsx(&bytes, &InputOptions::default()));
    assert!(
        message.contains("6 data rows are hidden (rows 2, 3, 4, 5, 6 and 1 more)"),
        "{message}"
    );
    let err = format_error(xlsx(&bytes, &with_hidden(HiddenRows::Skip)));
    assert!(err.contains("no data rows"), "{err}");
}
