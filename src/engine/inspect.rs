//! `export`'s read of one user: its per-user MFA state (`GET …/authentication/requirements`,
//! docs/graph.md §1), its registered methods (`GET …/authentication/methods`, every page, §2)
//! and its default method (`GET …/authentication/signInPreferences`,
//! `userPreferredMethodForSecondaryAuthentication`, §2), all beta, sent at once. Nothing is
//! written. The outcome is `unchanged` with the state in `before` and `after`, and the
//! methods and default method as its two extra cells; a user Graph no longer knows is
//! `not_found`, any other error `failed` with the permission to grant.

use serde_json::Value;

use crate::graph::{ApiVersion, ItemResponse, Method, user_path};
use crate::journal::Status;

use super::machine::{Call, Next, Outcome, failure, not_found};
use super::reset_methods::{classify, printable, relative_beta_url};

const TAG_STATE: u32 = 1;
const TAG_METHODS: u32 = 2;
const TAG_DEFAULT: u32 = 3;

/// A methods list longer than this many pages is taken as a server fault, not read forever.
const MAX_METHOD_PAGES: u32 = 50;

#[derive(Debug)]
pub(crate) struct Inspect {
    user: String,
    state: Option<String>,
    methods: Vec<String>,
    methods_done: bool,
    method_pages: u32,
    /// `Some(None)`: read, no default method.
    default: Option<Option<String>>,
    /// The first error: the outcome once nothing is out any more.
    error: Option<Outcome>,
    out: u32,
}

impl Inspect {
    pub(crate) fn new(user: &str) -> Inspect {
        Inspect {
            user: user.to_string(),
            state: None,
            methods: Vec::new(),
            methods_done: false,
            method_pages: 0,
            default: None,
            error: None,
            out: 0,
        }
    }

