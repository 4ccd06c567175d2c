//! Output paths checked against the command's input and against each other before anything
//! is read from the tenant or written: an output that is the input would destroy it, and two
//! outputs on one path would leave only the last one written.
//!
//! Paths are compared as the file system resolves them, so `./in.csv`, `dir/../in.csv`, a
//! symbolic or hard link, and a different letter case on a case-insensitive file system all
//! count as the same file. An existing file is compared by identity (device and inode on
//! Unix; the canonical path elsewhere, which on Windows carries the on-disk case). A file
//! that does not exist yet is compared by its canonical parent directory and its name, the
//! name ignoring case everywhere: two outputs of one command whose names differ only in case
//! are refused even where the file system would keep them apart (the stricter reading; no
//! command needs them).

use std::path::{Path, PathBuf};

use crate::error::Error;

/// One path a command reads or writes, with the flag (or argument) that named it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamedPath<'a> {
    pub(crate) flag: &'a str,
    pub(crate) path: &'a Path,
}

/// What a path resolves to, for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// An existing file, by identity.
    Existing(FileId),
    /// A file still to be made: its directory (canonical) and its name, lowercased.
    New { dir: PathBuf, name: String },
    /// Not resolvable (a missing directory): later steps report it; compared as written.
    AsWritten(PathBuf),
}

#[cfg(unix)]
#[derive(Debug, PartialEq, Eq)]
struct FileId(u64, u64);

#[cfg(not(unix))]
#[derive(Debug, PartialEq, Eq)]
struct FileId(PathBuf);

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileId(meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::canonicalize(path).ok().map(FileId)
}

fn resolve(path: &Path) -> Resolved {
    if let Some(id) = file_id(path) {
        return Resolved::Existing(id);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => Resolved::New {
            dir,
            name: name.to_string_lossy().to_lowercase(),
        },
        _ => Resolved::AsWritten(path.to_path_buf()),
    }
}

/// Refuses (exit 2, nothing done) an output that is one of the `inputs` or another of the
/// `outputs`. `None` entries (flags not given) are skipped.
pub(crate) fn check_distinct(
    inputs: &[NamedPath<'_>],
    outputs: &[Option<NamedPath<'_>>],
) -> Result<(), Error> {
    let inputs: Vec<(NamedPath<'_>, Resolved)> =
        inputs.iter().map(|p| (*p, resolve(p.path))).collect();
    let mut seen: Vec<(NamedPath<'_>, Resolved)> = Vec::new();
    for out in outputs.iter().flatten() {
        let resolved = resolve(out.path);
        if let Some((input, _)) = inputs.iter().find(|(_, r)| *r == resolved) {
            return Err(Error::Usage(format!(
                "{} {} is the {} file ({}); writing there would destroy it: choose another path",
                out.flag,
                out.path.display(),
                input.flag,
                input.path.display()
            )));
        }
        if let Some((other, _)) = seen.iter().find(|(_, r)| *r == resolved) {
            return Err(Error::Usage(format!(
                "{} {} is the same file as {} {}: give each output its own path",
                out.flag,
                out.path.display(),
                other.flag,
                other.path.display()
            )));
        }
        seen.push((*out, resolved));
    }
    Ok(())
}

/// Refuses an existing non-empty `path` unless `overwrite` (the rule the results file
/// follows, for the other files a command writes).
pub(crate) fn check_overwrite(flag: &str, path: &Path, overwrite: bool) -> Result<(), Error> {
    if !overwrite && std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        return Err(Error::Usage(format!(
            "{flag} {} already exists and is not empty: pass --overwrite to replace it",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'a>(flag: &'a str, path: &'a Path) -> NamedPath<'a> {
        NamedPath { flag, path }
    }

    #[test]
    fn an_output_written_differently_but_naming_the_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let roundabout = dir.path().join("sub").join("..").join("in.csv");
        let err = check_distinct(
            &[named("INPUT", &input)],
            &[Some(named("--results", &roundabout))],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("--results "), "{msg}");
        assert!(msg.contains("is the INPUT file"), "{msg}");
        assert_eq!(err.code(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn an_output_that_is_a_link_to_the_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &hard).unwrap();
        for out in [&link, &hard] {
            let err = check_distinct(&[named("INPUT", &input)], &[Some(named("--html", out))])
                .unwrap_err();
            assert!(err.to_string().contains("is the INPUT file"), "{err}");
        }
    }

    #[test]
    fn two_new_outputs_whose_names_differ_only_in_case_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("plan.csv");
        let b = dir.path().join("PLAN.CSV");
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user\n").unwrap();
        let err = check_distinct(
            &[named("INPUT", &input)],
            &[Some(named("--report", &a)), Some(named("--html", &b))],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("is the same file as --report"), "{msg}");
    }

    #[test]
    fn distinct_paths_pass_and_absent_flags_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user\n").unwrap();
        let a = dir.path().join("results.csv");
        let b = dir.path().join("report.html");
        check_distinct(
            &[named("INPUT", &input)],
            &[
                Some(named("--results", &a)),
                None,
                Some(named("--html", &b)),
            ],
        )
        .unwrap();
    }

    #[test]
    fn an_existing_file_is_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("r.html");
        check_overwrite("--html", &page, false).unwrap();
        std::fs::write(&page, "<html>").unwrap();
        let err = check_overwrite("--html", &page, false).unwrap_err();
        assert!(err.to_string().contains("--overwrite"), "{err}");
        check_overwrite("--html", &page, true).unwrap();
    }
}
