//! Turning the raw command line and environment into validated settings (URLs, pacing,
//! sign-in mode). Nothing past this module sees raw arguments. Reads the environment only
//! through the `env` function it is given, so tests can supply their own.

use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::action::Action;
use crate::cli::{
    ApplyArgs, CheckArgs, ConnectionArgs, EmulatorArgs, ExportArgs, InputArgs, OutputArgs,
    PacingArgs, PlanArgs, ProtectArgs, RollbackArgs, RunArgs, SelectionArgs,
};
use crate::emulator::EmulatorConfig;
use crate::engine::EngineSettings;
use crate::engine::settings::{
    BatchSize, DEFAULT_APP_UNIT_RATE, DEFAULT_APP_WRITE_RATE, DEFAULT_READ_RATE,
    DEFAULT_WRITE_RATE, FailureBound, Pace,
};
use crate::error::Error;
use crate::graph::{AssertionAlg, Cloud, ManagedIdentityEndpoint, validate_base_url};
use crate::input::{HiddenRows, InputOptions};
use crate::selection::Selection;

/// How to sign in.
pub(crate) enum SignIn {
    /// An in-process emulator; with a tenant file, that tenant; with a state file, the
    /// tenant kept there (when it exists), saved back there at the end.
    Sandbox {
        tenant: Option<PathBuf>,
        state: Option<PathBuf>,
    },
    /// `GRAPH_ACCESS_TOKEN`: used as is, cannot be renewed.
    StaticToken(SecretString),
    /// App registration with a client secret from `AZURE_CLIENT_SECRET`.
    ClientSecret {
        /// `--tenant-id`; `None` for an input whose tenant column names every row's tenant
        /// ([`SignIn::missing_tenant`] refuses it for one tenant). So for the other app modes.
        tenant: Option<String>,
        client_id: String,
        secret: SecretString,
    },
    /// App registration with a certificate (PEM or PFX, with its private key).
    Certificate {
        tenant: Option<String>,
        client_id: String,
        path: PathBuf,
        password: Option<SecretString>,
        algorithm: AssertionAlg,
    },
    /// An admin signing in interactively (delegated).
    DeviceCode { tenant: String, client_id: String },
    /// Workload identity federation: the token in `token_file` is the client assertion.
    WorkloadIdentity {
        tenant: Option<String>,
        client_id: String,
        token_file: PathBuf,
    },
    /// This Azure resource's managed identity: system-assigned, or the user-assigned one with
    /// `client_id`.
    ManagedIdentity {
        endpoint: ManagedIdentityEndpoint,
        client_id: Option<String>,
    },
    /// Tokens from `az account get-access-token`, for `--tenant` when given.
    AzureCli { tenant: Option<String> },
}

/// The sign-in modes `--auth` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthMode {
    Auto,
    Secret,
    Certificate,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
    DeviceCode,
    Token,
}

impl AuthMode {
    /// Every mode but `auto`, in `auto`'s order (device code last: only when asked).
    pub(crate) const CHAIN: [AuthMode; 7] = [
        AuthMode::Certificate,
        AuthMode::Token,
        AuthMode::Secret,
        AuthMode::WorkloadIdentity,
        AuthMode::ManagedIdentity,
        AuthMode::AzureCli,
        AuthMode::DeviceCode,
    ];

    /// The `--auth` value.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthMode::Auto => "auto",
            AuthMode::Secret => "secret",
            AuthMode::Certificate => "certificate",
            AuthMode::WorkloadIdentity => "workload-identity",
            AuthMode::ManagedIdentity => "managed-identity",
            AuthMode::AzureCli => "azure-cli",
            AuthMode::DeviceCode => "device-code",
            AuthMode::Token => "token",
        }
    }

    fn parse(text: &str) -> Result<AuthMode, Error> {
        let wanted = text.trim().to_ascii_lowercase();
        std::iter::once(AuthMode::Auto)
            .chain(AuthMode::CHAIN)
            .find(|m| m.as_str() == wanted)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--auth must be one of auto, secret, certificate, workload-identity, managed-identity, azure-cli, device-code, token; got {text:?}"
                ))
            })
    }
}

/// The error of a sign-in that needs a tenant and was given none.
fn no_tenant(what: &str) -> Error {
    Error::Auth(format!(
        "{what} needs the tenant: pass --tenant-id or set AZURE_TENANT_ID (or name each row's tenant in a tenant column)"
    ))
}

impl SignIn {
    /// The error of an app sign-in without a tenant, for a run in one tenant (a many-tenant
    /// input names each row's tenant instead, rollout/tenants.rs); checked before anything is
    /// sent.
    pub(crate) fn missing_tenant(&self) -> Option<Error> {
        let what = match self {
            SignIn::ClientSecret { tenant: None, .. } => "AZURE_CLIENT_SECRET",
            SignIn::Certificate { tenant: None, .. } => {
                "--certificate (AZURE_CLIENT_CERTIFICATE_PATH)"
            }
            SignIn::WorkloadIdentity { tenant: None, .. } => "AZURE_FEDERATED_TOKEN_FILE",
            _ => return None,
        };
        Some(no_tenant(what))
    }
}

/// Where to connect and how to sign in.
pub(crate) struct Connection {
    pub sign_in: SignIn,
    /// Which mode signs in and why, for the "signed in with" line: e.g.
    /// `certificate (auto: AZURE_CLIENT_CERTIFICATE_PATH)`.
    pub chosen: String,
    /// The national cloud `--cloud` named (the hosts may be overridden).
    pub cloud: Cloud,
    pub graph_url: String,
    pub authority: String,
    pub scope: String,
}

