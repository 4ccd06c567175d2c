//! Integration tests for the sign-in modes admins' machines already use: a PFX certificate of
//! each encryption exporters write, a federated (workload identity) token file, the managed
//! identity endpoints, and the Azure CLI; each against the emulator, with the secret-hygiene
//! check over a verbose run's output.

use std::path::{Path, PathBuf};

use mfa_rollout::emulator::EmulatorConfig;

use crate::util::{Env, Invocation, Output, results, rollout_csv, stat, upns};

/// The fixtures' password (tests/fixtures/pfx/make.sh).
const PFX_PASSWORD: &str = "pfx-fixture-pässwort";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pfx")
        .join(name)
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
        let Output { stdout, stderr, .. } = Invocation::from(cmd).labelled(name).expect_exit(0);
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
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(3);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the password is wrong"), "{stderr}");
    assert_clean(&[&stdout, &stderr], &["not-the-password"]);
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

/// `apply INPUT --results OUT` against the emulator, verbose (`-vv`, not quiet: everything
/// the tool may log is written), with no credential in the environment but what the test adds.
fn verbose_apply(env: &Env, input: &Path, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = env.command();
    c.env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER")
        .env_remove("MFA_ROLLOUT_IMDS_ENDPOINT")
        .arg("apply")
        .arg(input)
        .arg("--results")
        .arg(out);
    env.point_at_emulator(&mut c);
    // 200 users' reads at 30/s take several seconds however fast the machine, so 2 s
    // tokens are renewed during the run.
    c.args([
        "-vv",
        "--write-rate",
        "30",
        "--read-rate",
        "30",
        "--concurrency",
        "2",
    ])
    .args(extra);
    c
}

/// An identity provider of its own (as GitHub's or a Kubernetes cluster's): an RSA key and
/// its certificate, signing RS256 tokens for `sub` that live `ttl` seconds.
struct Issuer {
    key: aws_lc_rs::rsa::KeyPair,
    cert_pem: String,
}

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str = "repo:contoso/mfa-rollout:environment:production";

impl Issuer {
    fn new() -> Issuer {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .expect("rsa key");
        let params = rcgen::CertificateParams::new(vec!["issuer.test".to_owned()]).unwrap();
        let cert = params.self_signed(&key).expect("self-signed");
        Issuer {
            key: aws_lc_rs::rsa::KeyPair::from_pkcs8(&key.serialize_der()).expect("pkcs8"),
            cert_pem: cert.pem(),
        }
    }

    fn token(&self, sub: &str, ttl: i64, n: u64) -> String {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let input = format!(
            "{}.{}",
            b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            b64(serde_json::json!({
                "iss": ISSUER, "sub": sub, "aud": "api://AzureADTokenExchange",
                "iat": now, "nbf": now, "exp": now + ttl, "jti": format!("rotation-{n}"),
            }))
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("sign");
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )
    }

    fn credential(&self, subject: &str) -> mfa_rollout::emulator::FederatedCredential {
        mfa_rollout::emulator::FederatedCredential {
            issuer: ISSUER.to_string(),
            subject: subject.to_string(),
            audiences: vec![mfa_rollout::emulator::DEFAULT_FEDERATED_AUDIENCE.to_string()],
            signing_certificate: self.cert_pem.clone(),
        }
    }
}

