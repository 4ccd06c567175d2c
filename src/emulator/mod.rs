//! A local Microsoft Graph + Microsoft identity platform fake (axum) modelling one tenant (or
//! several behind one base URL, docs/graph.md §14), its throttling and its faults, faithful to
//! docs/graph.md. Used by tests, benchmarks and
//! `--sandbox`. It parses and emits raw JSON itself and shares no wire code with `graph`, so a
//! wire-format bug in the client cannot hide behind the same bug here.
//!
//! # Layout
//! - `config`: [`EmulatorConfig`], the tenant file format, defaults, generated tenants.
//! - `tenant`: users, methods, MFA state and the rules Graph enforces on changes.
//! - `keys`: how Graph reads a user key out of a URL.
//! - `routes`: one Graph request: path → permission → throttle → tenant.
//! - `methods_page`: paging of the methods list (`@odata.nextLink`, `$skiptoken`).
//! - `user_properties`: what reading a user returns (default set, `$select`) and needs.
//! - `user_list`: `GET /users`: `$filter`, `$select`, `$top` and `@odata.nextLink` paging.
//! - `groups`: the tenant's groups and their nested membership; `group_routes`: `GET /groups`
//!   (`displayName eq`), `/groups/{id}`, `/members` and `/transitiveMembers` (with the
//!   `microsoft.graph.user` cast), paged.
//! - `request_cost`: the resource units each request costs (docs/graph.md §9.5).
//! - `batch`: `$batch` validation, dependsOn, shuffled answers.
//! - `login`, `token`, `assertion`: the identity platform's token and device code endpoints.
//! - `throttle`: token buckets; `faults`: seeded fault injection; `stats`: counters.
//! - `state_file`: the tenant as it is now, saved as a tenant file (`--sandbox-state`).
//! - `server`: one tenant's shared state and the HTTP handler; `graph_error`: answers and
//!   error bodies.
//! - `tenants`: the tenants behind the base URL; which one a login path or a token's `tid`
//!   selects.

mod assertion;
mod batch;
mod config;
mod faults;
mod federated;
mod graph_error;
mod group_routes;
mod groups;
mod json_out;
mod keys;
mod list_query;
mod login;
mod managed_identity;
mod methods_page;
mod request_cost;
mod routes;
mod server;
mod state_file;
mod stats;
mod tenant;
mod tenants;
mod throttle;
mod token;
mod user_list;
mod user_properties;

use std::sync::Arc;

pub use config::{
    AppQuotas, EmulatorConfig, Faults, GroupSpec, MethodSpec, Quotas, TenantSpec, UserSpec,
};

pub use federated::{DEFAULT_FEDERATED_AUDIENCE, FederatedCredential};
pub use managed_identity::ManagedIdentities;

use server::Shared;
use tenants::Tenants;

/// The emulator's one entry point: serves `config` on `listener` (the caller owns the socket,
/// so it picks the address, `127.0.0.1:0` in tests) in the background until `shutdown`
/// completes, [`EmulatorHandle::shutdown`] is called or the handle is dropped. The
/// `emulator` command, `--sandbox`, the tests and the benchmarks all start it here.
///
/// # Errors
/// The listener's address cannot be read, or `config` is not a valid tenant.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<EmulatorHandle> {
    let base_url = format!("http://{}", listener.local_addr()?);
    let tenants = Arc::new(
        Tenants::new(&config, &base_url)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = rx => {}
        }
    };
    let task = tokio::spawn(server::serve_until(listener, tenants.clone(), stop));
    Ok(EmulatorHandle {
        tenants,
        base_url,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Shorthand for tests and benchmarks.
pub struct Emulator;

impl Emulator {
    /// [`serve`] on `127.0.0.1:0` until the handle is shut down or dropped.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        serve(listener, config, std::future::pending()).await
    }
}

/// A running emulator. Dropping it stops the server too.
pub struct EmulatorHandle {
    tenants: Arc<Tenants>,
    base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl EmulatorHandle {
    /// The first (the tenant file's top-level) tenant.
    fn shared(&self) -> &Shared {
        self.tenants.first()
    }

    /// One base URL serving both login (`/{tenant}/oauth2/v2.0/…`) and Graph (`/v1.0`, `/beta`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn tenant_id(&self) -> String {
        self.shared().config.tenant_id.clone()
    }

    pub fn client_id(&self) -> String {
        self.shared().config.client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.shared().config.client_secret.clone()
    }

    /// The same JSON as `GET /_emulator/stats`.
    pub fn stats(&self) -> serde_json::Value {
        self.shared().stats_json()
    }

    /// The same JSON as `GET /_emulator/users`.
    pub fn users(&self) -> serde_json::Value {
        self.shared().users_json()
    }

    /// Every tenant served, by id: the first tenant, then the tenant file's `tenants`.
    pub fn tenant_ids(&self) -> Vec<String> {
        self.tenants
            .all()
            .iter()
            .map(|w| w.config.tenant_id.clone())
            .collect()
    }

    /// One tenant's `GET /_emulator/tenants/{tenant}/stats`; `tenant` is its id or domain.
    pub fn tenant_stats(&self, tenant: &str) -> Option<serde_json::Value> {
        self.tenants.find(tenant).map(|w| w.stats_json())
    }

    /// One tenant's `GET /_emulator/tenants/{tenant}/users`; `tenant` is its id or domain.
    pub fn tenant_users(&self, tenant: &str) -> Option<serde_json::Value> {
        self.tenants.find(tenant).map(|w| w.users_json())
    }

    /// Approves a pending device code as the signed-in user would; false if unknown or not
    /// pending.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        self.tenants.decide_device_code(user_code, true)
    }

    /// Declines a pending device code.
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        self.tenants.decide_device_code(user_code, false)
    }

    /// Waits until the server stops (its `shutdown` future completed).
    pub async fn stopped(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }

    /// Stops accepting connections and waits (at most a second) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(1), task)
                .await
                .is_err()
            {
                // Idle keep-alive connections can hold a graceful shutdown open.
                abort.abort();
            }
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
