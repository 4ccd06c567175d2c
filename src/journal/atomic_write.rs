//! Writing a whole results file at once, atomically, through [`crate::atomic_file`]: a reader
//! or a crash sees the old file or the new one, never half of one.

use std::borrow::Borrow;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::codec::{encode_header, encode_record};
use super::{JournalError, ResultRecord};
use crate::atomic_file::{self, AtomicWriteError, parent_dir};

/// Writes `records` under a header with `extra_columns` to `path`, replacing it atomically.
/// Used by tests to make results files (the journal's compaction streams through
/// [`write_results_from`]).
pub fn write_results(
    path: &Path,
    records: &[ResultRecord],
    extra_columns: &[String],
) -> Result<(), JournalError> {
    write_results_from(path, records.iter().map(Ok), extra_columns)
}

/// [`write_results`] from records produced one at a time (read back from a journal, say), so
/// the whole list never sits in memory. An error from `records` stops the write and leaves
/// `path` as it was. `records` is consumed before the file is replaced, so whatever they read
/// from is closed by then.
pub(crate) fn write_results_from<R: Borrow<ResultRecord>>(
    path: &Path,
    records: impl IntoIterator<Item = io::Result<R>>,
    extra_columns: &[String],
) -> Result<(), JournalError> {
    check_directory(path)?;
    let written = atomic_file::replace_with(path, |out| {
        let mut line = Vec::with_capacity(512);
        encode_header(extra_columns, &mut line)?;
        out.write_all(&line)?;
        for record in records {
            line.clear();
            encode_record(record?.borrow(), extra_columns.len(), &mut line)?;
            out.write_all(&line)?;
        }
        Ok(())
    });
    written.map_err(|e| journal_error(path, e))
}

/// `--excel`: rewrites a finished results file with a UTF-8 byte-order mark in front, so
/// Excel on Windows reads non-ASCII names right. Atomic; a file that has one is left alone.
/// The readers (and `--resume`) skip the mark.
pub(crate) fn add_excel_bom(path: &Path) -> Result<(), JournalError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut from =
        fs::File::open(path).map_err(JournalError::io_with(path, "cannot read results file"))?;
    let mut start = Vec::with_capacity(BOM.len());
    io::Read::read_to_end(&mut io::Read::take(&mut from, BOM.len() as u64), &mut start)
        .map_err(JournalError::io_with(path, "cannot read results file"))?;
    if start == BOM {
        return Ok(());
    }
    let written = atomic_file::replace_with(path, |out| {
        out.write_all(BOM)?;
        out.write_all(&start)?;
        io::copy(&mut from, out)?;
        // Closed before the rename: Windows refuses to replace an open file.
        drop(from);
        Ok(())
    });
    written.map_err(|e| journal_error(path, e))
}

fn journal_error(path: &Path, e: AtomicWriteError) -> JournalError {
    match e {
        AtomicWriteError::Write(cause) => {
            JournalError::io(path, "cannot write a temporary file for", cause)
        }
        AtomicWriteError::Replace(cause) => JournalError::io(path, "cannot replace", cause),
    }
}

/// Removes temp files of earlier runs on `path` (`<name>.<pid>-<n>.tmp`, left by a run
/// killed during its final rewrite). Only called with the run lock held, so no live run can
/// own them. Best effort: a file that cannot be removed is left.
pub(crate) fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        if file
            .to_str()
            .is_some_and(|file| atomic_file::is_temp_name_of(file, name))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Fails with a clear message when the results file's directory does not exist.
pub(crate) fn check_directory(path: &Path) -> Result<(), JournalError> {
    let dir = parent_dir(path);
    if dir.is_dir() {
        Ok(())
    } else {
        Err(JournalError::io(
            path,
            "cannot create results file",
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("directory {} does not exist", dir.display()),
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Status, read_results};

    #[test]
    fn write_results_replaces_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.csv");
        fs::write(&path, "old contents\n").unwrap();
        let records = vec![ResultRecord {
            row: 2,
            user: "a@contoso.com".into(),
            action: "enforce".into(),
            status: Status::Planned,
            before: "disabled".into(),
            after: "enforced".into(),
            extra: vec!["sales".into()],
            ..ResultRecord::default()
        }];
        write_results(&path, &records, &["department".into()]).unwrap();
        assert_eq!(read_results(&path).unwrap(), records);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("plan.csv")]);
    }

    #[test]
    fn write_results_into_a_missing_directory_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("plan.csv");
        let err = write_results(&path, &[], &[]).unwrap_err().to_string();
        assert!(
            err.contains("does not exist") && err.contains("plan.csv"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod excel_tests {
    use super::*;

    #[test]
    fn an_excel_results_file_starts_with_a_bom_and_still_reads_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let rec = ResultRecord {
            row: 2,
            user: "zoë@contoso.com".into(),
            action: "enforce".into(),
            ..ResultRecord::default()
        };
        write_results(&path, std::slice::from_ref(&rec), &[]).unwrap();
        add_excel_bom(&path).unwrap();
        add_excel_bom(&path).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBFrow,user,"));
        assert!(!bytes[3..].starts_with(b"\xEF\xBB\xBF"), "one mark only");
        assert_eq!(
            crate::journal::read_results(&path).unwrap(),
            vec![rec.clone()]
        );
        let (journal, records) = crate::journal::Journal::resume(&path, &[]).unwrap();
        assert_eq!(records, vec![rec]);
        drop(journal);
    }
}
