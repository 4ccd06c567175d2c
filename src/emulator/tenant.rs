//! The tenant's state: users, their per-user MFA state, registered authentication methods,
//! default method and revocation counts, with the rules Graph enforces on changes
//! (docs/graph.md §§1–3). Pure data and functions; the server keeps it behind one lock that is
//! never held across an await.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::config::{UserSpec, seeded_guid};
use super::graph_error::GraphError;

/// The password method's id, the same for every user (docs/graph.md §2).
pub(crate) const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";
/// Fixed phone method ids per phoneType (docs/graph.md §2).
pub(crate) const MOBILE_ID: &str = "3179e48a-750b-4051-897c-87b9720928f7";
pub(crate) const ALTERNATE_MOBILE_ID: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
pub(crate) const OFFICE_ID: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";

/// The values signInPreferences accepts for the default method.
pub(crate) const PREFERRED_VALUES: [&str; 6] = [
    "push",
    "oath",
    "voiceMobile",
    "voiceAlternateMobile",
    "voiceOffice",
    "sms",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Password,
    Phone,
    MicrosoftAuthenticator,
    SoftwareOath,
    HardwareOath,
    Fido2,
    Email,
    WindowsHelloForBusiness,
    TemporaryAccessPass,
    PlatformCredential,
    /// An external authentication method (a third-party MFA provider); beta.
    ExternalAuthentication,
    /// QR code + PIN sign-in (frontline workers); beta.
    QrCodePin,
    /// The deprecated passwordless Microsoft Authenticator type, still in beta.
    PasswordlessMicrosoftAuthenticator,
}

const ALL_KINDS: [MethodKind; 13] = [
    MethodKind::Password,
    MethodKind::Phone,
    MethodKind::MicrosoftAuthenticator,
    MethodKind::SoftwareOath,
    MethodKind::HardwareOath,
    MethodKind::Fido2,
    MethodKind::Email,
    MethodKind::WindowsHelloForBusiness,
    MethodKind::TemporaryAccessPass,
    MethodKind::PlatformCredential,
    MethodKind::ExternalAuthentication,
    MethodKind::QrCodePin,
    MethodKind::PasswordlessMicrosoftAuthenticator,
];

