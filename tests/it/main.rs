//! The one integration-test binary: drives the real `mfa-rollout` and the in-process emulator
//! over loopback. One module per area.

mod actions;
mod bad_input;
mod breaker;
mod campaigns;
mod emulator_conformance;
mod export;
mod first_hour;
mod group_conformance;
mod guests;
mod input_cli;
mod journal_files;
mod libreoffice_corpus;
mod limit;
mod mail_column;
mod methods;
mod pacing;
mod protected;
mod retry_failed;
mod rollout;
mod selection;
mod shell_integration;
mod sign_in;
mod sign_in_modes;
mod spreadsheets;
mod tenants;
mod user_list_conformance;
mod util;
