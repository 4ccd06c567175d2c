//! Integration tests for the sign-in modes admins' machines already use: a PFX certificate of
//! each encryption exporters write, a federated (workload identity) token file, the managed
//! identity endpoints, and the Azure CLI; each against the emulator, with the secret-hygiene
//! check over a verbose run's output.

use std::path::{Path, PathBuf};

use mfa_rollout::emulator::EmulatorConfig;

use crate::util::{Env, results, rollout_csv, run, stat};

/// The fixtures' password (tests/fixtures/pfx/make.sh).
const PFX_PASSWORD: &str = "pfx-fixture-pässwort";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pfx")
        .join(name)
}

fn upns(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env.users().keys().cloned().collect();
    v.sort();
    v
}

/// Nothing secret in what a run printed or wrote: none of `secrets`, and no JWT (access
/// tokens and client assertions are JWTs; their base64url JSON header starts with "eyJ").
#[track_caller]
pub(crate) fn assert_clean(texts: &[&str], secrets: &[&str]) {
    for text in texts {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
        assert!(!text.contains("eyJ"), "a token leaked: {text}");
    }
}

#[test]
fn a_pfx_of_each_exporters_encryption_signs_in_and_completes_a_rollout() {
    let mut config = EmulatorConfig::generated(20, 5).no_throttle();
    config.certificates = vec![std::fs::read_to_string(fixture("cert.pem")).unwrap()];
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let out = env.path("r.csv");
    for name in [
        "windows-3des-sha1.pfx",
        "windows-aes256-sha256.pfx",
        "openssl3-default.pfx",
        "openssl-legacy.pfx",
    ] {
        let mut cmd = env.rollout("apply", &input, &out, &["--overwrite", "-vv"]);
        cmd.env_remove("AZURE_CLIENT_SECRET")
            .env("AZURE_CLIENT_CERTIFICATE_PATH", fixture(name))
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", PFX_PASSWORD);
        let (code, stdout, stderr) = run(cmd);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert_eq!(results(&out).len(), 20, "{name}");
        let written = std::fs::read_to_string(&out).unwrap();
        assert_clean(&[&stdout, &stderr, &written], &[PFX_PASSWORD]);
    }
    assert!(stat(&env.stats(), "token_grants") >= 4);
}

#[test]
fn a_pfx_with_a_wrong_password_is_refused_in_one_line_before_any_request() {
    let mut config = EmulatorConfig::generated(5, 5);
    config.certificates = vec![std::fs::read_to_string(fixture("cert.pem")).unwrap()];
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let mut cmd = env.rollout("apply", &input, &env.path("r.csv"), &[]);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .arg("--certificate")
        .arg(fixture("windows-3des-sha1.pfx"))
        .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "not-the-password");
    let (code, stdout, stderr) = run(cmd);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the password is wrong"), "{stderr}");
    assert_clean(&[&stdout, &stderr], &["not-the-password"]);
    assert_eq!(stat(&env.stats(), "requests"), 0);
}
