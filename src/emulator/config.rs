//! The emulator's configuration: the tenant file format (serde types), the documented defaults,
//! and the generators for synthetic tenants (`--users N --seed S`, `--sandbox` without a file).

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::federated::FederatedCredential;
use super::managed_identity::ManagedIdentities;

/// Tenant (directory) id served when the tenant file names none.
pub(super) const DEFAULT_TENANT_ID: &str = "00000000-0000-4000-8000-00000000a11c";
/// The tenant's initial domain, accepted in login paths in place of the id.
pub(super) const DEFAULT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Application (client) id the login routes accept by default.
pub(super) const DEFAULT_CLIENT_ID: &str = "11111111-1111-4111-8111-111111111111";
/// Client secret the login routes accept by default (an emulator credential, not a secret).
pub(super) const DEFAULT_CLIENT_SECRET: &str = "emulator-secret";
/// Access-token lifetime, seconds.
pub(super) const DEFAULT_TOKEN_TTL: u64 = 3600;
/// Device code flow: seconds between polls.
pub(super) const DEFAULT_DEVICE_CODE_INTERVAL: u64 = 5;
/// Device code flow: lifetime of a device code, seconds (the platform's 15 minutes).
pub(super) const DEFAULT_DEVICE_CODE_TTL: u64 = 900;
/// Entries per page of a user's methods list (docs/tenant-format.md: Microsoft does not say
/// when that list pages, so the emulator pages it small enough for real method sets to page).
pub(super) const DEFAULT_METHODS_PAGE_SIZE: usize = 4;
/// Resource units per 10 s for one app in one large tenant (docs/graph.md §6).
pub(super) const DEFAULT_RESOURCE_UNITS_PER_10S: f64 = 8000.0;
/// Writes per 150 s for one app in one tenant (docs/graph.md §6).
pub(super) const DEFAULT_WRITES_PER_150S: f64 = 3000.0;
/// Writes per 5 minutes for a tenant across all apps (docs/graph.md §6).
pub(super) const DEFAULT_TENANT_WRITES_PER_5MIN: f64 = 18000.0;
/// Writes per 5 minutes for one app across all its tenants (docs/graph.md §6).
pub(super) const DEFAULT_APP_WRITES_PER_5MIN: f64 = 70000.0;
/// Resource units per 20 s for one app across all its tenants (docs/graph.md §6).
pub(super) const DEFAULT_APP_RESOURCE_UNITS_PER_20S: f64 = 150_000.0;
/// The window of the per-app write limit, seconds (docs/graph.md §6: 2 minutes 30 seconds).
pub(super) const WRITE_WINDOW_SECS: f64 = 150.0;
/// Application permissions granted to the app unless the tenant file withholds some: what
/// README's permissions table asks an admin to grant (User.Read.All tells guests apart;
/// GroupMember.Read.All finds a `--group`'s members).
pub(super) const DEFAULT_PERMISSIONS: [&str; 6] = [
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "User.RevokeSessions.All",
    "User.Read.All",
    "GroupMember.Read.All",
];

/// Throttling budgets per application + tenant pair (and the tenant-wide write budget), before
/// `quota_scale` multiplies them. Windows are fixed: 10 s, 150 s and 300 s.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    #[serde(default = "default_ru")]
    pub resource_units_per_10s: f64,
    #[serde(default = "default_writes")]
    pub writes_per_150s: f64,
    #[serde(default = "default_tenant_writes")]
    pub tenant_writes_per_5min: f64,
    /// Share of every budget available when the emulator starts: 1 = full (Graph grants its
    /// bucket as a burst), 0 = already used up (say, by other apps in the tenant).
    #[serde(default = "default_initial_fill")]
    pub initial_fill: f64,
    /// What the app's write bucket holds, in seconds of its refill: `None` = the whole
    /// 150 s window, i.e. `writes_per_150s` writes (the documented limit read as a token
    /// bucket, docs/graph.md §6). A smaller bucket models a tenant that grants a shorter
    /// burst; it cannot be larger than the window (that would be more lenient than Graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_burst_secs: Option<f64>,
}

fn default_initial_fill() -> f64 {
    1.0
}

/// Graph's limits for one application across all its tenants (docs/graph.md §6), before the
/// top level's `quota_scale` multiplies them: one set of buckets per app that every tenant
/// behind the base URL draws from, beside each tenant's own. Windows are fixed: 20 s and 300 s.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppQuotas {
    #[serde(default = "default_app_ru")]
    pub resource_units_per_20s: f64,
    #[serde(default = "default_app_writes")]
    pub writes_per_5min: f64,
    /// Share of these buckets available when the emulator starts (1 = full, 0 = used up by
    /// the app's other work elsewhere).
    #[serde(default = "default_initial_fill")]
    pub initial_fill: f64,
}

fn default_app_ru() -> f64 {
    DEFAULT_APP_RESOURCE_UNITS_PER_20S
}
fn default_app_writes() -> f64 {
    DEFAULT_APP_WRITES_PER_5MIN
}

impl Default for AppQuotas {
    fn default() -> Self {
        AppQuotas {
            resource_units_per_20s: DEFAULT_APP_RESOURCE_UNITS_PER_20S,
            writes_per_5min: DEFAULT_APP_WRITES_PER_5MIN,
            initial_fill: 1.0,
        }
    }
}

