//! Graph error bodies (docs/graph.md §8): `{"error":{"code","message","innerError":{…}}}`,
//! where `innerError` is optional, may nest, and carries `request-id` / `client-request-id`.
//! Branch on `code`, never on `message`.

use serde_json::Value;

use super::{GraphError, ItemResponse};

/// How deep nested `innerError` objects are searched for request ids.
const MAX_INNER_DEPTH: usize = 16;

impl GraphError {
    /// The error fields of a Graph error body, or `None` when the body is not one.
    ///
    /// Also reads the identity platform's OAuth shape (`{"error":"invalid_client",
    /// "error_description":…}`) so a sign-in failure relayed by a proxy is still readable.
    #[must_use]
    pub(crate) fn from_body(body: &Value) -> Option<GraphError> {
        let obj = body.as_object()?;
        match obj.get("error")? {
            Value::Object(err) => {
                let mut out = GraphError {
                    code: text(err.get("code")).unwrap_or_default(),
                    message: text(err.get("message")).unwrap_or_default(),
                    request_id: None,
                    client_request_id: None,
                };
                // Ids may sit directly in `error` (rare) or in any nested `innerError`.
                let mut level = Some(err);
                for _ in 0..MAX_INNER_DEPTH {
                    let Some(cur) = level else { break };
                    if out.request_id.is_none() {
                        out.request_id = text(get_ci(cur, "request-id"));
                    }
                    if out.client_request_id.is_none() {
                        out.client_request_id = text(get_ci(cur, "client-request-id"));
                    }
                    if out.code.is_empty() {
                        out.code = text(cur.get("code")).unwrap_or_default();
                    }
                    level = get_ci(cur, "innerError").and_then(Value::as_object);
                }
                Some(out)
            }
            Value::String(code) => Some(GraphError {
                code: code.clone(),
                message: text(obj.get("error_description")).unwrap_or_default(),
                request_id: text(obj.get("trace_id")),
                client_request_id: text(obj.get("correlation_id")),
            }),
            _ => None,
        }
    }
}

impl ItemResponse {
    /// The error of a failed item (status 400 and above): the body's Graph error, with the
    /// item's `request-id`/`client-request-id` headers filling gaps; when the body carries no
    /// error, a synthesized one (empty `code`, message naming the status). `None` for success.
    #[must_use]
    pub(crate) fn error(&self) -> Option<GraphError> {
        if self.status < 400 {
            return None;
        }
        let mut err = GraphError::from_body(&self.body).unwrap_or_else(|| GraphError {
            code: String::new(),
            message: synthesized_message(self.status, &self.body),
            request_id: None,
            client_request_id: None,
        });
        if err.request_id.is_none() {
            err.request_id.clone_from(&self.request_id);
        }
        if err.client_request_id.is_none() {
            err.client_request_id.clone_from(&self.client_request_id);
        }
        Some(err)
    }
}

/// The message for an error answer whose body is not a Graph error.
pub(crate) fn synthesized_message(status: u16, body: &Value) -> String {
    match body {
        Value::Null => format!("HTTP {status} without an error body"),
        Value::String(s) if s.trim().is_empty() => format!("HTTP {status} without an error body"),
        Value::String(s) => format!("HTTP {status}: {}", snippet(s)),
        other => format!("HTTP {status}: {}", snippet(&other.to_string())),
    }
}

/// At most 200 characters of `s` on one line, for error messages.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 200;
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// A field as text: strings as they are, numbers and booleans written out, others absent.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A member looked up by exact name first, then case-insensitively.
fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{GraphError, ItemResponse};

    fn item(status: u16, body: serde_json::Value) -> ItemResponse {
        ItemResponse {
            id: "1".into(),
            status,
            retry_after: None,
            request_id: None,
            client_request_id: None,
            throttle_percentage: None,
            scope: crate::graph::ThrottleScope::Tenant,
            body,
        }
    }

    #[test]
    fn error_body_with_inner_error_gives_code_message_and_ids() {
        let body = json!({"error":{"code":"Authorization_RequestDenied",
            "message":"Insufficient privileges to complete the operation.",
            "innerError":{"date":"2025-02-13T10:17:06","request-id":"r-1","client-request-id":"c-1"}}});
        let err = GraphError::from_body(&body).unwrap();
        assert_eq!(err.code, "Authorization_RequestDenied");
        assert_eq!(
            err.message,
            "Insufficient privileges to complete the operation."
        );
        assert_eq!(err.request_id.as_deref(), Some("r-1"));
        assert_eq!(err.client_request_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn nested_inner_errors_are_searched_for_ids() {
        let body = json!({"error":{"code":"TooManyRequests","message":"Please retry again later.",
            "innerError":{"code":"429","innerError":{"request-id":"deep","innererror":{"client-request-id":"deeper"}}}}});
        let err = GraphError::from_body(&body).unwrap();
        assert_eq!(err.code, "TooManyRequests");
        assert_eq!(err.request_id.as_deref(), Some("deep"));
        assert_eq!(err.client_request_id.as_deref(), Some("deeper"));
    }

    #[test]
    fn oauth_error_shape_is_read() {
        let body = json!({"error":"invalid_client","error_description":"AADSTS7000215: bad"});
        let err = GraphError::from_body(&body).unwrap();
        assert_eq!(err.code, "invalid_client");
        assert_eq!(err.message, "AADSTS7000215: bad");
    }

    #[test]
    fn non_error_bodies_give_none() {
        for body in [
            json!(null),
            json!("x"),
            json!([1]),
            json!({"value":true}),
            json!({"error":5}),
        ] {
            assert_eq!(GraphError::from_body(&body), None, "{body}");
        }
    }

    #[test]
    fn successful_item_has_no_error() {
        assert_eq!(item(204, json!(null)).error(), None);
    }

    #[test]
    fn failed_item_without_error_body_gets_a_synthesized_error_with_header_ids() {
        let mut it = item(404, json!(null));
        it.request_id = Some("hdr".into());
        let err = it.error().unwrap();
        assert_eq!(err.code, "");
        assert!(err.message.contains("404"), "{}", err.message);
        assert_eq!(err.request_id.as_deref(), Some("hdr"));
    }

    #[test]
    fn failed_item_prefers_body_ids_over_headers() {
        let mut it = item(
            403,
            json!({"error":{"code":"Authorization_RequestDenied","message":"m","innerError":{"request-id":"body"}}}),
        );
        it.request_id = Some("hdr".into());
        it.client_request_id = Some("c-hdr".into());
        let err = it.error().unwrap();
        assert_eq!(err.request_id.as_deref(), Some("body"));
        assert_eq!(err.client_request_id.as_deref(), Some("c-hdr"));
    }
}
