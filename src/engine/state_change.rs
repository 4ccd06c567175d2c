//! The per-user MFA state machine: read `/beta/users/{key}/authentication/requirements`; if
//! the state already matches, `unchanged`; otherwise `PATCH` it (or `planned` in a dry run),
//! then read it back so `after` is what Graph holds (a PATCH to `enabled` becomes `enforced`
//! for a user with a registered method). After an ambiguous write (5xx, dropped connection)
//! it re-reads instead of writing again.

use serde_json::json;

use crate::action::MfaState;
use crate::graph::{ApiVersion, ItemResponse, Method, user_path};
use crate::journal::Status;

use super::machine::{Call, MachineOptions, Next, Outcome, failure, not_found};

const READ_PERMISSION: &str = "Policy.Read.All (or Policy.ReadWrite.AuthenticationMethod)";
const WRITE_PERMISSION: &str = "Policy.ReadWrite.AuthenticationMethod";

const TAG_READ: u32 = 0;
const TAG_WRITE: u32 = 1;
const TAG_VERIFY: u32 = 2;
const TAG_CONFIRM: u32 = 3;
/// A plan's read of the user's methods, to predict what `enabled` becomes.
const TAG_METHODS: u32 = 4;

/// The password method every user has; it is not an MFA method (docs/graph.md §1, §2).
const PASSWORD_METHOD: &str = "#microsoft.graph.passwordAuthenticationMethod";

#[derive(Debug)]
pub(crate) struct StateChange {
    url: String,
    target: MfaState,
    options: MachineOptions,
    before: Option<MfaState>,
    /// `set-enabled`: write `enabled` even over `enforced`.
    exact: bool,
}

impl StateChange {
    pub(crate) fn new(user: &str, target: MfaState, options: MachineOptions) -> StateChange {
        StateChange {
            url: format!("{}/authentication/requirements", user_path(user)),
            target,
            options,
            before: None,
            exact: false,
        }
    }

    /// The `set-enabled` form: the exact state, even when a stronger one already holds.
    pub(crate) fn exact(mut self) -> StateChange {
        self.exact = true;
        self
    }

    fn read(&self, tag: u32) -> Call {
        Call {
            tag,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: self.url.clone(),
            body: None,
        }
    }

    fn list_methods(&self) -> Call {
        Call {
            tag: TAG_METHODS,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: self
                .url
                .replace("/authentication/requirements", "/authentication/methods"),
            body: None,
        }
    }

    /// A plan's row for `enabled`: Graph stores `enabled` as `enforced` for a user with a
    /// registered MFA method (docs/graph.md §1), so the plan says which one will land.
    /// `registered` is `None` when the methods could not be read (then `enabled`, saying so).
    fn planned_enable(&self, http_status: u16, registered: Option<bool>, why: &str) -> Outcome {
        let (after, message) = match registered {
            Some(true) => (
                MfaState::Enforced,
                "predicted enforced: the user has a registered method, and Graph stores enabled as enforced for them".to_string(),
            ),
            Some(false) => (MfaState::Enabled, String::new()),
            None => (
                MfaState::Enabled,
                format!("could not read the user's methods to predict enforced ({why}); Graph stores enabled as enforced for a user with a registered method"),
            ),
        };
        Outcome {
            status: Status::Planned,
            before: self.before_text(),
            after: after.as_str().to_string(),
            http_status: Some(http_status),
            message,
            ..Outcome::default()
        }
    }

    fn write(&self) -> Call {
        Call {
            tag: TAG_WRITE,
            version: ApiVersion::Beta,
            method: Method::Patch,
            url: self.url.clone(),
            body: Some(json!({ "perUserMfaState": self.target.as_str() })),
        }
    }

    pub(crate) fn start(&mut self) -> Next {
        Next::Send(vec![self.read(TAG_READ)])
    }

