//! Integration tests: input_cli. The `validate` command's wiring is built in `run.rs` by
//! another module; until it lands, these check the shipped samples through the library, so a
//! sample the README runs can never carry an invalid row.

use std::path::Path;

use mfa_rollout::action::Action;
use mfa_rollout::input::{InputOptions, load};

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

#[test]
fn rollout_sample_loads_without_problems_or_warnings() {
    let input = load(&sample("rollout.csv"), &InputOptions::default()).unwrap();
    assert_eq!(input.jobs.len(), 295);
    assert!(input.invalid.is_empty() && input.warnings.is_empty());
    assert_eq!(input.jobs.first().map(|j| j.row), Some(2));
    assert!(
        input
            .jobs
            .iter()
            .any(|j| j.user == "left.company@contoso.onmicrosoft.com")
    );
}

#[test]
fn offboarding_sample_runs_its_combos_in_order() {
    let input = load(&sample("offboarding.csv"), &InputOptions::default()).unwrap();
    assert_eq!(input.jobs.len(), 10);
    assert_eq!(
        input.jobs[0].actions,
        [
            Action::Disable,
            Action::ResetMethods,
            Action::RevokeSessions
        ]
    );
}