impl Connection {
    /// The `--sandbox-state` file, which the sandbox writes.
    pub(crate) fn sandbox_state(&self) -> Option<&std::path::Path> {
        match &self.sign_in {
            SignIn::Sandbox { state, .. } => state.as_deref(),
            _ => None,
        }
    }
}

/// The selection flags as a [`Selection`], `None` when none is given. `--filter` alone keeps
/// guests (the filter says who); `--all-users` keeps members, guests only with
/// `--include-guests` (clap refuses `--include-guests` without `--all-users`, and `--group`
/// with either of the others).
pub(crate) fn selection(args: &SelectionArgs) -> Result<Option<Selection>, Error> {
    if let Some(empty) = args.group.iter().find(|g| g.trim().is_empty()) {
        return Err(Error::Usage(format!(
            "--group needs a group's display name or object id, got {empty:?}"
        )));
    }
    if !args.group.is_empty() {
        return Ok(Some(Selection::Groups(
            args.group.iter().map(|g| g.trim().to_string()).collect(),
        )));
    }
    if let Some(f) = &args.filter
        && f.trim().is_empty()
    {
        return Err(Error::Usage(
            "--filter needs an OData filter expression (e.g. \"accountEnabled eq true\"), got an empty one".into(),
        ));
    }
    if !args.all_users && args.filter.is_none() {
        return Ok(None);
    }
    Ok(Some(Selection::Users {
        guests: !args.all_users || args.include_guests,
        filter: args.filter.clone(),
    }))
}

/// What `export` does, validated.
pub(crate) struct ExportSettings {
    pub(crate) out: PathBuf,
    pub(crate) resume: bool,
    pub(crate) overwrite: bool,
    /// The users to export: the selection, or every user (guests included) without one.
    pub(crate) selection: Selection,
    /// `--tenants FILE`: the selection in each of these tenants, into one file
    /// (export/tenants.rs).
    pub(crate) tenants: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
    pub(crate) excel: bool,
    pub(crate) engine: EngineSettings,
    pub(crate) output: Output,
}

pub(crate) fn export(
    args: &ExportArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(ExportSettings, Connection), Error> {
    let selection = selection(&args.selection)?.unwrap_or(Selection::Users {
        guests: true,
        filter: None,
    });
    // Reads only: the engine runs dry.
    let engine = engine_settings(&args.pacing, "portal", true, None)?;
    let connection = connection(&args.connection, env)?;
    Ok((
        ExportSettings {
            out: args.out.clone(),
            resume: args.resume,
            overwrite: args.overwrite,
            selection,
            tenants: args.selection.tenants.clone(),
            html: args.html.clone(),
            excel: args.excel,
            engine,
            output: output(&args.output),
        },
        connection,
    ))
}

pub(crate) fn input_options(args: &InputArgs) -> Result<InputOptions, Error> {
    let action = match &args.action {
        Some(text) => {
            Some(Action::parse_combo(text).map_err(|e| Error::Usage(format!("--action: {e}")))?)
        }
        None => None,
    };
    let keep_columns = args
        .keep_columns
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let hidden_rows = match args.hidden_rows.as_deref().map(str::to_ascii_lowercase) {
        None => HiddenRows::Refuse,
        Some(v) if v == "include" => HiddenRows::Include,
        Some(v) if v == "skip" => HiddenRows::Skip,
        Some(v) => {
            return Err(Error::Usage(format!(
                "--hidden-rows must be 'include' or 'skip', got '{v}'"
            )));
        }
    };
    Ok(InputOptions {
        action,
        user_column: args.user_column.clone(),
        action_column: args.action_column.clone(),
        skip_invalid: args.skip_invalid,
        sheet: args.sheet.clone(),
        keep_columns,
        hidden_rows,
        no_header: args.no_header,
        user_list: false,
    })
}

/// A told rate is held (its own ceiling); an untold one starts just under the documented quota
/// and may grow into a burst the service allows.
fn pace(told: Option<f64>, default: f64, flag: &str) -> Result<Option<Pace>, Error> {
    let pace = match told {
        Some(r) => Pace::held(r),
        None => Pace::growing(default, default * UNTOLD_HEADROOM),
    };
    match (pace, told) {
        (Some(p), _) => Ok(Some(p)),
        (None, Some(v)) => Err(Error::Usage(format!(
            "{flag} must be a positive number of requests per second, got {v}"
        ))),
        (None, None) => Err(Error::Usage(format!(
            "--quota-scale is too large: the default {flag} would be {default} requests per second"
        ))),
    }
}

/// How far untold pacing may grow above the documented quota while Graph's own budget shows
/// room (`x-ms-throttle-limit-percentage` absent or low): Graph grants its bucket as a burst.
const UNTOLD_HEADROOM: f64 = 4.0;

/// A count flag's value when it is 1 to `most`, or the usage line naming the flag.
fn one_to<N: TryFrom<NonZeroU64>>(flag: &str, value: u64, most: u64) -> Result<N, Error> {
    NonZeroU64::new(value)
        .filter(|n| n.get() <= most)
        .and_then(|n| N::try_from(n).ok())
        .ok_or_else(|| Error::Usage(format!("{flag} must be between 1 and {most}, got {value}")))
}

/// The engine's settings, validated here once: the engine's types cannot hold a value out of
/// range, so it never re-checks one.
pub(crate) fn engine_settings(
    pacing: &PacingArgs,
    reset_scope: &str,
    dry_run: bool,
    max_changes: Option<u64>,
) -> Result<EngineSettings, Error> {
    let reset_all = match reset_scope.to_ascii_lowercase().as_str() {
        "portal" => false,
        "all" => true,
        other => {
            return Err(Error::Usage(format!(
                "--reset-scope must be 'portal' or 'all', got '{other}'"
            )));
        }
    };
    let batch_size = BatchSize::new(pacing.batch_size).ok_or_else(|| {
        Error::Usage(format!(
            "--batch-size must be between 1 and 20 (Microsoft Graph's $batch limit), got {}",
            pacing.batch_size
        ))
    })?;
    let concurrency: NonZeroUsize = one_to("--concurrency", pacing.concurrency as u64, 64)?;
    let max_attempts: NonZeroU32 = one_to("--max-attempts", pacing.max_attempts.into(), 100)?;
    if !(pacing.quota_scale.is_finite() && pacing.quota_scale > 0.0) {
        return Err(Error::Usage(format!(
            "--quota-scale must be a positive number, got {}",
            pacing.quota_scale
        )));
    }
    let writes = pace(
        pacing.write_rate,
        DEFAULT_WRITE_RATE * pacing.quota_scale,
        "--write-rate",
    )?;
    let reads = pace(
        pacing.read_rate,
        DEFAULT_READ_RATE * pacing.quota_scale,
        "--read-rate",
    )?;
    // Held whether told or not: Graph says nothing of this limit until its 429s.
    let app_rate = pacing
        .app_write_rate
        .unwrap_or(DEFAULT_APP_WRITE_RATE * pacing.quota_scale);
    let app_writes = Some(Pace::held(app_rate).ok_or_else(|| {
        Error::Usage(format!(
            "--app-write-rate must be a positive number of writes per second, got {app_rate}"
        ))
    })?);
    let unit_rate = pacing
        .app_unit_rate
        .unwrap_or(DEFAULT_APP_UNIT_RATE * pacing.quota_scale);
    let app_units = Some(Pace::held(unit_rate).ok_or_else(|| {
        Error::Usage(format!(
            "--app-unit-rate must be a positive number of requests per second, got {unit_rate}"
        ))
    })?);
    Ok(EngineSettings {
        batch_size,
        concurrency,
        writes,
        reads,
        app_writes,
        app_units,
        max_attempts,
        dry_run,
        reset_all,
        max_changes,
        shutdown_grace: Duration::from_secs(30),
        ..EngineSettings::default()
    })
}

/// The VM metadata service's managed-identity token URL (docs/graph.md §10.1).
pub(crate) const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// Why `auto` passes over a managed identity.
const NO_MANAGED_IDENTITY: &str = "IDENTITY_ENDPOINT and IDENTITY_HEADER are not set (on an Azure VM pass --managed-identity: auto does not probe the metadata service)";

/// `--managed-identity CLIENT_ID`'s value: a client id is a GUID, so anything else is most
/// likely the input file taken as the optional value (`check --managed-identity users.csv`).
fn managed_client_id(id: &str) -> Result<Option<String>, Error> {
    let id = id.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(Error::Usage(format!(
            "--managed-identity takes the client id (a GUID) of a user-assigned identity, got {id:?}; put the input file before --managed-identity, or write --managed-identity= for the system-assigned identity"
        )));
    }
    Ok(Some(id.to_string()))
}

