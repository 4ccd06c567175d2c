//! `RunLock`: one mfa-rollout run per results file. An exclusive OS lock (fs4: `flock` on Unix,
//! `LockFileEx` on Windows) on a sidecar `<results>.lock`, held for the journal's life.
//!
//! The lock lives on a sidecar rather than on the results file because compaction replaces the
//! results file by rename, which would silently drop a lock taken on it. Only the OS lock
//! counts: the OS releases it when the process dies, so a lock *file* left behind by a killed
//! run never blocks the next one. The file is deliberately left in place on release: deleting
//! it would let a third run lock a fresh file while a second still holds the old, unlinked one.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::JournalError;

/// The held lock. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock for `results` without waiting; a live holder gives [`JournalError::Locked`].
    pub(crate) fn acquire(results: &Path) -> Result<RunLock, JournalError> {
        let lock_path = lock_path(results);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(JournalError::io_with(
                results,
                "cannot create the lock file for",
            ))?;
        // Named through the trait: std's inherent `File::try_lock` (Rust 1.89) would shadow it.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(RunLock { file }),
            Err(fs4::TryLockError::WouldBlock) => Err(JournalError::Locked {
                path: results.to_path_buf(),
                lock_path,
            }),
            Err(fs4::TryLockError::Error(cause)) => {
                Err(JournalError::io(results, "cannot lock", cause))
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Closing the handle releases the lock too; unlocking first makes the release immediate
        // even if the handle were duplicated somewhere.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// `<results>.lock` beside the results file (`results.csv` → `results.csv.lock`).
pub(crate) fn lock_path(results: &Path) -> PathBuf {
    let mut name = results
        .file_name()
        .map_or_else(OsString::new, OsString::from);
    name.push(".lock");
    results.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_sits_beside_the_results_file() {
        assert_eq!(
            lock_path(Path::new("out/results.csv")),
            Path::new("out/results.csv.lock")
        );
    }

    #[test]
    fn second_lock_on_the_same_results_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("r.csv");
        let first = RunLock::acquire(&results).unwrap();
        let err = RunLock::acquire(&results).unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        drop(first);
        RunLock::acquire(&results).unwrap();
    }

    #[test]
    fn a_leftover_lock_file_without_a_live_holder_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("r.csv");
        std::fs::write(lock_path(&results), b"").unwrap();
        RunLock::acquire(&results).unwrap();
    }
}
