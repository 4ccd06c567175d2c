//! Runs one command: the library's entry point, called by `main` and by tests. Maps the
//! outcome to the exit code (DESIGN.md): errors know their own code.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command, OutputArgs, ValidateArgs};
use crate::config;
use crate::error::{Completion, Error};
use crate::figures::{count, thousands};
use crate::input;

/// The command line's clap definition, which completions and manual pages are made from.
pub(crate) fn command_line() -> clap::Command {
    Cli::command()
}

/// Parses `args` and runs the command; returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(&cli, &argv) {
        Ok(done) => done.code(),
        Err(e) => {
            eprintln!("error: {e}");
            e.code()
        }
    }
}

fn init_logging(output: &OutputArgs) {
    let level = match (output.quiet, output.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("mfa_rollout={level}"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs a parsed command.
pub(crate) fn run(cli: &Cli, argv: &[OsString]) -> Result<Completion, Error> {
    match &cli.command {
        Command::Validate(args) => {
            init_logging(&args.output);
            validate(args)
        }
        Command::Plan(args) => {
            init_logging(&args.output);
            let (settings, connection) = config::plan(args, &|k| std::env::var(k).ok())?;
            crate::rollout::run(&settings, connection, argv)
        }
        Command::Apply(args) => {
            init_logging(&args.output);
            let (settings, connection) = config::apply(args, &|k| std::env::var(k).ok())?;
            crate::rollout::run(&settings, connection, argv)
        }
        Command::Rollback(args) => {
            init_logging(&args.output);
            crate::rollback::run(&config::rollback(args))
        }
        Command::Report(args) => {
            init_logging(&args.output);
            report(args)
        }
        Command::Check(args) => {
            init_logging(&args.output);
            crate::connect::check(config::check(args, &|k| std::env::var(k).ok())?)
        }
        Command::Export(args) => {
            init_logging(&args.output);
            let (settings, connection) = config::export(args, &|k| std::env::var(k).ok())?;
            crate::export::run(&settings, connection, argv)
        }
        Command::Emulator(args) => {
            crate::emulator_command::run(config::emulator(args)?)?;
            Ok(Completion::AllGood)
        }
        Command::Completions(args) => {
            crate::cli_artifacts::completions(args.shell, command_line())?;
            Ok(Completion::AllGood)
        }
        Command::Man(args) => {
            crate::cli_artifacts::man(args.out_dir.as_deref(), command_line())?;
            Ok(Completion::AllGood)
        }
    }
}

fn validate(args: &ValidateArgs) -> Result<Completion, Error> {
    let options = config::input_options(&args.input)?;
    // clap requires INPUT of validate.
    let Some(path) = args.input.input.as_deref() else {
        return Err(Error::Usage(
            "validate needs INPUT, the file to check".into(),
        ));
    };
    let loaded = match input::load(path, &options) {
        Ok(loaded) => loaded,
        Err(e) => {
            if args.output.json {
                // The problems as JSON too, one per line of the error; the exit code and the
                // error line on stderr stay as without --json.
                let text = e.to_string();
                println!(
                    "{}",
                    serde_json::json!({
                        "file": path.display().to_string(),
                        "refused": true,
                        "problems": text.lines().collect::<Vec<_>>(),
                    })
                );
            }
            return Err(e.into());
        }
    };
    let mut per_action: BTreeMap<String, u64> = BTreeMap::new();
    let mut jobs = 0u64;
    for job in loaded.jobs.iter().filter(|j| j.duplicate_of.is_none()) {
        jobs += 1;
        *per_action
            .entry(crate::action::combo_string(&job.actions))
            .or_default() += 1;
    }
    let lookup = user_lookup(&loaded.user_column, loaded.user_kind);
    if args.output.json {
        let json = serde_json::json!({
            "file": path.display().to_string(),
            "user_column": loaded.user_column,
            "user_lookup": match loaded.user_kind {
                input::UserKind::Mail => "mail",
                input::UserKind::Upn | input::UserKind::ObjectId => "key",
            },
            "users": jobs,
            "actions": per_action,
            "invalid": loaded.invalid.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "warnings": loaded.warnings,
        });
        println!("{json}");
    } else if !args.output.quiet {
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        for p in &loaded.invalid {
            eprintln!("invalid: {p}");
        }
        let list = per_action
            .iter()
            .map(|(a, n)| format!("{a}: {}", thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ");
        println!("{lookup}");
        let invalid = loaded.invalid.len() as u64;
        let warnings = loaded.warnings.len() as u64;
        println!(
            "{}: {} to process ({list}); {}, {}",
            path.display(),
            count(jobs, "user", "users"),
            count(invalid, "invalid row", "invalid rows"),
            count(warnings, "warning", "warnings"),
        );
    }
    Ok(if loaded.invalid.is_empty() {
        Completion::AllGood
    } else {
        Completion::SomeRowsFailed
    })
}

/// How `validate` says which column holds the users and how each will be found in Graph.
fn user_lookup(column: &str, kind: input::UserKind) -> String {
    let column = column.replace(char::is_control, "?");
    match kind {
        input::UserKind::Mail => format!(
            "user column '{column}': mail addresses; each is looked up first (GET /users?$filter=mail eq '…', then proxyAddresses/any(p:p eq 'smtp:…') when no mail matches; needs User.Read.All), and the actions use the user found (results column resolved_user)"
        ),
        input::UserKind::Upn | input::UserKind::ObjectId => format!(
            "user column '{column}': user principal names or object ids, each sent as the key of /users/{{key}}"
        ),
    }
}

/// `report RESULTS [--html FILE] [--json]`: the summary of an existing results file.
fn report(args: &crate::cli::ReportArgs) -> Result<Completion, Error> {
    if let Some(html) = &args.html {
        let named = |flag, path| crate::output_path::NamedPath { flag, path };
        crate::output_path::check_distinct(
            &[named("RESULTS", args.results.as_path())],
            &[Some(named("--html", html.as_path()))],
        )?;
        crate::output_path::check_overwrite("--html", html, args.overwrite)?;
    }
    // An export (CSV) is summarised as one: users per state, users without a method.
    if let Some(rows) = crate::export::read_export(&args.results) {
        let rows = rows.map_err(|message| Error::File {
            path: args.results.clone(),
            message,
        })?;
        let summary = crate::export::ExportSummary::of(rows.iter());
        if let Some(html) = &args.html {
            crate::export::write_html(html, &summary, &args.results, &[])?;
        }
        if args.output.json {
            println!("{}", summary.to_json(&args.results));
        } else {
            print!("{}", summary.render_text(&args.results));
        }
        return Ok(summary.completion());
    }
    let records = crate::journal::read_results(&args.results)?;
    let dry_run = !records.is_empty()
        && records
            .iter()
            .all(|r| r.status != crate::journal::Status::Applied)
        && records
            .iter()
            .any(|r| r.status == crate::journal::Status::Planned);
    let summary =
        crate::report::Summary::from_records(&records, None, Some(&args.results), dry_run);
    let html = args.html.as_deref().map(|path| crate::report::HtmlReport {
        path,
        title: format!("MFA rollout — {}", args.results.display()),
    });
    crate::report::emit(&summary, &records, html, config::output(&args.output))?;
    Ok(summary.completion())
}
