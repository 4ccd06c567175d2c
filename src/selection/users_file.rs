//! The resolved list of a selection on disk (`FILE.users`, CSV: `id,userPrincipalName,
//! displayName,userType,accountEnabled`), written through a temp file renamed once the last
//! page is in, before the first user is read or written: a resumed run (or export) reads it
//! back and works on the same users, whatever the tenant did since. Read back as a stream,
//! so a caller turning users into work never holds the list twice. Its first line,
//! `# selected with: FLAGS`, records the selection that made it, so a resume given other
//! selection flags is caught (a file written before that line existed has only the header).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::journal::{neutralize, restore_cell};

/// What the first line of a users file starts with, before the selection's flags.
const SELECTED_WITH: &str = "# selected with: ";

/// The header of a users file.
const HEADER: [&str; 5] = [
    "id",
    "userPrincipalName",
    "displayName",
    "userType",
    "accountEnabled",
];

/// One user as listed (before its reads): what `GET /users` or a group's member list gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListedUser {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) display_name: String,
    pub(crate) user_type: String,
    pub(crate) account_enabled: String,
}

/// The users file beside `out`: `out.users`.
pub(crate) fn users_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".users");
    PathBuf::from(name)
}

/// A users file being written: to `path.tmp`, renamed to `path` by [`UsersWriter::finish`].
pub(crate) struct UsersWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    written: u64,
}

impl UsersWriter {
    /// A users file for the selection `selected_with` (its flags, as the first line says).
    pub(crate) fn create(path: &Path, selected_with: &str) -> Result<UsersWriter, String> {
        let mut tmp_name = path.as_os_str().to_os_string();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let file = std::fs::File::create(&tmp)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        let mut w = UsersWriter {
            path: path.to_path_buf(),
            tmp,
            out: std::io::BufWriter::new(file),
            written: 0,
        };
        // One line whatever the flags hold: control characters are escaped by the caller.
        let first = format!(
            "{SELECTED_WITH}{}\n",
            selected_with.replace(['\r', '\n'], " ")
        );
        w.out
            .write_all(first.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", w.tmp.display()))?;
        w.line(&HEADER)?;
        Ok(w)
    }

    fn line(&mut self, cells: &[&str]) -> Result<(), String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(cells.iter().map(|c| neutralize(c).into_owned()))
            .map_err(|e| e.to_string())?;
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        self.out
            .write_all(&bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.tmp.display()))
    }

    pub(crate) fn push(&mut self, u: &ListedUser) -> Result<(), String> {
        self.line(&[
            &u.id,
            &u.upn,
            &u.display_name,
            &u.user_type,
            &u.account_enabled,
        ])?;
        self.written += 1;
        Ok(())
    }

    /// Syncs and renames the file into place; returns how many users it lists.
    pub(crate) fn finish(self) -> Result<u64, String> {
        let io = |e: std::io::Error| format!("cannot write {}: {e}", self.tmp.display());
        let file = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        Ok(self.written)
    }
}

/// Reads a users file back, in listing order, one user at a time to `each`; an error of
/// `each` ends the reading with it.
pub(crate) fn for_each_user(
    path: &Path,
    mut each: impl FnMut(ListedUser) -> Result<(), String>,
) -> Result<(), String> {
    let (selected_with, rest) = open(path)?;
    let mut reader = csv::Reader::from_reader(rest);
    let header = reader
        .headers()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(format!(
            "{} is not a users file (its header is not {})",
            path.display(),
            HEADER.join(",")
        ));
    }
    let mut record = csv::StringRecord::new();
    let mut line = 1 + u64::from(selected_with.is_some());
    loop {
        line += 1;
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(format!("{}: line {line}: {e}", path.display())),
        }
        let c = |i: usize| {
            record
                .get(i)
                .map(|s| restore_cell(s).to_string())
                .unwrap_or_default()
        };
        let user = ListedUser {
            id: c(0),
            upn: c(1),
            display_name: c(2),
            user_type: c(3),
            account_enabled: c(4),
        };
        if user.id.is_empty() {
            return Err(format!("{}: line {line} has no id", path.display()));
        }
        each(user)?;
    }
}

/// The users file at `path`: the selection its first line records (`None`: a file without
/// that line), and a reader from its header on.
fn open(path: &Path) -> Result<(Option<String>, Box<dyn std::io::Read>), String> {
    use std::io::{BufRead, Read};
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = std::io::BufReader::new(std::fs::File::open(path).map_err(cannot)?);
    let mut first = String::new();
    file.read_line(&mut first).map_err(cannot)?;
    Ok(match first.strip_prefix(SELECTED_WITH) {
        Some(flags) => (Some(flags.trim_end().to_string()), Box::new(file)),
        None => (None, Box::new(std::io::Cursor::new(first).chain(file))),
    })
}

/// The selection a users file records it was made with (`None`: a file written before the
/// record existed).
pub(crate) fn selected_with(path: &Path) -> Result<Option<String>, String> {
    open(path).map(|(flags, _)| flags)
}

/// Reads a users file back whole, in listing order.
#[cfg(test)]
pub(crate) fn read_users(path: &Path) -> Result<Vec<ListedUser>, String> {
    let mut out = Vec::new();
    for_each_user(path, |u| {
        out.push(u);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_file_reads_back_as_written_formula_like_names_included() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.users");
        let users = [
            ListedUser {
                id: "00000000-0000-0000-0000-000000000001".into(),
                upn: "a_x.com#EXT#@t.onmicrosoft.com".into(),
                display_name: "=SUM(1,2), \"quoted\"".into(),
                user_type: "Guest".into(),
                account_enabled: "true".into(),
            },
            ListedUser {
                id: "00000000-0000-0000-0000-000000000002".into(),
                ..ListedUser::default()
            },
        ];
        let mut w = UsersWriter::create(&path, "--group \"Sales\\nEast\"").unwrap();
        for u in &users {
            w.push(u).unwrap();
        }
        assert!(!path.exists(), "only the temp file until finished");
        assert_eq!(w.finish().unwrap(), 2);
        assert_eq!(read_users(&path).unwrap(), users);
        assert_eq!(
            selected_with(&path).unwrap().as_deref(),
            Some("--group \"Sales\\nEast\"")
        );
        // A file written before the first line recorded the selection reads the same.
        let text = std::fs::read_to_string(&path).unwrap();
        let old = dir.path().join("old.users");
        std::fs::write(&old, text.split_once('\n').unwrap().1).unwrap();
        assert_eq!(read_users(&old).unwrap(), users);
        assert_eq!(selected_with(&old).unwrap(), None);
    }
}
