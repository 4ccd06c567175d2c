//! The one integration-test binary: drives the real `mfa-rollout` and the in-process emulator
//! over loopback. One module per area.

mod bad_input;
mod campaigns;
mod emulator_conformance;
mod input_cli;
mod journal_files;
mod rollout;
mod util;
