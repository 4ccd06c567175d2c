//! A user column of mail addresses (what HR sheets carry): each address is looked up in
//! Graph before its actions, against an emulator whose members' mail differs from their UPN
//! and whose guests' mail is their external address.

use mfa_rollout::emulator::EmulatorConfig;
use mfa_rollout::journal::{HEADER, Status};

use crate::util::{Env, Invocation, mail_user, results, stat, state};

const DOMAIN: &str = "contoso.onmicrosoft.com";
const GUEST_UPN: &str = "carol_fabrikam.com#EXT#@contoso.onmicrosoft.com";

/// Members whose mail is not their UPN, one reached by a secondary proxy address, a guest, an
/// apostrophe and a `+` in an address, and two users sharing one mail.
fn hr_tenant() -> EmulatorConfig {
    EmulatorConfig {
        users: vec![
            mail_user(
                &format!("annl@{DOMAIN}"),
                "Member",
                Some("ann.lee@contoso.com"),
                &["SMTP:ann.lee@contoso.com"],
            ),
            mail_user(
                &format!("bob@{DOMAIN}"),
                "Member",
                Some("bob.smith@contoso.com"),
                &["SMTP:bob.smith@contoso.com", "smtp:b.smith@contoso.com"],
            ),
            mail_user(GUEST_UPN, "Guest", Some("carol@fabrikam.com"), &[]),
            mail_user(
                &format!("sobrien@{DOMAIN}"),
                "Member",
                Some("sean.o'brien+hr@contoso.com"),
                &[],
            ),
            mail_user(
                &format!("desk1@{DOMAIN}"),
                "Member",
                Some("desk@contoso.com"),
                &[],
            ),
            mail_user(
                &format!("desk2@{DOMAIN}"),
                "Member",
                Some("desk@contoso.com"),
                &[],
            ),
        ],
        seed: 12,
        ..EmulatorConfig::default()
    }
    .no_throttle()
}

const HR_SHEET: &str = "Work email,Ticket,action\n\
    Ann.Lee@contoso.com,T-1,enforce\n\
    b.smith@contoso.com,T-2,enforce\n\
    carol@fabrikam.com,T-3,enforce\n\
    sean.o'brien+hr@contoso.com,T-4,enforce\n\
    desk@contoso.com,T-5,enforce\n\
    gone@contoso.com,T-6,enforce\n";

#[test]
fn a_mail_column_rollout_acts_on_the_users_found_members_and_guests_alike() {
    let env = Env::start(hr_tenant());
    let input = env.write("hr.csv", HR_SHEET);
    let out = env.path("r.csv");
    // Two rows cannot be acted on (ambiguous, unknown): exit 1, the others applied.
    Invocation::from(env.rollout("apply", &input, &out, &["--keep-columns", "Ticket"]))
        .expect_exit(1);

    let records = results(&out);
    let got: Vec<(u64, &str, Status, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r.row,
                r.user.as_str(),
                r.status,
                r.extra[0].as_str(),
                r.extra[1].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                2,
                "Ann.Lee@contoso.com",
                Status::Applied,
                "annl@contoso.onmicrosoft.com",
                "T-1"
            ),
            (
                3,
                "b.smith@contoso.com",
                Status::Applied,
                "bob@contoso.onmicrosoft.com",
                "T-2"
            ),
            (4, "carol@fabrikam.com", Status::Applied, GUEST_UPN, "T-3"),
            (
                5,
                "sean.o'brien+hr@contoso.com",
                Status::Applied,
                "sobrien@contoso.onmicrosoft.com",
                "T-4"
            ),
            (6, "desk@contoso.com", Status::Failed, "", "T-5"),
            (7, "gone@contoso.com", Status::NotFound, "", "T-6"),
        ]
    );
    assert!(
        records[4].message.contains("desk1@contoso.onmicrosoft.com")
            && records[4].message.contains("desk2@contoso.onmicrosoft.com"),
        "{}",
        records[4].message
    );
    assert!(
        records[5].message.contains("matched no user"),
        "{}",
        records[5].message
    );

    // The results file: the fixed columns, then resolved_user, then the kept column.
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(header, format!("{},resolved_user,Ticket", HEADER.join(",")));

    let users = env.users();
    for upn in ["annl", "bob", "sobrien"] {
        assert_eq!(
            state(&users[&format!("{upn}@{DOMAIN}")]),
            "enforced",
            "{upn}"
        );
    }
    assert_eq!(state(&users[&GUEST_UPN.to_ascii_lowercase()]), "enforced");
    for upn in ["desk1", "desk2"] {
        assert_eq!(
            state(&users[&format!("{upn}@{DOMAIN}")]),
            "disabled",
            "{upn}"
        );
    }

    // Resuming finds every row done, sends nothing and keeps the column.
    let before = stat(&env.stats(), "requests");
    Invocation::from(env.rollout(
        "apply",
        &input,
        &out,
        &["--keep-columns", "Ticket", "--resume"],
    ))
    .expect_exit(1);
    assert_eq!(stat(&env.stats(), "requests"), before);
    assert_eq!(results(&out), records);

    // The undo file names the UPNs found, which a UPN column reads without a lookup.
    let undo = env.path("undo.csv");
    Invocation::from(env.rollback(&out, &undo)).expect_exit(0);
    let undo_text = std::fs::read_to_string(&undo).unwrap();
    assert!(
        undo_text.contains("annl@contoso.onmicrosoft.com,disable,2"),
        "{undo_text}"
    );
    assert!(!undo_text.contains("Ann.Lee@contoso.com"), "{undo_text}");
}

