//! Shared test scaffolding: an in-process emulator on 127.0.0.1:0, a scratch directory, and
//! the real `mfa-rollout` binary pointed at both.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mfa_rollout::emulator::{Emulator, EmulatorConfig, EmulatorHandle, UserSpec};
use mfa_rollout::journal::{ResultRecord, read_results};
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_mfa-rollout");

pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) emu: EmulatorHandle,
    // Declared last: the emulator's tasks run on it until the handle is gone.
    _rt: tokio::runtime::Runtime,
}

impl Env {
    pub(crate) fn start(config: EmulatorConfig) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let emu = rt
            .block_on(Emulator::start(config))
            .expect("emulator starts");
        Env {
            dir: tempfile::tempdir().expect("scratch dir"),
            emu,
            _rt: rt,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write fixture");
        p
    }

    /// The binary with credentials for the emulator in its environment and nothing else
    /// that could sign it in elsewhere.
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("GRAPH_ACCESS_TOKEN")
            .env_remove("AZURE_AUTHORITY_HOST")
            .env("AZURE_TENANT_ID", self.emu.tenant_id())
            .env("AZURE_CLIENT_ID", self.emu.client_id())
            .env("AZURE_CLIENT_SECRET", self.emu.client_secret())
            .current_dir(self.dir.path());
        c
    }

    /// `mfa-rollout <sub> INPUT <results flag> RESULTS --graph-url … --authority-host …` plus `extra`.
    pub(crate) fn rollout(
        &self,
        sub: &str,
        input: &Path,
        results: &Path,
        extra: &[&str],
    ) -> Command {
        let mut c = self.command();
        let flag = if sub == "plan" {
            "--report"
        } else {
            "--results"
        };
        c.arg(sub).arg(input).arg(flag).arg(results);
        self.point_at_emulator(&mut c);
        c.arg("--quiet").args(extra);
        c
    }

    /// Adds the flags that send the tool's Graph and login calls to this emulator.
    pub(crate) fn point_at_emulator(&self, c: &mut Command) {
        c.arg("--graph-url")
            .arg(self.emu.base_url())
            .arg("--authority-host")
            .arg(self.emu.base_url());
    }

    /// `mfa-rollout check [INPUT]` against this emulator.
    pub(crate) fn check(&self, input: Option<&Path>) -> Command {
        let mut c = self.command();
        c.arg("check").args(input);
        self.point_at_emulator(&mut c);
        c
    }

    /// `mfa-rollout rollback RESULTS --out UNDO`.
    pub(crate) fn rollback(&self, results: &Path, undo: &Path) -> Command {
        let mut c = self.command();
        c.arg("rollback").arg(results).arg("--out").arg(undo);
        c
    }

    /// A client-credentials token from the emulator, obtained outside the tool.
    pub(crate) fn token_outside_the_tool(&self) -> Value {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.emu.base_url(),
            self.emu.tenant_id()
        );
        let form = [
            ("client_id", self.emu.client_id()),
            ("client_secret", self.emu.client_secret()),
            ("scope", "https://graph.microsoft.com/.default".to_string()),
            ("grant_type", "client_credentials".to_string()),
        ];
        self._rt.block_on(async {
            reqwest::Client::new()
                .post(url)
                .form(&form)
                .send()
                .await
                .expect("token request")
                .json()
                .await
                .expect("token json")
        })
    }

    /// A GET to the emulator with `headers`, outside the tool: the status and JSON body.
    pub(crate) fn get(&self, path_and_query: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}{path_and_query}", self.emu.base_url());
        self._rt.block_on(async {
            let mut request = reqwest::Client::new().get(url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let resp = request.send().await.expect("request");
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        })
    }

    pub(crate) fn stats(&self) -> Value {
        self.emu.stats()
    }

    /// upn (lowercase) → the emulator's user JSON.
    pub(crate) fn users(&self) -> std::collections::HashMap<String, Value> {
        let all = self.emu.users();
        let list = all
            .get("users")
            .and_then(Value::as_array)
            .or_else(|| all.as_array())
            .cloned()
            .unwrap_or_default();
        list.into_iter()
            .filter_map(|u| {
                let upn = u
                    .get("upn")
                    .or_else(|| u.get("userPrincipalName"))?
                    .as_str()?
                    .to_ascii_lowercase();
                Some((upn, u))
            })
            .collect()
    }
}

/// A command being built, then run and checked in one chain:
/// `env.apply(&input).results(&out).arg("--resume").expect_exit(0).stderr_has("resuming")`.
pub(crate) struct Invocation {
    command: Command,
    /// Said first when a check fails (which case of a loop it was).
    label: String,
}

impl From<Command> for Invocation {
    fn from(command: Command) -> Invocation {
        Invocation {
            command,
            label: String::new(),
        }
    }
}

impl Env {
    /// `mfa-rollout apply INPUT` against this emulator, `--quiet`.
    pub(crate) fn apply(&self, input: &Path) -> Invocation {
        self.subcommand("apply", input)
    }

    /// `mfa-rollout plan INPUT` against this emulator, `--quiet`.
    pub(crate) fn plan(&self, input: &Path) -> Invocation {
        self.subcommand("plan", input)
    }

