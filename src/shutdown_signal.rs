//! The signals that stop a run gracefully: Ctrl-C (SIGINT) everywhere, and on Unix SIGTERM
//! too, which is what `timeout`, systemd, container runtimes and CI runners send. Either one
//! makes the engine drain what is in flight, journal it and stop; the run then prints the
//! resume command and exits with 128 + the signal's number (130, 143), as a shell reports a
//! process ended by that signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Which signal stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    /// Ctrl-C / SIGINT.
    Interrupt,
    /// SIGTERM (Unix).
    Terminate,
}

impl StopSignal {
    /// How the run's last message names it.
    pub(crate) fn described(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "interrupted",
            StopSignal::Terminate => "terminated (SIGTERM)",
        }
    }
}

/// Listens for the stop signals and remembers which one came first.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShutdownSignal {
    received: Arc<AtomicU8>,
}

const NONE: u8 = 0;
const INTERRUPT: u8 = 1;
const TERMINATE: u8 = 2;

impl ShutdownSignal {
    /// Resolves at the first stop signal; never, if the handlers cannot be installed (the run
    /// then goes on as it would have without them). Registers the handlers on its first poll.
    pub(crate) async fn wait(&self) {
        let got = tokio::select! {
            () = ctrl_c() => INTERRUPT,
            () = terminate() => TERMINATE,
        };
        let _ = self
            .received
            .compare_exchange(NONE, got, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal that came, if one did.
    pub(crate) fn received(&self) -> Option<StopSignal> {
        match self.received.load(Ordering::SeqCst) {
            INTERRUPT => Some(StopSignal::Interrupt),
            TERMINATE => Some(StopSignal::Terminate),
            _ => None,
        }
    }
}

async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            if term.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// Windows sends no SIGTERM; its console close and shutdown events are not handled yet.
#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}
