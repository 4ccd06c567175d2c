//! The re-registration machine ("require users to register MFA again"): list the user's
//! methods (beta, so hardware OATH shows; every page, following `@odata.nextLink`), read the
//! default from `signInPreferences`, and delete what the scope covers through each type's own
//! endpoint, in an order Graph accepts: the others first (together), `alternateMobile` before
//! `mobile`, the default last, each wave only after the previous one answered
//! (docs/graph.md §2). Methods it does not delete — types without a documented delete here,
//! types it does not know, a hardware OATH token where unassigning is not documented — stay,
//! and the row's message names them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::graph::{ApiVersion, ItemResponse, Method, user_path};
use crate::journal::Status;

use super::machine::{Call, MachineOptions, Next, Outcome, failure, not_found};

const TAG_LIST: u32 = 0;
const TAG_PREFS: u32 = 1;
const TAG_MOVE_DEFAULT: u32 = 2;
const TAG_DELETE: u32 = 100;

const PERMISSION_READ: &str = "UserAuthenticationMethod.Read.All";
const PERMISSION_WRITE: &str = "UserAuthenticationMethod.ReadWrite.All";

/// Characters left as they are in a method id path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Pages of the methods list followed before the row fails (a list that never ends is a
/// broken answer, not a user's methods).
const MAX_LIST_PAGES: u32 = 100;

/// Why a listed method stays whatever the scope.
const NOT_DELETED_TYPE: &str = "the tool does not delete this type";
const HARDWARE_OATH_NOT_DOCUMENTED: &str = "Graph documents unassigning hardware OATH tokens only for a user addressed by object id in the global cloud";

/// One registered method, as the list showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Registered {
    /// What the results call it: `mobilePhone`, `microsoftAuthenticator`, `fido2`, …
    pub(crate) label: String,
    /// The per-type collection to delete it from (`phoneMethods`); None = not deletable.
    segment: Option<&'static str>,
    id: String,
    /// In the admin center's "require re-register" set.
    portal: bool,
    /// Why it is never deleted, for the row's message (None for the password, which every
    /// user has).
    kept_because: Option<&'static str>,
}

/// `text` safe for a one-line message: control characters escaped.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}');
            let shown: Vec<char> = if escape {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect()
}

/// Maps a listed method to its label, delete collection and scope. An entry without a
/// string `@odata.type` is an unknown type; without an id it cannot be addressed either way.
pub(crate) fn classify(item: &Value) -> Registered {
    let odata = item
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = odata.trim_start_matches("#microsoft.graph.");
    let (label, segment, portal): (String, Option<&'static str>, bool) = match kind {
        "passwordAuthenticationMethod" => ("password".into(), None, false),
        "phoneAuthenticationMethod" => {
            let label = match item.get("phoneType").and_then(Value::as_str) {
                Some("alternateMobile") => "alternateMobilePhone",
                Some("office") => "officePhone",
                _ => "mobilePhone",
            };
            (label.into(), Some("phoneMethods"), true)
        }
        "microsoftAuthenticatorAuthenticationMethod" => (
            "microsoftAuthenticator".into(),
            Some("microsoftAuthenticatorMethods"),
            true,
        ),
        "softwareOathAuthenticationMethod" => {
            ("softwareOath".into(), Some("softwareOathMethods"), true)
        }
        "hardwareOathAuthenticationMethod" => {
            ("hardwareOath".into(), Some("hardwareOathMethods"), true)
        }
        "fido2AuthenticationMethod" => ("fido2".into(), Some("fido2Methods"), false),
        "windowsHelloForBusinessAuthenticationMethod" => (
            "windowsHelloForBusiness".into(),
            Some("windowsHelloForBusinessMethods"),
            false,
        ),
        "emailAuthenticationMethod" => ("email".into(), Some("emailMethods"), false),
        "temporaryAccessPassAuthenticationMethod" => (
            "temporaryAccessPass".into(),
            Some("temporaryAccessPassMethods"),
            false,
        ),
        "platformCredentialAuthenticationMethod" => (
            "platformCredential".into(),
            Some("platformCredentialMethods"),
            false,
        ),
        "externalAuthenticationMethod" => ("externalAuthentication".into(), None, false),
        "qrCodePinAuthenticationMethod" => ("qrCodePin".into(), None, false),
        "passwordlessMicrosoftAuthenticatorAuthenticationMethod" => {
            ("passwordlessMicrosoftAuthenticator".into(), None, false)
        }
        "" => ("unknown method type".into(), None, false),
        other => (
            printable(other.trim_end_matches("AuthenticationMethod")),
            None,
            false,
        ),
    };
    let kept_because = (segment.is_none() && label != "password").then_some(NOT_DELETED_TYPE);
    Registered {
        label,
        segment: segment.filter(|_| !id.is_empty()),
        id,
        portal,
        kept_because,
    }
}