fn default_ru() -> f64 {
    DEFAULT_RESOURCE_UNITS_PER_10S
}
fn default_writes() -> f64 {
    DEFAULT_WRITES_PER_150S
}
fn default_tenant_writes() -> f64 {
    DEFAULT_TENANT_WRITES_PER_5MIN
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            resource_units_per_10s: DEFAULT_RESOURCE_UNITS_PER_10S,
            writes_per_150s: DEFAULT_WRITES_PER_150S,
            tenant_writes_per_5min: DEFAULT_TENANT_WRITES_PER_5MIN,
            initial_fill: 1.0,
            write_burst_secs: None,
        }
    }
}

/// Fault-injection probabilities (0..=1) and latency. Decisions come from the seeded generator.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// A whole `$batch` answered `429` with `Retry-After`; nothing in it runs.
    pub batch_429: f64,
    /// A whole `$batch` answered `503` with `Retry-After`; nothing in it runs.
    pub batch_503: f64,
    /// One item (or one plain request) answered `503` or `504`; it does not run.
    pub item_5xx: f64,
    /// One item (or one plain request) runs, and is then answered `503` or `504` all the
    /// same: the change happened, the answer says it failed (a gateway timing out on a
    /// request the service completed). Drawn after `item_5xx`, for the items it spared.
    pub item_5xx_after_execute: f64,
    /// A response cut off mid-body (headers and part of the body sent, then the connection
    /// is closed). By default nothing in the request runs; see `drop_after_execute`.
    pub drop: f64,
    /// When true, a dropped request is executed first and only its response is lost (the
    /// harder case for a client: the change happened but it never heard).
    pub drop_after_execute: bool,
    /// `Retry-After` seconds sent with fault 429/503 answers (default 1).
    pub retry_after_secs: Option<f64>,
    /// Latency added to every Graph request or batch, ms.
    pub latency_ms: u64,
    /// Uniform jitter around `latency_ms`, ms (latency is latency_ms ± jitter, never < 0).
    pub latency_jitter_ms: u64,
    /// After this many Graph requests have passed the bearer check, every bearer token is
    /// refused with 401 `InvalidAuthenticationToken`, newly issued ones too, while the login
    /// routes go on issuing them: a 401 storm that token renewal does not cure (Graph
    /// refusing the tokens this app gets, e.g. minted for another audience or cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refuse_tokens_after: Option<u64>,
}

/// One registered authentication method in the tenant file (the password method is implicit).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// phone, microsoftAuthenticator, softwareOath, hardwareOath, fido2, email,
    /// windowsHelloForBusiness, temporaryAccessPass, platformCredential
    #[serde(rename = "type")]
    pub kind: String,
    /// Generated from the seed when absent; phone methods use the fixed per-phoneType ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// mobile, alternateMobile or office (phone methods only).
    #[serde(default, rename = "phoneType", skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    /// Phone number, email address or display name, shown in the method listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One user in the tenant file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Object id (GUID); generated from the seed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "userPrincipalName")]
    pub upn: String,
    #[serde(
        default,
        rename = "displayName",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// Member or Guest (default Member).
    #[serde(default = "member", rename = "userType")]
    pub user_type: String,
    /// disabled, enabled or enforced (default disabled).
    #[serde(default = "disabled", rename = "perUserMfaState")]
    pub per_user_mfa_state: String,
    #[serde(default)]
    pub methods: Vec<MethodSpec>,
    /// userPreferredMethodForSecondaryAuthentication: push, oath, voiceMobile,
    /// voiceAlternateMobile, voiceOffice, sms, or absent.
    #[serde(
        default,
        rename = "defaultMethod",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_method: Option<String>,
    #[serde(default, rename = "isSystemPreferredAuthenticationMethodEnabled")]
    pub system_preferred: bool,
    /// The primary SMTP address (`mail`); absent: the user has none (Graph then answers null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// `proxyAddresses`, each `SMTP:` (primary) / `smtp:` (secondary) or another `type:`
    /// prefix; unique across the tenant, as Graph keeps them.
    #[serde(
        default,
        rename = "proxyAddresses",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub proxy_addresses: Vec<String>,
    /// `accountEnabled` (default true).
    #[serde(
        default = "enabled",
        rename = "accountEnabled",
        skip_serializing_if = "is_true"
    )]
    pub account_enabled: bool,
}

impl Default for UserSpec {
    /// A member with no methods, no mail and an empty UPN (callers set `upn`).
    fn default() -> Self {
        UserSpec {
            id: None,
            upn: String::new(),
            display_name: None,
            user_type: member(),
            per_user_mfa_state: disabled(),
            methods: Vec::new(),
            default_method: None,
            system_preferred: false,
            mail: None,
            proxy_addresses: Vec::new(),
            account_enabled: true,
        }
    }
}

fn enabled() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn member() -> String {
    "Member".to_string()
}
fn disabled() -> String {
    "disabled".to_string()
}

