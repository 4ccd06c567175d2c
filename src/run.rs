//! Runs one command: the library's entry point, called by `main` and by tests.

use std::ffi::OsString;

/// Parses `args` and runs the command; returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser;
    match crate::cli::Cli::try_parse_from(args) {
        Ok(_cli) => 0,
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() { 2 } else { 0 }
        }
    }
}