/// The method label a `userPreferredMethodForSecondaryAuthentication` value points at.
fn default_label(preference: &str, methods: &[Registered]) -> Option<&'static str> {
    let label = match preference {
        "push" => "microsoftAuthenticator",
        "oath" => {
            if methods.iter().any(|m| m.label == "softwareOath") {
                "softwareOath"
            } else {
                "hardwareOath"
            }
        }
        "sms" | "voiceMobile" => "mobilePhone",
        "voiceAlternateMobile" => "alternateMobilePhone",
        "voiceOffice" => "officePhone",
        _ => return None,
    };
    methods.iter().any(|m| m.label == label).then_some(label)
}

fn join(labels: impl Iterator<Item = String>) -> String {
    labels.collect::<Vec<_>>().join(";")
}

#[derive(Debug)]
pub(crate) struct ResetMethods {
    user_path: String,
    options: MachineOptions,
    /// Hardware OATH tokens are unassigned only where documented: the global cloud, and
    /// the user addressed by object id (docs/graph.md §2).
    unassign_hardware: bool,
    /// The page of the methods list to ask for next (relative to the version).
    list_url: String,
    list_pages: u32,
    /// Methods from the pages read so far.
    listed: Vec<Registered>,
    methods: Option<Vec<Registered>>,
    preference: Option<String>,
    /// Indexes into `methods` still registered.
    present: Vec<bool>,
    waves: Vec<Vec<usize>>,
    outstanding: usize,
    retried_default: bool,
    retry_next: Vec<usize>,
    error: Option<Outcome>,
}

impl ResetMethods {
    pub(crate) fn new(user: &str, options: MachineOptions) -> ResetMethods {
        let user_path = user_path(user);
        ResetMethods {
            list_url: format!("{user_path}/authentication/methods"),
            user_path,
            options,
            unassign_hardware: options.global_cloud && uuid::Uuid::parse_str(user.trim()).is_ok(),
            list_pages: 0,
            listed: Vec::new(),
            methods: None,
            preference: None,
            present: Vec::new(),
            waves: Vec::new(),
            outstanding: 0,
            retried_default: false,
            retry_next: Vec::new(),
            error: None,
        }
    }

    fn list(&self) -> Call {
        Call {
            tag: TAG_LIST,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: self.list_url.clone(),
            body: None,
        }
    }

    fn prefs(&self) -> Call {
        Call {
            tag: TAG_PREFS,
            version: ApiVersion::Beta,
            method: Method::Get,
            url: format!("{}/authentication/signInPreferences", self.user_path),
            body: None,
        }
    }

    fn move_default(&self) -> Call {
        Call {
            tag: TAG_MOVE_DEFAULT,
            version: ApiVersion::Beta,
            method: Method::Patch,
            url: format!("{}/authentication/signInPreferences", self.user_path),
            body: Some(json!({ "userPreferredMethodForSecondaryAuthentication": "sms" })),
        }
    }

    fn delete(&self, index: usize) -> Option<Call> {
        let m = self.methods.as_ref()?.get(index)?;
        Some(Call {
            tag: TAG_DELETE + index as u32,
            version: ApiVersion::Beta,
            method: Method::Delete,
            url: format!(
                "{}/authentication/{}/{}",
                self.user_path,
                m.segment?,
                utf8_percent_encode(&m.id, SEGMENT)
            ),
            body: None,
        })
    }

    pub(crate) fn start(&mut self) -> Next {
        self.outstanding = 2;
        Next::Send(vec![self.list(), self.prefs()])
    }

