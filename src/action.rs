//! The actions a row can ask for, their spellings and aliases, and what each needs from
//! Microsoft Graph (calls and permissions). Pure data: no I/O here.

use std::fmt;

/// One thing to do to one user. The order of the variants is the order in which a combined
/// cell (`disable+reset-methods+revoke-sessions`) runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Enable,
    /// `set-enabled`: exactly `enabled`, even for an enforced user (what `rollback` writes to
    /// restore an enabled user; plain `enable` leaves enforced users alone).
    SetEnabled,
    Enforce,
    Disable,
    ResetMethods,
    RevokeSessions,
    /// `export`'s read of one user (per-user MFA state, methods, default method): never
    /// written in an input file (not parsed, not in `ALL`), and it writes nothing.
    Export,
}

/// Why an action cell was refused. The message is one line a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionParseError {
    #[error("empty action")]
    Empty,
    #[error(
        "unknown action '{0}' (expected enable, enforce, disable, reset-methods, require-reregister or revoke-sessions; join several with '+')"
    )]
    Unknown(String),
    #[error(
        "'delete-app-passwords' cannot be done through Microsoft Graph: no API exists for app passwords. Use the Entra admin center (per-user MFA > user settings > delete all existing app passwords), or block legacy authentication with a Conditional Access policy so existing app passwords stop working"
    )]
    AppPasswords,
    #[error("'{0}' appears twice in one cell")]
    Repeated(&'static str),
    #[error("'{0}' and '{1}' set conflicting MFA states in one cell")]
    ConflictingStates(&'static str, &'static str),
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Enable,
        Action::SetEnabled,
        Action::Enforce,
        Action::Disable,
        Action::ResetMethods,
        Action::RevokeSessions,
    ];

    /// The canonical spelling, used in the results file and reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enable => "enable",
            Action::SetEnabled => "set-enabled",
            Action::Enforce => "enforce",
            Action::Disable => "disable",
            Action::ResetMethods => "reset-methods",
            Action::RevokeSessions => "revoke-sessions",
            Action::Export => "export",
        }
    }

    /// Parses one action name, case-insensitively, with aliases.
    pub fn parse_one(text: &str) -> Result<Action, ActionParseError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ActionParseError::Empty);
        }
        let lower = t.to_ascii_lowercase().replace('_', "-");
        Ok(match lower.as_str() {
            "enable" | "enabled" => Action::Enable,
            "set-enabled" => Action::SetEnabled,
            "enforce" | "enforced" => Action::Enforce,
            "disable" | "disabled" => Action::Disable,
            "reset-methods" | "require-reregister" | "require-re-register" => Action::ResetMethods,
            "revoke-sessions" | "revoke-session" => Action::RevokeSessions,
            "delete-app-passwords" | "delete-app-password" => {
                return Err(ActionParseError::AppPasswords);
            }
            _ => return Err(ActionParseError::Unknown(t.to_string())),
        })
    }

    /// Parses a cell such as `disable+reset-methods+revoke-sessions`. The result is sorted into
    /// execution order (state change, then method reset, then session revocation).
    pub fn parse_combo(cell: &str) -> Result<Vec<Action>, ActionParseError> {
        let mut out: Vec<Action> = Vec::new();
        for part in cell.split('+') {
            let a = Action::parse_one(part)?;
            if out.contains(&a) {
                return Err(ActionParseError::Repeated(a.as_str()));
            }
            if let Some(prev) = out.iter().find(|p| p.target_state().is_some())
                && a.target_state().is_some()
            {
                return Err(ActionParseError::ConflictingStates(
                    prev.as_str(),
                    a.as_str(),
                ));
            }
            out.push(a);
        }
        out.sort();
        Ok(out)
    }

    /// The per-user MFA state this action sets, if it is a state action.
    #[must_use]
    pub fn target_state(self) -> Option<MfaState> {
        match self {
            Action::Enable | Action::SetEnabled => Some(MfaState::Enabled),
            Action::Enforce => Some(MfaState::Enforced),
            Action::Disable => Some(MfaState::Disabled),
            Action::ResetMethods | Action::RevokeSessions | Action::Export => None,
        }
    }

    /// The application permissions (least privileged) this action needs.
    #[must_use]
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Action::Enable | Action::SetEnabled | Action::Enforce | Action::Disable => {
                &["Policy.ReadWrite.AuthenticationMethod"]
            }
            Action::ResetMethods => &["UserAuthenticationMethod.ReadWrite.All"],
            Action::RevokeSessions => &["User.RevokeSessions.All"],
            Action::Export => &[
                "User.Read.All",
                "Policy.Read.All",
                "UserAuthenticationMethod.Read.All",
            ],
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Joins actions the way an input cell spells them (`disable+revoke-sessions`).
#[must_use]
pub(crate) fn combo_string(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// A user's per-user MFA state as Graph reports it. Graph documents `unknownFutureValue` and
/// may add values, so anything else is kept verbatim rather than rejected.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MfaState {
    Disabled,
    Enabled,
    Enforced,
    Unknown(String),
}

impl MfaState {
    #[must_use]
    pub fn parse(text: &str) -> MfaState {
        match text {
            "disabled" => MfaState::Disabled,
            "enabled" => MfaState::Enabled,
            "enforced" => MfaState::Enforced,
            other => MfaState::Unknown(other.to_string()),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            MfaState::Disabled => "disabled",
            MfaState::Enabled => "enabled",
            MfaState::Enforced => "enforced",
            MfaState::Unknown(s) => s,
        }
    }
}

impl fmt::Display for MfaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combo_runs_state_then_reset_then_revoke_whatever_the_written_order() {
        let got = Action::parse_combo("Revoke-Sessions + DISABLE+require-reregister").unwrap();
        assert_eq!(
            got,
            vec![
                Action::Disable,
                Action::ResetMethods,
                Action::RevokeSessions
            ]
        );
    }

    #[test]
    fn two_states_in_one_cell_are_refused() {
        assert_eq!(
            Action::parse_combo("enable+disable"),
            Err(ActionParseError::ConflictingStates("enable", "disable"))
        );
    }

    #[test]
    fn app_passwords_are_refused_with_the_explanation() {
        let err = Action::parse_combo("disable+delete-app-passwords").unwrap_err();
        assert!(err.to_string().contains("no API exists for app passwords"));
    }

    #[test]
    fn unknown_future_states_are_kept_verbatim() {
        assert_eq!(
            MfaState::parse("unknownFutureValue").as_str(),
            "unknownFutureValue"
        );
    }
}
