//! `mfa-rollout emulator`: binds `--listen`, starts the emulator there through its one entry
//! point ([`crate::emulator::serve`]) and serves until Ctrl-C. The first stdout line is
//! exactly `emulator listening on http://ADDR`, so scripts can read the bound address (e.g.
//! port 0).

use std::io::Write;

use crate::config::EmulatorSettings;
use crate::emulator::EmulatorConfig;
use crate::error::Error;

/// Runs the `emulator` command with its validated settings.
pub(crate) fn run(settings: EmulatorSettings) -> Result<(), Error> {
    let EmulatorSettings { listen, config } = settings;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("cannot read the bound address: {e}")))?;
        let users = config.users.len();
        let hint = connect_hint(&config, &format!("http://{addr}"));
        let handle = crate::emulator::serve(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Error::Usage(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "emulator listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(|e| Error::Usage(format!("cannot write to stdout: {e}")))?;
        drop(out);
        eprintln!(
            "{}; Ctrl-C stops\n{hint}",
            crate::figures::count(users as u64, "user", "users")
        );
        handle
            .stopped()
            .await
            .map_err(|e| Error::Usage(format!("emulator stopped: {e}")))
    })
}

/// What connects the tool to an emulator at `base_url`: its app registration in the
/// environment, and the two URL flags. The client secret shown is the emulator's own
/// (`--client-secret` or the built-in default), never a tenant's.
fn connect_hint(config: &EmulatorConfig, base_url: &str) -> String {
    format!(
        "connect mfa-rollout to it with:\n  export AZURE_TENANT_ID={} AZURE_CLIENT_ID={} AZURE_CLIENT_SECRET={}\n  mfa-rollout apply INPUT --results RESULTS --graph-url {base_url} --authority-host {base_url}",
        config.tenant_id, config.client_id, config.client_secret
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_hint_names_the_variables_and_flags_that_reach_the_emulator() {
        let config = EmulatorConfig::default();
        let hint = connect_hint(&config, "http://127.0.0.1:8080");
        assert!(
            hint.contains(&format!("AZURE_TENANT_ID={}", config.tenant_id)),
            "{hint}"
        );
        assert!(
            hint.contains(&format!("AZURE_CLIENT_ID={}", config.client_id)),
            "{hint}"
        );
        assert!(
            hint.contains(&format!("AZURE_CLIENT_SECRET={}", config.client_secret)),
            "{hint}"
        );
        assert!(
            hint.contains(
                "--graph-url http://127.0.0.1:8080 --authority-host http://127.0.0.1:8080"
            ),
            "{hint}"
        );
    }
}
