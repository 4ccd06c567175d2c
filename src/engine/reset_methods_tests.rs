//! Reset-methods machine tests: a tiny model of one user's methods that applies Graph's
//! rules (default refused while others remain, alternateMobile before mobile) to the
//! machine's deletes, so ordering bugs show up as refusals.

use serde_json::{Value, json};

use super::*;
use crate::engine::machine::answer;

const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
const ALT: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";

struct User {
    methods: Vec<Value>,
    preference: String,
    deletes: Vec<String>,
    /// The list comes in pages of this many, linked by `@odata.nextLink` (None: one page).
    page_size: Option<usize>,
}

fn method(kind: &str, id: &str) -> Value {
    json!({"@odata.type": format!("#microsoft.graph.{kind}AuthenticationMethod"), "id": id})
}

fn phone(kind: &str, id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": id, "phoneType": kind})
}

impl User {
    fn new(methods: Vec<Value>, preference: &str) -> User {
        let mut all = vec![method("password", "28c10230-6103-485e-b985-444c60001490")];
        all.extend(methods);
        User {
            methods: all,
            preference: preference.into(),
            deletes: vec![],
            page_size: None,
        }
    }

    fn default_id(&self) -> Option<String> {
        let want = match self.preference.as_str() {
            "push" => "microsoftAuthenticator",
            "sms" | "voiceMobile" => "mobile",
            "voiceAlternateMobile" => "alternateMobile",
            _ => return None,
        };
        self.methods.iter().find_map(|m| {
            let t = m["@odata.type"].as_str().unwrap_or_default();
            let hit = t.contains(want) || m["phoneType"].as_str() == Some(want);
            hit.then(|| m["id"].as_str().unwrap_or_default().to_string())
        })
    }

    fn answer(&mut self, call: &Call) -> ItemResponse {
        match (call.method, call.url.rsplit('/').next().unwrap_or_default()) {
            (Method::Get, last) if last.split('?').next() == Some("methods") => {
                let from: usize = last
                    .split_once("$skiptoken=")
                    .map_or(0, |(_, n)| n.parse().expect("our own skip token"));
                let end = from
                    .saturating_add(self.page_size.unwrap_or(usize::MAX))
                    .min(self.methods.len());
                let mut body = json!({ "value": self.methods[from..end] });
                if end < self.methods.len() {
                    body["@odata.nextLink"] = json!(format!(
                        "https://graph.microsoft.com/beta/users/a@x.com/authentication/methods?$skiptoken={end}"
                    ));
                }
                answer(200, body)
            }
            (Method::Get, "signInPreferences") => answer(
                200,
                json!({"isSystemPreferredAuthenticationMethodEnabled": false, "userPreferredMethodForSecondaryAuthentication": self.preference}),
            ),
            (Method::Patch, "signInPreferences") => {
                self.preference =
                    call.body.as_ref().unwrap()["userPreferredMethodForSecondaryAuthentication"]
                        .as_str()
                        .unwrap()
                        .to_string();
                answer(204, Value::Null)
            }
            (Method::Delete, id) => {
                let others = self.methods.len() - 2; // minus password and this one
                if self.default_id().as_deref() == Some(id) && others > 0 {
                    return answer(
                        400,
                        json!({"error":{"code":"badRequest","message":"Cannot delete default method with other methods configured."}}),
                    );
                }
                if id == MOBILE && self.methods.iter().any(|m| m["id"] == ALT) {
                    return answer(
                        400,
                        json!({"error":{"code":"badRequest","message":"alternateMobile must be removed first"}}),
                    );
                }
                self.methods.retain(|m| m["id"] != id);
                self.deletes.push(id.to_string());
                answer(204, Value::Null)
            }
            _ => answer(
                400,
                json!({"error":{"code":"BadRequest","message":"unexpected"}}),
            ),
        }
    }
}