/// One group in the tenant file: its direct members, users (by UPN or object id) and nested
/// groups (by displayName or id). Membership is read through `/groups/{id}/members` and
/// `/transitiveMembers` (docs/graph.md §9.4); the emulator never changes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Object id (GUID); generated from the seed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Not unique, as in Entra: several groups may share a name.
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Direct user members: UPNs or object ids of the tenant's users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Direct group members (nested groups): displayNames (unique ones) or ids.
    #[serde(
        default,
        rename = "memberGroups",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub member_groups: Vec<String>,
}

/// The tenant file (JSON). Every field is optional; see docs/tenant-format.md.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_code_interval: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_code_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quotas: Option<Quotas>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_quotas: Option<AppQuotas>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quota_scale: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    no_throttle: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    withheld_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    federated_credentials: Vec<FederatedCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    managed_identities: Option<ManagedIdentities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    faults: Option<Faults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    methods_page_size: Option<usize>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    allow_public_client_flows: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_code_user: Option<String>,
    #[serde(default)]
    users: Vec<UserSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<GroupSpec>,
    #[serde(default = "enabled", skip_serializing_if = "is_true")]
    consented: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tenants: Vec<TenantSpec>,
}

/// One more tenant behind the same base URL (the `tenants` list of the tenant file): a
/// customer tenant of the same multi-tenant app, with its own directory, quotas, faults and
/// consent (docs/graph.md §14). The app registration (client id, credentials, token
/// lifetime) is the top level's: one app signs in to every tenant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// The directory id (GUID), the `tid` of the tokens this tenant issues.
    pub tenant_id: String,
    /// Its verified domain, accepted in login paths in place of the id.
    pub domain: String,
    /// Whether the app has a service principal (admin consent) here; without one every sign-in
    /// is refused with AADSTS7000229 (docs/graph.md §14). Default true.
    #[serde(default = "enabled", skip_serializing_if = "is_true")]
    pub consented: bool,
    /// Seeds this tenant's method ids, shuffling and faults (absent: the top level's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// This tenant's own buckets' sizes (absent: the top level's sizes, in buckets of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<Quotas>,
    /// Absent: the top level's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_scale: Option<f64>,
    /// Throttling off here (it is off everywhere when the top level turns it off).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_throttle: bool,
    /// Absent: the top level's fault settings; `{}`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Faults>,
    /// Permissions this tenant's admin did not consent to (the top level's lists are its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_permissions: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSpec>,
}

impl TenantSpec {
    /// A consented tenant with these users, everything else the top level's.
    pub fn new(tenant_id: &str, domain: &str, users: Vec<UserSpec>) -> TenantSpec {
        TenantSpec {
            tenant_id: tenant_id.to_string(),
            domain: domain.to_string(),
            consented: true,
            seed: None,
            quotas: None,
            quota_scale: None,
            no_throttle: false,
            faults: None,
            withheld_permissions: Vec::new(),
            extra_permissions: Vec::new(),
            users,
            groups: Vec::new(),
        }
    }
}

/// Everything the emulator serves: one tenant, its app registration, quotas and faults.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub tenant_id: String,
    pub domain: String,
    pub client_id: String,
    pub client_secret: String,
    /// Access-token lifetime, seconds (0 issues tokens that are already expired).
    pub token_ttl: u64,
    /// Seeds method ids, response shuffling and fault decisions.
    pub seed: u64,
    /// Device code flow: seconds a client must wait between polls (default 5).
    pub device_code_interval: u64,
    /// Device code flow: seconds a device code stays valid (default 900).
    pub device_code_ttl: u64,
    pub quotas: Quotas,
    /// The app's limits across all tenants (the top level's; a `tenants` entry has none).
    pub app_quotas: AppQuotas,
    /// Multiplies every quota (windows unchanged).
    pub quota_scale: f64,
    pub no_throttle: bool,
    pub faults: Faults,
    /// Permissions removed from the default grant (e.g. "User.RevokeSessions.All").
    pub withheld_permissions: Vec<String>,
    /// Permissions added to the default grant (e.g. "User.Read.All").
    pub extra_permissions: Vec<String>,
    /// PEM certificates registered on the app, for client assertions.
    pub certificates: Vec<String>,
    /// The app's federated credentials (workload identity federation).
    pub federated_credentials: Vec<FederatedCredential>,
    /// The managed identities the emulated Azure resource has (none by default).
    pub managed_identities: ManagedIdentities,
    /// Entries per page of a user's methods list (at least 1).
    pub methods_page_size: usize,
    /// The app registration's "Allow public client flows": the device code flow works only
    /// when it is on (default off, as for a new registration).
    pub allow_public_client_flows: bool,
    /// The UPN of the tenant user who approves device codes: delegated tokens carry its `oid`
    /// and `upn`. Unset: an administrator account the tenant's user list does not hold
    /// (`admin@{domain}`), as every delegated token names some user.
    pub device_code_user: Option<String>,
    pub users: Vec<UserSpec>,
    pub groups: Vec<GroupSpec>,
    /// Whether the app is consented in this (the first) tenant; see [`TenantSpec::consented`].
    pub consented: bool,
    /// Further tenants served behind the same base URL (docs/tenant-format.md, "Many tenants").
    pub tenants: Vec<TenantSpec>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            domain: DEFAULT_DOMAIN.to_string(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            token_ttl: DEFAULT_TOKEN_TTL,
            seed: 0,
            device_code_interval: DEFAULT_DEVICE_CODE_INTERVAL,
            device_code_ttl: DEFAULT_DEVICE_CODE_TTL,
            quotas: Quotas::default(),
            app_quotas: AppQuotas::default(),
            quota_scale: 1.0,
            no_throttle: false,
            faults: Faults::default(),
            withheld_permissions: Vec::new(),
            extra_permissions: Vec::new(),
            certificates: Vec::new(),
            federated_credentials: Vec::new(),
            managed_identities: ManagedIdentities::default(),
            methods_page_size: DEFAULT_METHODS_PAGE_SIZE,
            allow_public_client_flows: false,
            device_code_user: None,
            users: Vec::new(),
            groups: Vec::new(),
            consented: true,
            tenants: Vec::new(),
        }
    }
}

