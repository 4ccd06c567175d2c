//! Entry point: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(mfa_rollout::run::main_with_args(std::env::args_os()))
}
