//! Integration tests for spreadsheets as they come and reports people hand on: an XLSX with
//! title rows and numbers applied directly, passthrough columns in the results, formula-like
//! cells neutralised, and the HTML report of the run.

use mfa_rollout::emulator::{EmulatorConfig, UserSpec};
use mfa_rollout::journal::Status;

use crate::util::{Env, Invocation, results};

fn member(upn: &str, state: &str) -> UserSpec {
    UserSpec {
        id: None,
        upn: upn.into(),
        display_name: None,
        user_type: "Member".into(),
        per_user_mfa_state: state.into(),
        methods: vec![],
        default_method: None,
        system_preferred: false,
        ..UserSpec::default()
    }
}

#[test]
fn an_xlsx_with_title_rows_applies_with_kept_columns_and_an_html_report() {
    let users = vec![
        member("ann@contoso.onmicrosoft.com", "disabled"),
        member("bob@contoso.onmicrosoft.com", "enforced"),
    ];
    let env = Env::start(
        EmulatorConfig {
            users,
            ..EmulatorConfig::default()
        }
        .no_throttle(),
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Q4 MFA rollout").unwrap();
    ws.write_string(2, 0, "Employee ID").unwrap();
    ws.write_string(2, 1, "UPN").unwrap();
    ws.write_string(2, 2, "Action").unwrap();
    let rows: [(f64, &str, &str); 3] = [
        (1001.0, "ann@contoso.onmicrosoft.com", "enforce"),
        (1002.0, "bob@contoso.onmicrosoft.com", "disable"),
        (1003.0, "=cmd@contoso.onmicrosoft.com", "enforce"),
    ];
    for (i, (id, upn, action)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        ws.write_number(r, 0, *id).unwrap();
        ws.write_string(r, 1, *upn).unwrap();
        ws.write_string(r, 2, *action).unwrap();
    }
    let path = env.path("users.xlsx");
    wb.save(&path).unwrap();
    let out = env.path("r.csv");
    let html = env.path("r.html");
    let mut cmd = env.rollout(
        "apply",
        &path,
        &out,
        &["--keep-columns", "Employee ID", "--skip-invalid", "--html"],
    );
    cmd.arg(&html);
    // The formula-looking row is invalid: exit 1, the others applied.
    Invocation::from(cmd).expect_exit(1);
    let records = results(&out);
    assert_eq!(records.len(), 3);
    assert_eq!((records[0].row, records[0].status), (4, Status::Applied));
    assert_eq!(records[0].extra, vec!["1001".to_string()]);
    assert_eq!((records[1].row, records[1].status), (5, Status::Applied));
    assert_eq!((records[2].row, records[2].status), (6, Status::Invalid));
    // On disk the formula-looking cell is neutralised for spreadsheets.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",Employee ID"));
    assert!(text.contains(",'=cmd@contoso.onmicrosoft.com,"), "{text}");
    assert!(!text.contains(",=cmd"), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-row=\"6\""), "the invalid row is listed");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
}

#[test]
fn excel_flag_finishes_the_results_with_a_bom_and_resume_still_reads_them() {
    let env = Env::start(
        EmulatorConfig {
            users: vec![member("zoe@contoso.onmicrosoft.com", "disabled")],
            ..EmulatorConfig::default()
        }
        .no_throttle(),
    );
    // An accented name rides along in a kept column (a UPN cannot have one).
    let input = env.write(
        "u.csv",
        "upn,action,name\nzoe@contoso.onmicrosoft.com,enforce,Zoë\n",
    );
    let out = env.path("r.csv");
    Invocation::from(env.rollout(
        "apply",
        &input,
        &out,
        &["--excel", "--keep-columns", "name"],
    ))
    .expect_exit(0);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFrow,user,action,status"));
    assert!(String::from_utf8_lossy(&bytes).contains(",Zoë"));
    Invocation::from(env.rollout(
        "apply",
        &input,
        &out,
        &["--resume", "--keep-columns", "name"],
    ))
    .expect_exit(0);
    assert_eq!(results(&out)[0].status, Status::Applied);
}

