//! Integration tests: the corpus under `tests/corpus/libreoffice/`, made by a real spreadsheet
//! program (LibreOffice Calc 7.4, `soffice --headless --convert-to …` from the committed
//! `source*.fods`; see the README there). Each file is read and what every cell becomes is
//! asserted, so the reader is held to files as Calc writes them, not only as our test
//! writer makes them.

use std::path::{Path, PathBuf};

use mfa_rollout::action::Action;
use mfa_rollout::input::{InputError, InputOptions, LoadedInput, load};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/libreoffice")
        .join(name)
}

const KEPT: [&str; 7] = [
    "Employee ID",
    "Start",
    "Started",
    "Cost",
    "Seats",
    "Share",
    "Plain",
];

fn read(name: &str, sheet: Option<&str>) -> Result<LoadedInput, InputError> {
    let options = InputOptions {
        keep_columns: KEPT.iter().map(|k| (*k).to_string()).collect(),
        sheet: sheet.map(String::from),
        ..InputOptions::default()
    };
    load(&corpus(name), &options)
}

/// (row, user, actions, kept cells) of every job.
fn cells(input: &LoadedInput) -> Vec<(u64, String, Vec<Action>, Vec<String>)> {
    input
        .jobs
        .iter()
        .map(|j| (j.row, j.user.clone(), j.actions.clone(), j.keep.clone()))
        .collect()
}

type Row = (u64, &'static str, Vec<Action>, [&'static str; 7]);

/// The three users of the Users sheet, as every file holds them.
fn users(kept: [[&'static str; 7]; 3]) -> Vec<Row> {
    let [a, b, c] = kept;
    vec![
        (2, "ann@contoso.com", vec![Action::Enforce], a),
        (
            3,
            "o'brien@contoso.com",
            vec![Action::Disable, Action::RevokeSessions],
            b,
        ),
        (
            4,
            "8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b",
            vec![Action::Enforce],
            c,
        ),
    ]
}

#[track_caller]
fn assert_cells(input: &LoadedInput, expected: Vec<Row>) {
    let expected: Vec<(u64, String, Vec<Action>, Vec<String>)> = expected
        .into_iter()
        .map(|(row, user, actions, kept)| {
            (
                row,
                user.to_string(),
                actions,
                kept.iter().map(|k| (*k).to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(cells(input), expected);
    assert_eq!(input.keep_headers, KEPT);
    assert!(input.warnings.is_empty() && input.invalid.is_empty());
}

#[test]
fn calc_s_csv_export_reads_every_cell_as_calc_shows_it() {
    let input = read("users.csv", None).unwrap();
    assert_cells(
        &input,
        users([
            [
                "00042",
                "15/01/2024",
                "2024-03-05",
                "1234.50",
                "1,234,567",
                "25%",
                "7",
            ],
            [
                "00007",
                "31/12/2023",
                "2023-12-31",
                "0.10",
                "12",
                "100%",
                "0.5",
            ],
            [
                "123456",
                "29/02/2024",
                "2024-02-29",
                "-3.00",
                "1,000",
                "13%",
                "text",
            ],
        ]),
    );
}

/// What the Users sheet of a Calc-written `.xlsx` reads as: every cell as Calc shows it,
/// its number format applied, the same as Calc's own CSV export of the sheet.
fn xlsx_users() -> Vec<Row> {
    users([
        [
            "00042",
            "15/01/2024",
            "2024-03-05",
            "1234.50",
            "1,234,567",
            "25%",
            "7",
        ],
        [
            "00007",
            "31/12/2023",
            "2023-12-31",
            "0.10",
            "12",
            "100%",
            "0.5",
        ],
        [
            "123456",
            "29/02/2024",
            "2024-02-29",
            "-3.00",
            "1,000",
            "13%",
            "text",
        ],
    ])
}

#[test]
fn calc_s_xlsx_reads_every_cell_as_its_number_format_shows_it() {
    assert_cells(&read("users.xlsx", None).unwrap(), xlsx_users());
    // The same cells as Calc's CSV export of the sheet.
    assert_eq!(
        cells(&read("users.xlsx", None).unwrap()),
        cells(&read("users.csv", None).unwrap())
    );
}

#[test]
fn calc_s_workbook_with_a_cover_sheet_names_the_sheet_to_pass() {
    let err = read("cover-then-users.xlsx", None).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "sheet 'Instructions', row 1: no user column; the headers are: 'How to fill in this workbook' (recognised: userPrincipalName, upn, user principal name, user, username, objectId, id, email, mail, e-mail, email address, e-mail address, work email, work e-mail, work email address); name the column with --user-column NAME; the workbook's sheets: 'Instructions' (this one), 'Users' (user column 'UPN'); pass --sheet Users"
        ),
        "{err}"
    );
    assert_cells(
        &read("cover-then-users.xlsx", Some("Users")).unwrap(),
        xlsx_users(),
    );
}

#[test]
fn calc_s_ods_html_and_xls_files_are_named_with_how_to_save_them() {
    let save = "save it as an Excel workbook (.xlsx) or as \"CSV UTF-8\"";
    for (name, what) in [
        (
            "cover-then-users.ods",
            format!(
                "this is an OpenDocument spreadsheet (.ods, as LibreOffice Calc and OpenOffice save), which is not read; open it in LibreOffice Calc and {save}"
            ),
        ),
        (
            "users-html-named.xls",
            format!(
                "this is a web page (HTML), not a spreadsheet, though it may be named like one (some systems export \"Excel\" files this way); open it in Excel and {save}"
            ),
        ),
        (
            "users-97.xls",
            format!(
                "this is an old Excel 97-2003 workbook (.xls), which is not read; open it in Excel and {save}"
            ),
        ),
    ] {
        let err = read(name, None).unwrap_err().to_string();
        assert_eq!(err, format!("{}: {what}", corpus(name).display()));
    }
}
