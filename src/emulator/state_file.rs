//! `--sandbox-state FILE`: the sandbox tenant kept in a file between commands, so a rehearsal
//! of `apply`, `rollback` and `apply undo.csv` sees each command's changes. The file is a
//! tenant file (docs/tenant-format.md) holding the tenant as it is now: what `--sandbox FILE`
//! reads, so a saved state can also seed a fresh rehearsal. Counters (revocations, writes)
//! are the emulator's statistics, not the tenant's state, and are not kept.

use std::io::Write;
use std::path::Path;

use super::EmulatorHandle;
use super::config::{EmulatorConfig, GroupSpec, MethodSpec, TenantSpec, UserSpec};
use super::server::Shared;
use super::tenant::{Method, User};

impl Method {
    fn to_spec(&self) -> MethodSpec {
        MethodSpec {
            kind: self.kind.name().to_string(),
            id: Some(self.id.clone()),
            phone_type: self.phone_type.map(|t| t.name().to_string()),
            detail: self.detail.clone(),
        }
    }
}

impl User {
    fn to_spec(&self) -> UserSpec {
        UserSpec {
            id: Some(self.id.clone()),
            upn: self.upn.clone(),
            display_name: Some(self.display_name.clone()),
            user_type: self.user_type.clone(),
            per_user_mfa_state: self.mfa_state.clone(),
            methods: self.methods.iter().map(Method::to_spec).collect(),
            default_method: self.preferred.clone(),
            system_preferred: self.system_preferred,
            mail: self.mail.clone(),
            proxy_addresses: self.proxy_addresses.clone(),
            account_enabled: self.account_enabled,
        }
    }
}

/// One tenant's users and groups as they are now.
fn now(world: &Shared) -> (Vec<UserSpec>, Vec<GroupSpec>) {
    let tenant = world
        .tenant
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let users = tenant.users.iter().map(User::to_spec).collect();
    // With their ids, so a saved tenant keeps its groups' ids whatever the seed.
    let groups = world.groups.to_specs(&tenant);
    (users, groups)
}

impl EmulatorHandle {
    /// The configuration this emulator was started with, the users of every tenant as they
    /// are now.
    pub fn current_state(&self) -> EmulatorConfig {
        let worlds = self.tenants.all();
        let (users, groups) = now(&worlds[0]);
        let tenants = worlds[1..]
            .iter()
            .zip(self.tenants.specs())
            .map(|(w, spec)| {
                let (users, groups) = now(w);
                TenantSpec {
                    users,
                    groups,
                    ..spec.clone()
                }
            })
            .collect();
        EmulatorConfig {
            users,
            groups,
            tenants,
            ..worlds[0].config.clone()
        }
    }

    /// Writes [`EmulatorHandle::current_state`] to `path` as a tenant file, atomically (a
    /// temp file beside it, renamed over it), so an interrupted save keeps the last state.
    pub fn save_state(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.current_state().to_tenant_json())
            .map_err(std::io::Error::other)?;
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::other("the path names no file"))?;
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use crate::emulator::{Emulator, EmulatorConfig};

    #[tokio::test]
    async fn a_saved_state_reads_back_as_the_same_tenant() {
        let config = EmulatorConfig::generated(40, 9);
        let emu = Emulator::start(config.clone()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        emu.save_state(&path).unwrap();
        let back = EmulatorConfig::from_tenant_file(&path).unwrap();
        assert_eq!(back.users, emu.current_state().users);
        assert_eq!(back.users.len(), 40);
        assert_eq!(back.tenant_id, config.tenant_id);
        let again = Emulator::start(back).await.unwrap();
        assert_eq!(
            again.users(),
            emu.users(),
            "the same users, states and methods"
        );
    }
}
