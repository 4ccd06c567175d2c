//! National clouds (docs/graph.md §7): which sign-in host and Graph host each uses, and the
//! check applied to base URLs given by flags (`--graph-url`, `--authority-host`).

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

/// A Microsoft cloud. Tokens are not interchangeable between clouds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Cloud {
    /// Global, also Microsoft 365 GCC.
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Parses a `--cloud` value: `global`, `usgov`, `usgov-dod`, `china` (case-insensitive;
    /// a few common spellings such as `public`, `gcch`, `dod`, `azurechinacloud` are accepted).
    pub(crate) fn parse(s: &str) -> Result<Cloud, String> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match norm.as_str() {
            "global" | "public" | "azurecloud" | "azurepubliccloud" | "gcc" => Ok(Cloud::Global),
            "usgov" | "usgovernment" | "gcchigh" | "gcch" | "azureusgovernment" | "l4" => {
                Ok(Cloud::UsGov)
            }
            "usgovdod" | "dod" | "l5" => Ok(Cloud::UsGovDod),
            "china" | "azurechinacloud" | "21vianet" => Ok(Cloud::China),
            _ => Err(format!(
                "unknown cloud '{s}': expected one of global, usgov, usgov-dod, china"
            )),
        }
    }

    /// The name the CLI uses for this cloud.
    #[must_use]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// The identity platform's base URL (the "authority host"), without trailing slash.
    #[must_use]
    pub(crate) fn login_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph's base URL, without version and without trailing slash.
    #[must_use]
    pub(crate) fn graph_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope for this cloud's Graph: `{graph_host}/.default`.
    #[must_use]
    pub(crate) fn default_scope(self) -> String {
        format!("{}/.default", self.graph_host())
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Validates a base URL given by a flag: `https` to any host; plain `http` only to a loopback
/// address (127.0.0.0/8, `::1`, `localhost`), so a token is never sent in clear over a
/// network. No user name, password, query or fragment. Returns the URL without trailing
/// slash; the error names the flag.
pub(crate) fn validate_base_url(url: &str, flag: &str) -> Result<String, String> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| format!("{flag}: '{url}' is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{flag}: the URL must not carry a user name or password"
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "{flag}: '{url}' must be a base URL without query or fragment"
        ));
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return Err(format!("{flag}: '{url}' has no host")),
    };
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "{flag}: plain http is only allowed to a loopback address \
                     (127.0.0.1, ::1, localhost); use https for '{url}'"
                ));
            }
        }
        other => {
            return Err(format!("{flag}: '{url}' must use https (got '{other}')"));
        }
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::{Cloud, validate_base_url};

    #[test]
    fn cloud_table_matches_the_fact_sheet() {
        let table = [
            (
                Cloud::Global,
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://graph.microsoft.com/.default",
            ),
            (
                Cloud::UsGov,
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                "https://graph.microsoft.us/.default",
            ),
            (
                Cloud::UsGovDod,
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                Cloud::China,
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, login, graph, scope) in table {
            assert_eq!(cloud.login_host(), login, "{cloud}");
            assert_eq!(cloud.graph_host(), graph, "{cloud}");
            assert_eq!(cloud.default_scope(), scope, "{cloud}");
        }
    }

    #[test]
    fn cloud_names_parse_back() {
        for cloud in [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China] {
            assert_eq!(Cloud::parse(cloud.name()), Ok(cloud));
        }
        assert_eq!(Cloud::parse("USGov-DoD"), Ok(Cloud::UsGovDod));
        assert_eq!(Cloud::parse(" Global "), Ok(Cloud::Global));
    }

    #[test]
    fn unknown_cloud_lists_the_choices() {
        let err = Cloud::parse("mars").unwrap_err();
        assert!(err.contains("mars") && err.contains("usgov-dod"), "{err}");
    }

    #[test]
    fn https_base_url_is_accepted_without_trailing_slash() {
        assert_eq!(
            validate_base_url("https://graph.microsoft.com/", "--graph-url"),
            Ok("https://graph.microsoft.com".to_owned())
        );
        assert_eq!(
            validate_base_url("https://example.com/prefix/", "--graph-url"),
            Ok("https://example.com/prefix".to_owned())
        );
    }

    #[test]
    fn http_to_loopback_is_accepted() {
        assert_eq!(
            validate_base_url("http://127.0.0.1:8080", "--graph-url"),
            Ok("http://127.0.0.1:8080".to_owned())
        );
        assert!(validate_base_url("http://127.3.4.5:1/", "--graph-url").is_ok());
        assert!(validate_base_url("http://[::1]:9000", "--graph-url").is_ok());
        assert!(validate_base_url("http://localhost:9000", "--graph-url").is_ok());
    }

    #[test]
    fn http_to_a_remote_host_is_refused_naming_the_flag() {
        let err = validate_base_url("http://example.com", "--authority-host").unwrap_err();
        assert!(err.starts_with("--authority-host"), "{err}");
        assert!(err.contains("https"), "{err}");
    }

    #[test]
    fn odd_base_urls_are_refused() {
        for bad in [
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@example.com",
            "https://example.com/?x=1",
            "http://localhost.example.com",
        ] {
            let err = validate_base_url(bad, "--graph-url").unwrap_err();
            assert!(err.starts_with("--graph-url"), "{bad}: {err}");
            assert!(!err.contains("pw@"), "{err}");
        }
    }
}
