//! What is generated from the clap definitions in `cli` rather than written by hand, so it
//! can never drift from the flags the tool takes: the shell completion scripts
//! (`mfa-rollout completions SHELL`) and the manual pages (`mfa-rollout man`). It is handed
//! the clap `Command` and the options already read, so it sees no clap types of `cli`.

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// The name the scripts complete and the pages are titled with.
const BIN_NAME: &str = "mfa-rollout";

/// `completions SHELL`: the script for `command` on stdout.
pub(crate) fn completions(
    shell: clap_complete::Shell,
    mut command: clap::Command,
) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN_NAME, &mut script);
    if shell == clap_complete::Shell::Bash {
        script = fix_bash_states(&script).into_bytes();
    }
    to_stdout(&script)
}

/// clap_complete's bash script (4.6.12) spells the state of a subcommand of a binary with a
/// `-` in its name two ways: the loop over the words reaches `mfa__rollout__subcmd__apply`,
/// the `case` arms test `mfa__subcmd__rollout__subcmd__apply`, so no subcommand's flags ever
/// complete (clap-rs/clap#6421). The arms are respelled the loop's way; once clap_complete
/// agrees with itself there is nothing to respell. The integration test drives the script in
/// bash, so a new spelling cannot go unnoticed.
fn fix_bash_states(script: &[u8]) -> String {
    let script = String::from_utf8_lossy(script);
    let loop_spelling = format!("{}__subcmd__", BIN_NAME.replace('-', "__"));
    let arm_spelling = format!("{}__subcmd__", BIN_NAME.replace('-', "__subcmd__"));
    script.replace(&arm_spelling, &loop_spelling)
}

/// `man`: `command`'s main page on stdout, or every page into `--out-dir`.
pub(crate) fn man(out_dir: Option<&Path>, command: clap::Command) -> Result<(), Error> {
    let command = command.name(BIN_NAME);
    if let Some(dir) = out_dir {
        return write_pages(command, dir);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|e| Error::Other(format!("cannot render the manual page: {e}")))?;
    to_stdout(&page)
}

fn write_pages(command: clap::Command, dir: &Path) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::File {
            path: dir.to_path_buf(),
            message: "--out-dir: not a directory".into(),
        });
    }
    clap_mangen::generate_to(command, dir).map_err(|e| Error::File {
        path: dir.to_path_buf(),
        message: format!("cannot write the manual pages: {e}"),
    })
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
fn to_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bash_scripts_case_arms_are_spelled_as_its_loop_spells_the_state() {
        let mut raw = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut crate::run::command_line(),
            BIN_NAME,
            &mut raw,
        );
        let fixed = fix_bash_states(&raw);
        assert!(
            fixed.contains("cmd=\"mfa__rollout__subcmd__apply\""),
            "the loop"
        );
        assert!(
            fixed.contains("\n        mfa__rollout__subcmd__apply)\n"),
            "its arm"
        );
        assert!(!fixed.contains("mfa__subcmd__rollout"));
    }
}
