//! Integration tests for what installs the tool into a shell and a manual (issue 19 item 7):
//! the completion scripts and the manual pages `mfa-rollout` generates from its own flags.

use std::path::Path;
use std::process::Command;

use crate::util::{BIN, Invocation, Output};

/// `mfa-rollout ARGS`, in `dir`, with nothing from the environment that could sign in.
fn tool(dir: &Path, args: &[&str]) -> Invocation {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir);
    Invocation::from(c)
}

/// Sources the bash script, finds the function `complete -p` registered for mfa-rollout and
/// calls it as bash does on TAB for each line of `lines` (words, the last one being
/// completed); prints each line's candidates after a `--- ` marker.
const BASH_DRIVER: &str = r#"
source "$1"
shift
spec=$(complete -p mfa-rollout) || exit 9
printf 'spec: %s\n' "$spec"
func=$(printf '%s\n' "$spec" | sed -E 's/.* -F ([^ ]+) .*/\1/')
for line in "$@"; do
  read -r -a COMP_WORDS <<< "$line"
  case "$line" in *' ') COMP_WORDS+=('');; esac
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMP_LINE="$line"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$func" mfa-rollout "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf -- '--- %s\n' "$line"
  printf '%s\n' "${COMPREPLY[@]}"
done
"#;

/// The candidates bash offers for each of `lines`.
fn bash_completes(script: &Path, lines: &[&str]) -> Vec<Vec<String>> {
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", BASH_DRIVER, "driver"])
        .arg(script)
        .args(lines)
        .current_dir(script.parent().unwrap())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("spec: complete ")
            && stdout.lines().next().unwrap().ends_with(" mfa-rollout"),
        "the script registers a completion for mfa-rollout: {stdout}"
    );
    let mut found: Vec<Vec<String>> = Vec::new();
    for l in stdout.lines().skip(1) {
        if l.starts_with("--- ") {
            found.push(Vec::new());
        } else if let Some(last) = found.last_mut()
            && !l.is_empty()
        {
            last.push(l.to_string());
        }
    }
    assert_eq!(found.len(), lines.len(), "{stdout}");
    found
}

#[test]
fn the_bash_completion_script_completes_subcommands_their_flags_and_shells() {
    let dir = tempfile::tempdir().unwrap();
    let Output { stdout: script, .. } = tool(dir.path(), &["completions", "bash"]).expect_exit(0);
    let path = dir.path().join("mfa-rollout.bash");
    std::fs::write(&path, &script).unwrap();
    let got = bash_completes(
        &path,
        &[
            "mfa-rollout ap",
            "mfa-rollout ro",
            "mfa-rollout apply --res",
            "mfa-rollout plan --rep",
            "mfa-rollout completions ",
        ],
    );
    assert_eq!(got[0], ["apply"]);
    assert_eq!(got[1], ["rollback"]);
    assert_eq!(
        got[2],
        ["--results", "--resume", "--reset-scope"],
        "apply's own flags"
    );
    assert_eq!(got[3], ["--report"], "plan's own flags");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(got[4].iter().any(|c| c == shell), "{shell} in {:?}", got[4]);
    }
}

#[test]
fn every_shell_gets_a_script_naming_the_subcommands_and_an_unknown_shell_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef mfa-rollout"),
        ("fish", "complete -c mfa-rollout"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "set edit:completion:arg-completer[mfa-rollout]"),
    ] {
        let Output { stdout: script, .. } = tool(dir.path(), &["completions", shell])
            .labelled(shell)
            .expect_exit(0);
        assert!(script.contains(marker), "{shell}: {marker}");
        for sub in [
            "validate", "plan", "apply", "rollback", "report", "check", "emulator",
        ] {
            assert!(script.contains(sub), "{shell}: {sub}");
        }
        // fish names a long flag without its dashes (`-l max-changes`).
        assert!(script.contains("max-changes"), "{shell}: apply's flags");
    }
    let stderr = tool(dir.path(), &["completions", "tcsh"])
        .expect_exit(2)
        .stderr;
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
    assert!(
        stderr.contains("bash, elvish, fish, powershell, zsh"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// The `.SH` section names of a roff page.
fn sections(roff: &str) -> Vec<String> {
    roff.lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

#[test]
fn the_man_page_is_roff_that_renders_with_every_command_and_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let Output { stdout: page, .. } = tool(dir.path(), &["man"]).expect_exit(0);
    let title = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH line: {page}"));
    assert!(title.starts_with(".TH mfa-rollout 1 "), "{title}");
    assert!(
        title.contains(env!("CARGO_PKG_VERSION")),
        "the version: {title}"
    );
    let found = sections(&page);
    for s in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "SUBCOMMANDS",
        "VERSION",
    ] {
        assert!(found.iter().any(|f| f == s), "{s} in {found:?}");
    }
    for sub in [
        "validate", "plan", "apply", "rollback", "report", "check", "emulator",
    ] {
        assert!(page.contains(&format!("mfa\\-rollout\\-{sub}(1)")), "{sub}");
    }

    // --out-dir: one page per command, each with that command's own flags.
    tool(dir.path(), &["man", "--out-dir", "."]).expect_exit(0);
    let apply = std::fs::read_to_string(dir.path().join("mfa-rollout-apply.1")).unwrap();
    assert!(
        apply.starts_with(".ie") || apply.contains(".TH mfa-rollout-apply 1"),
        "{apply}"
    );
    assert!(apply.contains("\\-\\-max\\-changes"), "apply's flags");
    assert!(dir.path().join("mfa-rollout.1").exists());
    assert!(dir.path().join("mfa-rollout-plan.1").exists());
    tool(dir.path(), &["man", "--out-dir", "missing"])
        .expect_exit(2)
        .stderr_has("missing: --out-dir: not a directory");

    // Where man(1) is installed, the page renders as a reader sees it.
    if Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let out = Command::new("man")
            .args(["-l", "mfa-rollout-apply.1"])
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .current_dir(dir.path())
            .output()
            .expect("man runs");
        // Bold and underline come as overstrikes (`X\x08X`) when the output is not a terminal.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("NAME") && text.contains("mfa-rollout-apply"),
            "{text}"
        );
        assert!(text.contains("--max-changes"), "{text}");
        assert!(
            !text.contains(".TH") && !text.contains("\\fB"),
            "no raw roff: {text}"
        );
    }
}
