//! `Journal`: the results file while a run is live. Holds the run lock, appends one CSV line per
//! finished (row, action) and flushes it to the OS at every append (so `kill -9` loses only
//! what was never appended), fsyncs on the first append a second or more after the last fsync
//! (so a power loss costs about the last second of appends; `sync` before pausing), reads the
//! file back for `--resume`, and compacts it atomically at the end.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::atomic_write::{check_directory, write_results_from};
use super::codec::{encode_header, encode_record, header};
use super::compact::compact;
use super::lock::RunLock;
use super::reader::{self, RecordsAt, ResultsFile};
use super::{HEADER, JournalError, ResultRecord};

/// How long appended records may sit in the OS cache before an fsync.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Where journal lines go: the results file, or a stand-in in tests (a failing disk).
pub(crate) trait Sink: Write + Send {
    /// Makes everything written so far durable (fsync).
    fn sync(&mut self) -> io::Result<()>;
}

impl Sink for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// A new run's results file, locked and checked but not yet made ([`Journal::reserve`]).
/// Dropping it releases the lock and leaves no file.
#[derive(Debug)]
pub struct Reserved {
    path: PathBuf,
    lock: RunLock,
}

impl Reserved {
    /// Makes the file (replacing what [`Journal::reserve`] allowed to replace) and writes
    /// and fsyncs its header (HEADER + `extra_columns`).
    pub fn create(self, extra_columns: &[String]) -> Result<Journal, JournalError> {
        let Reserved { path, lock } = self;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(JournalError::io_with(&path, "cannot create results file"))?;
        let mut journal = Journal::open(&path, extra_columns, file, lock);
        journal.write_header()?;
        Ok(journal)
    }
}

/// The open results file of a live run, and its lock. See the module docs.
pub struct Journal {
    path: PathBuf,
    extra_columns: Vec<String>,
    out: BufWriter<Box<dyn Sink>>,
    line: Vec<u8>,
    last_sync: Instant,
    /// Set by a failed write: the file may end in a partial line, so nothing more is written.
    broken: bool,
    /// A results file's lock, or an unnamed journal's own handle to read it back by.
    backing: Backing,
}

/// What a journal's records are written to.
enum Backing {
    /// The results file, locked for the run.
    Named(RunLock),
    /// An unnamed temporary file (see the module docs); `finish` reads it through this handle.
    Unnamed(File),
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("extra_columns", &self.extra_columns)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Takes the lock for a new run's results file and checks what [`Journal::create`]
    /// checks, without making the file: so a run can refuse before it signs in, hold the
    /// file through the sign-in, and make it only after ([`Reserved::create`]).
    pub fn reserve(path: &Path, overwrite: bool) -> Result<Reserved, JournalError> {
        check_directory(path)?;
        if path.is_dir() {
            return Err(is_a_directory(path));
        }
        let lock = RunLock::acquire(path)?;
        super::atomic_write::remove_stale_temps(path);
        refuse_existing(path, overwrite)?;
        Ok(Reserved {
            path: path.to_path_buf(),
            lock,
        })
    }

    /// Starts a new run's results file. Takes the lock first; refuses an existing file that
    /// holds records unless `overwrite` (a results file with only its header, left by a run
    /// that stopped before its first record, holds nothing to lose); writes and fsyncs the
    /// header (HEADER + `extra_columns`).
    pub fn create(
        path: &Path,
        overwrite: bool,
        extra_columns: &[String],
    ) -> Result<Journal, JournalError> {
        Journal::reserve(path, overwrite)?.create(extra_columns)
    }

