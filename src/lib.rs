//! `mfa-rollout`: apply per-user MFA changes to thousands of Microsoft Entra ID users from a
//! spreadsheet, through Microsoft Graph `$batch`, paced under the throttling quota, with a
//! results file that is also a crash-safe journal.
//!
//! The library is the binary's body: `main` calls [`run::main_with_args`]. Public beyond the
//! crate is only what `main`, the integration tests (`tests/it`) and the benchmarks use:
//! [`run`], [`cli`], [`input`] (loading), [`action`], [`journal`] (reading results) and
//! [`emulator`]; every other module is private, so `dead_code` sees what nothing uses.
//!
//! # Layout
//! Data flows one way: command line → `config` → `input` → `engine` → `journal` → `report`,
//! with `graph` beneath the engine and the emulator apart.
//! - `main.rs` → [`run`]: parses the command line, dispatches the command, maps its outcome
//!   to the exit code; `error`: what stops a command and its exit code.
//! - [`cli`]: clap types (raw strings and paths), no logic. Only `config` and `run` see them.
//! - `config`: raw args + environment → one validated settings value per command
//!   (`RolloutSettings` + `Connection` for `apply`/`plan`, `ExportSettings`, `CheckSettings`,
//!   `RollbackSettings`, `EmulatorSettings`, `Output`).
//! - [`input`]: the input spreadsheet → jobs, offline, with row-numbered validation; what
//!   "the same user" means (`same_user`).
//! - [`action`]: the `Action` enum, its aliases, the calls and permissions each needs.
//! - `rollout`: `apply`/`plan` as its steps: prepare → sign in → execute → finish → emit;
//!   `connect`: signing in and the permission check (also the `check` command);
//!   `exclusions`: the protected accounts of `--exclude FILE` and `--exclude-user KEY`;
//!   `rollout/tenants.rs`: an input with a tenant column (issue 20), each tenant signed in
//!   and run by its own engine, concurrently, into the one journal;
//!   `rollout/tenant_check.rs`: `check` over such an input, each tenant's sign-in and
//!   permissions; `rollout/tenant_selection.rs`: a selection in every tenant of
//!   `--tenants FILE`, listed per tenant, then run as such an input.
//! - `engine`: per-job state machines (pure) and the async scheduler (batching, pacing,
//!   retries); beside it `settings` (validated once by `config`: types such as `BatchSize`
//!   and `Pace` cannot hold a value the engine would have to re-check), `pacer` (the adaptive
//!   rate budgets), `change_gate` (the `--max-changes`/`--limit` gate), `breaker` (the
//!   circuit breaker) and `protected` (the accounts no action may touch).
//! - `graph`: `$batch` wire types, user keys, HTTP client, tokens and sign-in modes, clouds,
//!   and the one retry rule for batch and item statuses (`RetryClass`).
//! - [`journal`]: the results CSV: the run's sink (append on its own thread), `--resume`
//!   matching, read back, compaction.
//! - `report`: summaries (text, JSON, HTML) and `emit`, the one way a summary is put out;
//!   `TenantLine`, one tenant's line in a many-tenant run's summary.
//! - `rollback`: the undo file of a finished run.
//! - `selection`: `--all-users`, `--filter`, `--group` resolved through Graph into a users
//!   file before the first read or write (for `export`, `plan`, `apply`); `export`: the
//!   tenant's per-user MFA state and methods as a file (`export/tenants.rs`: of every tenant
//!   of `--tenants FILE` into one file, the tenants' lists made as `apply --tenants` makes
//!   them).
//! - `progress`: progress bar or periodic log lines on stderr.
//! - `figures`: numbers, counts (`1 user`, `2,350 rows`), rates and durations as people read
//!   them, the same in every message, summary and progress line; `locale_text`: ASCII in
//!   place of the output's marks when the locale is not UTF-8.
//! - `output_path`: output paths checked against the input and each other; `atomic_file`: the
//!   one way a whole output file is written (temp file, fsync, rename, directory fsync).
//! - `shutdown_signal`: Ctrl-C and SIGTERM, which stop a run gracefully.
//! - `cli_artifacts`: shell completions and manual pages generated from [`cli`].
//! - [`emulator`]: a local Microsoft Graph + login fake for tests, benchmarks and `--sandbox`,
//!   knowing nothing of the CLI, with one entry point, [`emulator::serve`]`(listener, config,
//!   shutdown)`, and one binder of list reads' query options (`list_query`);
//!   `emulator_command`: the `emulator` command around it.

pub mod action;
mod atomic_file;
pub mod cli;
mod cli_artifacts;
mod config;
mod connect;
pub mod emulator;
mod emulator_command;
mod engine;
mod error;
mod exclusions;
mod export;
mod figures;
mod graph;
pub mod input;
pub mod journal;
mod locale_text;
mod output_path;
mod progress;
mod report;
mod rollback;
mod rollout;
pub mod run;
mod selection;
mod shutdown_signal;
