//! `check INPUT` for an input with a tenant column (issue 20, docs/graph.md §14): the
//! preflight of a many-tenant run. Every tenant the rows name is signed in to as the run
//! would (the one app and credential against that tenant's token endpoint, all at once), and
//! its token's permissions are compared with what that tenant's rows need. One line per
//! tenant says whether it is ready, and why not; the exit code is 0 only when every tenant
//! is (3 otherwise: a sign-in or permission failure), so a script can gate the run on it.
//! Nothing is read from or written to any directory.

use std::collections::BTreeSet;
use std::collections::HashMap;

use super::tenants::{Task, for_tenant, join_all, prepare_input};
use crate::action::Action;
use crate::config::{Connection, Output};
use crate::connect::{self, Need};
use crate::error::{Completion, Error};
use crate::input::{LoadedInput, UserKind};

/// One tenant's rows' needs.
struct TenantNeeds {
    tenant: String,
    actions: BTreeSet<Action>,
}

/// What signing in to one tenant found.
struct Readiness {
    /// `tid`, `appid` of the token and the sign-in mode.
    tenant_id: Option<String>,
    app_id: Option<String>,
    signed_in_with: String,
    /// The needs the token does not meet; empty when ready. A token without `roles` or `scp`
    /// (opaque) is not judged, as a run does not judge it: Graph will say.
    missing: Vec<Need>,
}

/// Signs in to every tenant of `loaded` and prints each one's readiness.
pub(crate) fn check(
    mut loaded: LoadedInput,
    connection: &Connection,
    output: &Output,
) -> Result<Completion, Error> {
    prepare_input(&mut loaded, connection)?;
    let mail_lookup = loaded.user_kind == UserKind::Mail;
    let mut tenants: Vec<TenantNeeds> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Invalid rows name a tenant too: it is checked, for the run after the rows are fixed.
    let cells = loaded
        .jobs
        .iter()
        .map(|j| (j.keep.first(), j.actions.as_slice()))
        .chain(loaded.invalid.iter().map(|p| (p.keep.first(), &[][..])));
    for (cell, actions) in cells {
        let tenant = cell.cloned().unwrap_or_default();
        let i = *index.entry(tenant.clone()).or_insert_with(|| {
            tenants.push(TenantNeeds {
                tenant,
                actions: BTreeSet::new(),
            });
            tenants.len() - 1
        });
        tenants[i].actions.extend(actions.iter().copied());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let sign_ins: Vec<Task<'_, Result<Readiness, String>>> = tenants
        .iter()
        .map(|t| {
            let c = for_tenant(connection, &t.tenant);
            Box::pin(async move {
                let connected = connect::connect(c?, &[], false)
                    .await
                    .map_err(|e| format!("not signed in: {e}"))?;
                let claims = connected
                    .client
                    .tokens()
                    .claims()
                    .await
                    .map_err(|e| format!("not signed in: {e}"))?;
                let judged = !(claims.roles.is_empty() && claims.scopes.is_empty());
                let missing = connect::needs(&claims, &t.actions, false, mail_lookup)
                    .into_iter()
                    .filter(|n| judged && n.granted.is_none())
                    .collect();
                Ok(Readiness {
                    tenant_id: claims.tenant_id,
                    app_id: claims.app_id,
                    signed_in_with: connected.signed_in_with,
                    missing,
                })
            }) as Task<'_, _>
        })
        .collect();
    let found = runtime.block_on(join_all(sign_ins));
    let why_not = |r: &Result<Readiness, String>| verdict(r).err();
    if output.json {
        let lines: Vec<serde_json::Value> = tenants
            .iter()
            .zip(&found)
            .map(|(t, r)| {
                let ok = r.as_ref().ok();
                serde_json::json!({
                    "tenant": t.tenant,
                    "ready": why_not(r).is_none(),
                    "tenant_id": ok.and_then(|r| r.tenant_id.clone()),
                    "app": ok.and_then(|r| r.app_id.clone()),
                    "sign_in": ok.map(|r| r.signed_in_with.clone()),
                    "missing": ok.map(|r| r.missing.iter().map(|n| serde_json::json!({
                        "needs_one_of": n.accepted,
                        "for": n.purpose.to_string(),
                    })).collect::<Vec<_>>()),
                    "reason": why_not(r),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "tenants": lines }));
    } else if !output.quiet {
        let width = tenants.iter().map(|t| t.tenant.len()).max().unwrap_or(0);
        for (t, r) in tenants.iter().zip(&found) {
            let state = match verdict(r) {
                Ok(r) => format!(
                    "ready (tenant {}, app {}, with {})",
                    r.tenant_id.as_deref().unwrap_or("?"),
                    r.app_id.as_deref().unwrap_or("?"),
                    r.signed_in_with
                ),
                Err(why) => format!("NOT READY: {why}"),
            };
            println!("tenant {:<width$}  {state}", t.tenant);
        }
    }
    let not_ready: Vec<String> = tenants
        .iter()
        .zip(&found)
        .filter(|(_, r)| why_not(r).is_some())
        .map(|(t, _)| t.tenant.clone())
        .collect();
    if not_ready.is_empty() {
        return Ok(Completion::AllGood);
    }
    Err(Error::Auth(format!(
        "{} of {} tenants not ready: {}; consent to the app in each (with the permissions it lacks), then check again",
        not_ready.len(),
        tenants.len(),
        not_ready.join(", ")
    )))
}

/// A tenant that is ready, or why it is not.
fn verdict(r: &Result<Readiness, String>) -> Result<&Readiness, String> {
    match r {
        Ok(r) if r.missing.is_empty() => Ok(r),
        Ok(r) => Err(format!("lacks {}", missing_list(&r.missing))),
        Err(e) => Err(e.clone()),
    }
}

/// `Policy.ReadWrite.AuthenticationMethod (for enable, enforce)`: each missing permission
/// once, with what needs it.
fn missing_list(missing: &[Need]) -> String {
    let mut by_permission: Vec<(&str, Vec<String>)> = Vec::new();
    for n in missing {
        let purpose = n.purpose.to_string();
        match by_permission.iter_mut().find(|(p, _)| *p == n.accepted[0]) {
            Some((_, purposes)) if purposes.contains(&purpose) => {}
            Some((_, purposes)) => purposes.push(purpose),
            None => by_permission.push((n.accepted[0], vec![purpose])),
        }
    }
    by_permission
        .iter()
        .map(|(p, purposes)| format!("{p} (for {})", purposes.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}
