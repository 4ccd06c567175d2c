//! The mail → user lookup that comes before the first action of a row whose user column holds
//! mail addresses. Graph's `/users/{key}` takes only an object id or a UPN (docs/graph.md
//! §9.1), so a mail address must be found with `$filter` first (§9.3).
//!
//! Two reads, not one `or` filter: `mail eq '…'` first (a member's or a guest's mail is there),
//! then, only when nothing matched, `proxyAddresses/any(p:p eq 'smtp:…')` (a secondary
//! address). Each form alone is default-supported (§9.2 table); whether Graph takes the two
//! joined by `or` without advanced query parameters is not documented, and a wrong guess
//! would fail every row. The second read costs a read only for addresses that are no mail.
//! `otherMails` is not searched: it holds addresses a user gave (a private one, say), which
//! are not unique and not the tenant's. Every read asks `$select` for what it reads and
//! `$top` for a few more than one, so several matches can be named.
//!
//! One user found: [`Next::Resolved`] with its object id (the key the actions use: it needs
//! no `#`, `$` or apostrophe handling) and its UPN (shown in the results). None: `not_found`.
//! Several: `failed`, naming them. Pure: response in, next request out.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::graph::{ApiVersion, ItemResponse, Method};
use crate::journal::Status;

use super::machine::{Call, Next, Outcome, Resolved, failure};

const TAG_MAIL: u32 = 0;
const TAG_PROXY: u32 = 1;

/// What the lookup reads of each user.
const SELECT: &str = "id,userPrincipalName,mail";
/// How many matches are asked for: two would tell "several", a few more name them.
const TOP: usize = 5;

/// Characters percent-encoded in a `$filter` value: all but letters, digits and what OData
/// and URLs read literally inside a quoted literal. `#` (it would end the URL, §5), `&`, `+`
/// (read as a space in a query), `%` and space are encoded; `'` is doubled first.
const FILTER: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'\'')
    .remove(b'@')
    .remove(b':')
    .remove(b'(')
    .remove(b')')
    .remove(b'/');

#[derive(Debug)]
pub(crate) struct ResolveMail {
    mail: String,
    /// The address as messages quote it (control and invisible characters escaped).
    shown: String,
}