    pub(crate) fn before_text(&self) -> String {
        self.before
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        let permission = if tag == TAG_WRITE {
            WRITE_PERMISSION
        } else {
            READ_PERMISSION
        };
        if tag == TAG_METHODS {
            return Next::Done(self.on_methods(r));
        }
        if r.status == 404 {
            return Next::Done(not_found(r));
        }
        if !(200..300).contains(&r.status) {
            let mut out = failure(r, permission);
            out.before = self.before_text();
            return Next::Done(out);
        }
        match tag {
            TAG_READ | TAG_VERIFY => {
                let Some(state) = r.body.get("perUserMfaState").and_then(|v| v.as_str()) else {
                    return Next::Done(Outcome {
                        status: Status::Failed,
                        http_status: Some(r.status),
                        error_code: "UnexpectedResponse".into(),
                        message: "the response has no perUserMfaState".into(),
                        before: self.before_text(),
                        ..Outcome::default()
                    });
                };
                let current = MfaState::parse(state);
                if tag == TAG_VERIFY {
                    // Our earlier write may or may not have landed. If the user now has the
                    // target state (or `enforced` for `enabled`, Graph's documented
                    // promotion), it landed: the first read saw something else.
                    let landed = current == self.target
                        || (self.target == MfaState::Enabled && current == MfaState::Enforced);
                    if landed {
                        return Next::Done(self.applied(r.status, current));
                    }
                    return Next::Send(vec![self.write()]);
                }
                self.before = Some(current.clone());
                // `enforced` already satisfies `enable`: Graph moves enabled users to enforced
                // once they register, and stores `enabled` as `enforced` for a registered user.
                // Writing it would spend the scarce write quota on a no-op (or silently step
                // an unregistered user down), and a redo after a crash would write it again.
                let already_enforced = !self.exact
                    && self.target == MfaState::Enabled
                    && current == MfaState::Enforced;
                if current == self.target || already_enforced {
                    return Next::Done(Outcome {
                        status: Status::Unchanged,
                        before: current.as_str().to_string(),
                        after: current.as_str().to_string(),
                        http_status: Some(r.status),
                        message: if already_enforced {
                            "already enforced, which includes enabled (disable first to step down)"
                                .into()
                        } else {
                            String::new()
                        },
                        ..Outcome::default()
                    });
                }
                if self.options.dry_run && self.target == MfaState::Enabled {
                    // One more read, on the read budget, so the plan shows the after-state
                    // the run will report.
                    return Next::Send(vec![self.list_methods()]);
                }
                if self.options.dry_run {
                    return Next::Done(Outcome {
                        status: Status::Planned,
                        before: current.as_str().to_string(),
                        after: self.target.as_str().to_string(),
                        http_status: Some(r.status),
                        ..Outcome::default()
                    });
                }
                Next::Send(vec![self.write()])
            }
            TAG_CONFIRM => {
                let now = r
                    .body
                    .get("perUserMfaState")
                    .and_then(|v| v.as_str())
                    .map_or_else(|| self.target.clone(), MfaState::parse);
                let mut out = self.applied(r.status, now.clone());
                out.http_status = Some(204);
                let promoted = self.target == MfaState::Enabled && now == MfaState::Enforced;
                if promoted && self.before.as_ref() == Some(&now) {
                    // Graph keeps a registered user enforced when asked for enabled: the
                    // write changed nothing, and the results must not claim it did.
                    out.status = Status::Unchanged;
                    out.changed = false;
                    out.message = "Graph keeps this user enforced: they have a registered method (enabled becomes enforced)".into();
                } else if promoted {
                    out.message =
                        "Graph moved the user to enforced: they had already registered a method"
                            .into();
                } else if now != self.target {
                    out.message = format!("written, but Graph now reports '{now}'");
                }
                Next::Done(out)
            }
            _ => Next::Send(vec![self.read(TAG_CONFIRM)]),
        }
    }

    /// The methods listing of a plan: any method but the password is a registered one. A
    /// further page means more methods than the one password. A refusal (no
    /// UserAuthenticationMethod.Read.All) or an odd answer leaves the plan at `enabled`.
    fn on_methods(&self, r: &ItemResponse) -> Outcome {
        if !(200..300).contains(&r.status) {
            let why = match r.body.pointer("/error/code").and_then(|c| c.as_str()) {
                Some(code) => format!("HTTP {} {code}", r.status),
                None => format!("HTTP {}", r.status),
            };
            return self.planned_enable(200, None, &why);
        }
        let Some(methods) = r.body.get("value").and_then(|v| v.as_array()) else {
            return self.planned_enable(200, None, "the answer has no method list");
        };
        let registered = r.body.get("@odata.nextLink").is_some()
            || methods
                .iter()
                .any(|m| m.get("@odata.type").and_then(|t| t.as_str()) != Some(PASSWORD_METHOD));
        self.planned_enable(200, Some(registered), "")
    }

    /// The scheduler gave up on a call: only a failed read-back still has an answer, since
    /// the write itself was acknowledged; a plan's methods read only loses its prediction.
    pub(crate) fn give_up(&self, tag: u32, message: &str) -> Option<Outcome> {
        if tag == TAG_METHODS {
            return Some(self.planned_enable(200, None, message));
        }
        (tag == TAG_CONFIRM).then(|| {
            let mut out = self.applied(204, self.target.clone());
            out.message = format!("written (204); reading it back failed: {message}");
            out
        })
    }

