//! The per-action state machine interface: pure data in, pure data out. A machine asks for
//! calls, is fed the final answer to each (the scheduler has already retried throttling and
//! transient failures), and ends with an `Outcome`. No I/O, no clocks: unit-tested directly.

use serde_json::Value;

use crate::action::Action;
use crate::graph::{ApiVersion, GraphError, ItemResponse, Method};
use crate::journal::Status;

use super::inspect::Inspect;
use super::reset_methods::ResetMethods;
use super::resolve_mail::ResolveMail;
use super::revoke::Revoke;
use super::state_change::StateChange;

/// One Graph request a machine wants sent. `tag` lets the machine tell its answers apart
/// when it has several calls out at once.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call {
    pub(crate) tag: u32,
    pub(crate) version: ApiVersion,
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) body: Option<Value>,
}

/// How one (row, action) ended, as far as the machine knows.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    pub(crate) status: Status,
    pub(crate) before: String,
    pub(crate) after: String,
    pub(crate) http_status: Option<u16>,
    pub(crate) error_code: String,
    pub(crate) message: String,
    /// Whether this outcome changed the tenant (counts against --max-changes).
    pub(crate) changed: bool,
    /// Cells the record carries after the work item's own extra cells (an export's methods
    /// and default method).
    pub(crate) extra: Vec<String>,
}

/// What a machine wants next.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Next {
    Send(Vec<Call>),
    /// Calls are still out; nothing new.
    Wait,
    Done(Outcome),
    /// The row's mail address belongs to this user: run the action on it.
    Resolved(Resolved),
}

/// The user a mail address was found to belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The object id: the key the actions use.
    pub(crate) id: String,
    /// The UPN: what the results show.
    pub(crate) upn: String,
}

/// Settings that shape every machine.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MachineOptions {
    pub(crate) dry_run: bool,
    /// `--reset-scope all`: reset-methods also deletes FIDO2, Windows Hello, email, TAP and
    /// platform credentials.
    pub(crate) reset_all: bool,
    /// Signed in to the global cloud, where unassigning hardware OATH tokens is documented.
    pub(crate) global_cloud: bool,
}

/// A machine for one action on one user.
#[derive(Debug)]
pub(crate) enum Machine {
    State(StateChange),
    Reset(Box<ResetMethods>),
    Revoke(Revoke),
    /// Finds the user of a mail address before the row's first action (its answer is
    /// [`Next::Resolved`], or the action's outcome when no single user has the address).
    Resolve(ResolveMail),
    /// Reads one user for `export`.
    Inspect(Inspect),
}

impl Machine {
    pub(crate) fn new(action: Action, user: &str, options: MachineOptions) -> Machine {
        match (action, action.target_state()) {
            (Action::SetEnabled, Some(target)) => {
                Machine::State(StateChange::new(user, target, options).exact())
            }
            (_, Some(target)) => Machine::State(StateChange::new(user, target, options)),
            (Action::Export, _) => Machine::Inspect(Inspect::new(user)),
            (Action::ResetMethods, None) => {
                Machine::Reset(Box::new(ResetMethods::new(user, options)))
            }
            (_, None) => Machine::Revoke(Revoke::new(user, options)),
        }
    }

    /// The lookup of the user whose mail address is `mail`.
    pub(crate) fn resolve(mail: &str) -> Machine {
        Machine::Resolve(ResolveMail::new(mail))
    }

    pub(crate) fn start(&mut self) -> Next {
        match self {
            Machine::State(m) => m.start(),
            Machine::Reset(m) => m.start(),
            Machine::Revoke(m) => m.start(),
            Machine::Resolve(m) => m.start(),
            Machine::Inspect(m) => m.start(),
        }
    }

    /// The final answer to the call tagged `tag`.
    pub(crate) fn on_response(&mut self, tag: u32, response: &ItemResponse) -> Next {
        match self {
            Machine::State(m) => m.on_response(tag, response),
            Machine::Reset(m) => m.on_response(tag, response),
            Machine::Revoke(m) => m.on_response(tag, response),
            Machine::Resolve(m) => m.on_response(tag, response),
            Machine::Inspect(m) => m.on_response(tag, response),
        }
    }

    /// The scheduler gave up on the call tagged `tag` (too many transient failures; its last
    /// error said `message`): what happens next. The action fails with `failure`, unless the
    /// machine can still vouch for more (a write acknowledged before its read-back failed),
    /// and not before its other calls in flight are answered (deletes of a reset wave).
    pub(crate) fn give_up(&mut self, tag: u32, message: &str, failure: Outcome) -> Next {
        match self {
            Machine::State(m) => Next::Done(m.give_up(tag, message).unwrap_or_else(|| {
                // The first read's state is still the truth when the change did not land.
                let mut failure = failure;
                if failure.before.is_empty() {
                    failure.before = m.before_text();
                }
                failure
            })),
            Machine::Reset(m) => m.give_up(tag, failure),
            Machine::Revoke(_) | Machine::Resolve(_) | Machine::Inspect(_) => Next::Done(failure),
        }
    }

    /// The call tagged `tag` may or may not have taken effect (5xx, dropped connection):
    /// the call to send instead of a blind resend (a write re-reads first, so a user is never
    /// written twice).
    pub(crate) fn after_ambiguous(&mut self, tag: u32) -> Call {
        match self {
            Machine::State(m) => m.after_ambiguous(tag),
            Machine::Reset(m) => m.after_ambiguous(tag),
            Machine::Revoke(m) => m.after_ambiguous(tag),
            Machine::Resolve(m) => m.after_ambiguous(tag),
            Machine::Inspect(m) => m.after_ambiguous(tag),
        }
    }
}

/// Builds a failed outcome from an error answer, with the permission hint for a 403.
pub(crate) fn failure(response: &ItemResponse, permission: &str) -> Outcome {
    let err = response.error().unwrap_or_else(|| GraphError {
        code: String::new(),
        message: format!("unexpected status {}", response.status),
        ..GraphError::default()
    });
    let message = match response.status {
        403 => format!(
            "{} (the app needs the {permission} permission, with admin consent)",
            err.message
        ),
        _ => err.message,
    };
    Outcome {
        status: Status::Failed,
        http_status: Some(response.status),
        error_code: err.code,
        message,
        ..Outcome::default()
    }
}

/// The outcome for a user Graph does not know.
pub(crate) fn not_found(response: &ItemResponse) -> Outcome {
    let err = response.error().unwrap_or_default();
    Outcome {
        status: Status::NotFound,
        http_status: Some(response.status),
        error_code: err.code,
        message: if err.message.is_empty() {
            "user not found".into()
        } else {
            err.message
        },
        ..Outcome::default()
    }
}

/// A batch item's answer, for the machines' unit tests.
#[cfg(test)]
pub(crate) fn answer(status: u16, body: Value) -> ItemResponse {
    ItemResponse {
        id: "1".into(),
        status,
        retry_after: None,
        request_id: None,
        client_request_id: None,
        throttle_percentage: None,
        scope: crate::graph::ThrottleScope::Tenant,
        body,
    }
}