#[test]
fn a_dry_run_over_a_mail_column_shows_the_users_found_and_changes_nothing() {
    let env = Env::start(hr_tenant());
    let input = env.write("hr.csv", "email,action\ncarol@fabrikam.com,enforce\n");
    let out = env.path("plan.csv");
    Invocation::from(env.rollout("plan", &input, &out, &[])).expect_exit(0);
    let records = results(&out);
    assert_eq!(
        (records[0].status, records[0].extra[0].as_str()),
        (Status::Planned, GUEST_UPN)
    );
    assert_eq!(stat(&env.stats(), "writes"), 0);
}

#[test]
fn a_mail_column_without_user_read_all_stops_before_the_first_request_naming_it() {
    let env = Env::start(hr_tenant().withhold_permission("User.Read.All"));
    let input = env.write("hr.csv", HR_SHEET);
    let out = env.path("r.csv");
    Invocation::from(env.rollout("apply", &input, &out, &[]))
        .expect_exit(3)
        .stderr_has("User.Read.All (for mail lookup)");
    assert_eq!(stat(&env.stats(), "items"), 0);
    assert_eq!(stat(&env.stats(), "plain_requests"), 0);

    // `check` with the same input says what is missing; a UPN column does not need it.
    let stdout = Invocation::from(env.check(Some(&input)))
        .expect_exit(3)
        .stdout;
    assert!(
        stdout.contains("mail lookup") && stdout.contains("MISSING"),
        "{stdout}"
    );
    let upns = env.write("u.csv", &format!("upn,action\nannl@{DOMAIN},enforce\n"));
    let stdout = Invocation::from(env.check(Some(&upns)))
        .expect_exit(0)
        .stdout;
    assert!(!stdout.contains("mail lookup"), "{stdout}");
}

#[test]
fn validate_says_which_column_it_took_and_how_it_is_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hr.csv");
    std::fs::write(&path, HR_SHEET).unwrap();
    let out = std::process::Command::new(crate::util::BIN)
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("user column 'Work email': mail addresses; each is looked up first"),
        "{stdout}"
    );
    // A UPN column beside it wins, and is used as the key.
    std::fs::write(
        &path,
        "Work email,UPN,action\na@contoso.com,a@x.com,enforce\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::util::BIN)
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("user column 'UPN': user principal names or object ids"),
        "{stdout}"
    );
    // An object id in a mail column is refused, naming the row and column.
    std::fs::write(
        &path,
        "mail,action\n8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b,enforce\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::util::BIN)
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "row 2, column 'mail': '8c6e4f1a-2b3d-4e5f-9a0b-1c2d3e4f5a6b' is not a mail address"
        ),
        "{stderr}"
    );
}

#[test]
fn the_sandbox_resolves_a_mail_column_through_a_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hr.csv");
    std::fs::write(
        &input,
        "Work email,action\na.b@contoso.com,enforce\nab@contoso.com,disable\n",
    )
    .unwrap();
    let out = dir.path().join("r.csv");
    Invocation::from({
        let mut c = std::process::Command::new(crate::util::BIN);
        c.arg("apply")
            .arg(&input)
            .arg("--results")
            .arg(&out)
            .arg("--sandbox")
            .arg("--quiet");
        c
    })
    .expect_exit(0);
    let records = results(&out);
    let resolved: Vec<&str> = records.iter().map(|r| r.extra[0].as_str()).collect();
    assert_eq!(
        resolved,
        ["ab@contoso.onmicrosoft.com", "ab2@contoso.onmicrosoft.com"]
    );
}