impl MethodKind {
    /// The short name used in the tenant file and `/_emulator/users`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MethodKind::Password => "password",
            MethodKind::Phone => "phone",
            MethodKind::MicrosoftAuthenticator => "microsoftAuthenticator",
            MethodKind::SoftwareOath => "softwareOath",
            MethodKind::HardwareOath => "hardwareOath",
            MethodKind::Fido2 => "fido2",
            MethodKind::Email => "email",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusiness",
            MethodKind::TemporaryAccessPass => "temporaryAccessPass",
            MethodKind::PlatformCredential => "platformCredential",
            MethodKind::ExternalAuthentication => "externalAuthentication",
            MethodKind::QrCodePin => "qrCodePin",
            MethodKind::PasswordlessMicrosoftAuthenticator => "passwordlessMicrosoftAuthenticator",
        }
    }

    pub(crate) fn odata_type(self) -> String {
        match self {
            // Graph names this one without "Authentication" twice.
            MethodKind::ExternalAuthentication => {
                "#microsoft.graph.externalAuthenticationMethod".to_string()
            }
            _ => format!("#microsoft.graph.{}AuthenticationMethod", self.name()),
        }
    }

    /// Beta-only types are hidden from the v1.0 list and unreachable through v1.0.
    pub(crate) fn beta_only(self) -> bool {
        matches!(
            self,
            MethodKind::HardwareOath
                | MethodKind::ExternalAuthentication
                | MethodKind::QrCodePin
                | MethodKind::PasswordlessMicrosoftAuthenticator
        )
    }

    /// Types this emulator deletes through their own endpoint (docs/graph.md §2). The
    /// password has none; the others are listed and read but their deletes are not modelled,
    /// so a DELETE gets `405` (docs/tenant-format.md).
    pub(crate) fn deletable(self) -> bool {
        !matches!(
            self,
            MethodKind::Password
                | MethodKind::ExternalAuthentication
                | MethodKind::QrCodePin
                | MethodKind::PasswordlessMicrosoftAuthenticator
        )
    }

    pub(crate) fn from_name(name: &str) -> Option<MethodKind> {
        ALL_KINDS
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// `phoneMethods` → Phone (case-insensitive, as Graph matches segments).
    pub(crate) fn from_segment(segment: &str) -> Option<MethodKind> {
        let lower = segment.to_ascii_lowercase();
        let stem = lower.strip_suffix("methods")?;
        ALL_KINDS
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(stem))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhoneType {
    Mobile,
    AlternateMobile,
    Office,
}

impl PhoneType {
    fn parse(s: &str) -> Option<PhoneType> {
        match s {
            "mobile" => Some(PhoneType::Mobile),
            "alternateMobile" => Some(PhoneType::AlternateMobile),
            "office" => Some(PhoneType::Office),
            _ => None,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
        }
    }
    fn id(self) -> &'static str {
        match self {
            PhoneType::Mobile => MOBILE_ID,
            PhoneType::AlternateMobile => ALTERNATE_MOBILE_ID,
            PhoneType::Office => OFFICE_ID,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Method {
    pub(crate) kind: MethodKind,
    pub(crate) id: String,
    pub(crate) phone_type: Option<PhoneType>,
    pub(crate) detail: Option<String>,
}

impl Method {
    fn to_graph_json(&self) -> Value {
        let mut v = json!({"@odata.type": self.kind.odata_type(), "id": self.id});
        let detail = self.detail.clone();
        match self.kind {
            MethodKind::Phone => {
                v["phoneNumber"] = json!(detail);
                v["phoneType"] = json!(self.phone_type.map(PhoneType::name));
                v["smsSignInState"] = json!("notSupported");
            }
            MethodKind::Email => v["emailAddress"] = json!(detail),
            MethodKind::SoftwareOath => v["secretKey"] = Value::Null,
            MethodKind::HardwareOath => {
                v["serialNumber"] = json!(detail.unwrap_or_else(|| "00000000".to_string()));
            }
            MethodKind::TemporaryAccessPass => {
                v["isUsable"] = json!(true);
                v["lifetimeInMinutes"] = json!(60);
            }
            MethodKind::Password => v["password"] = Value::Null,
            _ => v["displayName"] = json!(detail),
        }
        v
    }

    fn to_state_json(&self) -> Value {
        let mut v = json!({"type": self.kind.name(), "id": self.id});
        if let Some(t) = self.phone_type {
            v["phoneType"] = json!(t.name());
        }
        v
    }

    /// Whether this method satisfies a signInPreferences value.
    fn serves(&self, preferred: &str) -> bool {
        match preferred {
            "push" => self.kind == MethodKind::MicrosoftAuthenticator,
            "oath" => matches!(
                self.kind,
                MethodKind::SoftwareOath | MethodKind::HardwareOath
            ),
            "sms" | "voiceMobile" => self.phone_type == Some(PhoneType::Mobile),
            "voiceAlternateMobile" => self.phone_type == Some(PhoneType::AlternateMobile),
            "voiceOffice" => self.phone_type == Some(PhoneType::Office),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) display_name: String,
    pub(crate) user_type: String,
    pub(crate) mail: Option<String>,
    pub(crate) proxy_addresses: Vec<String>,
    pub(crate) account_enabled: bool,
    pub(crate) mfa_state: String,
    /// Registered methods other than the password (which every user has and nobody deletes).
    pub(crate) methods: Vec<Method>,
    pub(crate) preferred: Option<String>,
    pub(crate) system_preferred: bool,
    pub(crate) revoke_count: u64,
    pub(crate) revocations_effective: u64,
    pub(crate) writes: u64,
}

impl User {
    fn is_guest(&self) -> bool {
        self.user_type.eq_ignore_ascii_case("Guest")
    }

    /// The method the default (preferred) value points at: the first one serving it.
    fn default_method_index(&self) -> Option<usize> {
        let preferred = self.preferred.as_deref()?;
        if preferred == "oath" {
            // Software OATH first, as the Authenticator-based OATH is the common default.
            if let Some(i) = self
                .methods
                .iter()
                .position(|m| m.kind == MethodKind::SoftwareOath)
            {
                return Some(i);
            }
        }
        self.methods.iter().position(|m| m.serves(preferred))
    }
}

/// All users, indexed by object id and by lowercased UPN.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tenant {
    pub(crate) users: Vec<User>,
    by_id: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
}

/// Whether `s` is a GUID: Graph then looks the key up as an object id.
pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

impl Tenant {
    /// Builds the state from tenant-file users; missing ids come from `seed`.
    pub(crate) fn build(specs: &[UserSpec], seed: u64) -> Result<Tenant, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_7468_6f64_7321);
        let mut tenant = Tenant::default();
        let mut proxies: HashMap<String, usize> = HashMap::new();
        for (n, spec) in specs.iter().enumerate() {
            let at = |msg: String| format!("user {} ({}): {msg}", n + 1, spec.upn);
            let id = match &spec.id {
                Some(id) => uuid::Uuid::parse_str(id)
                    .map_err(|_| at(format!("id '{id}' is not a GUID")))?
                    .hyphenated()
                    .to_string(),
                None => seeded_guid(&mut rng),
            };
            if spec.upn.is_empty() || !spec.upn.contains('@') {
                return Err(at("userPrincipalName must look like name@domain".into()));
            }
            if !matches!(spec.user_type.as_str(), "Member" | "Guest") {
                return Err(at(format!(
                    "userType must be Member or Guest, got '{}'",
                    spec.user_type
                )));
            }
            if !matches!(
                spec.per_user_mfa_state.as_str(),
                "disabled" | "enabled" | "enforced"
            ) {
                return Err(at(format!(
                    "perUserMfaState must be disabled, enabled or enforced, got '{}'",
                    spec.per_user_mfa_state
                )));
            }
            let mut methods: Vec<Method> = Vec::new();
            for m in &spec.methods {
                let kind = MethodKind::from_name(&m.kind)
                    .filter(|k| *k != MethodKind::Password)
                    .ok_or_else(|| at(format!("unknown method type '{}'", m.kind)))?;
                let phone_type = match (kind, &m.phone_type) {
                    (MethodKind::Phone, Some(t)) => Some(
                        PhoneType::parse(t)
                            .ok_or_else(|| at(format!("unknown phoneType '{t}'")))?,
                    ),
                    (MethodKind::Phone, None) => {
                        return Err(at("a phone method needs a phoneType".into()));
                    }
                    (_, Some(_)) => return Err(at("phoneType is for phone methods only".into())),
                    (_, None) => None,
                };
                let id = match (phone_type, &m.id) {
                    (Some(t), Some(id)) if !id.eq_ignore_ascii_case(t.id()) => {
                        return Err(at(format!(
                            "a {} phone method has the fixed id {}",
                            t.name(),
                            t.id()
                        )));
                    }
                    (Some(t), _) => t.id().to_string(),
                    (None, Some(id)) => id.clone(),
                    (None, None) => generated_method_id(kind, &mut rng),
                };
                if methods.iter().any(|x| x.id.eq_ignore_ascii_case(&id)) {
                    return Err(at(format!("method id {id} appears twice")));
                }
                methods.push(Method {
                    kind,
                    id,
                    phone_type,
                    detail: m.detail.clone(),
                });
            }
            if methods
                .iter()
                .any(|m| m.phone_type == Some(PhoneType::AlternateMobile))
                && !methods
                    .iter()
                    .any(|m| m.phone_type == Some(PhoneType::Mobile))
            {
                return Err(at("an alternateMobile phone needs a mobile phone".into()));
            }
            if let Some(p) = &spec.default_method {
                if !PREFERRED_VALUES.contains(&p.as_str()) {
                    return Err(at(format!("unknown defaultMethod '{p}'")));
                }
                if !methods.iter().any(|m| m.serves(p)) {
                    return Err(at(format!("defaultMethod '{p}' has no matching method")));
                }
            }
            if let Some(mail) = &spec.mail
                && (mail.is_empty() || !mail.contains('@'))
            {
                return Err(at(format!("mail '{mail}' must look like name@domain")));
            }
            for p in &spec.proxy_addresses {
                let well_formed = p
                    .split_once(':')
                    .is_some_and(|(kind, address)| !kind.is_empty() && !address.is_empty());
                if !well_formed {
                    return Err(at(format!(
                        "proxyAddresses entry '{p}' must be TYPE:ADDRESS, e.g. SMTP:name@domain"
                    )));
                }
                // Graph keeps proxy addresses unique across the directory.
                if let Some(other) = proxies.insert(p.to_lowercase(), n) {
                    return Err(at(format!(
                        "proxyAddresses entry '{p}' is also user {}'s",
                        other + 1
                    )));
                }
            }
            let user = User {
                id: id.clone(),
                upn: spec.upn.clone(),
                display_name: spec
                    .display_name
                    .clone()
                    .unwrap_or_else(|| spec.upn.split('@').next().unwrap_or("").to_string()),
                user_type: spec.user_type.clone(),
                mail: spec.mail.clone(),
                proxy_addresses: spec.proxy_addresses.clone(),
                account_enabled: spec.account_enabled,
                mfa_state: spec.per_user_mfa_state.clone(),
                methods,
                preferred: spec.default_method.clone(),
                system_preferred: spec.system_preferred,
                revoke_count: 0,
                revocations_effective: 0,
                writes: 0,
            };
            let index = tenant.users.len();
            if tenant.by_id.insert(id.clone(), index).is_some() {
                return Err(at(format!("id {id} appears twice")));
            }
            if tenant
                .by_upn
                .insert(spec.upn.to_lowercase(), index)
                .is_some()
            {
                return Err(at("userPrincipalName appears twice".into()));
            }
            tenant.users.push(user);
        }
        Ok(tenant)
    }

    /// Looks a decoded key up as Graph does: a GUID is an object id, anything else a UPN,
    /// both case-insensitively.
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        if is_guid(key) {
            let id = uuid::Uuid::parse_str(key).ok()?.hyphenated().to_string();
            self.by_id.get(&id).copied()
        } else {
            self.by_upn.get(&key.to_lowercase()).copied()
        }
    }

    pub(crate) fn requirements_json(&self, i: usize) -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users('".to_string() + &self.users[i].id + "')/authentication/requirements",
            "perUserMfaState": self.users[i].mfa_state,
        })
    }

    /// PATCH requirements: only disabled, enabled and enforced may be written; `enabled` on a
    /// user with a registered MFA method is stored as `enforced` (docs/graph.md §1).
    pub(crate) fn set_requirements(&mut self, i: usize, body: &Value) -> Result<(), GraphError> {
        let obj = body.as_object().ok_or_else(|| {
            GraphError::new(400, "badRequest", "The request body must be a JSON object.")
        })?;
        for k in obj.keys() {
            if k != "perUserMfaState" && !k.starts_with('@') {
                return Err(GraphError::new(
                    400,
                    "badRequest",
                    format!("Invalid property '{k}' for type strongAuthenticationRequirements."),
                ));
            }
        }
        let state = match obj.get("perUserMfaState") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(GraphError::new(
                    400,
                    "badRequest",
                    "perUserMfaState must be a string: disabled, enabled or enforced.",
                ));
            }
            None => {
                return Err(GraphError::new(
                    400,
                    "badRequest",
                    "The request body must contain perUserMfaState.",
                ));
            }
        };
        if !matches!(state, "disabled" | "enabled" | "enforced") {
            return Err(GraphError::new(
                400,
                "badRequest",
                format!(
                    "Invalid value '{state}' for perUserMfaState; expected disabled, enabled or enforced."
                ),
            ));
        }
        let user = &mut self.users[i];
        user.mfa_state = if state == "enabled" && !user.methods.is_empty() {
            "enforced".to_string()
        } else {
            state.to_string()
        };
        user.writes += 1;
        Ok(())
    }

    /// The method list; v1.0 hides beta-only types.
    /// Every listed method, in order (paging is the route's business).
    pub(crate) fn methods_json(
        &self,
        i: usize,
        beta: bool,
        only: Option<MethodKind>,
    ) -> Vec<Value> {
        let u = &self.users[i];
        let password = Method {
            kind: MethodKind::Password,
            id: PASSWORD_METHOD_ID.to_string(),
            phone_type: None,
            detail: None,
        };
        let value: Vec<Value> = std::iter::once(&password)
            .chain(u.methods.iter())
            .filter(|m| beta || !m.kind.beta_only())
            .filter(|m| only.is_none_or(|k| k == m.kind))
            .map(Method::to_graph_json)
            .collect();
        value
    }

    /// One method by id (any type when `kind` is None).
    pub(crate) fn method_json(
        &self,
        i: usize,
        kind: Option<MethodKind>,
        id: &str,
        beta: bool,
    ) -> Result<Value, GraphError> {
        if id.eq_ignore_ascii_case(PASSWORD_METHOD_ID)
            && kind.is_none_or(|k| k == MethodKind::Password)
        {
            return Ok(Method {
                kind: MethodKind::Password,
                id: PASSWORD_METHOD_ID.to_string(),
                phone_type: None,
                detail: None,
            }
            .to_graph_json());
        }
        self.users[i]
            .methods
            .iter()
            .find(|m| {
                m.id.eq_ignore_ascii_case(id)
                    && kind.is_none_or(|k| k == m.kind)
                    && (beta || !m.kind.beta_only())
            })
            .map(Method::to_graph_json)
            .ok_or_else(|| method_not_found(id))
    }

    /// DELETE one method through its per-type endpoint, with Graph's ordering rules.
    pub(crate) fn delete_method(
        &mut self,
        i: usize,
        kind: MethodKind,
        id: &str,
    ) -> Result<(), GraphError> {
        let user = &mut self.users[i];
        let pos = user
            .methods
            .iter()
            .position(|m| m.kind == kind && m.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| method_not_found(id))?;
        if user.methods[pos].phone_type == Some(PhoneType::Mobile)
            && user
                .methods
                .iter()
                .any(|m| m.phone_type == Some(PhoneType::AlternateMobile))
        {
            return Err(GraphError::new(
                400,
                "badRequest",
                "A user can't have an alternateMobile number without a mobile number. Delete the alternateMobile number first.",
            ));
        }
        let is_default = user.default_method_index() == Some(pos);
        if is_default && user.methods.len() > 1 {
            return Err(GraphError::new(
                400,
                "badRequest",
                "Cannot delete default method with other methods configured. Please change default method before deletion.",
            ));
        }
        user.methods.remove(pos);
        if let Some(p) = user.preferred.clone()
            && !user.methods.iter().any(|m| m.serves(&p))
        {
            // The default pointed at the method just removed (the last one): nothing to prefer.
            user.preferred = None;
        }
        user.writes += 1;
        Ok(())
    }

    pub(crate) fn sign_in_preferences_json(&self, i: usize) -> Value {
        let u = &self.users[i];
        json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users('".to_string() + &u.id + "')/authentication/signInPreferences",
            "isSystemPreferredAuthenticationMethodEnabled": u.system_preferred,
            "userPreferredMethodForSecondaryAuthentication": u.preferred,
            "systemPreferredAuthenticationMethod": Value::Null,
        })
    }

    /// PATCH signInPreferences: known properties only, a known value the user has a method for.
    pub(crate) fn set_sign_in_preferences(
        &mut self,
        i: usize,
        body: &Value,
    ) -> Result<(), GraphError> {
        let bad = |m: String| GraphError::new(400, "badRequest", m);
        let obj = body
            .as_object()
            .ok_or_else(|| bad("The request body must be a JSON object.".into()))?;
        let mut preferred: Option<Option<String>> = None;
        let mut system: Option<bool> = None;
        for (k, v) in obj {
            match k.as_str() {
                "userPreferredMethodForSecondaryAuthentication" => match v {
                    Value::String(s) if PREFERRED_VALUES.contains(&s.as_str()) => {
                        preferred = Some(Some(s.clone()));
                    }
                    _ => {
                        return Err(bad(format!(
                            "Invalid value {v} for userPreferredMethodForSecondaryAuthentication; expected one of {}.",
                            PREFERRED_VALUES.join(", ")
                        )));
                    }
                },
                "isSystemPreferredAuthenticationMethodEnabled" => match v {
                    Value::Bool(b) => system = Some(*b),
                    _ => {
                        return Err(bad(
                            "isSystemPreferredAuthenticationMethodEnabled must be true or false."
                                .into(),
                        ));
                    }
                },
                k if k.starts_with('@') => {}
                other => {
                    return Err(bad(format!(
                        "Invalid property '{other}' for type signInPreferences."
                    )));
                }
            }
        }
        if preferred.is_none() && system.is_none() {
            return Err(bad(
                "The request body contains no property to update.".into()
            ));
        }
        let user = &mut self.users[i];
        if let Some(Some(p)) = &preferred
            && !user.methods.iter().any(|m| m.serves(p))
        {
            return Err(bad(format!(
                "The user has no registered authentication method for '{p}'."
            )));
        }
        if let Some(p) = preferred {
            user.preferred = p;
        }
        if let Some(s) = system {
            user.system_preferred = s;
        }
        user.writes += 1;
        Ok(())
    }

    /// revokeSignInSessions: counted for everyone; effective only for members, since Graph
    /// "doesn't revoke sign-in sessions for external users" yet still answers 200.
    pub(crate) fn revoke(&mut self, i: usize) {
        let user = &mut self.users[i];
        user.revoke_count += 1;
        if !user.is_guest() {
            user.revocations_effective += 1;
        }
        user.writes += 1;
    }

    /// `/_emulator/users`.
    pub(crate) fn snapshot(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|u| {
                json!({
                    "id": u.id,
                    "upn": u.upn,
                    "displayName": u.display_name,
                    "userType": u.user_type,
                    "mail": u.mail,
                    "proxyAddresses": u.proxy_addresses,
                    "accountEnabled": u.account_enabled,
                    "perUserMfaState": u.mfa_state,
                    "methods": u.methods.iter().map(Method::to_state_json).collect::<Vec<_>>(),
                    "defaultMethod": u.preferred,
                    "isSystemPreferredAuthenticationMethodEnabled": u.system_preferred,
                    "revoke_count": u.revoke_count,
                    "revocations_effective": u.revocations_effective,
                    "writes": u.writes,
                })
            })
            .collect();
        json!({ "users": users })
    }

    /// Per-user write figures for `/_emulator/stats`.
    pub(crate) fn write_figures(&self) -> Value {
        let mut per_user = serde_json::Map::new();
        let mut max = 0;
        let mut more_than_once = 0;
        for u in &self.users {
            if u.writes > 0 {
                per_user.insert(u.id.clone(), json!(u.writes));
            }
            max = max.max(u.writes);
            if u.writes > 1 {
                more_than_once += 1;
            }
        }
        json!({
            "users_written": per_user.len(),
            "max_writes_per_user": max,
            "users_written_more_than_once": more_than_once,
            "writes_per_user": per_user,
        })
    }
}

