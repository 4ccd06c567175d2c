//! Integration tests for production sign-in: a certificate and a device-code sign-in each
//! complete a rollout, tokens that expire every few seconds are renewed without losing an
//! item, bad credentials give one clear line and exit 3, and no secret or token is ever
//! written anywhere.

use mfa_rollout::emulator::EmulatorConfig;
use mfa_rollout::journal::Status;

use crate::util::{Env, Invocation, Output, results, rollout_csv, stat, upns, with_device_code};

/// An RSA key and a self-signed certificate valid from `from` to `to` (unix seconds), as one
/// PEM text, and the certificate alone.
fn certificate(from: i64, to: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("rsa key");
    let mut params = rcgen::CertificateParams::new(vec!["mfa-rollout-it".to_owned()]).unwrap();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(to).unwrap();
    let cert = params.self_signed(&key).expect("self-signed");
    (format!("{}{}", cert.pem(), key.serialize_pem()), cert.pem())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn a_certificate_sign_in_completes_a_rollout() {
    let (pem, cert) = certificate(now() - 3600, now() + 86_400);
    let mut config = EmulatorConfig::generated(60, 5).no_throttle();
    config.certificates = vec![cert];
    let env = Env::start(config);
    let key = env.write("app.pem", &pem);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    for alg in ["ps256", "rs256"] {
        let mut cmd = env.rollout(
            "apply",
            &input,
            &out,
            &["--overwrite", "--assertion-alg", alg],
        );
        cmd.env_remove("AZURE_CLIENT_SECRET")
            .arg("--certificate")
            .arg(&key);
        Invocation::from(cmd).labelled(alg).expect_exit(0);
        assert_eq!(results(&out).len(), 60);
    }
    assert!(stat(&env.stats(), "token_grants") >= 2);
}

#[test]
fn an_expired_certificate_is_refused_before_any_request_in_one_line() {
    let (pem, cert) = certificate(now() - 86_400 * 10, now() - 86_400);
    let mut config = EmulatorConfig::generated(5, 5);
    config.certificates = vec![cert];
    let env = Env::start(config);
    let key = env.write("old.pem", &pem);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let mut cmd = env.rollout("apply", &input, &env.path("r.csv"), &[]);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env("AZURE_CLIENT_CERTIFICATE_PATH", &key);
    let stderr = Invocation::from(cmd).expect_exit(3).stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn a_certificate_the_app_does_not_know_is_refused_with_exit_3() {
    let (_, registered) = certificate(now() - 3600, now() + 86_400);
    let (other, _) = certificate(now() - 3600, now() + 86_400);
    let mut config = EmulatorConfig::generated(5, 5);
    config.certificates = vec![registered];
    let env = Env::start(config);
    let key = env.write("other.pem", &other);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let mut cmd = env.rollout("apply", &input, &env.path("r.csv"), &[]);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .arg("--certificate")
        .arg(&key);
    let stderr = Invocation::from(cmd).expect_exit(3).stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(stat(&env.stats(), "writes"), 0);
}

#[test]
fn a_device_code_sign_in_completes_a_rollout() {
    let mut config = EmulatorConfig::generated(40, 8)
        .no_throttle()
        .allow_public_client_flows();
    config.device_code_interval = 1;
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let (code, seen) = with_device_code(&env, env.rollout("apply", &input, &out, &[]));
    assert_eq!(code, 0, "{seen}");
    let records = results(&out);
    assert_eq!(records.len(), 40);
    assert!(
        records
            .iter()
            .all(|r| matches!(r.status, Status::Applied | Status::Unchanged))
    );
}

#[test]
fn tokens_that_expire_every_few_seconds_are_renewed_without_losing_an_item() {
    let env = Env::start(
        EmulatorConfig::generated(240, 13)
            .no_throttle()
            .token_ttl(2),
    );
    let input = env.write(
        "u.csv",
        &rollout_csv(&upns(&env), &["enforce", "disable", "enable"]),
    );
    let out = env.path("r.csv");
    // About 8 s of paced writes against 2 s tokens.
    Invocation::from(env.rollout(
        "apply",
        &input,
        &out,
        &[
            "--write-rate",
            "25",
            "--read-rate",
            "60",
            "--concurrency",
            "2",
        ],
    ))
    .expect_exit(0);
    let records = results(&out);
    assert_eq!(records.len(), 240);
    assert!(records.iter().all(|r| r.status != Status::Failed));
    let grants = stat(&env.stats(), "token_grants");
    assert!(grants >= 3, "several token grants, got {grants}");
}

#[test]
fn no_secret_or_token_appears_in_anything_a_verbose_run_writes() {
    let secret = "s3cr3t-Value-that-must-never-leak";
    let mut config = EmulatorConfig::generated(30, 2).no_throttle();
    config.client_secret = secret.to_string();
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let html = env.path("r.html");
    // Not env.rollout: its --quiet would silence -vv's debug log, which must be clean too.
    let mut cmd = env.command();
    cmd.arg("apply").arg(&input).arg("--results").arg(&out);
    env.point_at_emulator(&mut cmd);
    cmd.args(["-vv", "--html"])
        .arg(&html)
        .env("AZURE_CLIENT_SECRET", secret);
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(0);
    assert!(
        stderr.contains("obtained an access token"),
        "the debug log was on: {stderr}"
    );
    let files = [
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&html).unwrap(),
    ];
    for text in [&stdout, &stderr, &files[0], &files[1]] {
        assert!(!text.contains(secret), "the secret leaked");
        // Access tokens are JWTs: base64url JSON headers start with "eyJ".
        assert!(!text.contains("eyJ"), "a token leaked: {text}");
    }
    // And --help shows no environment value.
    let mut help = env.command();
    help.args(["apply", "--help"])
        .env("AZURE_CLIENT_ID", "visible-client-id-value");
    let stdout = Invocation::from(help).output().stdout;
    assert!(!stdout.contains("visible-client-id-value"));
    assert!(!stdout.contains(secret));
}

#[test]
fn an_expired_static_token_stops_the_run_with_exit_3_and_a_resume_hint() {
    let env = Env::start(
        EmulatorConfig::generated(200, 17)
            .no_throttle()
            .token_ttl(2),
    );
    // A token obtained outside the tool, as `az account get-access-token` would give.
    let token: serde_json::Value = env.token_outside_the_tool();
    let access = token["access_token"].as_str().expect("a token").to_string();
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let mut cmd = env.rollout(
        "apply",
        &input,
        &out,
        &[
            "--write-rate",
            "20",
            "--read-rate",
            "40",
            "--concurrency",
            "1",
        ],
    );
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env("GRAPH_ACCESS_TOKEN", &access);
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(3);
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!stderr.contains(&access) && !stdout.contains(&access));
    // What finished before the token expired is journaled and ended well.
    let records = results(&out);
    assert!(records.len() < 200);
    assert!(records.iter().all(|r| r.status != Status::Failed));
}

