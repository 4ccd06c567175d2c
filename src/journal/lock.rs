//! `RunLock`: one mfa-rollout run per results file. An exclusive OS lock (fs4: `flock` on Unix,
//! `LockFileEx` on Windows) on a sidecar `<results>.lock`, held for the journal's life.
//!
//! The lock lives on a sidecar rather than on the results file because compaction replaces the
//! results file by rename, which would silently drop a lock taken on it. Only the OS lock
//! counts: the OS releases it when the process dies, so a lock *file* left behind by a killed
//! run never blocks the next one.
//!
//! On Unix the file is removed when the lock is released, so a finished run leaves only its
//! results. Removing it is safe because the holder unlinks it *before* unlocking, and a run
//! that takes the lock then checks that the path still names the file it locked (device and
//! inode): one that opened the file just before it was unlinked finds it gone and starts over
//! on a fresh file, instead of running beside a third run that locked that fresh file. Elsewhere
//! (Windows) std gives no stable file identity to check, so the file stays: an empty file
//! beside the results, harmless, reused by the next run.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::JournalError;

/// The held lock. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct RunLock {
    file: File,
    /// Removed on release (Unix only; see the module docs).
    #[cfg_attr(not(unix), allow(dead_code))]
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock for `results` without waiting; a live holder gives [`JournalError::Locked`].
    pub(crate) fn acquire(results: &Path) -> Result<RunLock, JournalError> {
        // Each retry means another run released (and removed) the file between our open and
        // our lock; a few are plenty.
        for _ in 0..16 {
            let lock = Self::try_acquire(results)?;
            if lock.still_named_by(&lock_path(results)) {
                return Ok(lock);
            }
        }
        Err(JournalError::Locked {
            path: results.to_path_buf(),
            lock_path: lock_path(results),
        })
    }

    fn try_acquire(results: &Path) -> Result<RunLock, JournalError> {
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
            Ok(()) => Ok(RunLock {
                file,
                path: lock_path,
            }),
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

impl RunLock {
    /// Whether `path` still names the locked file (see the module docs).
    #[cfg(unix)]
    fn still_named_by(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(path)) {
            (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
            _ => false,
        }
    }

    /// The file is never removed here (see the module docs), so the path always names it.
    #[cfg(not(unix))]
    #[allow(clippy::unused_self)]
    fn still_named_by(&self, _path: &Path) -> bool {
        true
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlinked while still locked, so no one can lock the file after the path stops
        // naming it without seeing that (module docs).
        #[cfg(unix)]
        if self.still_named_by(&self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
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

    #[cfg(unix)]
    #[test]
    fn releasing_the_lock_removes_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("r.csv");
        let lock = RunLock::acquire(&results).unwrap();
        assert!(lock_path(&results).exists());
        drop(lock);
        assert!(!lock_path(&results).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_on_a_file_already_unlinked_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("r.csv");
        // A run that opened the lock file just before its holder removed it.
        let stale = RunLock::try_acquire(&results).unwrap();
        std::fs::remove_file(lock_path(&results)).unwrap();
        assert!(!stale.still_named_by(&lock_path(&results)));
        // A run on the fresh file is refused while that one holds it, so two never overlap.
        let fresh = RunLock::acquire(&results).unwrap();
        assert!(fresh.still_named_by(&lock_path(&results)));
        assert!(RunLock::acquire(&results).is_err());
        drop(stale);
        assert!(
            lock_path(&results).exists(),
            "the stale one leaves the fresh file alone"
        );
    }

    #[test]
    fn a_leftover_lock_file_without_a_live_holder_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("r.csv");
        std::fs::write(lock_path(&results), b"").unwrap();
        RunLock::acquire(&results).unwrap();
    }
}
