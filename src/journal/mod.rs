//! The results CSV: an append-only journal during a run (flushed every batch, fsynced at least
//! every second), read back for `--resume`, and compacted atomically at the end into input
//! order, one row per (row, action). Decides nothing about what to do next.
//!
//! # Layout
//! - [`record`]: the contract's columns and statuses (`HEADER`, `Status`, `ResultRecord`).
//! - `journal_file`: [`Journal`], the live run's file: lock, append, resume, finish.
//! - `reader`: reading a results file back, tolerant of a torn last line ([`read_results`]).
//! - `codec`: one record ⇄ one CSV line; `neutralize`: formula-safe cells ([`neutralize`]).
//! - `compact`: last record per (row, action), in input order.
//! - `atomic_write`: whole results files through `crate::atomic_file` ([`write_results`]).
//! - `lock`: the sidecar `<results>.lock` held for a run's life.
//! - `sink`: `JournalSink`, the engine's sink during a run (journal + progress, on its own
//!   thread).
//! - `resume`: matching an earlier run's records against the input (`remaining_work`).
//! - `error`: [`JournalError`].
//!
//! # Formula neutralization
//! Every text cell is written through [`neutralize`] and read back through its exact inverse,
//! so [`read_results`] and [`Journal::resume`] return exactly the values that were appended,
//! including a `user` that starts with `=`, `-` or `@`: resume matching sees the real value.

mod atomic_write;
mod codec;
mod compact;
mod error;
mod journal_file;
mod lock;
mod neutralize;
mod reader;
mod record;
mod resume;
mod sink;

pub(crate) use atomic_write::add_excel_bom;
pub use atomic_write::write_results;
pub(crate) use compact::action_rank;
pub use error::JournalError;
pub use journal_file::{Journal, read_results};
pub(crate) use journal_file::{Reserved, read_results_with_extra_columns};
pub(crate) use neutralize::neutralize;
pub(crate) use neutralize::restore as restore_cell;
pub use record::{HEADER, ResultRecord, Status};
pub(crate) use record::{RESOLVED_USER, timestamp_now};
pub(crate) use resume::remaining_work;
pub(crate) use sink::JournalSink;