/// Drives the machine against the model, answering every call of a wave before the next.
fn drive(user: &mut User, reset_all: bool, dry_run: bool) -> Outcome {
    let options = MachineOptions {
        dry_run,
        reset_all,
        global_cloud: true,
    };
    let mut m = ResetMethods::new("a@x.com", options);
    let mut queue = match m.start() {
        Next::Send(c) => c,
        other => panic!("{other:?}"),
    };
    for _ in 0..50 {
        let batch = std::mem::take(&mut queue);
        let mut done = None;
        for call in batch {
            assert!(call.body.is_some() || call.method != Method::Patch);
            let r = user.answer(&call);
            match m.on_response(call.tag, &r) {
                Next::Send(c) => queue.extend(c),
                Next::Wait => {}
                Next::Done(o) => done = Some(o),
                Next::Resolved(r) => panic!("a reset never looks a user up: {r:?}"),
            }
        }
        if let Some(o) = done {
            assert!(queue.is_empty());
            return o;
        }
    }
    panic!("machine did not finish");
}

fn kinds(user: &User) -> Vec<String> {
    user.methods
        .iter()
        .map(|m| {
            m["@odata.type"]
                .as_str()
                .unwrap()
                .trim_start_matches("#microsoft.graph.")
                .to_string()
        })
        .collect()
}

#[test]
fn portal_scope_removes_phones_authenticator_and_oath_with_the_default_last() {
    let mut u = User::new(
        vec![
            phone("mobile", MOBILE),
            method("microsoftAuthenticator", "ma1"),
            method("softwareOath", "so1"),
        ],
        "push",
    );
    let o = drive(&mut u, false, false);
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(o.before, "mobilePhone;microsoftAuthenticator;softwareOath");
    assert_eq!(o.after, "");
    assert_eq!(u.deletes.last().map(String::as_str), Some("ma1"));
    assert_eq!(kinds(&u), vec!["passwordAuthenticationMethod"]);
}

#[test]
fn alternate_mobile_goes_before_mobile() {
    let mut u = User::new(
        vec![phone("mobile", MOBILE), phone("alternateMobile", ALT)],
        "sms",
    );
    let o = drive(&mut u, false, false);
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(u.deletes, vec![ALT.to_string(), MOBILE.to_string()]);
}

#[test]
fn an_alternate_mobile_default_is_moved_to_the_mobile_number_first() {
    let mut u = User::new(
        vec![phone("mobile", MOBILE), phone("alternateMobile", ALT)],
        "voiceAlternateMobile",
    );
    let o = drive(&mut u, false, false);
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(u.deletes, vec![ALT.to_string(), MOBILE.to_string()]);
}

#[test]
fn a_default_that_would_stay_beside_fido2_fails_without_removing_anything() {
    let mut u = User::new(
        vec![
            method("microsoftAuthenticator", "ma1"),
            method("fido2", "f1"),
        ],
        "push",
    );
    let o = drive(&mut u, false, false);
    assert_eq!(o.status, Status::Failed);
    assert!(o.message.contains("--reset-scope all"), "{}", o.message);
    assert!(u.deletes.is_empty());
    assert!(!o.changed);
}

#[test]
fn scope_all_also_removes_fido2_and_email_but_never_the_password() {
    let mut u = User::new(
        vec![
            method("microsoftAuthenticator", "ma1"),
            method("fido2", "f1"),
            method("email", "e1"),
        ],
        "push",
    );
    let o = drive(&mut u, true, false);
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(kinds(&u), vec!["passwordAuthenticationMethod"]);
}

#[test]
fn a_user_with_nothing_in_scope_is_unchanged() {
    let mut u = User::new(vec![method("fido2", "f1")], "");
    let o = drive(&mut u, false, false);
    assert_eq!(o.status, Status::Unchanged);
    assert_eq!((o.before.as_str(), o.after.as_str()), ("fido2", "fido2"));
}

#[test]
fn dry_run_lists_what_would_be_removed_and_deletes_nothing() {
    let mut u = User::new(vec![phone("mobile", MOBILE), method("email", "e1")], "sms");
    let o = drive(&mut u, false, true);
    // The mobile default would stay beside email: the plan says so instead of pretending.
    assert_eq!(o.status, Status::Failed);
    let mut u = User::new(
        vec![phone("mobile", MOBILE), method("softwareOath", "s1")],
        "sms",
    );
    let o = drive(&mut u, false, true);
    assert_eq!(o.status, Status::Planned);
    assert_eq!(o.after, "");
    assert!(o.message.contains("mobilePhone"));
    assert!(u.deletes.is_empty());
}