/// Writes `text` to `path` as a platform does: a new file renamed over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_rotating_federated_token_file_is_read_again_at_every_renewal() {
    let issuer = Issuer::new();
    let mut config = EmulatorConfig::generated(200, 21)
        .no_throttle()
        .token_ttl(2);
    config.federated_credentials = vec![issuer.credential(SUBJECT)];
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let file = env.path("azure-identity-token");
    // Each token lives 4 s and a new one replaces it every 0.5 s: a tool that kept the first
    // one would send it again at its first renewal (and be refused, AADSTS700024, after 4 s).
    let first = issuer.token(SUBJECT, 4, 0);
    replace_file(&file, &first);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let issued = std::sync::Arc::new(std::sync::Mutex::new(vec![first]));
    let rotator = {
        let (stop, issued, file) = (stop.clone(), issued.clone(), file.clone());
        let issuer = std::sync::Arc::new(issuer);
        std::thread::spawn(move || {
            let mut n = 1;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let token = issuer.token(SUBJECT, 4, n);
                replace_file(&file, &token);
                issued.lock().unwrap().push(token);
                n += 1;
            }
        })
    };
    let mut cmd = verbose_apply(&env, &input, &out, &[]);
    cmd.env("AZURE_FEDERATED_TOKEN_FILE", &file);
    let Output {
        code,
        stdout,
        stderr,
        ..
    } = Invocation::from(cmd).output();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    rotator.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("signed in with workload-identity (auto)"),
        "{stderr}"
    );
    assert_eq!(results(&out).len(), 200);
    // Every renewal came at least 1.6 s (the renewal margin of a 2 s token) after the one
    // before, by when the file had been replaced: each grant carried a token not sent before.
    let stats = env.stats();
    let grants = stat(&stats, "token_grants");
    assert!(grants >= 2, "renewed during the run: {grants} grants");
    assert_eq!(stat(&stats, "federated_tokens"), grants, "{stats}");
    let issued = issued.lock().unwrap().clone();
    let written = std::fs::read_to_string(&out).unwrap();
    let secrets: Vec<&str> = issued.iter().map(String::as_str).collect();
    assert_clean(&[&stdout, &stderr, &written], &secrets);
}

#[test]
fn a_federated_token_whose_subject_differs_in_case_is_refused_with_the_hint() {
    let issuer = Issuer::new();
    let mut config = EmulatorConfig::generated(5, 3);
    config.federated_credentials = vec![issuer.credential(SUBJECT)];
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let file = env.write(
        "token",
        &issuer.token(&SUBJECT.replace("production", "Production"), 600, 0),
    );
    let mut cmd = verbose_apply(
        &env,
        &input,
        &env.path("r.csv"),
        &["--auth", "workload-identity"],
    );
    cmd.env("AZURE_FEDERATED_TOKEN_FILE", &file);
    Invocation::from(cmd)
        .expect_exit(3)
        .stderr_has("AADSTS70021")
        .stderr_has("case-sensitive");
    assert_eq!(stat(&env.stats(), "writes"), 0);
}

const SYSTEM_MI: &str = "5b3c1c2e-0000-4000-8000-00000000a001";
const USER_MI: &str = "5b3c1c2e-0000-4000-8000-00000000a002";
const IDENTITY_HEADER: &str = "identity-header-rotated-by-the-platform";

fn with_managed_identities(config: &mut EmulatorConfig) {
    config.managed_identities = mfa_rollout::emulator::ManagedIdentities {
        system_assigned: Some(SYSTEM_MI.to_string()),
        user_assigned: vec![USER_MI.to_string()],
        identity_header: IDENTITY_HEADER.to_string(),
    };
}

/// The app id in `check --json`'s output.
fn checked_app(env: &Env, setup: impl FnOnce(&mut std::process::Command)) -> Invocation {
    let mut c = env.check(None);
    c.env_remove("AZURE_CLIENT_SECRET").arg("--json");
    setup(&mut c);
    Invocation::from(c)
}

