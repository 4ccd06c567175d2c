//! Protected accounts: the users no action may touch (`--exclude FILE`, `--exclude-user KEY`),
//! and the signed-in admin, whom a delegated run keeps out of the actions that would cut the
//! run off from its own account. Keys match by the project's one notion of "the same user"
//! (`input::same_user`: equal ignoring case); an excluded user is known by both its object id
//! and its UPN once read from the tenant (`exclusions::resolve`), so an exclusion written one
//! way protects a row written the other way. The scheduler asks [`Protected::refuses`] before
//! an action starts, and again once a mail row's user is found: nothing is sent for a refused
//! action, not even a read.

use std::collections::HashSet;

use crate::action::Action;
use crate::input::user_chars;

/// What a row excluded by `--exclude`/`--exclude-user` is recorded with (its status is
/// `skipped`; nothing is sent for it).
pub(crate) const EXCLUDED: &str =
    "excluded: a protected account (--exclude, --exclude-user); nothing was sent for it";

/// What a row of the signed-in admin is recorded with for an action it is kept out of.
pub(crate) const OWN_ACCOUNT: &str = "excluded: the admin this run is signed in as, kept out of disable, reset-methods and revoke-sessions because a change to its own sign-in can cut the run off (revoke-sessions voids the run's refresh token); pass --include-self to include it";

/// The actions the signed-in admin is kept out of: each could end the run's own sign-in.
pub(crate) const SELF_LOCKING: [Action; 3] = [
    Action::Disable,
    Action::ResetMethods,
    Action::RevokeSessions,
];

/// The protected users, each key as the characters `same_user` compares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Protected {
    excluded: HashSet<String>,
    own: HashSet<String>,
}

/// `key` folded as `same_user` folds it: two keys are the same user exactly when their folds
/// are equal, so a set of folds answers "is this one of them".
fn fold(key: &str) -> String {
    user_chars(key.trim()).collect()
}

impl Protected {
    /// `excluded`: keys of excluded users (object ids and UPNs, as many of each as known);
    /// `own`: the signed-in admin's keys, when the run keeps it out of self-locking actions.
    pub(crate) fn new<'a>(
        excluded: impl IntoIterator<Item = &'a str>,
        own: impl IntoIterator<Item = &'a str>,
    ) -> Protected {
        Protected {
            excluded: excluded.into_iter().map(fold).collect(),
            own: own.into_iter().map(fold).collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.excluded.is_empty() && self.own.is_empty()
    }

    /// Whether `key` names an excluded user (`--exclude`, `--exclude-user`), whatever the
    /// action.
    pub(crate) fn excludes(&self, key: &str) -> bool {
        !self.excluded.is_empty() && self.excluded.contains(&fold(key))
    }

    /// Why `action` must not run for the user known by `keys` (the row's key, and the id and
    /// UPN found for it when it was looked up), if it must not.
    pub(crate) fn refuses(&self, keys: &[&str], action: Action) -> Option<&'static str> {
        if self.is_empty() {
            return None;
        }
        if keys.iter().any(|k| self.excludes(k)) {
            Some(EXCLUDED)
        } else if SELF_LOCKING.contains(&action) && keys.iter().any(|k| self.own.contains(&fold(k)))
        {
            Some(OWN_ACCOUNT)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excluded_user_is_refused_every_action_by_any_of_its_keys_whatever_the_case() {
        let p = Protected::new(
            [
                "Break.Glass@Contoso.com",
                "5f1c7a52-3c1e-4b7e-9d0e-2f7a1b2c3d4e",
            ],
            [],
        );
        for action in [Action::Enforce, Action::Disable, Action::RevokeSessions] {
            assert_eq!(
                p.refuses(&["break.glass@contoso.com"], action),
                Some(EXCLUDED)
            );
            assert_eq!(
                p.refuses(&["5F1C7A52-3C1E-4B7E-9D0E-2F7A1B2C3D4E"], action),
                Some(EXCLUDED)
            );
        }
        assert_eq!(p.refuses(&["someone@contoso.com"], Action::Disable), None);
        // A mail row, once looked up: the id found is what matches.
        assert_eq!(
            p.refuses(
                &[
                    "bg@mail.contoso.com",
                    "5f1c7a52-3c1e-4b7e-9d0e-2f7a1b2c3d4e"
                ],
                Action::Enforce
            ),
            Some(EXCLUDED)
        );
        // A mail row not yet looked up has no key to match.
        assert_eq!(p.refuses(&[], Action::Enforce), None);
    }

    #[test]
    fn keys_match_as_same_user_does_beyond_ascii() {
        let p = Protected::new(["ÅSA@contoso.com"], []);
        assert!(p.excludes("åsa@contoso.com"));
        assert!(crate::input::same_user(
            "ÅSA@contoso.com",
            "åsa@contoso.com"
        ));
        assert!(!p.excludes("asa@contoso.com"));
    }

    #[test]
    fn the_signed_in_admin_is_kept_out_of_self_locking_actions_only() {
        let p = Protected::new(
            [],
            ["admin@contoso.com", "11111111-2222-3333-4444-555555555555"],
        );
        for action in SELF_LOCKING {
            assert_eq!(p.refuses(&["Admin@contoso.com"], action), Some(OWN_ACCOUNT));
            assert_eq!(
                p.refuses(&["11111111-2222-3333-4444-555555555555"], action),
                Some(OWN_ACCOUNT)
            );
        }
        for action in [Action::Enable, Action::Enforce] {
            assert_eq!(p.refuses(&["admin@contoso.com"], action), None);
        }
        assert!(!p.excludes("admin@contoso.com"));
        assert!(Protected::default().is_empty());
    }
}