#[test]
fn a_filtered_sheet_is_refused_until_told_and_skip_applies_only_the_visible_rows() {
    let env = Env::start(
        EmulatorConfig {
            users: vec![
                member("ann@contoso.onmicrosoft.com", "disabled"),
                member("bob@contoso.onmicrosoft.com", "disabled"),
            ],
            ..EmulatorConfig::default()
        }
        .no_throttle(),
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Sales").unwrap();
    for (r, (upn, dept)) in [
        ("upn", "department"),
        ("ann@contoso.onmicrosoft.com", "sales"),
        ("bob@contoso.onmicrosoft.com", "legal"),
    ]
    .into_iter()
    .enumerate()
    {
        ws.write_string(r as u32, 0, upn).unwrap();
        ws.write_string(r as u32, 1, dept).unwrap();
    }
    ws.autofilter(0, 0, 2, 1).unwrap();
    ws.filter_column(
        1,
        &rust_xlsxwriter::FilterCondition::new().add_list_filter("sales"),
    )
    .unwrap();
    let path = env.path("filtered.xlsx");
    wb.save(&path).unwrap();
    let out = env.path("r.csv");

    let stderr = Invocation::from(env.rollout("apply", &path, &out, &["--action", "enforce"]))
        .expect_exit(2)
        .stderr;
    assert!(
        stderr.contains("sheet 'Sales': 1 data row is hidden (row 3)")
            && stderr.contains("--hidden-rows include"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing was written");
    assert_eq!(env.stats()["writes"], 0, "nothing was sent");

    Invocation::from(env.rollout(
        "apply",
        &path,
        &out,
        &["--action", "enforce", "--hidden-rows", "skip"],
    ))
    .expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].user, "ann@contoso.onmicrosoft.com");
    assert_eq!(records[0].status, Status::Applied);
}

#[test]
fn number_formats_are_applied_so_kept_columns_join_back_as_excel_shows_them() {
    use rust_xlsxwriter::{Format, Workbook};
    let env = Env::start(
        EmulatorConfig {
            users: vec![
                member("ann@contoso.onmicrosoft.com", "disabled"),
                member("bob@contoso.onmicrosoft.com", "disabled"),
            ],
            ..EmulatorConfig::default()
        }
        .no_throttle(),
    );
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["UPN", "Action", "Employee ID", "Start", "Cost", "Plain"]
        .into_iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, h).unwrap();
    }
    let pad = Format::new().set_num_format("00000");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let fixed = Format::new().set_num_format("0.00");
    for (r, (upn, id, day, cost)) in [
        ("ann@contoso.onmicrosoft.com", 42.0, 45_306.0, 1234.5),
        ("bob@contoso.onmicrosoft.com", 7.0, 45_351.0, -3.0),
    ]
    .into_iter()
    .enumerate()
    {
        let r = r as u32 + 1;
        ws.write_string(r, 0, upn).unwrap();
        ws.write_string(r, 1, "enforce").unwrap();
        ws.write_number_with_format(r, 2, id, &pad).unwrap();
        ws.write_number_with_format(r, 3, day, &date).unwrap();
        ws.write_number_with_format(r, 4, cost, &fixed).unwrap();
        ws.write_number(r, 5, id).unwrap();
    }
    let path = env.path("hr.xlsx");
    wb.save(&path).unwrap();
    let out = env.path("r.csv");
    Invocation::from(env.rollout(
        "apply",
        &path,
        &out,
        &["--keep-columns", "Employee ID,Start,Cost,Plain"],
    ))
    .expect_exit(0);
    let got: Vec<(u64, Status, Vec<String>)> = results(&out)
        .into_iter()
        .map(|r| (r.row, r.status, r.extra))
        .collect();
    let kept = |cells: [&str; 4]| cells.iter().map(|c| (*c).to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            (
                2,
                Status::Applied,
                kept(["00042", "15/01/2024", "1234.50", "42"])
            ),
            (
                3,
                Status::Applied,
                kept(["00007", "29/02/2024", "-3.00", "7"])
            ),
        ]
    );
}