    fn applied(&self, status: u16, after: MfaState) -> Outcome {
        Outcome {
            status: Status::Applied,
            before: self.before_text(),
            after: after.as_str().to_string(),
            http_status: Some(status),
            changed: true,
            ..Outcome::default()
        }
    }

    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        if tag == TAG_WRITE {
            self.read(TAG_VERIFY)
        } else if tag == TAG_METHODS {
            self.list_methods()
        } else {
            self.read(tag)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::machine::answer;
    use serde_json::{Value, json};

    fn machine(target: MfaState, dry_run: bool) -> StateChange {
        StateChange::new(
            "a@contoso.com",
            target,
            MachineOptions {
                dry_run,
                ..MachineOptions::default()
            },
        )
    }

    fn sent(next: Next) -> Call {
        match next {
            Next::Send(mut calls) if calls.len() == 1 => calls.remove(0),
            other => panic!("expected one call, got {other:?}"),
        }
    }

    fn done(next: Next) -> Outcome {
        match next {
            Next::Done(o) => o,
            other => panic!("expected an outcome, got {other:?}"),
        }
    }

    #[test]
    fn a_plan_for_enable_predicts_enforced_for_a_user_with_a_registered_method() {
        let password =
            json!({"@odata.type": PASSWORD_METHOD, "id": "28c10230-6103-485e-b985-444c60001490"});
        let phone = json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7"});
        for (methods, next_link, after) in [
            (vec![password.clone(), phone], false, "enforced"),
            (vec![password.clone()], false, "enabled"),
            (vec![password], true, "enforced"),
        ] {
            let mut m = machine(MfaState::Enabled, true);
            m.start();
            let call = sent(m.on_response(
                TAG_READ,
                &answer(200, json!({"perUserMfaState":"disabled"})),
            ));
            assert_eq!(call.method, Method::Get);
            assert_eq!(call.url, "/users/a@contoso.com/authentication/methods");
            let mut body = json!({ "value": methods });
            if next_link {
                body["@odata.nextLink"] = json!("https://graph.microsoft.com/beta/next");
            }
            let o = done(m.on_response(TAG_METHODS, &answer(200, body)));
            assert_eq!(o.status, Status::Planned);
            assert_eq!((o.before.as_str(), o.after.as_str()), ("disabled", after));
            assert_eq!(
                o.message.contains("predicted enforced"),
                after == "enforced",
                "{}",
                o.message
            );
        }
    }

    #[test]
    fn a_plan_for_enable_without_the_methods_permission_stays_enabled_and_says_why() {
        let mut m = machine(MfaState::Enabled, true);
        m.start();
        sent(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        ));
        let o = done(m.on_response(
            TAG_METHODS,
            &answer(403, json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}})),
        ));
        assert_eq!(o.status, Status::Planned);
        assert_eq!(o.after, "enabled");
        assert!(
            o.message.contains("HTTP 403 Authorization_RequestDenied"),
            "{}",
            o.message
        );
        // A plan for enforce needs no such read.
        let mut m = machine(MfaState::Enforced, true);
        m.start();
        let o = done(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        ));
        assert_eq!((o.status, o.after.as_str()), (Status::Planned, "enforced"));
    }

    #[test]
    fn reads_first_from_the_beta_requirements_endpoint() {
        let call = sent(machine(MfaState::Enforced, false).start());
        assert_eq!(call.method, Method::Get);
        assert_eq!(call.version, ApiVersion::Beta);
        assert_eq!(call.url, "/users/a@contoso.com/authentication/requirements");
    }

    #[test]
    fn matching_state_is_unchanged_without_a_write() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        let o = done(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!(o.status, Status::Unchanged);
        assert_eq!(
            (o.before.as_str(), o.after.as_str()),
            ("enforced", "enforced")
        );
    }

    #[test]
    fn different_state_is_patched_with_the_target_and_then_applied() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        let call = sent(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        ));
        assert_eq!(call.method, Method::Patch);
        assert_eq!(call.body, Some(json!({"perUserMfaState":"enforced"})));
        let confirm = sent(m.on_response(call.tag, &answer(204, Value::Null)));
        assert_eq!(confirm.method, Method::Get);
        let o = done(m.on_response(
            confirm.tag,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!(o.status, Status::Applied);
        assert_eq!(
            (o.before.as_str(), o.after.as_str()),
            ("disabled", "enforced")
        );
        assert_eq!(o.http_status, Some(204));
        assert!(o.changed);
    }

    #[test]
    fn enabling_a_registered_user_reports_the_enforced_state_graph_chose() {
        let mut m = machine(MfaState::Enabled, false);
        m.start();
        let call = sent(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        ));
        let confirm = sent(m.on_response(call.tag, &answer(204, Value::Null)));
        let o = done(m.on_response(
            confirm.tag,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!((o.status, o.after.as_str()), (Status::Applied, "enforced"));
        assert!(o.message.contains("enforced"));
    }

    #[test]
    fn a_failed_read_back_still_reports_the_acknowledged_write_as_applied() {
        let mut m = machine(MfaState::Disabled, false);
        m.start();
        let call = sent(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        let confirm = sent(m.on_response(call.tag, &answer(204, Value::Null)));
        let o = m.give_up(confirm.tag, "status 503").expect("an outcome");
        assert_eq!((o.status, o.after.as_str()), (Status::Applied, "disabled"));
        assert!(m.give_up(TAG_READ, "x").is_none());
    }

    #[test]
    fn enabling_an_enforced_user_is_unchanged_without_a_write() {
        let mut m = machine(MfaState::Enabled, false);
        m.start();
        let o = done(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!(
            (o.status, o.after.as_str()),
            (Status::Unchanged, "enforced")
        );
        assert!(!o.changed);
        assert!(o.message.contains("already enforced"));
    }

    #[test]
    fn set_enabled_writes_enabled_over_enforced() {
        let mut m = machine(MfaState::Enabled, false).exact();
        m.start();
        let call = sent(m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!(call.body, Some(json!({"perUserMfaState":"enabled"})));
    }

    #[test]
    fn dry_run_plans_instead_of_writing() {
        let mut m = machine(MfaState::Disabled, true);
        m.start();
        let o = done(m.on_response(TAG_READ, &answer(200, json!({"perUserMfaState":"enabled"}))));
        assert_eq!(o.status, Status::Planned);
        assert_eq!(
            (o.before.as_str(), o.after.as_str()),
            ("enabled", "disabled")
        );
        assert!(!o.changed);
    }

    #[test]
    fn unknown_user_is_not_found() {
        let mut m = machine(MfaState::Disabled, false);
        m.start();
        let body = json!({"error":{"code":"Request_ResourceNotFound","message":"Resource 'a' does not exist"}});
        let o = done(m.on_response(TAG_READ, &answer(404, body)));
        assert_eq!(o.status, Status::NotFound);
        assert_eq!(o.error_code, "Request_ResourceNotFound");
    }

    #[test]
    fn forbidden_write_names_the_permission() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        );
        let body = json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}});
        let o = done(m.on_response(TAG_WRITE, &answer(403, body)));
        assert_eq!(o.status, Status::Failed);
        assert!(o.message.contains("Policy.ReadWrite.AuthenticationMethod"));
        assert_eq!(o.before, "disabled");
    }

    #[test]
    fn an_ambiguous_write_is_verified_by_a_read_and_not_written_twice() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        );
        let verify = m.after_ambiguous(TAG_WRITE);
        assert_eq!(verify.method, Method::Get);
        let o = done(m.on_response(
            verify.tag,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!(o.status, Status::Applied);
        assert_eq!(o.before, "disabled");
    }

    #[test]
    fn an_ambiguous_write_that_did_not_land_is_written_again() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        );
        let verify = m.after_ambiguous(TAG_WRITE);
        let call = sent(m.on_response(
            verify.tag,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        ));
        assert_eq!(call.method, Method::Patch);
    }

    #[test]
    fn enabling_accepts_graphs_promotion_to_enforced_on_verify() {
        let mut m = machine(MfaState::Enabled, false);
        m.start();
        m.on_response(
            TAG_READ,
            &answer(200, json!({"perUserMfaState":"disabled"})),
        );
        let verify = m.after_ambiguous(TAG_WRITE);
        let o = done(m.on_response(
            verify.tag,
            &answer(200, json!({"perUserMfaState":"enforced"})),
        ));
        assert_eq!((o.status, o.after.as_str()), (Status::Applied, "enforced"));
    }

    #[test]
    fn a_malformed_read_fails_the_row_without_panicking() {
        let mut m = machine(MfaState::Enforced, false);
        m.start();
        let o = done(m.on_response(TAG_READ, &answer(200, json!(["nonsense"]))));
        assert_eq!(o.status, Status::Failed);
    }
}
