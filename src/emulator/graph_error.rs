//! One Graph answer (status, headers, JSON body) and the Graph error shape (docs/graph.md §8):
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
//! Plain requests and batch items are built from the same `Reply`, so both carry the same
//! headers and error bodies.

use serde_json::{Value, json};

/// An error before it is stamped with request ids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl GraphError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        GraphError::new(400, "BadRequest", message)
    }

    /// What Graph answers for a method it does not route, and for a beta-only resource
    /// reached through v1.0 (json-batching.md example).
    pub(crate) fn method_not_allowed() -> Self {
        GraphError::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    pub(crate) fn segment_not_found(segment: &str) -> Self {
        GraphError::bad_request(format!("Resource not found for the segment '{segment}'."))
    }

    pub(crate) fn user_not_found(key: &str) -> Self {
        GraphError::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(crate) fn forbidden() -> Self {
        GraphError::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }
}

/// A finished answer: status, headers and an optional JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
}

impl Reply {
    pub(crate) fn new(status: u16, body: Option<Value>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// Stamps an error with the request ids and the date, as Graph does.
    pub(crate) fn error(
        err: &GraphError,
        request_id: &str,
        client_request_id: Option<&str>,
    ) -> Self {
        Reply::new(
            err.status,
            Some(error_body(
                err.code,
                &err.message,
                request_id,
                client_request_id,
            )),
        )
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The Graph error JSON.
pub(crate) fn error_body(
    code: &str,
    message: &str,
    request_id: &str,
    client_request_id: Option<&str>,
) -> Value {
    // Graph fills client-request-id with its own id when the client sent none.
    let inner = json!({
        "date": now_graph_date(),
        "request-id": request_id,
        "client-request-id": client_request_id.unwrap_or(request_id),
    });
    json!({"error": {"code": code, "message": message, "innerError": inner}})
}

/// `2025-02-13T10:17:06`, the innerError date format.
pub(crate) fn now_graph_date() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}
