//! Summaries of a run or a plan: counts per action and status, state transitions, throughput
//! and throttling, as text for people or JSON for scripts. Never mutates state.
//!
//! # Layout
//! - `summary`: [`Summary`], [`RunStats`], [`Transition`], [`StateCount`].
//! - `figures`: numbers, rates and durations as people read them.

pub(crate) mod figures;
mod summary;

pub use summary::{RunStats, StateCount, Summary, Transition};