    /// Continues a run (`--resume`). Takes the lock, reads back every complete record, drops a
    /// torn last line (truncating the file to the last good line end), checks the header and
    /// positions for append. A missing or empty file is fine: no records, a fresh header.
    ///
    /// Records come back in file order. A (row, action) may appear more than once (a record
    /// rewritten by a later session); the last one is the current one.
    pub fn resume(
        path: &Path,
        extra_columns: &[String],
    ) -> Result<(Journal, Vec<ResultRecord>), JournalError> {
        check_directory(path)?;
        if path.is_dir() {
            return Err(is_a_directory(path));
        }
        let lock = RunLock::acquire(path)?;
        super::atomic_write::remove_stale_temps(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(JournalError::io_with(path, "cannot open results file"))?;
        let found = reader::read_file(&file, path)?;
        found.expect_header(path, extra_columns)?;
        if found.header.is_none() {
            check_torn_header(&file, path, &found, extra_columns)?;
        }
        let what = "cannot truncate the torn last line of";
        if found.good_len < found.file_len {
            tracing::warn!(
                path = %path.display(),
                bytes = found.file_len - found.good_len,
                "dropping an incomplete last line left by an interrupted run"
            );
            file.set_len(found.good_len)
                .map_err(JournalError::io_with(path, what))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(JournalError::io_with(path, what))?;
        let needs_header = found.header.is_none();
        let mut journal = Journal::open(path, extra_columns, file, lock);
        if needs_header {
            journal.write_header()?;
        } else {
            journal.sync()?;
        }
        Ok((journal, found.records))
    }

    fn open(path: &Path, extra_columns: &[String], file: File, lock: RunLock) -> Journal {
        Journal {
            path: path.to_path_buf(),
            extra_columns: extra_columns.to_vec(),
            out: BufWriter::with_capacity(1 << 16, Box::new(file)),
            line: Vec::with_capacity(512),
            last_sync: Instant::now(),
            broken: false,
            backing: Backing::Named(lock),
        }
    }

    /// A journal no file name points to, for a run whose records only feed its summary (`plan`
    /// without `--report`). [`Journal::finish`] hands the records out without writing them
    /// anywhere, and the file goes when the journal is dropped or the process ends.
    pub fn unnamed(extra_columns: &[String]) -> Result<Journal, JournalError> {
        let label = Path::new("(the plan's temporary journal)");
        let what = "cannot create a temporary file (in the temp directory) for";
        let file = tempfile::tempfile().map_err(JournalError::io_with(label, what))?;
        let reader = file
            .try_clone()
            .map_err(JournalError::io_with(label, what))?;
        let mut journal = Journal {
            path: label.to_path_buf(),
            extra_columns: extra_columns.to_vec(),
            out: BufWriter::with_capacity(1 << 16, Box::new(file)),
            line: Vec::with_capacity(512),
            last_sync: Instant::now(),
            broken: false,
            backing: Backing::Unnamed(reader),
        };
        journal.write_header()?;
        Ok(journal)
    }

    /// Whether this journal has a file name (a results file) rather than being unnamed.
    #[must_use]
    pub fn is_named(&self) -> bool {
        matches!(self.backing, Backing::Named(_))
    }

    fn write_header(&mut self) -> Result<(), JournalError> {
        self.line.clear();
        encode_header(&self.extra_columns, &mut self.line)
            .and_then(|()| self.out.write_all(&self.line))
            .map_err(JournalError::io_with(
                &self.path,
                "cannot write results file",
            ))?;
        self.sync()
    }

    /// Appends one line per record, flushes to the OS, and fsyncs if the last fsync was at
    /// least a second ago. After a write error every later call fails with
    /// [`JournalError::Broken`]: the file then ends at most in one torn line, which `--resume`
    /// drops.
    pub fn append(&mut self, records: &[ResultRecord]) -> Result<(), JournalError> {
        self.write(|j| {
            for record in records {
                j.line.clear();
                encode_record(record, j.extra_columns.len(), &mut j.line)?;
                // One call per complete line: a torn write can only affect the last line.
                j.out.write_all(&j.line)?;
            }
            j.out.flush()?;
            if j.last_sync.elapsed() >= SYNC_EVERY {
                j.out.get_mut().sync()?;
                j.last_sync = Instant::now();
            }
            Ok(())
        })
    }

    /// Flushes and fsyncs now (before a pause, or at Ctrl-C).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.write(|j| {
            j.out.flush()?;
            j.out.get_mut().sync()?;
            j.last_sync = Instant::now();
            Ok(())
        })
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut Journal) -> io::Result<()>,
    ) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError::Broken {
                path: self.path.clone(),
            });
        }
        f(self).map_err(|cause| {
            self.broken = true;
            JournalError::io(&self.path, "cannot write results file", cause)
        })
    }

    /// Final compaction. Reads every record back from the file (so records from earlier,
    /// resumed sessions count too), keeps the last one per (row, action), sorts them into
    /// input order, writes them to a temp file beside the results file, fsyncs it, renames it
    /// over the results file, then releases the lock. Each compacted record is handed to
    /// `each`, in order, as it is written: the records are read back one at a time from where
    /// an index of the file says they are, so a run of any size compacts in little memory.
    ///
    /// An unnamed journal ([`Journal::unnamed`]) hands its compacted records to `each` the same
    /// way and writes nothing.
    ///
    /// On error the results file is left as it was: a valid journal for `--resume`.
    pub fn finish(self, mut each: impl FnMut(&ResultRecord)) -> Result<(), JournalError> {
        let Journal {
            path,
            extra_columns,
            mut out,
            broken,
            backing,
            ..
        } = self;
        if !broken {
            out.flush()
                .and_then(|()| out.get_mut().sync())
                .map_err(JournalError::io_with(&path, "cannot write results file"))?;
        }
        // Close without flushing again: after a write error the buffer may hold a partial line.
        drop(out.into_parts());
        let (file, lock) = match backing {
            Backing::Named(lock) => (
                File::open(&path)
                    .map_err(JournalError::io_with(&path, "cannot read results file"))?,
                lock,
            ),
            Backing::Unnamed(file) => {
                let (found, index) = reader::index_file(&file, &path)?;
                found.expect_header(&path, &extra_columns)?;
                let mut at = RecordsAt::new(file, header(&extra_columns).len())
                    .map_err(JournalError::io_with(&path, "cannot read results file"))?;
                for entry in compact(index) {
                    let record = at
                        .read(&entry)
                        .map_err(JournalError::io_with(&path, "cannot read results file"))?;
                    each(&record);
                }
                return Ok(());
            }
        };
        let (found, index) = reader::index_file(&file, &path)?;
        found.expect_header(&path, &extra_columns)?;
        let width = header(&extra_columns).len();
        let mut at = RecordsAt::new(file, width)
            .map_err(JournalError::io_with(&path, "cannot read results file"))?;
        // The iterator owns the reader, so the results file is closed once the last record
        // is read and before the temp file replaces it: Windows refuses to replace an open
        // file.
        let records = compact(index).into_iter().map(move |entry| {
            let record = at.read(&entry)?;
            each(&record);
            Ok(record)
        });
        write_results_from(&path, records, &extra_columns)?;
        drop(lock);
        Ok(())
    }

    /// The results file (for an unnamed journal, a label for messages).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub(crate) fn replace_sink(&mut self, sink: Box<dyn Sink>) {
        self.out = BufWriter::new(sink);
    }
}