#[test]
fn a_vm_managed_identity_signs_in_through_the_metadata_service_and_renews() {
    let mut config = EmulatorConfig::generated(200, 31)
        .no_throttle()
        .token_ttl(2);
    with_managed_identities(&mut config);
    let env = Env::start(config);
    let imds = format!("{}/metadata/identity/oauth2/token", env.emu.base_url());
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let mut cmd = verbose_apply(&env, &input, &out, &["--managed-identity"]);
    cmd.env("MFA_ROLLOUT_IMDS_ENDPOINT", &imds);
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(0);
    assert!(
        stderr.contains("signed in with managed-identity"),
        "{stderr}"
    );
    assert_eq!(results(&out).len(), 200);
    assert!(
        stat(&env.stats(), "token_grants") >= 2,
        "renewed during the run"
    );
    assert_clean(&[&stdout, &stderr], &[]);
    // System-assigned unless a client id names the user-assigned one.
    for (flag, app) in [(None, SYSTEM_MI), (Some(USER_MI), USER_MI)] {
        let stdout = checked_app(&env, |c| {
            c.arg("--managed-identity")
                .args(flag)
                .env("MFA_ROLLOUT_IMDS_ENDPOINT", &imds);
        })
        .expect_exit(0)
        .stdout;
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["app"], app, "{stdout}");
        assert_eq!(json["sign_in"], "managed-identity", "{stdout}");
    }
    // An identity the VM does not have: one line, exit 3.
    let stderr = checked_app(&env, |c| {
        c.args(["--managed-identity", "00000000-0000-4000-8000-000000000bad"])
            .env("MFA_ROLLOUT_IMDS_ENDPOINT", &imds);
    })
    .expect_exit(3)
    .stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Identity not found"), "{stderr}");
}

#[test]
fn an_app_service_managed_identity_is_found_by_auto_and_its_header_never_shown() {
    let mut config = EmulatorConfig::generated(30, 32).no_throttle();
    with_managed_identities(&mut config);
    let env = Env::start(config);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce"]));
    let out = env.path("r.csv");
    let mut cmd = verbose_apply(&env, &input, &out, &[]);
    cmd.env_remove("AZURE_CLIENT_ID")
        .env(
            "IDENTITY_ENDPOINT",
            format!("{}/msi/token", env.emu.base_url()),
        )
        .env("IDENTITY_HEADER", IDENTITY_HEADER);
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(0);
    assert!(
        stderr.contains("signed in with managed-identity (auto)"),
        "{stderr}"
    );
    assert_eq!(results(&out).len(), 30);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_clean(&[&stdout, &stderr, &written], &[IDENTITY_HEADER]);
    // A header the platform has rotated away: refused, one line, the header not echoed.
    let mut cmd = verbose_apply(&env, &input, &env.path("r2.csv"), &[]);
    cmd.env_remove("AZURE_CLIENT_ID")
        .env(
            "IDENTITY_ENDPOINT",
            format!("{}/msi/token", env.emu.base_url()),
        )
        .env("IDENTITY_HEADER", "an-old-header-value");
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(3);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("IDENTITY_HEADER"),
        "{stderr}"
    );
    assert_clean(&[&stdout, &stderr], &["an-old-header-value"]);
}

