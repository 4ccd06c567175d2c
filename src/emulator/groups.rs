//! The tenant's groups and their membership, as the tenant file describes them: direct user
//! members and nested groups, resolved once at start into each group's flat transitive list
//! (docs/graph.md §9.4: `/transitiveMembers` is "a flat list of all nested members"). Groups
//! never change while the emulator runs (no group writes are modelled), so the lists are
//! computed once. A group nested in itself, directly or through others, is refused: Entra
//! does not allow circular nesting, and the stricter model fails loudly on it.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{GroupSpec, seeded_guid};
use super::tenant::{Tenant, is_guid};

/// One member of a group's list: a user (index into the tenant's users) or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Member {
    User(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) description: Option<String>,
    /// Direct members: users first, then nested groups, in tenant-file order.
    pub(crate) direct: Vec<Member>,
    /// Every nested member once, depth first (a user in two nested groups appears once).
    pub(crate) transitive: Vec<Member>,
}

/// All groups of the tenant.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups {
    pub(crate) groups: Vec<Group>,
    by_id: HashMap<String, usize>,
}

impl Groups {
    /// Builds the groups of `specs` over `tenant`'s users; missing ids come from `seed`.
    pub(crate) fn build(specs: &[GroupSpec], tenant: &Tenant, seed: u64) -> Result<Groups, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6772_6f75_7073_0001);
        let mut groups = Groups::default();
        for (n, spec) in specs.iter().enumerate() {
            let at = |msg: String| format!("group {} ({}): {msg}", n + 1, spec.display_name);
            if spec.display_name.trim().is_empty() {
                return Err(at("displayName must not be empty".into()));
            }
            let id = match &spec.id {
                Some(id) => uuid::Uuid::parse_str(id)
                    .map_err(|_| at(format!("id '{id}' is not a GUID")))?
                    .hyphenated()
                    .to_string(),
                None => seeded_guid(&mut rng),
            };
            if groups.by_id.insert(id.clone(), n).is_some() {
                return Err(at(format!("id {id} is used by another group")));
            }
            let mut direct = Vec::new();
            let mut seen = HashSet::new();
            for key in &spec.members {
                let user = tenant
                    .find(key)
                    .ok_or_else(|| at(format!("member '{key}' is no user of the tenant")))?;
                if seen.insert(user) {
                    direct.push(Member::User(user));
                }
            }
            groups.groups.push(Group {
                id,
                display_name: spec.display_name.clone(),
                description: spec.description.clone(),
                direct,
                transitive: Vec::new(),
            });
        }
        // Nested groups, by id or by a name no other group has.
        for (n, spec) in specs.iter().enumerate() {
            for key in &spec.member_groups {
                let at = |msg: String| format!("group {} ({}): {msg}", n + 1, spec.display_name);
                let found = groups.find_spec_key(key).map_err(at)?;
                if found == n {
                    return Err(at("a group cannot be its own member".into()));
                }
                if !groups.groups[n].direct.contains(&Member::Group(found)) {
                    groups.groups[n].direct.push(Member::Group(found));
                }
            }
        }
        for n in 0..groups.groups.len() {
            let transitive = groups.flatten(n)?;
            groups.groups[n].transitive = transitive;
        }
        Ok(groups)
    }

    fn find_spec_key(&self, key: &str) -> Result<usize, String> {
        if is_guid(key) {
            let id = uuid::Uuid::parse_str(key)
                .map(|u| u.hyphenated().to_string())
                .unwrap_or_default();
            return self
                .by_id
                .get(&id)
                .copied()
                .ok_or_else(|| format!("member group '{key}' is no group of the tenant"));
        }
        let named: Vec<usize> = (0..self.groups.len())
            .filter(|&i| self.groups[i].display_name == key)
            .collect();
        match named.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("member group '{key}' is no group of the tenant")),
            _ => Err(format!(
                "member group '{key}' names {} groups: give its id",
                named.len()
            )),
        }
    }

    /// Group `root`'s members, nested ones included, each once, depth first; a cycle back to
    /// a group on the path is an error.
    fn flatten(&self, root: usize) -> Result<Vec<Member>, String> {
        let mut out = Vec::new();
        let mut seen: HashSet<Member> = HashSet::new();
        // (group, next direct member to visit)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut on_path: HashSet<usize> = HashSet::from([root]);
        while let Some((g, at)) = stack.pop() {
            let Some(&member) = self.groups[g].direct.get(at) else {
                on_path.remove(&g);
                continue;
            };
            stack.push((g, at + 1));
            if let Member::Group(nested) = member {
                if on_path.contains(&nested) {
                    return Err(format!(
                        "group '{}' is nested in itself (through '{}'): Entra does not allow circular nesting",
                        self.groups[root].display_name, self.groups[g].display_name
                    ));
                }
                if seen.insert(member) {
                    out.push(member);
                    on_path.insert(nested);
                    stack.push((nested, 0));
                }
            } else if seen.insert(member) {
                out.push(member);
            }
        }
        Ok(out)
    }

    /// The group with object id `key` (any case, braces-free GUID form).
    pub(crate) fn find(&self, key: &str) -> Option<usize> {
        let id = uuid::Uuid::parse_str(key).ok()?.hyphenated().to_string();
        self.by_id.get(&id).copied()
    }

    /// The groups as tenant-file entries, with their ids (for `--sandbox-state`).
    pub(crate) fn to_specs(&self, tenant: &Tenant) -> Vec<GroupSpec> {
        self.groups
            .iter()
            .map(|g| GroupSpec {
                id: Some(g.id.clone()),
                display_name: g.display_name.clone(),
                description: g.description.clone(),
                members: g
                    .direct
                    .iter()
                    .filter_map(|m| match m {
                        Member::User(u) => Some(tenant.users[*u].id.clone()),
                        Member::Group(_) => None,
                    })
                    .collect(),
                member_groups: g
                    .direct
                    .iter()
                    .filter_map(|m| match m {
                        Member::Group(n) => Some(self.groups[*n].id.clone()),
                        Member::User(_) => None,
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::UserSpec;

    fn tenant(n: usize) -> Tenant {
        let specs: Vec<UserSpec> = (1..=n)
            .map(|i| UserSpec {
                upn: format!("u{i}@contoso.onmicrosoft.com"),
                ..UserSpec::default()
            })
            .collect();
        Tenant::build(&specs, 1).unwrap()
    }

    fn spec(name: &str, members: &[&str], nested: &[&str]) -> GroupSpec {
        GroupSpec {
            display_name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            member_groups: nested.iter().map(|m| m.to_string()).collect(),
            ..GroupSpec::default()
        }
    }

    fn users(g: &Group) -> Vec<usize> {
        g.transitive
            .iter()
            .filter_map(|m| match m {
                Member::User(u) => Some(*u),
                Member::Group(_) => None,
            })
            .collect()
    }

    #[test]
    fn transitive_members_are_every_nested_user_once() {
        let t = tenant(5);
        let g = Groups::build(
            &[
                spec("All", &["u1@contoso.onmicrosoft.com"], &["A", "B"]),
                spec("A", &["u2@contoso.onmicrosoft.com"], &["C"]),
                spec(
                    "B",
                    &["U3@CONTOSO.onmicrosoft.com", "u4@contoso.onmicrosoft.com"],
                    &["C"],
                ),
                spec(
                    "C",
                    &["u4@contoso.onmicrosoft.com", "u5@contoso.onmicrosoft.com"],
                    &[],
                ),
            ],
            &t,
            7,
        )
        .unwrap();
        assert_eq!(users(&g.groups[0]), [0, 1, 3, 4, 2]);
        assert_eq!(users(&g.groups[2]), [2, 3, 4]);
        // Nested groups are members too, once each.
        let nested: Vec<usize> = g.groups[0]
            .transitive
            .iter()
            .filter_map(|m| match m {
                Member::Group(n) => Some(*n),
                Member::User(_) => None,
            })
            .collect();
        assert_eq!(nested, [1, 3, 2]);
        let id = g.groups[3].id.to_uppercase();
        assert_eq!(g.find(&id), Some(3));
    }

    #[test]
    fn generated_tenants_nest_their_groups_and_keep_guests_apart() {
        let c = crate::emulator::EmulatorConfig::generated(100, 3);
        let t = Tenant::build(&c.users, c.seed).unwrap();
        let g = Groups::build(&c.groups, &t, c.seed).unwrap();
        let named = |n: &str| g.groups.iter().find(|g| g.display_name == n).unwrap();
        let all = users(named("All Staff"));
        // Members with i % 5 in 1..=4 (guests are i % 10 == 0, so never among them).
        assert_eq!(all.len(), 80);
        assert!(all.iter().all(|&u| t.users[u].user_type == "Member"));
        assert_eq!(users(named("External Partners")).len(), 10);
        assert_eq!(
            users(named("Sales")).len(),
            40,
            "Sales EMEA is nested in Sales"
        );
        assert_eq!(users(named("Break Glass")).len(), 2);
    }

    #[test]
    fn cycles_unknown_members_and_ambiguous_names_are_refused() {
        let t = tenant(2);
        let cycle = Groups::build(&[spec("A", &[], &["B"]), spec("B", &[], &["A"])], &t, 1);
        assert!(cycle.unwrap_err().contains("nested in itself"));
        let unknown = Groups::build(
            &[spec("A", &["nobody@contoso.onmicrosoft.com"], &[])],
            &t,
            1,
        );
        assert!(unknown.unwrap_err().contains("no user"));
        let ambiguous = Groups::build(
            &[
                spec("A", &[], &["Twin"]),
                spec("Twin", &[], &[]),
                spec("Twin", &[], &[]),
            ],
            &t,
            1,
        );
        assert!(ambiguous.unwrap_err().contains("names 2 groups"));
        // Two groups may share a name when nothing refers to them by it.
        assert!(Groups::build(&[spec("Twin", &[], &[]), spec("Twin", &[], &[])], &t, 1).is_ok());
    }
}
