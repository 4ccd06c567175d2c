//! Summaries of a run or a plan: counts per action and status, state transitions, throughput
//! and throttling, as text for people or JSON for scripts. Never mutates state.
