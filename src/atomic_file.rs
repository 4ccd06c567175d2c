//! Replacing a whole file atomically, the one way every output file is written (the results
//! file's compaction and `plan --report`, `--excel`, the HTML report, `rollback --out`): a new
//! temp file in the same directory (so the rename stays on one file system), written, flushed
//! and fsynced, then renamed over the target (`std::fs::rename` replaces on Unix and Windows)
//! and the directory fsynced, so a reader or a crash sees the old file or the new one, never
//! half of one. Whatever fails, the temp file is removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which step of an atomic replacement failed; the target is untouched either way.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AtomicWriteError {
    /// Creating, writing or syncing the temp file failed.
    #[error("{0}")]
    Write(io::Error),
    /// The finished temp file could not be renamed over the target.
    #[error("{0}")]
    Replace(io::Error),
}

impl From<AtomicWriteError> for io::Error {
    fn from(e: AtomicWriteError) -> io::Error {
        match e {
            AtomicWriteError::Write(e) | AtomicWriteError::Replace(e) => e,
        }
    }
}

/// Replaces `path` with what `write` puts into a buffered writer. `write` may stop early
/// with an error; `path` is then left as it was.
pub(crate) fn replace_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), AtomicWriteError> {
    let (tmp, file) = create_temp(path).map_err(AtomicWriteError::Write)?;
    let written = (|| {
        let mut out = BufWriter::with_capacity(1 << 16, file);
        write(&mut out)?;
        out.flush()?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()
    })();
    // The file is closed here, before the rename: Windows refuses to replace an open file.
    let result = written.map_err(AtomicWriteError::Write).and_then(|()| {
        fs::rename(&tmp, path).map_err(|cause| AtomicWriteError::Replace(explain(cause)))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_directory(path);
    Ok(())
}

/// Windows refuses to replace a file another program (Excel, a browser) holds open.
fn explain(cause: io::Error) -> io::Error {
    if cause.kind() == io::ErrorKind::PermissionDenied {
        io::Error::new(
            cause.kind(),
            format!("{cause} (is it open in another program?)"),
        )
    } else {
        cause
    }
}

/// A new file beside `path` named `<name>.<pid>-<n>.tmp`, the pattern
/// [`is_temp_name_of`] recognises so a later run can remove one a crash left behind.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )
    })?;
    let mut attempt = 0;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            // A leftover from a crashed run with the same process id: try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Whether `file` is a temp file [`replace_with`] makes for a target named `name`.
pub(crate) fn is_temp_name_of(file: &str, name: &str) -> bool {
    let Some(middle) = file
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    middle.split_once('-').is_some_and(|(pid, n)| {
        !pid.is_empty()
            && !n.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The directory a file goes in, `.` for a bare file name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename durable. Unix needs the directory entry fsynced; Windows offers no directory
/// handle to sync and commits the rename's metadata through NTFS's own journal.
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_replaced_file_holds_the_new_contents_and_no_temp_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old\n").unwrap();
        replace_with(&path, |w| w.write_all(b"new\n")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_write_that_stops_with_an_error_keeps_the_old_file_and_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, "old\n").unwrap();
        let err = replace_with(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(matches!(err, AtomicWriteError::Write(_)), "{err:?}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_rename_that_fails_removes_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "x").unwrap();
        let err = replace_with(&path, |w| w.write_all(b"new")).unwrap_err();
        assert!(matches!(err, AtomicWriteError::Replace(_)), "{err:?}");
        assert_eq!(names(dir.path()), ["taken"]);
    }

    #[test]
    fn a_missing_directory_fails_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("out.csv");
        assert!(replace_with(&path, |w| w.write_all(b"x")).is_err());
        assert!(!dir.path().join("nope").exists());
    }

    #[test]
    fn temp_names_are_recognised_only_for_their_target() {
        assert!(is_temp_name_of("r.csv.123-0.tmp", "r.csv"));
        assert!(!is_temp_name_of("r.csv.123-0.tmp", "r"));
        assert!(!is_temp_name_of("r.csv.tmp", "r.csv"));
        assert!(!is_temp_name_of("r.csv.12a-0.tmp", "r.csv"));
        assert!(!is_temp_name_of("r.csv.123-.tmp", "r.csv"));
    }
}
