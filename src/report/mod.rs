//! Summaries of a run or a plan: counts per action and status, state transitions, throughput
//! and throttling, as text for people, JSON for scripts, or a self-contained HTML page for a
//! change board. Never mutates state.
//!
//! # Layout
//! - `summary`: [`Summary`], [`RunStats`], [`Transition`], [`StateCount`].
//! - `html`: the HTML report page ([`render_html`], [`write_html`]).

mod html;
mod summary;

pub(crate) use html::write_html;
pub(crate) use summary::{Remaining, RunStats, Summary, Tally};