/// What the sign-in modes are built from: the flags and the environment.
struct Setup<'a> {
    args: &'a ConnectionArgs,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Setup<'_> {
    fn nonempty(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    fn flag(value: Option<&String>) -> Option<String> {
        value.filter(|t| !t.trim().is_empty()).cloned()
    }

    /// The tenant (when named: a many-tenant input names its own, rollout/tenants.rs) and the
    /// app an app mode needs, or the line saying the app is missing.
    fn app(&self, what: &str) -> Result<(Option<String>, String), Error> {
        let tenant = Self::flag(self.args.tenant_id.as_ref());
        let client_id = Self::flag(self.args.client_id.as_ref()).ok_or_else(|| {
            Error::Auth(format!(
                "{what} needs the app: pass --client-id or set AZURE_CLIENT_ID"
            ))
        })?;
        Ok((tenant, client_id))
    }

    /// The mode built when it is set up (`Ok(None)` with the reason when it is not).
    fn build(&self, mode: AuthMode) -> Result<Result<SignIn, String>, Error> {
        let args = self.args;
        Ok(match mode {
            AuthMode::Auto => Err("auto is no mode of its own".into()),
            AuthMode::Certificate => {
                match args
                    .certificate
                    .clone()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    None => Err("--certificate / AZURE_CLIENT_CERTIFICATE_PATH is not set".into()),
                    Some(path) => {
                        let algorithm = args
                            .assertion_alg
                            .parse::<AssertionAlg>()
                            .map_err(|e| Error::Usage(format!("--assertion-alg: {e}")))?;
                        let (tenant, client_id) =
                            self.app("--certificate (AZURE_CLIENT_CERTIFICATE_PATH)")?;
                        Ok(SignIn::Certificate {
                            tenant,
                            client_id,
                            path,
                            password: self
                                .nonempty("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                                .map(SecretString::from),
                            algorithm,
                        })
                    }
                }
            }
            AuthMode::Token => match self.nonempty("GRAPH_ACCESS_TOKEN") {
                None => Err("GRAPH_ACCESS_TOKEN is not set".into()),
                Some(token) => {
                    let token = SecretString::from(token.trim().to_string());
                    crate::graph::check_static_token(&token)
                        .map_err(|e| Error::Auth(e.to_string()))?;
                    Ok(SignIn::StaticToken(token))
                }
            },
            AuthMode::Secret => match self.nonempty("AZURE_CLIENT_SECRET") {
                None => Err("AZURE_CLIENT_SECRET is not set".into()),
                Some(secret) => {
                    let (tenant, client_id) = self.app("AZURE_CLIENT_SECRET")?;
                    Ok(SignIn::ClientSecret {
                        tenant,
                        client_id,
                        secret: SecretString::from(secret),
                    })
                }
            },
            AuthMode::WorkloadIdentity => match self.nonempty("AZURE_FEDERATED_TOKEN_FILE") {
                None => Err("AZURE_FEDERATED_TOKEN_FILE is not set".into()),
                Some(file) => {
                    let (tenant, client_id) = self.app("AZURE_FEDERATED_TOKEN_FILE")?;
                    Ok(SignIn::WorkloadIdentity {
                        tenant,
                        client_id,
                        token_file: PathBuf::from(file),
                    })
                }
            },
            AuthMode::ManagedIdentity => {
                let endpoint = self.managed_endpoint()?;
                // Asked for by name, a VM's metadata service is assumed; `auto` takes a
                // managed identity only when the platform's variables say so (it never probes
                // the metadata service, docs/graph.md §12).
                let asked = args.managed_identity.is_some() || self.requested()? == Some(mode);
                // `--managed-identity ID` names a user-assigned identity; otherwise
                // AZURE_CLIENT_ID does, as DefaultAzureCredential reads it (§12), and
                // a bare `--managed-identity` is the system-assigned one.
                let client_id = match &args.managed_identity {
                    Some(Some(id)) => managed_client_id(id)?,
                    Some(None) => None,
                    None => Self::flag(args.client_id.as_ref()),
                };
                let imds = || -> Result<String, Error> {
                    match &args.imds_endpoint {
                        Some(url) => {
                            validate_base_url(url, "--imds-endpoint (MFA_ROLLOUT_IMDS_ENDPOINT)")
                                .map_err(Error::Usage)
                        }
                        None => Ok(IMDS_TOKEN_URL.to_string()),
                    }
                };
                match endpoint {
                    Some(endpoint) => Ok(endpoint),
                    None if asked => Ok(ManagedIdentityEndpoint::Imds { url: imds()? }),
                    None => Err(NO_MANAGED_IDENTITY.into()),
                }
                .map(|endpoint| SignIn::ManagedIdentity {
                    endpoint,
                    client_id,
                })
            }
            AuthMode::AzureCli => {
                if args.azure_cli || self.requested()? == Some(mode) || self.az_on_path() {
                    Ok(SignIn::AzureCli {
                        tenant: Self::flag(args.tenant_id.as_ref()),
                    })
                } else {
                    Err("az is not on PATH".into())
                }
            }
            AuthMode::DeviceCode => {
                if args.device_code || self.requested()? == Some(mode) {
                    // A person signs in to one tenant: it is always named.
                    let (tenant, client_id) = self.app("--device-code")?;
                    let tenant = tenant.ok_or_else(|| no_tenant("--device-code"))?;
                    Ok(SignIn::DeviceCode { tenant, client_id })
                } else {
                    Err("only when asked (--device-code or --auth device-code)".into())
                }
            }
        })
    }

    /// App Service / Functions / Automation's endpoint, when its variables are set.
    fn managed_endpoint(&self) -> Result<Option<ManagedIdentityEndpoint>, Error> {
        match (
            self.nonempty("IDENTITY_ENDPOINT"),
            self.nonempty("IDENTITY_HEADER"),
        ) {
            (Some(url), Some(header)) => {
                let url = crate::graph::validate_identity_endpoint(&url).map_err(Error::Auth)?;
                Ok(Some(ManagedIdentityEndpoint::AppService {
                    url,
                    header: SecretString::from(header),
                }))
            }
            _ => Ok(None),
        }
    }

    fn az_on_path(&self) -> bool {
        let Some(path) = (self.env)("PATH") else {
            return false;
        };
        let names: &[&str] = if cfg!(windows) {
            &["az.cmd", "az.exe", "az"]
        } else {
            &["az"]
        };
        std::env::split_paths(&path).any(|dir| names.iter().any(|n| dir.join(n).is_file()))
    }

    /// The mode the flags ask for by name, if any; more than one is a usage error.
    fn requested(&self) -> Result<Option<AuthMode>, Error> {
        let args = self.args;
        let mut asked: Vec<(AuthMode, &str)> = Vec::new();
        let auth = AuthMode::parse(&args.auth)?;
        if auth != AuthMode::Auto {
            asked.push((auth, "--auth"));
        }
        if args.device_code {
            asked.push((AuthMode::DeviceCode, "--device-code"));
        }
        if args.managed_identity.is_some() {
            asked.push((AuthMode::ManagedIdentity, "--managed-identity"));
        }
        if args.azure_cli {
            asked.push((AuthMode::AzureCli, "--azure-cli"));
        }
        match asked.as_slice() {
            [] => Ok(None),
            [(mode, _)] => Ok(Some(*mode)),
            [(first, a), rest @ ..] => match rest.iter().find(|(m, _)| m != first) {
                None => Ok(Some(*first)),
                Some((other, b)) => Err(Error::Usage(format!(
                    "{a} asks for {} and {b} for {}: choose one sign-in mode",
                    first.as_str(),
                    other.as_str()
                ))),
            },
        }
    }
}

/// Chooses the sign-in mode (docs/graph.md §12): `--sandbox`; else the mode `--auth` (or
/// `--device-code`, `--managed-identity`, `--azure-cli`) names; else `auto`, the first mode
/// that is set up in [`AuthMode::CHAIN`]'s order. A mode that is set up but wrong (a
/// certificate without the tenant) is the error; when none is set up, the error says what
/// each mode looked for, one line each.
pub(crate) fn connection(
    args: &ConnectionArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connection, Error> {
    let cloud = Cloud::parse(&args.cloud).map_err(|e| Error::Usage(format!("--cloud: {e}")))?;
    let graph_url = match &args.graph_url {
        Some(url) => validate_base_url(url, "--graph-url").map_err(Error::Usage)?,
        None => cloud.graph_host().to_string(),
    };
    let authority = match &args.authority_host {
        Some(url) => validate_base_url(url, "--authority-host (AZURE_AUTHORITY_HOST)")
            .map_err(Error::Usage)?,
        None => cloud.login_host().to_string(),
    };
    let scope = cloud.default_scope();
    let setup = Setup { args, env };
    let requested = setup.requested()?;
    let (sign_in, chosen) = if args.sandbox.is_some() || args.sandbox_state.is_some() {
        let sign_in = SignIn::Sandbox {
            tenant: args.sandbox.clone().flatten(),
            state: args.sandbox_state.clone(),
        };
        (sign_in, "the sandbox".to_string())
    } else if let Some(mode) = requested {
        match setup.build(mode)? {
            Ok(sign_in) => (sign_in, mode.as_str().to_string()),
            Err(why) => {
                return Err(Error::Auth(format!(
                    "--auth {} cannot sign in: {why}",
                    mode.as_str()
                )));
            }
        }
    } else {
        let mut tried = Vec::new();
        let mut chosen = None;
        for mode in AuthMode::CHAIN {
            match setup.build(mode)? {
                Ok(sign_in) => {
                    chosen = Some((sign_in, format!("{} (auto)", mode.as_str())));
                    break;
                }
                Err(why) => tried.push(format!("  {}: {why}", mode.as_str())),
            }
        }
        chosen.ok_or_else(|| {
            Error::Auth(format!(
                "no credentials: --auth auto found no sign-in set up (or rehearse with --sandbox); it looked for:\n{}",
                tried.join("\n")
            ))
        })?
    };
    Ok(Connection {
        sign_in,
        chosen,
        cloud,
        graph_url,
        authority,
        scope,
    })
}

/// What `apply` and `plan` run, validated. The connection comes beside it (it is consumed by
/// signing in).
pub(crate) struct RolloutSettings {
    /// Whose rows: an input file's, or a selection's.
    pub(crate) users: Users,
    pub(crate) input_options: InputOptions,
    /// The results file; `None` for a `plan` without `--report` (an unnamed journal).
    pub(crate) results: Option<PathBuf>,
    /// The flag that names `results` (`--results`, or `--report` for `plan`).
    pub(crate) results_flag: &'static str,
    pub(crate) resume: bool,
    /// `--retry-failed` (only with `--resume`): failed rows are done again.
    pub(crate) retry_failed: bool,
    pub(crate) overwrite: bool,
    pub(crate) dry_run: bool,
    /// `--limit`: changes this run makes at most (also in `engine`).
    pub(crate) limit: Option<u64>,
    /// `--max-failures`; a percentage becomes a row count once the rows to do are known.
    pub(crate) failure_bound: Option<FailureBound>,
    pub(crate) engine: EngineSettings,
    pub(crate) html: Option<PathBuf>,
    pub(crate) excel: bool,
    pub(crate) output: Output,
    /// `--exclude FILE` (read with the input, before sign-in).
    pub(crate) exclude_file: Option<PathBuf>,
    /// `--exclude-user KEY`, as given (checked with the exclude file).
    pub(crate) exclude_users: Vec<String>,
    /// `--include-self`: the signed-in admin is not kept out of self-locking actions.
    pub(crate) include_self: bool,
}

/// Where the rows of `apply` and `plan` come from.
pub(crate) enum Users {
    /// An input file (its own actions, or `--action`).
    Input(PathBuf),
    /// A selection's users, each given `actions` (`--action`); in every tenant of the
    /// `--tenants` file when given (rollout/tenant_selection.rs).
    Selection {
        selection: Selection,
        actions: Vec<Action>,
        tenants: Option<PathBuf>,
    },
}

/// Input-file flags, which mean nothing without an input file.
fn input_only_flags(a: &InputArgs) -> Vec<&'static str> {
    [
        (a.user_column.is_some(), "--user-column"),
        (a.action_column.is_some(), "--action-column"),
        (a.skip_invalid, "--skip-invalid"),
        (a.sheet.is_some(), "--sheet"),
        (a.hidden_rows.is_some(), "--hidden-rows"),
        (a.no_header, "--no-header"),
        (a.keep_columns.is_some(), "--keep-columns"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect()
}

/// Whose rows `apply`/`plan` do: INPUT, or the selection with `--action` (clap has refused
/// both, and neither).
fn users(input: &InputArgs, selection_args: &SelectionArgs) -> Result<Users, Error> {
    let chosen = self::selection(selection_args)?;
    match (&input.input, chosen) {
        (Some(_), None) if selection_args.tenants.is_some() => Err(Error::Usage(
            "--tenants names the tenants of a selection (--all-users, --group, --filter); an input file names each row's tenant in a tenant column instead".into(),
        )),
        (Some(path), None) => Ok(Users::Input(path.clone())),
        (None, Some(selection)) => {
            let what = selection.describe();
            if let Some(flag) = input_only_flags(input).first() {
                return Err(Error::Usage(format!(
                    "{flag} reads an input file, and {what} takes none: leave {flag} out"
                )));
            }
            let Some(text) = &input.action else {
                return Err(Error::Usage(format!(
                    "{what} needs --action ACTION (e.g. --action enforce): without an input file nothing else says what to do"
                )));
            };
            let actions =
                Action::parse_combo(text).map_err(|e| Error::Usage(format!("--action: {e}")))?;
            Ok(Users::Selection {
                selection,
                actions,
                tenants: selection_args.tenants.clone(),
            })
        }
        (Some(_), Some(selection)) => Err(Error::Usage(format!(
            "INPUT and {} both name the users: give one",
            selection.describe()
        ))),
        (None, None) => Err(Error::Usage(
            "give the users: INPUT, or --all-users, --group NAME|ID or --filter EXPR".into(),
        )),
    }
}

/// The flags `apply` and `plan` share, before validation.
struct RolloutArgs<'a> {
    input: &'a InputArgs,
    selection: &'a SelectionArgs,
    results: Option<PathBuf>,
    results_flag: &'static str,
    resume: bool,
    retry_failed: bool,
    overwrite: bool,
    dry_run: bool,
    max_changes: Option<u64>,
    limit: Option<u64>,
    max_failures: Option<&'a str>,
    run: &'a RunArgs,
    protect: &'a ProtectArgs,
    connection: &'a ConnectionArgs,
    pacing: &'a PacingArgs,
    output: &'a OutputArgs,
}

pub(crate) fn apply(
    args: &ApplyArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RolloutSettings, Connection), Error> {
    rollout(
        RolloutArgs {
            input: &args.input,
            selection: &args.selection,
            results: Some(args.results.clone()),
            results_flag: "--results",
            resume: args.resume,
            retry_failed: args.retry_failed,
            overwrite: args.overwrite,
            dry_run: args.dry_run,
            max_changes: args.max_changes,
            limit: args.limit,
            max_failures: args.max_failures.as_deref(),
            run: &args.run,
            protect: &args.protect,
            connection: &args.connection,
            pacing: &args.pacing,
            output: &args.output,
        },
        env,
    )
}

pub(crate) fn plan(
    args: &PlanArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RolloutSettings, Connection), Error> {
    rollout(
        RolloutArgs {
            input: &args.input,
            selection: &args.selection,
            results: args.report.clone(),
            results_flag: "--report",
            resume: false,
            retry_failed: false,
            overwrite: args.overwrite,
            dry_run: true,
            max_changes: None,
            limit: None,
            max_failures: None,
            run: &args.run,
            protect: &args.protect,
            connection: &args.connection,
            pacing: &args.pacing,
            output: &args.output,
        },
        env,
    )
}

fn rollout(
    a: RolloutArgs<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RolloutSettings, Connection), Error> {
    if a.retry_failed && !a.resume {
        return Err(Error::Usage(
            "--retry-failed works only with --resume: it redoes the failed rows of an existing results file".into(),
        ));
    }
    let users = users(a.input, a.selection)?;
    let input_options = input_options(a.input)?;
    let mut engine = engine_settings(a.pacing, &a.run.reset_scope, a.dry_run, a.max_changes)?;
    let failure_bound = a
        .max_failures
        .map(FailureBound::parse)
        .transpose()
        .map_err(Error::Usage)?;
    if a.limit == Some(0) {
        return Err(Error::Usage(
            "--limit must be at least 1 (the number of changes this run may make)".into(),
        ));
    }
    engine.limit = a.limit;
    let connection = connection(a.connection, env)?;
    engine.global_cloud = connection.cloud == Cloud::Global;
    let settings = RolloutSettings {
        users,
        input_options,
        results: a.results,
        results_flag: a.results_flag,
        resume: a.resume,
        retry_failed: a.retry_failed,
        overwrite: a.overwrite,
        dry_run: a.dry_run,
        limit: a.limit,
        failure_bound,
        engine,
        html: a.run.html.clone(),
        excel: a.run.excel,
        output: output(a.output),
        exclude_file: a.protect.exclude.clone(),
        exclude_users: a.protect.exclude_user.clone(),
        include_self: a.protect.include_self,
    };
    Ok((settings, connection))
}

/// What a command prints: `--json` (the summary as JSON on stdout) and `-q`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

pub(crate) fn output(args: &OutputArgs) -> Output {
    Output {
        json: args.json,
        quiet: args.quiet,
    }
}

/// What `rollback RESULTS --out FILE` does.
pub(crate) struct RollbackSettings {
    pub(crate) results: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) overwrite: bool,
    pub(crate) output: Output,
}

pub(crate) fn rollback(args: &RollbackArgs) -> RollbackSettings {
    RollbackSettings {
        results: args.results.clone(),
        out: args.out.clone(),
        overwrite: args.overwrite,
        output: output(&args.output),
    }
}

/// What `check` does: sign in, and compare the token's permissions with what the actions of
/// `input` (every action without one) need.
pub(crate) struct CheckSettings {
    /// The input file and how to read it: every row's actions count, invalid or hidden rows
    /// too.
    pub(crate) input: Option<(PathBuf, InputOptions)>,
    pub(crate) connection: Connection,
    pub(crate) output: Output,
}

pub(crate) fn check(
    args: &CheckArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CheckSettings, Error> {
    let input = match &args.input {
        Some(path) => {
            let options = input_options(&InputArgs {
                input: Some(path.clone()),
                action: args.action.clone(),
                user_column: args.user_column.clone(),
                action_column: args.action_column.clone(),
                skip_invalid: true,
                sheet: None,
                // Permissions for every action the file names, hidden rows or not.
                hidden_rows: Some("include".into()),
                keep_columns: None,
                no_header: false,
            })?;
            Some((path.clone(), options))
        }
        None => None,
    };
    Ok(CheckSettings {
        input,
        connection: connection(&args.connection, env)?,
        output: output(&args.output),
    })
}

/// What `mfa-rollout emulator` runs: where to listen and the tenant to serve.
pub(crate) struct EmulatorSettings {
    pub(crate) listen: String,
    pub(crate) config: EmulatorConfig,
}

/// Validates the `emulator` command's flags.
pub(crate) fn emulator(args: &EmulatorArgs) -> Result<EmulatorSettings, Error> {
    Ok(EmulatorSettings {
        listen: args.listen.clone(),
        config: emulator_config(args).map_err(Error::Usage)?,
    })
}

/// The tenant `mfa-rollout emulator` serves: the `--tenant` file or a generated tenant, then
/// every flag given overrides the file's value.
fn emulator_config(args: &EmulatorArgs) -> Result<EmulatorConfig, String> {
    let mut config = match (&args.tenant, args.users) {
        (Some(path), _) => EmulatorConfig::from_tenant_file(path)?,
        (None, Some(n)) => EmulatorConfig::generated(n, args.seed.unwrap_or(0)),
        (None, None) => EmulatorConfig::default(),
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(scale) = args.quota_scale {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(format!(
                "--quota-scale must be a positive number, got {scale}"
            ));
        }
        config.quota_scale = scale;
    }
    if args.no_throttle {
        config.no_throttle = true;
    }
    if let Some(spec) = &args.latency_ms {
        let (ms, jitter) = parse_latency(spec)?;
        config.faults.latency_ms = ms;
        config.faults.latency_jitter_ms = jitter;
    }
    let probability = |name: &str, value: Option<f64>, slot: &mut f64| -> Result<(), String> {
        if let Some(p) = value {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "--{name} must be a probability between 0 and 1, got {p}"
                ));
            }
            *slot = p;
        }
        Ok(())
    };
    probability(
        "fault-batch-429",
        args.fault_batch_429,
        &mut config.faults.batch_429,
    )?;
    probability(
        "fault-batch-503",
        args.fault_batch_503,
        &mut config.faults.batch_503,
    )?;
    probability(
        "fault-item-5xx",
        args.fault_item_5xx,
        &mut config.faults.item_5xx,
    )?;
    probability("fault-drop", args.fault_drop, &mut config.faults.drop)?;
    if let Some(id) = &args.client_id {
        config.client_id = id.clone();
    }
    if let Some(secret) = &args.client_secret {
        config.client_secret = secret.clone();
    }
    if let Some(ttl) = args.token_ttl {
        config.token_ttl = ttl;
    }
    Ok(config)
}