/// Reads any results file (for `rollback`, `report`), without taking the lock and tolerating a
/// torn last line, which is left out. Extra columns land in each record's `extra`.
pub fn read_results(path: &Path) -> Result<Vec<ResultRecord>, JournalError> {
    let file = File::open(path).map_err(JournalError::io_with(path, "cannot read results file"))?;
    Ok(reader::read_file(&file, path)?.records)
}

/// Like [`read_results`], with the names of the file's extra columns (those after the fixed
/// ones), in order, for readers that look for one of them (`resolved_user`).
pub(crate) fn read_results_with_extra_columns(
    path: &Path,
) -> Result<(Vec<String>, Vec<ResultRecord>), JournalError> {
    let file = File::open(path).map_err(JournalError::io_with(path, "cannot read results file"))?;
    let found = reader::read_file(&file, path)?;
    let extra = found
        .header
        .unwrap_or_default()
        .into_iter()
        .skip(crate::journal::HEADER.len())
        .collect();
    Ok((extra, found.records))
}

/// Refuses an existing file with something in it, unless `overwrite`. A results file with a
/// header and no record (any extra columns) counts as empty: it is what a run that stopped
/// before its first record leaves, and refusing it would block the identical rerun.
fn refuse_existing(path: &Path, overwrite: bool) -> Result<(), JournalError> {
    let Ok(meta) = path.metadata() else {
        return Ok(());
    };
    if meta.len() == 0 || overwrite || holds_only_a_header(path, meta.len()) {
        return Ok(());
    }
    Err(JournalError::Exists {
        path: path.to_path_buf(),
    })
}