#[test]
fn the_emulated_managed_identity_endpoints_enforce_their_request_rules() {
    let mut config = EmulatorConfig::generated(1, 1);
    with_managed_identities(&mut config);
    let env = Env::start(config);
    let imds = "/metadata/identity/oauth2/token";
    let graph = "resource=https%3A%2F%2Fgraph.microsoft.com";
    let meta = [("Metadata", "true")];
    // (path and query, headers, status, what the body says)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            format!("{imds}?api-version=2018-02-01&{graph}"),
            vec![],
            400,
            "bad_request_102",
        ),
        (
            format!("{imds}?api-version=2018-02-01&{graph}"),
            vec![("Metadata", "TRUE")],
            400,
            "bad_request_102",
        ),
        (format!("{imds}?{graph}"), meta.to_vec(), 400, "api-version"),
        (
            format!("{imds}?api-version=2017-09-01&{graph}"),
            meta.to_vec(),
            400,
            "api-version",
        ),
        (
            format!("{imds}?api-version=2018-02-01"),
            meta.to_vec(),
            400,
            "resource",
        ),
        (
            format!("{imds}?api-version=2018-02-01&{graph}"),
            vec![("Metadata", "true"), ("X-Forwarded-For", "10.0.0.1")],
            400,
            "X-Forwarded-For",
        ),
        (
            format!("{imds}?api-version=2018-02-01&{graph}"),
            meta.to_vec(),
            200,
            SYSTEM_MI,
        ),
        (
            format!("/msi/token?api-version=2019-08-01&{graph}"),
            vec![],
            400,
            "X-IDENTITY-HEADER",
        ),
        (
            format!("/msi/token?api-version=2019-08-01&{graph}"),
            vec![("X-IDENTITY-HEADER", "wrong")],
            401,
            "X-IDENTITY-HEADER",
        ),
        (
            format!("/msi/token?api-version=2017-09-01&{graph}"),
            vec![("X-IDENTITY-HEADER", IDENTITY_HEADER)],
            400,
            "api-version",
        ),
        (
            format!("/msi/token?api-version=2019-08-01&{graph}&client_id={USER_MI}"),
            vec![("X-IDENTITY-HEADER", IDENTITY_HEADER)],
            200,
            USER_MI,
        ),
    ];
    for (path, headers, status, says) in cases {
        let (got, body) = env.get(&path, &headers);
        assert_eq!(got, status, "{path} {headers:?}: {body}");
        assert!(
            body.to_string().contains(says),
            "{path} {headers:?}: {body}"
        );
    }
    // IMDS answers every field as a string; App Service gives expires_on only.
    let (_, body) = env.get(&format!("{imds}?api-version=2018-02-01&{graph}"), &meta);
    assert!(
        body["expires_in"].is_string() && body["expires_on"].is_string(),
        "{body}"
    );
    let (_, body) = env.get(
        &format!("/msi/token?api-version=2019-08-01&{graph}"),
        &[("X-IDENTITY-HEADER", IDENTITY_HEADER)],
    );
    assert!(
        body.get("expires_in").is_none() && body["expires_on"].is_string(),
        "{body}"
    );
}

/// A fake `az` on PATH: logs its arguments, prints the next of the tokens in `tokens.txt`
/// as `az account get-access-token --output json` does, saying it expires in 2 s.
#[cfg(unix)]
fn fake_az(env: &Env, tokens: &[String]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let dir = env.dir.path().display().to_string();
    std::fs::write(env.path("tokens.txt"), tokens.join("\n") + "\n").unwrap();
    let script = format!(
        r#"#!/bin/sh
echo "$@" >> "{dir}/az-args.log"
n=$(wc -l < "{dir}/az-args.log")
tok=$(sed -n "${{n}}p" "{dir}/tokens.txt")
if [ -z "$tok" ]; then echo "ERROR: Please run 'az login' to setup account." >&2; exit 1; fi
now=$(date +%s)
printf '{{"accessToken": "%s", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %d, "subscription": "s", "tenant": "t", "tokenType": "Bearer"}}\n' "$tok" $((now + 2))
"#
    );
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[cfg(unix)]
fn path_with(bin: &Path) -> std::ffi::OsString {
    let old = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&old)))
        .unwrap()
}

