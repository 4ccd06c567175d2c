//! Signing in and building the Graph client for a run: the sandbox emulator, a static token
//! or client credentials; then the permission check against the token's claims, before any
//! change is sent.

use std::collections::BTreeSet;

use crate::action::Action;
use crate::config::{CheckSettings, Connection, SignIn};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::error::Error;
use crate::graph::{
    CertificateKey, Credential, DevicePrompt, GraphClient, TokenClaims, TokenSource,
};
use crate::selection::{Selection, USER_READ};

/// A signed-in client, and the sandbox emulator behind it when there is one (it serves for
/// as long as this value lives), with the file its state is kept in (`--sandbox-state`).
pub(crate) struct Connected {
    pub client: GraphClient,
    /// Which sign-in mode got the token and why it was chosen, e.g.
    /// `certificate (auto)`.
    pub signed_in_with: String,
    pub sandbox: Option<(EmulatorHandle, Option<std::path::PathBuf>)>,
}

impl Connected {
    /// Saves the sandbox tenant to its `--sandbox-state` file, if it has one.
    pub(crate) fn save_sandbox_state(&self) -> Result<(), Error> {
        if let Some((handle, Some(path))) = &self.sandbox {
            handle.save_state(path).map_err(|e| {
                Error::Other(format!(
                    "{}: cannot save the sandbox state: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }
}

/// The scope every token is asked for in the sandbox (the emulator models the global cloud).
const SANDBOX_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Signs in. An in-process sandbox without a tenant file is built with `sandbox_users` as its
/// users: keys (object ids, UPNs), or mail addresses when `sandbox_by_mail` (each then a
/// user reached only through a lookup).
pub(crate) async fn connect(
    connection: Connection,
    sandbox_users: &[String],
    sandbox_by_mail: bool,
) -> Result<Connected, Error> {
    connect_over(
        connection,
        sandbox_users,
        sandbox_by_mail,
        GraphClient::http_client(),
    )
    .await
}

/// [`connect`] over an HTTP client the caller made: a many-tenant run shares one client and
/// its connections among its tenants (each request carries its own tenant's token).
pub(crate) async fn connect_over(
    connection: Connection,
    sandbox_users: &[String],
    sandbox_by_mail: bool,
    http: reqwest::Client,
) -> Result<Connected, Error> {
    // An app sign-in without its tenant sends nothing (its tenant is named below).
    if let Some(e) = connection.sign_in.missing_tenant() {
        return Err(e);
    }
    // The resource a managed identity or the Azure CLI is asked for: the cloud's Graph.
    let resource = connection.scope.trim_end_matches("/.default").to_string();
    let chosen = connection.chosen;
    let (credential, graph_url, sandbox) = match connection.sign_in {
        SignIn::Sandbox { tenant, state } => {
            let kept = state.as_ref().filter(|p| p.exists());
            let config = match kept.or(tenant.as_ref()) {
                Some(path) => EmulatorConfig::from_tenant_file(path).map_err(|e| Error::File {
                    path: path.clone(),
                    message: e,
                })?,
                None if sandbox_by_mail => EmulatorConfig::with_users_mailed(sandbox_users, 1),
                None => EmulatorConfig::with_users_named(sandbox_users, 1),
            };
            let handle = Emulator::start(config)
                .await
                .map_err(|e| Error::Other(format!("cannot start the sandbox emulator: {e}")))?;
            let credential = Credential::ClientSecret {
                authority: handle.base_url(),
                tenant: handle.tenant_id(),
                client_id: handle.client_id(),
                secret: handle.client_secret().into(),
                scope: SANDBOX_SCOPE.to_string(),
            };
            (credential, handle.base_url(), Some((handle, state)))
        }
        SignIn::StaticToken(token) => (Credential::Static(token), connection.graph_url, None),
        SignIn::Certificate {
            tenant,
            client_id,
            path,
            password,
            algorithm,
        } => {
            let cert = CertificateKey::from_pem_file(&path, password.as_ref())
                .map_err(|e| Error::Auth(e.to_string()))?;
            (
                Credential::Certificate {
                    authority: connection.authority,
                    tenant: tenant.unwrap_or_default(),
                    client_id,
                    scope: connection.scope,
                    cert,
                    algorithm,
                },
                connection.graph_url,
                None,
            )
        }
        SignIn::DeviceCode { tenant, client_id } => (
            Credential::DeviceCode {
                authority: connection.authority,
                tenant,
                client_id,
                scopes: vec![connection.scope, "offline_access".to_string()],
                prompt: DevicePrompt::stderr(),
            },
            connection.graph_url,
            None,
        ),
        SignIn::WorkloadIdentity {
            tenant,
            client_id,
            token_file,
        } => (
            Credential::Federated {
                authority: connection.authority,
                tenant: tenant.unwrap_or_default(),
                client_id,
                scope: connection.scope,
                token_file,
            },
            connection.graph_url,
            None,
        ),
        SignIn::ManagedIdentity {
            endpoint,
            client_id,
        } => (
            Credential::ManagedIdentity {
                endpoint,
                resource,
                client_id,
            },
            connection.graph_url,
            None,
        ),
        SignIn::AzureCli { tenant } => (
            Credential::AzureCli { resource, tenant },
            connection.graph_url,
            None,
        ),
        SignIn::ClientSecret {
            tenant,
            client_id,
            secret,
        } => (
            Credential::ClientSecret {
                authority: connection.authority,
                tenant: tenant.unwrap_or_default(),
                client_id,
                secret,
                scope: connection.scope,
            },
            connection.graph_url,
            None,
        ),
    };
    let tokens = TokenSource::new(credential, http.clone());
    tokens
        .token()
        .await
        .map_err(|e| Error::Auth(format!("{chosen}: {e}")))?;
    Ok(Connected {
        client: GraphClient::new(&graph_url, tokens, http),
        signed_in_with: chosen,
        sandbox,
    })
}

/// What an action needs: each entry is one requirement, any permission in it enough (least
/// privileged first).
fn accepted(action: Action, dry_run: bool) -> &'static [&'static [&'static str]] {
    match (action, dry_run) {
        (Action::Enable | Action::SetEnabled | Action::Enforce | Action::Disable, false) => {
            &[&["Policy.ReadWrite.AuthenticationMethod"]]
        }
        (Action::Enable | Action::SetEnabled | Action::Enforce | Action::Disable, true) => {
            &[&["Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"]]
        }
        (Action::ResetMethods, false) => &[&["UserAuthenticationMethod.ReadWrite.All"]],
        (Action::ResetMethods, true) => &[&[
            "UserAuthenticationMethod.Read.All",
            "UserAuthenticationMethod.ReadWrite.All",
        ]],
        // The list of users (docs/graph.md §9.2), then each one's state, methods and default
        // method (§1, §2).
        (Action::Export, _) => &[
            USER_READ,
            &["Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"],
            &[
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ],
        // The guest check reads userType before any revocation (docs/graph.md §3, §9.1).
        (Action::RevokeSessions, _) => &[
            &[
                "User.RevokeSessions.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            USER_READ,
        ],
    }
}

/// Permissions that let a mail column's addresses be looked up (`GET /users` with
/// `$filter`, docs/graph.md §9.1 and §9.3), any one enough, least privileged first.
/// `User.ReadBasic.All` is not among them: whether an application permission of that name
/// exists is unconfirmed (§9.1).
pub(crate) const MAIL_LOOKUP: &[&str] = USER_READ;

/// What a permission is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Action(Action),
    /// Finding the users of a mail column.
    MailLookup,
    /// Resolving a selection (`--all-users`, `--filter`, `--group`) into users.
    Selection(SelectionKind),
}

/// The kinds of selection, as `check` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectionKind {
    /// `--all-users` or `--filter` (and `export`'s list of every user).
    Users,
    /// `--group`.
    Groups,
}

impl SelectionKind {
    fn of(selection: &Selection) -> SelectionKind {
        match selection {
            Selection::Users { .. } => SelectionKind::Users,
            Selection::Groups(_) => SelectionKind::Groups,
        }
    }

    /// A selection of this kind, for its permissions.
    fn example(self) -> Selection {
        match self {
            SelectionKind::Users => Selection::Users {
                guests: true,
                filter: None,
            },
            SelectionKind::Groups => Selection::Groups(Vec::new()),
        }
    }

    /// The flags, as `check` shows them.
    fn flags(self) -> &'static str {
        match self {
            SelectionKind::Users => "--all-users/--filter",
            SelectionKind::Groups => "--group",
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Purpose::Action(a) => write!(f, "{a}"),
            Purpose::MailLookup => f.write_str("mail lookup"),
            Purpose::Selection(kind) => f.write_str(kind.flags()),
        }
    }
}

/// One permission need (an action's, or the mail lookup's) against a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need {
    pub purpose: Purpose,
    /// Any one of these is enough (least privileged first).
    pub accepted: &'static [&'static str],
    /// The one the token has, if any.
    pub granted: Option<String>,
}

/// What each action needs (an action with several requirements gives several needs), and
/// the mail lookup when `mail_lookup` (the user column holds mail addresses), against what the
/// claims grant (`roles` for application tokens, `scp` for delegated ones).
#[must_use]
pub(crate) fn needs(
    claims: &TokenClaims,
    actions: &BTreeSet<Action>,
    dry_run: bool,
    mail_lookup: bool,
) -> Vec<Need> {
    let need = |purpose: Purpose, accepted: &'static [&'static str]| Need {
        purpose,
        accepted,
        granted: granted(claims, accepted),
    };
    let lookup = mail_lookup.then(|| need(Purpose::MailLookup, MAIL_LOOKUP));
    lookup
        .into_iter()
        .chain(actions.iter().flat_map(|&action| {
            accepted(action, dry_run)
                .iter()
                .map(move |&accepted| need(Purpose::Action(action), accepted))
        }))
        .collect()
}

fn missing_message(needs: &[Need]) -> Option<String> {
    let mut missing: Vec<String> = needs
        .iter()
        .filter(|n| n.granted.is_none())
        .map(|n| format!("{} (for {})", n.accepted[0], n.purpose))
        .collect();
    missing.dedup();
    (!missing.is_empty()).then(|| {
        format!(
            "the token lacks permissions this run needs: {}; grant them to the app registration and give admin consent, then run again",
            missing.join(", ")
        )
    })
}

/// What a selection needs (docs/graph.md §9.2, §9.4), against what the claims grant.
#[must_use]
pub(crate) fn selection_needs(claims: &TokenClaims, selection: &Selection) -> Vec<Need> {
    let purpose = Purpose::Selection(SelectionKind::of(selection));
    selection
        .permissions()
        .iter()
        .map(|&accepted| Need {
            purpose,
            accepted,
            granted: granted(claims, accepted),
        })
        .collect()
}

/// The permission of `accepted` the claims grant, if any.
fn granted(claims: &TokenClaims, accepted: &[&str]) -> Option<String> {
    accepted.iter().find_map(|p| {
        claims
            .roles
            .iter()
            .chain(&claims.scopes)
            .find(|have| have.eq_ignore_ascii_case(p))
            .cloned()
    })
}

/// Refuses (exit 3), before anything is listed, when the token plainly lacks a permission
/// the selection needs. An opaque token is not judged: Graph will say.
pub(crate) async fn check_selection_permissions(
    client: &GraphClient,
    selection: &Selection,
) -> Result<(), Error> {
    let Ok(claims) = client.tokens().claims().await else {
        return Ok(());
    };
    if claims.roles.is_empty() && claims.scopes.is_empty() {
        return Ok(());
    }
    match missing_message(&selection_needs(&claims, selection)) {
        Some(m) => Err(Error::Auth(m)),
        None => Ok(()),
    }
}

/// Refuses (exit 3) when the token plainly lacks a permission the actions need. A token
/// without `roles`/`scp` claims (opaque) is not judged: Graph will say.
pub(crate) async fn check_permissions(
    client: &GraphClient,
    actions: &BTreeSet<Action>,
    dry_run: bool,
    mail_lookup: bool,
) -> Result<(), Error> {
    let Ok(claims) = client.tokens().claims().await else {
        return Ok(());
    };
    if claims.roles.is_empty() && claims.scopes.is_empty() {
        return Ok(());
    }
    match missing_message(&needs(&claims, actions, dry_run, mail_lookup)) {
        Some(m) => Err(Error::Auth(m)),
        None => Ok(()),
    }
}

/// `check`: sign in, print the identity and the permission table; exit 3 when one is missing.
pub(crate) fn check(settings: CheckSettings) -> Result<crate::error::Completion, Error> {
    let CheckSettings {
        input,
        connection,
        output,
    } = settings;
    // The mail lookup is a need only for an input with a mail column; without an input it
    // is shown, not required.
    let (actions, mail_lookup): (BTreeSet<Action>, Option<bool>) = match &input {
        Some((path, options)) => {
            let loaded = crate::input::load(path, options)?;
            if loaded.tenant_column.is_some() {
                // A tenant column: every tenant it names is checked on its own.
                return crate::rollout::check_tenants(loaded, &connection, &output);
            }
            let actions = loaded
                .jobs
                .iter()
                .flat_map(|j| j.actions.iter().copied())
                .collect();
            (
                actions,
                Some(loaded.user_kind == crate::input::UserKind::Mail),
            )
        }
        // Without an input: every action, and export's reads.
        None => (
            Action::ALL.into_iter().chain([Action::Export]).collect(),
            None,
        ),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let (claims, signed_in_with) = runtime.block_on(async {
        let connected = connect(connection, &[], false).await?;
        let claims = connected
            .client
            .tokens()
            .claims()
            .await
            .map_err(|e| Error::Auth(e.to_string()))?;
        Ok::<_, Error>((claims, connected.signed_in_with))
    })?;
    let mut needs = needs(&claims, &actions, false, mail_lookup != Some(false));
    // What each selection needs: shown, required only of the runs that select.
    if input.is_none() {
        for kind in [SelectionKind::Users, SelectionKind::Groups] {
            needs.extend(selection_needs(&claims, &kind.example()));
        }
    }
    let required: Vec<Need> = needs
        .iter()
        .filter(|n| match n.purpose {
            Purpose::MailLookup => mail_lookup.is_some(),
            Purpose::Selection(_) => false,
            Purpose::Action(_) => true,
        })
        .cloned()
        .collect();
    let kind = if claims.roles.is_empty() && !claims.scopes.is_empty() {
        "delegated (scp)"
    } else {
        "application (roles)"
    };
    if output.json {
        let rows: Vec<serde_json::Value> = needs
            .iter()
            .map(|n| match n.purpose {
                Purpose::Action(action) => serde_json::json!({
                    "action": action.as_str(),
                    "needs_one_of": n.accepted,
                    "granted": n.granted,
                }),
                Purpose::MailLookup => serde_json::json!({
                    "lookup": "mail",
                    "needs_one_of": n.accepted,
                    "granted": n.granted,
                    "required": mail_lookup.is_some(),
                }),
                Purpose::Selection(kind) => serde_json::json!({
                    "selection": kind.flags(),
                    "needs_one_of": n.accepted,
                    "granted": n.granted,
                    "required": false,
                }),
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "tenant": claims.tenant_id,
                "app": claims.app_id,
                "token": kind,
                "sign_in": signed_in_with,
                "permissions": rows,
            })
        );
    } else if !output.quiet {
        println!(
            "signed in: tenant {}, app {}, {kind} token, with {signed_in_with}",
            claims.tenant_id.as_deref().unwrap_or("?"),
            claims.app_id.as_deref().unwrap_or("?")
        );
        for n in &needs {
            let state = match (&n.granted, n.purpose, mail_lookup) {
                (Some(p), ..) => format!("ok ({p})"),
                (None, Purpose::MailLookup, None) => "missing (needed for a mail column)".into(),
                (None, Purpose::Selection(kind), _) => {
                    format!("missing (needed for {})", kind.flags())
                }
                (None, ..) => "MISSING".to_string(),
            };
            println!(
                "  {:<16} needs {:<45} {state}",
                n.purpose.to_string(),
                n.accepted.join(" or ")
            );
        }
    }
    match missing_message(&required) {
        Some(m) => Err(Error::Auth(m)),
        None => Ok(crate::error::Completion::AllGood),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(roles: &[&str]) -> TokenClaims {
        TokenClaims {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scopes: Vec::new(),
            expires_at: None,
            app_id: None,
            tenant_id: None,
            object_id: None,
            user_name: None,
        }
    }

    #[test]
    fn revoke_sessions_needs_a_user_read_permission_besides_the_revoke_one() {
        let actions: BTreeSet<Action> = [Action::RevokeSessions].into_iter().collect();
        let only_revoke = needs(
            &claims(&["User.RevokeSessions.All"]),
            &actions,
            false,
            false,
        );
        assert_eq!(only_revoke.len(), 2);
        let message = missing_message(&only_revoke).expect("something is missing");
        assert!(
            message.contains("User.Read.All (for revoke-sessions)"),
            "{message}"
        );
        for read in [
            "User.Read.All",
            "Directory.Read.All",
            "directory.readwrite.all",
        ] {
            let n = needs(
                &claims(&["User.RevokeSessions.All", read]),
                &actions,
                true,
                false,
            );
            assert_eq!(missing_message(&n), None, "{read}");
        }
        // User.ReadBasic.All does not read userType.
        let basic = needs(
            &claims(&["User.RevokeSessions.All", "User.ReadBasic.All"]),
            &actions,
            false,
            false,
        );
        assert!(missing_message(&basic).is_some());
    }

    #[test]
    fn a_mail_column_needs_a_user_read_permission_whatever_the_actions() {
        let actions: BTreeSet<Action> = [Action::Enforce].into_iter().collect();
        let policy = claims(&["Policy.ReadWrite.AuthenticationMethod"]);
        assert_eq!(
            missing_message(&needs(&policy, &actions, false, false)),
            None
        );
        let message = missing_message(&needs(&policy, &actions, false, true))
            .expect("the lookup's permission is missing");
        assert!(
            message.contains("User.Read.All (for mail lookup)"),
            "{message}"
        );
        let read = claims(&[
            "Policy.ReadWrite.AuthenticationMethod",
            "Directory.Read.All",
        ]);
        assert_eq!(missing_message(&needs(&read, &actions, false, true)), None);
        let basic = claims(&[
            "Policy.ReadWrite.AuthenticationMethod",
            "User.ReadBasic.All",
        ]);
        assert!(missing_message(&needs(&basic, &actions, false, true)).is_some());
    }
}
