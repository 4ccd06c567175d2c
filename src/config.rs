//! Turning the raw command line and environment into validated settings (URLs, pacing,
//! sign-in mode). Nothing past this module sees raw arguments. Reads the environment only
//! through the `env` function it is given, so tests can supply their own.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::action::Action;
use crate::cli::{ConnectionArgs, InputArgs, PacingArgs};
use crate::engine::EngineSettings;
use crate::engine::settings::{DEFAULT_READ_RATE, DEFAULT_WRITE_RATE};
use crate::error::Error;
use crate::graph::{AssertionAlg, Cloud, validate_base_url};
use crate::input::{HiddenRows, InputOptions};

/// How to sign in.
pub enum SignIn {
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
        tenant: String,
        client_id: String,
        secret: SecretString,
    },
    /// App registration with a certificate (PEM or PFX, with its private key).
    Certificate {
        tenant: String,
        client_id: String,
        path: PathBuf,
        password: Option<SecretString>,
        algorithm: AssertionAlg,
    },
    /// An admin signing in interactively (delegated).
    DeviceCode { tenant: String, client_id: String },
}

/// Where to connect and how to sign in.
pub struct Connection {
    pub sign_in: SignIn,
    /// The national cloud `--cloud` named (the hosts may be overridden).
    pub cloud: Cloud,
    pub graph_url: String,
    pub authority: String,
    pub scope: String,
}

pub fn input_options(args: &InputArgs) -> Result<InputOptions, Error> {
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
    })
}

fn rate(value: Option<f64>, flag: &str) -> Result<Option<f64>, Error> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
        Some(v) => Err(Error::Usage(format!(
            "{flag} must be a positive number of requests per second, got {v}"
        ))),
    }
}

/// How far untold pacing may grow above the documented quota while Graph's own budget shows
/// room (`x-ms-throttle-limit-percentage` absent or low): Graph grants its bucket as a burst.
const UNTOLD_HEADROOM: f64 = 4.0;

/// A told rate is held (its own ceiling); an untold one starts just under the documented quota
/// and may grow into a burst the service allows.
fn pace(told: Option<f64>, default: f64) -> (Option<f64>, Option<f64>) {
    match told {
        Some(r) => (Some(r), Some(r)),
        None => (Some(default), Some(default * UNTOLD_HEADROOM)),
    }
}

pub fn engine_settings(
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
    if !(1..=20).contains(&pacing.batch_size) {
        return Err(Error::Usage(format!(
            "--batch-size must be between 1 and 20 (Microsoft Graph's $batch limit), got {}",
            pacing.batch_size
        )));
    }
    if !(1..=64).contains(&pacing.concurrency) {
        return Err(Error::Usage(format!(
            "--concurrency must be between 1 and 64, got {}",
            pacing.concurrency
        )));
    }
    if pacing.max_attempts == 0 || pacing.max_attempts > 100 {
        return Err(Error::Usage(format!(
            "--max-attempts must be between 1 and 100, got {}",
            pacing.max_attempts
        )));
    }
    if !(pacing.quota_scale.is_finite() && pacing.quota_scale > 0.0) {
        return Err(Error::Usage(format!(
            "--quota-scale must be a positive number, got {}",
            pacing.quota_scale
        )));
    }
    let (write_rate, write_ceiling) = pace(
        rate(pacing.write_rate, "--write-rate")?,
        DEFAULT_WRITE_RATE * pacing.quota_scale,
    );
    let (read_rate, read_ceiling) = pace(
        rate(pacing.read_rate, "--read-rate")?,
        DEFAULT_READ_RATE * pacing.quota_scale,
    );
    Ok(EngineSettings {
        batch_size: pacing.batch_size,
        concurrency: pacing.concurrency,
        write_rate,
        read_rate,
        write_ceiling,
        read_ceiling,
        max_attempts: pacing.max_attempts,
        dry_run,
        reset_all,
        max_changes,
        shutdown_grace: Duration::from_secs(30),
        ..EngineSettings::default()
    })
}

/// Chooses the sign-in mode: `--sandbox`, else `GRAPH_ACCESS_TOKEN`, else client credentials
/// (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`).
pub fn connection(
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
    let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let app = |what: &str| -> Result<(String, String), Error> {
        let tenant = args
            .tenant_id
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::Auth(format!(
                    "{what} needs the tenant: pass --tenant-id or set AZURE_TENANT_ID"
                ))
            })?;
        let client_id = args
            .client_id
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::Auth(format!(
                    "{what} needs the app: pass --client-id or set AZURE_CLIENT_ID"
                ))
            })?;
        Ok((tenant, client_id))
    };
    let sign_in = if args.sandbox.is_some() || args.sandbox_state.is_some() {
        SignIn::Sandbox {
            tenant: args.sandbox.clone().flatten(),
            state: args.sandbox_state.clone(),
        }
    } else if args.device_code {
        let (tenant, client_id) = app("--device-code")?;
        SignIn::DeviceCode { tenant, client_id }
    } else if let Some(path) = args
        .certificate
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
    {
        let algorithm = args
            .assertion_alg
            .parse::<AssertionAlg>()
            .map_err(|e| Error::Usage(format!("--assertion-alg: {e}")))?;
        let (tenant, client_id) = app("--certificate (AZURE_CLIENT_CERTIFICATE_PATH)")?;
        SignIn::Certificate {
            tenant,
            client_id,
            path,
            password: nonempty("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(SecretString::from),
            algorithm,
        }
    } else if let Some(token) = nonempty("GRAPH_ACCESS_TOKEN") {
        let token = SecretString::from(token.trim().to_string());
        crate::graph::check_static_token(&token).map_err(|e| Error::Auth(e.to_string()))?;
        SignIn::StaticToken(token)
    } else if let Some(secret) = nonempty("AZURE_CLIENT_SECRET") {
        let (tenant, client_id) = app("AZURE_CLIENT_SECRET")?;
        SignIn::ClientSecret {
            tenant,
            client_id,
            secret: SecretString::from(secret),
        }
    } else {
        return Err(Error::Auth(
            "no credentials: set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or --certificate PEM, or use --device-code, or GRAPH_ACCESS_TOKEN, or rehearse with --sandbox".into(),
        ));
    };
    Ok(Connection {
        sign_in,
        cloud,
        graph_url,
        authority,
        scope,
    })
}