impl EmulatorConfig {
    /// Reads a tenant file (JSON, docs/tenant-format.md).
    pub fn from_tenant_file(path: &Path) -> Result<EmulatorConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tenant file {}: {e}", path.display()))?;
        EmulatorConfig::from_tenant_json(&text)
            .map_err(|e| format!("tenant file {}: {e}", path.display()))
    }

    /// Parses tenant-file JSON text.
    pub fn from_tenant_json(text: &str) -> Result<EmulatorConfig, String> {
        let file: TenantFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let d = EmulatorConfig::default();
        let config = EmulatorConfig {
            tenant_id: file.tenant_id.unwrap_or(d.tenant_id),
            domain: file.domain.unwrap_or(d.domain),
            client_id: file.client_id.unwrap_or(d.client_id),
            client_secret: file.client_secret.unwrap_or(d.client_secret),
            token_ttl: file.token_ttl.unwrap_or(d.token_ttl),
            seed: file.seed.unwrap_or(d.seed),
            device_code_interval: file.device_code_interval.unwrap_or(d.device_code_interval),
            device_code_ttl: file.device_code_ttl.unwrap_or(d.device_code_ttl),
            quotas: file.quotas.unwrap_or_default(),
            app_quotas: file.app_quotas.unwrap_or_default(),
            quota_scale: file.quota_scale.unwrap_or(1.0),
            no_throttle: file.no_throttle,
            faults: file.faults.unwrap_or_default(),
            withheld_permissions: file.withheld_permissions,
            extra_permissions: file.extra_permissions,
            certificates: file.certificates,
            federated_credentials: file.federated_credentials,
            managed_identities: file.managed_identities.unwrap_or_default(),
            methods_page_size: file.methods_page_size.unwrap_or(d.methods_page_size),
            allow_public_client_flows: file.allow_public_client_flows,
            device_code_user: file.device_code_user,
            users: file.users,
            groups: file.groups,
            consented: file.consented,
            tenants: file.tenants,
        };
        config.validate()?;
        Ok(config)
    }

    /// The configuration as tenant-file JSON (what `from_tenant_json` reads back).
    pub fn to_tenant_json(&self) -> serde_json::Value {
        let file = TenantFile {
            tenant_id: Some(self.tenant_id.clone()),
            domain: Some(self.domain.clone()),
            client_id: Some(self.client_id.clone()),
            client_secret: Some(self.client_secret.clone()),
            token_ttl: Some(self.token_ttl),
            seed: Some(self.seed),
            device_code_interval: Some(self.device_code_interval),
            device_code_ttl: Some(self.device_code_ttl),
            quotas: Some(self.quotas.clone()),
            app_quotas: (self.app_quotas != AppQuotas::default()).then(|| self.app_quotas.clone()),
            quota_scale: Some(self.quota_scale),
            no_throttle: self.no_throttle,
            withheld_permissions: self.withheld_permissions.clone(),
            extra_permissions: self.extra_permissions.clone(),
            certificates: self.certificates.clone(),
            federated_credentials: self.federated_credentials.clone(),
            managed_identities: (self.managed_identities != ManagedIdentities::default())
                .then(|| self.managed_identities.clone()),
            faults: (self.faults != Faults::default()).then(|| self.faults.clone()),
            methods_page_size: Some(self.methods_page_size),
            allow_public_client_flows: self.allow_public_client_flows,
            device_code_user: self.device_code_user.clone(),
            users: with_method_ids(self.users.clone(), self.seed),
            groups: self.groups.clone(),
            consented: self.consented,
            tenants: self
                .tenants
                .iter()
                .map(|t| TenantSpec {
                    users: with_method_ids(t.users.clone(), t.seed.unwrap_or(self.seed)),
                    ..t.clone()
                })
                .collect(),
        };
        serde_json::to_value(file).unwrap_or(serde_json::Value::Null)
    }

    /// Checks what serde cannot: quotas positive, users unique, values known, in every tenant;
    /// tenant ids and domains unique across tenants.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut ids = std::collections::HashSet::new();
        let mut domains = std::collections::HashSet::new();
        for (n, world) in self.worlds().iter().enumerate() {
            let at = |e: String| {
                if n == 0 {
                    e
                } else {
                    format!("tenants[{}] ({}): {e}", n - 1, world.tenant_id)
                }
            };
            world.validate_one().map_err(at)?;
            if !ids.insert(world.tenant_id.to_lowercase()) {
                return Err(at(format!(
                    "tenant_id '{}' is served twice",
                    world.tenant_id
                )));
            }
            if !domains.insert(world.domain.to_lowercase()) {
                return Err(at(format!("domain '{}' is served twice", world.domain)));
            }
        }
        Ok(())
    }

    /// Every tenant served, as a one-tenant configuration each: this one first (without its
    /// `tenants`), then each of `tenants` with the app registration copied from the top level.
    pub(crate) fn worlds(&self) -> Vec<EmulatorConfig> {
        let first = EmulatorConfig {
            tenants: Vec::new(),
            ..self.clone()
        };
        let rest = self.tenants.iter().map(|t| EmulatorConfig {
            tenant_id: t.tenant_id.clone(),
            domain: t.domain.clone(),
            consented: t.consented,
            // What a tenant leaves out is the top level's, so `--quota-scale` or a fault flag
            // reaches every tenant; an explicit value (`"faults": {}`) is the tenant's own.
            seed: t.seed.unwrap_or(self.seed),
            quotas: t.quotas.clone().unwrap_or_else(|| self.quotas.clone()),
            quota_scale: t.quota_scale.unwrap_or(self.quota_scale),
            no_throttle: t.no_throttle || self.no_throttle,
            faults: t.faults.clone().unwrap_or_else(|| self.faults.clone()),
            withheld_permissions: t.withheld_permissions.clone(),
            extra_permissions: t.extra_permissions.clone(),
            users: t.users.clone(),
            groups: t.groups.clone(),
            tenants: Vec::new(),
            ..self.clone()
        });
        std::iter::once(first).chain(rest).collect()
    }

    /// [`EmulatorConfig::validate`] for one tenant, its `tenants` aside.
    fn validate_one(&self) -> Result<(), String> {
        if uuid::Uuid::parse_str(&self.tenant_id).is_err() {
            return Err(format!("tenant_id '{}' is not a GUID", self.tenant_id));
        }
        let q = &self.quotas;
        let a = &self.app_quotas;
        for (name, v) in [
            ("resource_units_per_10s", q.resource_units_per_10s),
            ("writes_per_150s", q.writes_per_150s),
            ("tenant_writes_per_5min", q.tenant_writes_per_5min),
            (
                "app_quotas.resource_units_per_20s",
                a.resource_units_per_20s,
            ),
            ("app_quotas.writes_per_5min", a.writes_per_5min),
            ("quota_scale", self.quota_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a positive number, got {v}"));
            }
        }
        if let Some(secs) = q.write_burst_secs
            && !(secs.is_finite() && secs > 0.0 && secs <= WRITE_WINDOW_SECS)
        {
            return Err(format!(
                "write_burst_secs must be above 0 and at most {WRITE_WINDOW_SECS} (the write window), got {secs}"
            ));
        }
        if self.methods_page_size == 0 {
            return Err("methods_page_size must be at least 1".into());
        }
        let tenant = crate::emulator::tenant::Tenant::build(&self.users, self.seed)?;
        crate::emulator::groups::Groups::build(&self.groups, &tenant, self.seed).map(|_| ())
    }

    /// A tenant of `users` users shaped like a real one, with mixed per-user MFA states and
    /// method sets drawn from `seed`. User `i` is `user{i:04}@contoso.onmicrosoft.com`
    /// except for the kinds real directories hold ([`generated_user`]): guests, upper-case
    /// UPNs, apostrophes, `$` UPNs, mail addresses that differ from the UPN, and methods the
    /// tool does not delete.
    pub fn generated(users: usize, seed: u64) -> EmulatorConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let specs: Vec<UserSpec> = (1..=users).map(|i| generated_user(&mut rng, i)).collect();
        let groups = generated_groups(&specs);
        EmulatorConfig {
            seed,
            users: with_method_ids(specs, seed),
            groups,
            ..EmulatorConfig::default()
        }
    }

    /// A tenant in which every key exists: a GUID key becomes that object id (with a generated
    /// UPN), anything else becomes that UPN (with a generated id). For `--sandbox` without a
    /// tenant file. Duplicate keys (case-insensitive) make one user; a key that is neither a
    /// GUID nor contains '@' makes none (it then gets Graph's 404).
    pub fn with_users_named(keys: &[String], seed: u64) -> EmulatorConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut seen = std::collections::HashSet::new();
        let mut specs = Vec::new();
        for key in keys {
            let key = key.trim();
            if key.is_empty() || !seen.insert(key.to_lowercase()) {
                continue;
            }
            let spec = match uuid::Uuid::parse_str(key) {
                Ok(id) => {
                    let id = id.hyphenated().to_string();
                    let upn = format!("user-{id}@{DEFAULT_DOMAIN}");
                    random_user(&mut rng, Some(id), upn, "Member")
                }
                // Not a GUID and not name@domain: no user can have that UPN, so it stays
                // unknown (Graph answers 404 for it) rather than failing the whole tenant.
                Err(_) if !key.contains('@') => continue,
                Err(_) => {
                    let user_type = if key.to_uppercase().contains("#EXT#") {
                        "Guest"
                    } else {
                        "Member"
                    };
                    random_user(&mut rng, None, key.to_string(), user_type)
                }
            };
            specs.push(spec);
        }
        EmulatorConfig {
            seed,
            users: with_method_ids(specs, seed),
            ..EmulatorConfig::default()
        }
    }

    /// A tenant in which every mail address is some user's mail, reached only through a
    /// lookup: `a.b@contoso.com` becomes the member `ab@contoso.onmicrosoft.com` (the local
    /// part without its dots and other punctuation, a number added where two would meet)
    /// with that `mail` and `SMTP:` proxy address. For `--sandbox` without a tenant file over
    /// a mail column. Duplicate addresses (case-insensitive) make one user; a key without '@'
    /// makes none.
    pub fn with_users_mailed(mails: &[String], seed: u64) -> EmulatorConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut seen = std::collections::HashSet::new();
        let mut upns = std::collections::HashSet::new();
        let mut specs = Vec::new();
        for mail in mails {
            let mail = mail.trim();
            let Some((local, _)) = mail.split_once('@') else {
                continue;
            };
            if !seen.insert(mail.to_lowercase()) {
                continue;
            }
            let base: String = local
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_lowercase();
            let base = if base.is_empty() {
                "user".to_string()
            } else {
                base
            };
            let mut upn = format!("{base}@{DEFAULT_DOMAIN}");
            let mut n = 1;
            while !upns.insert(upn.clone()) || upn.eq_ignore_ascii_case(mail) {
                n += 1;
                upn = format!("{base}{n}@{DEFAULT_DOMAIN}");
            }
            let mut spec = random_user(&mut rng, None, upn, "Member");
            spec.mail = Some(mail.to_string());
            spec.proxy_addresses = vec![format!("SMTP:{mail}")];
            specs.push(spec);
        }
        EmulatorConfig {
            seed,
            users: with_method_ids(specs, seed),
            ..EmulatorConfig::default()
        }
    }

    /// Sets the quota multiplier.
    pub fn quota_scale(mut self, scale: f64) -> Self {
        self.quota_scale = scale;
        self
    }

    /// Turns throttling off.
    pub fn no_throttle(mut self) -> Self {
        self.no_throttle = true;
        self
    }

    /// Sets the fault settings.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the access-token lifetime.
    pub fn token_ttl(mut self, seconds: u64) -> Self {
        self.token_ttl = seconds;
        self
    }

    /// Withholds one application permission from issued tokens.
    pub fn withhold_permission(mut self, permission: &str) -> Self {
        self.withheld_permissions.push(permission.to_string());
        self
    }

    /// Turns on "Allow public client flows" (the device code flow).
    pub fn allow_public_client_flows(mut self) -> Self {
        self.allow_public_client_flows = true;
        self
    }

    /// Grants a permission beyond the default ones.
    pub fn grant_permission(mut self, permission: &str) -> Self {
        self.extra_permissions.push(permission.to_string());
        self
    }

    /// Serves one more tenant behind the same base URL.
    pub fn with_tenant(mut self, tenant: TenantSpec) -> Self {
        self.tenants.push(tenant);
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The permissions issued tokens carry: the defaults plus extras, minus withheld ones.
    pub(crate) fn granted_permissions(&self) -> Vec<String> {
        DEFAULT_PERMISSIONS
            .iter()
            .map(|p| p.to_string())
            .chain(self.extra_permissions.iter().cloned())
            .filter(|p| {
                !self
                    .withheld_permissions
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(p))
            })
            .collect()
    }
}

