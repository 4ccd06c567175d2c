//! The tenant cell of a many-tenant input (issue 20, docs/graph.md §14): a customer tenant
//! named by its id (a GUID) or one of its verified domains, the two forms the token endpoint
//! takes. Checked offline for shape only; whether the tenant exists and consented to the app
//! is for sign-in to say. Both forms are case-insensitive, so the key is lowercased: two rows
//! naming `Contoso.com` and `contoso.com` are one tenant. An id and a domain of the same
//! tenant cannot be matched offline and are two tenants to the run (each signs in on its own).

use super::cell_text::shown;

/// The results column that carries each row's tenant, first after the fixed ones (after
/// `resolved_user` for a mail column).
pub const TENANT_COLUMN: &str = "tenant";

/// The normalized tenant key of a cell, or why it is not one. Empty cells are not this
/// function's business (the run's `--tenant-id` fills them in).
pub(crate) fn check_tenant(cell: &str) -> Result<String, String> {
    let t = cell.trim();
    if let Ok(id) = uuid::Uuid::parse_str(t)
        && t.len() == 36
    {
        return Ok(id.hyphenated().to_string());
    }
    let labels: Vec<&str> = t.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() >= 2 && t.len() <= 253 && labels.iter().all(label_ok) {
        return Ok(t.to_ascii_lowercase());
    }
    Err(format!(
        "'{}' is not a tenant: give its tenant id (a GUID) or a verified domain (contoso.onmicrosoft.com, contoso.com)",
        shown(t)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_guids_or_domains_lowercased() {
        assert_eq!(
            check_tenant(" 0F7E1B5C-6F31-4C1E-9D0E-3B1D7C2A9E10 ").unwrap(),
            "0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10"
        );
        assert_eq!(
            check_tenant("Contoso.OnMicrosoft.com").unwrap(),
            "contoso.onmicrosoft.com"
        );
        for bad in [
            "contoso",
            "a@contoso.com",
            "contoso..com",
            "-a.com",
            "con toso.com",
            "{0f7e1b5c-6f31-4c1e-9d0e-3b1d7c2a9e10}",
            "0f7e1b5c6f314c1e9d0e3b1d7c2a9e10",
            "contoso.com\u{200b}",
        ] {
            let e = check_tenant(bad).unwrap_err();
            assert!(
                e.contains("is not a tenant") && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
        let e = check_tenant("x.com\u{7}").unwrap_err();
        assert!(
            e.contains("x.com\\u{7}"),
            "control characters are escaped: {e}"
        );
    }
}
