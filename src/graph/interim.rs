//! Interim stand-ins until the graph module lands (deleted at merge).

use super::{GraphError, ItemResponse};

pub fn user_path(key: &str) -> String {
    format!("/users/{}", key.replace('#', "%23"))
}

impl ItemResponse {
    #[must_use]
    pub fn error(&self) -> Option<GraphError> {
        let e = self.body.get("error")?;
        Some(GraphError {
            code: e.get("code")?.as_str()?.to_string(),
            message: e
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_string(),
            request_id: None,
            client_request_id: None,
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Cloud {
    Global,
}
impl Cloud {
    pub fn parse(_s: &str) -> Result<Cloud, String> {
        Ok(Cloud::Global)
    }
    pub fn login_host(self) -> &'static str {
        "https://login.microsoftonline.com"
    }
    pub fn graph_host(self) -> &'static str {
        "https://graph.microsoft.com"
    }
    pub fn default_scope(self) -> String {
        "https://graph.microsoft.com/.default".into()
    }
}
pub fn validate_base_url(url: &str, _flag: &str) -> Result<String, String> {
    Ok(url.to_string())
}