/// `s` with control and invisible (format, zero-width) characters written as `\u{…}`, so a
/// message stays one visible line.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            let invisible = c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}');
            if invisible {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl ResolveMail {
    pub(crate) fn new(mail: &str) -> ResolveMail {
        ResolveMail {
            mail: mail.to_string(),
            shown: shown(mail),
        }
    }

    pub(crate) fn start(&mut self) -> Next {
        Next::Send(vec![self.call(TAG_MAIL)])
    }

    /// The read for step `tag`, the address quoted as an OData literal (`'` doubled).
    fn call(&self, tag: u32) -> Call {
        let literal = self.mail.replace('\'', "''");
        let filter = if tag == TAG_MAIL {
            format!("mail eq '{literal}'")
        } else {
            format!("proxyAddresses/any(p:p eq 'smtp:{literal}')")
        };
        Call {
            tag,
            // Beta like the actions' reads, so lookups share their batches.
            version: ApiVersion::Beta,
            method: Method::Get,
            url: format!(
                "/users?$filter={}&$select={SELECT}&$top={TOP}",
                utf8_percent_encode(&filter, FILTER)
            ),
            body: None,
        }
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        if !(200..300).contains(&r.status) {
            return Next::Done(failure(r, "User.Read.All"));
        }
        let Some(found) = r.body.get("value").and_then(Value::as_array) else {
            return Next::Done(self.malformed(r.status, "it has no 'value' list"));
        };
        let mut users = Vec::with_capacity(found.len());
        for user in found {
            let text = |name: &str| user.get(name).and_then(Value::as_str).map(str::to_string);
            match (text("id"), text("userPrincipalName")) {
                (Some(id), Some(upn)) if !id.is_empty() && !upn.is_empty() => {
                    users.push(Resolved { id, upn });
                }
                _ => {
                    return Next::Done(
                        self.malformed(r.status, "a user in it has no id or userPrincipalName"),
                    );
                }
            }
        }
        let more = r.body.get("@odata.nextLink").is_some();
        match users.len() {
            0 if tag == TAG_MAIL => Next::Send(vec![self.call(TAG_PROXY)]),
            0 => Next::Done(Outcome {
                status: Status::NotFound,
                http_status: Some(r.status),
                message: format!(
                    "the mail address '{}' matched no user (no user has it as mail or as a proxy address)",
                    self.shown
                ),
                ..Outcome::default()
            }),
            1 if !more => Next::Resolved(users.remove(0)),
            n => {
                let names: Vec<&str> = users.iter().map(|u| u.upn.as_str()).collect();
                let count = if more {
                    format!("more than {n}")
                } else {
                    n.to_string()
                };
                let by = if tag == TAG_MAIL {
                    "mail"
                } else {
                    "proxy address"
                };
                Next::Done(Outcome {
                    status: Status::Failed,
                    http_status: Some(r.status),
                    error_code: "AmbiguousMail".into(),
                    message: format!(
                        "the mail address '{}' is the {by} of {count} users ({}); put the UPN of the one meant in a UPN column",
                        self.shown,
                        names
                            .iter()
                            .map(|n| shown(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    ..Outcome::default()
                })
            }
        }
    }

    fn malformed(&self, status: u16, why: &str) -> Outcome {
        Outcome {
            status: Status::Failed,
            http_status: Some(status),
            error_code: "MalformedResponse".into(),
            message: format!(
                "the lookup of the mail address '{}' got an answer the tool cannot read: {why}",
                self.shown
            ),
            ..Outcome::default()
        }
    }

    /// A read is safe to repeat: an ambiguous one is sent again as it was.
    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        self.call(tag)
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

    fn done(next: Next) -> Outcome {
        match next {
            Next::Done(o) => o,
            other => panic!("expected an outcome, got {other:?}"),
        }
    }

    fn users(list: &[(&str, &str)]) -> serde_json::Value {
        json!({"value": list.iter().map(|(id, upn)| json!({"id": id, "userPrincipalName": upn, "mail": "m@x.com"})).collect::<Vec<_>>()})
    }

    #[test]
    fn the_lookup_filters_on_mail_with_select_and_the_literal_quoted_and_encoded() {
        let mut m = ResolveMail::new("o'brien+hr#1@contoso.com");
        let call = only_call(m.start());
        assert_eq!(call.method, Method::Get);
        assert_eq!(
            call.url,
            "/users?$filter=mail%20eq%20'o''brien%2Bhr%231@contoso.com'&$select=id,userPrincipalName,mail&$top=5"
        );
        let proxy = only_call(m.on_response(TAG_MAIL, &answer(200, json!({"value": []}))));
        assert_eq!(
            proxy.url,
            "/users?$filter=proxyAddresses/any(p:p%20eq%20'smtp:o''brien%2Bhr%231@contoso.com')&$select=id,userPrincipalName,mail&$top=5"
        );
    }

    #[test]
    fn one_user_by_mail_resolves_to_its_id_and_upn() {
        let mut m = ResolveMail::new("ann.lee@contoso.com");
        m.start();
        let next = m.on_response(
            TAG_MAIL,
            &answer(200, users(&[("id-1", "annl@contoso.onmicrosoft.com")])),
        );
        assert_eq!(
            next,
            Next::Resolved(Resolved {
                id: "id-1".into(),
                upn: "annl@contoso.onmicrosoft.com".into()
            })
        );
    }

    #[test]
    fn a_proxy_address_resolves_when_no_mail_matches() {
        let mut m = ResolveMail::new("alias@contoso.com");
        m.start();
        m.on_response(TAG_MAIL, &answer(200, json!({"value": []})));
        let next = m.on_response(TAG_PROXY, &answer(200, users(&[("id-2", "b@contoso.com")])));
        assert!(matches!(next, Next::Resolved(Resolved { ref id, .. }) if id == "id-2"));
    }

    #[test]
    fn no_match_by_mail_or_proxy_is_not_found_saying_so() {
        let mut m = ResolveMail::new("gone@contoso.com");
        m.start();
        m.on_response(TAG_MAIL, &answer(200, json!({"value": []})));
        let o = done(m.on_response(TAG_PROXY, &answer(200, json!({"value": []}))));
        assert_eq!(o.status, Status::NotFound);
        assert!(
            o.message.contains("'gone@contoso.com' matched no user"),
            "{}",
            o.message
        );
    }

    #[test]
    fn several_matches_fail_naming_them_and_a_next_link_says_more() {
        let mut m = ResolveMail::new("shared@contoso.com");
        m.start();
        let o = done(m.on_response(
            TAG_MAIL,
            &answer(
                200,
                users(&[("1", "a@contoso.com"), ("2", "b@contoso.com")]),
            ),
        ));
        assert_eq!(o.status, Status::Failed);
        assert!(
            o.message
                .contains("mail of 2 users (a@contoso.com, b@contoso.com)"),
            "{}",
            o.message
        );
        let mut body = users(&[("1", "a@contoso.com")]);
        body["@odata.nextLink"] = json!("https://graph.microsoft.com/beta/users?$skiptoken=x");
        let mut m = ResolveMail::new("shared@contoso.com");
        m.start();
        let o = done(m.on_response(TAG_MAIL, &answer(200, body)));
        assert_eq!(o.status, Status::Failed);
        assert!(o.message.contains("more than 1 users"), "{}", o.message);
    }

    #[test]
    fn refusals_and_malformed_answers_fail_with_the_reason() {
        let mut m = ResolveMail::new("a@contoso.com");
        m.start();
        let o = done(m.on_response(
            TAG_MAIL,
            &answer(403, json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}})),
        ));
        assert_eq!((o.status, o.http_status), (Status::Failed, Some(403)));
        assert!(o.message.contains("User.Read.All"), "{}", o.message);
        for body in [
            json!({}),
            json!({"value": [{"id": "1"}]}),
            json!({"value": "x"}),
        ] {
            let mut m = ResolveMail::new("a@contoso.com");
            m.start();
            let o = done(m.on_response(TAG_MAIL, &answer(200, body)));
            assert_eq!(
                (o.status, o.error_code.as_str()),
                (Status::Failed, "MalformedResponse")
            );
        }
    }

    #[test]
    fn messages_escape_invisible_characters_of_the_address() {
        let mut m = ResolveMail::new("a\u{200b}b@contoso.com");
        m.start();
        m.on_response(TAG_MAIL, &answer(200, json!({"value": []})));
        let o = done(m.on_response(TAG_PROXY, &answer(200, json!({"value": []}))));
        assert!(
            o.message.contains("a\\u{200b}b@contoso.com"),
            "{}",
            o.message
        );
    }
}
