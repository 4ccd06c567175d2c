//! Summaries of a run or a plan: counts per action and status, state transitions, throughput
//! and throttling, as text for people, JSON for scripts, or a self-contained HTML page for a
//! change board. Never mutates state.
//!
//! # Layout
//! - `summary`: `Summary`, `Tally`, `RunStats`, `Remaining`.
//! - `tenant_line`: one tenant's line in a many-tenant run's summary (`TenantLine`).
//! - `html`: the HTML report page (`write_html`).
//! - `emit`: the one way a finished summary is put out: HTML report, then stdout (`emit`).

mod emit;
mod html;
mod summary;
mod tenant_line;

pub(crate) use emit::{HtmlReport, emit};
pub(crate) use summary::{Remaining, RunStats, Summary, Tally};
pub(crate) use tenant_line::TenantLine;