/// Whether `path` is a results file with its header line and nothing after it.
fn holds_only_a_header(path: &Path, len: u64) -> bool {
    // A header line is well under this; anything longer holds more than a header.
    const LONGEST_HEADER: u64 = 64 * 1024;
    if len > LONGEST_HEADER {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    match reader::read_file(&file, path) {
        Ok(found) => {
            found.records.is_empty()
                && found.good_len == found.file_len
                && found.header.is_some_and(|h| {
                    h.len() >= HEADER.len() && h.iter().zip(HEADER).all(|(a, b)| a == b)
                })
        }
        Err(_) => false,
    }
}

fn is_a_directory(path: &Path) -> JournalError {
    JournalError::io(
        path,
        "cannot use results file",
        io::Error::other("it is a directory"),
    )
}

/// A file with no complete line may be a header torn by a crash (then it is rewritten) or
/// some other file (then it is left alone): only the first case is a prefix of our header.
fn check_torn_header(
    file: &File,
    path: &Path,
    found: &ResultsFile,
    extra_columns: &[String],
) -> Result<(), JournalError> {
    if found.file_len == 0 {
        return Ok(());
    }
    let mut ours = Vec::new();
    encode_header(extra_columns, &mut ours)
        .map_err(JournalError::io_with(path, "cannot read results file"))?;
    let mut start = vec![
        0u8;
        usize::try_from(found.file_len)
            .unwrap_or(usize::MAX)
            .min(ours.len() + 1)
    ];
    let mut f = file;
    let n = f
        .seek(SeekFrom::Start(0))
        .and_then(|_| read_up_to(&mut f, &mut start))
        .map_err(JournalError::io_with(path, "cannot read results file"))?;
    if ours.starts_with(&start[..n]) && n as u64 == found.file_len {
        Ok(())
    } else {
        Err(JournalError::Header {
            path: path.to_path_buf(),
            found: String::from_utf8_lossy(&start[..n]).trim_end().to_string(),
            expected: header(extra_columns).join(","),
        })
    }
}

fn read_up_to(r: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::journal::{HEADER, Status};

    /// Finishes `journal`, collecting the compacted records it hands out.
    fn finish_all(journal: Journal) -> Result<Vec<ResultRecord>, JournalError> {
        let mut all = Vec::new();
        journal.finish(|r| all.push(r.clone()))?;
        Ok(all)
    }

    fn rec(row: u64, user: &str, action: &str, status: Status) -> ResultRecord {
        ResultRecord {
            row,
            user: user.into(),
            action: action.into(),
            status,
            attempts: 1,
            finished_at: "2026-11-24T21:00:00Z".into(),
            ..ResultRecord::default()
        }
    }

    fn header_line(extra: &[&str]) -> String {
        let mut h = HEADER.join(",");
        for e in extra {
            h.push(',');
            h.push_str(e);
        }
        h + "\n"
    }

    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        (dir, path)
    }

    /// Cells a spreadsheet or a naive CSV writer would get wrong.
    fn awkward(row: u64) -> ResultRecord {
        ResultRecord {
            row,
            user: "=HYPERLINK(\"http://x\")".into(),
            action: "enforce".into(),
            status: Status::Failed,
            before: "disabled".into(),
            after: String::new(),
            http_status: Some(429),
            error_code: "-TooManyRequests".into(),
            message: "line one, \"quoted\"\nline two\r\nünïcødé ✓ 日本".into(),
            attempts: 7,
            request_id: "@id".into(),
            client_request_id: "\tx".into(),
            finished_at: "'=already".into(),
            extra: vec!["a,b".into(), "+1".into()],
        }
    }

    #[test]
    fn create_writes_exactly_the_header() {
        let (_dir, path) = scratch();
        let extra = vec!["department".to_string()];
        let journal = Journal::create(&path, false, &extra).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            header_line(&["department"])
        );
        assert_eq!(journal.path(), path);
    }

    #[test]
    fn awkward_cells_round_trip_through_append_and_resume() {
        let (_dir, path) = scratch();
        let extra = vec!["dept".to_string(), "=note".to_string()];
        let records = vec![
            awkward(2),
            rec(3, "-dash@contoso.com", "disable", Status::Applied),
        ];
        let mut journal = Journal::create(&path, false, &extra).unwrap();
        journal.append(&records[..1]).unwrap();
        journal.append(&records[1..]).unwrap();
        drop(journal);
        let mut records_padded = records.clone();
        records_padded[1].extra = vec![String::new(), String::new()];
        assert_eq!(read_results(&path).unwrap(), records_padded);
        let (_journal, back) = Journal::resume(&path, &extra).unwrap();
        assert_eq!(back, records_padded);
    }

    #[test]
    fn formula_cells_are_neutralized_on_disk_and_restored_on_read() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[rec(2, "=cmd|' /C calc'!A0", "enable", Status::Applied)])
            .unwrap();
        drop(journal);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\n2,'=cmd|' /C calc'!A0,enable,"), "{text}");
        assert_eq!(read_results(&path).unwrap()[0].user, "=cmd|' /C calc'!A0");
    }

    #[test]
    fn torn_last_line_is_dropped_and_the_file_truncated_on_resume() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[
                rec(2, "a@x", "enforce", Status::Applied),
                rec(3, "b@x", "enforce", Status::Applied),
            ])
            .unwrap();
        drop(journal);
        let good = fs::read(&path).unwrap();
        for torn in ["4,c@x,enf", "4,c@x,enforce,failed,,,,,\"half a\nmessage"] {
            let mut bytes = good.clone();
            bytes.extend_from_slice(torn.as_bytes());
            fs::write(&path, &bytes).unwrap();
            let (journal, back) = Journal::resume(&path, &[]).unwrap();
            drop(journal);
            assert_eq!(back.len(), 2, "torn tail {torn:?}");
            assert_eq!(fs::read(&path).unwrap(), good, "torn tail {torn:?}");
        }
    }

    #[test]
    fn unparseable_complete_last_line_is_dropped_but_a_bad_middle_line_is_corrupt() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[rec(2, "a@x", "enforce", Status::Applied)])
            .unwrap();
        drop(journal);
        let good = fs::read(&path).unwrap();
        let mut bytes = good.clone();
        bytes.extend_from_slice(b"\0\0\0\n");
        fs::write(&path, &bytes).unwrap();
        let (journal, back) = Journal::resume(&path, &[]).unwrap();
        drop(journal);
        assert_eq!((back.len(), fs::read(&path).unwrap()), (1, good.clone()));

        let mut bytes = good.clone();
        bytes.extend_from_slice(b"x,y,z\n3,b@x,enforce,applied,,,,,,1,,,\n");
        fs::write(&path, &bytes).unwrap();
        let err = Journal::resume(&path, &[]).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("results.csv: line 3:"), "{err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "a corrupt file is left untouched"
        );
    }

    #[test]
    fn resume_appends_after_existing_records() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[rec(2, "a@x", "enforce", Status::Applied)])
            .unwrap();
        drop(journal);
        let (mut journal, back) = Journal::resume(&path, &[]).unwrap();
        assert_eq!(back.len(), 1);
        journal
            .append(&[rec(3, "b@x", "enforce", Status::Unchanged)])
            .unwrap();
        drop(journal);
        let users: Vec<String> = read_results(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.user)
            .collect();
        assert_eq!(users, ["a@x", "b@x"]);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("row,user").count(), 1, "one header: {text}");
    }

    #[test]
    fn resume_of_a_missing_empty_or_torn_header_file_starts_with_a_header() {
        let (_dir, path) = scratch();
        for before in [None, Some(""), Some("row,user,act")] {
            match before {
                None => {
                    let _ = fs::remove_file(&path);
                }
                Some(text) => fs::write(&path, text).unwrap(),
            }
            let (journal, back) = Journal::resume(&path, &[]).unwrap();
            drop(journal);
            assert!(back.is_empty());
            assert_eq!(
                fs::read_to_string(&path).unwrap(),
                header_line(&[]),
                "{before:?}"
            );
        }
    }

    #[test]
    fn resume_refuses_a_file_that_is_not_this_runs_results_and_leaves_it_alone() {
        let (_dir, path) = scratch();
        for text in ["user,action\na@x,enforce\n", "not a results file"] {
            fs::write(&path, text).unwrap();
            let err = Journal::resume(&path, &[]).unwrap_err();
            assert!(matches!(err, JournalError::Header { .. }), "{err}");
            assert_eq!(fs::read_to_string(&path).unwrap(), text);
        }
        fs::write(&path, header_line(&[])).unwrap();
        let err = Journal::resume(&path, &["department".into()]).unwrap_err();
        assert!(err.to_string().contains("header does not match"), "{err}");
    }

    #[test]
    fn create_refuses_an_existing_non_empty_file_and_says_resume_or_overwrite() {
        let (_dir, path) = scratch();
        fs::write(&path, "keep me\n").unwrap();
        let err = Journal::create(&path, false, &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, JournalError::Exists { .. }));
        assert!(
            msg.contains("results.csv") && msg.contains("--resume") && msg.contains("--overwrite"),
            "{msg}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep me\n");
    }

    #[test]
    fn create_accepts_a_file_with_only_a_header_and_refuses_one_with_a_record() {
        let (_dir, path) = scratch();
        for extra in [&[][..], &["Employee ID".to_string()][..]] {
            fs::write(
                &path,
                header_line(&extra.iter().map(String::as_str).collect::<Vec<_>>()),
            )
            .unwrap();
            Journal::reserve(&path, false).map(drop).unwrap();
            drop(Journal::create(&path, false, &[]).unwrap());
            assert_eq!(fs::read_to_string(&path).unwrap(), header_line(&[]));
        }
        let mut j = Journal::create(&path, true, &[]).unwrap();
        j.append(&[ResultRecord {
            row: 2,
            user: "a@b.c".into(),
            action: "enforce".into(),
            status: Status::Applied,
            ..ResultRecord::default()
        }])
        .unwrap();
        drop(j);
        let kept = fs::read(&path).unwrap();
        let err = Journal::reserve(&path, false).map(drop).unwrap_err();
        assert!(matches!(err, JournalError::Exists { .. }), "{err}");
        let err = Journal::create(&path, false, &[]).unwrap_err();
        assert!(matches!(err, JournalError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), kept);
        // A header line and a torn record: something was there.
        let mut torn = header_line(&[]).into_bytes();
        torn.extend_from_slice(b"2,a@b.c,enforce,appl");
        fs::write(&path, &torn).unwrap();
        assert!(Journal::reserve(&path, false).map(drop).is_err());
    }

    #[test]
    fn create_accepts_an_existing_empty_file() {
        let (_dir, path) = scratch();
        fs::write(&path, "").unwrap();
        drop(Journal::create(&path, false, &[]).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), header_line(&[]));
    }

    #[test]
    fn overwrite_replaces_an_existing_file() {
        let (_dir, path) = scratch();
        fs::write(&path, "old\nold\n").unwrap();
        drop(Journal::create(&path, true, &[]).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), header_line(&[]));
    }

    #[test]
    fn create_in_a_missing_directory_fails_naming_it() {
        let (dir, _) = scratch();
        let path = dir.path().join("missing").join("results.csv");
        let msg = Journal::create(&path, false, &[]).unwrap_err().to_string();
        assert!(
            msg.contains("does not exist") && msg.contains("missing"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        assert!(!dir.path().join("missing").exists());
    }

    #[test]
    fn create_on_a_directory_fails_cleanly() {
        let (dir, _) = scratch();
        let msg = Journal::create(dir.path(), true, &[])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("directory"), "{msg}");
    }

    #[test]
    fn second_journal_on_the_same_results_file_is_locked_out() {
        let (_dir, path) = scratch();
        let first = Journal::create(&path, false, &[]).unwrap();
        for err in [
            Journal::create(&path, true, &[]).unwrap_err(),
            Journal::resume(&path, &[]).unwrap_err(),
        ] {
            let msg = err.to_string();
            assert!(matches!(err, JournalError::Locked { .. }), "{msg}");
            assert!(msg.contains("in use by another mfa-rollout run"), "{msg}");
            assert!(msg.contains("results.csv.lock"), "{msg}");
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            header_line(&[]),
            "untouched"
        );
        finish_all(first).unwrap();
        drop(Journal::resume(&path, &[]).unwrap());
    }

    #[test]
    fn finish_reads_back_awkward_records_appended_out_of_order_exactly() {
        let (_dir, path) = scratch();
        let extra = vec!["dept".to_string(), "site".to_string()];
        let mut journal = Journal::create(&path, false, &extra).unwrap();
        let mut retried = awkward(4);
        retried.status = Status::Applied;
        retried.message = "second try,\n\"ok\"".into();
        journal
            .append(&[
                awkward(9),
                awkward(4),
                awkward(2),
                retried.clone(),
                awkward(7),
            ])
            .unwrap();
        let got = finish_all(journal).unwrap();
        let want = vec![awkward(2), retried, awkward(7), awkward(9)];
        assert_eq!(got, want);
        assert_eq!(read_results(&path).unwrap(), want, "the file holds them");
    }

    #[test]
    fn finish_after_resuming_an_excel_file_keeps_every_record() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[rec(3, "c@x", "enforce", Status::Applied)])
            .unwrap();
        finish_all(journal).unwrap();
        crate::journal::add_excel_bom(&path).unwrap();
        let (mut journal, done) = Journal::resume(&path, &[]).unwrap();
        assert_eq!(done.len(), 1);
        journal
            .append(&[rec(2, "b@x", "disable", Status::Applied)])
            .unwrap();
        let got: Vec<u64> = finish_all(journal).unwrap().iter().map(|r| r.row).collect();
        assert_eq!(got, vec![2, 3]);
    }

    #[test]
    fn finish_keeps_the_last_record_per_row_and_action_in_input_order() {
        let (dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal
            .append(&[
                rec(5, "e@x", "revoke-sessions", Status::Applied),
                rec(3, "c@x", "enforce", Status::Failed),
                rec(5, "e@x", "disable", Status::Applied),
            ])
            .unwrap();
        drop(journal);
        // A later session (resume) retries row 3 and finishes.
        let (mut journal, _) = Journal::resume(&path, &[]).unwrap();
        journal
            .append(&[
                rec(3, "c@x", "enforce", Status::Applied),
                rec(2, "b@x", "enforce", Status::Unchanged),
            ])
            .unwrap();
        let compacted = finish_all(journal).unwrap();
        let got: Vec<(u64, String, Status)> = compacted
            .iter()
            .map(|r| (r.row, r.action.clone(), r.status))
            .collect();
        let want = vec![
            (2, "enforce".to_string(), Status::Unchanged),
            (3, "enforce".to_string(), Status::Applied),
            (5, "disable".to_string(), Status::Applied),
            (5, "revoke-sessions".to_string(), Status::Applied),
        ];
        assert_eq!(got, want);
        assert_eq!(
            read_results(&path).unwrap(),
            compacted,
            "the file holds the compacted records"
        );
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected = vec!["results.csv"];
        if cfg!(not(unix)) {
            // Kept on Windows (see the lock module's docs).
            expected.push("results.csv.lock");
        }
        assert_eq!(names, expected, "no temp file or lock file left");
    }

    #[test]
    fn an_unnamed_journal_compacts_like_a_file_and_hands_out_awkward_records_exactly() {
        let extra = ["Ticket".to_string()];
        let mut journal = Journal::unnamed(&extra).unwrap();
        assert!(!journal.is_named());
        let mut odd = awkward(4);
        odd.extra = vec!["=T-1".into()];
        let mut first = rec(3, "c@x", "enforce", Status::Failed);
        first.extra = vec![String::new()];
        let mut again = rec(3, "c@x", "enforce", Status::Planned);
        again.extra = vec!["T-3".into()];
        journal.append(&[odd.clone(), first]).unwrap();
        journal.append(std::slice::from_ref(&again)).unwrap();
        let got = finish_all(journal).unwrap();
        assert_eq!(got, vec![again, odd]);
    }

    /// A disk that takes `room` bytes and then reports it is full.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink for FullDisk {
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_is_returned_and_later_writes_are_refused() {
        let (_dir, path) = scratch();
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal.replace_sink(Box::new(FullDisk { room: 10 }));
        let err = journal.append(&[awkward(2)]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, JournalError::Io { .. }), "{msg}");
        assert!(
            msg.contains("cannot write results file") && msg.contains("results.csv"),
            "{msg}"
        );
        assert!(msg.contains("no space left"), "{msg}");
        let again = journal.append(&[awkward(3)]).unwrap_err();
        assert!(matches!(again, JournalError::Broken { .. }), "{again}");
        assert!(matches!(
            journal.sync().unwrap_err(),
            JournalError::Broken { .. }
        ));
        // finish still compacts what reached the real file (here: only the header).
        assert_eq!(finish_all(journal).unwrap(), vec![]);
    }

    /// Counts fsyncs; writes always succeed.
    struct CountingDisk(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Write for CountingDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink for CountingDisk {
        fn sync(&mut self) -> io::Result<()> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn append_fsyncs_only_when_the_last_fsync_is_a_second_old() {
        let (_dir, path) = scratch();
        let syncs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut journal = Journal::create(&path, false, &[]).unwrap();
        journal.replace_sink(Box::new(CountingDisk(syncs.clone())));
        journal.last_sync = Instant::now();
        journal.append(&[awkward(2)]).unwrap();
        journal.append(&[awkward(3)]).unwrap();
        assert_eq!(syncs.load(std::sync::atomic::Ordering::Relaxed), 0);
        journal.last_sync = Instant::now() - SYNC_EVERY;
        journal.append(&[awkward(4)]).unwrap();
        assert_eq!(syncs.load(std::sync::atomic::Ordering::Relaxed), 1);
        journal.append(&[awkward(5)]).unwrap();
        assert_eq!(syncs.load(std::sync::atomic::Ordering::Relaxed), 1);
        journal.sync().unwrap();
        assert_eq!(syncs.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn journal_can_move_to_a_writer_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Journal>();
        assert_send::<JournalError>();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        #[test]
        fn any_records_round_trip_through_append_and_resume(
            cells in proptest::collection::vec(
                (
                    0u64..u64::MAX,
                    proptest::array::uniform8("(\\PC|[=+\\-@'\",\r\n\t ]){0,12}"),
                    proptest::option::of(0u16..u16::MAX),
                    0u32..u32::MAX,
                    0usize..7,
                ),
                0..12,
            ),
            extra_name in "[a-z=+'\",]{1,6}",
        ) {
            let records: Vec<ResultRecord> = cells
                .into_iter()
                .map(|(row, t, http_status, attempts, status)| ResultRecord {
                    row,
                    user: t[0].clone(),
                    action: t[1].clone(),
                    status: Status::ALL[status],
                    before: t[2].clone(),
                    after: t[3].clone(),
                    http_status,
                    error_code: t[4].clone(),
                    message: t[5].clone(),
                    attempts,
                    request_id: t[6].clone(),
                    client_request_id: t[7].clone(),
                    finished_at: t[0].clone(),
                    extra: vec![t[7].clone()],
                })
                .collect();
            let (_dir, path) = scratch();
            let extra = vec![extra_name];
            let mut journal = Journal::create(&path, false, &extra).unwrap();
            journal.append(&records).unwrap();
            drop(journal);
            let (_journal, back) = Journal::resume(&path, &extra).unwrap();
            proptest::prop_assert_eq!(back, records);
        }
    }
}
