//! `--tenants FILE`: the customer tenants a selection (`--all-users`, `--group`, `--filter`)
//! is resolved in (issue 20, docs/graph.md §14). Either one tenant a line (a tenant id or a
//! verified domain; empty lines and lines starting with `#` are skipped), or a CSV whose
//! header names a tenant column as an input's does (`tenant`, `tenant id`, …; `,`, `;` or tab
//! separated), each data row's cell in that column a tenant. Every tenant is checked as a
//! tenant cell is (`check_tenant`) and named once; the first problem stops the command
//! before anything is sent, its line (or row and column) named.

use std::path::Path;

use super::cell_text::shown;
use super::header::TENANT_HEADERS;
use super::tenant_key::check_tenant;

/// The tenants `path` lists, normalized, in the file's order.
pub(crate) fn load_tenants(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "{}: not UTF-8 text (save it as UTF-8: one tenant a line, or a CSV with a tenant column)",
            path.display()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let at = |what: String| format!("{}: {what}", path.display());
    let tenants = match tenant_header(text) {
        Some((delimiter, column)) => from_csv(text, delimiter, column).map_err(at)?,
        None => from_lines(text).map_err(at)?,
    };
    if tenants.is_empty() {
        return Err(at(
            "names no tenant (one tenant id or verified domain a line, or a CSV with a tenant column)".into(),
        ));
    }
    Ok(tenants)
}

/// The delimiter and the tenant column's index when the first line is a CSV header naming
/// a tenant column.
fn tenant_header(text: &str) -> Option<(u8, usize)> {
    let first = text.lines().next()?;
    [b',', b';', b'\t'].into_iter().find_map(|d| {
        first
            .split(char::from(d))
            .map(|cell| cell.trim().trim_matches('"').trim().to_lowercase())
            .position(|cell| TENANT_HEADERS.contains(&cell.as_str()))
            .map(|i| (d, i))
    })
}

/// One tenant a line.
fn from_lines(text: &str) -> Result<Vec<String>, String> {
    let mut tenants: Vec<(String, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cell = line.trim();
        if cell.is_empty() || cell.starts_with('#') {
            continue;
        }
        let where_ = format!("line {}", i + 1);
        add(&mut tenants, cell, &where_, i + 1, "line")?;
    }
    Ok(tenants.into_iter().map(|(t, _)| t).collect())
}

/// A CSV with a tenant column: its cells, rows numbered as a spreadsheet shows them.
fn from_csv(text: &str, delimiter: u8, column: usize) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| e.to_string())?
        .get(column)
        .unwrap_or("tenant")
        .trim()
        .to_string();
    let mut tenants: Vec<(String, usize)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| format!("row {row}: {e}"))?;
        let cell = record.get(column).unwrap_or("").trim();
        let where_ = format!("row {row}, column '{}'", shown(&header));
        if cell.is_empty() {
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            return Err(format!("{where_} is empty: name the row's tenant"));
        }
        add(&mut tenants, cell, &where_, row, "row")?;
    }
    Ok(tenants.into_iter().map(|(t, _)| t).collect())
}

/// Adds a tenant, or says why it cannot be one (not a tenant, or named before).
fn add(
    tenants: &mut Vec<(String, usize)>,
    cell: &str,
    where_: &str,
    at: usize,
    unit: &str,
) -> Result<(), String> {
    let key = check_tenant(cell).map_err(|e| format!("{where_}: {e}"))?;
    if let Some((_, first)) = tenants.iter().find(|(t, _)| *t == key) {
        return Err(format!(
            "{where_}: tenant '{key}' is listed twice (first on {unit} {first}); name each tenant once"
        ));
    }
    tenants.push((key, at));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.txt");
        std::fs::write(&path, text).unwrap();
        load_tenants(&path)
    }

    #[test]
    fn a_tenant_list_is_one_tenant_a_line_or_a_csv_with_a_tenant_column() {
        let id = "0F7E1B5C-6F31-4C1E-9D0E-3B1D7C2A9E10";
        assert_eq!(
            load(&format!(
                "\u{feff}# customers\nContoso.onmicrosoft.com\n\n  {id}  \r\n"
            ))
            .unwrap(),
            ["contoso.onmicrosoft.com", &id.to_lowercase()]
        );
        assert_eq!(
            load("name;Tenant ID\nContoso;contoso.com\n;\nFabrikam;fabrikam.com\n").unwrap(),
            ["contoso.com", "fabrikam.com"]
        );
    }

    #[test]
    fn a_bad_or_repeated_tenant_is_refused_naming_its_line_or_row_and_column() {
        for (text, want) in [
            (
                "contoso.com\nnot a tenant\n",
                "line 2: 'not a tenant' is not a tenant",
            ),
            (
                "contoso.com\nfabrikam.com\nCONTOSO.com\n",
                "line 3: tenant 'contoso.com' is listed twice (first on line 1)",
            ),
            (
                "customer,tenant\nA,contoso.com\nB,\n",
                "row 3, column 'tenant' is empty",
            ),
            (
                "tenant\ncontoso.com\nx.com\u{7}\n",
                "row 3, column 'tenant': 'x.com\\u{7}' is not a tenant",
            ),
            ("# none\n\n", "names no tenant"),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
