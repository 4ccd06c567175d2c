//! The tool's top-level error: what stopped a command, carrying what the user needs to fix it,
//! and the exit code it maps to (DESIGN.md, "Exit codes"). Only `main` turns it into a code.

use std::path::PathBuf;

use crate::input::InputError;
use crate::journal::JournalError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad flags or arguments (exit 2, nothing sent).
    #[error("{0}")]
    Usage(String),
    /// The input file cannot be used (exit 2, nothing sent).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The results file cannot be used (before the run: exit 2, nothing sent).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A file the tool must read or write (exit 2 when before the run).
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// Sign-in failed or a permission is missing (exit 3).
    #[error("{0}")]
    Auth(String),
    /// A safety guard stopped the run: --max-changes, --max-failures, circuit breaker (exit 4).
    #[error("{0}")]
    Guard(String),
    /// Interrupted by Ctrl-C; the message carries the resume command (exit 130).
    #[error("{0}")]
    Interrupted(String),
    /// Stopped by SIGTERM, like Ctrl-C; the message carries the resume command (exit 143).
    #[error("{0}")]
    Terminated(String),
    /// Anything else that stopped the run (exit 1).
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code for this error.
    #[must_use]
    pub(crate) fn code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Input(_) | Error::Journal(_) | Error::File { .. } => 2,
            Error::Auth(_) => 3,
            Error::Guard(_) => 4,
            Error::Interrupted(_) => 130,
            Error::Terminated(_) => 143,
            Error::Other(_) => 1,
        }
    }
}

/// How a command that ran to the end went: `0` every row ended well, `1` some rows failed or
/// were not found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    AllGood,
    SomeRowsFailed,
    /// A many-tenant run in which some tenants did not finish (sign-in refused, no consent
    /// or permission, breaker): the others did; `--resume` does the stopped tenants' rows.
    SomeTenantsStopped,
}

impl Completion {
    #[must_use]
    pub(crate) fn code(self) -> u8 {
        match self {
            Completion::AllGood => 0,
            Completion::SomeRowsFailed => 1,
            Completion::SomeTenantsStopped => 5,
        }
    }
}