#[test]
fn after_a_failed_sign_in_the_identical_rerun_works_and_no_file_is_left() {
    let env = Env::start(EmulatorConfig::generated(8, 6).no_throttle());
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let out = env.path("r.csv");
    let lock = env.path("r.csv.lock");
    let mut cmd = env.rollout("apply", &input, &out, &[]);
    cmd.env("AZURE_CLIENT_SECRET", "a-secret-the-app-does-not-have");
    let stderr = Invocation::from(cmd).expect_exit(3).stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!out.exists(), "no results file before a sign-in succeeds");
    assert!(!lock.exists(), "no lock file left");
    assert_eq!(stat(&env.stats(), "batches"), 0);

    // The same command with the right secret.
    Invocation::from(env.rollout("apply", &input, &out, &[])).expect_exit(0);
    assert_eq!(results(&out).len(), 8);
    #[cfg(unix)]
    assert!(!lock.exists(), "a finished run leaves no lock file");

    // A header-only results file (what older versions left after a failed sign-in) holds
    // nothing to lose: a new run takes it without --overwrite.
    let header = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let again = env.write("again.csv", &format!("{header}\n"));
    Invocation::from(env.rollout("plan", &input, &again, &[])).expect_exit(0);
    assert_eq!(results(&again).len(), 8);
}