/// Writes the ids the tenant would draw into the specs, so a saved tenant file names every
/// method id explicitly.
fn with_method_ids(mut specs: Vec<UserSpec>, seed: u64) -> Vec<UserSpec> {
    if let Ok(tenant) = crate::emulator::tenant::Tenant::build(&specs, seed) {
        for (spec, user) in specs.iter_mut().zip(&tenant.users) {
            for (m, built) in spec.methods.iter_mut().zip(&user.methods) {
                m.id = Some(built.id.clone());
            }
        }
    }
    specs
}

/// A random GUID from the seeded generator, so generated tenants are reproducible.
pub(crate) fn seeded_guid(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// One user with a method set and state drawn from `rng`.
fn random_user(rng: &mut ChaCha8Rng, id: Option<String>, upn: String, user_type: &str) -> UserSpec {
    let id = Some(id.unwrap_or_else(|| seeded_guid(rng)));
    let state = match rng.random_range(0..10u32) {
        0..=4 => "disabled",
        5..=6 => "enabled",
        _ => "enforced",
    };
    let m = |kind: &str| MethodSpec {
        kind: kind.to_string(),
        id: None,
        phone_type: None,
        detail: None,
    };
    let phone = |t: &str, n: &str| MethodSpec {
        kind: "phone".to_string(),
        id: None,
        phone_type: Some(t.to_string()),
        detail: Some(n.to_string()),
    };
    let (methods, default_method): (Vec<MethodSpec>, Option<&str>) =
        match rng.random_range(0..10u32) {
            0..=1 => (vec![], None),
            2 => (vec![phone("mobile", "+1 4255550100")], Some("sms")),
            3 => (
                vec![
                    phone("mobile", "+1 4255550101"),
                    phone("alternateMobile", "+1 4255550102"),
                ],
                Some("voiceMobile"),
            ),
            4..=5 => (
                vec![
                    m("microsoftAuthenticator"),
                    phone("mobile", "+1 4255550103"),
                ],
                Some("push"),
            ),
            6 => (vec![m("softwareOath"), m("email")], Some("oath")),
            7 => (vec![m("fido2"), m("windowsHelloForBusiness")], None),
            8 => (
                vec![m("hardwareOath"), phone("office", "+1 4255550104")],
                Some("oath"),
            ),
            _ => (vec![m("temporaryAccessPass"), m("email")], None),
        };
    UserSpec {
        id,
        display_name: Some(display_name_of(&upn)),
        upn,
        user_type: user_type.to_string(),
        per_user_mfa_state: state.to_string(),
        methods,
        default_method: default_method.map(str::to_string),
        system_preferred: false,
        ..UserSpec::default()
    }
}

/// The domain generated members' mail addresses live in (their UPNs use the initial
/// `.onmicrosoft.com` domain, as in many real tenants).
pub(crate) const GENERATED_MAIL_DOMAIN: &str = "contoso.com";
/// The home domain of generated guests.
pub(crate) const GENERATED_GUEST_DOMAIN: &str = "fabrikam.com";

/// User `i` (1-based) of a generated tenant. Every 10th is a B2B guest (`#EXT#` UPN,
/// `userType` Guest, mail = the home address); user 3, 13, … has an upper-case UPN; 6, 26, …
/// an apostrophe; 9, 59, … a UPN starting with `$`. Members' mail is `{local}@contoso.com`
/// (every 4th has mail equal to the UPN instead), with matching proxyAddresses; 7, 17, …
/// also hold a method the tool does not delete.
fn generated_user(rng: &mut ChaCha8Rng, i: usize) -> UserSpec {
    if i % 10 == 0 {
        let local = format!("guest{i:04}");
        let mail = format!("{local}@{GENERATED_GUEST_DOMAIN}");
        let upn = format!("{local}_{GENERATED_GUEST_DOMAIN}#EXT#@{DEFAULT_DOMAIN}");
        let mut spec = random_user(rng, None, upn, "Guest");
        spec.proxy_addresses = vec![format!("SMTP:{mail}")];
        spec.mail = Some(mail);
        return spec;
    }
    let local = if i % 50 == 9 {
        format!("$user{i:04}")
    } else if i % 20 == 6 {
        format!("o'user{i:04}")
    } else {
        format!("user{i:04}")
    };
    let upn = format!("{local}@{DEFAULT_DOMAIN}");
    let upn = if i % 10 == 3 { upn.to_uppercase() } else { upn };
    let mut spec = random_user(rng, None, upn.clone(), "Member");
    let mail = if i % 4 == 0 {
        upn.to_lowercase()
    } else {
        format!("{}@{GENERATED_MAIL_DOMAIN}", local.trim_start_matches('$'))
    };
    spec.proxy_addresses = vec![format!("SMTP:{mail}")];
    if !mail.eq_ignore_ascii_case(&upn) {
        spec.proxy_addresses
            .push(format!("smtp:{}", upn.to_lowercase()));
    }
    spec.mail = Some(mail);
    if i % 10 == 7 {
        let kind = if i % 20 == 7 {
            "externalAuthentication"
        } else {
            "qrCodePin"
        };
        spec.methods.push(MethodSpec {
            kind: kind.to_string(),
            id: None,
            phone_type: None,
            detail: None,
        });
    }
    spec
}

/// The groups of a generated tenant, nested as real directories nest them: `All Staff` holds
/// `Sales` and `Engineering` (groups) and every 5th member directly; `Sales` holds the
/// members with i % 5 == 1 and the nested `Sales EMEA` (i % 5 == 2); `Engineering` i % 5 == 3;
/// `External Partners` every guest; `Break Glass` the first two members (the accounts a
/// rollout excludes). A member may be in several groups (`Break Glass` and `Sales`).
fn generated_groups(users: &[UserSpec]) -> Vec<GroupSpec> {
    let pick = |keep: &dyn Fn(usize, &UserSpec) -> bool| -> Vec<String> {
        users
            .iter()
            .enumerate()
            .filter(|(n, u)| keep(n + 1, u))
            .map(|(_, u)| u.upn.clone())
            .collect()
    };
    let member = |u: &UserSpec| u.user_type == "Member";
    let group = |name: &str, members: Vec<String>, nested: &[&str]| GroupSpec {
        id: None,
        display_name: name.to_string(),
        description: None,
        members,
        member_groups: nested.iter().map(|n| n.to_string()).collect(),
    };
    let break_glass: Vec<String> = users
        .iter()
        .filter(|u| member(u))
        .take(2)
        .map(|u| u.upn.clone())
        .collect();
    vec![
        group(
            "All Staff",
            pick(&|i, u| member(u) && i % 5 == 4),
            &["Sales", "Engineering"],
        ),
        group(
            "Sales",
            pick(&|i, u| member(u) && i % 5 == 1),
            &["Sales EMEA"],
        ),
        group("Sales EMEA", pick(&|i, u| member(u) && i % 5 == 2), &[]),
        group("Engineering", pick(&|i, u| member(u) && i % 5 == 3), &[]),
        group("External Partners", pick(&|_, u| !member(u)), &[]),
        group("Break Glass", break_glass, &[]),
    ]
}

/// "user0001@contoso…" → "user0001".
fn display_name_of(upn: &str) -> String {
    upn.split('@').next().unwrap_or(upn).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_all_tenants_quotas_default_to_graphs_read_back_and_must_be_positive() {
        let d = EmulatorConfig::default();
        assert_eq!(d.app_quotas.writes_per_5min, 70000.0);
        assert_eq!(d.app_quotas.resource_units_per_20s, 150_000.0);
        let c = EmulatorConfig::from_tenant_json(
            r#"{"app_quotas":{"writes_per_5min":12000,"initial_fill":0}}"#,
        )
        .unwrap();
        assert_eq!(c.app_quotas.writes_per_5min, 12000.0);
        assert_eq!(c.app_quotas.initial_fill, 0.0);
        assert_eq!(c.app_quotas.resource_units_per_20s, 150_000.0);
        let back = EmulatorConfig::from_tenant_json(&c.to_tenant_json().to_string()).unwrap();
        assert_eq!(back.app_quotas, c.app_quotas);
        let err = EmulatorConfig::from_tenant_json(r#"{"app_quotas":{"writes_per_5min":0}}"#)
            .unwrap_err();
        assert!(
            err.contains("app_quotas.writes_per_5min must be a positive number"),
            "{err}"
        );
    }

    #[test]
    fn a_write_burst_is_read_from_the_tenant_file_and_held_within_the_window() {
        let c = EmulatorConfig::from_tenant_json(r#"{"quotas":{"write_burst_secs":2}}"#).unwrap();
        assert_eq!(c.quotas.write_burst_secs, Some(2.0));
        assert_eq!(c.quotas.writes_per_150s, DEFAULT_WRITES_PER_150S);
        let back = EmulatorConfig::from_tenant_json(&c.to_tenant_json().to_string()).unwrap();
        assert_eq!(back.quotas, c.quotas);
        for bad in ["0", "-1", "150.5"] {
            let json = format!(r#"{{"quotas":{{"write_burst_secs":{bad}}}}}"#);
            let e = EmulatorConfig::from_tenant_json(&json).unwrap_err();
            assert!(e.contains("write_burst_secs"), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn generated_tenant_is_reproducible_and_valid() {
        let a = EmulatorConfig::generated(50, 7);
        let b = EmulatorConfig::generated(50, 7);
        assert_eq!(a.users, b.users);
        assert_eq!(a.users[0].upn, "user0001@contoso.onmicrosoft.com");
        assert!(a.validate().is_ok());
    }

    #[test]
    fn generated_tenants_hold_what_real_directories_hold() {
        let c = EmulatorConfig::generated(60, 3);
        let users = &c.users;
        let guests: Vec<&UserSpec> = users.iter().filter(|u| u.user_type == "Guest").collect();
        assert_eq!(guests.len(), 6);
        for g in &guests {
            assert!(g.upn.contains("#EXT#"), "{}", g.upn);
            let mail = g.mail.as_deref().unwrap();
            assert!(mail.ends_with("@fabrikam.com"), "{mail}");
            assert!(!g.upn.eq_ignore_ascii_case(mail));
        }
        let members = || users.iter().filter(|u| u.user_type == "Member");
        assert!(members().any(|u| {
            u.mail
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(&u.upn))
        }));
        assert!(members().any(|u| u.mail.as_deref().is_some_and(|m| m == u.upn)));
        assert!(users.iter().any(|u| u.upn.contains('\'')));
        assert!(users.iter().any(|u| u.upn.starts_with('$')));
        assert!(
            users
                .iter()
                .any(|u| u.upn != u.upn.to_lowercase() && !u.upn.contains("#EXT#"))
        );
        for kind in ["externalAuthentication", "qrCodePin"] {
            assert!(
                users
                    .iter()
                    .any(|u| u.methods.iter().any(|m| m.kind == kind)),
                "{kind}"
            );
        }
        assert!(c.validate().is_ok());
    }

    #[test]
    fn users_named_by_guid_keep_that_id() {
        let keys = vec![
            "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10".to_string(),
            "alice@contoso.onmicrosoft.com".to_string(),
        ];
        let mut keys = keys;
        keys.push("ALICE@contoso.onmicrosoft.com".to_string());
        keys.push("not-a-upn".to_string());
        keys.push("0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e11".to_string());
        let c = EmulatorConfig::with_users_named(&keys, 1);
        assert_eq!(c.users.len(), 3);
        assert!(c.validate().is_ok());
        assert_eq!(c.users[0].id.as_deref(), Some(keys[0].as_str()));
        assert_eq!(c.users[1].upn, keys[1]);
    }

    #[test]
    fn users_mailed_get_that_mail_and_another_upn() {
        let mails: Vec<String> = ["a.b@contoso.com", "ab@contoso.com", "A.B@contoso.com", "x"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        let c = EmulatorConfig::with_users_mailed(&mails, 1);
        assert!(c.validate().is_ok());
        let got: Vec<(&str, Option<&str>)> = c
            .users
            .iter()
            .map(|u| (u.upn.as_str(), u.mail.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("ab@contoso.onmicrosoft.com", Some("a.b@contoso.com")),
                ("ab2@contoso.onmicrosoft.com", Some("ab@contoso.com")),
            ]
        );
    }
}