#[cfg(unix)]
#[test]
fn the_azure_cli_is_asked_for_graph_tokens_and_asked_again_near_expiry() {
    let env = Env::start(EmulatorConfig::generated(200, 41).no_throttle());
    let tokens: Vec<String> = (0..8)
        .map(|_| {
            env.token_outside_the_tool()["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let bin = fake_az(&env, &tokens);
    let input = env.write("u.csv", &rollout_csv(&upns(&env), &["enforce", "disable"]));
    let out = env.path("r.csv");
    let mut cmd = verbose_apply(&env, &input, &out, &["--azure-cli"]);
    cmd.env("PATH", path_with(&bin))
        .env_remove("AZURE_TENANT_ID");
    let Output { stdout, stderr, .. } = Invocation::from(cmd).expect_exit(0);
    assert!(stderr.contains("signed in with azure-cli"), "{stderr}");
    assert_eq!(results(&out).len(), 200);
    let log = std::fs::read_to_string(env.path("az-args.log")).unwrap();
    let calls: Vec<&str> = log.lines().collect();
    assert!(calls.len() >= 2, "asked again near expiry: {log}");
    assert!(
        calls.iter().all(|c| *c
            == "account get-access-token --resource https://graph.microsoft.com --output json"),
        "{log}"
    );
    let written = std::fs::read_to_string(&out).unwrap();
    let secrets: Vec<&str> = tokens.iter().map(String::as_str).collect();
    assert_clean(&[&stdout, &stderr, &written], &secrets);
}

#[cfg(unix)]
#[test]
fn the_azure_cli_gets_the_tenant_and_the_clouds_resource_and_its_refusal_is_one_line() {
    let env = Env::start(EmulatorConfig::generated(3, 42));
    let bin = fake_az(&env, &[]);
    let mut cmd = env.check(None);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env("PATH", path_with(&bin))
        .args([
            "--auth",
            "azure-cli",
            "--cloud",
            "usgov",
            "--tenant-id",
            "contoso.onmicrosoft.us",
        ]);
    let stderr = Invocation::from(cmd).expect_exit(3).stderr;
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Please run 'az login'"), "{stderr}");
    let log = std::fs::read_to_string(env.path("az-args.log")).unwrap();
    assert_eq!(
        log.trim(),
        "account get-access-token --resource https://graph.microsoft.us --output json --tenant contoso.onmicrosoft.us"
    );
}

#[test]
fn auto_with_nothing_set_up_says_what_each_mode_looked_for_one_line_each() {
    let env = Env::start(EmulatorConfig::generated(3, 51));
    let empty = env.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = env.check(None);
    cmd.env_remove("AZURE_CLIENT_SECRET").env("PATH", &empty);
    let stderr = Invocation::from(cmd).expect_exit(3).stderr;
    let lines: Vec<&str> = stderr.trim().lines().collect();
    assert!(lines[0].contains("no credentials"), "{stderr}");
    let modes: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.trim().split(':').next().unwrap())
        .collect();
    assert_eq!(
        modes,
        [
            "certificate",
            "token",
            "secret",
            "workload-identity",
            "managed-identity",
            "azure-cli",
            "device-code"
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("auto does not probe the metadata service"),
        "{stderr}"
    );
    assert_eq!(stat(&env.stats(), "requests"), 0);
}

#[test]
fn auth_picks_a_mode_over_autos_order_and_check_shows_which_signed_in() {
    let issuer = Issuer::new();
    let mut config = EmulatorConfig::generated(3, 52);
    config.federated_credentials = vec![issuer.credential(SUBJECT)];
    let env = Env::start(config);
    let file = env.write("token", &issuer.token(SUBJECT, 600, 0));
    // The secret comes before workload identity in auto's order.
    for (auth, shown) in [
        (None, "secret (auto)"),
        (Some("workload-identity"), "workload-identity"),
        (Some("SECRET"), "secret"),
    ] {
        let mut cmd = env.check(None);
        cmd.arg("--json").env("AZURE_FEDERATED_TOKEN_FILE", &file);
        if let Some(a) = auth {
            cmd.args(["--auth", a]);
        }
        let stdout = Invocation::from(cmd)
            .labelled(format!("{auth:?}"))
            .expect_exit(0)
            .stdout;
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["sign_in"], shown, "{stdout}");
    }
    let stdout = Invocation::from(env.check(None)).output().stdout;
    assert!(stdout.contains("with secret (auto)"), "{stdout}");
}

#[test]
fn a_mode_asked_for_twice_differently_or_unknown_is_a_usage_error() {
    let env = Env::start(EmulatorConfig::generated(1, 53));
    for args in [
        &["--auth", "secret", "--azure-cli"][..],
        &["--device-code", "--managed-identity"],
        &["--auth", "kerberos"],
    ] {
        let mut cmd = env.check(None);
        cmd.args(args);
        let stderr = Invocation::from(cmd)
            .labelled(format!("{args:?}"))
            .expect_exit(2)
            .stderr;
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let mut cmd = env.check(None);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .args(["--auth", "secret"]);
    Invocation::from(cmd)
        .expect_exit(3)
        .stderr_has("--auth secret cannot sign in: AZURE_CLIENT_SECRET is not set");
    assert_eq!(stat(&env.stats(), "requests"), 0);
}