#[test]
fn a_default_refusal_is_retried_once_after_the_others_are_gone() {
    // The preference says sms but the model thinks the authenticator is the default: the
    // machine deletes the authenticator early, is refused, and retries it last.
    let mut u = User::new(
        vec![
            phone("mobile", MOBILE),
            method("microsoftAuthenticator", "ma1"),
        ],
        "sms",
    );
    u.preference = "push".into();
    let mut m = ResetMethods::new("a@x.com", MachineOptions::default());
    let Next::Send(calls) = m.start() else {
        panic!()
    };
    // Answer the reads with a preference of sms (stale), then let the model decide.
    let mut queue = Vec::new();
    for call in calls {
        let r = if call.url.ends_with("signInPreferences") {
            answer(
                200,
                json!({"userPreferredMethodForSecondaryAuthentication": "sms"}),
            )
        } else {
            u.answer(&call)
        };
        if let Next::Send(c) = m.on_response(call.tag, &r) {
            queue.extend(c);
        }
    }
    let mut outcome = None;
    for _ in 0..10 {
        let batch = std::mem::take(&mut queue);
        for call in batch {
            let r = u.answer(&call);
            match m.on_response(call.tag, &r) {
                Next::Send(c) => queue.extend(c),
                Next::Done(o) => outcome = Some(o),
                Next::Wait => {}
                Next::Resolved(r) => panic!("a reset never looks a user up: {r:?}"),
            }
        }
        if outcome.is_some() {
            break;
        }
    }
    let o = outcome.expect("finished");
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(kinds(&u), vec!["passwordAuthenticationMethod"]);
}

#[test]
fn giving_up_on_one_delete_waits_for_the_rest_of_its_wave_and_reports_what_went() {
    let mut u = User::new(
        vec![
            phone("mobile", MOBILE),
            method("softwareOath", "so1"),
            method("microsoftAuthenticator", "ma1"),
        ],
        "push",
    );
    let mut m = ResetMethods::new("a@x.com", MachineOptions::default());
    let Next::Send(reads) = m.start() else {
        panic!("the machine starts with its reads")
    };
    let mut wave = Vec::new();
    for call in reads {
        if let Next::Send(c) = m.on_response(call.tag, &u.answer(&call)) {
            wave.extend(c);
        }
    }
    // The first wave: the phone and the OATH token (the default authenticator goes last).
    assert_eq!(wave.len(), 2, "{wave:?}");
    let (given_up, answered) = (&wave[0], &wave[1]);
    let failure = Outcome {
        status: Status::Failed,
        http_status: Some(503),
        error_code: "serviceUnavailable".into(),
        message: "Service unavailable (gave up after 6 attempts)".into(),
        ..Outcome::default()
    };
    assert!(
        matches!(m.give_up(given_up.tag, failure), Next::Wait),
        "the other delete of the wave is still out"
    );
    let Next::Done(o) = m.on_response(answered.tag, &u.answer(answered)) else {
        panic!("the wave is over: the action ends")
    };
    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.http_status, Some(503));
    assert!(o.message.starts_with("could not remove "), "{}", o.message);
    assert!(
        o.message.ends_with("(gave up after 6 attempts)"),
        "{}",
        o.message
    );
    assert_eq!(o.before, "mobilePhone;softwareOath;microsoftAuthenticator");
    assert_eq!(u.deletes.len(), 1, "one delete went through");
    assert_ne!(
        o.after, o.before,
        "after shows the delete that went through"
    );
    assert!(o.changed, "a method was removed: the tenant changed");
    assert!(o.after.contains("microsoftAuthenticator"), "{}", o.after);
}

