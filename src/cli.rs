//! The command line as clap types: raw strings, numbers and paths, no logic. `config` turns
//! these into validated settings; nothing past `config` sees them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mfa-rollout",
    // The version, the commit it was built from and the target (build.rs).
    version = env!("MFA_ROLLOUT_VERSION_LINE"),
    about = "Apply per-user MFA changes to thousands of Microsoft Entra ID users from a spreadsheet",
    long_about = "Apply per-user MFA changes to thousands of Microsoft Entra ID users from a spreadsheet.\n\n\
        Reads a CSV of users and actions (enable, enforce, disable, reset-methods, revoke-sessions), \
        plans against the tenant, applies the changes through Microsoft Graph $batch requests paced \
        just under the tenant's throttling quota, and writes a results CSV that is also a crash-safe \
        journal: an interrupted run resumes where it stopped (--resume).\n\n\
        A safe rollout: validate -> plan -> apply --max-changes N -> (apply --resume) -> rollback if needed.\n\
        Try it without a tenant: mfa-rollout apply samples/rollout.csv --results out.csv --sandbox samples/tenant.json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an input file offline: every problem with its row and column; nothing is sent
    Validate(ValidateArgs),
    /// Read the tenant and report what apply would change (current vs planned); no writes
    Plan(PlanArgs),
    /// Apply the changes, journaling every outcome to the results file
    Apply(ApplyArgs),
    /// Write an input file that undoes the state changes of a finished run
    Rollback(RollbackArgs),
    /// Summarise an existing results file (text, --json, or --html FILE)
    Report(ReportArgs),
    /// Sign in, show who you are and which permissions the actions need vs what the token has
    Check(CheckArgs),
    /// Write every user's per-user MFA state and methods to a CSV or XLSX file (an input for
    /// plan/apply once its action column is filled in); no writes
    Export(ExportArgs),
    /// Run a local Microsoft Graph + login emulator (for rehearsals and tests)
    Emulator(EmulatorArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, powershell, elvish)
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout, or write one page per command to --out-dir
    Man(ManArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Install, e.g.:\n  \
    bash:       mfa-rollout completions bash > ~/.local/share/bash-completion/completions/mfa-rollout\n  \
    zsh:        mfa-rollout completions zsh > ~/.zfunc/_mfa-rollout   (with fpath+=~/.zfunc before compinit)\n  \
    fish:       mfa-rollout completions fish > ~/.config/fish/completions/mfa-rollout.fish\n  \
    PowerShell: mfa-rollout completions powershell | Out-String | Invoke-Expression   (add it to $PROFILE)\n  \
    elvish:     mfa-rollout completions elvish >> ~/.config/elvish/rc.elv")]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write mfa-rollout.1 and one page per command (mfa-rollout-apply.1, ...) into DIR
    /// instead of printing the main page
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The export file: a workbook when it ends .xlsx (header frozen, filter on), else CSV
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Finish an interrupted export (FILE.partial and FILE.users beside FILE; with --tenants,
    /// FILE.tenants and each tenant's FILE.TENANT.partial and FILE.TENANT.users): the same
    /// users, none read twice, a tenant not exported yet exported; selection flags other than
    /// the first run's are refused
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace an existing export file
    #[arg(long)]
    pub overwrite: bool,
    // Which users (without any: every user of the tenant, guests included).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Also write a self-contained HTML summary (users per state, users with no method)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Start the CSV with a UTF-8 byte-order mark, so Excel on Windows shows non-ASCII names
    /// right
    #[arg(long)]
    pub excel: bool,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The results file of the run to undo
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Where to write the undo file (an input file for plan/apply)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing output file
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results file (from apply) or a plan report (from plan)
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Write a self-contained HTML report to FILE
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Replace an existing HTML report
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only check what this input file's actions need; with a tenant column, sign in to
    /// every tenant it names and say which are ready (exit 0 only when all are)
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// One action for every row of INPUT (as for apply)
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Header of INPUT's user column
    #[arg(long, value_name = "NAME")]
    pub user_column: Option<String>,
    /// Header of INPUT's action column
    #[arg(long, value_name = "NAME")]
    pub action_column: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// The input file: CSV (UTF-8 or UTF-16, with or without BOM; ',' ';' or tab separated)
    /// or an Excel workbook (.xlsx)
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
    /// One action for every row (enable, enforce, disable, reset-methods, revoke-sessions, or a
    /// '+' combination), for a file without an action column (a file with one is refused)
    #[arg(long, value_name = "ACTION", conflicts_with = "action_column")]
    pub action: Option<String>,
    /// Header of the column holding the user (UPN or object id); default: user, upn,
    /// userPrincipalName, user principal name, email, mail, id, objectId
    #[arg(long, value_name = "NAME")]
    pub user_column: Option<String>,
    /// Header of the column holding the action (default: action)
    #[arg(long, value_name = "NAME")]
    pub action_column: Option<String>,
    /// Record invalid rows as 'invalid' in the results and go on, instead of stopping
    #[arg(long)]
    pub skip_invalid: bool,
    /// XLSX: the sheet to read (default: the first visible one)
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// XLSX: what to do with data rows the sheet hides (filtered out, or hidden by hand):
    /// 'include' reads them like the others (as a CSV export would), 'skip' leaves them out.
    /// Without it a sheet with hidden data rows is refused, naming them. (A CSV file hides
    /// no rows.)
    #[arg(long, value_name = "include|skip")]
    pub hidden_rows: Option<String>,
    /// The file has no header row: every non-empty row is data, columns are named by letter
    /// (the user column is A unless --user-column says otherwise). Without it, a first row
    /// whose user cell is a UPN or object id is read as data all the same, with a warning
    #[arg(long)]
    pub no_header: bool,
    /// Copy these input columns (header texts or letters, comma-separated) into the results
    /// after the fixed columns, so the results join back to the source sheet
    #[arg(long, value_name = "COLUMNS")]
    pub keep_columns: Option<String>,
}

/// The users a command works on instead of an input file's (`plan`, `apply`, `export`).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Every member of the tenant (guests not, unless --include-guests), instead of INPUT
    #[arg(long)]
    pub all_users: bool,
    /// With --all-users: guests too
    #[arg(long, requires = "all_users")]
    pub include_guests: bool,
    /// The users among this group's members, nested groups' members included, instead of
    /// INPUT: its display name or object id (repeatable; a user in several groups is done once)
    #[arg(
        long,
        value_name = "NAME|ID",
        conflicts_with_all = ["all_users", "filter"]
    )]
    pub group: Vec<String>,
    /// The users this OData filter selects (e.g. "accountEnabled eq true"), passed to Graph
    /// as it is, instead of INPUT; with --all-users, the members among them
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Select in each of these customer tenants (one tenant id or verified domain a line,
    /// or a CSV with a tenant column), each signed in to and run on its own (export: into
    /// the one file, with a tenant column)
    #[arg(long, value_name = "FILE")]
    pub tenants: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Run against an in-process emulator instead of a tenant: with a tenant file, that
    /// tenant; without, a tenant in which every input user exists
    #[arg(long, value_name = "TENANT.json", num_args = 0..=1)]
    pub sandbox: Option<Option<PathBuf>>,
    /// Keep the sandbox tenant in FILE between commands (implies --sandbox): read from FILE
    /// when it exists, otherwise made from --sandbox TENANT.json or the input's users; saved
    /// back to FILE when the command ends
    #[arg(long, value_name = "FILE")]
    pub sandbox_state: Option<PathBuf>,
    /// National cloud: global, usgov, usgov-dod, china
    #[arg(long, value_name = "CLOUD", default_value = "global")]
    pub cloud: String,
    /// Microsoft Graph base URL (overrides --cloud); plain http only to loopback
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,
    /// Login (authority) base URL (overrides --cloud); plain http only to loopback
    #[arg(
        long,
        value_name = "URL",
        env = "AZURE_AUTHORITY_HOST",
        hide_env_values = true
    )]
    pub authority_host: Option<String>,
    /// Directory (tenant) id or domain; with an input's tenant column, the tenant of rows
    /// whose cell is empty (not needed when every row names its tenant)
    #[arg(
        long,
        value_name = "ID",
        env = "AZURE_TENANT_ID",
        hide_env_values = true
    )]
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration; its secret is read from the
    /// environment variable AZURE_CLIENT_SECRET only
    #[arg(
        long,
        value_name = "ID",
        env = "AZURE_CLIENT_ID",
        hide_env_values = true
    )]
    pub client_id: Option<String>,
    /// Sign in with the app's certificate: a PEM file holding the certificate and its RSA
    /// private key, or a PFX/PKCS#12 file (.pfx, .p12) with both (told apart by content); the
    /// password of an encrypted key or PFX comes from AZURE_CLIENT_CERTIFICATE_PASSWORD
    #[arg(
        long,
        value_name = "PEM|PFX",
        env = "AZURE_CLIENT_CERTIFICATE_PATH",
        hide_env_values = true
    )]
    pub certificate: Option<PathBuf>,
    /// Client assertion signature: ps256 (current Microsoft docs, x5t#S256) or rs256 (older
    /// form with x5t, for tenants that refuse PS256)
    #[arg(long, value_name = "ALG", default_value = "ps256")]
    pub assertion_alg: String,
    /// Sign in interactively as an admin (device code flow, delegated permissions): open the
    /// URL shown and enter the code
    #[arg(long)]
    pub device_code: bool,
    /// How to sign in: auto (default: the first that is set up, in the Azure SDKs' order:
    /// token, certificate or secret from the environment, workload identity, managed identity
    /// when its endpoint variables are set, Azure CLI), secret, certificate, workload-identity,
    /// managed-identity, azure-cli, device-code, token
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub auth: String,
    /// Sign in as this Azure resource's managed identity: system-assigned, or the
    /// user-assigned one with this client id (on a VM, App Service, Functions, Automation)
    #[arg(long, value_name = "CLIENT_ID", num_args = 0..=1)]
    pub managed_identity: Option<Option<String>>,
    /// Take tokens from the Azure CLI (az account get-access-token), as signed in with az login
    #[arg(long)]
    pub azure_cli: bool,
    /// The VM metadata service's managed-identity token URL (for tests; default Microsoft's
    /// http://169.254.169.254/metadata/identity/oauth2/token)
    #[arg(
        long,
        value_name = "URL",
        env = "MFA_ROLLOUT_IMDS_ENDPOINT",
        hide = true,
        hide_env_values = true
    )]
    pub imds_endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct PacingArgs {
    /// Writes per second, held as told (default: start just under the documented quota,
    /// 3,000 per 150 s, and adapt to what the tenant allows)
    #[arg(long, value_name = "N")]
    pub write_rate: Option<f64>,
    /// Reads per second (default: just under the documented quota, 8,000 resource units per 10 s)
    #[arg(long, value_name = "N")]
    pub read_rate: Option<f64>,
    /// Writes per second across all tenants of a many-tenant run, held as told (default: just
    /// under Graph's limit for one app across all its tenants, 70,000 per 5 minutes); every
    /// tenant's writes draw from it besides their own
    #[arg(long, value_name = "N")]
    pub app_write_rate: Option<f64>,
    /// Requests per second (reads and writes, a resource unit each) across all tenants of a
    /// many-tenant run, held as told (default: just under Graph's limit for one app across all
    /// its tenants, 150,000 resource units per 20 s)
    #[arg(long, value_name = "N")]
    pub app_unit_rate: Option<f64>,
    /// The tenant's documented quotas multiplied by F, for the default rates (for rehearsals
    /// against an emulator started with --quota-scale F)
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub quota_scale: f64,
    /// Batches in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Items per $batch request, 1..20
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub batch_size: usize,
    /// Attempts per item for transient failures (5xx, timeouts, dropped connections)
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_attempts: u32,
}

