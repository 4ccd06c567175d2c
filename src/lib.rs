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
//! - [`cli`]: clap types (raw strings and paths), no logic.
//! - `config`: raw args + environment → validated settings.
//! - [`input`]: the input spreadsheet → jobs, offline, with row-numbered validation.
//! - [`action`]: the `Action` enum, its aliases, the calls and permissions each needs.
//! - `engine`: per-job state machines and the async scheduler (batching, pacing, retries).
//! - `graph`: `$batch` wire types, user keys, HTTP client, tokens, clouds.
//! - [`journal`]: the results CSV: append during the run, read back on resume, compact.
//! - `locale_text`: ASCII in place of the output's marks when the locale is not UTF-8.
//! - `figures`: numbers, counts (`1 user`, `2,350 rows`), rates and durations as people read
//!   them, the same in every message, summary and progress line.
//! - `report`: human and JSON summaries.
//! - `progress`: progress bar or periodic log lines on stderr.
//! - [`emulator`]: a local Microsoft Graph + login fake for tests, benchmarks and `--sandbox`,
//!   knowing nothing of the CLI: one entry point, [`emulator::serve`]`(listener, config,
//!   shutdown)`; `emulator_command`: the `emulator` command around it.
//! - `rollout`: the `apply`/`plan` flow (journal, sign-in, engine, summary); `connect`:
//!   sign-in and the permission check.
//! - `output_path`: output paths checked against the input and each other; `atomic_file`: the
//!   one way a whole output file is written (temp file, fsync, rename, directory fsync).
//! - `shutdown_signal`: Ctrl-C and SIGTERM, which stop a run gracefully.
//! - `rollback`: the undo file of a finished run.
//! - `cli_artifacts`: shell completions and manual pages generated from [`cli`].
//! - [`run`]: dispatches a parsed command; `error`: what stops a command and its exit code.

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
mod shutdown_signal;