    fn in_scope(&self, m: &Registered) -> bool {
        m.segment.is_some() && (m.portal || self.options.reset_all)
    }

    fn labels_present(&self) -> String {
        let methods = self.methods.as_deref().unwrap_or_default();
        join(
            methods
                .iter()
                .zip(&self.present)
                .filter(|(m, p)| **p && m.label != "password")
                .map(|(m, _)| m.label.clone()),
        )
    }

    fn outcome(&self, status: Status, before: &str) -> Outcome {
        Outcome {
            status,
            before: before.to_string(),
            after: self.labels_present(),
            message: self.kept_note(),
            ..Outcome::default()
        }
    }

    /// Names the methods that stay whatever the scope, with the reason, or "".
    fn kept_note(&self) -> String {
        let mut by_reason: Vec<(&'static str, Vec<String>)> = Vec::new();
        for m in self.methods.as_deref().unwrap_or_default() {
            let Some(reason) = m.kept_because else {
                continue;
            };
            match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, labels)) => labels.push(m.label.clone()),
                None => by_reason.push((reason, vec![m.label.clone()])),
            }
        }
        by_reason
            .into_iter()
            .map(|(reason, labels)| format!("left in place: {} ({reason})", labels.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `message` with the kept-methods note after it.
    fn with_note(&self, message: String) -> String {
        match (message.is_empty(), self.kept_note()) {
            (_, note) if note.is_empty() => message,
            (true, note) => note,
            (false, note) => format!("{message}; {note}"),
        }
    }

    pub(crate) fn on_response(&mut self, tag: u32, r: &ItemResponse) -> Next {
        self.outstanding = self.outstanding.saturating_sub(1);
        match tag {
            TAG_LIST | TAG_PREFS => self.on_read(tag, r),
            TAG_MOVE_DEFAULT => {
                if !(200..300).contains(&r.status) {
                    return self.fail_now(r, PERMISSION_WRITE);
                }
                self.next_wave()
            }
            _ => self.on_delete((tag - TAG_DELETE) as usize, r),
        }
    }

    /// The scheduler gave up on the call tagged `tag` (too many transient failures; `failure`
    /// says why): the action fails, as with an error answer, once the calls still out are
    /// answered, so `after` counts the deletes that did go through.
    pub(crate) fn give_up(&mut self, tag: u32, mut failure: Outcome) -> Next {
        self.outstanding = self.outstanding.saturating_sub(1);
        if let Some(index) = tag.checked_sub(TAG_DELETE) {
            let label = self
                .methods
                .as_ref()
                .and_then(|m| m.get(index as usize))
                .map(|m| m.label.clone())
                .unwrap_or_default();
            failure.message = format!("could not remove {label}: {}", failure.message);
        }
        self.error.get_or_insert(failure);
        if self.outstanding > 0 {
            return Next::Wait;
        }
        let mut e = self.error.take().unwrap_or_default();
        e.before = self.before_labels();
        e.after = self.labels_present();
        e.changed = e.before != e.after;
        Next::Done(e)
    }

    fn fail_now(&mut self, r: &ItemResponse, permission: &str) -> Next {
        if r.status == 404 && self.methods.is_none() {
            return Next::Done(not_found(r));
        }
        let mut out = failure(r, permission);
        out.before = self.before_labels();
        out.after = self.labels_present();
        if self.outstanding > 0 {
            self.error.get_or_insert(out);
            return Next::Wait;
        }
        Next::Done(self.error.take().unwrap_or(out))
    }

    fn before_labels(&self) -> String {
        join(
            self.methods
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter(|m| m.label != "password")
                .map(|m| m.label.clone()),
        )
    }

    fn on_read(&mut self, tag: u32, r: &ItemResponse) -> Next {
        if !(200..300).contains(&r.status) {
            return self.fail_now(r, PERMISSION_READ);
        }
        if tag == TAG_LIST {
            let Some(items) = r.body.get("value").and_then(Value::as_array) else {
                let out = Outcome {
                    status: Status::Failed,
                    http_status: Some(r.status),
                    error_code: "UnexpectedResponse".into(),
                    message: "the methods list has no 'value' array".into(),
                    ..Outcome::default()
                };
                self.error.get_or_insert(out);
                return self.wait_or_error();
            };
            let unassign_hardware = self.unassign_hardware;
            self.listed.extend(items.iter().map(classify).map(|mut m| {
                if m.label == "hardwareOath" && !unassign_hardware {
                    m.segment = None;
                    m.kept_because = Some(HARDWARE_OATH_NOT_DOCUMENTED);
                }
                m
            }));
            self.list_pages += 1;
            // A list may come in pages: follow the whole next link (docs/graph.md §9.2).
            if let Some(link) = r.body.get("@odata.nextLink") {
                let next = link.as_str().and_then(relative_beta_url);
                let Some(next) = next.filter(|_| self.list_pages < MAX_LIST_PAGES) else {
                    let out = Outcome {
                        status: Status::Failed,
                        http_status: Some(r.status),
                        error_code: "UnexpectedResponse".into(),
                        message: format!(
                            "the methods list could not be read to its end (page {} links to {}); nothing was removed",
                            self.list_pages,
                            printable(&link.to_string())
                        ),
                        ..Outcome::default()
                    };
                    self.error.get_or_insert(out);
                    return self.wait_or_error();
                };
                self.list_url = next;
                self.outstanding += 1;
                return Next::Send(vec![self.list()]);
            }
            let methods = std::mem::take(&mut self.listed);
            self.present = vec![true; methods.len()];
            self.methods = Some(methods);
        } else {
            self.preference = Some(
                r.body
                    .get("userPreferredMethodForSecondaryAuthentication")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if self.outstanding > 0 {
            return Next::Wait;
        }
        if self.error.is_some() {
            return self.wait_or_error();
        }
        self.plan()
    }

    fn wait_or_error(&mut self) -> Next {
        if self.outstanding > 0 {
            return Next::Wait;
        }
        match self.error.take() {
            Some(e) => Next::Done(e),
            None => self.next_wave(),
        }
    }

    /// Both reads are in: decide what goes, in which waves.
    fn plan(&mut self) -> Next {
        let methods = self.methods.clone().unwrap_or_default();
        let before = self.before_labels();
        let doomed: Vec<usize> = (0..methods.len())
            .filter(|&i| self.in_scope(&methods[i]))
            .collect();
        if doomed.is_empty() {
            return Next::Done(Outcome {
                status: Status::Unchanged,
                before: before.clone(),
                after: before,
                message: self.kept_note(),
                ..Outcome::default()
            });
        }
        let preference = self.preference.clone().unwrap_or_default();
        let mut default = default_label(&preference, &methods);
        let staying: Vec<String> = methods
            .iter()
            .filter(|m| m.label != "password" && !self.in_scope(m))
            .map(|m| m.label.clone())
            .collect();
        if let Some(label) = default
            && doomed.iter().any(|&i| methods[i].label == label)
            && !staying.is_empty()
        {
            // Graph refuses to delete the default while other methods remain (docs/graph.md
            // §2); --reset-scope all helps only when every one that stays is out of scope.
            let scope_would_help = self.options.reset_all
                || methods
                    .iter()
                    .filter(|m| m.label != "password" && !self.in_scope(m))
                    .all(|m| m.kept_because.is_none());
            let advice = if scope_would_help && !self.options.reset_all {
                "Use --reset-scope all, or have the user change the default method first"
            } else {
                "Have the user change the default method first"
            };
            return Next::Done(Outcome {
                status: Status::Failed,
                before: before.clone(),
                after: before,
                error_code: "DefaultMethodWouldRemain".into(),
                message: self.with_note(format!(
                    "the default method ({label}) cannot be deleted while {} stay{}, and Graph cannot make those the default; nothing was removed. {advice}",
                    staying.join(", "),
                    if staying.len() == 1 { "s" } else { "" }
                )),
                ..Outcome::default()
            });
        }
        let after = join(staying.into_iter());
        if self.options.dry_run {
            let removed = join(doomed.iter().map(|&i| methods[i].label.clone()));
            return Next::Done(Outcome {
                status: Status::Planned,
                before,
                after,
                message: self.with_note(format!("would remove: {removed}")),
                ..Outcome::default()
            });
        }
        let has = |label: &str| doomed.iter().any(|&i| methods[i].label == label);
        // `alternateMobile` must go before `mobile`; when the alternate is also the default,
        // move the default to the mobile number first so the alternate can go early.
        let mut move_default = false;
        if default == Some("alternateMobilePhone") && has("mobilePhone") {
            move_default = true;
            default = Some("mobilePhone");
        }
        let hold_mobile = has("alternateMobilePhone");
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut last = Vec::new();
        for &i in &doomed {
            let label = methods[i].label.as_str();
            if Some(label) == default {
                last.push(i);
            } else if label == "mobilePhone" && hold_mobile {
                second.push(i);
            } else {
                first.push(i);
            }
        }
        self.waves = [last, second, first]
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect();
        if move_default {
            self.outstanding = 1;
            return Next::Send(vec![self.move_default()]);
        }
        self.next_wave()
    }

    /// Sends the next wave of deletes, or ends.
    fn next_wave(&mut self) -> Next {
        if self.outstanding > 0 {
            return Next::Wait;
        }
        let Some(wave) = self.waves.pop() else {
            let before = self.before_labels();
            let mut out = self.outcome(Status::Applied, &before);
            out.changed = true;
            out.http_status = Some(204);
            return Next::Done(out);
        };
        let calls: Vec<Call> = wave.iter().filter_map(|&i| self.delete(i)).collect();
        self.outstanding = calls.len();
        Next::Send(calls)
    }

    fn on_delete(&mut self, index: usize, r: &ItemResponse) -> Next {
        let gone = (200..300).contains(&r.status) || r.status == 404;
        if gone {
            if let Some(p) = self.present.get_mut(index) {
                *p = false;
            }
        } else {
            let about_default = r.status == 400
                && r.error().is_some_and(|e| {
                    e.code.eq_ignore_ascii_case("badRequest")
                        && e.message.to_ascii_lowercase().contains("default")
                });
            if about_default && !self.retried_default {
                // Graph refuses the default while others remain: once the rest are gone,
                // try it once more (docs/graph.md §2, "practical order").
                self.retried_default = true;
                self.retry_next.push(index);
            } else if self.error.is_none() {
                let mut out = failure(r, PERMISSION_WRITE);
                let label = self
                    .methods
                    .as_ref()
                    .and_then(|m| m.get(index))
                    .map(|m| m.label.clone())
                    .unwrap_or_default();
                out.message = format!("could not remove {label}: {}", out.message);
                self.error = Some(out);
            }
        }
        if self.outstanding > 0 {
            return Next::Wait;
        }
        if let Some(mut e) = self.error.take() {
            e.before = self.before_labels();
            e.after = self.labels_present();
            let removed = e.before != e.after;
            e.changed = removed;
            e.message = self.with_note(e.message);
            return Next::Done(e);
        }
        if !self.retry_next.is_empty() {
            // The retried default goes after every other wave.
            let retry = std::mem::take(&mut self.retry_next);
            self.waves.insert(0, retry);
        }
        self.next_wave()
    }

    /// The replacement for a call that may or may not have run; it stays counted as
    /// outstanding. A delete is sent again: if the first one ran, Graph answers 404 and the
    /// method counts as gone.
    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        match tag {
            TAG_LIST => self.list(),
            TAG_PREFS => self.prefs(),
            TAG_MOVE_DEFAULT => self.move_default(),
            _ => self
                .delete((tag - TAG_DELETE) as usize)
                .unwrap_or_else(|| self.list()),
        }
    }
}

/// The part of an `@odata.nextLink` to send inside a beta `$batch`: the path after its
/// `/beta` segment, with the query, whole (docs/graph.md §9.2: never rebuild the skip token).
/// None for a link that is not an absolute beta URL.
pub(crate) fn relative_beta_url(link: &str) -> Option<String> {
    let url = reqwest::Url::parse(link).ok()?;
    let path = url.path();
    let at = path.find("/beta/")?;
    let rest = &path[at + "/beta".len()..];
    Some(match url.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}

#[cfg(test)]
#[path = "reset_methods_tests.rs"]
mod tests;