/// Drives a machine for `key` to its end against `user`.
fn drive_key(user: &mut User, key: &str, options: MachineOptions) -> Outcome {
    let mut m = ResetMethods::new(key, options);
    let mut queue = match m.start() {
        Next::Send(c) => c,
        Next::Done(o) => return o,
        Next::Wait => panic!("nothing to wait for"),
        Next::Resolved(r) => panic!("a reset never looks a user up: {r:?}"),
    };
    for _ in 0..100 {
        let mut next_calls = Vec::new();
        for call in std::mem::take(&mut queue) {
            let r = user.answer(&call);
            match m.on_response(call.tag, &r) {
                Next::Send(c) => next_calls.extend(c),
                Next::Wait => {}
                Next::Done(o) => return o,
                Next::Resolved(r) => panic!("a reset never looks a user up: {r:?}"),
            }
        }
        queue = next_calls;
    }
    panic!("machine did not finish");
}

fn global() -> MachineOptions {
    MachineOptions {
        global_cloud: true,
        ..MachineOptions::default()
    }
}

#[test]
fn every_page_of_the_methods_list_is_read_before_deleting() {
    let mut user = User::new(
        vec![
            method("fido2", "f1"),
            method("email", "e1"),
            method("softwareOath", "s1"),
            phone("mobile", MOBILE),
            method("microsoftAuthenticator", "a1"),
        ],
        "push",
    );
    user.page_size = Some(2);
    let o = drive_key(&mut user, "a@x.com", global());
    assert_eq!(o.status, Status::Failed, "{o:?}");
    // The default (Authenticator, on the last page) would stay behind fido2 and email: seen.
    assert!(
        o.message.contains("microsoftAuthenticator"),
        "{}",
        o.message
    );
    assert!(user.deletes.is_empty());

    let mut user = User::new(
        vec![
            method("fido2", "f1"),
            method("softwareOath", "s1"),
            phone("mobile", MOBILE),
            method("microsoftAuthenticator", "a1"),
        ],
        "sms",
    );
    user.page_size = Some(1);
    let o = drive_key(
        &mut user,
        "a@x.com",
        MachineOptions {
            reset_all: true,
            ..global()
        },
    );
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(user.deletes.len(), 4, "{:?}", user.deletes);
    assert_eq!(o.after, "");
}

#[test]
fn types_the_tool_does_not_delete_are_named_and_do_not_fail_the_row() {
    let mut user = User::new(
        vec![
            phone("mobile", MOBILE),
            json!({"@odata.type": "#microsoft.graph.externalAuthenticationMethod", "id": "x1", "displayName": "Contoso MFA"}),
            method("qrCodePin", "q1"),
            method("passwordlessMicrosoftAuthenticator", "p1"),
            method("futureThing\u{7}", "u1"),
            json!({"id": "no-type"}),
        ],
        "",
    );
    let o = drive_key(&mut user, "a@x.com", global());
    assert_eq!(o.status, Status::Applied, "{o:?}");
    assert_eq!(user.deletes, [MOBILE]);
    for name in [
        "externalAuthentication",
        "qrCodePin",
        "passwordlessMicrosoftAuthenticator",
        "futureThing\\u{7}",
        "unknown method type",
    ] {
        assert!(o.message.contains(name), "{name}: {}", o.message);
    }
    assert!(!o.message.contains('\u{7}'));
    assert!(o.message.contains("does not delete"), "{}", o.message);
}

#[test]
fn hardware_oath_is_unassigned_only_by_object_id_in_the_global_cloud() {
    const ID: &str = "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10";
    let user = || {
        User::new(
            vec![method("hardwareOath", "h1"), phone("office", "o1")],
            "",
        )
    };
    let mut u = user();
    let o = drive_key(&mut u, ID, global());
    assert_eq!((o.status, u.deletes.len()), (Status::Applied, 2), "{o:?}");
    assert!(o.message.is_empty(), "{}", o.message);

    for (key, options) in [("a@x.com", global()), (ID, MachineOptions::default())] {
        let mut u = user();
        let o = drive_key(&mut u, key, options);
        assert_eq!(o.status, Status::Applied, "{key}: {o:?}");
        assert_eq!(u.deletes, ["o1"], "{key}");
        assert_eq!(o.after, "hardwareOath");
        assert!(
            o.message.contains("hardwareOath") && o.message.contains("object id"),
            "{key}: {}",
            o.message
        );
    }
}