fn method_not_found(id: &str) -> GraphError {
    GraphError::new(
        404,
        "itemNotFound",
        format!("The authentication method '{id}' was not found for this user."),
    )
}

/// Method ids look like Graph's: GUIDs, and base64url strings for FIDO2 keys.
fn generated_method_id(kind: MethodKind, rng: &mut ChaCha8Rng) -> String {
    if kind == MethodKind::Fido2 {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..22)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    } else {
        seeded_guid(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::MethodSpec;

    fn spec(methods: &[(&str, Option<&str>)], default: Option<&str>) -> UserSpec {
        UserSpec {
            id: None,
            upn: "a@contoso.onmicrosoft.com".into(),
            display_name: None,
            user_type: "Member".into(),
            per_user_mfa_state: "disabled".into(),
            methods: methods
                .iter()
                .map(|(k, t)| MethodSpec {
                    kind: k.to_string(),
                    id: None,
                    phone_type: t.map(str::to_string),
                    detail: None,
                })
                .collect(),
            default_method: default.map(str::to_string),
            system_preferred: false,
            ..UserSpec::default()
        }
    }

    #[test]
    fn mobile_waits_for_alternate_mobile_and_default_goes_last() {
        let s = spec(
            &[
                ("phone", Some("mobile")),
                ("phone", Some("alternateMobile")),
                ("email", None),
            ],
            Some("sms"),
        );
        let mut t = Tenant::build(&[s], 1).unwrap();
        assert_eq!(
            t.delete_method(0, MethodKind::Phone, MOBILE_ID)
                .unwrap_err()
                .status,
            400
        );
        t.delete_method(0, MethodKind::Phone, ALTERNATE_MOBILE_ID)
            .unwrap();
        let err = t
            .delete_method(0, MethodKind::Phone, MOBILE_ID)
            .unwrap_err();
        assert!(err.message.starts_with("Cannot delete default method"));
        let email = t.users[0].methods[1].id.clone();
        t.delete_method(0, MethodKind::Email, &email).unwrap();
        t.delete_method(0, MethodKind::Phone, MOBILE_ID).unwrap();
        assert_eq!(t.users[0].preferred, None);
    }

    #[test]
    fn enabled_is_stored_as_enforced_once_a_method_is_registered() {
        let mut t = Tenant::build(&[spec(&[("fido2", None)], None)], 1).unwrap();
        t.set_requirements(0, &json!({"perUserMfaState": "enabled"}))
            .unwrap();
        assert_eq!(t.users[0].mfa_state, "enforced");
        assert!(
            t.set_requirements(0, &json!({"perUserMfaState": "Enabled"}))
                .is_err()
        );
    }

    #[test]
    fn mail_must_be_an_address_and_proxy_addresses_unique_across_users() {
        let mut a = spec(&[], None);
        a.mail = Some("not-an-address".into());
        assert!(Tenant::build(&[a], 1).unwrap_err().contains("mail"));
        let mut a = spec(&[], None);
        a.proxy_addresses = vec!["SMTP:a@contoso.com".into()];
        let mut b = spec(&[], None);
        b.upn = "b@contoso.onmicrosoft.com".into();
        b.proxy_addresses = vec!["smtp:A@contoso.com".into()];
        assert!(
            Tenant::build(&[a.clone(), b], 1)
                .unwrap_err()
                .contains("proxyAddresses")
        );
        let mut bare = spec(&[], None);
        bare.proxy_addresses = vec!["a@contoso.com".into()];
        assert!(Tenant::build(&[bare], 1).is_err());
        let t = Tenant::build(&[a], 1).unwrap();
        assert!(t.users[0].account_enabled);
    }

    #[test]
    fn keys_are_case_insensitive() {
        let t = Tenant::build(&[spec(&[], None)], 1).unwrap();
        assert_eq!(t.find("A@CONTOSO.onmicrosoft.com"), Some(0));
        let id = t.users[0].id.to_uppercase();
        assert_eq!(t.find(&id), Some(0));
        assert_eq!(t.find("b@contoso.onmicrosoft.com"), None);
    }
}
