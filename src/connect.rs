//! Signing in and building the Graph client for a run: the sandbox emulator, a static token
//! or client credentials; then the permission check against the token's claims, before any
//! change is sent.

use std::collections::BTreeSet;

use crate::action::Action;
use crate::config::{Connection, SignIn};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::error::Error;
use crate::graph::{Credential, GraphClient, TokenSource};

/// A signed-in client, and the sandbox emulator behind it when there is one (it serves for
/// as long as this value lives).
pub struct Connected {
    pub client: GraphClient,
    pub sandbox: Option<EmulatorHandle>,
}

/// The scope every token is asked for in the sandbox (the emulator models the global cloud).
const SANDBOX_SCOPE: &str = "https://graph.microsoft.com/.default";

pub async fn connect(connection: Connection, sandbox_users: &[String]) -> Result<Connected, Error> {
    let http = GraphClient::http_client();
    let (credential, graph_url, sandbox) = match connection.sign_in {
        SignIn::Sandbox { tenant } => {
            let config = match tenant {
                Some(path) => EmulatorConfig::from_tenant_file(&path).map_err(|e| Error::File {
                    path: path.clone(),
                    message: e,
                })?,
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
            (credential, handle.base_url(), Some(handle))
        }
        SignIn::StaticToken(token) => (Credential::Static(token), connection.graph_url, None),
        SignIn::ClientSecret {
            tenant,
            client_id,
            secret,
        } => (
            Credential::ClientSecret {
                authority: connection.authority,
                tenant,
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
        .map_err(|e| Error::Auth(e.to_string()))?;
    Ok(Connected {
        client: GraphClient::new(&graph_url, tokens, http),
        sandbox,
    })
}

/// Permissions that satisfy an action, any one of them enough (least privileged first).
fn accepted(action: Action, dry_run: bool) -> &'static [&'static str] {
    match (action, dry_run) {
        (Action::Enable | Action::Enforce | Action::Disable, false) => {
            &["Policy.ReadWrite.AuthenticationMethod"]
        }
        (Action::Enable | Action::Enforce | Action::Disable, true) => {
            &["Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"]
        }
        (Action::ResetMethods, false) => &["UserAuthenticationMethod.ReadWrite.All"],
        (Action::ResetMethods, true) => &[
            "UserAuthenticationMethod.Read.All",
            "UserAuthenticationMethod.ReadWrite.All",
        ],
        (Action::RevokeSessions, _) => &[
            "User.RevokeSessions.All",
            "User.ReadWrite.All",
            "Directory.ReadWrite.All",
        ],
    }
}

/// Refuses (exit 3) when the token plainly lacks a permission the actions need. A token
/// without `roles`/`scp` claims (opaque) is not judged: Graph will say.
pub async fn check_permissions(
    client: &GraphClient,
    actions: &BTreeSet<Action>,
    dry_run: bool,
) -> Result<(), Error> {
    let Ok(claims) = client.tokens().claims().await else {
        return Ok(());
    };
    if claims.roles.is_empty() && claims.scopes.is_empty() {
        return Ok(());
    }
    let has = |p: &str| {
        claims.roles.iter().any(|r| r.eq_ignore_ascii_case(p))
            || claims.scopes.iter().any(|s| s.eq_ignore_ascii_case(p))
    };
    let mut missing = Vec::new();
    for &action in actions {
        let options = accepted(action, dry_run);
        if !options.iter().any(|p| has(p)) {
            missing.push(format!("{} (for {action})", options[0]));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    missing.dedup();
    Err(Error::Auth(format!(
        "the token lacks permissions this run needs: {}; grant them to the app registration and give admin consent, then run again",
        missing.join(", ")
    )))
}
