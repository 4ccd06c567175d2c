//! The session-revocation machine. Graph does not revoke sessions of external users and says
//! `{"value": true}` anyway (docs/graph.md §3), so a guest must be told apart first: a UPN
//! carrying `#EXT#` is an external user as it stands; anyone else is read with
//! `$select=id,userPrincipalName,userType`, because `userType` is "Returned only on `$select`"
//! (docs/graph.md §9.1). Only a user Graph calls `Member` is revoked, with
//! `POST /users/{key}/revokeSignInSessions` and an empty JSON body (inside `$batch`, a write
//! without body and Content-Type fails the whole batch); a missing or unknown `userType`
//! is never taken for a member.

use serde_json::json;

use crate::graph::{ApiVersion, ItemResponse, Method, user_path};
use crate::journal::Status;

use super::machine::{Call, MachineOptions, Next, Outcome, failure, not_found};

const TAG_LOOKUP: u32 = 0;
const TAG_REVOKE: u32 = 1;

/// The properties the guest check reads, and nothing else (docs/graph.md §9.1).
const LOOKUP_SELECT: &str = "$select=id,userPrincipalName,userType";

const GUEST_MESSAGE: &str = "guest (external) user: Microsoft Graph does not revoke sign-in sessions of external users; revoke them in the user's home tenant";

#[derive(Debug)]
pub(crate) struct Revoke {
    user_path: String,
    options: MachineOptions,
    /// The key is a UPN with `#EXT#`: an external user, known without a lookup.
    external_upn: bool,
}

impl Revoke {
    pub(crate) fn new(user: &str, options: MachineOptions) -> Revoke {
        Revoke {
            user_path: user_path(user),
            options,
            external_upn: user.to_ascii_uppercase().contains("#EXT#"),
        }
    }

    pub(crate) fn start(&mut self) -> Next {
        if self.external_upn {
            return Next::Done(Outcome {
                status: Status::Skipped,
                message: GUEST_MESSAGE.into(),
                ..Outcome::default()
            });
        }
        Next::Send(vec![self.lookup()])
    }

    fn lookup(&self) -> Call {
        Call {
            tag: TAG_LOOKUP,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: format!("{}?{LOOKUP_SELECT}", self.user_path),
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

    fn after_member_lookup(&mut self) -> Next {
        if self.options.dry_run {
            return Next::Done(Outcome {
                status: Status::Planned,
                after: "sessions revoked".into(),
                ..Outcome::default()
            });
        }
        Next::Send(vec![self.revoke()])
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        if r.status == 404 {
            return Next::Done(not_found(r));
        }
        match tag {
            TAG_LOOKUP => {
                if !(200..300).contains(&r.status) {
                    let mut out = failure(r, "User.Read.All");
                    out.message = format!(
                        "could not read the user's type, so sessions were not revoked (Graph does not revoke guests' sessions): {}",
                        out.message
                    );
                    return Next::Done(out);
                }
                match r.body.get("userType").and_then(|v| v.as_str()) {
                    Some(t) if t.eq_ignore_ascii_case("member") => self.after_member_lookup(),
                    Some(t) if t.eq_ignore_ascii_case("guest") => Next::Done(Outcome {
                        status: Status::Skipped,
                        http_status: Some(r.status),
                        message: GUEST_MESSAGE.into(),
                        ..Outcome::default()
                    }),
                    other => {
                        let seen = match other {
                            Some(t) => format!("userType '{t}'"),
                            None => "no userType".to_string(),
                        };
                        Next::Done(Outcome {
                            status: Status::Failed,
                            http_status: Some(r.status),
                            message: format!(
                                "Graph returned {seen} for this user, so it cannot be told from a guest (whose sessions Graph does not revoke); sessions were not revoked"
                            ),
                            ..Outcome::default()
                        })
                    }
                }
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
    fn the_lookup_selects_the_user_type() {
        let mut m = Revoke::new("a@x.com", MachineOptions::default());
        let call = only_call(m.start());
        assert_eq!(
            call.url,
            "/users/a@x.com?$select=id,userPrincipalName,userType"
        );
    }

    #[test]
    fn an_ext_upn_is_skipped_without_any_request() {
        let mut m = Revoke::new("g_x.com#ext#@t.onmicrosoft.com", MachineOptions::default());
        match m.start() {
            Next::Done(o) => {
                assert_eq!(o.status, Status::Skipped);
                assert!(o.message.contains("does not revoke"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_or_unknown_user_type_fails_without_revoking() {
        for body in [
            json!({"id": "x"}),
            json!({"userType": null}),
            json!({"userType": "Alien"}),
        ] {
            let mut m = Revoke::new("a@x.com", MachineOptions::default());
            m.start();
            match m.on_response(TAG_LOOKUP, &answer(200, body.clone())) {
                Next::Done(o) => {
                    assert_eq!(o.status, Status::Failed, "{body}");
                    assert!(o.message.contains("not revoked"), "{}", o.message);
                    assert!(!o.changed);
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refused_lookup_fails_naming_user_read_all_without_revoking() {
        let mut m = Revoke::new("a@x.com", MachineOptions::default());
        m.start();
        let refused = answer(
            403,
            json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}}),
        );
        match m.on_response(TAG_LOOKUP, &refused) {
            Next::Done(o) => {
                assert_eq!(o.status, Status::Failed);
                assert!(o.message.contains("User.Read.All"), "{}", o.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_guest_is_skipped_with_the_reason_and_nothing_is_posted() {
        let mut m = Revoke::new(
            "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10",
            MachineOptions::default(),
        );
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