/// Parses `MS` or `MS~JITTER`.
fn parse_latency(spec: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--latency-ms must be MS or MS~JITTER (e.g. 50~20), got '{spec}'");
    let (ms, jitter) = match spec.split_once('~') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (spec.trim(), "0"),
    };
    Ok((
        ms.parse().map_err(|_| bad())?,
        jitter.parse().map_err(|_| bad())?,
    ))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::error::Error;

    /// `check` with `args`, its connection built against `vars` alone.
    fn connect_with(args: &[&str], vars: &[(&str, &str)]) -> Result<super::Connection, Error> {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("mfa-rollout")
                .chain(std::iter::once("check"))
                .chain(args.iter().copied()),
        )
        .expect("parses");
        let crate::cli::Command::Check(check) = cli.command else {
            unreachable!("check parses to Check")
        };
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        connection(&check.connection, &move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    /// The engine settings `plan INPUT` with `args` builds, or the usage line it refuses with.
    fn pacing_with(args: &[&str]) -> Result<EngineSettings, String> {
        let cli = Cli::try_parse_from(["mfa-rollout", "plan", "in.csv"].iter().chain(args))
            .expect("parses");
        let Command::Plan(plan) = cli.command else {
            unreachable!("plan parses to Plan")
        };
        engine_settings(&plan.pacing, "portal", true, None).map_err(|e| e.to_string())
    }

    #[test]
    fn pacing_flags_are_validated_once_into_values_the_engine_cannot_get_wrong() {
        let s = pacing_with(&[
            "--batch-size",
            "7",
            "--concurrency",
            "3",
            "--write-rate",
            "5",
        ])
        .unwrap();
        assert_eq!(s.batch_size.get(), 7);
        assert_eq!(s.concurrency.get(), 3);
        let writes = s.writes.expect("paced");
        assert_eq!((writes.rate(), writes.ceiling()), (5.0, 5.0));
        let reads = s.reads.expect("paced");
        assert!(reads.ceiling() > reads.rate(), "an untold rate may grow");
        for (flags, named) in [
            (&["--batch-size", "0"][..], "--batch-size"),
            (&["--batch-size", "21"], "--batch-size"),
            (&["--concurrency", "0"], "--concurrency"),
            (&["--concurrency", "65"], "--concurrency"),
            (&["--max-attempts", "0"], "--max-attempts"),
            (&["--max-attempts", "101"], "--max-attempts"),
            (&["--write-rate", "0"], "--write-rate"),
            (&["--read-rate", "NaN"], "--read-rate"),
            (&["--quota-scale", "0"], "--quota-scale"),
            (&["--quota-scale", "1e308"], "--quota-scale"),
        ] {
            let e = pacing_with(flags).expect_err("refused");
            assert!(e.contains(named), "{flags:?}: {e}");
        }
    }

    #[test]
    fn auto_never_chooses_the_vm_metadata_service_without_being_asked() {
        let err = connect_with(&[], &[("PATH", "")])
            .err()
            .expect("nothing set up");
        let shown = err.to_string();
        assert!(
            shown.contains("managed-identity: IDENTITY_ENDPOINT and IDENTITY_HEADER are not set"),
            "{shown}"
        );
        let asked = connect_with(&["--managed-identity"], &[]).unwrap();
        match asked.sign_in {
            SignIn::ManagedIdentity {
                endpoint,
                client_id,
            } => {
                assert!(format!("{endpoint:?}").contains("169.254.169.254"));
                assert_eq!(
                    client_id, None,
                    "a bare --managed-identity is system-assigned"
                );
            }
            _ => panic!("managed identity expected"),
        }
    }

    #[test]
    fn a_managed_identity_client_id_must_be_a_guid_so_an_input_file_is_not_taken_for_one() {
        let err = connect_with(&["--managed-identity", "users.csv"], &[])
            .err()
            .expect("not a client id");
        assert!(matches!(err, Error::Usage(_)), "{err}");
        assert!(
            err.to_string()
                .contains("put the input file before --managed-identity"),
            "{err}"
        );
        let id = "5b3c1c2e-0000-4000-8000-00000000a002";
        for (args, want) in [
            (&["--managed-identity", id][..], Some(id)),
            (&["--managed-identity="], None),
        ] {
            match connect_with(args, &[]).unwrap().sign_in {
                SignIn::ManagedIdentity { client_id, .. } => {
                    assert_eq!(client_id.as_deref(), want, "{args:?}");
                }
                _ => panic!("managed identity expected"),
            }
        }
    }

    #[test]
    fn a_mode_set_up_without_its_tenant_is_that_modes_error_not_the_next_mode() {
        // clap reads AZURE_TENANT_ID itself; the flag's absence stands for an unset variable.
        // The mode is chosen (a many-tenant input names the tenants); one tenant is refused.
        let c = connect_with(
            &["--client-id", "app"],
            &[("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(c.sign_in, SignIn::WorkloadIdentity { tenant: None, .. }),
            "{}",
            c.chosen
        );
        let err = c.sign_in.missing_tenant().expect("no tenant");
        assert!(
            err.to_string()
                .contains("AZURE_FEDERATED_TOKEN_FILE needs the tenant"),
            "{err}"
        );
        let device = connect_with(&["--client-id", "app", "--device-code"], &[])
            .err()
            .expect("a person signs in to a named tenant");
        assert!(
            device
                .to_string()
                .contains("--device-code needs the tenant"),
            "{device}"
        );
    }

    fn emulator_flags(extra: &[&str]) -> Result<EmulatorConfig, String> {
        let mut argv = vec!["mfa-rollout", "emulator"];
        argv.extend_from_slice(extra);
        let Command::Emulator(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("emulator command")
        };
        emulator_config(&args)
    }

    #[test]
    fn latency_spec_parses_plain_and_jitter_forms() {
        assert_eq!(parse_latency("50"), Ok((50, 0)));
        assert_eq!(parse_latency("50~20"), Ok((50, 20)));
        assert!(parse_latency("x").is_err());
    }

    #[test]
    fn emulator_flags_override_the_tenant_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenant.json");
        let mut c = EmulatorConfig::generated(7, 1);
        c.client_secret = "from-file".into();
        c.token_ttl = 60;
        std::fs::write(&path, c.to_tenant_json().to_string()).unwrap();
        let config = emulator_flags(&[
            "--tenant",
            path.to_str().unwrap(),
            "--token-ttl",
            "120",
            "--quota-scale",
            "3",
            "--latency-ms",
            "5~2",
        ])
        .unwrap();
        assert_eq!(config.client_secret, "from-file");
        assert_eq!(config.token_ttl, 120);
        assert_eq!(config.quota_scale, 3.0);
        assert_eq!(config.faults.latency_ms, 5);
        assert_eq!(config.faults.latency_jitter_ms, 2);
        assert_eq!(config.users.len(), 7);
    }

    #[test]
    fn emulator_flags_generate_tenants_and_refuse_bad_values() {
        let c = emulator_flags(&[
            "--users",
            "25",
            "--seed",
            "9",
            "--no-throttle",
            "--fault-item-5xx",
            "0.1",
        ])
        .unwrap();
        assert_eq!(c.users.len(), 25);
        assert!(c.no_throttle);
        assert_eq!(c.faults.item_5xx, 0.1);
        assert_eq!(c.users, EmulatorConfig::generated(25, 9).users);
        assert!(emulator_flags(&["--fault-drop", "1.5"]).is_err());
        assert!(emulator_flags(&["--quota-scale", "0"]).is_err());
        assert!(emulator_flags(&["--latency-ms", "fast"]).is_err());
        let d = emulator_flags(&[]).unwrap();
        assert_eq!(d.users.len(), 0);
        assert!(!d.no_throttle);
        assert_eq!(d.quotas.resource_units_per_10s, 8000.0);
    }
}