/// What `plan` and `apply` share beyond input, connection and pacing.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Also write a self-contained HTML report (summary, transitions, problems, all rows); an
    /// existing file is replaced only with --overwrite (or --resume)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Finish the CSV with a UTF-8 byte-order mark, so Excel on Windows shows non-ASCII
    /// names right
    #[arg(long)]
    pub excel: bool,
    /// What reset-methods deletes: 'portal' (the admin center's set: phone numbers, Microsoft
    /// Authenticator, software OATH; hardware OATH unassigned) or 'all' (also FIDO2, Windows
    /// Hello, email, Temporary Access Pass, platform credentials). Never the password.
    #[arg(long, value_name = "SCOPE", default_value = "portal")]
    pub reset_scope: String,
}

/// Protected accounts, on `plan` and `apply`.
#[derive(Debug, Args)]
pub struct ProtectArgs {
    /// Never touch the users listed in FILE (UPNs or object ids; a bare list with or without
    /// a header, or a user column among others, CSV or XLSX): their rows are 'skipped' with
    /// "excluded" and nothing is sent for them. For break-glass (emergency access) accounts
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<PathBuf>,
    /// Never touch this user (UPN or object id), like --exclude; repeatable
    #[arg(long, value_name = "KEY")]
    pub exclude_user: Vec<String>,
    /// Signed in as a user (--device-code, or a user's token): do not keep that account out
    /// of disable, reset-methods and revoke-sessions. Without it those actions skip the
    /// signed-in admin, since they could lock the run out of its own account
    #[arg(long)]
    pub include_self: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Only errors on stderr, no progress bar, and only the one-line outcome on stdout
    #[arg(short, long)]
    pub quiet: bool,
    /// More detail on stderr (-vv for debug)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
#[command(mut_arg("input", |a| a.required(true)))]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(
    group(
        clap::ArgGroup::new("users")
            .required(true)
            .multiple(true)
            .args(["input", "all_users", "group", "filter"])
    ),
    mut_arg("input", |a| a.conflicts_with_all(["all_users", "group", "filter"]))
)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    // Which users, instead of INPUT (`--action` then says what to do).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Also write the plan to FILE (a results-format CSV with status 'planned' / 'unchanged' /
    /// ...); without it the plan's summary is printed and no file is written
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Replace an existing report file (or HTML report)
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub protect: ProtectArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(
    group(
        clap::ArgGroup::new("users")
            .required(true)
            .multiple(true)
            .args(["input", "all_users", "group", "filter"])
    ),
    mut_arg("input", |a| a.conflicts_with_all(["all_users", "group", "filter"]))
)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    // Which users, instead of INPUT (`--action` then says what to do).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The results file, also the journal that --resume reads back
    #[arg(long, value_name = "FILE")]
    pub results: PathBuf,
    /// Continue an interrupted run from its results file; finished rows are never redone. A
    /// selection's run resumes on the users RESULTS.users lists: selection flags other than
    /// the first run's are refused
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace an existing results file
    #[arg(long)]
    pub overwrite: bool,
    /// Read and report, change nothing (the same as `plan`)
    #[arg(long)]
    pub dry_run: bool,
    /// Never make more than N changes (per tenant, with a tenant column); stop before the first one (exit 4) when the plan needs more
    #[arg(long, value_name = "N")]
    pub max_changes: Option<u64>,
    /// Stop once N rows have failed, or N% of the rows this run does (exit 4; --resume goes on); per tenant with a tenant column
    ///
    /// The circuit breaker is always on besides: 25 users in a row failing their transient
    /// retries (5xx, timeouts, dropped connections), or 25 calls in a row of one route answered
    /// 403 or 400, stop the run with exit 4; the token refused even after renewal, exit 3. The
    /// rows not finished are not recorded as failed, so --resume does them.
    #[arg(long, value_name = "N|N%")]
    pub max_failures: Option<String>,
    /// Make at most N changes in this run (per tenant, with a tenant column), then stop
    /// cleanly (exit 0): a canary, or one wave of `--resume --limit N`
    ///
    /// A change is a (row, action) that writes to the tenant; reads and 'unchanged' rows do
    /// not count. Rows not reached are not written to the results file, so the next
    /// `--resume` does them; the summary (and --json) says how many rows remain and prints
    /// the command that continues.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// With --resume: do again the rows whose last status is 'failed' (not_found, invalid
    /// and skipped rows stay as they are)
    ///
    /// Each is read first, so a change that did land before its failure is recorded
    /// 'unchanged', never written twice; the later actions of its row, skipped because it
    /// failed, are done too. The new record replaces the failed one in the results file.
    #[arg(long)]
    pub retry_failed: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub protect: ProtectArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Tenant file (JSON; see README) to serve
    #[arg(long, value_name = "FILE", conflicts_with = "users")]
    pub tenant: Option<PathBuf>,
    /// Generate a tenant of N users instead of reading a file
    #[arg(long, value_name = "N")]
    pub users: Option<usize>,
    /// Seed for generated users and for fault injection
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Multiply every throttling quota by F (F=10 allows ten times the documented rates), so
    /// tests and benchmarks run the same model faster
    #[arg(long, value_name = "F")]
    pub quota_scale: Option<f64>,
    /// Turn throttling off
    #[arg(long)]
    pub no_throttle: bool,
    /// Latency added to every response, in ms, written MS or MS~JITTER (e.g. 50~20)
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<String>,
    /// Probability that a whole $batch gets 429 with Retry-After
    #[arg(long, value_name = "P")]
    pub fault_batch_429: Option<f64>,
    /// Probability that a whole $batch gets 503
    #[arg(long, value_name = "P")]
    pub fault_batch_503: Option<f64>,
    /// Probability that a batch item gets 503 or 504
    #[arg(long, value_name = "P")]
    pub fault_item_5xx: Option<f64>,
    /// Probability that a response is cut off mid-body (connection dropped)
    #[arg(long, value_name = "P")]
    pub fault_drop: Option<f64>,
    /// Client id the login routes accept
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Client secret the login routes accept (an emulator credential, not a real secret)
    #[arg(long, value_name = "SECRET")]
    pub client_secret: Option<String>,
    /// Lifetime of issued access tokens, seconds
    #[arg(long, value_name = "SECONDS")]
    pub token_ttl: Option<u64>,
}
