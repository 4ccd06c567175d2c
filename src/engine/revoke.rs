//! The session-revocation machine: look the user up (Graph does not revoke sessions of
//! external users, and says `{"value": true}` anyway, so a guest must be told apart first),
//! then `POST /users/{key}/revokeSignInSessions` with an empty JSON body (inside `$batch`,
//! a write without body and Content-Type fails the whole batch).

use serde_json::json;

use crate::graph::{ApiVersion, ItemResponse, Method, user_path};
use crate::journal::Status;

use super::machine::{Call, MachineOptions, Next, Outcome, failure, not_found};

const TAG_LOOKUP: u32 = 0;
const TAG_REVOKE: u32 = 1;

const GUEST_MESSAGE: &str = "guest (external) user: Microsoft Graph does not revoke sign-in sessions of external users; revoke them in the user's home tenant";

#[derive(Debug)]
pub(crate) struct Revoke {
    user_path: String,
    options: MachineOptions,
    /// Set when the lookup was refused (no User.Read.All): the revocation still goes ahead,
    /// and the result says the guest check could not be made.
    unchecked: bool,
}

impl Revoke {
    pub(crate) fn new(user: &str, options: MachineOptions) -> Revoke {
        Revoke {
            user_path: user_path(user),
            options,
            unchecked: false,
        }
    }

    pub(crate) fn start(&mut self) -> Next {
        Next::Send(vec![self.lookup()])
    }

    fn lookup(&self) -> Call {
        Call {
            tag: TAG_LOOKUP,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: self.user_path.clone(),
            body: None,
        }
    }

    fn revoke(&self) -> Call {
        Call {
            tag: TAG_REVOKE,
            version: ApiVersion::Beta,
            method: Method::Post,
            url: format!("{}/revokeSignInSessions", self.user_path),
            body: Some(json!({})),
        }
    }

    fn after_lookup(&mut self) -> Next {
        if self.options.dry_run {
            return Next::Done(Outcome {
                status: Status::Planned,
                after: "sessions revoked".into(),
                message: self.note(),
                ..Outcome::default()
            });
        }
        Next::Send(vec![self.revoke()])
    }

    fn note(&self) -> String {
        if self.unchecked {
            "could not check whether the user is a guest (the app lacks User.Read.All); Graph does not revoke guests' sessions".into()
        } else {
            String::new()
        }
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        if r.status == 404 {
            return Next::Done(not_found(r));
        }
        match tag {
            TAG_LOOKUP => {
                if r.status == 403 {
                    self.unchecked = true;
                    return self.after_lookup();
                }
                if !(200..300).contains(&r.status) {
                    return Next::Done(failure(r, "User.Read.All"));
                }
                let guest = r
                    .body
                    .get("userType")
                    .and_then(|v| v.as_str())
                    .is_some_and(|t| t.eq_ignore_ascii_case("guest"));
                if guest {
                    return Next::Done(Outcome {
                        status: Status::Skipped,
                        http_status: Some(r.status),
                        message: GUEST_MESSAGE.into(),
                        ..Outcome::default()
                    });
                }
                self.after_lookup()
            }
            _ => {
                if !(200..300).contains(&r.status) {
                    return Next::Done(failure(r, "User.RevokeSessions.All"));
                }
                // Any 2xx is success: Graph documents 204 but answers 200 {"value": true}.
                Next::Done(Outcome {
                    status: Status::Applied,
                    after: "sessions revoked".into(),
                    http_status: Some(r.status),
                    message: self.note(),
                    changed: true,
                    ..Outcome::default()
                })
            }
        }
    }

    /// Revoking twice is harmless (it only moves the valid-from time), so an ambiguous
    /// revoke is simply sent again.
    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        if tag == TAG_REVOKE {
            self.revoke()
        } else {
            self.lookup()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::machine::answer;
    use serde_json::json;

    fn only_call(next: Next) -> Call {
        match next {
            Next::Send(mut c) if c.len() == 1 => c.remove(0),
            other => panic!("expected one call, got {other:?}"),
        }
    }

    #[test]
    fn a_member_is_revoked_with_an_empty_json_body_and_200_true_counts_as_applied() {
        let mut m = Revoke::new("a@x.com", MachineOptions::default());
        m.start();
        let call = only_call(m.on_response(TAG_LOOKUP, &answer(200, json!({"userType":"Member"}))));
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.url, "/users/a@x.com/revokeSignInSessions");
        assert_eq!(call.body, Some(json!({})));
        let done = m.on_response(TAG_REVOKE, &answer(200, json!({"value": true})));
        assert!(matches!(
            done,
            Next::Done(Outcome {
                status: Status::Applied,
                ..
            })
        ));
    }

    #[test]
    fn a_guest_is_skipped_with_the_reason_and_nothing_is_posted() {
        let mut m = Revoke::new("g_x.com#EXT#@t.onmicrosoft.com", MachineOptions::default());
        m.start();
        match m.on_response(TAG_LOOKUP, &answer(200, json!({"userType":"Guest"}))) {
            Next::Done(o) => {
                assert_eq!(o.status, Status::Skipped);
                assert!(o.message.contains("does not revoke"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dry_run_plans_the_revocation() {
        let mut m = Revoke::new(
            "a@x.com",
            MachineOptions {
                dry_run: true,
                ..MachineOptions::default()
            },
        );
        m.start();
        let next = m.on_response(TAG_LOOKUP, &answer(200, json!({"userType":"Member"})));
        assert!(matches!(
            next,
            Next::Done(Outcome {
                status: Status::Planned,
                ..
            })
        ));
    }
}