    /// `mfa-rollout ARGS…` against this emulator, `--quiet` (a selection instead of INPUT).
    pub(crate) fn command_with(&self, args: &[&str]) -> Invocation {
        let mut c = self.command();
        c.args(args);
        self.point_at_emulator(&mut c);
        c.arg("--quiet");
        Invocation::from(c)
    }

    fn subcommand(&self, sub: &str, input: &Path) -> Invocation {
        let mut c = self.command();
        c.arg(sub).arg(input);
        self.point_at_emulator(&mut c);
        c.arg("--quiet");
        Invocation::from(c)
    }
}

impl Invocation {
    /// `--results FILE`.
    pub(crate) fn results(self, path: &Path) -> Invocation {
        self.arg("--results").arg(path)
    }

    /// `--report FILE` (plan).
    pub(crate) fn report(self, path: &Path) -> Invocation {
        self.arg("--report").arg(path)
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Invocation {
        self.command.arg(arg);
        self
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Invocation {
        self.command.args(args);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Invocation {
        self.command.env(key, value);
        self
    }

    /// Runs without the variable `key` (e.g. `AZURE_TENANT_ID`, which [`Env::command`] sets).
    pub(crate) fn env_remove(mut self, key: &str) -> Invocation {
        self.command.env_remove(key);
        self
    }

    /// Names this case in the message of a failed check.
    pub(crate) fn labelled(mut self, label: impl Into<String>) -> Invocation {
        self.label = label.into();
        self
    }

    /// Runs the command to its end.
    pub(crate) fn output(mut self) -> Output {
        let out = self.command.output().expect("binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            label: self.label,
        }
    }

    /// Runs the command and checks its exit code (printing both streams when it differs).
    #[track_caller]
    pub(crate) fn expect_exit(self, code: i32) -> Output {
        self.output().expect_exit(code)
    }
}

/// What a command did.
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The case a failed check names first (empty: none).
    pub(crate) label: String,
}

impl Output {
    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        let case = if self.label.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.label)
        };
        panic!(
            "{case}{what}\nexit code: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub(crate) fn expect_exit(self, code: i32) -> Output {
        if self.code != code {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(self, text: &str) -> Output {
        if !self.stderr.contains(text) {
            self.fail(&format!("expected {text:?} on stderr"));
        }
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(self, text: &str) -> Output {
        if !self.stdout.contains(text) {
            self.fail(&format!("expected {text:?} on stdout"));
        }
        self
    }
}

/// The emulator's users' UPNs (lowercase), sorted.
pub(crate) fn upns(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env.users().keys().cloned().collect();
    v.sort();
    v
}

pub(crate) fn results(path: &Path) -> Vec<ResultRecord> {
    read_results(path).expect("results file readable")
}

pub(crate) fn state(user: &Value) -> String {
    user.get("perUserMfaState")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The CSV of a rollout over the emulator's users: user i gets `actions[i % len]`.
pub(crate) fn rollout_csv(upns: &[String], actions: &[&str]) -> String {
    let mut s = String::from("userPrincipalName,action\n");
    for (i, u) in upns.iter().enumerate() {
        s.push_str(&format!("{u},{}\n", actions[i % actions.len()]));
    }
    s
}

pub(crate) fn stat(stats: &Value, key: &str) -> u64 {
    stats.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A user with a mail and proxy addresses and no methods (the mail lookup's tenants).
pub(crate) fn mail_user(
    upn: &str,
    user_type: &str,
    mail: Option<&str>,
    proxies: &[&str],
) -> UserSpec {
    UserSpec {
        upn: upn.into(),
        user_type: user_type.into(),
        mail: mail.map(str::to_string),
        proxy_addresses: proxies.iter().map(|p| (*p).to_string()).collect(),
        ..UserSpec::default()
    }
}

/// The emulator's answer to a client-credentials sign-in (secret) at `tenant`'s token
/// endpoint (its id or a domain): status and JSON body.
pub(crate) async fn token_request(
    emu: &EmulatorHandle,
    http: &reqwest::Client,
    tenant: &str,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &emu.client_id()),
            ("client_secret", &emu.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    (r.status().as_u16(), r.json().await.expect("token json"))
}

/// An app-only access token from the emulator's login route (client credentials, secret).
pub(crate) async fn client_credentials_token(
    emu: &EmulatorHandle,
    http: &reqwest::Client,
) -> String {
    let (status, v) = token_request(emu, http, &emu.tenant_id()).await;
    assert_eq!(status, 200);
    v["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// Runs `cmd` (a device-code sign-in against `env`), approving the code it prints; returns
/// the exit code and its stderr.
pub(crate) fn with_device_code(env: &Env, mut cmd: Command) -> (i32, String) {
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .arg("--device-code")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let code = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no device-code message on stderr: {seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("enter the code ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    assert!(
        env.emu.approve_device_code(&code),
        "the code {code} is known"
    );
    for line in lines.map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = child.wait().expect("wait");
    (status.code().unwrap_or(-1), seen)
}
