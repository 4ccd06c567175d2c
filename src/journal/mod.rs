//! The results CSV: an append-only journal during a run (flushed every batch, fsynced at least
//! every second), read back for `--resume`, and compacted atomically at the end into input
//! order, one row per (row, action). Decides nothing about what to do next.

pub mod record;

pub use record::{HEADER, ResultRecord, Status};
