//! `JournalError`: why the results file cannot be used, as one line naming the path, so the
//! caller can print it as is and pick the exit code.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another live process holds the lock on this results file.
    #[error(
        "{} is in use by another mfa-rollout run (lock file {})",
        path.display(),
        lock_path.display()
    )]
    Locked { path: PathBuf, lock_path: PathBuf },
    /// A new run would overwrite results the user may still need.
    #[error(
        "{} already exists and is not empty: pass --resume to continue that run or --overwrite to replace it",
        path.display()
    )]
    Exists { path: PathBuf },
    /// The file system refused: `what` says what was being done (`cannot write results file`).
    #[error("{what} {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        cause: io::Error,
    },
    /// A complete line in the middle of the file cannot be read as a result record.
    #[error("{}: line {line}: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// The file's header is not the one this run writes (other columns, or not a results file).
    #[error(
        "{}: the header does not match this run (found `{found}`, expected `{expected}`): pass --overwrite to start over or choose another results file",
        path.display()
    )]
    Header {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// An earlier write failed; nothing more is written so the file stays a clean prefix.
    #[error(
        "{}: not written after an earlier write error; the file keeps every record up to that error (fix the cause, then run again with --resume)",
        path.display()
    )]
    Broken { path: PathBuf },
}

impl JournalError {
    /// The results file the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            JournalError::Locked { path, .. }
            | JournalError::Exists { path }
            | JournalError::Io { path, .. }
            | JournalError::Corrupt { path, .. }
            | JournalError::Header { path, .. }
            | JournalError::Broken { path } => path,
        }
    }

    pub(crate) fn io(path: &Path, what: &'static str, cause: io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            what,
            cause,
        }
    }

    /// A closure for `map_err` that wraps an `io::Error` with the path and what was being done.
    pub(crate) fn io_with(
        path: &Path,
        what: &'static str,
    ) -> impl FnOnce(io::Error) -> JournalError {
        move |cause| JournalError::io(path, what, cause)
    }
}
