//! The tenants behind one base URL (docs/graph.md §14). Each is a world of its own
//! ([`Shared`]: directory, groups, quotas and buckets, faults, stats, consent); they share the
//! app registration and one token store. A login path picks its tenant by id or verified
//! domain; a Graph request is served by the tenant its token's `tid` names, as Graph serves
//! the directory of the token's tenant (Graph URLs carry no tenant). A one-tenant file is the
//! case of a single world.

use std::sync::Arc;

use super::config::{EmulatorConfig, TenantSpec};
use super::server::Shared;
use super::throttle::AppWide;
use super::token::TokenStore;

pub(crate) struct Tenants {
    /// The tenant file's top level first, then its `tenants` in file order.
    worlds: Vec<Arc<Shared>>,
    /// The tenant file's `tenants`, as given (what a saved state writes back beside the users).
    specs: Vec<TenantSpec>,
}

impl Tenants {
    pub(crate) fn new(config: &EmulatorConfig, base_url: &str) -> Result<Tenants, String> {
        config.validate()?;
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        // One store: a token is looked up once, then its `tid` says whose directory it reads.
        let tokens = Arc::new(TokenStore::new(key));
        // The app's limits across all tenants: one set of buckets every tenant draws from.
        let app_wide = AppWide::new(&config.app_quotas, config.quota_scale);
        let worlds = config
            .worlds()
            .into_iter()
            .map(|c| {
                Shared::new(c, base_url.to_string(), tokens.clone(), app_wide.clone()).map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tenants {
            worlds,
            specs: config.tenants.clone(),
        })
    }

    /// The tenant file's top-level tenant: it answers what names no tenant (`/_emulator/*`
    /// without one, managed identity, unknown paths) and logins to tenants nobody serves.
    pub(crate) fn first(&self) -> &Arc<Shared> {
        &self.worlds[0]
    }

    pub(crate) fn all(&self) -> &[Arc<Shared>] {
        &self.worlds
    }

    /// The further tenants as the tenant file gave them, in the order of `all()[1..]`.
    pub(crate) fn specs(&self) -> &[TenantSpec] {
        &self.specs
    }

    /// The tenant a login path or a caller names, by id or verified domain (any case).
    pub(crate) fn find(&self, tenant: &str) -> Option<&Arc<Shared>> {
        self.worlds.iter().find(|w| {
            tenant.eq_ignore_ascii_case(&w.config.tenant_id)
                || tenant.eq_ignore_ascii_case(&w.config.domain)
        })
    }

    /// The tenant whose login endpoint answers `/{tenant}/oauth2/v2.0/…`: the one named, or
    /// the first, which then answers AADSTS90002 for a tenant it is not.
    pub(crate) fn for_login(&self, tenant: &str) -> &Arc<Shared> {
        self.find(tenant).unwrap_or_else(|| self.first())
    }

    /// The tenant a token's `tid` names (exactly: tokens carry the GUID).
    pub(crate) fn by_tid(&self, tid: &str) -> Option<&Arc<Shared>> {
        self.worlds.iter().find(|w| w.config.tenant_id == tid)
    }

    /// Approves or declines a pending device code in whichever tenant issued it.
    pub(crate) fn decide_device_code(&self, user_code: &str, approve: bool) -> bool {
        self.worlds
            .iter()
            .any(|w| w.decide_device_code(user_code, approve))
    }
}