    fn get(&self, tag: u32, url: String) -> Call {
        Call {
            tag,
            version: ApiVersion::Beta,
            method: Method::Get,
            url,
            body: None,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("{}/authentication/{rest}", user_path(&self.user))
    }

    pub(crate) fn start(&mut self) -> Next {
        self.out = 3;
        Next::Send(vec![
            self.get(TAG_STATE, self.path("requirements")),
            self.get(TAG_METHODS, self.path("methods")),
            self.get(TAG_DEFAULT, self.path("signInPreferences")),
        ])
    }

    fn unexpected(status: u16, message: String) -> Outcome {
        Outcome {
            status: Status::Failed,
            http_status: Some(status),
            error_code: "UnexpectedResponse".into(),
            message,
            ..Outcome::default()
        }
    }

    fn fail(&mut self, outcome: Outcome) {
        // A user gone since it was listed answers 404 to every read: say not_found once.
        if self
            .error
            .as_ref()
            .is_none_or(|e| e.status != Status::NotFound)
        {
            self.error.get_or_insert(outcome);
        }
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        self.out = self.out.saturating_sub(1);
        if r.status == 404 {
            self.error = Some(not_found(r));
        } else if !(200..300).contains(&r.status) {
            let permission = match tag {
                TAG_STATE => "Policy.Read.All",
                _ => "UserAuthenticationMethod.Read.All",
            };
            self.fail(failure(r, permission));
        } else {
            match tag {
                TAG_STATE => match r.body.get("perUserMfaState").and_then(Value::as_str) {
                    Some(s) => self.state = Some(s.to_string()),
                    None => self.fail(Self::unexpected(
                        r.status,
                        "the per-user MFA answer has no perUserMfaState".into(),
                    )),
                },
                TAG_METHODS => {
                    if let Some(next) = self.take_methods(r) {
                        self.out += 1;
                        return Next::Send(vec![next]);
                    }
                }
                TAG_DEFAULT => {
                    let v = r.body.get("userPreferredMethodForSecondaryAuthentication");
                    self.default = Some(v.and_then(Value::as_str).map(str::to_string));
                }
                _ => {}
            }
        }
        self.finish_or_wait()
    }

    /// Takes one page of methods; the next page's call when the list goes on.
    fn take_methods(&mut self, r: &ItemResponse) -> Option<Call> {
        let Some(items) = r.body.get("value").and_then(Value::as_array) else {
            self.fail(Self::unexpected(
                r.status,
                "the methods list has no 'value' array".into(),
            ));
            return None;
        };
        self.methods.extend(
            items
                .iter()
                .map(|m| classify(m).label)
                .filter(|l| l != "password"),
        );
        self.method_pages += 1;
        // Follow the whole next link (docs/graph.md §9.2: never rebuild the skip token).
        match r.body.get("@odata.nextLink") {
            None => {
                self.methods_done = true;
                None
            }
            Some(link) => match link.as_str().and_then(relative_beta_url) {
                Some(next) if self.method_pages < MAX_METHOD_PAGES => {
                    Some(self.get(TAG_METHODS, next))
                }
                _ => {
                    self.fail(Self::unexpected(
                        r.status,
                        format!(
                            "the methods list could not be read to its end (page {} links to {})",
                            self.method_pages,
                            printable(&link.to_string())
                        ),
                    ));
                    None
                }
            },
        }
    }

    fn finish_or_wait(&mut self) -> Next {
        if self.out > 0 {
            return Next::Wait;
        }
        if let Some(e) = self.error.take() {
            return Next::Done(e);
        }
        match (&self.state, self.methods_done, &self.default) {
            (Some(state), true, Some(default)) => Next::Done(Outcome {
                status: Status::Unchanged,
                before: state.clone(),
                after: state.clone(),
                extra: vec![self.methods.join(";"), default.clone().unwrap_or_default()],
                ..Outcome::default()
            }),
            _ => Next::Done(Self::unexpected(
                0,
                "the user's reads ended without an answer to each".into(),
            )),
        }
    }

    /// Reads are safe to send again.
    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        match tag {
            TAG_STATE => self.get(TAG_STATE, self.path("requirements")),
            TAG_DEFAULT => self.get(TAG_DEFAULT, self.path("signInPreferences")),
            // A methods page read again from the start would double the list: start over.
            _ => {
                self.methods.clear();
                self.method_pages = 0;
                self.get(TAG_METHODS, self.path("methods"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::machine::answer;

    fn urls(next: &Next) -> Vec<String> {
        match next {
            Next::Send(calls) => calls.iter().map(|c| c.url.clone()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_every_methods_page_and_the_default_make_one_unchanged_record() {
        let mut m = Inspect::new("1b5c2c3e-0000-4000-8000-000000000001");
        let sent = urls(&m.start());
        assert_eq!(sent.len(), 3);
        assert!(sent[0].ends_with("/authentication/requirements"));
        assert_eq!(
            m.on_response(1, &answer(200, json!({"perUserMfaState": "enforced"}))),
            Next::Wait
        );
        let page1 = json!({"value": [
            {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "p"},
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "x", "phoneType": "mobile"}],
            "@odata.nextLink": "https://graph.microsoft.com/beta/users/u/authentication/methods?$skiptoken=X2"});
        let next = m.on_response(2, &answer(200, page1));
        assert_eq!(
            urls(&next),
            ["/users/u/authentication/methods?$skiptoken=X2"]
        );
        assert_eq!(
            m.on_response(
                3,
                &answer(
                    200,
                    json!({"userPreferredMethodForSecondaryAuthentication": "sms"})
                )
            ),
            Next::Wait
        );
        let page2 = json!({"value": [{"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "f"}]});
        match m.on_response(2, &answer(200, page2)) {
            Next::Done(o) => {
                assert_eq!(o.status, Status::Unchanged);
                assert_eq!(
                    (o.before.as_str(), o.after.as_str()),
                    ("enforced", "enforced")
                );
                assert_eq!(o.extra, ["mobilePhone;fido2", "sms"]);
                assert!(!o.changed);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_user_gone_since_listing_is_not_found_and_a_403_names_the_permission() {
        let mut m = Inspect::new("u@contoso.com");
        m.start();
        let gone = json!({"error": {"code": "Request_ResourceNotFound", "message": "gone"}});
        m.on_response(1, &answer(404, gone.clone()));
        m.on_response(2, &answer(404, gone.clone()));
        match m.on_response(3, &answer(404, gone)) {
            Next::Done(o) => assert_eq!(o.status, Status::NotFound),
            other => panic!("{other:?}"),
        }
        let mut m = Inspect::new("u@contoso.com");
        m.start();
        m.on_response(1, &answer(200, json!({"perUserMfaState": "disabled"})));
        let denied = json!({"error": {"code": "Authorization_RequestDenied", "message": "no"}});
        m.on_response(2, &answer(403, denied));
        match m.on_response(3, &answer(200, json!({}))) {
            Next::Done(o) => {
                assert_eq!(o.status, Status::Failed);
                assert!(
                    o.message.contains("UserAuthenticationMethod.Read.All"),
                    "{}",
                    o.message
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
